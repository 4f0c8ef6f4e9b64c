//! `gather!` for a fixed set of futures (typed results), `gather_all` for an
//! iterator (results in input order) and `try_gather` (first error wins).
//!
//! Unlike asyncio's `gather`, which wraps each coroutine in a task, these
//! poll the futures in place inside the awaiting task: no `'static` bound,
//! no allocation per future for `gather!`. Dropping the gather drops the
//! futures not yet finished (that is their cancellation).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::children::Children;

pin_project_lite::pin_project! {
    /// A future and, once it finished, its output (for `gather!`).
    #[doc(hidden)]
    #[project = MaybeDoneProj]
    #[project_replace = MaybeDoneReplace]
    pub enum MaybeDone<F: Future> {
        /// Still running.
        Future { #[pin] future: F },
        /// Finished; the output waits to be taken.
        Done { output: F::Output },
        /// Output taken.
        Gone,
    }
}

impl<F: Future> MaybeDone<F> {
    /// Wraps a future.
    pub fn new(future: F) -> Self {
        MaybeDone::Future { future }
    }

    /// Polls the future if it still runs; ready once it finished.
    pub fn poll_done(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.as_mut().project() {
            MaybeDoneProj::Future { future } => match future.poll(cx) {
                Poll::Ready(output) => {
                    self.project_replace(MaybeDone::Done { output });
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            },
            _ => Poll::Ready(()),
        }
    }

    /// Takes the output; panics unless `poll_done` said ready.
    pub fn take(self: Pin<&mut Self>) -> F::Output {
        match self.project_replace(MaybeDone::Gone) {
            MaybeDoneReplace::Done { output } => output,
            _ => panic!("gather!: output taken before the future finished"),
        }
    }
}

/// Runs several futures concurrently and waits for all of them; evaluates to
/// a tuple of their outputs, in argument order (asyncio's `gather`).
///
/// ```
/// use std::time::Duration;
/// corio::run(async {
///     let (a, b) = corio::gather!(
///         async { corio::sleep(Duration::from_millis(20)).await; "slow" },
///         async { 1 + 1 },
///     );
///     assert_eq!((a, b), ("slow", 2));
/// });
/// ```
#[macro_export]
macro_rules! gather {
    ($($future:expr),+ $(,)?) => {
        $crate::__gather_impl!(@zip [] [$($future,)+] [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15])
    };
}

/// Implementation detail of [`gather!`]: pairs each future with a tuple index
/// (at most 16 futures).
#[doc(hidden)]
#[macro_export]
macro_rules! __gather_impl {
    (@zip [$($pairs:tt)*] [$head:expr, $($rest:expr,)*] [$i:tt $($is:tt)*]) => {
        $crate::__gather_impl!(@zip [$($pairs)* [$i $head]] [$($rest,)*] [$($is)*])
    };
    (@zip [$($pairs:tt)*] [$head:expr, $($rest:expr,)*] []) => {
        ::core::compile_error!("gather! takes at most 16 futures; use corio::gather_all for more")
    };
    (@zip [$([$i:tt $future:expr])*] [] [$($unused:tt)*]) => {{
        let mut futures = ($(::core::pin::pin!($crate::task::gather::MaybeDone::new($future)),)*);
        ::core::future::poll_fn(|cx| {
            let mut all_done = true;
            $( all_done &= futures.$i.as_mut().poll_done(cx).is_ready(); )*
            if all_done {
                ::core::task::Poll::Ready(($(futures.$i.as_mut().take(),)*))
            } else {
                ::core::task::Poll::Pending
            }
        })
        .await
    }};
}

/// Runs every future of `futures` concurrently and gives their outputs in
/// input order (asyncio's `gather(*aws)`).
///
/// ```
/// use std::time::Duration;
/// corio::run(async {
///     let delays = [30u64, 10, 20];
///     let out = corio::gather_all(delays.iter().map(|&ms| async move {
///         corio::sleep(Duration::from_millis(ms)).await;
///         ms
///     }))
///     .await;
///     assert_eq!(out, vec![30, 10, 20]); // input order, not finishing order
/// });
/// ```
pub fn gather_all<I>(futures: I) -> GatherAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let children = Children::new(futures);
    let outputs = (0..children.len()).map(|_| None).collect();
    GatherAll { children, outputs }
}

/// The future returned by [`gather_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct GatherAll<F: Future> {
    children: Children<F>,
    outputs: Vec<Option<F::Output>>,
}

impl<F: Future> Unpin for GatherAll<F> {}

impl<F: Future> Future for GatherAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match this.children.poll_next(cx) {
                Poll::Ready(Some((index, output))) => this.outputs[index] = Some(output),
                Poll::Ready(None) => {
                    let outputs = std::mem::take(&mut this.outputs);
                    return Poll::Ready(
                        outputs
                            .into_iter()
                            .map(|o| o.expect("every child finished"))
                            .collect(),
                    );
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Runs futures that return `Result` concurrently: all the `Ok` values in
/// input order, or the first `Err` as soon as it happens, dropping
/// (cancelling) the futures still running.
///
/// asyncio's `gather` leaves the others running on the first exception; in
/// Rust a future nobody polls does nothing, so corio cancels them. Spawn
/// tasks and gather those to keep them running.
pub fn try_gather<I, T, E>(futures: I) -> TryGather<I::Item, T>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    let children = Children::new(futures);
    let outputs = (0..children.len()).map(|_| None).collect();
    TryGather { children, outputs }
}

/// The future returned by [`try_gather`].
#[must_use = "futures do nothing unless awaited"]
pub struct TryGather<F, T> {
    children: Children<F>,
    outputs: Vec<Option<T>>,
}

impl<F, T> Unpin for TryGather<F, T> {}

impl<F, T, E> Future for TryGather<F, T>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match this.children.poll_next(cx) {
                Poll::Ready(Some((index, Ok(value)))) => this.outputs[index] = Some(value),
                Poll::Ready(Some((_, Err(e)))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => {
                    let outputs = std::mem::take(&mut this.outputs);
                    return Poll::Ready(Ok(outputs
                        .into_iter()
                        .map(|o| o.expect("every child finished"))
                        .collect()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F: Future> std::fmt::Debug for GatherAll<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatherAll").finish_non_exhaustive()
    }
}

impl<F, T> std::fmt::Debug for TryGather<F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TryGather").finish_non_exhaustive()
    }
}
