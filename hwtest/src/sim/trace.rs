//! Run records: a hash of everything that happened (for reproducibility
//! checks), counters, and the router contract violations the simulator saw.

use batman::{IfaceId, Instant, Mac};

/// A running hash over every input and output of every node, in order: two
/// runs with the same hash did the same thing. Frame contents are hashed
/// once, when sent; a delivery records its time, receiver and length (its
/// bytes are those of the send, its fate comes from the seeded link RNG). Optionally keeps a readable line
/// per record (costly; for debugging and for diffing two runs).
#[derive(Debug, Clone)]
pub struct Trace {
    hash: u64,
    records: u64,
    lines: Option<Vec<String>>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            records: 0,
            lines: None,
        }
    }
}

impl Trace {
    fn eat_word(&mut self, w: u64) {
        // FNV-1a style, one 64-bit word at a time (8x fewer multiplies
        // than byte-wise; still order- and content-sensitive).
        self.hash ^= w;
        self.hash = self.hash.wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    }

    fn eat(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.eat_word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.eat_word(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    /// Record one thing node `node` did or got at `t`.
    pub fn record(&mut self, t: Instant, node: usize, what: &str, data: &[u8]) {
        self.records += 1;
        self.eat_word(t.as_micros());
        self.eat_word(node as u64);
        self.eat(what.as_bytes());
        self.eat_word(data.len() as u64);
        self.eat(data);
        if let Some(l) = self.lines.as_mut() {
            let hex: String = data.iter().take(32).map(|b| format!("{b:02x}")).collect();
            l.push(format!("{t} n{node} {what} {hex}"));
        }
    }

    /// Keep readable lines from now on.
    pub fn keep_lines(&mut self) {
        self.lines.get_or_insert_with(Vec::new);
    }

    pub fn lines(&self) -> &[String] {
        self.lines.as_deref().unwrap_or(&[])
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn records(&self) -> u64 {
        self.records
    }
}

/// What the simulator did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames put on the air (by nodes or injected).
    pub frames_sent: u64,
    /// Frames injected by the test (`Sim::inject`).
    pub injected: u64,
    /// Link crossings scheduled (one per receiving end).
    pub crossings: u64,
    /// Crossings lost to link loss.
    pub lost: u64,
    /// Crossings dropped because the link was cut when sent.
    pub cut_dropped: u64,
    /// Deliveries dropped because the link was cut while they were in flight.
    pub cut_in_flight: u64,
    /// Frames whose destination MAC no peer had.
    pub no_receiver: u64,
    /// Frames handed to `handle_frame`.
    pub delivered: u64,
    pub timeouts: u64,
    pub deliver_events: u64,
    pub route_changes: u64,
    pub neighbour_up: u64,
    pub neighbour_down: u64,
    pub other_events: u64,
    pub link_changes: u64,
    pub pings_sent: u64,
    pub pongs_sent: u64,
    pub anomalies: u64,
}

/// A breach of the sans-IO contract by a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anomaly {
    /// After `handle_timeout(at)`, `poll_timeout()` was not after `at`.
    TimerNotInFuture { node: usize, at: Instant },
    /// A transmit named an interface the node does not have.
    UnknownIface { node: usize, iface: IfaceId },
    /// A transmit's source MAC was not its interface's MAC.
    ForeignSource { node: usize, src: Mac },
    /// A ping or pong was delivered to a node it was not addressed to.
    Misdelivered { node: usize, orig: Mac },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_content_and_order() {
        let mut a = Trace::default();
        let mut b = Trace::default();
        a.record(Instant::from_millis(1), 0, "rx", &[1, 2]);
        a.record(Instant::from_millis(2), 1, "tx", &[3]);
        b.record(Instant::from_millis(1), 0, "rx", &[1, 2]);
        b.record(Instant::from_millis(2), 1, "tx", &[3]);
        assert_eq!(a.hash(), b.hash());
        let mut c = Trace::default();
        c.record(Instant::from_millis(2), 1, "tx", &[3]);
        c.record(Instant::from_millis(1), 0, "rx", &[1, 2]);
        assert_ne!(a.hash(), c.hash());
        let mut d = Trace::default();
        d.record(Instant::from_millis(1), 0, "rx", &[1]);
        d.record(Instant::from_millis(2), 1, "tx", &[2, 3]);
        assert_ne!(a.hash(), d.hash(), "lengths are part of the record");
        assert_eq!(a.records(), 2);
        assert!(a.lines().is_empty());
        a.keep_lines();
        a.record(Instant::from_millis(3), 2, "ping", &[0xab]);
        assert_eq!(a.lines(), ["0.003000s n2 ping ab"]);
    }
}
