//! Thread-safe versions of the primitives tokio users send between
//! threads: [`Notify`], [`watch`] and [`broadcast`] (`Send + Sync`; a lock per call where
//! `corio::sync`'s loop-local ones cost none). `oneshot` already crosses
//! threads: [`sync::oneshot`](crate::sync::oneshot). For a queue between
//! threads and a loop, hand work over with
//! [`LoopHandle`](crate::runtime::LoopHandle).

pub mod broadcast;
mod notify;
pub mod watch;

pub use notify::{Notified, Notify};
