//! Link events from the kernel: an rtnetlink socket subscribed to
//! RTMGRP_LINK. Each RTM_NEWLINK / RTM_DELLINK names an interface index and
//! its flags; meshd turns them into carrier changes for the core at once
//! (no polling delay), which is what lets a cut that drops carrier cost no
//! ping.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One link event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkEvent {
    pub ifindex: i32,
    /// Administratively up and lower layer (carrier) up; false when the
    /// interface was deleted.
    pub carrier: bool,
    /// RTM_DELLINK: the interface is gone.
    pub deleted: bool,
}

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTMGRP_LINK: u32 = 1;
const IFF_UP: u32 = 0x1;
const IFF_LOWER_UP: u32 = 0x1_0000;

/// Parse a datagram of netlink messages into link events; anything else
/// (other message types, truncated parts) is skipped.
pub fn parse(buf: &[u8]) -> Vec<LinkEvent> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        let ty = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            break;
        }
        if (ty == RTM_NEWLINK || ty == RTM_DELLINK) && len >= NLMSG_HDRLEN + IFINFOMSG_LEN {
            let m = &buf[at + NLMSG_HDRLEN..];
            let ifindex = i32::from_ne_bytes(m[4..8].try_into().expect("4 bytes"));
            let flags = u32::from_ne_bytes(m[8..12].try_into().expect("4 bytes"));
            let carrier = ty == RTM_NEWLINK && flags & IFF_UP != 0 && flags & IFF_LOWER_UP != 0;
            out.push(LinkEvent {
                ifindex,
                carrier,
                deleted: ty == RTM_DELLINK,
            });
        }
        at += (len + 3) & !3;
    }
    out
}

/// A non-blocking rtnetlink socket listening for link changes.
#[derive(Debug)]
pub struct LinkMonitor {
    fd: OwnedFd,
}

impl LinkMonitor {
    pub fn open() -> io::Result<Self> {
        // SAFETY: socket(2) takes integer arguments only; checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is a plain C struct; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = RTMGRP_LINK;
        // SAFETY: `sa` is an initialised sockaddr_nl living across the call,
        // and the length given is its size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LinkMonitor { fd })
    }

    /// Read one datagram; `WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        super::recv(self.fd.as_fd(), buf)
    }

    /// Register with the tokio reactor (inside the runtime).
    pub fn into_async(self) -> io::Result<tokio::io::unix::AsyncFd<LinkMonitor>> {
        // SAFETY: LinkMonitor owns its descriptor (an OwnedFd never replaced
        // or closed early), so `as_raw_fd` stays the same open descriptor
        // for the AsyncFd's lifetime, which owns the monitor.
        unsafe { tokio::io::unix::AsyncFd::register(self) }.map_err(|e| e.into_parts().1)
    }
}

impl AsRawFd for LinkMonitor {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ty: u16, ifindex: i32, flags: u32, extra: usize) -> Vec<u8> {
        let len = NLMSG_HDRLEN + IFINFOMSG_LEN + extra;
        let mut v = Vec::new();
        v.extend_from_slice(&(len as u32).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&[0; 10]); // flags, seq, pid
        v.extend_from_slice(&[0, 0, 1, 0]); // family, pad, type
        v.extend_from_slice(&ifindex.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&[0; 4]); // change
        v.resize(len, 0xaa); // attributes
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn parses_link_messages_and_skips_the_rest() {
        let mut b = msg(RTM_NEWLINK, 7, IFF_UP | IFF_LOWER_UP, 5);
        b.extend(msg(RTM_NEWLINK, 8, IFF_UP, 0)); // no carrier
        b.extend(msg(20, 9, 0, 0)); // RTM_NEWADDR: skipped
        b.extend(msg(RTM_DELLINK, 7, IFF_UP | IFF_LOWER_UP, 0));
        let ev = parse(&b);
        assert_eq!(
            ev,
            vec![
                LinkEvent {
                    ifindex: 7,
                    carrier: true,
                    deleted: false
                },
                LinkEvent {
                    ifindex: 8,
                    carrier: false,
                    deleted: false
                },
                LinkEvent {
                    ifindex: 7,
                    carrier: false,
                    deleted: true
                },
            ]
        );
        // truncated and garbage input is ignored, never a panic
        assert!(parse(&b[..20]).len() <= 1);
        assert!(parse(&[0xff; 40]).is_empty());
        assert!(parse(&[]).is_empty());
    }
}
