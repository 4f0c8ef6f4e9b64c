//! asyncio's exception handler: where the loop reports errors that nobody
//! else will see (a detached task's panic, a panicking callback, a failed
//! TLS handshake on a server).

use std::sync::Arc;

/// An error the loop caught on behalf of nobody (asyncio's exception
/// handler context).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoopError {
    /// What happened, with the panic message or error where there is one.
    pub message: String,
}

impl LoopError {
    /// A report carrying `message`.
    pub fn new(message: impl Into<String>) -> LoopError {
        LoopError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for LoopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A loop's exception handler.
pub(crate) type ErrorHook = Arc<dyn Fn(&LoopError) + Send + Sync>;

/// The default handler: one line on stderr (asyncio logs at ERROR level).
pub(crate) fn report_on_stderr(error: &LoopError) {
    eprintln!("corio: {error}");
}
