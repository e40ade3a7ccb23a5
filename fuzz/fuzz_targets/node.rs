//! The whole core under hostile input: a node with two interfaces and an
//! established neighbour receives arbitrary frames (the input is cut into
//! frames by a length byte; each frame's first byte picks the interface and
//! the sender). Nothing may panic, memory must stay under `memory_bound()`,
//! and time keeps moving so timers, purges and reassembly timeouts run.
#![no_main]

use batman::{Config, IfaceConfig, Instant, Mac, Node};
use libfuzzer_sys::fuzz_target;

struct Rng(u64);
impl batman::RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        for b in d {
            *b = self.next_u32() as u8;
        }
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), batman::rand_core::Error> {
        self.fill_bytes(d);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::from_millis(1);
    let mut n = Node::new(Config::default(), Rng(7), now).unwrap();
    let a = n
        .add_iface(now, IfaceConfig::wired(Mac([2, 0, 0, 0, 0, 1])))
        .unwrap();
    let b = n
        .add_iface(now, IfaceConfig::wireless(Mac([2, 0, 0, 0, 0, 2])))
        .unwrap();
    let bound = n.memory_bound();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = (len as usize).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        let Some((&sel, payload)) = frame.split_first() else {
            continue;
        };
        let iface = if sel & 1 == 0 { a } else { b };
        let src = Mac([2, 0, 0, 0, 9, sel >> 1]);
        let dst = if sel & 0x80 == 0 {
            Mac::BROADCAST
        } else {
            Mac([2, 0, 0, 0, 0, 1 + (sel & 1)])
        };
        n.handle_frame(now, iface, src, dst, payload);
        now = now + core::time::Duration::from_millis(137);
        n.handle_timeout(now);
        while n.poll_transmit().is_some() {}
        while n.poll_event().is_some() {}
        assert!(n.memory_usage().bytes <= bound);
    }
});
