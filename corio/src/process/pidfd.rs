//! `pidfd_open(2)`: a descriptor that becomes readable when a child exits,
//! so the reactor can wait for it (Linux 5.3+).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// A pidfd for `pid`, or `None` if the kernel has no `pidfd_open`.
pub(crate) fn open(pid: u32) -> io::Result<Option<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (or -1); it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::EPERM) => Ok(None),
            _ => Err(err),
        };
    }
    // SAFETY: the syscall returned a fresh descriptor that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}
