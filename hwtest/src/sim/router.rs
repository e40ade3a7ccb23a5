//! What the simulator needs from a routing core: the [`Router`] trait.
//!
//! It mirrors `batman::Node`'s sans-IO API one to one and is implemented for
//! [`BatNode`] (`batman::Node<SimRng>`), the thing the simulator exists to
//! test. It is a trait so that the harness itself can be tested against a
//! router whose behaviour is known exactly ([`super::toy::ToyRouter`]).

use batman::{
    Event, IfaceConfig, IfaceError, IfaceId, Instant, Mac, MemoryUsage, NextHop, SendError, Stats,
    Transmit,
};

use super::rng::SimRng;

/// The real core, driven by the simulator's seeded RNG.
pub type BatNode = batman::Node<SimRng>;

/// The sans-IO contract the simulator drives (see `batman::Node`).
pub trait Router {
    fn add_iface(&mut self, now: Instant, cfg: IfaceConfig) -> Result<IfaceId, IfaceError>;
    fn set_carrier(&mut self, now: Instant, iface: IfaceId, up: bool);
    fn neighbour_lost(&mut self, now: Instant, iface: IfaceId, mac: Mac);
    fn handle_frame(&mut self, now: Instant, iface: IfaceId, src: Mac, dst: Mac, payload: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    /// Send an inner Ethernet frame to originator `dest` (TTVN 0).
    fn send_unicast(&mut self, now: Instant, dest: Mac, frame: &[u8]) -> Result<(), SendError>;
    fn poll_transmit(&mut self) -> Option<Transmit>;
    fn poll_event(&mut self) -> Option<Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn next_hop(&self, dest: Mac) -> Option<NextHop>;
    /// Originators known (the length of `batctl o`).
    fn originator_count(&self) -> usize;
    fn stats(&self) -> Stats;
    fn memory_usage(&self) -> MemoryUsage;
}

impl Router for BatNode {
    fn add_iface(&mut self, now: Instant, cfg: IfaceConfig) -> Result<IfaceId, IfaceError> {
        batman::Node::add_iface(self, now, cfg)
    }
    fn set_carrier(&mut self, now: Instant, iface: IfaceId, up: bool) {
        batman::Node::set_carrier(self, now, iface, up)
    }
    fn neighbour_lost(&mut self, now: Instant, iface: IfaceId, mac: Mac) {
        batman::Node::neighbour_lost(self, now, iface, mac)
    }
    fn handle_frame(&mut self, now: Instant, iface: IfaceId, src: Mac, dst: Mac, payload: &[u8]) {
        batman::Node::handle_frame(self, now, iface, src, dst, payload)
    }
    fn handle_timeout(&mut self, now: Instant) {
        batman::Node::handle_timeout(self, now)
    }
    fn send_unicast(&mut self, now: Instant, dest: Mac, frame: &[u8]) -> Result<(), SendError> {
        batman::Node::send_unicast(self, now, dest, 0, frame)
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        batman::Node::poll_transmit(self)
    }
    fn poll_event(&mut self) -> Option<Event> {
        batman::Node::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        batman::Node::poll_timeout(self)
    }
    fn next_hop(&self, dest: Mac) -> Option<NextHop> {
        batman::Node::next_hop(self, dest)
    }
    fn originator_count(&self) -> usize {
        batman::Node::originators(self).len()
    }
    fn stats(&self) -> Stats {
        *batman::Node::stats(self)
    }
    fn memory_usage(&self) -> MemoryUsage {
        batman::Node::memory_usage(self)
    }
}
