//! Neighbour links: one per (our interface, neighbour MAC), with the echo
//! window that measures how many of our own OGMs the neighbour rebroadcast
//! back to us, and the link-quality arithmetic of batman-adv's `calc_tq`.

use crate::api::IfaceId;
use crate::config::TQ_LOCAL_WINDOW;
use crate::time::Instant;
use crate::wire::{Mac, TQ_MAX};

/// A neighbour heard on one of our interfaces.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub iface: IfaceId,
    pub mac: Mac,
    pub last_seen: Instant,
    /// Bit i: the neighbour echoed our own OGM `last_sent - i` of `iface`.
    pub echo_bits: u64,
    /// How many originators route through this link (eviction protection).
    pub router_refs: u32,
    /// The neighbour's own OGMs received through this link (`rq`) and the
    /// span of its window, copied from the neighbour's originator entry
    /// whenever that window moves (saves a lookup per OGM).
    pub rq: u8,
    pub span: u8,
}

impl Link {
    pub fn new(iface: IfaceId, mac: Mac, now: Instant) -> Self {
        Link {
            iface,
            mac,
            last_seen: now,
            echo_bits: 0,
            router_refs: 0,
            rq: 0,
            span: 0,
        }
    }
    /// Echoes counted in the window.
    pub fn echo_count(&self) -> u32 {
        self.echo_bits.count_ones()
    }
    /// `(tq_own, asymmetry penalty)` of this link (see [`link_quality`]).
    pub fn quality(&self) -> (u32, u32) {
        link_quality(self.echo_count(), self.rq as u32, self.span as u32)
    }
}

/// `tq * (255 - penalty) / 255`.
#[inline]
pub fn hop_penalty(tq: u8, penalty: u8) -> u8 {
    (tq as u32 * (TQ_MAX - penalty) as u32 / TQ_MAX as u32) as u8
}

/// Link quality towards a neighbour from our echo count and our receive
/// count `rq` of its own OGMs: returns `(tq_own, tq_asym_penalty)`, each
/// 0..=255.
///
/// `span` is how many of the neighbour's seqnos the receive window has
/// covered since we first heard it (at most `TQ_LOCAL_WINDOW`). batman-adv
/// always divides by the full window of 64, so a new neighbour heard
/// perfectly for 3 rounds gets an asymmetry penalty of 255 - 255*(61/64)^3
/// = 35 and a route needs many rounds before its TQ survives a few hops;
/// that is most of batman-adv's cold-start time. Here the penalty uses the
/// receive ratio over the span actually covered (`rq` of `span`), which is
/// the same as batman-adv's once the window has filled.
pub fn link_quality(echo: u32, rq: u32, span: u32) -> (u32, u32) {
    let max = TQ_MAX as u32;
    let total = echo.min(rq);
    let tq_own = if total < 1 || rq < 1 {
        0
    } else {
        max * total / rq
    };
    let w = span.clamp(rq.max(1), TQ_LOCAL_WINDOW);
    let inv = w.saturating_sub(rq);
    let asym = max - max * inv * inv * inv / (w * w * w);
    (tq_own, asym)
}

/// batman-adv's combined TQ: the advertised TQ scaled by our own link
/// quality, the asymmetry penalty and the interface penalty.
///
/// Rounded to the nearest value where batman-adv truncates: near the end of
/// a long path (TQ 1-3) truncation loses a whole unit per hop, which is
/// what limits a single-radio batman-adv mesh to about 17 hops.
pub fn combine(tq_in: u8, tq_own: u32, asym: u32, iface_penalty: u32) -> u8 {
    let max = TQ_MAX as u64;
    let den = max * max * max;
    let num = tq_in as u64 * tq_own as u64 * asym as u64 * iface_penalty as u64;
    ((num + den / 2) / den) as u8
}

/// The TQ we write into a forwarded OGM: the combined TQ with the hop
/// penalty, rounded to the nearest, and always strictly below the TQ we
/// received (`tq_in`), which the loop-freedom argument needs (see
/// `orig.rs`); 0 (not forwarded) when `tq_in` is 1.
pub fn forward_tq(tq_in: u8, tq_own: u32, asym: u32, iface_penalty: u32, penalty: u8) -> u8 {
    let max = TQ_MAX as u64;
    let den = max * max * max * max;
    let num = tq_in as u64
        * tq_own as u64
        * asym as u64
        * iface_penalty as u64
        * (TQ_MAX - penalty) as u64;
    let v = ((num + den / 2) / den) as u8;
    v.min(tq_in.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_matches_batman_adv_arithmetic() {
        // Perfect link: full echo and receive windows.
        assert_eq!(link_quality(64, 64, 64), (255, 255));
        // No data yet: not bidirectional.
        assert_eq!(link_quality(0, 5, 5).0, 0);
        assert_eq!(link_quality(5, 0, 5).0, 0);
        // Echo above receive count is capped at 100 %.
        assert_eq!(link_quality(64, 32, 64).0, 255);
        // Half the echoes: half the quality; rq 32 of 64 gives 255-255/8 = 224.
        assert_eq!(link_quality(16, 32, 64), (127, 224));
        // A young link heard every round has no asymmetry penalty...
        assert_eq!(link_quality(3, 3, 3), (255, 255));
        // ... where batman-adv's fixed window would give 255-255*61^3/64^3.
        assert_eq!(link_quality(3, 3, 64).1, 35);
        // half heard over a young span is penalised like half over 64
        assert_eq!(link_quality(4, 4, 8).1, 224);
        assert_eq!(combine(255, 255, 255, 255), 255);
        assert_eq!(combine(200, 127, 224, 255), 87); // 200*127*224/255^2 = 87.49
        assert_eq!(combine(2, 251, 255, 255), 2); // batman-adv: 1
                                                  // forwarded: penalised, rounded, strictly decreasing
        assert_eq!(forward_tq(255, 255, 255, 255, 30), 225);
        assert_eq!(forward_tq(2, 255, 255, 255, 30), 1);
        assert_eq!(forward_tq(1, 255, 255, 255, 0), 0);
        for tq in 1..=255u8 {
            assert!(forward_tq(tq, 255, 255, 255, 0) < tq);
        }
        assert_eq!(hop_penalty(255, 30), 225);
        assert_eq!(hop_penalty(1, 30), 0);
    }
}
