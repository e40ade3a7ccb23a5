//! Everything that talks to the kernel. The only place in meshd with
//! `unsafe`; each block says why it is sound.

pub mod child;
pub mod link;
pub mod netlink;
pub mod packet;
pub mod random;
#[allow(dead_code)] // wired into the daemon next
pub mod rtnl;
pub mod tap;

/// Receive one datagram from socket `fd` into `buf` (recv(2) with no
/// flags); `WouldBlock` on a non-blocking socket with nothing waiting.
pub fn recv(fd: std::os::fd::BorrowedFd<'_>, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the pointer and length describe `buf`, which is valid and
    // writable for the duration of the call; recv(2) writes at most
    // `buf.len()` bytes; `fd` is an open descriptor borrowed for the call.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Set the process umask, returning the old one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask(2) only swaps an integer in the process; it cannot fail
    // and touches no memory of ours.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}
