//! The anonymous path: onion circuits ([`onion::circuit`]) on mesh0.
//!
//! A packet the kernel routes into mesh0 goes anonymously when the policy
//! says so for its destination (default: all of fd00::/8, which is every
//! node address and LAN /64; configurable per prefix in `[onion]`); it
//! then travels inside a circuit through [`onion::circuit::Config::relays`]
//! relays to the node that owns the destination, and arrives there from a
//! pseudonym (fd6d:6573:6864::/48). A packet to one of our pseudonyms goes
//! back along its circuit. Everything else takes the direct end-to-end
//! session ([`crate::mesh0`]). IPv4 always goes direct: pseudonyms are
//! IPv6.
//!
//! Cells travel as one TVLV of type [`TVLV_CELL`] in a meshd frame
//! ([`crate::carrier`]): 10 (batman UNICAST) + 14 (inner Ethernet) + 4
//! (TVLV header) + 1472 (cell) = 1500 bytes, one plain link MTU, the same
//! for every cell on every link.

use std::net::{IpAddr, Ipv6Addr};

use batman::wire::{TvlvRepr, TvlvType};
use batman::{Mac, Node, RngCore};
use onion::circuit::select::{pick_relays, Candidate};
use onion::circuit::{Event, Onion, PathHop};
use onion::NodeId;

use crate::daemon::LogLevel;
use crate::ident::{unix_now, Ident};
use crate::mesh0::{addresses, own, source_allowed};
use crate::sys::random::OsRng;
use crate::sys::tap::Tap;

/// TVLV type of onion cells (in meshd frames).
pub const TVLV_CELL: u8 = 0xa6;
pub const TVLV_CELL_VERSION: u8 = 1;
/// Bytes of a meshd frame carrying a cell, batman UNICAST header included.
pub const CELL_FRAME_LEN: usize = crate::carrier::OVERHEAD + 4 + onion::cell::CELL_LEN;
const _: () = assert!(CELL_FRAME_LEN == 1500);

/// Which destinations go anonymously: prefixes with a verdict, the
/// longest match wins; no match: direct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<(Ipv6Addr, u8, bool)>,
}

impl Default for Policy {
    /// Everything in fd00::/8 (node addresses, LANs, `.mesh` names).
    fn default() -> Self {
        Policy {
            rules: vec![(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0), 8, true)],
        }
    }
}

impl Policy {
    /// A policy from the prefixes to send anonymously and those to send
    /// direct (`fd00::/8`); a prefix with host bits set is refused.
    pub fn new(anonymous: &[String], direct: &[String]) -> Result<Policy, String> {
        let mut rules = Vec::new();
        for (list, anon) in [(anonymous, true), (direct, false)] {
            for p in list {
                let (a, len) = parse_prefix(p)?;
                rules.push((a, len, anon));
            }
        }
        Ok(Policy { rules })
    }

    /// Does traffic to `dst` go anonymously?
    pub fn anonymous(&self, dst: &Ipv6Addr) -> bool {
        self.rules
            .iter()
            .filter(|(p, len, _)| in_prefix(dst, p, *len))
            .max_by_key(|(_, len, _)| *len)
            .is_some_and(|r| r.2)
    }

    /// Does any prefix go anonymously?
    pub fn any_anonymous(&self) -> bool {
        self.rules.iter().any(|r| r.2)
    }

    /// The prefixes sent direct.
    pub fn direct_prefixes(&self) -> impl Iterator<Item = (Ipv6Addr, u8)> + '_ {
        self.rules.iter().filter(|r| !r.2).map(|r| (r.0, r.1))
    }

    /// The rules as written, for the log.
    pub fn describe(&self) -> String {
        if self.rules.is_empty() {
            return "nothing anonymous".into();
        }
        let v: Vec<String> = self
            .rules
            .iter()
            .map(|(a, l, anon)| format!("{a}/{l} {}", if *anon { "anonymous" } else { "direct" }))
            .collect();
        v.join(", ")
    }
}

fn in_prefix(a: &Ipv6Addr, p: &Ipv6Addr, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    u128::from(*a) & mask == u128::from(*p)
}

/// `fd00::/8` as (address, length), host bits refused.
pub fn parse_prefix(s: &str) -> Result<(Ipv6Addr, u8), String> {
    let (a, l) = s
        .split_once('/')
        .ok_or_else(|| format!("prefix {s:?}: want ADDRESS/LENGTH, e.g. fd00::/8"))?;
    let a: Ipv6Addr = a
        .parse()
        .map_err(|_| format!("prefix {s:?}: {a:?} is not an IPv6 address"))?;
    let len: u8 = l
        .parse()
        .ok()
        .filter(|l| *l <= 128)
        .ok_or_else(|| format!("prefix {s:?}: length {l:?} is not 0..=128"))?;
    if !in_prefix(&a, &a, len) {
        return Err(format!("prefix {s:?} has host bits set"));
    }
    Ok((a, len))
}

/// Counters of the daemon side (the engine has its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CircStats {
    pub to_tun: u64,
    pub drop_no_owner: u64,
    pub drop_bad_source: u64,
    pub drop_not_ours: u64,
    pub drop_send: u64,
    pub drop_foreign_source: u64,
    pub no_path: u64,
    pub fewer_relays: u64,
    pub too_big_sent: u64,
}

/// The engine with its policy.
pub struct Circuits {
    pub engine: Onion,
    pub policy: Policy,
    pub stats: CircStats,
    keys: Vec<[u8; 32]>,
    /// The daemon's clock at the latest input (the core's `now` may be
    /// older: it moves with routing events only).
    now_ms: u64,
    /// ICMPv6 errors of ours waiting for the TUN.
    to_tun: Vec<Vec<u8>>,
    log: LogLevel,
}

impl Circuits {
    pub fn new(
        me: Mac,
        id: &Ident,
        cfg: onion::circuit::Config,
        policy: Policy,
        log: LogLevel,
    ) -> Self {
        let keys = id.onion_keys();
        let pubs = keys.iter().map(|k| k.public()).collect();
        if log >= LogLevel::Info {
            eprintln!(
                "meshd: onion circuits: {} relays, rotate every {} s; {}",
                cfg.relays,
                cfg.rotate_ms / 1000,
                policy.describe()
            );
        }
        Circuits {
            engine: Onion::new(me.0, id.node_id(), keys, cfg),
            policy,
            stats: CircStats::default(),
            keys: pubs,
            now_ms: 0,
            to_tun: Vec::new(),
            log,
        }
    }

    /// A packet from mesh0: taken (true) when it is a reply to one of our
    /// pseudonyms or its destination goes anonymously.
    pub fn outbound(&mut self, now_ms: u64, id: &Ident, packet: &[u8]) -> bool {
        self.now_ms = self.now_ms.max(now_ms);
        let Some((IpAddr::V6(src), IpAddr::V6(dst))) = addresses(packet) else {
            return false;
        };
        if onion::pseudo::is_pseudonym(&dst) {
            if let Err(e) = self.engine.reply_packet(now_ms, packet) {
                if self.log >= LogLevel::Debug {
                    eprintln!("meshd: circuits: reply to {dst} dropped: {e}");
                }
            }
            return true;
        }
        let own = own(id);
        // An app that binds to an address of our anonymous /64 chooses a
        // circuit whatever the policy says about the destination.
        let anon_src = own.is_anon(IpAddr::V6(src));
        if !self.policy.anonymous(&dst) && !anon_src {
            return false;
        }
        if !own.is_ours(IpAddr::V6(src)) && !anon_src {
            // We carry our own node's and our LAN's packets only.
            self.stats.drop_foreign_source += 1;
            return true;
        }
        let Some(peer) = crate::mesh0::owner(&id.directory, &own, IpAddr::V6(dst)) else {
            self.stats.drop_no_owner += 1;
            return true;
        };
        match self.engine.send_packet(now_ms, &mut OsRng, peer, packet) {
            Ok(()) => {}
            Err(onion::circuit::SendError::TooBig(_)) => {
                if let Some(ptb) = packet_too_big(id.node_address(), packet) {
                    self.to_tun.push(ptb);
                }
            }
            Err(e) => {
                if self.log >= LogLevel::Debug {
                    eprintln!("meshd: circuits: to {}: {e}", onion::addr::name(&peer));
                }
            }
        }
        true
    }

    /// A cell from originator `from`.
    pub fn on_cell(&mut self, now_ms: u64, from: Mac, cell: &[u8]) {
        self.now_ms = self.now_ms.max(now_ms);
        self.engine.handle_cell(now_ms, &mut OsRng, from.0, cell);
    }

    /// Send the engine's cells, act on its events.
    pub fn drain<R: RngCore>(&mut self, id: &Ident, node: &mut Node<R>, tun: &Tap) {
        while let Some((to, cell)) = self.engine.poll_transmit() {
            let mut area = Vec::with_capacity(4 + cell.len());
            TvlvRepr {
                tvlv_type: TvlvType::Unknown(TVLV_CELL),
                version: TVLV_CELL_VERSION,
                value: &cell[..],
            }
            .append_to(&mut area);
            if crate::carrier::send(node, Mac(to), &area).is_err() {
                self.stats.drop_send += 1;
            }
        }
        for p in self.to_tun.drain(..) {
            if tun.send(&p).is_ok() {
                self.stats.too_big_sent += 1;
            }
        }
        let own = own(id);
        while let Some(ev) = self.engine.poll_event() {
            match ev {
                Event::Deliver { packet, from } => {
                    let Some((src, dst)) = addresses(&packet) else {
                        continue;
                    };
                    if let Some(peer) = from {
                        if !source_allowed(&id.directory, &peer, src) {
                            self.stats.drop_bad_source += 1;
                            continue;
                        }
                    }
                    // Replies on our circuits may go to the anonymous /64;
                    // what arrives at us as a destination may not.
                    let ours = own.is_ours(dst) || (from.is_some() && own.is_anon(dst));
                    if !ours {
                        self.stats.drop_not_ours += 1;
                        continue;
                    }
                    match tun.send(&packet) {
                        Ok(_) => self.stats.to_tun += 1,
                        Err(_) => self.stats.drop_send += 1,
                    }
                }
                Event::NeedPath { dest, avoid } => self.need_path(id, node, dest, &avoid),
                Event::Built { dest, ms, relays } => {
                    if self.log >= LogLevel::Debug {
                        eprintln!(
                            "meshd: circuit to {} through {relays} relays ready in {ms} ms",
                            short(&dest)
                        );
                    }
                }
                Event::Failed { dest, why } => {
                    if self.log >= LogLevel::Info {
                        eprintln!("meshd: circuit to {}: {why}", short(&dest));
                    }
                }
            }
        }
    }

    /// Pick relays for a circuit to `dest` among the directory's nodes we
    /// have a route to.
    fn need_path<R: RngCore>(
        &mut self,
        id: &Ident,
        node: &Node<R>,
        dest: NodeId,
        avoid: &[NodeId],
    ) {
        let now = unix_now();
        let hop = |n: &NodeId| -> Option<(PathHop, bool)> {
            let e = id.directory.get(n)?;
            node.next_hop(Mac(e.ann.orig))?;
            let onion = *id.directory.onion_keys(n, now).first()?;
            Some((
                PathHop {
                    id: *n,
                    orig: e.ann.orig,
                    onion,
                },
                node.is_one_hop(Mac(e.ann.orig)),
            ))
        };
        let now_ms = self.now_ms;
        let Some((d, _)) = hop(&dest) else {
            self.stats.no_path += 1;
            self.engine.no_path(now_ms, dest);
            return;
        };
        let cands: Vec<Candidate> = id
            .directory
            .entries()
            .filter_map(|e| hop(&e.ann.node))
            .map(|(hop, neighbour)| Candidate { hop, neighbour })
            .collect();
        let want = self.engine.config().relays;
        let me = id.node_id();
        // As many relays as asked for; a mesh too small for them gets as
        // many as it has (at least one), and `meshctl circuits` shows it.
        let mut picked = pick_relays(&mut OsRng, &cands, &me, &dest, want, avoid);
        for n in (1..want).rev() {
            if picked.is_ok() {
                break;
            }
            picked = pick_relays(&mut OsRng, &cands, &me, &dest, n, avoid);
            if picked.is_ok() {
                self.stats.fewer_relays += 1;
                if self.log >= LogLevel::Debug {
                    eprintln!(
                        "meshd: circuit to {} with {n} of {want} relays: the mesh has no more",
                        short(&dest)
                    );
                }
            }
        }
        match picked {
            Ok(relays) => {
                if let Err(e) = self.engine.build(now_ms, &mut OsRng, d, relays) {
                    self.stats.no_path += 1;
                    eprintln!("meshd: circuit to {}: {e}", short(&dest));
                    self.engine.no_path(now_ms, dest);
                }
            }
            Err(e) => {
                self.stats.no_path += 1;
                if self.log >= LogLevel::Info {
                    eprintln!("meshd: no circuit to {}: {e}", short(&dest));
                }
                self.engine.no_path(now_ms, dest);
            }
        }
    }

    /// Timers; new onion keys after a rotation.
    pub fn tick(&mut self, now_ms: u64, id: &Ident) {
        self.now_ms = self.now_ms.max(now_ms);
        let keys = id.onion_keys();
        let pubs: Vec<[u8; 32]> = keys.iter().map(|k| k.public()).collect();
        if pubs != self.keys {
            self.engine.set_onion_keys(keys);
            self.keys = pubs;
        }
        self.engine.handle_timeout(now_ms, &mut OsRng);
    }

    /// `meshctl circuits`: our circuits (hops as short key hashes) and, as
    /// a relay, counts only.
    pub fn json(&self, now_ms: u64) -> String {
        let rows: Vec<String> = self
            .engine
            .circuits(now_ms)
            .into_iter()
            .map(|c| {
                let hops: Vec<String> = c.hops.iter().map(|h| crate::ctl::js(&short(h))).collect();
                format!(
                    "{{\"dest\":{},\"hops\":[{}],\"state\":{},\"age_ms\":{},\"tx_bytes\":{},\"rx_bytes\":{}}}",
                    crate::ctl::js(&short(&c.dest)),
                    hops.join(","),
                    crate::ctl::js(c.state),
                    c.age_ms,
                    c.tx_bytes,
                    c.rx_bytes
                )
            })
            .collect();
        let r = self.engine.relay_counts();
        format!(
            "{{\"ok\":true,\"rows\":[{}],\"relay\":{{\"relaying\":{},\"ending\":{},\"extending\":{},\"prev_hops\":{},\"groups\":{},\"pseudonyms\":{}}}}}",
            rows.join(","),
            r.relaying,
            r.ending,
            r.extending,
            r.prev_hops,
            r.groups,
            r.pseudonyms
        )
    }
}

/// An ICMPv6 "packet too big" (RFC 4443 3.2) from `from` to the source of
/// `packet`, telling it the circuit MTU; None for ICMPv6 errors (never
/// answered with an error) and unparsable packets.
pub fn packet_too_big(from: Ipv6Addr, packet: &[u8]) -> Option<Vec<u8>> {
    let (IpAddr::V6(src), _) = addresses(packet)? else {
        return None;
    };
    if packet.len() > 41 && packet[6] == 58 && packet[40] < 128 {
        return None;
    }
    let mtu = crate::mesh0::CIRCUIT_MTU;
    let quoted = packet.len().min(mtu as usize - 48);
    let len = 8 + quoted;
    let mut p = Vec::with_capacity(40 + len);
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p.extend_from_slice(&[58, 64]);
    p.extend_from_slice(&from.octets());
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&[2, 0, 0, 0]);
    p.extend_from_slice(&mtu.to_be_bytes());
    p.extend_from_slice(&packet[..quoted]);
    let c = icmpv6_checksum(&p);
    p[42..44].copy_from_slice(&c.to_be_bytes());
    Some(p)
}

/// The ICMPv6 checksum of a packet (checksum field taken as zero).
fn icmpv6_checksum(p: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&p[8..40]);
    add(&((p.len() - 40) as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(&p[40..42]);
    add(&p[44..]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A node ID as a short key hash: the first 8 hex digits of its name hash.
pub fn short(id: &NodeId) -> String {
    let name = onion::addr::name(id);
    name.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_default_is_fd00_8() {
        let p = Policy::default();
        assert!(p.anonymous(&"fd12::1".parse().unwrap()));
        assert!(!p.anonymous(&"2001:db8::1".parse().unwrap()));
        let p = Policy::new(
            &["fd00::/8".into(), "fd12:3456::/32".into()],
            &["fd12::/16".into()],
        )
        .unwrap();
        assert!(!p.anonymous(&"fd12:1::1".parse().unwrap()));
        assert!(p.anonymous(&"fd12:3456::1".parse().unwrap()));
        assert!(p.anonymous(&"fd99::1".parse().unwrap()));
        let none = Policy::new(&[], &[]).unwrap();
        assert!(!none.anonymous(&"fd12::1".parse().unwrap()));
    }

    #[test]
    fn bad_prefixes_are_refused_with_the_reason() {
        for (s, why) in [
            ("fd00::", "ADDRESS/LENGTH"),
            ("fd00::1/8", "host bits"),
            ("fd00::/129", "length"),
            ("10.0.0.0/8", "not an IPv6"),
        ] {
            let e = parse_prefix(s).unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn packet_too_big_quotes_the_packet_and_sums_to_zero() {
        let me: Ipv6Addr = "fd01::1".parse().unwrap();
        let mut big = vec![0u8; 1400];
        big[0] = 0x60;
        big[4..6].copy_from_slice(&1360u16.to_be_bytes());
        big[6] = 17;
        big[8..24].copy_from_slice(&"fd02::2".parse::<Ipv6Addr>().unwrap().octets());
        big[24..40].copy_from_slice(&"fd03::3".parse::<Ipv6Addr>().unwrap().octets());
        let p = packet_too_big(me, &big).unwrap();
        assert_eq!(p.len(), 1280);
        assert_eq!(p[6], 58);
        assert_eq!(&p[24..40], &big[8..24]);
        assert_eq!(p[40], 2);
        assert_eq!(p[44..48], 1280u32.to_be_bytes());
        assert_eq!(&p[48..], &big[..1232]);
        // The checksum verifies: summing with it gives 0xffff.
        let c = u16::from_be_bytes([p[42], p[43]]);
        let mut q = p.clone();
        q[42] = 0;
        q[43] = 0;
        assert_eq!(icmpv6_checksum(&q), c);
        // An ICMPv6 error is not answered with one.
        let mut err = big.clone();
        err[6] = 58;
        err[40] = 1;
        assert!(packet_too_big(me, &err).is_none());
        assert!(packet_too_big(me, &[0x45; 60]).is_none());
    }

    #[test]
    fn a_cell_fills_one_1500_byte_frame() {
        assert_eq!(CELL_FRAME_LEN, 1500);
    }
}
