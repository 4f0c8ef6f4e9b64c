//! Socket addresses between their C form and the form Python's `socket`
//! module uses, for the datagram transport's `recvfrom`/`sendto`: IPv4
//! `(host, port)`, IPv6 `(host, port, flowinfo, scope_id)`, Unix paths
//! (`str`, or `bytes` for Linux's abstract namespace). Only literal
//! addresses are converted here; anything Python must resolve or reject
//! (a host name, a bad port) is left to the Python socket's own methods.

use std::ffi::OsStr;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

/// A C socket address and its length.
pub(crate) struct SockAddr {
    pub(crate) storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

impl SockAddr {
    /// An empty address, for `recvfrom` to fill.
    pub(crate) fn empty() -> SockAddr {
        SockAddr {
            // SAFETY: an all-zero sockaddr_storage is a valid value.
            storage: unsafe { std::mem::zeroed() },
            len: std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    fn as_ptr<T>(&self) -> *const T {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    fn as_mut_ptr<T>(&mut self) -> *mut T {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    /// The address as Python's `socket` module gives it (`recvfrom`'s
    /// second item); `None` when there is none, or a family this module
    /// does not convert.
    pub(crate) fn to_python(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.len == 0 {
            return Ok(py.None());
        }
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let a = unsafe { &*self.as_ptr::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                let tuple = (ip.to_string(), u16::from_be(a.sin_port));
                Ok(tuple.into_pyobject(py)?.into_any().unbind())
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let a = unsafe { &*self.as_ptr::<libc::sockaddr_in6>() };
                let tuple = (
                    inet6_ntop(&a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    u32::from_be(a.sin6_flowinfo),
                    a.sin6_scope_id,
                );
                Ok(tuple.into_pyobject(py)?.into_any().unbind())
            }
            libc::AF_UNIX => {
                // SAFETY: the family says the storage holds a sockaddr_un.
                let a = unsafe { &*self.as_ptr::<libc::sockaddr_un>() };
                let offset = std::mem::offset_of!(libc::sockaddr_un, sun_path);
                let n = (self.len as usize)
                    .saturating_sub(offset)
                    .min(a.sun_path.len());
                let path: Vec<u8> = a.sun_path[..n].iter().map(|&c| c as u8).collect();
                if n > 0 && path[0] == 0 {
                    return Ok(PyBytes::new(py, &path).into_any().unbind());
                }
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                let text = OsStr::from_bytes(&path[..end]);
                Ok(text.into_pyobject(py)?.into_any().unbind())
            }
            _ => Ok(py.None()),
        }
    }

    /// The C form of `addr` for a socket of `family`, when `addr` is a
    /// literal address this module converts exactly as Python's `socket`
    /// would; `None` otherwise (the caller uses the Python socket).
    pub(crate) fn from_python(family: i32, addr: &Bound<'_, PyAny>) -> Option<SockAddr> {
        let mut out = SockAddr::empty();
        match family {
            libc::AF_INET => {
                let t = addr.cast::<PyTuple>().ok().filter(|t| t.len() == 2)?;
                let (host, port): (Ipv4Addr, u16) = host_port(t)?;
                let a = out.as_mut_ptr::<libc::sockaddr_in>();
                // SAFETY: sockaddr_storage is large and aligned enough for
                // any address; the fields are plain integers.
                unsafe {
                    (*a).sin_family = libc::AF_INET as libc::sa_family_t;
                    (*a).sin_port = port.to_be();
                    (*a).sin_addr.s_addr = u32::from(host).to_be();
                }
                out.len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            libc::AF_INET6 => {
                let t = addr
                    .cast::<PyTuple>()
                    .ok()
                    .filter(|t| (2..=4).contains(&t.len()))?;
                let (host, port): (Ipv6Addr, u16) = host_port(t)?;
                let flowinfo: u32 = match t.get_item(2) {
                    Ok(v) => v.extract().ok().filter(|&f| f <= 0xfffff)?,
                    Err(_) => 0,
                };
                let scope_id: u32 = match t.get_item(3) {
                    Ok(v) => v.extract().ok()?,
                    Err(_) => 0,
                };
                let a = out.as_mut_ptr::<libc::sockaddr_in6>();
                // SAFETY: as above.
                unsafe {
                    (*a).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    (*a).sin6_port = port.to_be();
                    (*a).sin6_flowinfo = flowinfo.to_be();
                    (*a).sin6_addr.s6_addr = host.octets();
                    (*a).sin6_scope_id = scope_id;
                }
                out.len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
            libc::AF_UNIX => {
                let path: Vec<u8> = if let Ok(b) = addr.cast::<PyBytes>() {
                    b.as_bytes().to_vec()
                } else {
                    let s = addr.cast::<PyString>().ok()?;
                    let os = s.extract::<std::ffi::OsString>().ok()?;
                    os.as_bytes().to_vec()
                };
                let a = out.as_mut_ptr::<libc::sockaddr_un>();
                // SAFETY: as above; the path fits (checked first), and the
                // zeroed storage terminates it.
                unsafe {
                    if path.len() >= (*a).sun_path.len() || path.is_empty() {
                        return None;
                    }
                    (*a).sun_family = libc::AF_UNIX as libc::sa_family_t;
                    for (dst, &src) in (*a).sun_path.iter_mut().zip(&path) {
                        *dst = src as libc::c_char;
                    }
                }
                let offset = std::mem::offset_of!(libc::sockaddr_un, sun_path);
                out.len = (offset + path.len()) as libc::socklen_t;
            }
            _ => return None,
        }
        Some(out)
    }

    pub(crate) fn sockaddr_ptr(&self) -> *const libc::sockaddr {
        self.as_ptr()
    }

    pub(crate) fn sockaddr_mut_ptr(&mut self) -> *mut libc::sockaddr {
        self.as_mut_ptr()
    }
}

/// An address tuple's literal host and its port (`None` for anything else:
/// a host name, a port out of range).
fn host_port<A: std::str::FromStr>(t: &Bound<'_, PyTuple>) -> Option<(A, u16)> {
    let host = t.get_item(0).ok()?;
    let host = host.cast::<PyString>().ok()?.to_str().ok()?.parse().ok()?;
    let port = t.get_item(1).ok()?.extract().ok()?;
    Some((host, port))
}

/// An IPv6 address as glibc's `inet_ntop` writes it (what Python's
/// `socket` gives): Rust's RFC 5952 form, except that glibc also writes an
/// IPv4-compatible address (`::a.b.c.d`) with its IPv4 part dotted.
fn inet6_ntop(octets: &[u8; 16]) -> String {
    let words6 = u16::from_be_bytes([octets[12], octets[13]]);
    if octets[..12].iter().all(|&b| b == 0) && words6 != 0 {
        let v4 = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
        return format!("::{v4}");
    }
    Ipv6Addr::from(*octets).to_string()
}
