//! Async queues for tasks of one loop, with asyncio's semantics:
//! [`Queue`] (FIFO), [`LifoQueue`], [`PriorityQueue`] (smallest first).
//!
//! ```
//! use std::rc::Rc;
//! use corio::queue::Queue;
//! corio::run(async {
//!     let queue = Rc::new(Queue::new(2)); // at most 2 items waiting
//!     let q = queue.clone();
//!     let consumer = corio::spawn(async move {
//!         let mut sum = 0;
//!         while let Ok(n) = q.get().await {
//!             sum += n;
//!             q.task_done().unwrap();
//!         }
//!         sum // get fails once the queue is shut down and drained
//!     });
//!     for n in 1..=10 {
//!         queue.put(n).await.unwrap(); // waits while the queue is full
//!     }
//!     queue.join().await; // every item taken and marked done
//!     queue.shutdown(false);
//!     assert_eq!(consumer.await.unwrap(), 55);
//! });
//! ```

mod errors;
mod generic;
mod store;
mod stream;

pub use errors::{GetShutDown, PutShutDown, TaskDoneTooOften, TryGetError, TryPutError};
pub use generic::{GenericQueue, Get, Join, Put};
pub use store::{Fifo, Lifo, Priority, Store};
pub use stream::QueueStream;

/// A first-in, first-out queue (asyncio's `Queue`).
pub type Queue<T> = GenericQueue<T, Fifo<T>>;

/// A last-in, first-out queue (asyncio's `LifoQueue`).
pub type LifoQueue<T> = GenericQueue<T, Lifo<T>>;

/// A queue that hands out its smallest item first (asyncio's
/// `PriorityQueue`); use `(priority, item)` tuples as in Python.
pub type PriorityQueue<T> = GenericQueue<T, Priority<T>>;
