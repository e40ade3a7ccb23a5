//! Sequence-number windows: batman-adv's sliding bit windows and the
//! seqno-reset protection, as pure functions over plain integers.
//!
//! A window is a `u64` whose bit `i` stands for seqno `last - i`, where
//! `last` is the newest seqno the window has moved to.

use crate::config::EXPECTED_SEQNO_RANGE;
use crate::time::Instant;
use core::time::Duration;

/// `a - b` in serial-number arithmetic.
#[inline]
pub fn diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Is `seqno` marked in a window whose newest seqno is `last`?
#[inline]
pub fn test_bit(bits: u64, last: u32, seqno: u32) -> bool {
    let d = diff(last, seqno);
    (0..64).contains(&d) && bits & (1u64 << d) != 0
}

/// Move the window for a seqno `seq_diff` ahead of its newest and mark it if
/// `mark`. Returns true when the window moved (the seqno is the new newest).
/// Same rules as batman-adv's `bit_get_packet`: slightly older seqnos are
/// only marked, slightly newer ones shift, much newer or much older ones
/// (a restart) clear the window.
pub fn advance(bits: &mut u64, seq_diff: i32, window: u32, mark: bool) -> bool {
    let w = window as i32;
    if seq_diff <= 0 && seq_diff > -w {
        if mark {
            *bits |= 1u64 << (-seq_diff);
        }
        return false;
    }
    if seq_diff > 0 && seq_diff < w {
        *bits = if seq_diff >= 64 { 0 } else { *bits << seq_diff };
    } else {
        // Far ahead (lost many) or far behind (restart): start over.
        *bits = 0;
    }
    if mark {
        *bits |= 1;
    }
    true
}

/// Outcome of [`protect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// In range, or accepted as a restart.
    Accept { restarted: bool },
    /// Out of range while protection runs: drop it.
    Drop,
}

/// batman-adv's `window_protected`: a seqno far behind (`<= -max_old`) or
/// too far ahead is refused for `protect_for` after the last such jump; after
/// that it is accepted as a restart and protection starts again.
pub fn protect(
    seq_diff: i32,
    max_old: u32,
    last_reset: &mut Option<Instant>,
    protect_for: Duration,
    now: Instant,
) -> Protection {
    if seq_diff <= -(max_old as i32) || seq_diff >= EXPECTED_SEQNO_RANGE as i32 {
        if let Some(t) = *last_reset {
            if now < t + protect_for {
                return Protection::Drop;
            }
        }
        *last_reset = Some(now);
        return Protection::Accept { restarted: true };
    }
    Protection::Accept { restarted: false }
}

/// Is `(s1, q1)` better than `(s2, q2)`: a newer seqno, or the same seqno
/// with a higher quality. Used for feasibility distances.
#[inline]
pub fn newer_or_better(s1: u32, q1: u8, s2: u32, q2: u8) -> bool {
    let d = diff(s1, s2);
    d > 0 || (d == 0 && q1 > q2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_marks_shifts_and_resets() {
        let mut b = 0u64;
        assert!(advance(&mut b, 1, 64, true));
        assert_eq!(b, 1);
        assert!(advance(&mut b, 2, 64, true)); // skipped one
        assert_eq!(b, 0b101);
        assert!(!advance(&mut b, -1, 64, true)); // late arrival of the skipped one
        assert_eq!(b, 0b111);
        assert!(!advance(&mut b, 0, 64, true));
        assert_eq!(b.count_ones(), 3);
        assert!(advance(&mut b, 63, 64, true));
        assert_eq!(b, 1 | (0b111 << 63));
        assert!(advance(&mut b, 64, 64, false)); // missed a whole window
        assert_eq!(b, 0);
        assert!(advance(&mut b, -64, 64, true)); // restart
        assert_eq!(b, 1);
        assert!(advance(&mut b, 70000, 64, true));
        assert_eq!(b, 1);
    }

    #[test]
    fn test_bit_in_and_out_of_window() {
        let b = 0b1001u64;
        assert!(test_bit(b, 100, 100));
        assert!(!test_bit(b, 100, 99));
        assert!(test_bit(b, 100, 97));
        assert!(!test_bit(b, 100, 101));
        assert!(!test_bit(u64::MAX, 100, 100 - 64));
        assert!(test_bit(1, 2, 2));
        assert!(test_bit(2, 0, u32::MAX)); // wraps
    }

    #[test]
    fn protection_refuses_then_accepts_restart() {
        let mut last = None;
        let t0 = Instant::from_millis(1000);
        let p = Duration::from_secs(30);
        assert_eq!(
            protect(5, 64, &mut last, p, t0),
            Protection::Accept { restarted: false }
        );
        assert_eq!(
            protect(-100, 64, &mut last, p, t0),
            Protection::Accept { restarted: true }
        );
        assert_eq!(
            protect(-100, 64, &mut last, p, t0 + Duration::from_secs(1)),
            Protection::Drop
        );
        assert_eq!(
            protect(70000, 64, &mut last, p, t0 + Duration::from_secs(29)),
            Protection::Drop
        );
        assert_eq!(
            protect(70000, 64, &mut last, p, t0 + Duration::from_secs(31)),
            Protection::Accept { restarted: true }
        );
    }

    #[test]
    fn feasibility_order() {
        assert!(newer_or_better(11, 0, 10, 255));
        assert!(newer_or_better(10, 200, 10, 199));
        assert!(!newer_or_better(10, 199, 10, 199));
        assert!(!newer_or_better(9, 255, 10, 1));
        assert!(newer_or_better(0, 1, u32::MAX, 255)); // wrap
    }
}
