//! The queue errors (asyncio's `QueueFull`, `QueueEmpty`, `QueueShutDown`).

/// `put_nowait` on a full or shut-down queue; gives the item back.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryPutError<T> {
    /// The queue holds `maxsize` items (asyncio's `QueueFull`).
    Full(T),
    /// The queue was shut down (asyncio's `QueueShutDown`).
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::ShutDown(item) => item,
        }
    }
}

impl<T> std::fmt::Debug for TryPutError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("Full(..)"),
            TryPutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> std::fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("the queue is full"),
            TryPutError::ShutDown(_) => f.write_str("the queue was shut down"),
        }
    }
}

impl<T> std::error::Error for TryPutError<T> {}

/// `get_nowait` found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryGetError {
    /// The queue is empty (asyncio's `QueueEmpty`).
    Empty,
    /// The queue was shut down and is empty (or shut down immediately).
    ShutDown,
}

impl std::fmt::Display for TryGetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("the queue is empty"),
            TryGetError::ShutDown => f.write_str("the queue was shut down"),
        }
    }
}

impl std::error::Error for TryGetError {}

/// `put` on a shut-down queue; gives the item back.
#[derive(Clone, PartialEq, Eq)]
pub struct PutShutDown<T>(pub T);

impl<T> std::fmt::Debug for PutShutDown<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PutShutDown(..)")
    }
}

impl<T> std::fmt::Display for PutShutDown<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the queue was shut down")
    }
}

impl<T> std::error::Error for PutShutDown<T> {}

/// `get` on a queue that was shut down and has nothing left to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetShutDown;

impl std::fmt::Display for GetShutDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the queue was shut down")
    }
}

impl std::error::Error for GetShutDown {}

/// `task_done` called more times than items were put (asyncio's `ValueError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDoneTooOften;

impl std::fmt::Display for TaskDoneTooOften {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("task_done() called more times than there were items")
    }
}

impl std::error::Error for TaskDoneTooOften {}
