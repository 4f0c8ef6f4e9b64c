//! The system calls of corio's stream transports and the conversions around
//! them: `send`/`sendmsg`/`recv` on a non-blocking socket, `read`/`write`
//! on a non-blocking pipe, `OSError`s that
//! Python maps to its subclasses, and the bytes of a Python buffer object
//! without a copy.

use std::cell::RefCell;
use std::os::fd::RawFd;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView};

/// asyncio's `max_size`: the most one read asks for.
pub(crate) const MAX_READ: usize = 256 * 1024;

thread_local! {
    /// The read buffer every transport of this thread reuses.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; MAX_READ]);
}

/// Runs `f` on this thread's read buffer (asyncio's `max_size` bytes).
pub(crate) fn with_read_buf<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    READ_BUF.with(|buf| f(&mut buf.borrow_mut()[..]))
}

/// `OSError(errno, strerror)`: Python picks the subclass
/// (`ConnectionResetError`, `BrokenPipeError`, ...).
pub(crate) fn os_error(err: std::io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => PyOSError::new_err((code, err.to_string())),
        None => PyErr::from(err),
    }
}

pub(crate) fn would_block(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}

pub(crate) fn send(fd: RawFd, data: &[u8]) -> std::io::Result<usize> {
    // SAFETY: `data` is a live slice; send reads at most `data.len()` bytes.
    let n = unsafe {
        libc::send(
            fd,
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `sendmsg` of several buffers at once (at most `IOV_MAX` of them).
pub(crate) fn send_vectored(fd: RawFd, parts: &[&[u8]]) -> std::io::Result<usize> {
    let iov: Vec<libc::iovec> = parts
        .iter()
        .take(1024)
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    // SAFETY: a zeroed msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len();
    // SAFETY: every iovec points into a slice alive for this call; sendmsg
    // only reads them.
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `read` (a pipe transport's read: asyncio's `os.read`).
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `write` (a pipe transport's write: asyncio's `os.write`).
pub(crate) fn write(fd: RawFd, data: &[u8]) -> std::io::Result<usize> {
    // SAFETY: `data` is a live slice; write reads at most `data.len()` bytes.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// The bytes of `data` (bytes, bytearray or a contiguous memoryview),
/// passed to `f` without a copy.
pub(crate) fn with_bytes<R>(data: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(f(bytes.as_bytes()));
    }
    if let Ok(array) = data.cast::<PyByteArray>() {
        // SAFETY: the GIL is held and `f` runs no Python code, so nothing
        // can resize the bytearray while the slice lives.
        return Ok(f(unsafe { array.as_bytes() }));
    }
    if data.cast::<PyMemoryView>().is_ok() {
        let buffer = PyBuffer::<u8>::get(data)?;
        if buffer.is_c_contiguous() {
            // SAFETY: a C-contiguous buffer of `len_bytes` bytes, alive (and
            // its exporter unable to change size) while `buffer` is held.
            let slice = unsafe {
                std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes())
            };
            return Ok(f(slice));
        }
        let copy = buffer.to_vec(data.py())?;
        return Ok(f(&copy));
    }
    Err(not_bytes_like(data))
}

/// Whether `data` is what a transport writes: bytes, bytearray or
/// memoryview.
pub(crate) fn is_bytes_like(data: &Bound<'_, PyAny>) -> bool {
    data.cast::<PyBytes>().is_ok()
        || data.cast::<PyByteArray>().is_ok()
        || data.cast::<PyMemoryView>().is_ok()
}

/// asyncio's `TypeError` for data that is not bytes-like.
pub(crate) fn not_bytes_like(data: &Bound<'_, PyAny>) -> PyErr {
    let name = data
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    PyTypeError::new_err(format!(
        "data argument must be a bytes-like object, not {name:?}"
    ))
}
