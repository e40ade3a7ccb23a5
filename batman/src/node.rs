//! [`Node`]: one BATMAN IV router, as a deterministic state machine.

use rand_core::RngCore;

use crate::api::*;
use crate::config::{Config, ConfigError};
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::Mac;

/// One BATMAN IV node. See the crate docs for the contract.
pub struct Node<R: RngCore> {
    config: Config,
    rng: R,
    now: Instant,
    stats: Stats,
}

impl<R: RngCore> Node<R> {
    /// A node with no interfaces yet. `rng` supplies every random choice
    /// (jitter, initial seqnos): seed it for a reproducible run.
    pub fn new(config: Config, rng: R, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Node {
            config,
            rng,
            now,
            stats: Stats::default(),
        })
    }
    /// Add a hard interface; the first one added is the primary.
    pub fn add_iface(&mut self, now: Instant, cfg: IfaceConfig) -> Result<IfaceId, IfaceError> {
        let _ = (now, cfg);
        Err(IfaceError::Unknown)
    }
    /// Remove a hard interface and everything learned through it.
    pub fn remove_iface(&mut self, now: Instant, iface: IfaceId) -> Result<(), IfaceError> {
        let _ = (now, iface);
        Err(IfaceError::Unknown)
    }
    /// Carrier (link state) of an interface changed. Down drops its neighbours at once.
    pub fn set_carrier(&mut self, now: Instant, iface: IfaceId, up: bool) {
        let _ = (now, iface, up);
    }
    /// The driver knows a neighbour is gone (e.g. netlink): drop it at once.
    pub fn neighbour_lost(&mut self, now: Instant, iface: IfaceId, mac: Mac) {
        let _ = (now, iface, mac);
    }
    /// A batman-adv frame arrived: `payload` follows the Ethernet header.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        iface: IfaceId,
        src: Mac,
        dst: Mac,
        payload: &[u8],
    ) {
        let _ = (now, iface, src, dst, payload);
    }
    /// Run timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
    }
    /// Send an inner Ethernet frame to originator `dest` as UNICAST.
    pub fn send_unicast(
        &mut self,
        now: Instant,
        dest: Mac,
        ttvn: u8,
        frame: &[u8],
    ) -> Result<(), SendError> {
        let _ = (now, ttvn, frame);
        Err(SendError::NoRoute(dest))
    }
    /// Flood an inner Ethernet frame to the whole mesh as BCAST.
    pub fn send_broadcast(&mut self, now: Instant, frame: &[u8]) -> Result<(), SendError> {
        let _ = (now, frame);
        Err(SendError::NoInterface)
    }
    /// Send a batman ICMP echo request (ping / traceroute).
    pub fn send_icmp(&mut self, now: Instant, req: IcmpRequest) -> Result<(), SendError> {
        let _ = now;
        Err(SendError::NoRoute(req.dst))
    }
    /// Send a UNICAST_TVLV with the TVLV area `tvlvs` to originator `dst`.
    pub fn send_unicast_tvlv(
        &mut self,
        now: Instant,
        dst: Mac,
        tvlvs: &[u8],
    ) -> Result<(), SendError> {
        let _ = (now, tvlvs);
        Err(SendError::NoRoute(dst))
    }
    /// TVLV area appended to every own primary OGM from now on.
    pub fn set_ogm_tvlvs(&mut self, tvlvs: Vec<u8>) {
        let _ = tvlvs;
    }
    /// Next frame to send now, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }
    /// Next event for the upper layers, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        None
    }
    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    /// MAC of the primary interface (the node's originator address).
    pub fn primary_mac(&self) -> Option<Mac> {
        None
    }
    /// Is `mac` one of our interface MACs?
    pub fn is_own_mac(&self, mac: Mac) -> bool {
        let _ = mac;
        false
    }
    /// Next hop towards originator `dest`.
    pub fn next_hop(&self, dest: Mac) -> Option<NextHop> {
        let _ = dest;
        None
    }
    /// The originator table (`batctl o`).
    pub fn originators(&self) -> Vec<OriginatorInfo> {
        Vec::new()
    }
    /// The neighbour table (`batctl n`).
    pub fn neighbours(&self) -> Vec<NeighbourInfo> {
        Vec::new()
    }
    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    /// Heap held by the tables, from their capacities.
    pub fn memory_usage(&self) -> MemoryUsage {
        MemoryUsage::default()
    }
    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The time of the last input.
    pub fn now(&self) -> Instant {
        self.now
    }
}
