//! UNICAST_FRAG: splitting packets too big for the outgoing interface and
//! reassembling the ones addressed to us, with batman-adv's rules
//! (`fragmentation.c`):
//!
//! - a packet larger than `min(MTU, 1280)` is cut into at most 16
//!   fragments of equal size (but the first), each with a 20-byte header;
//!   fragment `no = 0` carries the *tail*, the highest `no` the head;
//!   `total_size` is the whole original packet; `seqno` is a per-node
//!   16-bit counter;
//! - a receiver keeps a chain per (originator, seqno), merges once the sizes
//!   add up to `total_size` (fragments in descending `no`), and hands the
//!   merged packet to the normal receive path; a fragment with a different
//!   `total_size`, a duplicate `no`, or a total above 16 x 1280 bytes clears
//!   the chain.
//!
//! Relays forward fragments as they are (no merging on the way), so they
//! keep no state for other nodes' packets.
//!
//! Bounded: at most [`MAX_CHAINS`] chains of at most [`MAX_TOTAL`] bytes;
//! a new chain evicts the oldest one; chains older than [`FRAG_TIMEOUT`]
//! are dropped.

use core::time::Duration;

use crate::time::Instant;
use crate::wire::{frag::HEADER_LEN, FragPacket, FragRepr, Mac};

/// Largest fragment on the wire, header included (`BATADV_FRAG_MAX_FRAG_SIZE`).
pub const MAX_FRAG_SIZE: usize = 1280;
/// Most fragments per packet (`BATADV_FRAG_MAX_FRAGMENTS`).
pub const MAX_FRAGMENTS: usize = 16;
/// Largest packet that can be fragmented and reassembled.
pub const MAX_TOTAL: usize = MAX_FRAG_SIZE * MAX_FRAGMENTS;
/// Reassembly chains kept at once (memory: at most this x `MAX_TOTAL`).
pub const MAX_CHAINS: usize = 16;
/// An incomplete chain is dropped after this (`BATADV_FRAG_TIMEOUT`).
pub const FRAG_TIMEOUT: Duration = Duration::from_secs(10);

/// Cut `pkt` (a whole batman unicast-kind packet) into fragments for an
/// interface with `mtu`, from `orig` to `dest`. `None` if it would take
/// more than 16 fragments.
pub fn split(
    pkt: &[u8],
    mtu: usize,
    orig: Mac,
    dest: Mac,
    seqno: u16,
    ttl: u8,
) -> Option<Vec<Vec<u8>>> {
    let mtu = mtu.min(MAX_FRAG_SIZE);
    let room = mtu.checked_sub(HEADER_LEN).filter(|r| *r > 0)?;
    if pkt.is_empty() || pkt.len() > u16::MAX as usize {
        return None;
    }
    let n = (pkt.len() - 1) / room + 1;
    if n > MAX_FRAGMENTS {
        return None;
    }
    let size = (pkt.len() - 1) / n + 1;
    let mut out = Vec::with_capacity(n);
    let mut end = pkt.len();
    let mut no = 0u8;
    // Eat fragments from the tail, as batman-adv does; the head goes last.
    while end > 0 {
        let start = end.saturating_sub(size);
        let chunk = &pkt[start..end];
        let repr = FragRepr {
            ttl,
            no,
            priority: 0,
            dest,
            orig,
            seqno,
            total_size: pkt.len() as u16,
        };
        let mut f = vec![0u8; HEADER_LEN + chunk.len()];
        repr.emit(&mut f);
        f[HEADER_LEN..].copy_from_slice(chunk);
        out.push(f);
        end = start;
        no += 1;
    }
    Some(out)
}

#[derive(Debug)]
struct Chain {
    orig: Mac,
    seqno: u16,
    total: usize,
    size: usize,
    started: Instant,
    /// (no, data), kept sorted by descending `no`.
    parts: Vec<(u8, Vec<u8>)>,
}

/// Outcome of adding a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Stored, waiting for more.
    Pending,
    /// The packet is complete: here it is.
    Complete(Vec<u8>),
    /// Dropped (duplicate, inconsistent, too large); the chain was cleared.
    Dropped,
}

/// Reassembly buffers.
#[derive(Debug, Default)]
pub struct Reassembly {
    chains: Vec<Chain>,
}

impl Reassembly {
    /// Add a checked fragment received at `now`.
    pub fn add(&mut self, p: &FragPacket<&[u8]>, now: Instant) -> Added {
        self.expire(now);
        let (orig, seqno, total, no) = (p.orig(), p.seqno(), p.total_size() as usize, p.no());
        let data = p.payload();
        if total > MAX_TOTAL
            || data.is_empty()
            || data.len() > total
            || no as usize >= MAX_FRAGMENTS
        {
            return Added::Dropped;
        }
        // batman-adv keeps one chain per seqno bucket: a new seqno from the
        // same originator replaces an old chain in its bucket.
        let bucket = |s: u16| s % 8;
        let i = match self
            .chains
            .iter()
            .position(|c| c.orig == orig && bucket(c.seqno) == bucket(seqno))
        {
            Some(i) if self.chains[i].seqno == seqno => i,
            Some(i) => {
                self.chains[i] = Chain::new(orig, seqno, total, now);
                i
            }
            None => {
                if self.chains.len() >= MAX_CHAINS {
                    let oldest = (0..self.chains.len())
                        .min_by_key(|i| self.chains[*i].started)
                        .expect("full");
                    self.chains.swap_remove(oldest);
                }
                self.chains.push(Chain::new(orig, seqno, total, now));
                self.chains.len() - 1
            }
        };
        let c = &mut self.chains[i];
        if c.total != total || c.parts.iter().any(|(n, _)| *n == no) || c.size + data.len() > total
        {
            self.chains.swap_remove(i);
            return Added::Dropped;
        }
        let at = c
            .parts
            .iter()
            .position(|(n, _)| *n < no)
            .unwrap_or(c.parts.len());
        c.parts.insert(at, (no, data.to_vec()));
        c.size += data.len();
        if c.size < c.total {
            return Added::Pending;
        }
        let c = self.chains.swap_remove(i);
        let mut out = Vec::with_capacity(c.total);
        for (_, d) in c.parts {
            out.extend_from_slice(&d);
        }
        Added::Complete(out)
    }

    fn expire(&mut self, now: Instant) {
        self.chains.retain(|c| now < c.started + FRAG_TIMEOUT);
    }

    /// Heap held by the buffers.
    pub fn heap_bytes(&self) -> usize {
        self.chains.capacity() * core::mem::size_of::<Chain>()
            + self
                .chains
                .iter()
                .map(|c| {
                    c.parts.capacity() * core::mem::size_of::<(u8, Vec<u8>)>()
                        + c.parts.iter().map(|(_, d)| d.capacity()).sum::<usize>()
                })
                .sum::<usize>()
    }

    /// Worst case of `heap_bytes`.
    pub fn heap_bound() -> usize {
        MAX_CHAINS * 2 * core::mem::size_of::<Chain>()
            + MAX_CHAINS * (MAX_FRAGMENTS * 2 * core::mem::size_of::<(u8, Vec<u8>)>() + MAX_TOTAL)
    }
}

impl Chain {
    fn new(orig: Mac, seqno: u16, total: usize, now: Instant) -> Self {
        Chain {
            orig,
            seqno,
            total,
            size: 0,
            started: now,
            parts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = Mac([2, 0, 0, 0, 0, 1]);
    const B: Mac = Mac([2, 0, 0, 0, 0, 2]);

    fn packet(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn split_matches_batman_adv_sizes_and_order() {
        let pkt = packet(3000);
        let f = split(&pkt, 1500, A, B, 9, 50).unwrap();
        // mtu capped at 1280: 1260 per fragment -> 3 fragments of 1000
        assert_eq!(f.len(), 3);
        assert!(f.iter().all(|x| x.len() == HEADER_LEN + 1000));
        let p0 = FragPacket::new_checked(&f[0][..]).unwrap();
        assert_eq!((p0.no(), p0.total_size(), p0.seqno()), (0, 3000, 9));
        assert_eq!(p0.payload(), &pkt[2000..]); // tail first
        let p2 = FragPacket::new_checked(&f[2][..]).unwrap();
        assert_eq!(p2.no(), 2);
        assert_eq!(p2.payload(), &pkt[..1000]);
        assert!(split(&packet(MAX_TOTAL + 1), 1500, A, B, 1, 50).is_none());
        assert!(split(&pkt, HEADER_LEN, A, B, 1, 50).is_none());
    }

    #[test]
    fn reassembles_in_any_order_and_rejects_inconsistency() {
        let pkt = packet(2500);
        let f = split(&pkt, 1000, A, B, 3, 50).unwrap();
        assert_eq!(f.len(), 3);
        let t = Instant::from_millis(1);
        let mut r = Reassembly::default();
        let view = |x: &Vec<u8>| FragPacket::new_checked(x.clone()).unwrap();
        for order in [[0usize, 1, 2], [2, 0, 1], [1, 2, 0]] {
            let mut done = None;
            for i in order {
                let v = view(&f[i]);
                match r.add(&FragPacket::new_unchecked(v.into_inner().as_slice()), t) {
                    Added::Pending => {}
                    Added::Complete(p) => done = Some(p),
                    Added::Dropped => panic!("dropped"),
                }
            }
            assert_eq!(done.as_deref(), Some(&pkt[..]));
        }
        // duplicate fragment number clears the chain
        assert_eq!(
            r.add(&FragPacket::new_checked(&f[0][..]).unwrap(), t),
            Added::Pending
        );
        assert_eq!(
            r.add(&FragPacket::new_checked(&f[0][..]).unwrap(), t),
            Added::Dropped
        );
        // a total_size that disagrees is dropped
        let mut g = f[1].clone();
        g[19] ^= 1;
        assert_eq!(
            r.add(&FragPacket::new_checked(&f[2][..]).unwrap(), t),
            Added::Pending
        );
        assert_eq!(
            r.add(&FragPacket::new_checked(&g[..]).unwrap(), t),
            Added::Dropped
        );
        // timeout
        assert_eq!(
            r.add(&FragPacket::new_checked(&f[2][..]).unwrap(), t),
            Added::Pending
        );
        let later = t + FRAG_TIMEOUT;
        assert_eq!(
            r.add(&FragPacket::new_checked(&f[0][..]).unwrap(), later),
            Added::Pending
        );
        assert_eq!(r.chains.len(), 1);
    }

    #[test]
    fn chains_are_capped() {
        let mut r = Reassembly::default();
        let t = Instant::ZERO;
        for i in 0..100u16 {
            let orig = Mac([2, 0, 0, 0, (i >> 8) as u8, i as u8]);
            let f = split(&packet(2000), 1500, orig, B, i, 50).unwrap();
            r.add(&FragPacket::new_checked(&f[0][..]).unwrap(), t);
        }
        assert_eq!(r.chains.len(), MAX_CHAINS);
        assert!(r.heap_bytes() <= Reassembly::heap_bound());
    }
}
