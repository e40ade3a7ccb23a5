//! `meshctl td IF`: decode live batman-adv frames on an interface, one
//! line per packet in the spirit of `batctl td`, with the Ethernet frame
//! carried inside (ARP, IPv4, IPv6 and their ICMP) summarised; also
//! `meshd decode HEX` for one payload.
//!
//! Everything here is a read-only view of bytes through the core's wire
//! parsers: a malformed frame prints as such and never stops the capture.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use batman::wire::{self, Mac, PacketType, TvlvType};

/// Describe one whole Ethernet frame (destination, source, ethertype,
/// payload); frames of other ethertypes are named and skipped.
pub fn describe_frame(frame: &[u8]) -> String {
    if frame.len() < wire::ETH_HLEN {
        return format!("truncated frame ({} bytes)", frame.len());
    }
    let dst = Mac::from_bytes(&frame[0..6]);
    let src = Mac::from_bytes(&frame[6..12]);
    let ty = u16::from_be_bytes([frame[12], frame[13]]);
    if ty != wire::ETHERTYPE_BATADV {
        return format!("{src} > {dst}: ethertype {ty:#06x}, length {}", frame.len());
    }
    match describe_payload(src, &frame[wire::ETH_HLEN..]) {
        Ok(s) => s,
        Err(e) => format!(
            "BAT {src} > {dst}: malformed ({e}), length {}",
            frame.len() - wire::ETH_HLEN
        ),
    }
}

/// Describe a batman-adv payload (the bytes after the Ethernet header)
/// that `neigh` sent; one line per packet (an OGM aggregate gives several).
pub fn describe_payload(neigh: Mac, b: &[u8]) -> Result<String, wire::Error> {
    let mut out = String::new();
    match wire::peek_type(b)? {
        PacketType::IvOgm => {
            for p in wire::OgmIter::new(b) {
                let p = p?;
                let o = wire::OgmRepr::parse(&p)?;
                let f = |bit, c| if o.flags.contains(bit) { c } else { '.' };
                let _ = writeln!(
                    out,
                    "BAT {}: OGM IV via neigh {neigh}, seq {}, tq {:3}, ttl {:2}, v {}, flags [{}{}{}], length {}{}",
                    o.orig,
                    o.seqno,
                    o.tq,
                    o.ttl,
                    wire::COMPAT_VERSION,
                    f(wire::OgmFlags::NOT_BEST_NEXT_HOP, 'N'),
                    f(wire::OgmFlags::PRIMARIES_FIRST_HOP, 'F'),
                    f(wire::OgmFlags::DIRECTLINK, 'D'),
                    wire::ogm::HEADER_LEN + usize::from(o.tvlv_len),
                    tvlv_names(p.tvlv())
                );
            }
        }
        PacketType::Bcast => {
            let p = wire::BcastPacket::new_checked(b)?;
            let r = wire::BcastRepr::parse(&p)?;
            let _ = writeln!(
                out,
                "BAT {}: BCAST, seq {}, ttl {}, {}",
                r.orig,
                r.seqno,
                r.ttl,
                describe_inner(p.payload())
            );
        }
        PacketType::Unicast => {
            let p = wire::UnicastPacket::new_checked(b)?;
            let r = wire::UnicastRepr::parse(&p)?;
            let _ = writeln!(
                out,
                "BAT {}: UCAST, ttvn {}, ttl {}, {}",
                r.dest,
                r.ttvn,
                r.ttl,
                describe_inner(p.payload())
            );
        }
        PacketType::Unicast4Addr => {
            let p = wire::Unicast4AddrPacket::new_checked(b)?;
            let r = wire::Unicast4AddrRepr::parse(&p)?;
            let _ = writeln!(
                out,
                "BAT {} > {}: UCAST4ADDR {:?}, ttvn {}, ttl {}, {}",
                r.src,
                r.dest,
                r.subtype,
                r.ttvn,
                r.ttl,
                describe_inner(p.payload())
            );
        }
        PacketType::UnicastFrag => {
            let p = wire::FragPacket::new_checked(b)?;
            let r = wire::FragRepr::parse(&p)?;
            let _ = writeln!(
                out,
                "BAT {} > {}: FRAG, seq {}, no {}, total_size {}, ttl {}, length {}",
                r.orig,
                r.dest,
                r.seqno,
                r.no,
                r.total_size,
                r.ttl,
                p.payload().len()
            );
        }
        PacketType::Icmp => {
            let p = wire::IcmpPacket::new_checked(b)?;
            let r = wire::IcmpRepr::parse(&p)?;
            let what = match r.msg_type {
                wire::IcmpMsgType::EchoRequest => "echo request",
                wire::IcmpMsgType::EchoReply => "echo reply",
                wire::IcmpMsgType::DestinationUnreachable => "destination unreachable",
                wire::IcmpMsgType::TtlExceeded => "ttl exceeded",
                _ => "other",
            };
            let rr = match &r.rr {
                Some(rr) => format!(", route record {} hops", rr.len()),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "BAT {} > {}: ICMP {what}, id {}, seq {}, ttl {:2}, v {}, length {}{rr}",
                r.orig,
                r.dst,
                r.uid,
                r.seqno,
                r.ttl,
                wire::COMPAT_VERSION,
                b.len()
            );
        }
        PacketType::UnicastTvlv => {
            let p = wire::UnicastTvlvPacket::new_checked(b)?;
            let r = wire::UnicastTvlvRepr::parse(&p)?;
            let _ = writeln!(
                out,
                "BAT {} > {}: UTVLV, tvlv_len {}, ttl {}{}",
                r.src,
                r.dst,
                r.tvlv_len,
                r.ttl,
                tvlv_names(p.tvlv())
            );
        }
        other => {
            let _ = writeln!(out, "BAT {neigh}: {other:?}, length {}", b.len());
        }
    }
    Ok(out)
}

/// ` tvlv [TT GW ...]` for a TVLV area, empty for none.
fn tvlv_names(area: &[u8]) -> String {
    if area.is_empty() {
        return String::new();
    }
    let mut names = Vec::new();
    for t in wire::TvlvIter::new(area) {
        let Ok(t) = t else {
            names.push("malformed".to_string());
            break;
        };
        names.push(match t.tvlv_type {
            TvlvType::Gw => "GW".into(),
            TvlvType::Dat => "DAT".into(),
            TvlvType::Nc => "NC".into(),
            TvlvType::Tt => "TT".into(),
            TvlvType::Roam => "ROAM".into(),
            TvlvType::Mcast => "MCAST".into(),
            TvlvType::McastTracker => "MCAST_TRACKER".into(),
            TvlvType::Unknown(batman::withdraw::TVLV_WITHDRAW) => "WITHDRAW".into(),
            TvlvType::Unknown(x) => meshd_tvlv(x, t.value),
        });
    }
    format!(", tvlv [{}]", names.join(" "))
}

/// meshd's own TVLVs (docs/wire.md), decoded as far as the bytes show;
/// anything else by its type number.
fn meshd_tvlv(ty: u8, v: &[u8]) -> String {
    use onion::announce::{self, Announcement};
    let hex = crate::ctl::hex;
    match ty {
        announce::TVLV_HASH => match announce::parse_hash(v) {
            Some((seq, d)) => format!("ID_HASH(seq {seq} digest {})", hex(&d)),
            None => "ID_HASH(malformed)".into(),
        },
        announce::TVLV_REQUEST if v.len() == announce::REQUEST_LEN => {
            format!("ID_REQ(digest {})", hex(v))
        }
        announce::TVLV_REQUEST => "ID_REQ(malformed)".into(),
        announce::TVLV_RECORD => match Announcement::parse(v) {
            Ok(a) => format!(
                "ID_RECORD({} orig {} seq {} ipv4 {} keys {}{}, {})",
                onion::addr::name(&a.node),
                Mac(a.orig),
                a.seqno,
                a.ipv4.map_or("none".into(), |(n, t)| format!("{n}/24#{t}")),
                a.onion_keys.len(),
                if a.name.is_empty() {
                    String::new()
                } else {
                    format!(" name {}", a.name)
                },
                if Announcement::parse_verified(v).is_ok() {
                    "signed"
                } else {
                    "BAD SIGNATURE"
                }
            ),
            Err(e) => format!("ID_RECORD(malformed: {e})"),
        },
        crate::mesh0::TVLV_E2E => e2e(v),
        crate::circuits::TVLV_CELL => cell(v),
        x => format!("{x:#04x}"),
    }
}

/// An onion cell as a link observer sees it: the circuit id and the
/// length; every other byte is ciphertext, a nonce under a per-hop
/// permutation, a MAC or padding, whatever the cell carries.
fn cell(v: &[u8]) -> String {
    if v.len() != onion::cell::CELL_LEN {
        return format!("CELL(malformed, {} bytes)", v.len());
    }
    format!(
        "CELL(circ {:08x}, {} bytes opaque)",
        u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        v.len() - onion::cell::CIRC_ID_LEN
    )
}

/// An end-to-end session message as a link observer sees it: its kind,
/// indices, counter and length; the rest is ciphertext.
fn e2e(v: &[u8]) -> String {
    use onion::session::{INIT_LEN, OVERHEAD, RESPONSE_LEN, TYPE_DATA, TYPE_INIT, TYPE_RESPONSE};
    let be32 = |at: usize| {
        v.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    match (v.first().copied(), v.len()) {
        (Some(TYPE_INIT), INIT_LEN) => format!("E2E(init from idx {:08x})", be32(4).unwrap_or(0)),
        (Some(TYPE_RESPONSE), RESPONSE_LEN) => format!(
            "E2E(response idx {:08x} to idx {:08x})",
            be32(4).unwrap_or(0),
            be32(8).unwrap_or(0)
        ),
        (Some(TYPE_DATA), n) if n >= OVERHEAD => {
            let ctr = v
                .get(8..16)
                .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
                .unwrap_or(0);
            format!(
                "E2E(data to idx {:08x}, ctr {ctr}, {} bytes sealed)",
                be32(4).unwrap_or(0),
                n - OVERHEAD
            )
        }
        _ => format!("E2E(malformed, {} bytes)", v.len()),
    }
}

/// One line for an Ethernet frame carried by the mesh.
fn describe_inner(f: &[u8]) -> String {
    if f.len() < 14 {
        return format!("truncated inner frame ({} bytes)", f.len());
    }
    let dst = Mac::from_bytes(&f[0..6]);
    let src = Mac::from_bytes(&f[6..12]);
    let ty = u16::from_be_bytes([f[12], f[13]]);
    let p = &f[14..];
    if let Some((from, area)) = crate::carrier::parse(f) {
        let inner = tvlv_names(area);
        return format!(
            "MESHD {from}{}",
            inner.strip_prefix(", tvlv").unwrap_or(&inner)
        );
    }
    let what = match ty {
        0x0806 if p.len() >= 28 => {
            let spa = Ipv4Addr::new(p[14], p[15], p[16], p[17]);
            let tpa = Ipv4Addr::new(p[24], p[25], p[26], p[27]);
            match u16::from_be_bytes([p[6], p[7]]) {
                1 => format!("ARP, Request who-has {tpa} tell {spa}"),
                2 => format!("ARP, Reply {spa} is-at {}", Mac::from_bytes(&p[8..14])),
                op => format!("ARP, op {op}"),
            }
        }
        0x0800 if p.len() >= 20 => {
            let s = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let d = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
            let hl = usize::from(p[0] & 0x0f) * 4;
            let l4 = p.get(hl..).unwrap_or(&[]);
            let proto = match (p[9], l4.first()) {
                (1, Some(8)) => "ICMP echo request".to_string(),
                (1, Some(0)) => "ICMP echo reply".to_string(),
                (1, _) => "ICMP".to_string(),
                (6, _) => "TCP".to_string(),
                (17, _) => "UDP".to_string(),
                (n, _) => format!("proto {n}"),
            };
            format!("IP {s} > {d}: {proto}, length {}", p.len())
        }
        0x86dd if p.len() >= 40 => {
            let a = |o: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&p[o..o + 16]);
                Ipv6Addr::from(b)
            };
            let next = match (p[6], p.get(40)) {
                (58, Some(128)) => "ICMP6 echo request".to_string(),
                (58, Some(129)) => "ICMP6 echo reply".to_string(),
                (58, Some(135)) => "ICMP6 neighbor solicitation".to_string(),
                (58, Some(136)) => "ICMP6 neighbor advertisement".to_string(),
                (58, Some(134)) => "ICMP6 router advertisement".to_string(),
                (58, _) => "ICMP6".to_string(),
                (6, _) => "TCP".to_string(),
                (17, _) => "UDP".to_string(),
                (0, _) => "hop-by-hop options".to_string(),
                (n, _) => format!("next header {n}"),
            };
            format!("IP6 {} > {}: {next}, length {}", a(8), a(24), p.len())
        }
        t => format!("ethertype {t:#06x}, length {}", p.len()),
    };
    format!("{src} > {dst}, {what}")
}

/// `meshctl td IF [-c N] [-w SECS]`: print every batman-adv frame sent or
/// received on IF (a raw socket of its own: root or CAP_NET_RAW), until N
/// frames, SECS seconds or Ctrl-C.
pub fn capture(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: meshctl td IF [-c COUNT] [-w SECONDS]";
    let mut iface = None;
    let mut count = u64::MAX;
    let mut limit = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |what: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{what} needs a number; {USAGE}"))
        };
        match a.as_str() {
            "-c" => count = num("-c")?,
            "-w" => limit = Some(std::time::Duration::from_secs(num("-w")?)),
            v if iface.is_none() && !v.starts_with('-') => iface = Some(v.to_string()),
            v => return Err(format!("unexpected argument {v:?}; {USAGE}")),
        }
    }
    let iface = iface.ok_or(USAGE)?;
    let info = crate::sys::link::link_info(&iface).map_err(|e| e.to_string())?;
    let sock = crate::sys::packet::PacketSocket::open(info.ifindex).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            format!("{iface}: capturing needs root or CAP_NET_RAW ({e})")
        } else {
            format!("{iface}: {e}")
        }
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        use std::io::Write as _;
        let fd = sock.into_async().map_err(|e| e.to_string())?;
        let deadline = limit.map(|l| tokio::time::Instant::now() + l);
        let mut buf = vec![0u8; 65_536];
        let mut seen = 0u64;
        let stdout = std::io::stdout();
        while seen < count {
            let ready = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, fd.readable()).await.ok(),
                    None => Some(fd.readable().await),
                }
            };
            let Some(guard) = ready.await else {
                break; // -w elapsed
            };
            let mut guard = guard.map_err(|e| e.to_string())?;
            match guard.try_io(|s| s.get_ref().recv(&mut buf)) {
                Ok(Ok(n)) => {
                    seen += 1;
                    let mut line = format!("{} {}", clock_now(), describe_frame(&buf[..n]));
                    if !line.ends_with('\n') {
                        line.push('\n');
                    }
                    let mut o = stdout.lock();
                    // A closed pipe (| head) ends the capture quietly.
                    if o.write_all(line.as_bytes())
                        .and_then(|()| o.flush())
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(Err(e)) => return Err(format!("{iface}: {e}")),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    })
}

/// `HH:MM:SS.micros` (UTC) for a capture line.
fn clock_now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = t.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        t.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ogm_with_tvlvs_and_flags() {
        // OGM: type 0, v15, ttl 50, flags D, seqno 7, orig, prev, reserved, tq 200,
        // tvlv_len 12: GW v1 (8 bytes).
        let b = hex("000f3204 00000007 020000000001 020000000001 00 c8 000c
             0101 0008 00000064 00000014");
        let s = describe_payload(Mac([2, 0, 0, 0, 0, 9]), &b).unwrap();
        assert!(
            s.starts_with("BAT 02:00:00:00:00:01: OGM IV via neigh 02:00:00:00:00:09, seq 7, tq 200, ttl 50, v 15, flags [..D]"),
            "{s}"
        );
        assert!(s.contains("tvlv [GW]"), "{s}");
    }

    #[test]
    fn meshd_identity_tvlvs_are_decoded() {
        // OGM carrying ID_HASH v1: seqno 5, digest 01020304.
        let b = hex("000f3204 00000007 020000000001 020000000001 00 c8 000c
             a201 0008 00000005 01020304");
        let s = describe_payload(Mac::ZERO, &b).unwrap();
        assert!(s.contains("tvlv [ID_HASH(seq 5 digest 01020304)]"), "{s}");
        // A meshd frame: UNICAST (0x40, v15, ttl 50, ttvn 0, dest) with the
        // inner Ethernet header (group dst, src, 0x88b5), then ID_REQ v1.
        let head = "400f3200 020000000002 036d65736864 020000000001 88b5";
        let b = hex(&format!("{head} a401 0004 01020304"));
        let s = describe_payload(Mac::ZERO, &b).unwrap();
        assert!(
            s.contains("MESHD 02:00:00:00:00:01 [ID_REQ(digest 01020304)]"),
            "{s}"
        );
        let b = hex(&format!("{head} a301 0004 00000000"));
        let s = describe_payload(Mac::ZERO, &b).unwrap();
        assert!(s.contains("ID_RECORD(malformed"), "{s}");
        // An E2E data message: type 3, receiver index 0x01020304, counter 9,
        // 4 sealed bytes and the 16-byte tag.
        let mut b = hex(&format!(
            "{head} a501 0024 03000000 01020304 0000000000000009 aabbccdd"
        ));
        b.extend([0u8; 16]);
        let s = describe_payload(Mac::ZERO, &b).unwrap();
        assert!(
            s.contains("E2E(data to idx 01020304, ctr 9, 4 bytes sealed)"),
            "{s}"
        );
        // A cell: circuit id 0x8000002a, then 1468 opaque bytes.
        let mut b = hex(&format!("{head} a601 05c0 8000002a"));
        b.extend([0x5au8; 1468]);
        let s = describe_payload(Mac::ZERO, &b).unwrap();
        assert!(s.contains("CELL(circ 8000002a, 1468 bytes opaque)"), "{s}");
        let b = hex(&format!("{head} a601 0004 8000002a"));
        let s = describe_payload(Mac::ZERO, &b).unwrap();
        assert!(s.contains("CELL(malformed, 4 bytes)"), "{s}");
    }

    #[test]
    fn unicast_with_an_ipv4_ping_inside() {
        let mut b = hex("400f3205 020000000002");
        // inner Ethernet: dst, src, IPv4
        b.extend(hex("0200000000bb 0200000000aa 0800"));
        b.extend(hex("45000054 00004000 40010000 0a630001 0a630002 0800"));
        b.resize(b.len() + 60, 0);
        let s = describe_payload(Mac::ZERO, &b).unwrap();
        assert!(s.contains("UCAST, ttvn 5, ttl 50"), "{s}");
        assert!(
            s.contains("IP 10.99.0.1 > 10.99.0.2: ICMP echo request"),
            "{s}"
        );
    }

    #[test]
    fn malformed_and_foreign_frames_are_named_not_fatal() {
        let mut f = vec![0xff; 12];
        f.extend([0x43, 0x05, 0x00, 0x0f]);
        assert!(describe_frame(&f).contains("malformed"));
        let mut g = vec![0; 12];
        g.extend([0x08, 0x00, 1, 2, 3]);
        assert!(describe_frame(&g).contains("ethertype 0x0800"));
        assert!(describe_frame(&[1, 2]).contains("truncated"));
        assert!(describe_payload(Mac::ZERO, &[]).is_err());
        assert!(describe_inner(&[0; 13]).contains("truncated"));
    }
}
