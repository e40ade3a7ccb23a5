//! The transmit queue: frames waiting for their send time, with OGM
//! aggregation as batman-adv does it (per outgoing interface, up to
//! `MAX_AGGREGATION_PACKETS` OGMs and `min(512, MTU)` bytes, an OGM may wait
//! up to the aggregation delay to ride in a frame already scheduled).
//!
//! Bounded: at most `cap` frames. When full, new frames are refused and the
//! caller counts the drop; own OGMs are queued before anything is forwarded
//! in the same step, so forwarded traffic cannot starve them.

use crate::api::IfaceId;
use crate::config::MAX_AGGREGATION_PACKETS;
use crate::time::Instant;
use crate::wire::Mac;
use core::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub due: Instant,
    seq: u64,
    pub iface: IfaceId,
    pub dst: Mac,
    pub payload: Vec<u8>,
    /// OGMs in this frame (0: not an OGM frame).
    pub ogms: u8,
}

#[derive(Debug)]
pub(crate) struct TxQueue {
    items: Vec<Pending>,
    cap: usize,
    seq: u64,
}

impl TxQueue {
    pub fn new(cap: usize) -> Self {
        TxQueue {
            items: Vec::new(),
            cap,
            seq: 0,
        }
    }

    fn push(&mut self, p: Pending) -> bool {
        if self.items.len() >= self.cap {
            return false;
        }
        if self.items.len() == self.items.capacity() {
            let want = self.items.len().max(8).min(self.cap - self.items.len());
            self.items.reserve_exact(want);
        }
        self.items.push(p);
        true
    }

    /// Queue one OGM (header + TVLVs) for `iface`, joining a frame not yet
    /// sent (due at `now` or later) and due no later than `due + window`
    /// when it fits. False when full.
    pub fn queue_ogm(
        &mut self,
        iface: IfaceId,
        limit: usize,
        ogm: &[u8],
        (now, due): (Instant, Instant),
        window: Option<Duration>,
    ) -> bool {
        if let Some(window) = window {
            let end = due + window;
            if let Some(p) = self.items.iter_mut().find(|p| {
                p.ogms > 0
                    && p.iface == iface
                    && p.due >= now
                    && p.due <= end
                    && (p.ogms as usize) < MAX_AGGREGATION_PACKETS
                    && p.payload.len() + ogm.len() <= limit
            }) {
                p.payload.extend_from_slice(ogm);
                p.ogms += 1;
                return true;
            }
        }
        self.seq += 1;
        let mut payload = Vec::with_capacity(if window.is_some() { limit } else { ogm.len() });
        payload.extend_from_slice(ogm);
        self.push(Pending {
            due,
            seq: self.seq,
            iface,
            dst: Mac::BROADCAST,
            payload,
            ogms: 1,
        })
    }

    /// Queue a non-OGM frame. False when full.
    pub fn queue(&mut self, iface: IfaceId, dst: Mac, payload: Vec<u8>, due: Instant) -> bool {
        self.seq += 1;
        let seq = self.seq;
        self.push(Pending {
            due,
            seq,
            iface,
            dst,
            payload,
            ogms: 0,
        })
    }

    /// The earliest frame due at `now` (ties in queueing order).
    pub fn pop_due(&mut self, now: Instant) -> Option<Pending> {
        let i = self
            .items
            .iter()
            .enumerate()
            .filter(|(_, p)| p.due <= now)
            .min_by_key(|(_, p)| (p.due, p.seq))
            .map(|(i, _)| i)?;
        Some(self.items.swap_remove(i))
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.items.iter().map(|p| p.due).min()
    }

    /// Drop everything queued for `iface` (it went down or away).
    pub fn flush_iface(&mut self, iface: IfaceId) -> usize {
        let before = self.items.len();
        self.items.retain(|p| p.iface != iface);
        before - self.items.len()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn heap_bytes(&self) -> usize {
        self.items.capacity() * core::mem::size_of::<Pending>()
            + self
                .items
                .iter()
                .map(|p| p.payload.capacity())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_within_window_and_limits() {
        let mut q = TxQueue::new(4);
        let w = Some(Duration::from_millis(100));
        let t = Instant::from_millis(1000);
        let ogm = [0u8; 24];
        assert!(q.queue_ogm(IfaceId(0), 512, &ogm, (t, t + Duration::from_millis(50)), w));
        // due earlier, frame within 100 ms after: joins it
        assert!(q.queue_ogm(IfaceId(0), 512, &ogm, (t, t), w));
        assert_eq!(q.len(), 1);
        // other interface: own frame
        assert!(q.queue_ogm(IfaceId(1), 512, &ogm, (t, t), w));
        assert_eq!(q.len(), 2);
        // due after the frame: own frame
        assert!(q.queue_ogm(
            IfaceId(0),
            512,
            &ogm,
            (t + Duration::from_millis(60), t + Duration::from_millis(60)),
            w
        ));
        assert_eq!(q.len(), 3);
        // size limit
        assert!(q.queue_ogm(IfaceId(1), 48, &ogm, (t, t), w));
        assert!(q.queue_ogm(IfaceId(1), 48, &ogm, (t, t), w));
        assert_eq!(q.len(), 4);
        assert!(!q.queue(IfaceId(0), Mac::BROADCAST, vec![1], t)); // full
        assert!(q.pop_due(t - Duration::from_millis(1)).is_none());
        let first = q.pop_due(t).unwrap();
        assert_eq!(first.iface, IfaceId(1));
        assert_eq!(first.payload.len(), 48);
        assert_eq!(q.next_due(), Some(t));
        assert_eq!(q.flush_iface(IfaceId(0)), 2);
    }
}
