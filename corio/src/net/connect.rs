//! Non-blocking `connect(2)` through the reactor.

use std::io;
use std::os::fd::AsFd;

use socket2::{SockAddr, SockRef, Socket};

use crate::io::Async;

/// Connects `socket` (already non-blocking) to `addr`, waiting for the
/// connection on the reactor; returns the socket registered with the loop.
pub(crate) async fn connect<T>(socket: Socket, addr: &SockAddr) -> io::Result<Async<T>>
where
    T: From<Socket> + AsFd,
{
    let done = match socket.connect(addr) {
        Ok(()) => true,
        Err(e) if pending(&e) => false,
        Err(e) => return Err(e),
    };
    let io = Async::new(T::from(socket))?;
    if done {
        return Ok(io);
    }
    loop {
        io.writable().await?;
        let socket = SockRef::from(&io);
        if let Some(e) = socket.take_error()? {
            return Err(e);
        }
        if socket.peer_addr().is_ok() {
            return Ok(io);
        }
        // Not connected yet: the readiness was stale (registration assumes
        // ready), or a Unix socket's backlog was full (EAGAIN). Ask again.
        match socket.connect(addr) {
            Ok(()) => return Ok(io),
            Err(e) if e.raw_os_error() == Some(libc::EISCONN) => return Ok(io),
            Err(e) if pending(&e) || e.raw_os_error() == Some(libc::EALREADY) => {
                io.clear_writable()
            }
            Err(e) => return Err(e),
        }
    }
}

fn pending(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINPROGRESS) | Some(libc::EAGAIN)
    )
}
