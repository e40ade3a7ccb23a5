//! Everything that talks to the kernel. The only place in meshd with
//! `unsafe`; each block says why it is sound.

pub mod link;
pub mod netlink;
pub mod packet;
pub mod tap;
