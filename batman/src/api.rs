//! The types that cross the core's boundary: interfaces, transmits, events,
//! errors and the read-only views used by `meshctl` and the simulator.

use crate::time::Instant;
use crate::wire::Mac;

/// Index of a hard interface inside a node (stable until it is removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfaceId(pub u8);

/// Link type of a hard interface; changes rebroadcast and repeat rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfaceKind {
    /// Ethernet-like: one copy of each broadcast, no same-interface penalty.
    Wired,
    /// Half-duplex radio: broadcasts repeated, extra hop penalty when an
    /// OGM goes back out of the interface it came in on.
    Wireless,
}

/// A hard interface as the driver describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfaceConfig {
    /// The interface's own MAC: source of its frames and the `orig` of its
    /// own OGMs.
    pub mac: Mac,
    pub kind: IfaceKind,
    /// Largest batman frame payload (after the Ethernet header) it carries.
    pub mtu: u16,
    /// Extra per-interface penalty on TQ received here (batman-adv's
    /// per-hardif `hop_penalty`, default 0).
    pub hop_penalty: u8,
}

impl IfaceConfig {
    /// A wired interface with a 1500-byte MTU and no extra penalty.
    pub fn wired(mac: Mac) -> Self {
        IfaceConfig {
            mac,
            kind: IfaceKind::Wired,
            mtu: 1500,
            hop_penalty: 0,
        }
    }
    /// A wireless interface with a 1500-byte MTU and no extra penalty.
    pub fn wireless(mac: Mac) -> Self {
        IfaceConfig {
            kind: IfaceKind::Wireless,
            ..Self::wired(mac)
        }
    }
}

/// A frame the driver must send: an Ethernet frame from `src` to `dst` with
/// ethertype 0x4305 and `payload` after the 14-byte Ethernet header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub iface: IfaceId,
    pub src: Mac,
    pub dst: Mac,
    pub payload: Vec<u8>,
}

/// How a delivered frame reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverKind {
    Unicast,
    Broadcast,
}

/// Why a neighbour was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighbourDownReason {
    /// Its interface lost carrier or was removed.
    Carrier,
    /// The driver said it is gone (e.g. a netlink neighbour event).
    Lost,
    /// Not heard for `purge_neighbour`.
    Timeout,
    /// Evicted to make room (table full).
    Evicted,
}

/// Something the upper layers must know about. Poll with `poll_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An inner Ethernet frame for the soft interface. `orig` is the
    /// sending originator when the packet names it (BCAST, UNICAST_4ADDR);
    /// a plain UNICAST does not (the translation table maps its inner
    /// source MAC to an originator).
    Deliver {
        orig: Option<Mac>,
        kind: DeliverKind,
        frame: Vec<u8>,
    },
    /// A batman ICMP message for one of our own requests (echo reply, TTL
    /// exceeded, destination unreachable), as `batctl ping`/`tr` read them.
    Icmp(IcmpReply),
    /// The TVLV area of an originator's OGM (first copy of each new seqno,
    /// only when non-empty) or of a UNICAST_TVLV addressed to us.
    Tvlv {
        orig: Mac,
        unicast: bool,
        data: Vec<u8>,
    },
    /// A new neighbour link became usable.
    NeighbourUp { iface: IfaceId, mac: Mac },
    /// A neighbour link was dropped.
    NeighbourDown {
        iface: IfaceId,
        mac: Mac,
        reason: NeighbourDownReason,
    },
    /// The next hop towards an originator changed (None: no route).
    RouteChanged {
        orig: Mac,
        next_hop: Option<NextHop>,
    },
}

/// An ICMP message answering one of our requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpReply {
    pub msg_type: crate::wire::IcmpMsgType,
    /// Who sent it (the destination for an echo reply, the hop that dropped
    /// it for TTL exceeded).
    pub from: Mac,
    pub seqno: u16,
    pub uid: u8,
    /// TTL left when it arrived.
    pub ttl: u8,
    /// Route record (MACs of the hops), when the request asked for one.
    pub route: Vec<Mac>,
}

/// A batman ICMP echo request to send (`batctl ping` / `batctl tr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRequest {
    pub dst: Mac,
    pub seqno: u16,
    pub uid: u8,
    pub ttl: u8,
    /// Ask every hop to record its address (route-record variant).
    pub record_route: bool,
}

/// The next hop towards an originator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    pub iface: IfaceId,
    /// Neighbour MAC the frame goes to.
    pub mac: Mac,
    /// Route quality, 0..=255.
    pub tq: u8,
}

/// Why a send request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("no route to originator {0}")]
    NoRoute(Mac),
    #[error("no active interface")]
    NoInterface,
    #[error("payload of {len} bytes exceeds the path MTU of {mtu}")]
    TooBig { len: usize, mtu: usize },
    #[error("transmit queue full")]
    QueueFull,
    #[error("payload is not a valid Ethernet frame")]
    BadFrame,
}

/// Why an interface could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IfaceError {
    #[error("too many interfaces (cap {0})")]
    TooMany(usize),
    #[error("interface MAC {0} is not a unicast address")]
    BadMac(Mac),
    #[error("interface MAC {0} is already in use")]
    Duplicate(Mac),
    #[error("MTU {0} is too small for batman-adv (need at least 64)")]
    Mtu(u16),
    #[error("unknown interface")]
    Unknown,
}

/// One originator as `batctl o` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginatorInfo {
    pub orig: Mac,
    pub last_seen: Instant,
    pub router: Option<NextHop>,
    /// Every neighbour that delivers its OGMs, with its averaged TQ.
    pub candidates: Vec<NextHop>,
}

/// A gateway as `batctl gwl` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayInfo {
    pub orig: Mac,
    /// Announced bandwidths, in units of 100 kbit/s.
    pub bandwidth_down: u32,
    pub bandwidth_up: u32,
    /// The current route to it, if any.
    pub router: Option<NextHop>,
}

/// One neighbour link as `batctl n` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourInfo {
    pub iface: IfaceId,
    pub mac: Mac,
    pub last_seen: Instant,
    /// Our link quality towards it (echo based), 0..=255.
    pub tq_own: u8,
}

/// An estimate of the heap the node's tables hold, from their capacities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUsage {
    pub originators: usize,
    pub neighbours: usize,
    pub vias: usize,
    pub tx_queue: usize,
    pub events: usize,
    /// Bytes, counting allocated capacity, not just live entries.
    pub bytes: usize,
}
