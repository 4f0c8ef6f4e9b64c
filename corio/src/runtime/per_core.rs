//! [`per_core`]: one loop per core, started and stopped together.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::thread::JoinHandle;

use super::task::oneshot;
use super::{panic_message, Runtime};

/// `n` loops on `n` threads, each pinned to its own core (core `i % cores`
/// for loop `i`), each running `make(i)` until it returns or
/// [`PerCore::stop`] is called. Servers bind the same address on every
/// loop with `SO_REUSEPORT`
/// ([`BindOptions::reuse_port`](crate::net::BindOptions)) and the kernel
/// spreads the connections among them: the shared-nothing layout that
/// scales a single-threaded runtime to every core.
///
/// ```no_run
/// use corio::net::{BindOptions, TcpListener};
///
/// let mut cores = corio::runtime::per_core(2, |core| async move {
///     let options = BindOptions { reuse_port: true, ..BindOptions::default() };
///     let listener = TcpListener::bind_with("127.0.0.1:8080", options).await.unwrap();
///     loop {
///         let (stream, _) = listener.accept().await.unwrap();
///         corio::spawn(async move { let _ = stream.write_all(format!("core {core}\n").as_bytes()).await; }).detach();
///     }
/// })
/// .unwrap();
/// // ... later:
/// cores.stop();
/// cores.join().unwrap();
/// ```
pub fn per_core<F, Fut>(n: usize, make: F) -> std::io::Result<PerCore>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let make = std::sync::Arc::new(make);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let mut stops = Vec::with_capacity(n);
    let mut threads = Vec::with_capacity(n);
    for index in 0..n {
        let (stop, stopped) = oneshot::channel::<()>(None);
        let make = make.clone();
        let thread = std::thread::Builder::new()
            .name(format!("corio-core-{index}"))
            .spawn(move || {
                pin_to_core(index % cores);
                let runtime = Runtime::new().expect("a loop for this core");
                runtime.block_on(async move {
                    let mut work = pin!(make(index));
                    let mut stopped = pin!(stopped);
                    // Whichever comes first: the work ends, or the stop.
                    poll_fn(|cx| {
                        if work.as_mut().poll(cx).is_ready() || stopped.as_mut().poll(cx).is_ready()
                        {
                            Poll::Ready(())
                        } else {
                            Poll::Pending
                        }
                    })
                    .await;
                });
            })?;
        stops.push(stop);
        threads.push(thread);
    }
    Ok(PerCore { stops, threads })
}

/// Pins the calling thread to `cpu` (best effort: a container may forbid it).
fn pin_to_core(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes one
    // bit of it; sched_setaffinity(0, ...) reads it for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The loops [`per_core`] started.
pub struct PerCore {
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl PerCore {
    /// How many loops there are.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Asks every loop to stop: each one's future is dropped at its next
    /// turn (its tasks' destructors run when its runtime is dropped).
    pub fn stop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }

    /// Waits for every loop to end; the first panic's message, if any
    /// loop's future panicked.
    pub fn join(mut self) -> Result<(), String> {
        let mut first_panic = None;
        for (index, thread) in std::mem::take(&mut self.threads).into_iter().enumerate() {
            if let Err(payload) = thread.join() {
                first_panic.get_or_insert_with(|| {
                    format!("loop {index} panicked: {}", panic_message(&*payload))
                });
            }
        }
        first_panic.map_or(Ok(()), Err)
    }
}

impl Drop for PerCore {
    /// Stops the loops and waits for them (a `PerCore` dropped without
    /// `join` leaves no thread behind).
    fn drop(&mut self) {
        self.stop();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for PerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerCore")
            .field("loops", &self.threads.len())
            .finish()
    }
}
