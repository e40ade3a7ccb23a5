//! Pseudonym addresses and in-place IPv6 address rewriting.
//!
//! An onion circuit ends at a destination node, which hands the client's
//! inner IPv6 packet to its TUN with the source rewritten to a per-circuit
//! pseudonym from [`PSEUDONYM_PREFIX`]; replies addressed to the pseudonym
//! come back through the circuit and the client rewrites their destination
//! back to its own address. This module is the byte work for that: read or
//! replace an IPv6 packet's source or destination address and fix the
//! upper-layer checksum, in place, with no allocation, never panicking.
//!
//! The TCP, UDP and ICMPv6 checksums cover a pseudo-header holding both
//! addresses (RFC 8200 §8.1), so changing an address changes the checksum.
//! It is updated incrementally after RFC 1624 eqn. 3, in one's complement
//! arithmetic: `HC' = ~(~HC + ~m + m')`, summed over the eight 16-bit words
//! `m` of the old address and `m'` of the new one. For a checksum that was
//! correct this gives exactly what a full recompute gives, and rewriting an
//! address back restores the original bytes. A UDP checksum that comes out
//! as zero is sent as `0xffff` (RFC 768, RFC 8200 §8.1).
//!
//! Not handled: ICMPv6 error messages quote the invoking packet, whose
//! addresses (and the quoted checksum) are left as they are; and AH-protected
//! packets (the rewrite breaks their ICV anyway).

use std::net::Ipv6Addr;

/// fd6d:6573:6864::/48 ("fd" then ASCII "meshd"): the range pseudonyms come
/// from; no node address or LAN prefix may fall in it.
pub const PSEUDONYM_PREFIX: [u8; 6] = [0xfd, 0x6d, 0x65, 0x73, 0x68, 0x64];
/// Length in bits of [`PSEUDONYM_PREFIX`].
pub const PSEUDONYM_PREFIX_LEN: u8 = 48;

const _: () = assert!(PSEUDONYM_PREFIX.len() * 8 == PSEUDONYM_PREFIX_LEN as usize);

/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;

const SRC: usize = 8;
const DST: usize = 24;

const HOP_BY_HOP: u8 = 0;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const ICMPV6: u8 = 58;
const DEST_OPTS: u8 = 60;

/// Whether `a` lies in the pseudonym range [`PSEUDONYM_PREFIX`]`/48`.
pub fn is_pseudonym(a: &Ipv6Addr) -> bool {
    a.octets()[..PSEUDONYM_PREFIX.len()] == PSEUDONYM_PREFIX
}

/// A pseudonym from 10 random bytes (the host part).
pub fn pseudonym(host: [u8; 10]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a[..PSEUDONYM_PREFIX.len()].copy_from_slice(&PSEUDONYM_PREFIX);
    a[PSEUDONYM_PREFIX.len()..].copy_from_slice(&host);
    Ipv6Addr::from(a)
}

/// Why a packet was not rewritten (it is then left unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// The version nibble is not 6.
    #[error("not an IPv6 packet (version {version})")]
    NotIpv6 { version: u8 },
    /// The packet ends before the fixed header or inside an extension
    /// header that has to be walked to find the upper-layer header.
    #[error("packet of {len} bytes is truncated: its headers need at least {needed}")]
    Truncated { len: usize, needed: usize },
}

/// Where the checksum to fix lies, and whether it is UDP's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChecksumField {
    at: usize,
    udp: bool,
}

fn check_header(packet: &[u8]) -> Result<(), RewriteError> {
    if packet.len() < IPV6_HEADER_LEN {
        return Err(RewriteError::Truncated {
            len: packet.len(),
            needed: IPV6_HEADER_LEN,
        });
    }
    let version = packet[0] >> 4;
    if version != 6 {
        return Err(RewriteError::NotIpv6 { version });
    }
    Ok(())
}

/// Walk the extension header chain to the upper-layer checksum, if the
/// packet carries one that covers the addresses and that lies inside the
/// packet. Bounded by the packet length: every step moves at least 8 bytes.
///
/// The slice length is what counts, not the Payload Length field (which may
/// be zero for a jumbogram or disagree with trailing link-layer padding).
fn checksum_field(packet: &[u8]) -> Result<Option<ChecksumField>, RewriteError> {
    check_header(packet)?;
    let len = packet.len();
    let truncated = |needed: usize| RewriteError::Truncated { len, needed };
    let mut next = packet[6];
    let mut off = IPV6_HEADER_LEN;
    loop {
        match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let head = packet.get(off..off + 2).ok_or(truncated(off + 2))?;
                let end = off + (usize::from(head[1]) + 1) * 8;
                if end > len {
                    return Err(truncated(end));
                }
                next = head[0];
                off = end;
            }
            FRAGMENT => {
                let end = off + 8;
                let head = packet.get(off..end).ok_or(truncated(end))?;
                let offset = u16::from_be_bytes([head[2], head[3]]) >> 3;
                if offset != 0 {
                    // Only the first fragment carries the upper-layer header.
                    return Ok(None);
                }
                next = head[0];
                off = end;
            }
            TCP | UDP | ICMPV6 => {
                let at = off
                    + match next {
                        TCP => 16,
                        UDP => 6,
                        _ => 2,
                    };
                return Ok((at + 2 <= len).then_some(ChecksumField {
                    at,
                    udp: next == UDP,
                }));
            }
            // No Next Header (59), ESP, AH, anything unknown: no checksum
            // this module knows how to find.
            _ => return Ok(None),
        }
    }
}

fn addr_at(packet: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&packet[at..at + 16]);
    Ipv6Addr::from(a)
}

/// RFC 1624 eqn. 3 over the eight words of an address.
fn adjust(checksum: u16, old: &[u8; 16], new: &[u8; 16]) -> u16 {
    let mut sum = u32::from(!checksum);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        sum += u32::from(!u16::from_be_bytes([o[0], o[1]]));
        sum += u32::from(u16::from_be_bytes([n[0], n[1]]));
    }
    // At most 0xffff + 8 × 0x1fffe: two folds bring it to 16 bits.
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

fn rewrite(packet: &mut [u8], at: usize, new: Ipv6Addr) -> Result<Ipv6Addr, RewriteError> {
    let field = checksum_field(packet)?;
    let old = addr_at(packet, at);
    let (old_b, new_b) = (old.octets(), new.octets());
    if old_b == new_b {
        return Ok(old);
    }
    packet[at..at + 16].copy_from_slice(&new_b);
    if let Some(ChecksumField { at: c, udp }) = field {
        let mut sum = adjust(
            u16::from_be_bytes([packet[c], packet[c + 1]]),
            &old_b,
            &new_b,
        );
        if udp && sum == 0 {
            sum = 0xffff;
        }
        packet[c..c + 2].copy_from_slice(&sum.to_be_bytes());
    }
    Ok(old)
}

/// Replace the IPv6 source address, fixing the TCP/UDP/ICMPv6 checksum;
/// returns the old source.
///
/// The extension header chain (hop-by-hop, routing, destination options,
/// fragment) is walked to the upper-layer header. The address is rewritten
/// but no checksum touched when there is none to find: a non-first
/// fragment, No Next Header, an unknown header, or an upper-layer header cut
/// off before its checksum field. An error (packet shorter than 40 bytes,
/// version other than 6, or ending inside an extension header) leaves the
/// packet unchanged.
pub fn set_source(packet: &mut [u8], new: Ipv6Addr) -> Result<Ipv6Addr, RewriteError> {
    rewrite(packet, SRC, new)
}

/// Replace the IPv6 destination address, fixing the TCP/UDP/ICMPv6
/// checksum; returns the old destination. Same rules as [`set_source`].
///
/// With a routing header whose Segments Left is not zero (type 0, segment
/// routing), the checksum's pseudo-header holds the final destination from
/// the routing header rather than the destination field (RFC 8200 §8.1);
/// that subtlety is ignored and the checksum is adjusted as if the field
/// were the final destination. Circuit traffic carries no routing header.
pub fn set_destination(packet: &mut [u8], new: Ipv6Addr) -> Result<Ipv6Addr, RewriteError> {
    rewrite(packet, DST, new)
}

/// The IPv6 source address. Only the fixed header is checked (length and
/// version), not the extension header chain.
pub fn source(packet: &[u8]) -> Result<Ipv6Addr, RewriteError> {
    check_header(packet)?;
    Ok(addr_at(packet, SRC))
}

/// The IPv6 destination address; see [`source`].
pub fn destination(packet: &[u8]) -> Result<Ipv6Addr, RewriteError> {
    check_header(packet)?;
    Ok(addr_at(packet, DST))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// A fixed header followed by `rest`.
    fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0x01, 0x23, 0x45];
        p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
        p.push(next);
        p.push(64);
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(rest);
        p
    }

    fn checksum_offset(proto: u8) -> usize {
        match proto {
            TCP => 16,
            UDP => 6,
            ICMPV6 => 2,
            _ => unreachable!(),
        }
    }

    /// Straightforward RFC 8200 §8.1 checksum of `upper` (its checksum field
    /// counted as zero), without the UDP zero mapping.
    fn raw_checksum(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, upper: &[u8]) -> u16 {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&(upper.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, proto]);
        let mut u = upper.to_vec();
        let c = checksum_offset(proto);
        u[c] = 0;
        u[c + 1] = 0;
        bytes.extend_from_slice(&u);
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut sum: u64 = 0;
        for w in bytes.chunks(2) {
            sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// The checksum as sent.
    fn full_checksum(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, upper: &[u8]) -> u16 {
        match raw_checksum(src, dst, proto, upper) {
            0 if proto == UDP => 0xffff,
            c => c,
        }
    }

    fn stored(upper: &[u8], proto: u8) -> u16 {
        let c = checksum_offset(proto);
        u16::from_be_bytes([upper[c], upper[c + 1]])
    }

    fn seal(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, upper: &mut [u8]) {
        let c = checksum_offset(proto);
        let sum = full_checksum(src, dst, proto, upper);
        upper[c..c + 2].copy_from_slice(&sum.to_be_bytes());
    }

    fn tcp_syn(payload: &[u8]) -> Vec<u8> {
        let mut t = vec![
            0xc3, 0x50, 0x00, 0x50, // ports 50000 -> 80
            0x12, 0x34, 0x56, 0x78, // seq
            0, 0, 0, 0, // ack
            0x50, 0x02, 0xff, 0xff, // data offset 5, SYN, window
            0, 0, 0, 0, // checksum, urgent pointer
        ];
        t.extend_from_slice(payload);
        t
    }

    fn udp(payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x13, 0x88, 0x00, 0x35];
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    fn icmp_echo(data: &[u8]) -> Vec<u8> {
        let mut i = vec![128, 0, 0, 0, 0xbe, 0xef, 0x00, 0x01];
        i.extend_from_slice(data);
        i
    }

    fn upper(proto: u8, payload: &[u8]) -> Vec<u8> {
        match proto {
            TCP => tcp_syn(payload),
            UDP => udp(payload),
            ICMPV6 => icmp_echo(payload),
            _ => unreachable!(),
        }
    }

    /// Hop-by-hop or destination options header of `(len + 1) × 8` bytes,
    /// filled with one PadN option.
    fn options(next: u8, len: u8) -> Vec<u8> {
        let total = (usize::from(len) + 1) * 8;
        let mut h = vec![next, len, 1, (total - 4) as u8];
        h.resize(total, 0);
        h
    }

    /// Segment routing header of `(len + 1) × 8` bytes, Segments Left 0.
    fn routing(next: u8, len: u8) -> Vec<u8> {
        let mut h = vec![next, len, 4, 0];
        h.resize((usize::from(len) + 1) * 8, 0);
        h
    }

    fn fragment(next: u8, offset: u16, more: bool) -> Vec<u8> {
        let mut h = vec![next, 0];
        h.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
        h.extend_from_slice(&0xdead_beef_u32.to_be_bytes());
        h
    }

    const SRC_A: &str = "fd12:3456:789a:1::2";
    const DST_A: &str = "2001:db8::80";
    const NEW_SRC: &str = "fd6d:6573:6864:a1b2:c3d4:e5f6:789:abcd";
    const NEW_DST: &str = "fd00:1111:2222:3333::4444";

    /// Build `ext ‖ upper` behind a fixed header, sealed; rewrite the source
    /// then the destination, compare with a full recompute each time, and
    /// rewrite back to the original bytes.
    fn round_trip(ext: &[u8], first: u8, proto: u8, payload: &[u8]) {
        let (src, dst) = (a(SRC_A), a(DST_A));
        let mut up = upper(proto, payload);
        seal(src, dst, proto, &mut up);
        let mut rest = ext.to_vec();
        rest.extend_from_slice(&up);
        let orig = ipv6(src, dst, first, &rest);
        let at = IPV6_HEADER_LEN + ext.len();

        let mut p = orig.clone();
        assert_eq!(set_source(&mut p, a(NEW_SRC)), Ok(src));
        assert_eq!(source(&p), Ok(a(NEW_SRC)));
        assert_eq!(
            stored(&p[at..], proto),
            full_checksum(a(NEW_SRC), dst, proto, &p[at..])
        );
        assert_eq!(set_destination(&mut p, a(NEW_DST)), Ok(dst));
        assert_eq!(destination(&p), Ok(a(NEW_DST)));
        assert_eq!(
            stored(&p[at..], proto),
            full_checksum(a(NEW_SRC), a(NEW_DST), proto, &p[at..])
        );
        // Only the addresses and the checksum changed.
        let c = at + checksum_offset(proto);
        for (i, (x, y)) in orig.iter().zip(&p).enumerate() {
            if !(SRC..DST + 16).contains(&i) && !(c..c + 2).contains(&i) {
                assert_eq!(x, y, "byte {i}");
            }
        }

        assert_eq!(set_source(&mut p, src), Ok(a(NEW_SRC)));
        assert_eq!(set_destination(&mut p, dst), Ok(a(NEW_DST)));
        assert_eq!(p, orig);
    }

    #[test]
    fn tcp_syn_with_payload() {
        round_trip(&[], TCP, TCP, b"GET / HTTP/1.0\r\n\r\n");
        round_trip(&[], TCP, TCP, b"odd");
    }

    #[test]
    fn udp_datagram() {
        round_trip(
            &[],
            UDP,
            UDP,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00",
        );
        round_trip(&[], UDP, UDP, b"");
    }

    #[test]
    fn icmpv6_echo() {
        round_trip(&[], ICMPV6, ICMPV6, b"abcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn hop_by_hop_and_destination_options_chain() {
        let mut ext = options(DEST_OPTS, 0);
        ext.extend_from_slice(&options(TCP, 2));
        round_trip(&ext, HOP_BY_HOP, TCP, b"payload");
        // Destination options, a routing header, then UDP.
        let mut chain = options(ROUTING, 0);
        chain.extend_from_slice(&routing(UDP, 2));
        round_trip(&chain, DEST_OPTS, UDP, b"x");
    }

    #[test]
    fn first_fragment_checksum_covers_whole_datagram() {
        let (src, dst) = (a(SRC_A), a(DST_A));
        let payload: Vec<u8> = (0..100u8).collect();
        let mut whole = udp(&payload);
        seal(src, dst, UDP, &mut whole);
        let mut rest = fragment(UDP, 0, true);
        rest.extend_from_slice(&whole[..48]);
        let orig = ipv6(src, dst, FRAGMENT, &rest);

        let mut p = orig.clone();
        set_source(&mut p, a(NEW_SRC)).unwrap();
        set_destination(&mut p, a(NEW_DST)).unwrap();
        let at = IPV6_HEADER_LEN + 8;
        // Reassemble with the new checksum and recompute.
        let mut re = whole.clone();
        re[6..8].copy_from_slice(&p[at + 6..at + 8]);
        assert_eq!(
            stored(&re, UDP),
            full_checksum(a(NEW_SRC), a(NEW_DST), UDP, &re)
        );
        assert_ne!(stored(&re, UDP), stored(&whole, UDP));
        set_source(&mut p, src).unwrap();
        set_destination(&mut p, dst).unwrap();
        assert_eq!(p, orig);
    }

    #[test]
    fn non_first_fragment_only_addresses_change() {
        let (src, dst) = (a(SRC_A), a(DST_A));
        let mut rest = fragment(UDP, 6, false);
        rest.extend_from_slice(&[0xaa; 40]);
        let orig = ipv6(src, dst, FRAGMENT, &rest);
        let mut p = orig.clone();
        set_source(&mut p, a(NEW_SRC)).unwrap();
        set_destination(&mut p, a(NEW_DST)).unwrap();
        assert_eq!(p[..SRC], orig[..SRC]);
        assert_eq!(p[SRC..DST], a(NEW_SRC).octets());
        assert_eq!(p[DST..40], a(NEW_DST).octets());
        assert_eq!(p[40..], orig[40..]);
    }

    #[test]
    fn no_next_header_and_unknown_headers_only_addresses_change() {
        for next in [59u8, 50, 51, 135, 253] {
            let orig = ipv6(a(SRC_A), a(DST_A), next, &udp(b"0123456789"));
            let mut p = orig.clone();
            assert_eq!(set_source(&mut p, a(NEW_SRC)), Ok(a(SRC_A)));
            assert_eq!(set_destination(&mut p, a(NEW_DST)), Ok(a(DST_A)));
            assert_eq!(p[40..], orig[40..]);
            assert_eq!(source(&p), Ok(a(NEW_SRC)));
            assert_eq!(destination(&p), Ok(a(NEW_DST)));
        }
    }

    #[test]
    fn truncated_upper_layer_rewrites_address_only() {
        let mut up = tcp_syn(b"data");
        seal(a(SRC_A), a(DST_A), TCP, &mut up);
        // Cut inside the TCP header, one byte short of the checksum's end.
        let orig = ipv6(a(SRC_A), a(DST_A), TCP, &up[..17]);
        let mut p = orig.clone();
        assert_eq!(set_source(&mut p, a(NEW_SRC)), Ok(a(SRC_A)));
        assert_eq!(p[40..], orig[40..]);
    }

    #[test]
    fn truncated_at_every_length() {
        let mut ext = options(DEST_OPTS, 0);
        ext.extend_from_slice(&options(TCP, 1));
        let mut up = tcp_syn(b"hello");
        seal(a(SRC_A), a(DST_A), TCP, &mut up);
        let mut rest = ext.clone();
        rest.extend_from_slice(&up);
        let full = ipv6(a(SRC_A), a(DST_A), HOP_BY_HOP, &rest);
        let ext_end = IPV6_HEADER_LEN + ext.len();
        let mut rewritten = full.clone();
        set_source(&mut rewritten, a(NEW_SRC)).unwrap();
        set_destination(&mut rewritten, a(NEW_DST)).unwrap();
        for len in 0..full.len() {
            let orig = &full[..len];
            let mut p = orig.to_vec();
            let s = set_source(&mut p, a(NEW_SRC));
            let d = set_destination(&mut p, a(NEW_DST));
            if len < IPV6_HEADER_LEN {
                let e = Err(RewriteError::Truncated {
                    len,
                    needed: IPV6_HEADER_LEN,
                });
                assert_eq!((s, d), (e, e));
                assert_eq!(source(orig), e);
                assert_eq!(destination(orig), e);
                assert_eq!(p, orig);
            } else if len < ext_end {
                assert!(matches!(s, Err(RewriteError::Truncated { .. })), "{len}");
                assert_eq!(s, d);
                assert_eq!(p, orig);
                assert_eq!(source(orig), Ok(a(SRC_A)));
            } else {
                assert_eq!((s, d), (Ok(a(SRC_A)), Ok(a(DST_A))), "{len}");
                if len < ext_end + 18 {
                    // The TCP checksum field is cut off: left alone.
                    assert_eq!(p[..ext_end], rewritten[..ext_end], "{len}");
                    assert_eq!(p[ext_end..], orig[ext_end..], "{len}");
                } else {
                    assert_eq!(p, rewritten[..len], "{len}");
                }
            }
        }
    }

    #[test]
    fn not_ipv6_is_refused_and_left_unchanged() {
        let mut orig = ipv6(a(SRC_A), a(DST_A), UDP, &udp(b"x"));
        orig[0] = 0x45;
        let mut p = orig.clone();
        let e = Err(RewriteError::NotIpv6 { version: 4 });
        assert_eq!(set_source(&mut p, a(NEW_SRC)), e);
        assert_eq!(set_destination(&mut p, a(NEW_DST)), e);
        assert_eq!(source(&p), e);
        assert_eq!(destination(&p), e);
        assert_eq!(p, orig);
    }

    /// A packet from `src` whose checksum, after the source is rewritten to
    /// `new`, computes to zero; the checksum seen after `set_source`.
    fn zero_after_rewrite(proto: u8) -> u16 {
        let (src, new, dst) = (a(SRC_A), a(NEW_SRC), a(DST_A));
        let mut up = upper(proto, &[0x11, 0x22, 0, 0]);
        let end = up.len();
        let s = !raw_checksum(new, dst, proto, &up);
        // Make the data sum 0xffff ≡ −0: the checksum computes to zero.
        let w = 0xffff - s;
        up[end - 2..].copy_from_slice(&w.to_be_bytes());
        assert_eq!(raw_checksum(new, dst, proto, &up), 0);
        seal(src, dst, proto, &mut up);
        let mut p = ipv6(src, dst, proto, &up);
        set_source(&mut p, new).unwrap();
        let got = stored(&p[40..], proto);
        assert_eq!(got, full_checksum(new, dst, proto, &p[40..]));
        set_source(&mut p, src).unwrap();
        assert_eq!(p, ipv6(src, dst, proto, &up));
        got
    }

    #[test]
    fn udp_zero_result_is_sent_as_ffff() {
        assert_eq!(zero_after_rewrite(UDP), 0xffff);
        // TCP and ICMPv6 send a zero checksum as it is.
        assert_eq!(zero_after_rewrite(TCP), 0);
        assert_eq!(zero_after_rewrite(ICMPV6), 0);
    }

    #[test]
    fn same_address_is_a_no_op() {
        let mut up = udp(b"abc");
        seal(a(SRC_A), a(DST_A), UDP, &mut up);
        let orig = ipv6(a(SRC_A), a(DST_A), UDP, &up);
        let mut p = orig.clone();
        assert_eq!(set_source(&mut p, a(SRC_A)), Ok(a(SRC_A)));
        assert_eq!(set_destination(&mut p, a(DST_A)), Ok(a(DST_A)));
        assert_eq!(p, orig);
    }

    #[test]
    fn pseudonym_prefix() {
        assert_eq!(PSEUDONYM_PREFIX[0], 0xfd);
        assert_eq!(&PSEUDONYM_PREFIX[1..], b"meshd");
        let p = pseudonym([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(p, a("fd6d:6573:6864:102:304:506:708:90a"));
        assert!(is_pseudonym(&p));
        assert!(is_pseudonym(&a("fd6d:6573:6864::")));
        assert!(is_pseudonym(&a("fd6d:6573:6864:ffff:ffff:ffff:ffff:ffff")));
        assert!(!is_pseudonym(&a("fd6d:6573:6865::")));
        assert!(!is_pseudonym(&a("fd6d:6573:6863:ffff::")));
        assert!(!is_pseudonym(&a(SRC_A)));
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
        fn addr(&mut self) -> Ipv6Addr {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&self.next().to_be_bytes());
            b[8..].copy_from_slice(&self.next().to_be_bytes());
            Ipv6Addr::from(b)
        }
    }

    #[test]
    fn random_packets_incremental_equals_full_recompute() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..5000 {
            let proto = [TCP, UDP, ICMPV6][rng.below(3) as usize];
            let min = checksum_offset(proto) + 2;
            let n = min + rng.below(120) as usize;
            let mut up = rng.bytes(n);
            let (src, dst) = (rng.addr(), rng.addr());
            seal(src, dst, proto, &mut up);

            // Up to three extension headers, maybe ending in a first fragment.
            let mut ext = Vec::new();
            let mut kinds = Vec::new();
            for _ in 0..rng.below(4) {
                kinds.push([HOP_BY_HOP, ROUTING, DEST_OPTS, FRAGMENT][rng.below(4) as usize]);
            }
            kinds.push(proto);
            for w in kinds.windows(2) {
                let len = rng.below(3) as u8;
                ext.extend_from_slice(&match w[0] {
                    FRAGMENT => fragment(w[1], 0, rng.below(2) == 0),
                    ROUTING => routing(w[1], len),
                    _ => options(w[1], len),
                });
            }
            let mut rest = ext.clone();
            rest.extend_from_slice(&up);
            let orig = ipv6(src, dst, kinds[0], &rest);
            let at = IPV6_HEADER_LEN + ext.len();

            let new_src = if rng.below(2) == 0 {
                pseudonym(rng.bytes(10).try_into().unwrap())
            } else {
                rng.addr()
            };
            let new_dst = rng.addr();
            let mut p = orig.clone();
            assert_eq!(set_source(&mut p, new_src), Ok(src));
            assert_eq!(
                stored(&p[at..], proto),
                full_checksum(new_src, dst, proto, &p[at..]),
                "round {round}"
            );
            assert_eq!(set_destination(&mut p, new_dst), Ok(dst));
            assert_eq!(
                stored(&p[at..], proto),
                full_checksum(new_src, new_dst, proto, &p[at..]),
                "round {round}"
            );
            assert_eq!(set_destination(&mut p, dst), Ok(new_dst));
            assert_eq!(set_source(&mut p, src), Ok(new_src));
            assert_eq!(p, orig, "round {round}");
        }
    }
}
