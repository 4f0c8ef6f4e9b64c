//! The drivers below the loop: I/O readiness ([`io`]), the timer store
//! ([`timer`]) and the clock ([`clock`]). They know nothing of the loop,
//! tasks or the thread-local context: the runtime owns one of each and
//! reaches them through their methods.

pub(crate) mod clock;
pub(crate) mod io;
pub(crate) mod timer;
