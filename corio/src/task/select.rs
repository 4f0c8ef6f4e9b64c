//! `select` and `race`: the first of two futures to finish.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One of two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Either<A, B> {
    /// The first future finished first.
    Left(A),
    /// The second future finished first.
    Right(B),
}

pin_project_lite::pin_project! {
    /// The future returned by [`select`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Select<A, B> {
        #[pin]
        a: A,
        #[pin]
        b: B,
    }
}

/// Waits for the first of `a` and `b` to finish and drops the other. When
/// both are ready in the same poll, `a` wins (polling is in argument order).
///
/// ```
/// use std::time::Duration;
/// use corio::{select, sleep, Either};
/// corio::run(async {
///     let winner = select(sleep(Duration::from_secs(60)), async { 5 }).await;
///     assert_eq!(winner, Either::Right(5));
/// });
/// ```
pub fn select<A: Future, B: Future>(a: A, b: B) -> Select<A, B> {
    Select { a, b }
}

impl<A: Future, B: Future> Future for Select<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(a) = this.a.poll(cx) {
            return Poll::Ready(Either::Left(a));
        }
        this.b.poll(cx).map(Either::Right)
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`race`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Race<A, B> {
        #[pin]
        inner: Select<A, B>,
    }
}

/// Like [`select`] for two futures of the same output: the first output.
pub fn race<T, A: Future<Output = T>, B: Future<Output = T>>(a: A, b: B) -> Race<A, B> {
    Race {
        inner: select(a, b),
    }
}

impl<T, A: Future<Output = T>, B: Future<Output = T>> Future for Race<A, B> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.project().inner.poll(cx).map(|either| match either {
            Either::Left(v) | Either::Right(v) => v,
        })
    }
}
