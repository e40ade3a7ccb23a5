//! [`ToyRouter`]: a deliberately simple router whose behaviour is known
//! exactly, used to test the simulator itself (delivery, loss, carrier and
//! silent cuts, timers, pings, the loop checker) independently of the
//! BATMAN core under test.
//!
//! Protocol: every `hello_interval` (+ up to 20 ms of jitter from its RNG)
//! each interface broadcasts a hello `[0xf0, primary[6]]`; a node heard
//! within `hold` is a neighbour (on that interface, under that MAC).
//! Destinations are either neighbours' primaries or reached through a static
//! list of via-nodes ([`ToyRouter::add_route`]): the first via that is
//! currently a neighbour wins. Unicast frames are `[0xf1, ttl, dest[6],
//! orig[6], inner frame...]`, forwarded hop by hop. Carrier loss and
//! `neighbour_lost` drop neighbours at once; silence drops them after `hold`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use batman::{
    DeliverKind, Event, IfaceConfig, IfaceError, IfaceId, Instant, Mac, MemoryUsage,
    NeighbourDownReason, NextHop, SendError, Stats, Transmit,
};

use super::rng::SimRng;
use super::router::Router;

const HELLO: u8 = 0xf0;
const UNICAST: u8 = 0xf1;
const TTL: u8 = 16;

#[derive(Debug, Clone)]
struct Neighbour {
    iface: IfaceId,
    mac: Mac,
    primary: Mac,
    last_seen: Instant,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct ToyRouter {
    rng: SimRng,
    ifaces: Vec<(IfaceConfig, bool)>,
    neighbours: Vec<Neighbour>,
    routes: BTreeMap<Mac, Vec<Mac>>,
    announced: BTreeMap<Mac, Option<NextHop>>,
    tx: VecDeque<Transmit>,
    events: VecDeque<Event>,
    next_hello: Instant,
    pub hello_interval: Duration,
    pub hold: Duration,
    stats: Stats,
}

impl ToyRouter {
    pub fn new(rng: SimRng, now: Instant) -> Self {
        ToyRouter {
            rng,
            ifaces: Vec::new(),
            neighbours: Vec::new(),
            routes: BTreeMap::new(),
            announced: BTreeMap::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            next_hello: now,
            hello_interval: Duration::from_secs(1),
            hold: Duration::from_millis(3500),
            stats: Stats::default(),
        }
    }

    /// Reach `dest` through the first of `vias` that is a neighbour.
    pub fn add_route(&mut self, dest: Mac, vias: Vec<Mac>) {
        self.routes.insert(dest, vias);
    }

    fn primary(&self) -> Option<Mac> {
        self.ifaces.first().map(|i| i.0.mac)
    }

    fn neighbour_with_primary(&self, p: Mac) -> Option<&Neighbour> {
        self.neighbours.iter().find(|n| n.primary == p)
    }

    fn push_tx(&mut self, iface: IfaceId, dst: Mac, payload: Vec<u8>) {
        let src = self.ifaces[usize::from(iface.0)].0.mac;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += payload.len() as u64;
        self.tx.push_back(Transmit {
            iface,
            src,
            dst,
            payload,
        });
    }

    fn drop_neighbours(&mut self, keep: impl Fn(&Neighbour) -> bool, reason: NeighbourDownReason) {
        let mut i = 0;
        while i < self.neighbours.len() {
            if keep(&self.neighbours[i]) {
                i += 1;
            } else {
                let n = self.neighbours.remove(i);
                self.stats.purged_neighbours += 1;
                self.events.push_back(Event::NeighbourDown {
                    iface: n.iface,
                    mac: n.mac,
                    reason,
                });
            }
        }
    }

    /// Emit `RouteChanged` for every destination whose next hop moved.
    fn announce_routes(&mut self) {
        let mut dests: Vec<Mac> = self.neighbours.iter().map(|n| n.primary).collect();
        dests.extend(self.routes.keys().copied());
        dests.extend(self.announced.keys().copied());
        dests.sort();
        dests.dedup();
        for d in dests {
            let nh = Router::next_hop(self, d);
            let old = self.announced.get(&d).copied().flatten();
            if old != nh {
                self.stats.route_changes += 1;
                self.announced.insert(d, nh);
                self.events.push_back(Event::RouteChanged {
                    orig: d,
                    next_hop: nh,
                });
            }
        }
    }

    fn forward(&mut self, ttl: u8, dest: Mac, orig: Mac, inner: &[u8]) -> Result<(), SendError> {
        let nh = Router::next_hop(self, dest).ok_or(SendError::NoRoute(dest))?;
        let mut p = Vec::with_capacity(14 + inner.len());
        p.push(UNICAST);
        p.push(ttl);
        p.extend_from_slice(&dest.0);
        p.extend_from_slice(&orig.0);
        p.extend_from_slice(inner);
        self.push_tx(nh.iface, nh.mac, p);
        Ok(())
    }
}

impl Router for ToyRouter {
    fn add_iface(&mut self, _now: Instant, cfg: IfaceConfig) -> Result<IfaceId, IfaceError> {
        if !cfg.mac.is_unicast() {
            return Err(IfaceError::BadMac(cfg.mac));
        }
        if self.ifaces.iter().any(|i| i.0.mac == cfg.mac) {
            return Err(IfaceError::Duplicate(cfg.mac));
        }
        self.ifaces.push((cfg, true));
        Ok(IfaceId((self.ifaces.len() - 1) as u8))
    }

    fn set_carrier(&mut self, _now: Instant, iface: IfaceId, up: bool) {
        if let Some(i) = self.ifaces.get_mut(usize::from(iface.0)) {
            i.1 = up;
        }
        if !up {
            self.drop_neighbours(|n| n.iface != iface, NeighbourDownReason::Carrier);
            self.announce_routes();
        }
    }

    fn neighbour_lost(&mut self, _now: Instant, iface: IfaceId, mac: Mac) {
        self.drop_neighbours(
            |n| n.iface != iface || n.mac != mac,
            NeighbourDownReason::Lost,
        );
        self.announce_routes();
    }

    fn handle_frame(&mut self, now: Instant, iface: IfaceId, src: Mac, dst: Mac, payload: &[u8]) {
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += payload.len() as u64;
        let own = self.primary();
        match payload.first() {
            Some(&HELLO) if payload.len() >= 7 && dst.is_broadcast() => {
                self.stats.rx_ogm += 1;
                let primary = Mac::from_bytes(&payload[1..7]);
                match self
                    .neighbours
                    .iter_mut()
                    .find(|n| n.iface == iface && n.mac == src)
                {
                    Some(n) => n.last_seen = now,
                    None => {
                        self.neighbours.push(Neighbour {
                            iface,
                            mac: src,
                            primary,
                            last_seen: now,
                        });
                        self.events
                            .push_back(Event::NeighbourUp { iface, mac: src });
                    }
                }
                self.announce_routes();
            }
            Some(&UNICAST) if payload.len() >= 14 => {
                let ttl = payload[1];
                let dest = Mac::from_bytes(&payload[2..8]);
                let orig = Mac::from_bytes(&payload[8..14]);
                if Some(dest) == own {
                    self.stats.rx_unicast += 1;
                    self.events.push_back(Event::Deliver {
                        orig: Some(orig),
                        kind: DeliverKind::Unicast,
                        frame: payload[14..].to_vec(),
                    });
                } else if ttl <= 1 {
                    self.stats.drop_ttl += 1;
                } else if self.forward(ttl - 1, dest, orig, &payload[14..]).is_ok() {
                    self.stats.fwd_unicast += 1;
                } else {
                    self.stats.drop_no_route += 1;
                }
            }
            _ => self.stats.drop_malformed += 1,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let hold = self.hold;
        let before = self.neighbours.len();
        self.drop_neighbours(
            |n| !n.last_seen.elapsed_by(hold, now),
            NeighbourDownReason::Timeout,
        );
        if self.neighbours.len() != before {
            self.announce_routes();
        }
        if now >= self.next_hello {
            if let Some(p) = self.primary() {
                for i in 0..self.ifaces.len() {
                    if self.ifaces[i].1 {
                        let mut hello = vec![HELLO];
                        hello.extend_from_slice(&p.0);
                        self.stats.own_ogm += 1;
                        self.stats.tx_ogm_frames += 1;
                        self.stats.tx_ogm_bytes += hello.len() as u64;
                        self.push_tx(IfaceId(i as u8), Mac::BROADCAST, hello);
                    }
                }
            }
            let jitter = Duration::from_micros(self.rng.up_to(20_000));
            self.next_hello = now + self.hello_interval + jitter;
        }
    }

    fn send_unicast(&mut self, _now: Instant, dest: Mac, frame: &[u8]) -> Result<(), SendError> {
        if frame.len() < 14 {
            return Err(SendError::BadFrame);
        }
        let own = self.primary().ok_or(SendError::NoInterface)?;
        self.stats.tx_unicast += 1;
        self.forward(TTL, dest, own, frame)
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self
            .neighbours
            .iter()
            .map(|n| n.last_seen + self.hold)
            .min();
        Some(expiry.map_or(self.next_hello, |e| e.min(self.next_hello)))
    }

    fn next_hop(&self, dest: Mac) -> Option<NextHop> {
        let hop = |n: &Neighbour| NextHop {
            iface: n.iface,
            mac: n.mac,
            tq: 255,
        };
        if let Some(n) = self.neighbour_with_primary(dest) {
            return Some(hop(n));
        }
        self.routes
            .get(&dest)?
            .iter()
            .find_map(|v| self.neighbour_with_primary(*v))
            .map(hop)
    }

    fn originator_count(&self) -> usize {
        let mut d: Vec<Mac> = self.neighbours.iter().map(|n| n.primary).collect();
        d.sort();
        d.dedup();
        d.len()
    }

    fn stats(&self) -> Stats {
        self.stats
    }

    fn memory_usage(&self) -> MemoryUsage {
        let bytes = self.neighbours.capacity() * std::mem::size_of::<Neighbour>()
            + self.tx.capacity() * std::mem::size_of::<Transmit>()
            + self.tx.iter().map(|t| t.payload.capacity()).sum::<usize>()
            + self.events.capacity() * std::mem::size_of::<Event>();
        MemoryUsage {
            originators: self.originator_count(),
            neighbours: self.neighbours.len(),
            vias: 0,
            tx_queue: self.tx.len(),
            events: self.events.len(),
            bytes,
        }
    }
}
