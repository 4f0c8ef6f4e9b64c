//! [`LoopBound`]: a corio stream that hyper may treat as `Send`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};

use futures_io::{AsyncRead, AsyncWrite};

thread_local! {
    static THIS_THREAD: ThreadId = thread::current().id();
}

fn this_thread() -> ThreadId {
    THIS_THREAD.with(|id| *id)
}

/// A corio stream (loop-local, `!Send`) wrapped so that hyper, whose
/// upgrades and HTTP/1-or-2 auto-detection require `Send` I/O, accepts it.
///
/// corio's sockets belong to the loop thread that made them. A
/// `LoopBound` remembers that thread and checks it on every use: used
/// from any other thread it panics with a message saying so, and dropped
/// on another thread it leaks the stream rather than touch it there. On
/// the loop thread (where corio spawns hyper's connection futures) it is
/// the stream itself, for the price of a thread-local read per call.
pub struct LoopBound<T> {
    inner: std::mem::ManuallyDrop<T>,
    owner: ThreadId,
}

impl<T: std::fmt::Debug> std::fmt::Debug for LoopBound<T> {
    /// The stream on its own thread; only the owner thread's id elsewhere.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("LoopBound");
        if this_thread() == self.owner {
            out.field("inner", &*self.inner);
        }
        out.field("owner", &self.owner).finish()
    }
}

// SAFETY: every access to `inner` (the poll methods, `get_ref`,
// `into_inner`, `Debug`, `Drop`) first checks that the current thread is `owner`,
// the thread that created the value; on any other thread the accessors
// panic before touching it and `Drop` leaks it. So the `!Send` stream is
// only ever used, and dropped, on its own thread.
unsafe impl<T> Send for LoopBound<T> {}

impl<T> LoopBound<T> {
    /// Binds `inner` to the current thread.
    pub fn new(inner: T) -> LoopBound<T> {
        LoopBound {
            inner: std::mem::ManuallyDrop::new(inner),
            owner: this_thread(),
        }
    }

    #[track_caller]
    fn check(&self) {
        if this_thread() != self.owner {
            panic!(
                "corio: a loop-bound stream (a corio socket inside hyper) was used on a \
                 thread other than its loop's; keep hyper's connections and upgraded \
                 streams on the loop that accepted them"
            );
        }
    }

    /// The stream. Panics off its thread.
    #[track_caller]
    pub fn get_ref(&self) -> &T {
        self.check();
        &self.inner
    }

    /// The stream, unwrapped. Panics off its thread.
    #[track_caller]
    pub fn into_inner(self) -> T {
        self.check();
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again (ManuallyDrop), so
        // the stream is moved out exactly once.
        unsafe { std::mem::ManuallyDrop::take(&mut this.inner) }
    }

    #[track_caller]
    fn pinned(self: Pin<&mut Self>) -> Pin<&mut T>
    where
        T: Unpin,
    {
        self.check();
        Pin::new(&mut self.get_mut().inner)
    }
}

impl<T> Drop for LoopBound<T> {
    fn drop(&mut self) {
        if this_thread() == self.owner {
            // SAFETY: on the owner thread, dropped once (we are in Drop).
            unsafe { std::mem::ManuallyDrop::drop(&mut self.inner) }
        }
        // Elsewhere the stream leaks: touching it here would race with its
        // loop (its registration is reference counted without atomics).
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LoopBound<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LoopBound<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_close(cx)
    }
}
