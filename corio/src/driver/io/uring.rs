//! The io_uring backend: readiness through io_uring poll requests instead
//! of epoll, behind the same [`Backend`] interface, and, for stream
//! sockets, receives and sends as ring requests (completion mode:
//! `uring_stream`, the pool in `buf_ring`; `CORIO_IO_URING_STREAMS=readiness`
//! keeps them on readiness and `read(2)`/`write(2)`).
//!
//! - An edge-triggered registration is one multishot `POLL_ADD`: a
//!   completion each time the descriptor's wait queue is woken with a
//!   matching event, which is what `EPOLLET` reports.
//! - A level-triggered one is a one-shot `POLL_ADD`, armed again as soon as
//!   it completes: a descriptor that stays ready completes at every wait,
//!   as a level-triggered epoll entry is reported at every `epoll_wait`.
//! - Registering and re-arming queue entries without a system call: they
//!   go to the kernel with the next wait. Removing one is submitted at once,
//!   because a poll request holds its file open (unlike an epoll entry), and
//!   the owner closes the descriptor right after deregistering it.
//! - The cross-thread wake-up is an eventfd with a multishot poll on it.
//! - A wait with a zero timeout makes no system call at all when nothing is
//!   queued and the kernel has no completion work pending for this thread
//!   (`IORING_SETUP_TASKRUN_FLAG`), where epoll needs an `epoll_wait`.
//!
//! - Completion mode: a stream's receive or send is queued like a poll (it
//!   reaches the kernel with the next wait); its request owns its buffer
//!   (or the pool's) until the kernel answers, and [`Drop`] cancels what is
//!   in flight and waits for the answers before anything is freed.
//!
//! Needs Linux 5.13 (multishot poll, timeouts on the wait); [`UringBackend::new`]
//! checks and fails otherwise. Completion mode needs 5.19 (provided-buffer
//! rings); before that, streams stay on readiness.

use std::cell::{Cell, OnceCell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use io_uring::squeue::Entry;
use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, CompletionQueue, IoUring, SubmissionQueue, Submitter};
use slab::Slab;

use super::buf_ring::BufRing;
use super::scheduled_io::{ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
use super::uring_stream::{pool_buffer_len, Next, StreamIo, StreamOps};
use super::{token_key, Backend, Mode, Notify, Polled};

/// The user data of the eventfd's poll.
const WAKE: u64 = u64::MAX;
/// Marks the user data of a poll removal (the rest is the poll's key).
const REMOVE: u64 = 1 << 63;

/// Submission queue entries; completions get 16 times as many (a multishot
/// poll may post several before the loop reads them; the kernel keeps any
/// overflow, ending the multishot polls concerned, which are re-armed).
const SQ_ENTRIES: u32 = 256;
const CQ_ENTRIES: u32 = 4096;

/// Counts forks (in the child): a ring's memory is not shared with a child
/// (`MADV_DONTFORK`), so a backend created before a fork must not touch it.
static FORKS: AtomicU64 = AtomicU64::new(0);

fn count_forks() -> u64 {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn in_child() {
        FORKS.fetch_add(1, Ordering::Relaxed);
    }
    ONCE.call_once(|| {
        // SAFETY: registers a child handler that only increments an atomic
        // (async-signal-safe: no allocation, no lock).
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
    FORKS.load(Ordering::Relaxed)
}

/// One registered descriptor, by its reactor key (`token_key`).
#[derive(Clone, Copy)]
struct Reg {
    fd: RawFd,
    token: u64,
    mode: Mode,
    /// The poll request armed for it, if any (its key in `ops`).
    armed: Option<usize>,
}

/// A request in flight; its key in the slab is its user data.
enum Op {
    /// A readiness poll for a registration.
    Poll {
        token: u64,
        /// False once removal was asked: a late completion is then ignored.
        live: bool,
    },
    /// A completion-mode stream's receive, into the pool or `owned` (kept
    /// here, alive until the kernel answers).
    Recv {
        io: Rc<StreamIo>,
        owned: Option<Vec<u8>>,
        /// Its cancellation was asked.
        cancelled: bool,
    },
    /// A completion-mode stream's send of `buf[done..]` (the buffer kept
    /// here, alive until the kernel answers).
    Send {
        io: Rc<StreamIo>,
        buf: Vec<u8>,
        done: usize,
    },
}

impl Op {
    /// Whether its removal (or cancellation) was asked and is unanswered.
    fn being_removed(&self) -> bool {
        match self {
            Op::Poll { live, .. } => !live,
            Op::Recv { cancelled, .. } => *cancelled,
            Op::Send { .. } => false,
        }
    }

    /// Whether it points into memory (a buffer the kernel reads or fills).
    fn holds_memory(&self) -> bool {
        !matches!(self, Op::Poll { .. })
    }
}

/// Readiness through io_uring poll requests (see the module's docs).
pub(crate) struct UringBackend {
    ring: RefCell<IoUring>,
    /// Registrations, by reactor key.
    regs: RefCell<Vec<Option<Reg>>>,
    /// Poll requests in flight, by user data.
    ops: RefCell<Slab<Op>>,
    /// Completions `deregister` read to find its removal's answer, for the
    /// next poll to handle first.
    stashed: RefCell<Vec<cqueue::Entry>>,
    wake: Arc<EventFd>,
    forks_at_creation: u64,
    /// Completion-mode streams: whether they are used (see `open_stream`),
    /// their receive pool once the first one opened, how many are open,
    /// and the wakers their completions woke during a poll.
    streams: StreamMode,
    pool: OnceCell<BufRing>,
    open_streams: Cell<usize>,
    woken: RefCell<Vec<Waker>>,
}

/// How stream sockets use the ring (`CORIO_IO_URING_STREAMS`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum StreamMode {
    /// Unset: completion where the kernel has provided-buffer rings
    /// (Linux 5.19), readiness where it refuses them.
    Auto,
    /// `completion`: reads and writes are io_uring requests; a kernel that
    /// refuses them is an error when the loop is built, not a fall-back.
    Completion,
    /// `readiness`: reads and writes are system calls on readiness, as on
    /// epoll.
    Readiness,
}

/// The environment variable that chooses [`StreamMode`].
const STREAMS_ENV: &str = "CORIO_IO_URING_STREAMS";

fn stream_mode_from_env() -> io::Result<StreamMode> {
    match std::env::var(STREAMS_ENV).as_deref().map(str::trim) {
        Err(_) | Ok("") => Ok(StreamMode::Auto),
        Ok("completion") => Ok(StreamMode::Completion),
        Ok("readiness") => Ok(StreamMode::Readiness),
        Ok(other) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown {STREAMS_ENV} value {other:?}: use \"completion\" or \"readiness\""),
        )),
    }
}

/// `IORING_RECVSEND_POLL_FIRST`: wait for data before trying to receive.
/// A reader queues a receive only after taking everything buffered, so the
/// first try would find nothing.
const RECV_POLL_FIRST: u16 = 1;

/// The pool's buffer group id.
const POOL_GROUP: u16 = 0;
/// Buffers in the pool.
const POOL_BUFFERS: u16 = 256;

/// The eventfd that other threads write to wake the loop.
struct EventFd(OwnedFd);

impl Notify for EventFd {
    fn notify(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        // SAFETY: write(2) of eight bytes from a valid buffer to our eventfd.
        let n = unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), 8) };
        if n < 0 {
            let e = io::Error::last_os_error();
            // The counter is full: the loop has a wake-up pending anyway.
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
        }
        Ok(())
    }
}

fn build_ring(sq_entries: u32, cq_entries: u32) -> io::Result<IoUring> {
    let with_taskrun = IoUring::builder()
        .dontfork()
        .setup_cqsize(cq_entries)
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .build(sq_entries);
    match with_taskrun {
        // Before 5.19 the kernel refuses these two flags: run without.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::builder()
            .dontfork()
            .setup_cqsize(cq_entries)
            .build(sq_entries),
        other => other,
    }
}

/// The poll events a registration asks for.
fn poll_mask(mode: Mode) -> u32 {
    let mut mask = libc::POLLRDHUP as u32;
    match mode {
        Mode::Edge => mask |= (libc::POLLIN | libc::POLLOUT) as u32,
        Mode::Level(interest) => {
            if interest.is_readable() {
                mask |= libc::POLLIN as u32;
            }
            if interest.is_writable() {
                mask |= libc::POLLOUT as u32;
            }
        }
    }
    mask
}

/// Whether a registration in `mode` has a poll request armed.
fn wants_poll(mode: Mode) -> bool {
    match mode {
        Mode::Edge => true,
        Mode::Level(interest) => !interest.is_empty(),
    }
}

/// A completed poll's event mask as readiness bits, read as mio reads an
/// epoll event (so both backends report the same states).
fn readiness(mask: u32) -> u8 {
    let has = |bit: i16| mask & bit as u32 != 0;
    let mut ready = 0;
    if has(libc::POLLIN) || has(libc::POLLPRI) {
        ready |= READABLE;
    }
    if has(libc::POLLOUT) {
        ready |= WRITABLE;
    }
    if has(libc::POLLHUP) || (has(libc::POLLIN) && has(libc::POLLRDHUP)) {
        ready |= READ_CLOSED;
    }
    if has(libc::POLLHUP)
        || (has(libc::POLLOUT) && has(libc::POLLERR))
        || mask == libc::POLLERR as u32
    {
        ready |= WRITE_CLOSED;
    }
    if has(libc::POLLERR) {
        ready |= ERROR;
    }
    ready
}

/// The submission side of the ring, borrowed for one operation.
struct Queue<'a, 'r> {
    sq: &'a mut SubmissionQueue<'r>,
    submitter: &'a Submitter<'r>,
}

impl Queue<'_, '_> {
    /// Queues `sqe`, handing the queue to the kernel first if it is full.
    fn push(&mut self, sqe: &Entry) -> io::Result<()> {
        loop {
            // SAFETY: poll, removal and cancellation entries carry no
            // pointer into our memory; a receive's or send's buffer is
            // owned by its entry in the request table (or is the pool's),
            // which keeps it until the kernel answers (`Drop` waits for the
            // answers before freeing any).
            if unsafe { self.sq.push(sqe) }.is_ok() {
                return Ok(());
            }
            self.submit()?;
        }
    }

    /// Hands what is queued to the kernel now.
    fn submit(&mut self) -> io::Result<()> {
        self.sq.sync();
        self.submitter.submit()?;
        self.sq.sync();
        Ok(())
    }

    /// Arms a poll request for `reg` (queued, not yet submitted).
    fn arm(&mut self, ops: &mut Slab<Op>, reg: &mut Reg) -> io::Result<()> {
        let sqe = opcode::PollAdd::new(Fd(reg.fd), poll_mask(reg.mode))
            .multi(matches!(reg.mode, Mode::Edge))
            .build();
        let op = Op::Poll {
            token: reg.token,
            live: true,
        };
        reg.armed = Some(self.start(ops, op, sqe)?);
        Ok(())
    }

    /// Files `op` in the request table and queues `sqe` under its key (the
    /// user data); the key, or the queue's error with `op` filed away again.
    fn start(&mut self, ops: &mut Slab<Op>, op: Op, sqe: Entry) -> io::Result<usize> {
        let key = ops.insert(op);
        if let Err(e) = self.push(&sqe.user_data(key as u64)) {
            ops.remove(key);
            return Err(e);
        }
        Ok(key)
    }

    /// Asks the kernel to remove `reg`'s poll request, if one is armed.
    fn disarm(&mut self, ops: &mut Slab<Op>, reg: &mut Reg) -> io::Result<()> {
        if let Some(key) = reg.armed.take() {
            if let Op::Poll { live, .. } = &mut ops[key] {
                *live = false;
            }
            self.remove(ops, key)?;
        }
        Ok(())
    }

    /// Queues the removal of poll request `key`, or the cancellation of
    /// receive `key`.
    fn remove(&mut self, ops: &Slab<Op>, key: usize) -> io::Result<()> {
        let sqe = match ops.get(key) {
            Some(Op::Poll { .. }) => opcode::PollRemove::new(key as u64).build(),
            _ => opcode::AsyncCancel::new(key as u64).build(),
        };
        self.push(&sqe.user_data(REMOVE | key as u64))
    }

    /// Queues a receive for `io`: into a buffer the kernel picks from the
    /// pool, or into `owned`. Returns its key.
    fn recv(
        &mut self,
        ops: &mut Slab<Op>,
        io: &Rc<StreamIo>,
        mut owned: Option<Vec<u8>>,
    ) -> io::Result<usize> {
        let fd = Fd(io.fd());
        let sqe = match &mut owned {
            // The kernel writes there: the pointer comes from a unique
            // borrow; moving the `Vec` into the table leaves its heap
            // memory where it is.
            Some(buf) => opcode::Recv::new(fd, buf.as_mut_ptr(), buf.len() as u32).build(),
            None => opcode::Recv::new(fd, std::ptr::null_mut(), pool_buffer_len() as u32)
                .buf_group(POOL_GROUP)
                .ioprio(RECV_POLL_FIRST)
                .build()
                .flags(io_uring::squeue::Flags::BUFFER_SELECT),
        };
        let op = Op::Recv {
            io: io.clone(),
            owned,
            cancelled: false,
        };
        self.start(ops, op, sqe)
    }

    /// Queues a send of `buf[done..]` for `io` (all of it, or an error:
    /// `MSG_WAITALL`; no `SIGPIPE`).
    fn send(
        &mut self,
        ops: &mut Slab<Op>,
        io: &Rc<StreamIo>,
        buf: Vec<u8>,
        done: usize,
    ) -> io::Result<()> {
        let rest = &buf[done..];
        let sqe = opcode::Send::new(Fd(io.fd()), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_WAITALL | libc::MSG_NOSIGNAL)
            .build();
        let op = Op::Send {
            io: io.clone(),
            buf,
            done,
        };
        self.start(ops, op, sqe).map(drop)
    }

    /// Queues the eventfd's multishot poll.
    fn arm_wake(&mut self, eventfd: RawFd) -> io::Result<()> {
        let sqe = opcode::PollAdd::new(Fd(eventfd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(WAKE);
        self.push(&sqe)
    }
}

impl UringBackend {
    /// A ring, and the eventfd that wakes it, checked to support what this
    /// backend needs (multishot poll, a timeout on the wait).
    pub(crate) fn new() -> io::Result<UringBackend> {
        UringBackend::with_sizes(SQ_ENTRIES, CQ_ENTRIES)
    }

    /// [`new`](UringBackend::new) with queues of the given sizes (tests use
    /// tiny ones to fill them).
    fn with_sizes(sq_entries: u32, cq_entries: u32) -> io::Result<UringBackend> {
        let forks_at_creation = count_forks();
        let ring = build_ring(sq_entries, cq_entries)?;
        if !ring.params().is_feature_ext_arg() || !ring.params().is_feature_nodrop() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel's io_uring lacks timed waits (Linux 5.11 or later is needed)",
            ));
        }
        // SAFETY: eventfd(2) returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned here.
        let wake = Arc::new(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }));
        let backend = UringBackend {
            ring: RefCell::new(ring),
            regs: RefCell::new(Vec::new()),
            ops: RefCell::new(Slab::new()),
            stashed: RefCell::new(Vec::new()),
            wake,
            forks_at_creation,
            streams: stream_mode_from_env()?,
            pool: OnceCell::new(),
            open_streams: Cell::new(0),
            woken: RefCell::new(Vec::new()),
        };
        backend.with_queue(|_, _, queue| queue.arm_wake(backend.wake.0.as_raw_fd()))?;
        backend.check_multishot()?;
        if backend.streams == StreamMode::Completion {
            // Asked for by name: the pool must work now.
            backend.ensure_pool()?;
        }
        Ok(backend)
    }

    /// Proves that multishot poll works (Linux 5.13): wakes the eventfd
    /// and expects a completion that says more will follow.
    fn check_multishot(&self) -> io::Result<()> {
        self.wake.notify()?;
        let mut ring = self.ring.borrow_mut();
        ring.submit_and_wait(1)?;
        let cqe = ring.completion().next();
        match cqe {
            Some(cqe)
                if cqe.user_data() == WAKE && cqe.result() > 0 && cqueue::more(cqe.flags()) =>
            {
                Ok(())
            }
            _ => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel's io_uring lacks multishot poll (Linux 5.13 or later is needed)",
            )),
        }
    }

    /// Fails in a child forked after this backend was made: the ring's
    /// memory is the parent's and was not copied.
    #[inline]
    fn check_process(&self) -> io::Result<()> {
        if FORKS.load(Ordering::Relaxed) != self.forks_at_creation {
            return Err(io::Error::other(
                "this loop's io_uring belongs to the process that created it (used after fork)",
            ));
        }
        Ok(())
    }

    /// Runs `f` on the registration table, the poll table and the queue.
    fn with_queue<R>(
        &self,
        f: impl FnOnce(&mut Vec<Option<Reg>>, &mut Slab<Op>, &mut Queue<'_, '_>) -> io::Result<R>,
    ) -> io::Result<R> {
        self.check_process()?;
        let mut ring = self.ring.borrow_mut();
        let (submitter, mut sq, _) = ring.split();
        let mut queue = Queue {
            sq: &mut sq,
            submitter: &submitter,
        };
        f(
            &mut self.regs.borrow_mut(),
            &mut self.ops.borrow_mut(),
            &mut queue,
        )
    }

    /// [`Backend::poll`], handing each event to `deliver` (inlined into the
    /// reactor's loop, as epoll's).
    #[inline]
    pub(crate) fn poll_with(
        &self,
        timeout: Option<Duration>,
        deliver: &mut impl FnMut(u64, u8),
    ) -> io::Result<Polled> {
        self.check_process()?;
        let mut polled = Polled::default();
        // Completions read ahead by `deregister` come first; with some, the
        // wait must not block.
        let mut stashed = self.stashed.borrow_mut();
        let timeout = if stashed.is_empty() && self.woken.borrow().is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let mut ring = self.ring.borrow_mut();
        let (submitter, mut sq, mut cq) = ring.split();
        sq.sync();
        let entered = match timeout {
            Some(Duration::ZERO) => {
                if sq.is_empty() && !sq.taskrun() && !sq.cq_overflow() {
                    Ok(0) // nothing to hand over, nothing to collect
                } else {
                    submitter.submit()
                }
            }
            None => submitter.submit_and_wait(1),
            Some(timeout) => {
                let ts = Timespec::from(timeout);
                submitter.submit_with_args(1, &SubmitArgs::new().timespec(&ts))
            }
        };
        match entered {
            Ok(_) => {}
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR) => polled.interrupted = true,
                // Timed out; or completions must be read before more fit.
                Some(libc::ETIME) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {}
                _ => return Err(e),
            },
        }
        sq.sync();
        cq.sync();
        let mut regs = self.regs.borrow_mut();
        let mut ops = self.ops.borrow_mut();
        let mut queue = Queue {
            sq: &mut sq,
            submitter: &submitter,
        };
        if !stashed.is_empty() {
            for cqe in stashed.iter() {
                self.complete(cqe, &mut regs, &mut ops, &mut queue, deliver, &mut polled)?;
            }
            stashed.clear();
        }
        for cqe in &mut cq {
            self.complete(&cqe, &mut regs, &mut ops, &mut queue, deliver, &mut polled)?;
        }
        Ok(polled)
    }

    /// Handles one completion: a wake-up, a removal's answer, or a poll's
    /// readiness (delivered, and the poll armed again if it ended).
    #[inline(always)]
    fn complete(
        &self,
        cqe: &cqueue::Entry,
        regs: &mut [Option<Reg>],
        ops: &mut Slab<Op>,
        queue: &mut Queue<'_, '_>,
        deliver: &mut impl FnMut(u64, u8),
        polled: &mut Polled,
    ) -> io::Result<()> {
        let user_data = cqe.user_data();
        let more = cqueue::more(cqe.flags());
        if user_data == WAKE {
            polled.notified = true;
            if !more {
                queue.arm_wake(self.wake.0.as_raw_fd())?;
            }
            return Ok(());
        }
        if user_data & REMOVE != 0 {
            if let Some(key) = removal_to_retry(cqe, ops) {
                queue.remove(ops, key)?;
            }
            return Ok(());
        }
        let key = user_data as usize;
        let (token, live) = match ops.get(key) {
            None => return Ok(()),
            Some(Op::Poll { token, live }) => (*token, *live),
            Some(_) => return self.complete_stream(cqe, key, ops, queue),
        };
        if !more {
            ops.remove(key);
        }
        if !live {
            return Ok(());
        }
        let result = cqe.result();
        if result >= 0 {
            deliver(token, readiness(result as u32));
        } else if result != -libc::ECANCELED {
            deliver(token, ERROR);
        }
        if more {
            return Ok(());
        }
        // A one-shot poll fired, or a multishot one ended: arm it again if
        // its registration still wants it.
        if let Some(Some(reg)) = regs.get_mut(token_key(token)) {
            if reg.token == token && reg.armed == Some(key) {
                reg.armed = None;
                if result >= 0 && wants_poll(reg.mode) {
                    queue.arm(ops, reg)?;
                }
            }
        }
        Ok(())
    }
}

/// Completion-mode streams (see `uring_stream`).
impl UringBackend {
    /// A stream socket `fd` read and written through the ring, or `None`
    /// where streams stay on readiness (`CORIO_IO_URING_STREAMS=readiness`,
    /// or a kernel without provided-buffer rings, before 5.19).
    pub(crate) fn open_stream(&self, fd: RawFd) -> io::Result<Option<Rc<StreamIo>>> {
        self.check_process()?;
        if !self.streams_in_completion_mode() {
            return Ok(None);
        }
        self.open_streams.set(self.open_streams.get() + 1);
        Ok(Some(StreamIo::new(fd)))
    }

    /// The owner of `io` is about to close its descriptor.
    pub(crate) fn close_stream(&self, io: &Rc<StreamIo>) {
        self.open_streams.set(self.open_streams.get() - 1);
        if self.check_process().is_err() {
            return;
        }
        if io.unsent() > 0 {
            let _ = self.send_now(io);
        }
        io.close(self);
        // A request still queued names the descriptor by number, which the
        // owner closes next (and a new socket may take): hand the queue to
        // the kernel now, which takes hold of the file.
        let _ = self.with_queue(|_, _, queue| {
            queue.sq.sync();
            if queue.sq.is_empty() {
                return Ok(());
            }
            queue.submit()
        });
    }

    /// Whether new stream sockets are read and written through the ring.
    pub(crate) fn streams_in_completion_mode(&self) -> bool {
        // (With `Completion` named, the pool was made with the backend.)
        self.streams != StreamMode::Readiness && self.ensure_pool().is_ok()
    }

    /// Hands the queue to the kernel and handles stream completions at
    /// once, a few rounds, until `io` has nothing left to send: the owner
    /// is closing it, and a socket whose bytes were all taken by the kernel
    /// closes now (the peer reads the end of stream even if the loop does
    /// not run again), as `close(2)` after `write(2)` would.
    fn send_now(&self, io: &StreamIo) -> io::Result<()> {
        self.at_once(|ops, queue, cq, stashed| self.send_now_with(io, ops, queue, cq, stashed))
    }

    fn send_now_with(
        &self,
        io: &StreamIo,
        ops: &mut Slab<Op>,
        queue: &mut Queue<'_, '_>,
        cq: &mut CompletionQueue<'_>,
        stashed: &mut Vec<cqueue::Entry>,
    ) -> io::Result<()> {
        let is_stream_op = |cqe: &cqueue::Entry, ops: &Slab<Op>| {
            let key = cqe.user_data();
            key != WAKE && key & REMOVE == 0 && ops.get(key as usize).is_some_and(Op::holds_memory)
        };
        // Answers read ahead by a removal come first.
        let mut i = 0;
        while i < stashed.len() {
            if is_stream_op(&stashed[i], ops) {
                let cqe = stashed.remove(i);
                self.complete_stream(&cqe, cqe.user_data() as usize, ops, queue)?;
            } else {
                i += 1;
            }
        }
        for _ in 0..4 {
            if io.unsent() == 0 {
                break;
            }
            queue.submit()?;
            cq.sync();
            for cqe in &mut *cq {
                if is_stream_op(&cqe, ops) {
                    self.complete_stream(&cqe, cqe.user_data() as usize, ops, queue)?;
                } else {
                    stashed.push(cqe);
                }
            }
        }
        Ok(())
    }

    /// Whether a completion-mode stream is open (so the loop has I/O to
    /// poll for).
    pub(crate) fn has_streams(&self) -> bool {
        self.open_streams.get() > 0
    }

    /// Moves the wakers stream completions woke during the last poll.
    #[inline]
    pub(crate) fn take_woken(&self, wakers: &mut Vec<Waker>) {
        let mut woken = self.woken.borrow_mut();
        if !woken.is_empty() {
            wakers.append(&mut woken);
        }
    }

    /// The receive pool, made and registered on first use; an error when
    /// the kernel refuses it (streams then stay on readiness, unless
    /// completion mode was asked for by name).
    fn ensure_pool(&self) -> io::Result<&BufRing> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let pool = BufRing::new(POOL_BUFFERS, pool_buffer_len())?;
        let ring = self.ring.borrow();
        // SAFETY: the pool's ring stays allocated while registered: the
        // pool lives in `self.pool` until the backend drops, after the ring
        // (field order) or after every request using it was answered.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                pool.ring_addr(),
                pool.count(),
                POOL_GROUP,
                0,
            )
        }
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "io_uring completion-mode streams need provided-buffer rings \
                     (Linux 5.19): {e} (set {STREAMS_ENV}=readiness, or leave it unset \
                     to fall back to readiness)"
                ),
            )
        })?;
        drop(ring);
        Ok(self.pool.get_or_init(|| pool))
    }

    /// Handles a stream request's completion (`key` is in `ops`).
    #[inline(never)]
    fn complete_stream(
        &self,
        cqe: &cqueue::Entry,
        key: usize,
        ops: &mut Slab<Op>,
        queue: &mut Queue<'_, '_>,
    ) -> io::Result<()> {
        let mut woken = self.woken.borrow_mut();
        let pool = self.pool.get().expect("a stream request without a pool");
        let (io, next) = match ops.remove(key) {
            Op::Recv { io, owned, .. } => {
                let next = io.on_recv(cqe.result(), cqe.flags(), owned, pool, &mut woken);
                (io, next)
            }
            Op::Send { io, buf, done } => {
                let next = io.on_send(cqe.result(), buf, done, &mut woken);
                (io, next)
            }
            Op::Poll { .. } => unreachable!("polls complete in `complete`"),
        };
        match next {
            Next::Nothing => Ok(()),
            Next::RecvOwned(buf) => {
                let key = queue.recv(ops, &io, Some(buf))?;
                io.recv_queued(key);
                Ok(())
            }
            Next::SendRest(buf, done) => self.send_or_fail(queue, ops, &io, buf, done, &mut woken),
            Next::SendFollowing(buf) => self.send_or_fail(queue, ops, &io, buf, 0, &mut woken),
        }
    }

    /// Queues a send; a failure to is the stream's send error.
    fn send_or_fail(
        &self,
        queue: &mut Queue<'_, '_>,
        ops: &mut Slab<Op>,
        io: &Rc<StreamIo>,
        buf: Vec<u8>,
        done: usize,
        woken: &mut Vec<Waker>,
    ) -> io::Result<()> {
        if let Err(e) = queue.send(ops, io, buf, done) {
            io.send_failed(&e, woken);
        }
        Ok(())
    }
}

impl StreamOps for UringBackend {
    fn pool(&self) -> &BufRing {
        self.pool
            .get()
            .expect("a completion-mode stream without a pool")
    }

    fn queue_recv(&self, io: &Rc<StreamIo>, owned: Option<Vec<u8>>) -> io::Result<usize> {
        self.with_queue(|_, ops, queue| queue.recv(ops, io, owned))
    }

    fn queue_send(&self, io: &Rc<StreamIo>, buf: Vec<u8>, done: usize) -> io::Result<()> {
        self.with_queue(|_, ops, queue| queue.send(ops, io, buf, done))
    }

    fn cancel_recv(&self, key: usize) {
        let _ = self.remove_now(|ops, queue| {
            if let Some(Op::Recv { cancelled, .. }) = ops.get_mut(key) {
                *cancelled = true;
                return queue.remove(ops, key);
            }
            Ok(())
        });
    }
}

impl Drop for UringBackend {
    fn drop(&mut self) {
        // Receives and sends point into memory freed with the backend (the
        // pool, their buffers): the kernel must be done with them first.
        // Cancel each and wait for the answers; if some never come, leak
        // the memory rather than let the kernel write into freed memory.
        if self.check_process().is_err() {
            return;
        }
        let ring = self.ring.get_mut();
        let ops = self.ops.get_mut();
        let keys: Vec<usize> = ops
            .iter()
            .filter(|(_, op)| op.holds_memory())
            .map(|(key, _)| key)
            .collect();
        if keys.is_empty() {
            return;
        }
        {
            let (submitter, mut sq, _) = ring.split();
            let mut queue = Queue {
                sq: &mut sq,
                submitter: &submitter,
            };
            for key in keys {
                // One that cannot be queued is waited for all the same.
                let _ = queue.remove(ops, key);
            }
        }
        for _ in 0..100 {
            if !ops.iter().any(|(_, op)| op.holds_memory()) {
                return;
            }
            let ts = Timespec::new().nsec(10_000_000);
            let _ = ring
                .submitter()
                .submit_with_args(1, &SubmitArgs::new().timespec(&ts));
            for cqe in ring.completion() {
                let key = cqe.user_data();
                if key & REMOVE == 0 && ops.get(key as usize).is_some_and(Op::holds_memory) {
                    let op = ops.remove(key as usize);
                    // A pooled buffer filled at the last moment goes with
                    // the pool; nothing to hand back.
                    drop(op);
                }
            }
        }
        std::mem::forget(std::mem::take(ops));
        if let Some(pool) = self.pool.take() {
            std::mem::forget(pool);
        }
    }
}

/// A removal that found its poll (or receive) completing just then (its
/// completion work queued, `EALREADY`): the key to ask again for, or the
/// request would keep its file open.
fn removal_to_retry(cqe: &cqueue::Entry, ops: &Slab<Op>) -> Option<usize> {
    let key = (cqe.user_data() & !REMOVE) as usize;
    let pending = ops.get(key).is_some_and(Op::being_removed);
    (cqe.result() == -libc::EALREADY && pending).then_some(key)
}

impl Backend for UringBackend {
    fn register(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()> {
        if matches!(mode, Mode::Level(_)) {
            // The poll request is submitted later: refuse a bad descriptor
            // now, as epoll_ctl would.
            // SAFETY: F_GETFD reads a descriptor's flags; any number is fine.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        self.with_queue(|regs, ops, queue| {
            let key = token_key(token);
            if regs.len() <= key {
                regs.resize(key + 1, None);
            }
            let mut reg = Reg {
                fd,
                token,
                mode,
                armed: None,
            };
            if wants_poll(mode) {
                queue.arm(ops, &mut reg)?;
            }
            regs[key] = Some(reg);
            Ok(())
        })
    }

    fn reregister(&self, fd: RawFd, token: u64, mode: Mode) -> io::Result<()> {
        let key = token_key(token);
        let known = matches!(self.regs.borrow().get(key), Some(Some(reg)) if reg.token == token);
        if !known {
            return self.register(fd, token, mode);
        }
        self.with_queue(|regs, ops, queue| {
            let Some(Some(reg)) = regs.get_mut(key) else {
                return Ok(());
            };
            if reg.mode == mode && reg.fd == fd {
                return Ok(());
            }
            queue.disarm(ops, reg)?;
            reg.mode = mode;
            reg.fd = fd;
            if wants_poll(mode) {
                queue.arm(ops, reg)?;
            }
            Ok(())
        })
    }

    fn deregister(&self, _fd: RawFd, token: u64) -> io::Result<()> {
        self.check_process()?;
        let key = token_key(token);
        let mut regs = self.regs.borrow_mut();
        let Some(slot) = regs.get_mut(key) else {
            return Ok(());
        };
        let Some(mut reg) = slot.take_if(|reg| reg.token == token) else {
            return Ok(());
        };
        if reg.armed.is_none() {
            return Ok(());
        }
        drop(regs);
        self.remove_now(|ops, queue| queue.disarm(ops, &mut reg))
    }

    fn poll(&self, timeout: Option<Duration>, out: &mut Vec<(u64, u8)>) -> io::Result<Polled> {
        let polled = self.poll_with(timeout, &mut |token, ready| out.push((token, ready)));
        for waker in self.woken.borrow_mut().drain(..) {
            waker.wake();
        }
        polled
    }

    fn notifier(&self) -> Arc<dyn Notify> {
        self.wake.clone()
    }
}

impl UringBackend {
    /// Queues a removal with `queue_it` and hands it to the kernel now, not
    /// with the next wait: the request holds the file open and its owner is
    /// about to close it. The removal's answer is posted by the time the
    /// submission returns; one that found the request completing is asked
    /// again at once (a few times at most; a later answer is handled by the
    /// next poll).
    fn remove_now(
        &self,
        queue_it: impl FnOnce(&mut Slab<Op>, &mut Queue<'_, '_>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.at_once(|ops, queue, cq, stashed| {
            queue_it(ops, queue)?;
            Self::answer_removals(ops, queue, cq, stashed)
        })
    }

    /// Runs `f` with the request table, the submission and completion
    /// queues and the stash of completions read ahead of a poll, for work
    /// that must reach the kernel now rather than with the next wait.
    fn at_once<R>(
        &self,
        f: impl FnOnce(
            &mut Slab<Op>,
            &mut Queue<'_, '_>,
            &mut CompletionQueue<'_>,
            &mut Vec<cqueue::Entry>,
        ) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut ops = self.ops.borrow_mut();
        let mut ring = self.ring.borrow_mut();
        let (submitter, mut sq, mut cq) = ring.split();
        let mut queue = Queue {
            sq: &mut sq,
            submitter: &submitter,
        };
        f(
            &mut ops,
            &mut queue,
            &mut cq,
            &mut self.stashed.borrow_mut(),
        )
    }

    /// Submits what is queued and reads the answers, asking again for any
    /// removal that found its request completing (see `remove_now`).
    fn answer_removals(
        ops: &mut Slab<Op>,
        queue: &mut Queue<'_, '_>,
        cq: &mut CompletionQueue<'_>,
        stashed: &mut Vec<cqueue::Entry>,
    ) -> io::Result<()> {
        for _ in 0..4 {
            queue.submit()?;
            cq.sync();
            let before = stashed.len();
            stashed.extend(&mut *cq);
            let mut retry = false;
            let mut i = before;
            while i < stashed.len() {
                if let Some(key) = removal_to_retry(&stashed[i], ops) {
                    stashed.remove(i);
                    queue.remove(ops, key)?;
                    retry = true;
                } else {
                    i += 1;
                }
            }
            if !retry {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    use super::*;

    /// Polls until `want` tokens were reported with `bit`, or 100 polls.
    fn collect(backend: &UringBackend, bit: u8, want: usize) -> HashSet<u64> {
        let mut seen = HashSet::new();
        let mut events = Vec::new();
        for _ in 0..100 {
            backend
                .poll(Some(Duration::from_millis(10)), &mut events)
                .unwrap();
            seen.extend(events.drain(..).filter(|e| e.1 & bit != 0).map(|e| e.0));
            if seen.len() >= want {
                break;
            }
        }
        seen
    }

    /// More readiness than the submission and completion queues hold (4
    /// and 8 entries, 64 sockets): registrations spill into early
    /// submissions, the kernel keeps the completions that do not fit and
    /// ends the multishot polls concerned, which are armed again; every
    /// socket is reported, round after round.
    #[test]
    fn full_queues_lose_no_readiness() {
        let backend = UringBackend::with_sizes(4, 8).unwrap();
        let pairs: Vec<(UnixStream, UnixStream)> =
            (0..64).map(|_| UnixStream::pair().unwrap()).collect();
        for (key, (ours, _)) in pairs.iter().enumerate() {
            ours.set_nonblocking(true).unwrap();
            backend
                .register(ours.as_raw_fd(), key as u64 | 1 << 32, Mode::Edge)
                .unwrap();
        }
        assert_eq!(collect(&backend, WRITABLE, 64).len(), 64);
        for round in 0..3 {
            for (_, theirs) in &pairs {
                (&*theirs).write_all(b"x").unwrap();
            }
            let readable = collect(&backend, READABLE, 64);
            assert_eq!(readable.len(), 64, "round {round}: readiness lost");
            for (ours, _) in &pairs {
                assert_eq!((&*ours).read(&mut [0u8; 8]).unwrap(), 1);
            }
        }
    }
}
