//! A per-loop allocator for task cells.
//!
//! Spawning a task allocates its cell and finishing it frees the cell;
//! through the global allocator that pair was a third of a spawn-and-join's
//! instructions. Here a loop carves cells out of large chunks and keeps
//! freed cells on one free list per size class (16-byte steps up to
//! `MAX_SIZE`): allocating and freeing on the loop's thread is a few
//! instructions on a `Cell`, and a cell carries no allocator header.
//!
//! A cell's last reference may go on another thread (a waker dropped
//! there). Such a cell is pushed onto the arena's *remote* stack (atomic,
//! lock-free) and the loop takes those back when its free list runs dry.
//! A cell finds its arena through the header at the start of its chunk
//! (chunks are aligned to their size).
//!
//! The arena's memory outlives the loop while any cell is still referenced:
//! when the loop drops its arena with cells outstanding, the remote stack is
//! closed and the last of those cells to be freed releases the chunks.
//! Memory goes back to the system when the loop is dropped (not when a
//! burst of tasks ends): a loop keeps its peak task memory, as a pool does.
//!
//! Futures over `MAX_SIZE` bytes or aligned above 16 bytes are allocated by
//! the global allocator, decided by the layout alone, so freeing takes the
//! same road as allocating.

use std::alloc::{self, Layout};
use std::cell::{Cell, UnsafeCell};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};

/// Size of a chunk, and its alignment (so `ptr & !(CHUNK - 1)` is its start).
const CHUNK: usize = 256 * 1024;
/// Size-class step, and the largest alignment served.
const GRAIN: usize = 16;
const CLASSES: usize = 32;
/// The largest cell served from the arena.
const MAX_SIZE: usize = GRAIN * CLASSES;
/// Bytes at the start of each chunk holding its [`ChunkHeader`].
const HEADER: usize = 64;
/// The remote stack's head once the loop dropped its arena (never a cell:
/// cells lie past a chunk's header, far above the first page).
const CLOSED: *mut FreeCell = ptr::dangling_mut::<FreeCell>();

/// The size class serving `layout`, or `None` for the global allocator.
#[inline]
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    (layout.align() <= GRAIN && layout.size() <= MAX_SIZE)
        .then(|| layout.size().max(1).div_ceil(GRAIN) - 1)
}

/// What a free cell holds.
struct FreeCell {
    next: *mut FreeCell,
    class: usize,
}

/// At the start of every chunk.
struct ChunkHeader {
    shared: *const Shared,
}

/// The part of an arena other threads reach (through a chunk header).
struct Shared {
    /// Cells freed off the loop's thread, or `CLOSED`.
    remote: AtomicPtr<FreeCell>,
    /// Once closed: cells still outstanding (may dip below zero while the
    /// loop is still counting; whoever brings it to zero frees the chunks).
    orphans: AtomicIsize,
    /// Every chunk; pushed to by the loop's thread only, read by whoever
    /// frees the arena (after the `orphans` hand-over, which orders it).
    chunks: UnsafeCell<Vec<NonNull<u8>>>,
}

// SAFETY: `remote` and `orphans` are atomics; `chunks` is written only by the
// loop's thread while the arena is open and read only by the one thread
// that frees the arena, after an acquire on `orphans` (or by the loop's
// thread itself), so no two threads touch it unsynchronized.
unsafe impl Sync for Shared {}

/// A loop's task-cell allocator. Loop thread only (`!Send`, `!Sync`).
pub(crate) struct TaskArena {
    shared: NonNull<Shared>,
    free: [Cell<*mut FreeCell>; CLASSES],
    /// The unused rest of the newest chunk.
    bump: Cell<*mut u8>,
    end: Cell<*mut u8>,
    /// Cells handed out and not yet back (remote frees count once drained).
    live: Cell<usize>,
}

impl TaskArena {
    pub(crate) fn new() -> TaskArena {
        let shared = Box::new(Shared {
            remote: AtomicPtr::new(ptr::null_mut()),
            orphans: AtomicIsize::new(0),
            chunks: UnsafeCell::new(Vec::new()),
        });
        let shared = NonNull::from(Box::leak(shared));
        #[cfg(test)]
        tests::RELEASED
            .lock()
            .unwrap()
            .retain(|&a| a != shared.as_ptr() as usize);
        TaskArena {
            shared,
            free: std::array::from_fn(|_| Cell::new(ptr::null_mut())),
            bump: Cell::new(ptr::null_mut()),
            end: Cell::new(ptr::null_mut()),
            live: Cell::new(0),
        }
    }

    fn shared(&self) -> &Shared {
        // SAFETY: the shared part lives until the arena is dropped and every
        // cell is back (see `Drop`).
        unsafe { self.shared.as_ref() }
    }

    /// A cell of size class `class` (from [`class_of`]), uninitialized.
    #[inline]
    pub(crate) fn alloc(&self, class: usize) -> NonNull<u8> {
        let head = self.free[class].get();
        let cell = if !head.is_null() {
            // SAFETY: cells on a free list are ours and hold a `FreeCell`.
            self.free[class].set(unsafe { (*head).next });
            head.cast::<u8>()
        } else {
            self.alloc_slow(class)
        };
        self.live.set(self.live.get() + 1);
        // SAFETY: non-null on every path above.
        unsafe { NonNull::new_unchecked(cell) }
    }

    #[inline(never)]
    fn alloc_slow(&self, class: usize) -> *mut u8 {
        if !self.shared().remote.load(Ordering::Relaxed).is_null() {
            self.take_remote();
            let head = self.free[class].get();
            if !head.is_null() {
                // SAFETY: as in `alloc`.
                self.free[class].set(unsafe { (*head).next });
                return head.cast();
            }
        }
        let size = (class + 1) * GRAIN;
        if (self.end.get() as usize) - (self.bump.get() as usize) < size {
            self.new_chunk();
        }
        let cell = self.bump.get();
        // SAFETY: the chunk has `size` bytes left at `cell` (checked above).
        self.bump.set(unsafe { cell.add(size) });
        cell
    }

    fn new_chunk(&self) {
        let layout = Layout::from_size_align(CHUNK, CHUNK).expect("chunk layout");
        // SAFETY: the layout has a non-zero size.
        let Some(chunk) = NonNull::new(unsafe { alloc::alloc(layout) }) else {
            alloc::handle_alloc_error(layout)
        };
        // SAFETY: the chunk is fresh, CHUNK bytes, aligned for a header.
        unsafe {
            chunk.cast::<ChunkHeader>().as_ptr().write(ChunkHeader {
                shared: self.shared.as_ptr(),
            })
        };
        // SAFETY: loop thread, arena open: nobody else touches `chunks`.
        let chunks = unsafe { &mut *self.shared().chunks.get() };
        if !chunks.is_empty() {
            populate(chunk);
        }
        chunks.push(chunk);
        // The rest of an old chunk too small for this cell is left unused.
        // SAFETY: HEADER < CHUNK, both within the allocation.
        unsafe {
            self.bump.set(chunk.as_ptr().add(HEADER));
            self.end.set(chunk.as_ptr().add(CHUNK));
        }
    }

    /// Moves the cells other threads freed onto the free lists.
    fn take_remote(&self) {
        let mut cell = self
            .shared()
            .remote
            .swap(ptr::null_mut(), Ordering::Acquire);
        while !cell.is_null() {
            // SAFETY: a remote free wrote a `FreeCell` there before its
            // release push, which the swap acquired.
            let FreeCell { next, class } = unsafe { cell.read() };
            self.push_free(cell, class);
            cell = next;
        }
    }

    fn push_free(&self, cell: *mut FreeCell, class: usize) {
        // SAFETY: the cell is ours, free, and at least GRAIN bytes.
        unsafe {
            cell.write(FreeCell {
                next: self.free[class].get(),
                class,
            })
        };
        self.free[class].set(cell);
        self.live.set(self.live.get() - 1);
    }

    /// Takes back a cell of this arena, on the loop's thread.
    ///
    /// # Safety
    /// `cell` came from this arena's `alloc(class)`, is freed once, and
    /// nothing reads it any more.
    #[inline]
    pub(crate) unsafe fn free_local(&self, cell: NonNull<u8>, class: usize) {
        self.push_free(cell.as_ptr().cast(), class);
    }
}

/// Takes back a cell of some loop's arena, from any thread.
///
/// # Safety
/// As for [`TaskArena::free_local`], with `cell` from any live or dropped
/// arena's `alloc(class)`.
pub(crate) unsafe fn free_remote(cell: NonNull<u8>, class: usize) {
    let chunk = (cell.as_ptr() as usize & !(CHUNK - 1)) as *const ChunkHeader;
    // SAFETY: the cell lies in a chunk, which starts with its header; the
    // shared part lives while any of its cells is outstanding (this one).
    let shared = unsafe { &*(*chunk).shared };
    let cell = cell.as_ptr().cast::<FreeCell>();
    let mut head = shared.remote.load(Ordering::Relaxed);
    loop {
        if head == CLOSED {
            if shared.orphans.fetch_sub(1, Ordering::AcqRel) == 1 {
                // SAFETY: that was the last outstanding cell of a dropped arena.
                unsafe { release_all(shared) };
            }
            return;
        }
        // SAFETY: the cell is free and at least GRAIN bytes.
        unsafe { cell.write(FreeCell { next: head, class }) };
        match shared
            .remote
            .compare_exchange_weak(head, cell, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

/// Frees every chunk and the shared part.
///
/// # Safety
/// The arena is dropped and every cell is back; called once.
unsafe fn release_all(shared: *const Shared) {
    // SAFETY: by the caller's contract nobody else reaches `shared` now;
    // it came from `Box::leak` in `TaskArena::new`.
    let shared = unsafe { Box::from_raw(shared as *mut Shared) };
    #[cfg(test)]
    tests::RELEASED
        .lock()
        .unwrap()
        .push(&*shared as *const Shared as usize);
    let layout = Layout::from_size_align(CHUNK, CHUNK).expect("chunk layout");
    for chunk in shared.chunks.into_inner() {
        // SAFETY: allocated in `new_chunk` with this layout.
        unsafe { alloc::dealloc(chunk.as_ptr(), layout) };
    }
}

impl Drop for TaskArena {
    fn drop(&mut self) {
        let mut cell = self.shared().remote.swap(CLOSED, Ordering::AcqRel);
        while !cell.is_null() {
            // SAFETY: as in `take_remote`.
            cell = unsafe { cell.read() }.next;
            self.live.set(self.live.get() - 1);
        }
        let live = self.live.get() as isize;
        // Cells freed remotely from now on count down `orphans`; the one
        // that meets this count at zero frees the chunks.
        if live == 0 || self.shared().orphans.fetch_add(live, Ordering::AcqRel) == -live {
            // SAFETY: every cell is back and the arena is closed.
            unsafe { release_all(self.shared.as_ptr()) };
        }
    }
}

/// Asks the kernel to back a new chunk with memory now, in one call,
/// rather than one page fault per 4 KiB page as cells are first written: a
/// loop on its second chunk is spawning in bulk and will fill this one too
/// (a million spawns spent a third of their time entering and leaving the
/// page-fault handler). The first chunk is left to fault lazily, so a loop
/// with a handful of tasks keeps a few pages, not 256 KiB. Only a hint: a
/// kernel older than 5.14 refuses it and the pages fault as before.
fn populate(chunk: NonNull<u8>) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `chunk` starts a live allocation of CHUNK bytes that this
    // arena owns; MADV_POPULATE_WRITE faults its pages in as a write
    // would, without changing a byte, and touches nothing outside it.
    unsafe {
        libc::madvise(chunk.as_ptr().cast(), CHUNK, libc::MADV_POPULATE_WRITE);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = chunk;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared parts freed so far (by address; an address is taken off
    /// when a new arena reuses it).
    pub(super) static RELEASED: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

    fn released(arena: usize) -> bool {
        RELEASED.lock().unwrap().contains(&arena)
    }

    #[test]
    fn classes_round_up_to_the_grain() {
        let class = |size, align| class_of(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class(1, 1), Some(0));
        assert_eq!(class(16, 8), Some(0));
        assert_eq!(class(17, 8), Some(1));
        assert_eq!(class(MAX_SIZE, 16), Some(CLASSES - 1));
        assert_eq!(class(MAX_SIZE + 1, 8), None);
        assert_eq!(class(64, 32), None);
    }

    #[test]
    fn freed_cells_are_reused_and_sizes_do_not_overlap() {
        let arena = TaskArena::new();
        let a = arena.alloc(5);
        let b = arena.alloc(5);
        assert_eq!(b.as_ptr() as usize - a.as_ptr() as usize, 6 * GRAIN);
        // SAFETY: `a` came from this arena and is freed once.
        unsafe { arena.free_local(a, 5) };
        assert_eq!(arena.alloc(5), a);
        assert_ne!(arena.alloc(0), a);
        assert_eq!(arena.live.get(), 3);
    }

    /// Whether every page of `chunk` is in memory (mincore).
    #[cfg(target_os = "linux")]
    fn resident(chunk: NonNull<u8>) -> bool {
        let pages = CHUNK / 4096;
        let mut map = vec![0u8; pages];
        // SAFETY: `chunk` is a live, page-aligned mapping of CHUNK bytes
        // and `map` has a byte for each of its 4 KiB pages.
        let rc = unsafe { libc::mincore(chunk.as_ptr().cast(), CHUNK, map.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        map.iter().all(|&page| page & 1 == 1)
    }

    /// Whether this kernel takes MADV_POPULATE_WRITE (Linux 5.14 and up).
    #[cfg(target_os = "linux")]
    fn kernel_populates() -> bool {
        let layout = Layout::from_size_align(4096, 4096).unwrap();
        // SAFETY: a non-zero layout; the page is freed below.
        let page = unsafe { alloc::alloc(layout) };
        // SAFETY: `page` is a live, page-aligned allocation of 4096 bytes.
        let rc = unsafe { libc::madvise(page.cast(), 4096, libc::MADV_POPULATE_WRITE) };
        // SAFETY: allocated above with this layout.
        unsafe { alloc::dealloc(page, layout) };
        rc == 0
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_second_chunk_is_in_memory_before_its_cells_are_written() {
        if !kernel_populates() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)");
            return;
        }
        let arena = TaskArena::new();
        let per_chunk = (CHUNK - HEADER) / 512;
        let cells: Vec<_> = (0..per_chunk + 1)
            .map(|_| arena.alloc(CLASSES - 1))
            .collect();
        // SAFETY: loop thread; the arena is open.
        let chunks = unsafe { (*arena.shared().chunks.get()).clone() };
        assert_eq!(chunks.len(), 2);
        assert!(resident(chunks[1]), "the second chunk was not populated");
        for cell in cells {
            // SAFETY: each from this arena, freed once.
            unsafe { arena.free_local(cell, CLASSES - 1) };
        }
    }

    #[test]
    fn cells_span_many_chunks() {
        let arena = TaskArena::new();
        let cells: Vec<_> = (0..3 * CHUNK / 512)
            .map(|_| arena.alloc(CLASSES - 1))
            .collect();
        // SAFETY: loop thread; the arena is open.
        assert!(unsafe { (*arena.shared().chunks.get()).len() } > 3);
        for cell in cells {
            // SAFETY: each from this arena, freed once.
            unsafe { arena.free_local(cell, CLASSES - 1) };
        }
        assert_eq!(arena.live.get(), 0);
    }

    #[test]
    fn cells_freed_on_other_threads_come_back() {
        let arena = TaskArena::new();
        let cells: Vec<usize> = (0..100).map(|_| arena.alloc(2).as_ptr() as usize).collect();
        std::thread::scope(|s| {
            for part in cells.chunks(25) {
                s.spawn(move || {
                    for &cell in part {
                        // SAFETY: each cell from the arena, freed once.
                        unsafe { free_remote(NonNull::new(cell as *mut u8).unwrap(), 2) };
                    }
                });
            }
        });
        assert_eq!(arena.live.get(), 100);
        let again: std::collections::HashSet<usize> =
            (0..100).map(|_| arena.alloc(2).as_ptr() as usize).collect();
        assert_eq!(again, cells.into_iter().collect());
        assert_eq!(arena.live.get(), 100);
    }

    #[test]
    fn cells_outliving_their_loop_free_the_arena_last() {
        let arena = TaskArena::new();
        let id = arena.shared.as_ptr() as usize;
        let mut kept: Vec<usize> = (0..64).map(|_| arena.alloc(3).as_ptr() as usize).collect();
        // One freed before the loop goes, waiting on the remote stack.
        // SAFETY: from the arena, freed once.
        unsafe { free_remote(NonNull::new(kept.pop().unwrap() as *mut u8).unwrap(), 3) };
        drop(arena);
        assert!(!released(id), "freed while 63 cells were outstanding");
        let last = kept.pop().unwrap();
        // Freed after the loop went, on other threads.
        std::thread::scope(|s| {
            for part in kept.chunks(16) {
                s.spawn(move || {
                    for &cell in part {
                        // SAFETY: each cell from the arena, freed once.
                        unsafe { free_remote(NonNull::new(cell as *mut u8).unwrap(), 3) };
                    }
                });
            }
        });
        assert!(!released(id), "freed while one cell was outstanding");
        // SAFETY: from the arena, freed once.
        unsafe { free_remote(NonNull::new(last as *mut u8).unwrap(), 3) };
        assert!(released(id), "the last cell did not free the arena");
    }

    #[test]
    fn an_arena_with_nothing_outstanding_is_freed_at_drop() {
        let arena = TaskArena::new();
        let id = arena.shared.as_ptr() as usize;
        let cell = arena.alloc(0);
        // SAFETY: from the arena, freed once.
        unsafe { arena.free_local(cell, 0) };
        drop(arena);
        assert!(released(id));
    }
}
