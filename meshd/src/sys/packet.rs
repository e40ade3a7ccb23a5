//! AF_PACKET raw sockets bound to ethertype 0x4305 on one interface.

use batman::wire::ETHERTYPE_BATADV;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A non-blocking packet socket that receives and sends whole Ethernet
/// frames of ethertype 0x4305 on one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn sockaddr(ifindex: i32) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is a plain C struct of integers and byte arrays;
    // all-zero is a valid value for every field.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = ETHERTYPE_BATADV.to_be();
    sa.sll_ifindex = ifindex;
    sa
}

/// Receive buffer asked for: a burst of about 400 full frames (the
/// kernel counts each at ~2.3 KiB) waits for the daemon instead of being
/// dropped, which TCP across the mesh would pay for with retransmits.
/// Kernel memory, used only while frames wait.
pub const RCVBUF_BYTES: i32 = 1 << 20;

/// SO_RCVBUFFORCE (root or CAP_NET_ADMIN may exceed rmem_max), else
/// SO_RCVBUF (capped by rmem_max); a failure keeps the default.
fn set_rcvbuf(fd: &OwnedFd, bytes: i32) {
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: setsockopt(2) reads `size_of::<i32>()` bytes from a
        // valid i32 that lives across the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &bytes as *const i32 as *const libc::c_void,
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return;
        }
    }
}

impl PacketSocket {
    /// Open and bind. Needs CAP_NET_RAW.
    pub fn open(ifindex: i32) -> io::Result<Self> {
        // SAFETY: socket(2) takes only integer arguments; the result is
        // checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                (ETHERTYPE_BATADV.to_be()) as i32,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor returned by socket(2) above and
        // owned by nobody else; OwnedFd closes it exactly once.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sa = sockaddr(ifindex);
        // SAFETY: `sa` is a valid, initialised sockaddr_ll that lives across
        // the call, and the length passed is its size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sa as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        set_rcvbuf(&fd, RCVBUF_BYTES);
        Ok(PacketSocket { fd, ifindex })
    }

    /// Receive one frame into `buf`; `WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        super::recv(self.fd.as_fd(), buf)
    }

    /// Send one whole Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        let sa = sockaddr(self.ifindex);
        // SAFETY: `frame` is valid for reads of `frame.len()` bytes and `sa`
        // is an initialised sockaddr_ll of the given length; sendto(2) only
        // reads them during the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                &sa as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

impl PacketSocket {
    /// Register with the tokio reactor (must run inside the runtime).
    pub fn into_async(self) -> io::Result<tokio::io::unix::AsyncFd<PacketSocket>> {
        // SAFETY: a PacketSocket owns its descriptor (an OwnedFd it never
        // replaces or closes early), so `as_raw_fd` returns the same open
        // descriptor until the AsyncFd, which owns the socket, is dropped.
        unsafe { tokio::io::unix::AsyncFd::register(self) }.map_err(|e| e.into_parts().1)
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
