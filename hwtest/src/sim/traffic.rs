//! Traffic: a ping generator that measures reroute gaps like the anchors.
//!
//! Node A sends a small unicast Ethernet frame (a *ping*, carrying a
//! sequence number) to node B's originator address every 50 ms with
//! `send_unicast`; B answers each ping it receives with a *pong* unicast back
//! to A. The arrival times of pongs at A are logged; the **gap** over a
//! window is the longest hole between consecutive pongs (anchors.md: "the
//! longest hole between consecutive ping replies"). Its edges count too, so
//! pongs that never resume give a gap as long as the rest of the window.
//!
//! Frame layout (inner Ethernet frame, 32 bytes):
//! `dst[6] src[6] ethertype 0x88b5 | magic[4] pinger be16 seq be32 sent_us be64`
//! with magic `b"mshP"` for a ping and `b"mshR"` for a pong.

use std::time::Duration;

use batman::{Instant, Mac};

/// IEEE 802 "local experimental" ethertype.
pub const ETHERTYPE_PING: u16 = 0x88b5;
const MAGIC_PING: [u8; 4] = *b"mshP";
const MAGIC_PONG: [u8; 4] = *b"mshR";
/// Length of a ping/pong frame.
pub const PING_LEN: usize = 32;
/// The anchors' ping interval.
pub const PING_INTERVAL: Duration = Duration::from_millis(50);

/// A decoded ping or pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingFrame {
    pub reply: bool,
    pub dst: Mac,
    pub src: Mac,
    pub pinger: u16,
    pub seq: u32,
    /// When the ping was sent (copied into the pong).
    pub sent: Instant,
}

impl PingFrame {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(PING_LEN);
        v.extend_from_slice(&self.dst.0);
        v.extend_from_slice(&self.src.0);
        v.extend_from_slice(&ETHERTYPE_PING.to_be_bytes());
        v.extend_from_slice(if self.reply { &MAGIC_PONG } else { &MAGIC_PING });
        v.extend_from_slice(&self.pinger.to_be_bytes());
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.sent.as_micros().to_be_bytes());
        v
    }

    /// Decode, or `None` if the frame is not one of ours.
    pub fn decode(f: &[u8]) -> Option<PingFrame> {
        if f.len() < PING_LEN || f[12..14] != ETHERTYPE_PING.to_be_bytes() {
            return None;
        }
        let reply = match <[u8; 4]>::try_from(&f[14..18]).ok()? {
            MAGIC_PING => false,
            MAGIC_PONG => true,
            _ => return None,
        };
        Some(PingFrame {
            reply,
            dst: Mac::from_bytes(&f[0..6]),
            src: Mac::from_bytes(&f[6..12]),
            pinger: u16::from_be_bytes([f[18], f[19]]),
            seq: u32::from_be_bytes(f[20..24].try_into().ok()?),
            sent: Instant::from_micros(u64::from_be_bytes(f[24..32].try_into().ok()?)),
        })
    }

    /// The pong answering this ping.
    pub fn pong(&self) -> PingFrame {
        PingFrame {
            reply: true,
            dst: self.src,
            src: self.dst,
            ..*self
        }
    }
}

/// One pong that came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub seq: u32,
    pub sent: Instant,
    pub received: Instant,
}

/// Longest hole in a window of pongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Length of the longest hole.
    pub len: Duration,
    /// Where it starts (the pong before it, or the window start).
    pub from: Instant,
    /// Pongs in the window.
    pub replies: usize,
}

/// What a ping generator sent and got back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingLog {
    /// (seq, time, accepted by the core's `send_unicast`).
    pub sent: Vec<(u32, Instant, bool)>,
    /// Pongs in arrival order (duplicates included).
    pub replies: Vec<Reply>,
}

impl PingLog {
    /// Pongs whose arrival falls in `[from, to]`.
    pub fn replies_in(&self, from: Instant, to: Instant) -> impl Iterator<Item = &Reply> {
        self.replies
            .iter()
            .filter(move |r| r.received >= from && r.received <= to)
    }

    /// Longest hole between consecutive pongs arriving in `[from, to]`,
    /// counting the hole from `from` to the first pong and from the last
    /// pong to `to` (no pong at all: the whole window).
    pub fn max_gap(&self, from: Instant, to: Instant) -> Gap {
        let mut prev = from;
        let mut best = Gap {
            len: Duration::ZERO,
            from,
            replies: 0,
        };
        let mut count = 0;
        for r in self.replies_in(from, to) {
            count += 1;
            let hole = r.received.saturating_since(prev);
            if hole > best.len {
                best.len = hole;
                best.from = prev;
            }
            prev = r.received;
        }
        let tail = to.saturating_since(prev);
        if tail > best.len {
            best.len = tail;
            best.from = prev;
        }
        best.replies = count;
        best
    }

    /// Pings sent in `[from, to]` that never got a pong.
    pub fn lost_in(&self, from: Instant, to: Instant) -> usize {
        self.sent
            .iter()
            .filter(|&&(seq, t, _)| {
                t >= from && t <= to && !self.replies.iter().any(|r| r.seq == seq)
            })
            .count()
    }

    /// First pong arriving at or after `t`.
    pub fn first_reply_after(&self, t: Instant) -> Option<Instant> {
        self.replies.iter().map(|r| r.received).find(|&r| r >= t)
    }
}

/// A ping generator: `from` pings `to` every `interval` from `start`.
#[derive(Debug, Clone)]
pub struct Pinger {
    pub from: usize,
    pub to: usize,
    pub interval: Duration,
    pub start: Instant,
    pub stop: Option<Instant>,
    pub next_seq: u32,
    pub log: PingLog,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Instant {
        Instant::from_millis(v)
    }

    fn log_with(arrivals: &[u64]) -> PingLog {
        PingLog {
            sent: Vec::new(),
            replies: arrivals
                .iter()
                .enumerate()
                .map(|(i, &a)| Reply {
                    seq: i as u32,
                    sent: ms(a.saturating_sub(1)),
                    received: ms(a),
                })
                .collect(),
        }
    }

    #[test]
    fn frame_roundtrip_and_pong() {
        let p = PingFrame {
            reply: false,
            dst: Mac([2, 0, 0, 0, 8, 0]),
            src: Mac([2, 0, 0, 0, 0, 0]),
            pinger: 3,
            seq: 77,
            sent: Instant::from_micros(123_456_789),
        };
        let b = p.encode();
        assert_eq!(b.len(), PING_LEN);
        assert_eq!(PingFrame::decode(&b), Some(p));
        let q = p.pong();
        assert!(q.reply && q.dst == p.src && q.src == p.dst && q.seq == 77);
        assert_eq!(PingFrame::decode(&q.encode()), Some(q));
        let mut bad = b.clone();
        bad[14] = b'x';
        assert_eq!(PingFrame::decode(&bad), None);
        assert_eq!(PingFrame::decode(&b[..20]), None);
        bad = b;
        bad[12] = 0x08;
        assert_eq!(PingFrame::decode(&bad), None);
    }

    #[test]
    fn steady_pongs_give_one_interval() {
        let arr: Vec<u64> = (0..40).map(|i| 1000 + 50 * i).collect();
        let g = log_with(&arr).max_gap(ms(1000), ms(2950));
        assert_eq!(g.len, Duration::from_millis(50));
        assert_eq!(g.replies, 40);
    }

    #[test]
    fn finds_the_hole_and_where_it_starts() {
        // pongs every 50 ms, nothing between 1200 and 3400
        let arr: Vec<u64> = (0..5)
            .map(|i| 1000 + 50 * i)
            .chain((0..5).map(|i| 3400 + 50 * i))
            .collect();
        let log = log_with(&arr);
        let g = log.max_gap(ms(900), ms(3600));
        assert_eq!(g.len, Duration::from_millis(2200));
        assert_eq!(g.from, ms(1200));
        assert_eq!(log.first_reply_after(ms(1201)), Some(ms(3400)));
    }

    #[test]
    fn window_edges_count() {
        let log = log_with(&[1000, 1050]);
        // never resumed: hole from the last pong to the window end
        assert_eq!(
            log.max_gap(ms(1000), ms(5000)).len,
            Duration::from_millis(3950)
        );
        // nothing at all in the window: the whole window
        let g = log.max_gap(ms(2000), ms(3000));
        assert_eq!((g.len, g.replies), (Duration::from_millis(1000), 0));
    }

    #[test]
    fn counts_lost_pings() {
        let mut log = log_with(&[1001, 1101]);
        log.sent = vec![
            (0, ms(1000), true),
            (1, ms(1050), false),
            (2, ms(1100), true),
        ];
        log.replies[1].seq = 2;
        assert_eq!(log.lost_in(ms(0), ms(2000)), 1);
        assert_eq!(log.lost_in(ms(1060), ms(2000)), 0);
    }
}
