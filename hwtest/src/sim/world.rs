//! [`Sim`]: many routers, one clock, one seeded RNG, lossy links.
//!
//! The event loop: take the earliest of (next frame delivery, earliest node
//! timeout, next ping tick) from one [`EventQueue`]; advance the clock to it;
//! hand it to the node (`handle_frame` / `handle_timeout` / `send_unicast`);
//! then drain that node's `poll_transmit` (each frame is put on the links of
//! its interface and scheduled for delivery) and `poll_event` (deliveries go
//! to the ping responder, route changes to the bookkeeping), and re-arm its
//! timer from `poll_timeout`. Nothing is ever called with a time earlier
//! than the clock, and the clock never goes back.
//!
//! Timers are lazily invalidated: each node has at most one *armed* time;
//! a popped timer entry that no longer matches it is stale and skipped.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use batman::{Config, Event, IfaceConfig, IfaceId, Instant, Mac, MemoryUsage, Transmit};

use super::clock::{Clock, EventQueue};
use super::link::{Endpoint, LinkId, LinkState};
use super::rng::SimRng;
use super::router::{BatNode, Router};
use super::routes::{walk_dest, DeadEnd, DeadEndReason, Loop, Step};
use super::topology::Topology;
use super::trace::{Anomaly, Counters, Trace};
use super::traffic::{PingFrame, PingLog, Pinger, PING_INTERVAL};

/// Why a simulation could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// The core refused an interface of the topology.
    AddIface {
        node: usize,
        iface: usize,
        err: batman::IfaceError,
    },
    /// The core refused its configuration.
    Config(batman::ConfigError),
    /// The core numbered an interface with an id already in use.
    DuplicateIfaceId { node: usize, id: IfaceId },
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::AddIface { node, iface, err } => {
                write!(f, "node {node}: add_iface #{iface} refused: {err}")
            }
            SimError::Config(e) => write!(f, "core refused its config: {e}"),
            SimError::DuplicateIfaceId { node, id } => {
                write!(f, "node {node}: interface id {} given twice", id.0)
            }
        }
    }
}

impl std::error::Error for SimError {}

/// One interface of a node as the simulator wires it.
#[derive(Debug, Clone)]
pub struct Port {
    /// The id the core gave it.
    pub id: IfaceId,
    pub mac: Mac,
    pub links: Vec<LinkId>,
}

#[derive(Debug)]
enum Item {
    Deliver {
        link: LinkId,
        to: Endpoint,
        src: Mac,
        dst: Mac,
        payload: Rc<[u8]>,
    },
    Timer(usize),
    Ping(usize),
}

struct Slot<R> {
    router: R,
    armed: Option<Instant>,
}

/// Routes and cycles seen by the loop watch.
#[derive(Debug, Clone, Default)]
pub struct LoopWatch {
    /// `table[u][d]`: node `u`'s next hop (iface, MAC) towards node `d`.
    table: Vec<Vec<Option<(IfaceId, Mac)>>>,
    /// Every loop seen, with the time it was seen (first 1000 kept).
    pub loops: Vec<(Instant, Loop)>,
    /// Loops seen in total.
    pub loop_count: u64,
    /// Destination walks done.
    pub walks: u64,
}

/// Result of following every node's next hop to every destination.
#[derive(Debug, Clone, Default)]
pub struct RouteReport {
    pub loops: Vec<Loop>,
    pub dead_ends: Vec<DeadEnd>,
    /// (node, destination) pairs where the node has no next hop.
    pub missing: usize,
}

/// The simulation. `R` is the router under test (the batman core by default).
pub struct Sim<R: Router = BatNode> {
    clock: Clock,
    start: Instant,
    topo: Topology,
    nodes: Vec<Slot<R>>,
    ports: Vec<Vec<Port>>,
    mac_owner: HashMap<Mac, Endpoint>,
    primary_of: HashMap<Mac, usize>,
    queue: EventQueue<Item>,
    link_rng: SimRng,
    pingers: Vec<Pinger>,
    /// Per-node `have[u][d]` from `RouteChanged` events, and its count.
    have: Vec<Vec<bool>>,
    have_count: usize,
    watch: Option<LoopWatch>,
    /// Counters of what the simulator did.
    pub counters: Counters,
    /// A hash (and optionally a full record) of every input and output.
    pub trace: Trace,
    /// Contract violations by the router (see [`Anomaly`]).
    pub anomalies: Vec<Anomaly>,
}

impl Sim<BatNode> {
    /// The batman core with batman-adv's default configuration on every node.
    pub fn batman(topo: Topology, seed: u64) -> Result<Self, SimError> {
        Self::batman_with(topo, seed, |_| Config::default())
    }

    /// The batman core with a per-node configuration.
    pub fn batman_with(
        topo: Topology,
        seed: u64,
        mut config: impl FnMut(usize) -> Config,
    ) -> Result<Self, SimError> {
        let start = Instant::ZERO;
        Self::build(topo, seed, start, |i, rng| {
            BatNode::new(config(i), rng, start).map_err(SimError::Config)
        })
    }
}

impl<R: Router> Sim<R> {
    /// Build a simulation of `topo`: `make(node, rng)` creates each router
    /// (its RNG is the node's own stream of `seed`); interfaces are then
    /// added in topology order, so the first is the primary.
    pub fn build(
        topo: Topology,
        seed: u64,
        start: Instant,
        mut make: impl FnMut(usize, SimRng) -> Result<R, SimError>,
    ) -> Result<Self, SimError> {
        let root = SimRng::seed_from_u64(seed);
        let link_rng = root.fork(u64::MAX);
        let n = topo.nodes.len();
        let mut nodes = Vec::with_capacity(n);
        let mut ports: Vec<Vec<Port>> = Vec::with_capacity(n);
        let mut mac_owner = HashMap::new();
        let mut primary_of = HashMap::new();
        for (i, spec) in topo.nodes.iter().enumerate() {
            let mut router = make(i, root.fork(i as u64))?;
            let mut ps: Vec<Port> = Vec::new();
            for (k, ifc) in spec.ifaces.iter().enumerate() {
                let cfg = IfaceConfig {
                    kind: ifc.kind,
                    ..IfaceConfig::wired(ifc.mac)
                };
                let id = router
                    .add_iface(start, cfg)
                    .map_err(|err| SimError::AddIface {
                        node: i,
                        iface: k,
                        err,
                    })?;
                if ps.iter().any(|p| p.id == id) {
                    return Err(SimError::DuplicateIfaceId { node: i, id });
                }
                ps.push(Port {
                    id,
                    mac: ifc.mac,
                    links: Vec::new(),
                });
                mac_owner.insert(ifc.mac, Endpoint { node: i, iface: k });
            }
            if let Some(p) = ps.first() {
                primary_of.insert(p.mac, i);
            }
            ports.push(ps);
            nodes.push(Slot {
                router,
                armed: None,
            });
        }
        for (l, link) in topo.links.iter().enumerate() {
            ports[link.a.node][link.a.iface].links.push(LinkId(l));
            ports[link.b.node][link.b.iface].links.push(LinkId(l));
        }
        let mut sim = Sim {
            clock: Clock::new(start),
            start,
            topo,
            nodes,
            ports,
            mac_owner,
            primary_of,
            queue: EventQueue::new(),
            link_rng,
            pingers: Vec::new(),
            have: vec![vec![false; n]; n],
            have_count: 0,
            watch: None,
            counters: Counters::default(),
            trace: Trace::default(),
            anomalies: Vec::new(),
        };
        for i in 0..n {
            sim.after_input(i, false);
        }
        Ok(sim)
    }

    // ---- accessors ----

    pub fn now(&self) -> Instant {
        self.clock.now()
    }
    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }
    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now().saturating_since(self.start)
    }
    /// `start + d`.
    pub fn at(&self, d: Duration) -> Instant {
        self.start + d
    }
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    pub fn topology(&self) -> &Topology {
        &self.topo
    }
    pub fn node(&self, i: usize) -> &R {
        &self.nodes[i].router
    }
    /// Mutable access to a router (e.g. to add static routes to a toy).
    /// Inputs must go through the simulator, which owns the clock.
    pub fn node_mut(&mut self, i: usize) -> &mut R {
        &mut self.nodes[i].router
    }
    pub fn name(&self, i: usize) -> &str {
        &self.topo.nodes[i].name
    }
    /// Node index by name (panics if unknown: a test typo).
    pub fn find(&self, name: &str) -> usize {
        self.topo
            .node(name)
            .unwrap_or_else(|| panic!("no node named {name}"))
    }
    /// A node's originator address.
    pub fn primary(&self, i: usize) -> Mac {
        self.ports[i][0].mac
    }
    pub fn ports(&self, i: usize) -> &[Port] {
        &self.ports[i]
    }
    /// The node and interface owning `mac`.
    pub fn owner(&self, mac: Mac) -> Option<Endpoint> {
        self.mac_owner.get(&mac).copied()
    }
    /// Which node has `mac` as its originator address.
    pub fn node_of_primary(&self, mac: Mac) -> Option<usize> {
        self.primary_of.get(&mac).copied()
    }
    pub fn link_state(&self, l: usize) -> LinkState {
        self.topo.links[l].state
    }

    // ---- the event loop ----

    /// Process the next item if it is due at or before `limit`. Returns
    /// false (and leaves the clock alone) when nothing is due by then.
    pub fn step(&mut self, limit: Instant) -> bool {
        let Some((t, item)) = self.queue.pop_due(limit) else {
            return false;
        };
        self.clock.advance_to(t);
        match item {
            Item::Timer(n) => {
                if self.nodes[n].armed != Some(t) {
                    return true; // stale entry: re-armed since
                }
                self.nodes[n].armed = None;
                self.counters.timeouts += 1;
                self.trace.record(t, n, "timeout", &[]);
                self.nodes[n].router.handle_timeout(t);
                self.after_input(n, true);
            }
            Item::Deliver {
                link,
                to,
                src,
                dst,
                payload,
            } => {
                if self.topo.links[link.0].state != LinkState::Up {
                    self.counters.cut_in_flight += 1;
                    return true;
                }
                self.counters.delivered += 1;
                let id = self.ports[to.node][to.iface].id;
                self.trace
                    .record(t, to.node, "rx", &(payload.len() as u32).to_le_bytes());
                self.nodes[to.node]
                    .router
                    .handle_frame(t, id, src, dst, &payload);
                self.after_input(to.node, false);
            }
            Item::Ping(p) => self.ping_tick(p),
        }
        true
    }

    /// Run until the clock reads `t` (everything due at or before `t` done).
    pub fn run_until(&mut self, t: Instant) {
        while self.step(t) {}
        if t > self.now() {
            self.clock.advance_to(t);
        }
    }

    /// Run for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.now() + d;
        self.run_until(t);
    }

    /// Run until every node has a route to every other (checked exactly
    /// after every route change event, and by a full scan every simulated
    /// second in case the core's events and `next_hop` disagree), or until
    /// `limit`. Returns when it converged.
    pub fn run_until_converged(&mut self, limit: Instant) -> Option<Instant> {
        let n = self.len();
        let target = n * n.saturating_sub(1);
        let mut next_scan = self.now();
        loop {
            if (self.have_count == target || self.now() >= next_scan) && self.routes_complete() {
                return Some(self.now());
            }
            if self.now() >= next_scan {
                next_scan = self.now() + Duration::from_secs(1);
            }
            let until = next_scan.min(limit);
            if !self.step(until) {
                if until >= limit {
                    self.run_until(limit);
                    return self.routes_complete().then(|| self.now());
                }
                self.run_until(until);
            }
        }
    }

    /// Everything a node does after an input: drain its transmits and
    /// events (answering pings, which may produce more), re-arm its timer,
    /// update the loop watch.
    fn after_input(&mut self, n: usize, was_timeout: bool) {
        let now = self.now();
        loop {
            let mut progressed = false;
            while let Some(tx) = self.nodes[n].router.poll_transmit() {
                progressed = true;
                self.transmit(n, tx);
            }
            while let Some(ev) = self.nodes[n].router.poll_event() {
                progressed = true;
                self.handle_event(n, ev);
            }
            if !progressed {
                break;
            }
        }
        let want = self.nodes[n].router.poll_timeout();
        let mut at = want;
        if let Some(t) = want {
            if t <= now && was_timeout {
                // Contract: after handle_timeout(now) the next timeout is in
                // the future. Step 1 us on instead of spinning.
                self.anomaly(Anomaly::TimerNotInFuture { node: n, at: now });
                at = Some(now + Duration::from_micros(1));
            } else if t < now {
                at = Some(now);
            }
        }
        if let Some(t) = at {
            if self.nodes[n].armed != Some(t) {
                self.nodes[n].armed = Some(t);
                self.queue.push(t, Item::Timer(n));
            }
        } else {
            self.nodes[n].armed = None;
        }
        if self.watch.is_some() {
            self.watch_node(n);
        }
    }

    fn anomaly(&mut self, a: Anomaly) {
        self.counters.anomalies += 1;
        if self.anomalies.len() < 100 {
            self.anomalies.push(a);
        }
    }

    /// Put a frame sent by node `n` on the links of its interface.
    fn transmit(&mut self, n: usize, tx: Transmit) {
        let Some(k) = self.ports[n].iter().position(|p| p.id == tx.iface) else {
            self.anomaly(Anomaly::UnknownIface {
                node: n,
                iface: tx.iface,
            });
            return;
        };
        if tx.src != self.ports[n][k].mac {
            self.anomaly(Anomaly::ForeignSource {
                node: n,
                src: tx.src,
            });
        }
        self.trace.record(self.now(), n, "tx", &tx.payload);
        self.send_raw(Endpoint { node: n, iface: k }, tx.src, tx.dst, tx.payload);
    }

    /// Send a raw frame from interface `from` through the link model, as if
    /// that interface had transmitted it (the frame bypasses the node: use
    /// it to inject forged traffic).
    pub fn inject(&mut self, from: Endpoint, src: Mac, dst: Mac, payload: Vec<u8>) {
        self.counters.injected += 1;
        self.send_raw(from, src, dst, payload);
    }

    fn send_raw(&mut self, from: Endpoint, src: Mac, dst: Mac, payload: Vec<u8>) {
        self.counters.frames_sent += 1;
        let now = self.now();
        let payload: Rc<[u8]> = payload.into();
        let mut receivers = 0;
        for li in 0..self.ports[from.node][from.iface].links.len() {
            let lid = self.ports[from.node][from.iface].links[li];
            let link = &self.topo.links[lid.0];
            let Some((far, dir)) = link.far_end(from) else {
                continue;
            };
            if !(dst.is_multicast() || dst == self.ports[far.node][far.iface].mac) {
                continue;
            }
            receivers += 1;
            match link.transmit(dir, &mut self.link_rng) {
                Some(delay) => {
                    self.counters.crossings += 1;
                    self.queue.push(
                        now + delay,
                        Item::Deliver {
                            link: lid,
                            to: far,
                            src,
                            dst,
                            payload: payload.clone(),
                        },
                    );
                }
                None if link.state == LinkState::Up => self.counters.lost += 1,
                None => self.counters.cut_dropped += 1,
            }
        }
        if receivers == 0 {
            self.counters.no_receiver += 1;
        }
    }

    fn handle_event(&mut self, n: usize, ev: Event) {
        let now = self.now();
        match ev {
            Event::Deliver { orig, kind, frame } => {
                self.counters.deliver_events += 1;
                self.trace.record(now, n, "deliver", &frame);
                let _ = kind;
                if let Some(p) = PingFrame::decode(&frame) {
                    self.ping_arrived(n, orig, p);
                }
            }
            Event::RouteChanged { orig, next_hop } => {
                self.counters.route_changes += 1;
                let mut rec = orig.0.to_vec();
                if let Some(h) = next_hop {
                    rec.extend_from_slice(&h.mac.0);
                    rec.push(h.iface.0);
                    rec.push(h.tq);
                }
                self.trace.record(now, n, "route", &rec);
                if let Some(d) = self.node_of_primary(orig) {
                    if d != n {
                        let has = next_hop.is_some();
                        if self.have[n][d] != has {
                            self.have[n][d] = has;
                            if has {
                                self.have_count += 1;
                            } else {
                                self.have_count -= 1;
                            }
                        }
                    }
                }
            }
            Event::NeighbourUp { iface, mac } => {
                self.counters.neighbour_up += 1;
                let mut rec = mac.0.to_vec();
                rec.push(iface.0);
                self.trace.record(now, n, "nup", &rec);
            }
            Event::NeighbourDown { iface, mac, reason } => {
                self.counters.neighbour_down += 1;
                let mut rec = mac.0.to_vec();
                rec.push(iface.0);
                rec.push(reason as u8);
                self.trace.record(now, n, "ndown", &rec);
            }
            Event::Icmp(r) => {
                self.counters.other_events += 1;
                self.trace.record(now, n, "icmp", &r.from.0);
            }
            Event::Tvlv { orig, data, .. } => {
                self.counters.other_events += 1;
                let mut rec = orig.0.to_vec();
                rec.extend_from_slice(&data);
                self.trace.record(now, n, "tvlv", &rec);
            }
        }
    }

    // ---- links ----

    /// Interface carrier: up while any of its links is not `Down`.
    fn carrier(&self, e: Endpoint) -> bool {
        self.ports[e.node][e.iface]
            .links
            .iter()
            .any(|l| self.topo.links[l.0].state != LinkState::Down)
    }

    /// Change a link's state now, telling the ends what a driver would (see
    /// [`super::link`]).
    pub fn set_link_state(&mut self, l: usize, state: LinkState) {
        let old = self.topo.links[l].state;
        if old == state {
            return;
        }
        let now = self.now();
        let (a, b) = (self.topo.links[l].a, self.topo.links[l].b);
        let before = [self.carrier(a), self.carrier(b)];
        self.topo.links[l].state = state;
        self.counters.link_changes += 1;
        self.trace
            .record(now, a.node, "link", &[l as u8, (l >> 8) as u8, state as u8]);
        for (k, (me, far)) in [(a, b), (b, a)].into_iter().enumerate() {
            let after = self.carrier(me);
            let id = self.ports[me.node][me.iface].id;
            if before[k] != after {
                self.nodes[me.node].router.set_carrier(now, id, after);
                self.after_input(me.node, false);
            } else if state == LinkState::Down {
                let far_mac = self.ports[far.node][far.iface].mac;
                self.nodes[me.node].router.neighbour_lost(now, id, far_mac);
                self.after_input(me.node, false);
            }
        }
        if self.watch.is_some() {
            for d in 0..self.len() {
                self.watch_dest(d);
            }
        }
    }

    /// Set the loss of both directions of link `l`.
    pub fn set_link_loss(&mut self, l: usize, loss: f64) {
        for p in &mut self.topo.links[l].params {
            p.loss = loss;
        }
    }

    /// The link between interfaces of `u` and `v` used by `u`'s interface
    /// `iface` (the link a next hop goes over).
    pub fn link_of(&self, u: usize, iface: IfaceId, v: usize) -> Option<usize> {
        let port = self.ports[u].iter().position(|p| p.id == iface)?;
        self.ports[u][port]
            .links
            .iter()
            .map(|l| l.0)
            .find(|&l| self.topo.links[l].joins(u, v))
    }

    // ---- traffic ----

    /// Start pinging `to` from `from` every 50 ms from `start`.
    pub fn add_pinger(&mut self, from: usize, to: usize, start: Instant) -> usize {
        self.add_pinger_every(from, to, start, PING_INTERVAL)
    }

    /// Start pinging with a chosen interval.
    pub fn add_pinger_every(
        &mut self,
        from: usize,
        to: usize,
        start: Instant,
        interval: Duration,
    ) -> usize {
        let id = self.pingers.len();
        assert!(id <= usize::from(u16::MAX), "too many pingers");
        let start = start.max(self.now());
        self.pingers.push(Pinger {
            from,
            to,
            interval,
            start,
            stop: None,
            next_seq: 0,
            log: PingLog::default(),
        });
        self.queue.push(start, Item::Ping(id));
        id
    }

    /// Stop a pinger (pongs still in flight are still logged).
    pub fn stop_pinger(&mut self, id: usize) {
        self.pingers[id].stop = Some(self.now());
    }

    pub fn pinger(&self, id: usize) -> &Pinger {
        &self.pingers[id]
    }

    fn ping_tick(&mut self, id: usize) {
        let now = self.now();
        if self.pingers[id].stop.is_some_and(|s| s <= now) {
            return;
        }
        let (from, to) = (self.pingers[id].from, self.pingers[id].to);
        let seq = self.pingers[id].next_seq;
        self.pingers[id].next_seq += 1;
        let frame = PingFrame {
            reply: false,
            dst: self.primary(to),
            src: self.primary(from),
            pinger: id as u16,
            seq,
            sent: now,
        };
        self.counters.pings_sent += 1;
        self.trace.record(now, from, "ping", &seq.to_be_bytes());
        let ok = self.nodes[from]
            .router
            .send_unicast(now, frame.dst, &frame.encode())
            .is_ok();
        self.pingers[id].log.sent.push((seq, now, ok));
        let next = now + self.pingers[id].interval;
        self.queue.push(next, Item::Ping(id));
        self.after_input(from, false);
    }

    fn ping_arrived(&mut self, n: usize, orig: Option<Mac>, p: PingFrame) {
        let now = self.now();
        if p.dst != self.primary(n) {
            self.anomaly(Anomaly::Misdelivered {
                node: n,
                orig: orig.unwrap_or(p.src),
            });
            return;
        }
        if !p.reply {
            self.counters.pongs_sent += 1;
            // Answer the originator the core names, else the inner source
            // MAC (a plain UNICAST names no originator; in the simulator a
            // node's own frames carry its primary MAC as inner source, so
            // this is what a translation-table lookup would give).
            let to = orig.unwrap_or(p.src);
            let _ = self.nodes[n]
                .router
                .send_unicast(now, to, &p.pong().encode());
            return;
        }
        let Some(pinger) = self.pingers.get_mut(usize::from(p.pinger)) else {
            return;
        };
        if pinger.from == n {
            pinger.log.replies.push(super::traffic::Reply {
                seq: p.seq,
                sent: p.sent,
                received: now,
            });
        }
    }

    // ---- inspection ----

    /// Does node `u` have a next hop to node `d`'s originator address?
    pub fn has_route(&self, u: usize, d: usize) -> bool {
        self.node(u).next_hop(self.primary(d)).is_some()
    }

    /// Every node has a next hop to every other node's primary MAC.
    pub fn routes_complete(&self) -> bool {
        self.missing_routes(usize::MAX).is_empty()
    }

    /// Up to `max` (node, destination) pairs without a route.
    pub fn missing_routes(&self, max: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for u in 0..self.len() {
            for d in 0..self.len() {
                if u != d && !self.has_route(u, d) {
                    out.push((u, d));
                    if out.len() >= max {
                        return out;
                    }
                }
            }
        }
        out
    }

    /// Resolve node `u`'s next hop towards node `d` for the loop checker.
    pub fn resolve_step(&self, u: usize, d: usize) -> Step {
        match self.node(u).next_hop(self.primary(d)) {
            None => Step::Dead(DeadEndReason::NoRoute),
            Some(h) => self.resolve_hop(u, h.iface, h.mac),
        }
    }

    fn resolve_hop(&self, u: usize, iface: IfaceId, mac: Mac) -> Step {
        let Some(far) = self.owner(mac) else {
            return Step::Dead(DeadEndReason::UnknownMac);
        };
        let Some(port) = self.ports[u].iter().find(|p| p.id == iface) else {
            return Step::Dead(DeadEndReason::NotAdjacent);
        };
        let from = Endpoint {
            node: u,
            iface: self.ports[u]
                .iter()
                .position(|p| p.id == iface)
                .unwrap_or(0),
        };
        let link = port
            .links
            .iter()
            .map(|l| &self.topo.links[l.0])
            .find(|l| l.far_end(from).map(|(e, _)| e) == Some(far));
        match link.map(|l| l.state) {
            None => Step::Dead(DeadEndReason::NotAdjacent),
            Some(LinkState::Down) => Step::Dead(DeadEndReason::LinkDown),
            Some(LinkState::SilentDrop) => Step::Dead(DeadEndReason::LinkSilent),
            Some(LinkState::Up) => Step::To(far.node),
        }
    }

    /// The forwarding path from `u` to `d` as nodes (stops at a dead end or
    /// before repeating a node).
    pub fn path(&self, u: usize, d: usize) -> Vec<usize> {
        let mut path = vec![u];
        let mut cur = u;
        while cur != d {
            match self.resolve_step(cur, d) {
                Step::To(v) if !path.contains(&v) => {
                    path.push(v);
                    cur = v;
                }
                _ => break,
            }
        }
        path
    }

    /// The links a path crosses (as `link_of` each hop's next hop).
    pub fn path_links(&self, u: usize, d: usize) -> Vec<usize> {
        let p = self.path(u, d);
        p.windows(2)
            .filter_map(|w| {
                let h = self.node(w[0]).next_hop(self.primary(d))?;
                self.link_of(w[0], h.iface, w[1])
            })
            .collect()
    }

    /// Follow every node's next hop to every destination.
    pub fn check_routes(&self) -> RouteReport {
        let mut r = RouteReport::default();
        for d in 0..self.len() {
            let rep = walk_dest(self.len(), d, |u| self.resolve_step(u, d));
            r.loops.extend(rep.loops);
            r.missing += rep
                .dead_ends
                .iter()
                .filter(|e| e.reason == DeadEndReason::NoRoute)
                .count();
            r.dead_ends.extend(rep.dead_ends);
        }
        r
    }

    /// Check for loops after every input from now on: the next hops of the
    /// node that took the input are compared with a snapshot and every
    /// destination whose next hop changed is walked from all nodes; a link
    /// state change re-walks all destinations. (Only the node that takes an
    /// input can change, so this sees every state the network passes through.)
    pub fn enable_loop_watch(&mut self) {
        let n = self.len();
        let mut w = LoopWatch {
            table: vec![vec![None; n]; n],
            ..LoopWatch::default()
        };
        for u in 0..n {
            for d in 0..n {
                w.table[u][d] = self
                    .node(u)
                    .next_hop(self.primary(d))
                    .map(|h| (h.iface, h.mac));
            }
        }
        self.watch = Some(w);
        for d in 0..n {
            self.watch_dest(d);
        }
    }

    /// The loop watch's findings.
    pub fn loop_watch(&self) -> Option<&LoopWatch> {
        self.watch.as_ref()
    }

    fn watch_node(&mut self, u: usize) {
        let n = self.len();
        let mut changed = Vec::new();
        if let Some(w) = self.watch.as_mut() {
            for d in 0..n {
                let h = self.nodes[u]
                    .router
                    .next_hop(self.ports[d][0].mac)
                    .map(|h| (h.iface, h.mac));
                if w.table[u][d] != h {
                    w.table[u][d] = h;
                    changed.push(d);
                }
            }
        }
        for d in changed {
            self.watch_dest(d);
        }
    }

    fn watch_dest(&mut self, d: usize) {
        let now = self.now();
        let Some(w) = self.watch.as_ref() else {
            return;
        };
        let table = &w.table;
        let rep = walk_dest(self.len(), d, |u| match table[u][d] {
            None => Step::Dead(DeadEndReason::NoRoute),
            Some((iface, mac)) => self.resolve_hop(u, iface, mac),
        });
        let w = self.watch.as_mut().expect("checked above");
        w.walks += 1;
        for l in rep.loops {
            w.loop_count += 1;
            if w.loops.len() < 1000 {
                w.loops.push((now, l));
            }
        }
    }

    /// Sum of `stats().tx_ogm_bytes` over all nodes.
    pub fn total_ogm_bytes(&self) -> u64 {
        self.nodes
            .iter()
            .map(|s| s.router.stats().tx_ogm_bytes)
            .sum()
    }

    /// A node's memory estimate.
    pub fn memory(&self, i: usize) -> MemoryUsage {
        self.node(i).memory_usage()
    }

    /// Mean over nodes of `memory_usage().bytes / originators known`.
    pub fn bytes_per_originator(&self) -> f64 {
        let mut sum = 0.0;
        let mut k = 0;
        for s in &self.nodes {
            let o = s.router.originator_count();
            if o > 0 {
                sum += s.router.memory_usage().bytes as f64 / o as f64;
                k += 1;
            }
        }
        if k == 0 {
            0.0
        } else {
            sum / k as f64
        }
    }

    /// Direction helper for tests: the far end of link `l` from node `u`.
    pub fn far_node(&self, l: usize, u: usize) -> Option<usize> {
        let link = &self.topo.links[l];
        if link.a.node == u {
            Some(link.b.node)
        } else if link.b.node == u {
            Some(link.a.node)
        } else {
            None
        }
    }

    /// Frames waiting in the event queue (deliveries, timers, ping ticks).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}
