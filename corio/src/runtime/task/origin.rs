//! Where a task came from: its spawn location and, for a named task, its
//! name, in one word of the task header.
//!
//! Most tasks have no name, so the word is the `&'static Location` itself;
//! a named task's word points to a box holding both. The two are told apart
//! by the pointer's lowest bit (a `Location` is word-aligned, so that bit
//! of a location pointer is always clear). One word instead of two keeps a
//! trivial task's cell in the 80-byte size class.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::panic::Location;
use std::ptr::NonNull;

/// Set in the word of a named task (the word then points to a [`Named`]).
const NAMED: usize = 1;

/// A named task's origin.
struct Named {
    name: Cow<'static, str>,
    location: &'static Location<'static>,
}

/// A task's spawn location and optional name (owns the name's box).
pub(crate) struct Origin {
    word: NonNull<u8>,
    /// Owns a `Box<Named>` when tagged; `Send`/`Sync` like its parts.
    _owns: PhantomData<Box<Named>>,
}

const _: () = assert!(std::mem::align_of::<Location<'static>>() > NAMED);
const _: () = assert!(std::mem::align_of::<Named>() > NAMED);

impl Origin {
    #[inline]
    pub(crate) fn new(
        name: Option<Cow<'static, str>>,
        location: &'static Location<'static>,
    ) -> Origin {
        let word = match name {
            None => NonNull::from(location).cast::<u8>(),
            Some(name) => box_named(name, location),
        };
        Origin {
            word,
            _owns: PhantomData,
        }
    }

    fn named(&self) -> Option<&Named> {
        if self.word.addr().get() & NAMED == 0 {
            return None;
        }
        let named = self.word.map_addr(|a| {
            // SAFETY: the untagged address is the box's, which is non-zero.
            unsafe { std::num::NonZeroUsize::new_unchecked(a.get() & !NAMED) }
        });
        // SAFETY: a tagged word came from `Box::leak` of a `Named` in `new`,
        // and the box lives until `self` is dropped.
        Some(unsafe { named.cast::<Named>().as_ref() })
    }

    /// The name given with `spawn_named`.
    pub(crate) fn name(&self) -> Option<&str> {
        self.named().map(|n| &*n.name)
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        match self.named() {
            Some(named) => named.location,
            // SAFETY: an untagged word is a `&'static Location` (see `new`).
            None => unsafe { self.word.cast::<Location<'static>>().as_ref() },
        }
    }
}

/// The tagged word of a named task (out of line: most tasks have no name).
#[cold]
fn box_named(name: Cow<'static, str>, location: &'static Location<'static>) -> NonNull<u8> {
    let named = NonNull::from(Box::leak(Box::new(Named { name, location })));
    named.cast::<u8>().map_addr(|a| a | NAMED)
}

impl Drop for Origin {
    fn drop(&mut self) {
        if let Some(named) = self.named() {
            let named = NonNull::from(named);
            // SAFETY: the box leaked in `new`, released once (here).
            drop(unsafe { Box::from_raw(named.as_ptr()) });
        }
    }
}

// SAFETY: an `Origin` is a `&'static Location` (Send + Sync) or owns a
// `Box<Named>` whose fields are Send + Sync; nothing is shared mutably.
unsafe impl Send for Origin {}
// SAFETY: as above; `&Origin` only reads.
unsafe impl Sync for Origin {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_origin_is_its_location() {
        let here = Location::caller();
        let origin = Origin::new(None, here);
        assert_eq!(origin.name(), None);
        assert!(std::ptr::eq(origin.location(), here));
        assert_eq!(std::mem::size_of::<Origin>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn a_named_origin_keeps_name_and_location() {
        let here = Location::caller();
        let owned = Origin::new(Some(Cow::Owned(format!("worker-{}", 7))), here);
        let borrowed = Origin::new(Some(Cow::Borrowed("static")), here);
        assert_eq!(owned.name(), Some("worker-7"));
        assert_eq!(borrowed.name(), Some("static"));
        assert!(std::ptr::eq(owned.location(), here));
        assert!(std::ptr::eq(borrowed.location(), here));
    }
}
