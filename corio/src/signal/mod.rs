//! Unix signals as async streams (asyncio's `loop.add_signal_handler`):
//! [`ctrl_c`] and [`signal`].
//!
//! A signal handler (installed through `signal-hook`, async-signal-safe)
//! writes one byte to a socket pair; the loop reads it like any socket, so
//! your code runs on the loop, never in signal context. Several deliveries
//! that arrive before the stream is polled may merge into one (as the OS
//! merges pending signals).
//!
//! Once a signal has a stream, its default action (for SIGINT: terminate)
//! is replaced for the rest of the process, as with tokio.
//!
//! ```
//! use corio::signal::{signal, SignalKind};
//! corio::run(async {
//!     let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
//!     // SAFETY: sending SIGUSR1 to ourselves; the stream above handles it.
//!     unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
//!     usr1.recv().await;
//! });
//! ```

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use signal_hook::SigId;

use crate::io::Async;

/// Which signal to listen for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// Any signal by number.
    pub const fn from_raw(signal: i32) -> SignalKind {
        SignalKind(signal)
    }
    /// SIGINT (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }
    /// SIGTERM.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }
    /// SIGHUP.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }
    /// SIGQUIT.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }
    /// SIGUSR1.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }
    /// SIGUSR2.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }
    /// SIGWINCH (terminal resized).
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
    /// The signal number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

/// Deliveries of one signal, as a [`Stream`] of `()` (it never ends).
/// Dropping it unregisters the handler.
#[derive(Debug)]
pub struct Signal {
    kind: SignalKind,
    reader: Async<UnixStream>,
    id: SigId,
}

/// Listens for `kind`. Fails with `InvalidInput` for signals that cannot be
/// handled (SIGKILL, SIGSTOP) or must not be (SIGSEGV, SIGILL, SIGFPE).
///
/// Panics if no loop is running on this thread.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    if signal_hook::consts::FORBIDDEN.contains(&kind.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {} cannot be handled (SIGKILL and SIGSTOP cannot be caught; SIGSEGV, SIGILL and SIGFPE must not be)", kind.0),
        ));
    }
    let (reader, writer) = UnixStream::pair()?;
    let reader = Async::new(reader)?;
    let id = signal_hook::low_level::pipe::register(kind.0, writer).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot handle signal {}: {e}", kind.0),
        )
    })?;
    Ok(Signal { kind, reader, id })
}

impl Signal {
    /// Waits for the next delivery.
    pub async fn recv(&mut self) {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut drained = [0u8; 64];
        match self.reader.poll_read_with(cx, |mut r| r.read(&mut drained)) {
            Poll::Ready(Ok(n)) if n > 0 => Poll::Ready(()),
            // The write end lives as long as we do; EOF or errors cannot happen.
            Poll::Ready(_) => Poll::Pending,
            Poll::Pending => Poll::Pending,
        }
    }

    /// Which signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }
}

impl Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.id);
    }
}

/// Waits for Ctrl-C (SIGINT).
///
/// ```no_run
/// #[corio::main]
/// async fn main() {
///     println!("press Ctrl-C");
///     corio::signal::ctrl_c().await.unwrap();
///     println!("bye");
/// }
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    signal(SignalKind::interrupt())?.recv().await;
    Ok(())
}
