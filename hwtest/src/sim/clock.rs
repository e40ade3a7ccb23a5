//! The simulated clock and the discrete-event queue.
//!
//! There is one clock for the whole simulation, a [`batman::Instant`]
//! (microseconds). It only moves forward, to the time of the next thing that
//! happens: nothing polls, nothing sleeps.
//!
//! [`EventQueue`] orders items by time, then by insertion sequence, so two
//! items due at the same microsecond always come out in the order they were
//! scheduled: this (with the seeded RNG) is what makes a run reproducible.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use batman::Instant;

/// The simulation's virtual clock: monotonic by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clock {
    now: Instant,
}

impl Clock {
    pub fn new(start: Instant) -> Self {
        Clock { now: start }
    }
    pub fn now(&self) -> Instant {
        self.now
    }
    /// Move to `t`. Panics if `t` is in the past: the event loop never asks
    /// for that, so it would be a harness bug.
    pub fn advance_to(&mut self, t: Instant) {
        assert!(
            t >= self.now,
            "simulated clock must not go backwards ({} -> {})",
            self.now,
            t
        );
        self.now = t;
    }
    /// Simulated time since the epoch as a [`Duration`].
    pub fn elapsed(&self) -> Duration {
        Duration::from_micros(self.now.as_micros())
    }
}

/// `Duration` to the `Instant` that far past the epoch.
pub fn at(d: Duration) -> Instant {
    Instant::from_micros(d.as_micros() as u64)
}

/// An `Instant` as seconds (for reports).
pub fn secs(t: Instant) -> f64 {
    t.as_micros() as f64 / 1e6
}

/// A heap key: small, so that sifting moves 24 bytes, not whole items
/// (which sit in the queue's slab).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    at: Instant,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    /// Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Items ordered by time, then by insertion sequence.
pub struct EventQueue<T> {
    heap: BinaryHeap<Key>,
    items: Vec<Option<T>>,
    free: Vec<u32>,
    seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            items: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }
    /// Schedule `item` at `at`.
    pub fn push(&mut self, at: Instant, item: T) {
        let seq = self.seq;
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = Some(item);
                i
            }
            None => {
                self.items.push(Some(item));
                (self.items.len() - 1) as u32
            }
        };
        self.heap.push(Key { at, seq, slot });
    }
    /// Time of the earliest item.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }
    /// Remove the earliest item.
    pub fn pop(&mut self) -> Option<(Instant, T)> {
        let k = self.heap.pop()?;
        let item = self.items[k.slot as usize]
            .take()
            .expect("every key has its item");
        self.free.push(k.slot);
        Some((k.at, item))
    }
    /// Remove the earliest item if it is due at or before `limit`.
    pub fn pop_due(&mut self, limit: Instant) -> Option<(Instant, T)> {
        if self.peek_time()? <= limit {
            self.pop()
        } else {
            None
        }
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    /// Items scheduled so far (the next insertion sequence number).
    pub fn scheduled(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(Instant::from_millis(5), "c");
        q.push(Instant::from_millis(1), "a");
        q.push(Instant::from_millis(5), "d");
        q.push(Instant::from_millis(1), "b");
        q.push(Instant::from_millis(3), "x");
        assert_eq!(q.len(), 5);
        assert_eq!(q.peek_time(), Some(Instant::from_millis(1)));
        let order: Vec<&str> = std::iter::from_fn(|| q.pop().map(|(_, s)| s)).collect();
        assert_eq!(order, ["a", "b", "x", "c", "d"]);
        assert!(q.is_empty());
        assert_eq!(q.scheduled(), 5);
    }

    #[test]
    fn pop_due_respects_the_limit() {
        let mut q = EventQueue::new();
        q.push(Instant::from_millis(10), 1);
        q.push(Instant::from_millis(20), 2);
        assert_eq!(q.pop_due(Instant::from_millis(9)), None);
        assert_eq!(
            q.pop_due(Instant::from_millis(10)),
            Some((Instant::from_millis(10), 1))
        );
        assert_eq!(q.pop_due(Instant::from_millis(15)), None);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn many_equal_times_stay_fifo() {
        let mut q = EventQueue::new();
        for i in 0..1000u32 {
            q.push(Instant::from_millis(u64::from(i % 3)), i);
        }
        let mut last = (Instant::ZERO, 0u32);
        let mut first = true;
        while let Some((t, i)) = q.pop() {
            if !first {
                assert!(t > last.0 || (t == last.0 && i > last.1));
            }
            first = false;
            last = (t, i);
        }
    }

    #[test]
    fn clock_is_monotonic() {
        let mut c = Clock::new(Instant::ZERO);
        c.advance_to(Instant::from_millis(3));
        c.advance_to(Instant::from_millis(3));
        assert_eq!(c.now(), Instant::from_millis(3));
        assert_eq!(c.elapsed(), Duration::from_millis(3));
        assert_eq!(at(Duration::from_millis(7)), Instant::from_millis(7));
        assert!((secs(Instant::from_millis(1500)) - 1.5).abs() < 1e-12);
        let r = std::panic::catch_unwind(move || {
            let mut c = c;
            c.advance_to(Instant::from_millis(2));
        });
        assert!(r.is_err());
    }
}
