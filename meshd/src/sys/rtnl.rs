//! Addresses and routes over rtnetlink: RTM_NEWADDR / RTM_DELADDR and
//! RTM_NEWROUTE / RTM_DELROUTE messages built by hand (the layouts of
//! linux/netlink.h, linux/rtnetlink.h and linux/if_addr.h), each sent with
//! NLM_F_ACK on a socket of its own and answered by the kernel's
//! NLMSG_ERROR. The kernel handles a request inside sendto(2), so the
//! answer is already queued when it returns: these calls do not wait on
//! anything but the kernel and are fine on the runtime's thread.
//!
//! Failures come back as the kernel's errno (`io::Error::from_raw_os_error`,
//! so a message reads e.g. "Operation not permitted"): ENODEV for a
//! missing interface, EADDRNOTAVAIL when deleting an address that is not
//! there, ESRCH when deleting a route that is not there.

use std::ffi::CString;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

// linux/netlink.h
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
/// struct nlmsgerr: an `int error` and the request's header (at least).
const NLMSGERR_MIN: usize = 4 + NLMSG_HDRLEN;
const RTA_HDRLEN: usize = 4;

// linux/rtnetlink.h
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTMSG_LEN: usize = 12;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_METRICS: u16 = 8;
const RTAX_MTU: u16 = 2;
const RT_TABLE_MAIN: u8 = 254;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

// linux/if_addr.h
const IFADDRMSG_LEN: usize = 8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;

/// The routing protocol of meshd's routes (`rtm_protocol`, 'm'; unused in
/// iproute2's rt_protos): `ip route show proto 109` lists them, and
/// [`del_route`] only removes a route carrying it.
pub const RTPROT_MESHD: u8 = 0x6d;

/// How long to wait for the kernel's answer before giving up.
const ANSWER_TIMEOUT_SECS: u16 = 2;
/// Datagrams read while looking for our answer before giving up.
const MAX_DATAGRAMS: usize = 16;

/// Give `addr/prefix_len` to interface `ifindex` (RTM_NEWADDR). Adding an
/// address it already has succeeds (NLM_F_REPLACE). IPv4 gets IFA_LOCAL and
/// IFA_ADDRESS (no peer); IPv6 gets IFA_F_NODAD, so it is usable at once
/// instead of tentative during duplicate address detection.
pub fn add_address(ifindex: i32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
    request(|seq| address_msg(Op::Add, seq, ifindex, addr, prefix_len))
}

/// Remove `addr/prefix_len` from interface `ifindex` (RTM_DELADDR);
/// EADDRNOTAVAIL if it does not have it.
pub fn del_address(ifindex: i32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
    request(|seq| address_msg(Op::Del, seq, ifindex, addr, prefix_len))
}

/// Route `dst/prefix_len` out of interface `ifindex` (RTM_NEWROUTE): main
/// table, protocol [`RTPROT_MESHD`], scope link, unicast, no gateway.
/// Host bits of `dst` beyond the prefix are cleared. Adding a route that
/// exists replaces it (NLM_F_REPLACE), so re-adding succeeds.
pub fn add_route(ifindex: i32, dst: IpAddr, prefix_len: u8) -> io::Result<()> {
    request(|seq| route_msg(Op::Add, seq, ifindex, dst, prefix_len, None))
}

/// [`add_route`] with a path MTU (RTA_METRICS / RTAX_MTU): the kernel
/// answers larger packets it would forward into it with ICMP "packet too
/// big" and keeps its own sockets' packets under it.
pub fn add_route_mtu(ifindex: i32, dst: IpAddr, prefix_len: u8, mtu: u32) -> io::Result<()> {
    request(|seq| route_msg(Op::Add, seq, ifindex, dst, prefix_len, Some(mtu)))
}

/// Remove the route [`add_route`] made for the same arguments
/// (RTM_DELROUTE); ESRCH if there is none.
pub fn del_route(ifindex: i32, dst: IpAddr, prefix_len: u8) -> io::Result<()> {
    request(|seq| route_msg(Op::Del, seq, ifindex, dst, prefix_len, None))
}

/// The index of interface `name` in the calling thread's network namespace
/// (SIOCGIFINDEX; sysfs, which `link::link_info` reads, shows the namespace
/// it was mounted in). ENODEV if there is no such interface.
pub fn ifindex(name: &str) -> io::Result<i32> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    let c = CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex(3) only reads it (and uses a socket of its own).
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::last_os_error());
    }
    i32::try_from(i).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "ifindex too large"))
}

/// Move the calling thread into the network namespace at `path` (e.g.
/// `/run/netns/NAME`, made by `ip netns add`). For tests and tools only:
/// setns(2) with CLONE_NEWNET changes the namespace of the calling thread
/// alone, so call it on a thread of its own that does nothing else.
/// Sockets and TUN/TAP devices that thread opens afterwards belong to that
/// namespace, whichever thread later uses them. Needs CAP_SYS_ADMIN.
pub fn enter_netns(path: &Path) -> io::Result<()> {
    let ns = std::fs::File::open(path)?;
    // SAFETY: setns(2) takes an open descriptor (`ns` stays open across the
    // call) and an integer flag; it switches only this thread's network
    // namespace and reads or writes no memory of ours.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Del,
}

/// `n` rounded up to a multiple of 4 (NLMSG_ALIGN, RTA_ALIGN).
fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One netlink message under construction: the header, then the family
/// header, then attributes, each padded to 4 bytes (NLMSG_ALIGN,
/// RTA_ALIGN).
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32) -> Self {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set by finish
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it
        Msg(v)
    }

    /// Append a fixed family header (whose size is a multiple of 4).
    fn put(&mut self, bytes: &[u8]) {
        debug_assert_eq!(align4(bytes.len()), bytes.len());
        self.0.extend_from_slice(bytes);
    }

    /// Append one attribute: rta_len (header and payload, without the
    /// padding), rta_type, payload, zero padding to 4 bytes.
    fn attr(&mut self, ty: u16, payload: &[u8]) {
        let len = (RTA_HDRLEN + payload.len()) as u16;
        self.0.extend_from_slice(&len.to_ne_bytes());
        self.0.extend_from_slice(&ty.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.0.resize(align4(self.0.len()), 0);
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

fn check(ifindex: i32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
    if ifindex <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface index {ifindex}"),
        ));
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix_len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad prefix length {addr}/{prefix_len}"),
        ));
    }
    Ok(())
}

/// `addr` as the kernel wants it: address family and network-order bytes.
fn family_and_bytes(addr: IpAddr) -> (u8, Vec<u8>) {
    match addr {
        IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    }
}

/// RTM_NEWADDR / RTM_DELADDR for `addr/prefix_len` on `ifindex`.
fn address_msg(
    op: Op,
    seq: u32,
    ifindex: i32,
    addr: IpAddr,
    prefix_len: u8,
) -> io::Result<Vec<u8>> {
    check(ifindex, addr, prefix_len)?;
    let (family, bytes) = family_and_bytes(addr);
    let flags: u32 = if addr.is_ipv6() { IFA_F_NODAD } else { 0 };
    let mut m = match op {
        Op::Add => Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, seq),
        Op::Del => Msg::new(RTM_DELADDR, 0, seq),
    };
    // struct ifaddrmsg: family, prefixlen, flags (low 8 bits), scope, index
    let mut ifa = [
        family,
        prefix_len,
        flags as u8,
        RT_SCOPE_UNIVERSE,
        0,
        0,
        0,
        0,
    ];
    ifa[4..].copy_from_slice(&ifindex.to_ne_bytes());
    m.put(&ifa);
    if addr.is_ipv4() {
        m.attr(IFA_LOCAL, &bytes);
    }
    m.attr(IFA_ADDRESS, &bytes);
    if flags != 0 {
        m.attr(IFA_FLAGS, &flags.to_ne_bytes());
    }
    Ok(m.finish())
}

/// `bytes` with every bit after the first `prefix_len` cleared.
fn mask(bytes: &mut [u8], prefix_len: u8) {
    for (i, b) in bytes.iter_mut().enumerate() {
        let keep = (prefix_len as usize).saturating_sub(i * 8).min(8);
        *b &= !(0xffu16 >> keep) as u8;
    }
}

/// RTM_NEWROUTE / RTM_DELROUTE for `dst/prefix_len` out of `ifindex`.
fn route_msg(
    op: Op,
    seq: u32,
    ifindex: i32,
    dst: IpAddr,
    prefix_len: u8,
    mtu: Option<u32>,
) -> io::Result<Vec<u8>> {
    check(ifindex, dst, prefix_len)?;
    let (family, mut bytes) = family_and_bytes(dst);
    mask(&mut bytes, prefix_len);
    let mut m = match op {
        Op::Add => Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, seq),
        Op::Del => Msg::new(RTM_DELROUTE, 0, seq),
    };
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
    // type, flags (u32)
    m.put(&[
        family,
        prefix_len,
        0,
        0,
        RT_TABLE_MAIN,
        RTPROT_MESHD,
        RT_SCOPE_LINK,
        RTN_UNICAST,
        0,
        0,
        0,
        0,
    ]);
    m.attr(RTA_DST, &bytes);
    m.attr(RTA_OIF, &(ifindex as u32).to_ne_bytes());
    if let Some(mtu) = mtu {
        // A nested attribute: RTAX_MTU (u32) inside RTA_METRICS.
        let mut nested = Vec::with_capacity(8);
        nested.extend_from_slice(&8u16.to_ne_bytes());
        nested.extend_from_slice(&RTAX_MTU.to_ne_bytes());
        nested.extend_from_slice(&mtu.to_ne_bytes());
        m.attr(RTA_METRICS, &nested);
    }
    Ok(m.finish())
}

/// Look for the kernel's answer to request `seq` in one datagram: `None`
/// if it is not there, else the request's outcome (NLMSG_ERROR with error
/// 0 is the ACK).
fn find_answer(buf: &[u8], seq: u32) -> Option<io::Result<()>> {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        let ty = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
        let s = u32::from_ne_bytes(buf[at + 8..at + 12].try_into().expect("4 bytes"));
        if len < NLMSG_HDRLEN || len > buf.len() - at {
            return None;
        }
        if ty == NLMSG_ERROR && s == seq && len >= NLMSG_HDRLEN + NLMSGERR_MIN {
            let p = at + NLMSG_HDRLEN;
            let err = i32::from_ne_bytes(buf[p..p + 4].try_into().expect("4 bytes"));
            return Some(if err == 0 {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(err.saturating_neg()))
            });
        }
        at += align4(len);
    }
    None
}

fn kernel_addr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is a plain C struct of integers; all-zero is
    // valid (and nl_pid 0 is the kernel).
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa
}

/// A blocking NETLINK_ROUTE socket for one request and its answer.
struct Socket {
    fd: OwnedFd,
}

impl Socket {
    fn open() -> io::Result<Self> {
        // SAFETY: socket(2) takes integer arguments only; checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let tv = libc::timeval {
            tv_sec: ANSWER_TIMEOUT_SECS.into(),
            tv_usec: 0,
        };
        // SAFETY: setsockopt(2) reads `size_of::<timeval>()` bytes from
        // `tv`, an initialised timeval living across the call.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket { fd })
    }

    /// Send one request to the kernel, again when a signal interrupts.
    fn send(&self, msg: &[u8]) -> io::Result<()> {
        let sa = kernel_addr();
        loop {
            // SAFETY: `msg` is valid for reads of `msg.len()` bytes and `sa`
            // is an initialised sockaddr_nl of the given length; sendto(2)
            // only reads them during the call.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n >= 0 {
                return if n as usize == msg.len() {
                    Ok(())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "short netlink send",
                    ))
                };
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Receive one datagram, again when a signal interrupts; returns its
    /// length and whether the kernel (port 0) sent it. `TimedOut` after
    /// [`ANSWER_TIMEOUT_SECS`] without one.
    fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        loop {
            let mut from = kernel_addr();
            let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: the pointer and length describe `buf`, valid and
            // writable for the call, and recvfrom(2) writes at most
            // `buf.len()` bytes there; `from` is a sockaddr_nl and
            // `from_len` its size, so the sender's address fits.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    &mut from as *mut libc::sockaddr_nl as *mut libc::sockaddr,
                    &mut from_len,
                )
            };
            if n >= 0 {
                return Ok((n as usize, from.nl_pid == 0));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel (rtnetlink)",
                    ))
                }
                _ => return Err(e),
            }
        }
    }
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// Build a request with a fresh sequence number, send it, and return the
/// kernel's verdict on it.
fn request(build: impl FnOnce(u32) -> io::Result<Vec<u8>>) -> io::Result<()> {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let msg = build(seq)?;
    let sock = Socket::open()?;
    sock.send(&msg)?;
    // An error answer echoes the request after the errno; room for that
    // and more.
    let mut buf = vec![0u8; 8192];
    for _ in 0..MAX_DATAGRAMS {
        let (n, from_kernel) = sock.recv(&mut buf)?;
        if !from_kernel {
            continue;
        }
        if let Some(r) = find_answer(&buf[..n], seq) {
            return r;
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("no answer to rtnetlink request {seq} among {MAX_DATAGRAMS} datagrams"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn u16ne(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }
    fn u32ne(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }

    #[test]
    fn constants_match_the_kernel_headers_as_libc_has_them() {
        assert_eq!(NLM_F_REQUEST as libc::c_int, libc::NLM_F_REQUEST);
        assert_eq!(NLM_F_ACK as libc::c_int, libc::NLM_F_ACK);
        assert_eq!(NLM_F_REPLACE as libc::c_int, libc::NLM_F_REPLACE);
        assert_eq!(NLM_F_CREATE as libc::c_int, libc::NLM_F_CREATE);
        assert_eq!(NLMSG_ERROR as libc::c_int, libc::NLMSG_ERROR);
        assert_eq!(RTM_NEWADDR, libc::RTM_NEWADDR);
        assert_eq!(RTM_DELADDR, libc::RTM_DELADDR);
        assert_eq!(RTM_NEWROUTE, libc::RTM_NEWROUTE);
        assert_eq!(RTM_DELROUTE, libc::RTM_DELROUTE);
        assert_eq!(RTA_DST, libc::RTA_DST);
        assert_eq!(RTA_OIF, libc::RTA_OIF);
        assert_eq!(RTA_METRICS, libc::RTA_METRICS);
        assert_eq!(RT_TABLE_MAIN, libc::RT_TABLE_MAIN);
        assert_eq!(RT_SCOPE_UNIVERSE, libc::RT_SCOPE_UNIVERSE);
        assert_eq!(RT_SCOPE_LINK, libc::RT_SCOPE_LINK);
        assert_eq!(RTN_UNICAST, libc::RTN_UNICAST);
        assert_eq!(IFA_ADDRESS, libc::IFA_ADDRESS);
        assert_eq!(IFA_LOCAL, libc::IFA_LOCAL);
        assert_eq!(IFA_F_NODAD, libc::IFA_F_NODAD);
        assert_eq!(NLMSG_HDRLEN, std::mem::size_of::<libc::nlmsghdr>());
        assert_eq!(IFADDRMSG_LEN, std::mem::size_of::<libc::ifaddrmsg>());
        assert_eq!(RTA_HDRLEN, std::mem::size_of::<libc::rtattr>());
        assert_eq!(NLMSGERR_MIN, std::mem::size_of::<libc::nlmsgerr>());
        assert_eq!(RTMSG_LEN, 12);
    }

    #[test]
    fn encodes_rtm_newaddr_v4() {
        let m = address_msg(Op::Add, 7, 3, Ipv4Addr::new(10, 99, 0, 1).into(), 24).unwrap();
        let mut want = Vec::new();
        // nlmsghdr: len 16 + 8 + 8 + 8, RTM_NEWADDR, REQUEST|ACK|REPLACE|CREATE
        want.extend(u32ne(40));
        want.extend(u16ne(20));
        want.extend(u16ne(0x1 | 0x4 | 0x100 | 0x400));
        want.extend(u32ne(7));
        want.extend(u32ne(0));
        // ifaddrmsg (offset 16): AF_INET, /24, no flags, universe, index 3
        want.extend([2, 24, 0, 0]);
        want.extend(u32ne(3));
        // offset 24: IFA_LOCAL, then offset 32: IFA_ADDRESS, 4 + 4 bytes
        want.extend(u16ne(8));
        want.extend(u16ne(2));
        want.extend([10, 99, 0, 1]);
        want.extend(u16ne(8));
        want.extend(u16ne(1));
        want.extend([10, 99, 0, 1]);
        assert_eq!(m, want);

        let d = address_msg(Op::Del, 8, 3, Ipv4Addr::new(10, 99, 0, 1).into(), 24).unwrap();
        assert_eq!(d[4..6], u16ne(21)); // RTM_DELADDR
        assert_eq!(d[6..8], u16ne(0x1 | 0x4)); // REQUEST|ACK only
        assert_eq!(d[8..12], u32ne(8));
        assert_eq!(d[16..], m[16..]);
    }

    #[test]
    fn encodes_rtm_newaddr_v6_with_nodad() {
        let a: Ipv6Addr = "fd00::1".parse().unwrap();
        let m = address_msg(Op::Add, 0x0102_0304, 9, a.into(), 128).unwrap();
        let mut want = Vec::new();
        // 16 header + 8 ifaddrmsg + 20 IFA_ADDRESS + 8 IFA_FLAGS
        want.extend(u32ne(52));
        want.extend(u16ne(20));
        want.extend(u16ne(0x505));
        want.extend(u32ne(0x0102_0304));
        want.extend(u32ne(0));
        // ifaddrmsg: AF_INET6 (10), /128, IFA_F_NODAD, universe, index 9
        want.extend([10, 128, 2, 0]);
        want.extend(u32ne(9));
        // offset 24: IFA_ADDRESS, 4 + 16
        want.extend(u16ne(20));
        want.extend(u16ne(1));
        want.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        // offset 44: IFA_FLAGS (8), u32 IFA_F_NODAD
        want.extend(u16ne(8));
        want.extend(u16ne(8));
        want.extend(u32ne(2));
        assert_eq!(m, want);
    }

    #[test]
    fn encodes_rtm_newroute_and_masks_host_bits() {
        let m = route_msg(Op::Add, 5, 4, Ipv4Addr::new(10, 1, 2, 3).into(), 8, None).unwrap();
        let mut want = Vec::new();
        // 16 header + 12 rtmsg + 8 RTA_DST + 8 RTA_OIF
        want.extend(u32ne(44));
        want.extend(u16ne(24));
        want.extend(u16ne(0x505));
        want.extend(u32ne(5));
        want.extend(u32ne(0));
        // rtmsg (offset 16): AF_INET, dst_len 8, src_len 0, tos 0, main,
        // proto 0x6d, scope link, unicast, flags 0
        want.extend([2, 8, 0, 0, 254, 0x6d, 253, 1]);
        want.extend(u32ne(0));
        // offset 28: RTA_DST 10.0.0.0; offset 36: RTA_OIF 4
        want.extend(u16ne(8));
        want.extend(u16ne(1));
        want.extend([10, 0, 0, 0]);
        want.extend(u16ne(8));
        want.extend(u16ne(4));
        want.extend(u32ne(4));
        assert_eq!(m, want);

        let v6: Ipv6Addr = "fd12:3456::1".parse().unwrap();
        let r = route_msg(Op::Del, 6, 4, v6.into(), 12, None).unwrap();
        assert_eq!(r.len(), 16 + 12 + 20 + 8);
        assert_eq!(r[0..4], u32ne(56));
        assert_eq!(r[4..6], u16ne(25)); // RTM_DELROUTE
        assert_eq!(r[6..8], u16ne(0x5));
        assert_eq!(r[16..18], [10, 12]);
        assert_eq!(r[28..32], [u16ne(20), u16ne(1)].concat());
        assert_eq!(
            r[32..48],
            [0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn a_route_with_an_mtu_carries_rta_metrics() {
        let v6: Ipv6Addr = "fd00::".parse().unwrap();
        let plain = route_msg(Op::Add, 7, 3, v6.into(), 8, None).unwrap();
        let m = route_msg(Op::Add, 7, 3, v6.into(), 8, Some(1280)).unwrap();
        assert_eq!(m.len(), plain.len() + 12);
        assert_eq!(m[0..4], u32ne(m.len() as u32));
        let tail = &m[plain.len()..];
        assert_eq!(tail[0..4], [u16ne(12), u16ne(8)].concat());
        let mut metric = Vec::new();
        metric.extend(u16ne(8));
        metric.extend(u16ne(2));
        metric.extend(u32ne(1280));
        assert_eq!(tail[4..12], metric[..]);
    }

    #[test]
    fn masks_prefixes_and_refuses_bad_arguments() {
        let mut b = [0xff; 4];
        mask(&mut b, 0);
        assert_eq!(b, [0; 4]);
        let mut b = [0xff; 4];
        mask(&mut b, 32);
        assert_eq!(b, [0xff; 4]);
        let mut b = [0xff; 4];
        mask(&mut b, 13);
        assert_eq!(b, [0xff, 0xf8, 0, 0]);
        let v4 = IpAddr::from(Ipv4Addr::new(10, 0, 0, 1));
        let v6 = IpAddr::from(Ipv6Addr::LOCALHOST);
        for e in [
            address_msg(Op::Add, 1, 1, v4, 33),
            route_msg(Op::Add, 1, 1, v6, 129, None),
            address_msg(Op::Add, 1, 0, v4, 8),
            route_msg(Op::Del, 1, -1, v4, 8, None),
        ] {
            assert_eq!(e.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        assert!(route_msg(Op::Add, 1, 1, v6, 128, None).is_ok());
        assert!(ifindex("").is_err());
        assert!(ifindex("a/b").is_err());
        assert!(ifindex("a\0b").is_err());
        assert!(ifindex("sixteen-chars-xx").is_err());
    }

    fn answer(seq: u32, err: i32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(u32ne(36));
        v.extend(u16ne(2));
        v.extend(u16ne(0));
        v.extend(u32ne(seq));
        v.extend(u32ne(1234));
        v.extend(err.to_ne_bytes());
        v.extend([0; 16]); // the request's header, echoed
        v
    }

    #[test]
    fn finds_the_answer_to_its_own_sequence_number() {
        assert!(matches!(find_answer(&answer(7, 0), 7), Some(Ok(()))));
        let e = find_answer(&answer(7, -libc::ENODEV), 7)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        assert!(find_answer(&answer(6, 0), 7).is_none());
        let mut two = answer(6, -libc::EPERM);
        two.extend(answer(7, -libc::EPERM));
        let e = find_answer(&two, 7).unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        assert!(find_answer(&two, 8).is_none());
        // truncated or garbage: no answer, no panic
        assert!(find_answer(&answer(7, 0)[..30], 7).is_none());
        assert!(find_answer(&[0xff; 40], 7).is_none());
        assert!(find_answer(&[0; 40], 7).is_none());
        assert!(find_answer(&[], 7).is_none());
    }

    use crate::sys::tap::Tap;
    use hwtest::netns::Netns;
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    /// Run `f` on a thread of its own inside namespace `ns` (setns changes
    /// only that thread; this one stays where it is).
    fn in_netns<R: Send>(ns: &Netns, f: impl FnOnce() -> R + Send) -> R {
        let path = format!("/run/netns/{}", ns.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                enter_netns(Path::new(&path)).expect("setns into the test namespace");
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// `ip -n NS ARGS...`'s output; panics if `ip` fails.
    fn ip(ns: &Netns, args: &[&str]) -> String {
        let out = ns.ip(args).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The flags `ip link show` prints between `<` and `>`.
    fn link_flags(show: &str) -> Vec<String> {
        let inner = show
            .split_once('<')
            .and_then(|(_, r)| r.split_once('>'))
            .map_or("", |(f, _)| f);
        inner.split(',').map(str::to_string).collect()
    }

    /// The next frame from `dev` that `want` accepts, within 2 s.
    fn recv_matching(dev: &Tap, want: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let end = Instant::now() + Duration::from_secs(2);
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            match dev.recv(&mut buf) {
                Ok(n) if want(&buf[..n]) => return buf[..n].to_vec(),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(e) => panic!("read from {}: {e}", dev.name),
            }
        }
        panic!("nothing matching arrived on {}", dev.name)
    }

    /// An IPv4/UDP packet (no UDP checksum, which IPv4 allows).
    fn ipv4_udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
        let total = (20 + 8 + data.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend(total.to_be_bytes());
        p.extend([0, 0, 0x40, 0, 64, 17, 0, 0]); // id, DF, TTL, UDP, checksum
        p.extend(src);
        p.extend(dst);
        let mut sum: u32 = p
            .chunks(2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]) as u32)
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        p[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        p.extend(sport.to_be_bytes());
        p.extend(dport.to_be_bytes());
        p.extend((8 + data.len() as u16).to_be_bytes());
        p.extend([0, 0]);
        p.extend(data);
        p
    }

    #[test]
    fn tun_addresses_and_routes_in_a_namespace() {
        if !hwtest::netns::require_root("sys::rtnl::tun_addresses_and_routes_in_a_namespace") {
            return;
        }
        let ns = Netns::new("rtnl").expect("create a network namespace");
        let a4 = IpAddr::from(Ipv4Addr::new(10, 99, 0, 1));
        let a6: IpAddr = "fd00::1".parse().unwrap();
        let net4 = IpAddr::from(Ipv4Addr::new(10, 0, 0, 0));
        let net6: IpAddr = "fd00::".parse().unwrap();
        let mac = batman::Mac([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);

        let (tun, tap, idx) = in_netns(&ns, || {
            let tun = Tap::open_tun("mesh0t", 1400).expect("open TUN mesh0t");
            let tap = Tap::open("bat0t", Some(mac)).expect("open TAP bat0t");
            let idx = ifindex("mesh0t").expect("ifindex of mesh0t");
            add_address(idx, a6, 128).expect("add fd00::1/128");
            add_address(idx, a4, 24).expect("add 10.99.0.1/24");
            add_route(idx, net6, 8).expect("add fd00::/8");
            add_route(idx, net4, 8).expect("add 10.0.0.0/8");
            (tun, tap, idx)
        });
        // setns moved the helper thread only: this one (the host) has no
        // mesh0t
        assert_eq!(
            ifindex("mesh0t").unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );

        let link = ip(&ns, &["link", "show", "mesh0t"]);
        assert!(link.contains("mtu 1400"), "{link}");
        assert!(
            link.contains("link/none"),
            "a TUN has no link layer: {link}"
        );
        assert!(link_flags(&link).iter().any(|f| f == "UP"), "{link}");
        let tap_link = ip(&ns, &["link", "show", "bat0t"]);
        assert!(
            tap_link.contains("link/ether 02:11:22:33:44:55"),
            "{tap_link}"
        );
        assert!(
            link_flags(&tap_link).iter().any(|f| f == "UP"),
            "{tap_link}"
        );

        let show = || {
            (
                ip(&ns, &["addr", "show", "dev", "mesh0t"]),
                ip(&ns, &["route", "show", "proto", "109"]),
                ip(&ns, &["-6", "route", "show", "proto", "109"]),
            )
        };
        let (addrs, r4, r6) = show();
        assert!(addrs.contains("inet 10.99.0.1/24"), "{addrs}");
        assert!(addrs.contains("inet6 fd00::1/128"), "{addrs}");
        assert!(
            !addrs.contains("tentative"),
            "NODAD: usable at once: {addrs}"
        );
        let line4: Vec<&str> = r4
            .lines()
            .filter(|l| l.starts_with("10.0.0.0/8 "))
            .collect();
        assert_eq!(line4.len(), 1, "{r4}");
        assert!(
            line4[0].contains("dev mesh0t") && line4[0].contains("scope link"),
            "{r4}"
        );
        let line6: Vec<&str> = r6.lines().filter(|l| l.starts_with("fd00::/8 ")).collect();
        assert_eq!(line6.len(), 1, "{r6}");
        assert!(line6[0].contains("dev mesh0t"), "{r6}");

        // re-adding is no error and changes nothing
        in_netns(&ns, || {
            add_address(idx, a6, 128).expect("re-add fd00::1/128");
            add_address(idx, a4, 24).expect("re-add 10.99.0.1/24");
            add_route(idx, net6, 8).expect("re-add fd00::/8");
            add_route(idx, net4, 8).expect("re-add 10.0.0.0/8");
        });
        assert_eq!(show(), (addrs, r4, r6));

        // the TUN carries bare IP packets both ways
        in_netns(&ns, || {
            let out = UdpSocket::bind("10.99.0.1:0").expect("bind");
            out.send_to(b"to the mesh", "10.77.0.2:4242").expect("send");
            let p = recv_matching(&tun, |p| {
                p.len() >= 28 && p[0] == 0x45 && p[9] == 17 && p[16..20] == [10, 77, 0, 2]
            });
            assert_eq!(p[12..16], [10, 99, 0, 1]);
            assert_eq!(p[22..24], 4242u16.to_be_bytes());
            assert_eq!(&p[28..], b"to the mesh");

            let inbound = UdpSocket::bind("10.99.0.1:0").expect("bind");
            inbound
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let port = inbound.local_addr().unwrap().port();
            let pkt = ipv4_udp([10, 77, 0, 2], [10, 99, 0, 1], 4000, port, b"from the mesh");
            assert_eq!(tun.send(&pkt).expect("write to the TUN"), pkt.len());
            let mut buf = [0u8; 64];
            let (n, from) = inbound.recv_from(&mut buf).expect("packet from the TUN");
            assert_eq!(&buf[..n], b"from the mesh");
            assert_eq!(from, "10.77.0.2:4000".parse().unwrap());
        });

        // deleting removes them; deleting again says they are not there; a
        // missing interface is ENODEV
        in_netns(&ns, || {
            del_route(idx, net4, 8).expect("del 10.0.0.0/8");
            del_route(idx, net6, 8).expect("del fd00::/8");
            del_address(idx, a4, 24).expect("del 10.99.0.1/24");
            del_address(idx, a6, 128).expect("del fd00::1/128");
            let errno = |r: io::Result<()>| r.unwrap_err().raw_os_error();
            assert_eq!(errno(del_route(idx, net4, 8)), Some(libc::ESRCH));
            assert_eq!(errno(del_route(idx, net6, 8)), Some(libc::ESRCH));
            assert_eq!(errno(del_address(idx, a4, 24)), Some(libc::EADDRNOTAVAIL));
            assert_eq!(errno(del_address(idx, a6, 128)), Some(libc::EADDRNOTAVAIL));
            let gone = 999_999;
            assert_eq!(errno(add_route(gone, net4, 8)), Some(libc::ENODEV));
            assert_eq!(errno(add_route(gone, net6, 8)), Some(libc::ENODEV));
            assert_eq!(errno(add_address(gone, a4, 24)), Some(libc::ENODEV));
            let e = add_route(gone, net4, 8).unwrap_err();
            assert_eq!(
                e.to_string(),
                io::Error::from_raw_os_error(libc::ENODEV).to_string()
            );
        });
        let (addrs, r4, r6) = show();
        assert!(
            !addrs.contains("10.99.0.1") && !addrs.contains("fd00::1"),
            "{addrs}"
        );
        assert!(r4.trim().is_empty(), "{r4}");
        assert!(r6.trim().is_empty(), "{r6}");

        // not persistent: closing the descriptor removes the device
        drop(tun);
        drop(tap);
        assert!(ns.ip(&["link", "show", "mesh0t"]).is_err());
        assert!(ns.ip(&["link", "show", "bat0t"]).is_err());
    }
}
