//! Everything that talks to the kernel. The only place in meshd with
//! `unsafe`; each block says why it is sound.

pub mod link;
pub mod netlink;
pub mod packet;
pub mod tap;

/// Set the process umask, returning the old one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask(2) only swaps an integer in the process; it cannot fail
    // and touches no memory of ours.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}
