//! Addresses to connect or bind to, and name resolution off the loop thread.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::executor::{to_thread, Blocking};

/// Something that names one or more socket addresses: a `SocketAddr`, an
/// `(ip, port)` pair, or a `"host:port"` / `("host", port)` to resolve.
///
/// IP literals resolve at once; host names go through `getaddrinfo` on the
/// thread pool (as asyncio does), so the loop never blocks on DNS.
pub trait ToSocketAddrs {
    /// Starts resolving (used by corio's socket constructors).
    #[doc(hidden)]
    fn resolve(&self) -> Resolve;
}

/// The future of a resolution: the addresses, in the resolver's order.
#[doc(hidden)]
pub struct Resolve(ResolveInner);

enum ResolveInner {
    Ready(Option<io::Result<Vec<SocketAddr>>>),
    Lookup(Blocking<io::Result<Vec<SocketAddr>>>),
}

impl Resolve {
    fn ready(addrs: Vec<SocketAddr>) -> Resolve {
        Resolve(ResolveInner::Ready(Some(Ok(addrs))))
    }

    fn lookup(host: String) -> Resolve {
        Resolve(ResolveInner::Lookup(to_thread(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&host).map(Iterator::collect)
        })))
    }
}

impl Future for Resolve {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            ResolveInner::Ready(result) => {
                Poll::Ready(result.take().expect("Resolve polled after completion"))
            }
            ResolveInner::Lookup(job) => Pin::new(job)
                .poll(cx)
                .map(|r| r.unwrap_or_else(|e| Err(e.into()))),
        }
    }
}

impl ToSocketAddrs for SocketAddr {
    fn resolve(&self) -> Resolve {
        Resolve::ready(vec![*self])
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn resolve(&self) -> Resolve {
        Resolve::ready(vec![SocketAddr::V4(*self)])
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn resolve(&self) -> Resolve {
        Resolve::ready(vec![SocketAddr::V6(*self)])
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn resolve(&self) -> Resolve {
        Resolve::ready(vec![SocketAddr::new(self.0, self.1)])
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn resolve(&self) -> Resolve {
        Resolve::ready(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn resolve(&self) -> Resolve {
        Resolve::ready(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn resolve(&self) -> Resolve {
        Resolve::ready(self.to_vec())
    }
}

impl ToSocketAddrs for str {
    fn resolve(&self) -> Resolve {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Resolve::ready(vec![addr]);
        }
        Resolve::lookup(self.to_owned())
    }
}

impl ToSocketAddrs for String {
    fn resolve(&self) -> Resolve {
        self.as_str().resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn resolve(&self) -> Resolve {
        if let Ok(ip) = self.0.parse::<IpAddr>() {
            return Resolve::ready(vec![SocketAddr::new(ip, self.1)]);
        }
        let (host, port) = (self.0.to_owned(), self.1);
        Resolve(ResolveInner::Lookup(to_thread(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
        })))
    }
}

impl ToSocketAddrs for (String, u16) {
    fn resolve(&self) -> Resolve {
        (self.0.as_str(), self.1).resolve()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn resolve(&self) -> Resolve {
        (**self).resolve()
    }
}

/// Resolves `host` (`"name:port"`, `("name", port)`, or an address) to
/// socket addresses, running `getaddrinfo` on the thread pool (asyncio's
/// `getaddrinfo`). An unknown host is an error, never an empty list.
///
/// ```
/// corio::run(async {
///     let addrs = corio::net::lookup_host("localhost:80").await.unwrap();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// });
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addrs = host.resolve().await?;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no address",
        ));
    }
    Ok(addrs)
}

/// Tries `f` on each address in turn; the first success, or the last error.
pub(crate) async fn each_addr<T, F, Fut>(addrs: impl ToSocketAddrs, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in lookup_host(addrs).await? {
        match f(addr).await {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to try")))
}

impl std::fmt::Debug for Resolve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolve").finish_non_exhaustive()
    }
}
