//! Why a task gave no value.

use std::any::Any;

/// Why awaiting a [`Task`](crate::Task) gave no value.
#[non_exhaustive]
pub enum TaskError {
    /// The task was cancelled (`Task::cancel`, its group failed, or its loop
    /// closed) and its future dropped before it finished.
    Cancelled,
    /// The task panicked; this is the panic payload. Resume it with
    /// [`std::panic::resume_unwind`] to propagate the panic.
    Panicked(Box<dyn Any + Send + 'static>),
}

impl TaskError {
    /// Whether the task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The panic payload, if the task panicked.
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self {
            TaskError::Panicked(payload) => Some(payload),
            TaskError::Cancelled => None,
        }
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else if let Some(inner) = payload.downcast_ref::<Box<dyn Any + Send>>() {
        // A `&Box<dyn Any>` passed by mistake: look inside the box.
        panic_message(&**inner)
    } else {
        "<non-string panic payload>"
    }
}

/// What to add to a panic message that is tokio's "no reactor" panic (a
/// tokio-bound crate polled on corio's loop): where to look.
pub(crate) fn tokio_hint(message: &str) -> &'static str {
    if message.contains("no reactor running")
        || message.contains("must be called from the context of a Tokio")
    {
        " (corio: this looks like a tokio-bound crate, which needs tokio's reactor or timer; \
         wrap the call in `corio::compat::tokio(...)`, feature `tokio-compat`: see \
         \"Using tokio crates\" in corio's README)"
    } else {
        ""
    }
}

impl std::fmt::Debug for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("Cancelled"),
            TaskError::Panicked(p) => f
                .debug_tuple("Panicked")
                .field(&panic_message(&**p))
                .finish(),
        }
    }
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::Panicked(p) => {
                let message = panic_message(&**p);
                write!(f, "task panicked: {message}{}", tokio_hint(message))
            }
        }
    }
}

impl std::error::Error for TaskError {}

impl From<TaskError> for std::io::Error {
    fn from(e: TaskError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}
