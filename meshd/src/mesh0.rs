//! The L3 path: the `mesh0` TUN and the end-to-end encrypted sessions.
//!
//! `mesh0` holds the node address (fd00::/8, from the identity key) and the
//! node's IPv4 address (first host of its /24 claim); fd00::/8 and the IPv4
//! pool are routed into it. A packet read from it goes to the node that
//! owns its destination (the verified directory: node address, LAN /64,
//! /24 claim) inside an [`onion::session`] session, as a TVLV of type
//! [`TVLV_E2E`] in a meshd frame ([`crate::carrier`]: batman UNICAST, which
//! kernel batman-adv relays forward too). A packet that arrives that way is decrypted, its
//! source checked against the key of the node that sent it (its node
//! address, its LAN /64 or its /24: anything else is dropped and counted),
//! its destination checked to be ours, and written to `mesh0`; the kernel
//! routes it on to the LAN.
//!
//! MTU: the carrier's headers (batman UNICAST 10, inner Ethernet 14), the
//! TVLV header (4) and the session's overhead come out of a 1500-byte link
//! MTU, so a 1280-byte IPv6 packet (and
//! anything up to [`MTU`]) crosses a plain 1500-byte link unfragmented;
//! smaller links get batman fragmentation.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;

use batman::wire::{TvlvRepr, TvlvType};
use batman::{Mac, Node, RngCore};
use onion::directory::{net24, Directory};
use onion::session::{Output, PeerKeys, RecvError, Sessions};
use onion::NodeId;
use tokio::io::unix::AsyncFd;

use crate::daemon::LogLevel;
use crate::ident::{unix_now, Ident};
use crate::sys::random::OsRng;
use crate::sys::rtnl;
use crate::sys::tap::Tap;

/// TVLV type of end-to-end session messages (in meshd frames).
pub const TVLV_E2E: u8 = 0xa5;
pub const TVLV_E2E_VERSION: u8 = 1;
/// The carrier's headers plus one TVLV header.
pub const ENCAP_LEN: usize = crate::carrier::OVERHEAD + 4;
/// mesh0's MTU: what fits a 1500-byte link after encapsulation.
pub const MTU: u16 = (1500 - ENCAP_LEN - onion::session::OVERHEAD) as u16;
const _: () = assert!(MTU >= 1280, "IPv6 needs 1280 bytes");
/// The path MTU of destinations reached through onion circuits.
pub const CIRCUIT_MTU: u32 = 1280;
const _: () = assert!(CIRCUIT_MTU as usize <= onion::circuit::msg::MAX_PACKET);

/// Addresses that reached us over the direct path, remembered this long
/// (and at most this many) so that replies to them go direct as well,
/// whatever our own policy says: the initiator chose the path of its flow.
pub const DIRECT_PEER_TTL_MS: u64 = 600_000;
pub const MAX_DIRECT_PEERS: usize = 4096;

/// Handshakes kept while their sender's record is fetched, at most, and
/// for how long.
pub const MAX_STASHED: usize = 16;
pub const STASH_TTL_MS: u64 = 3_000;

/// Counters for `meshctl s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mesh0Stats {
    pub tx_packets: u64,
    pub rx_packets: u64,
    pub drop_no_owner: u64,
    pub drop_bad_source: u64,
    pub drop_not_ours: u64,
    pub drop_malformed: u64,
    pub drop_send: u64,
    /// Multicast and link-local destinations (the kernel's own IPv6
    /// chatter on the TUN).
    pub drop_link_local: u64,
}

/// Can `a` be the destination of a packet across the mesh?
pub fn routable(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => !(a.is_multicast() || a.is_broadcast() || a.is_link_local()),
        IpAddr::V6(a) => !(a.is_multicast() || (a.segments()[0] & 0xffc0) == 0xfe80),
    }
}

/// Source and destination of an IPv4 or IPv6 packet.
pub fn addresses(p: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 => {
            let s: [u8; 4] = p[12..16].try_into().ok()?;
            let d: [u8; 4] = p[16..20].try_into().ok()?;
            Some((Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into()))
        }
        6 if p.len() >= 40 => {
            let s: [u8; 16] = p[8..24].try_into().ok()?;
            let d: [u8; 16] = p[24..40].try_into().ok()?;
            Some((Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into()))
        }
        _ => None,
    }
}

/// The /64 network holding `a`.
fn net64(a: Ipv6Addr) -> Ipv6Addr {
    let mut o = a.octets();
    o[8..].fill(0);
    Ipv6Addr::from(o)
}

/// This node's addresses, as the L3 path checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Own {
    pub id: NodeId,
    pub node_addr: Ipv6Addr,
    pub lan_prefix: Ipv6Addr,
    /// The anonymous /64: its addresses leave only inside circuits, and
    /// nothing from the mesh may reach them but circuit replies.
    pub anon_prefix: Ipv6Addr,
    pub ipv4_net: Ipv4Addr,
}

impl Own {
    /// Is `a` one of ours (node address, LAN /64, /24)?
    pub fn is_ours(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V6(a) => a == self.node_addr || net64(a) == self.lan_prefix,
            IpAddr::V4(a) => net24(a) == self.ipv4_net,
        }
    }

    /// Is `a` in our anonymous /64?
    pub fn is_anon(&self, a: IpAddr) -> bool {
        matches!(a, IpAddr::V6(a) if net64(a) == self.anon_prefix)
    }
}

/// Which node a packet to `dst` goes to; None when nobody owns it (or it
/// is ours).
pub fn owner(dir: &Directory, own: &Own, dst: IpAddr) -> Option<NodeId> {
    if own.is_ours(dst) {
        return None;
    }
    match dst {
        IpAddr::V6(a) => dir.owner_v6(a).map(|e| e.ann.node),
        IpAddr::V4(a) => dir.owner_v4(a).map(|e| e.ann.node),
    }
}

/// May node `from` send a packet with source `src`? Its node address, an
/// address in its LAN /64, or in the /24 the directory gives it.
pub fn source_allowed(dir: &Directory, from: &NodeId, src: IpAddr) -> bool {
    match src {
        // The directory holds the addresses each node ID gives (derived
        // once per record, a SHA-256 each); derive them only for a node it
        // does not hold.
        IpAddr::V6(a) => match dir.get(from) {
            Some(e) => a == e.node_addr || net64(a) == e.lan_prefix,
            None => {
                a == onion::addr::node_address(from) || net64(a) == onion::addr::lan_prefix(from)
            }
        },
        IpAddr::V4(a) => dir.owner_v4(a).is_some_and(|e| &e.ann.node == from),
    }
}

/// The running L3 path.
pub struct Mesh0 {
    pub tun: Rc<AsyncFd<Tap>>,
    pub name: String,
    ifindex: i32,
    pub sessions: Sessions,
    /// The anonymous path; created once the node has an originator.
    pub circuits: Option<crate::circuits::Circuits>,
    circuit_cfg: (onion::circuit::Config, crate::circuits::Policy),
    pub stats: Mesh0Stats,
    /// The IPv4 host address on mesh0 (first of the /24).
    v4: Ipv4Addr,
    /// Onion public keys last given to the sessions.
    keys: Vec<[u8; 32]>,
    /// Handshakes from nodes whose record was still missing: (orig, msg,
    /// when).
    stash: Vec<(Mac, Vec<u8>, u64)>,
    /// IPv6 sources of packets that came over the direct path, and when.
    direct_peers: std::collections::HashMap<Ipv6Addr, u64>,
    log: LogLevel,
}

fn host1(net: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net) | 1)
}

impl Mesh0 {
    /// Create the TUN `name` with the node's addresses and the mesh routes.
    pub fn open(
        name: &str,
        id: &Ident,
        circuit_cfg: (onion::circuit::Config, crate::circuits::Policy),
        log: LogLevel,
    ) -> io::Result<Mesh0> {
        let ctx =
            |what: String| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
        let tun = Tap::open_tun(name, MTU).map_err(ctx(format!(
            "L3 interface {name} (needs root or CAP_NET_ADMIN)"
        )))?;
        let ifindex = rtnl::ifindex(name).map_err(ctx(format!("L3 interface {name}")))?;
        let v4 = host1(id.ipv4_net());
        let pool = id.pool_net();
        for (a, len) in [(IpAddr::V6(id.node_address()), 128), (IpAddr::V4(v4), 32)] {
            rtnl::add_address(ifindex, a, len)
                .map_err(ctx(format!("{name}: address {a}/{len}")))?;
        }
        // Anonymous destinations get a path MTU of 1280 (one cell carries
        // at most 1295 bytes); prefixes the policy sends direct keep the
        // TUN's MTU through routes of their own.
        let anon_mtu = circuit_cfg.1.any_anonymous().then_some(CIRCUIT_MTU);
        let mut routes = vec![
            (
                IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0)),
                8,
                anon_mtu,
            ),
            (IpAddr::V4(pool.0), pool.1, None),
        ];
        if anon_mtu.is_some() {
            for (p, len) in circuit_cfg.1.direct_prefixes() {
                routes.push((IpAddr::V6(p), len, None));
            }
        }
        for (a, len, mtu) in routes {
            match mtu {
                Some(m) => rtnl::add_route_mtu(ifindex, a, len, m),
                None => rtnl::add_route(ifindex, a, len),
            }
            .map_err(ctx(format!("{name}: route {a}/{len}")))?;
        }
        let mut sessions = Sessions::new(id.node_id());
        let keys = id.onion_keys();
        let pubs = keys.iter().map(|k| k.public()).collect();
        sessions.set_local_keys(keys);
        if log >= LogLevel::Info {
            eprintln!(
                "meshd: {name} up, mtu {MTU}, {}/128 and {v4}/32",
                id.node_address()
            );
        }
        Ok(Mesh0 {
            tun: Rc::new(tun.into_async()?),
            name: name.to_string(),
            ifindex,
            sessions,
            circuits: None,
            circuit_cfg,
            stats: Mesh0Stats::default(),
            v4,
            keys: pubs,
            stash: Vec::new(),
            direct_peers: std::collections::HashMap::new(),
            log,
        })
    }

    /// A packet the kernel routed into mesh0: to its owner's session.
    pub fn outbound(&mut self, now_ms: u64, id: &Ident, packet: &[u8]) {
        let reply_direct = match addresses(packet) {
            Some((src, IpAddr::V6(dst))) => {
                !own(id).is_anon(src)
                    && self
                        .direct_peers
                        .get(&dst)
                        .is_some_and(|t| now_ms.saturating_sub(*t) < DIRECT_PEER_TTL_MS)
            }
            _ => false,
        };
        if let Some(c) = self.circuits.as_mut().filter(|_| !reply_direct) {
            if c.outbound(now_ms, id, packet) {
                return;
            }
        }
        if addresses(packet).is_some_and(|(src, _)| own(id).is_anon(src)) {
            // Never direct: the anonymous /64 leaves only inside circuits
            // (none yet, before the node has an originator).
            self.stats.drop_no_owner += 1;
            return;
        }
        let Some((_, dst)) = addresses(packet) else {
            self.stats.drop_malformed += 1;
            return;
        };
        if !routable(dst) {
            // The kernel's own link-local chatter on the TUN (router
            // solicitations, MLD): nobody to send it to.
            self.stats.drop_link_local += 1;
            return;
        }
        let Some(peer) = owner(&id.directory, &own(id), dst) else {
            self.stats.drop_no_owner += 1;
            return;
        };
        let keys = PeerKeys {
            id: peer,
            onion: id.directory.onion_keys(&peer, unix_now()),
        };
        match self.sessions.send(now_ms, &mut OsRng, &keys, packet) {
            Ok(()) => self.stats.tx_packets += 1,
            Err(e) => {
                self.stats.drop_send += 1;
                if self.log >= LogLevel::Debug {
                    eprintln!("meshd: {}: to {}: {e}", self.name, onion::addr::name(&peer));
                }
            }
        }
    }

    /// A session message from originator `orig`. Returns true when it was
    /// a handshake from a node the directory does not hold yet: the caller
    /// asks `orig` for its record, and the message is kept (at most
    /// [`MAX_STASHED`], for [`STASH_TTL_MS`]) to be tried again when the
    /// record arrives ([`Mesh0::replay_stashed`]).
    pub fn inbound(&mut self, now_ms: u64, id: &Ident, orig: Mac, msg: &[u8]) -> bool {
        let hint = id.directory.by_orig(&orig.0).map(|e| e.ann.node);
        let dir = &id.directory;
        let now = unix_now();
        let lookup = |n: &NodeId| -> Option<PeerKeys> {
            let onion = dir.onion_keys(n, now);
            (!onion.is_empty()).then_some(PeerKeys { id: *n, onion })
        };
        match self.sessions.handle(now_ms, &mut OsRng, msg, hint, &lookup) {
            Ok(()) => false,
            Err(RecvError::UnknownPeer) if hint.is_none() => {
                self.stash
                    .retain(|s| now_ms.saturating_sub(s.2) < STASH_TTL_MS);
                if self.stash.len() >= MAX_STASHED {
                    self.stash.remove(0);
                }
                self.stash.push((orig, msg.to_vec(), now_ms));
                true
            }
            Err(e) => {
                if self.log >= LogLevel::Debug {
                    eprintln!("meshd: {}: message from {orig} dropped: {e}", self.name);
                }
                false
            }
        }
    }

    /// The directory may now know `orig`: try its kept handshakes again.
    pub fn replay_stashed(&mut self, now_ms: u64, id: &Ident, orig: Mac) {
        if id.directory.by_orig(&orig.0).is_none() || !self.stash.iter().any(|s| s.0 == orig) {
            return;
        }
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.stash)
            .into_iter()
            .partition(|s| s.0 == orig);
        self.stash = rest;
        for (o, msg, t) in mine {
            if now_ms.saturating_sub(t) < STASH_TTL_MS {
                self.inbound(now_ms, id, o, &msg);
            }
        }
    }

    /// Carry out the sessions' outputs: messages into the mesh, checked
    /// packets onto mesh0.
    pub fn drain<R: RngCore>(&mut self, id: &Ident, node: &mut Node<R>) {
        if let Some(c) = self.circuits.as_mut() {
            c.drain(id, node, self.tun.get_ref());
        }
        let own = own(id);
        while let Some(o) = self.sessions.poll_output() {
            match o {
                Output::Transmit { to, bytes } => {
                    let Some(e) = id.directory.get(&to) else {
                        self.stats.drop_send += 1;
                        continue;
                    };
                    let Some(area) = e2e_area(&bytes) else {
                        self.stats.drop_send += 1;
                        continue;
                    };
                    if crate::carrier::send(node, Mac(e.ann.orig), &area).is_err() {
                        self.stats.drop_send += 1;
                    }
                }
                Output::Deliver { from, packet } => {
                    if packet.is_empty() {
                        continue; // keepalive
                    }
                    let Some((src, dst)) = addresses(&packet) else {
                        self.stats.drop_malformed += 1;
                        continue;
                    };
                    if !source_allowed(&id.directory, &from, src) {
                        self.stats.drop_bad_source += 1;
                        if self.log >= LogLevel::Debug {
                            eprintln!(
                                "meshd: {}: {src} is not an address of {}: dropped",
                                self.name,
                                onion::addr::name(&from)
                            );
                        }
                        continue;
                    }
                    if !own.is_ours(dst) {
                        self.stats.drop_not_ours += 1;
                        continue;
                    }
                    if let IpAddr::V6(s) = src {
                        self.note_direct_peer(s, node.now().as_millis());
                    }
                    match self.tun.get_ref().send(&packet) {
                        Ok(_) => self.stats.rx_packets += 1,
                        Err(_) => self.stats.drop_send += 1,
                    }
                }
            }
        }
    }

    /// Remember that `a` reached us directly (bounded: the oldest goes).
    fn note_direct_peer(&mut self, a: Ipv6Addr, now_ms: u64) {
        if !self.direct_peers.contains_key(&a) && self.direct_peers.len() >= MAX_DIRECT_PEERS {
            self.direct_peers
                .retain(|_, t| now_ms.saturating_sub(*t) < DIRECT_PEER_TTL_MS);
            if self.direct_peers.len() >= MAX_DIRECT_PEERS {
                if let Some(old) = self.direct_peers.iter().min_by_key(|e| *e.1).map(|e| *e.0) {
                    self.direct_peers.remove(&old);
                }
            }
        }
        self.direct_peers.insert(a, now_ms);
    }

    /// Once a second: session timers, new onion keys, a moved /24.
    pub fn tick(&mut self, now_ms: u64, id: &Ident, me: Option<Mac>) {
        match (&mut self.circuits, me) {
            (Some(c), _) => c.tick(now_ms, id),
            (None, Some(me)) => {
                let (cfg, policy) = self.circuit_cfg.clone();
                self.circuits = Some(crate::circuits::Circuits::new(
                    me, id, cfg, policy, self.log,
                ));
            }
            (None, None) => {}
        }
        let keys = id.onion_keys();
        let pubs: Vec<[u8; 32]> = keys.iter().map(|k| k.public()).collect();
        if pubs != self.keys {
            self.sessions.set_local_keys(keys);
            self.keys = pubs;
        }
        self.sessions.handle_timeout(now_ms, &mut OsRng);
        let v4 = host1(id.ipv4_net());
        if v4 != self.v4 {
            if let Err(e) = rtnl::add_address(self.ifindex, IpAddr::V4(v4), 32) {
                eprintln!("meshd: {}: address {v4}: {e}", self.name);
            }
            let _ = rtnl::del_address(self.ifindex, IpAddr::V4(self.v4), 32);
            self.v4 = v4;
        }
    }
}

/// This node's addresses from its identity.
pub fn own(id: &Ident) -> Own {
    Own {
        id: id.node_id(),
        node_addr: id.node_address(),
        lan_prefix: id.lan_prefix(),
        anon_prefix: id.anon_prefix(),
        ipv4_net: id.ipv4_net(),
    }
}

/// A TVLV area carrying one session message.
pub fn e2e_area(msg: &[u8]) -> Option<Vec<u8>> {
    if msg.len() > usize::from(u16::MAX) {
        return None;
    }
    let mut out = Vec::with_capacity(4 + msg.len());
    TvlvRepr {
        tvlv_type: TvlvType::Unknown(TVLV_E2E),
        version: TVLV_E2E_VERSION,
        value: msg,
    }
    .append_to(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_v4_and_v6_packets_and_garbage() {
        let mut v4 = vec![0x45u8; 20];
        v4[12..16].copy_from_slice(&[10, 0, 0, 1]);
        v4[16..20].copy_from_slice(&[10, 0, 1, 2]);
        assert_eq!(
            addresses(&v4),
            Some((
                Ipv4Addr::new(10, 0, 0, 1).into(),
                Ipv4Addr::new(10, 0, 1, 2).into()
            ))
        );
        let mut v6 = vec![0u8; 40];
        v6[0] = 0x60;
        v6[8] = 0xfd;
        v6[24] = 0xfd;
        v6[39] = 1;
        let (s, d) = addresses(&v6).unwrap();
        assert_eq!(s, "fd00::".parse::<IpAddr>().unwrap());
        assert_eq!(d, "fd00::1".parse::<IpAddr>().unwrap());
        assert_eq!(addresses(&v6[..39]), None);
        assert_eq!(addresses(&v4[..19]), None);
        assert_eq!(addresses(&[]), None);
        assert_eq!(addresses(&[0x15; 60]), None);
    }

    #[test]
    fn mtu_lets_1280_byte_ipv6_through_a_1500_byte_link() {
        let mtu = usize::from(MTU);
        assert_eq!(mtu + ENCAP_LEN + onion::session::OVERHEAD, 1500);
        assert!(mtu >= 1280, "a 1280-byte IPv6 packet fits");
    }

    #[test]
    fn own_addresses_and_sources() {
        let id = [1u8; 32];
        let own = Own {
            id,
            node_addr: onion::addr::node_address(&id),
            lan_prefix: onion::addr::lan_prefix(&id),
            anon_prefix: onion::addr::anon_prefix(&id),
            ipv4_net: Ipv4Addr::new(10, 224, 224, 0),
        };
        assert!(own.is_ours(own.node_addr.into()));
        // The anonymous /64 is not "ours" for the direct path, and no
        // other node may send from it.
        let mut anon = own.anon_prefix.octets();
        anon[15] = 0x42;
        assert!(own.is_anon(Ipv6Addr::from(anon).into()));
        assert!(!own.is_ours(Ipv6Addr::from(anon).into()));
        assert!(!own.is_anon(own.node_addr.into()));
        assert_ne!(own.anon_prefix, own.lan_prefix);
        let mut lan = own.lan_prefix.octets();
        lan[15] = 0x42;
        assert!(own.is_ours(Ipv6Addr::from(lan).into()));
        assert!(own.is_ours(Ipv4Addr::new(10, 224, 224, 77).into()));
        assert!(!own.is_ours(Ipv4Addr::new(10, 224, 225, 1).into()));
        let dir = Directory::new([9; 32], Default::default());
        assert!(source_allowed(&dir, &id, own.node_addr.into()));
        assert!(source_allowed(&dir, &id, Ipv6Addr::from(lan).into()));
        assert!(!source_allowed(
            &dir,
            &id,
            onion::addr::node_address(&[2; 32]).into()
        ));
        // IPv4 only as the directory assigns it.
        assert!(!source_allowed(
            &dir,
            &id,
            Ipv4Addr::new(10, 224, 224, 5).into()
        ));
        assert_eq!(owner(&dir, &own, own.node_addr.into()), None);
        for a in [
            "ff02::2",
            "fe80::1",
            "224.0.0.22",
            "255.255.255.255",
            "169.254.1.1",
        ] {
            assert!(!routable(a.parse().unwrap()), "{a}");
        }
        for a in ["fd00::1", "10.1.2.3"] {
            assert!(routable(a.parse().unwrap()), "{a}");
        }
    }
}
