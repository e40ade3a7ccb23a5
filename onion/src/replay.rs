//! A sliding anti-replay window over 64-bit message counters, after RFC
//! 6479: a ring of `WORDS` 64-bit words (2048 bits by default, as WireGuard
//! uses) indexed by the counter, and the highest counter accepted so far.
//!
//! A counter is accepted when it is above the highest seen, or when it lies
//! less than [`ReplayWindow::WINDOW`] below it and its bit is clear. The
//! window keeps one word of slack (`WINDOW` = `BITS` − 64) so that moving
//! forward only ever clears whole words: a jump of any size costs at most
//! `WORDS` word writes, and counters are never compared after wrapping.
//!
//! It knows nothing about sessions or circuits: check a counter with
//! [`ReplayWindow::check`] before doing the expensive work (decryption), and
//! record it with [`ReplayWindow::update`] only once the message proved
//! authentic, so that forged messages cannot move the window.

/// Words in the default window: 32 × 64 = 2048 bits.
pub const DEFAULT_WORDS: usize = 32;

/// The set of counters seen, relative to the highest one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayWindow<const WORDS: usize = DEFAULT_WORDS> {
    /// Highest counter accepted (meaningless while `seen_any` is false).
    top: u64,
    seen_any: bool,
    /// Bit `c % 64` of word `(c / 64) % WORDS` is set when counter `c`
    /// (within the window) was accepted.
    bits: [u64; WORDS],
}

impl ReplayWindow {
    /// An empty window of the default size: every counter is acceptable.
    pub const fn new() -> Self {
        Self::sized()
    }
}

impl<const WORDS: usize> Default for ReplayWindow<WORDS> {
    fn default() -> Self {
        Self::sized()
    }
}

impl<const WORDS: usize> ReplayWindow<WORDS> {
    /// Bits of state.
    pub const BITS: usize = WORDS * 64;
    /// A counter this far or further below the highest accepted one is
    /// refused as too old; anything closer is accepted once.
    pub const WINDOW: u64 = (WORDS as u64 - 1) * 64;
    /// A window needs a word of slack and at least one word of history.
    const VALID: () = assert!(WORDS >= 2, "a replay window needs at least 2 words");

    /// An empty window of `WORDS` words (`ReplayWindow::<4>::sized()`).
    pub const fn sized() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::VALID;
        ReplayWindow {
            top: 0,
            seen_any: false,
            bits: [0; WORDS],
        }
    }

    /// Word and bit of `counter`.
    fn slot(counter: u64) -> (usize, u64) {
        // The remainder is below WORDS, which is a usize.
        let word = ((counter / 64) % WORDS as u64) as usize;
        (word, 1u64 << (counter % 64))
    }

    /// Would `counter` be accepted? (Changes nothing.)
    pub fn check(&self, counter: u64) -> bool {
        if !self.seen_any || counter > self.top {
            return true;
        }
        if self.top - counter >= Self::WINDOW {
            return false;
        }
        let (w, b) = Self::slot(counter);
        self.bits[w] & b == 0
    }

    /// Accept and record `counter`; false (and nothing changes) when it was
    /// seen already or is too old.
    pub fn update(&mut self, counter: u64) -> bool {
        if !self.check(counter) {
            return false;
        }
        if !self.seen_any {
            // The bits are all clear (new or reset).
            self.top = counter;
            self.seen_any = true;
        } else if counter > self.top {
            let current = self.top / 64;
            let new = counter / 64;
            // Clear the words the window slides over, at most all of them.
            let steps = (new - current).min(WORDS as u64);
            for i in 1..=steps {
                self.bits[((current + i) % WORDS as u64) as usize] = 0;
            }
            self.top = counter;
        }
        let (w, b) = Self::slot(counter);
        self.bits[w] |= b;
        true
    }

    /// The highest counter accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.seen_any.then_some(self.top)
    }

    /// Forget everything (a new key starts its counters again).
    pub fn reset(&mut self) {
        *self = Self::sized();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const W: u64 = ReplayWindow::<DEFAULT_WORDS>::WINDOW;

    #[test]
    fn default_size_is_wireguards() {
        assert_eq!(ReplayWindow::<DEFAULT_WORDS>::BITS, 2048);
        assert_eq!(W, 2048 - 64);
        assert_eq!(ReplayWindow::new(), ReplayWindow::default());
        assert_eq!(ReplayWindow::new().highest(), None);
    }

    #[test]
    fn duplicates_are_refused() {
        let mut w = ReplayWindow::new();
        for c in [5u64, 6, 7, 100] {
            assert!(w.check(c));
            assert!(w.update(c), "{c}");
            assert!(!w.check(c));
            assert!(!w.update(c), "{c} twice");
        }
        assert_eq!(w.highest(), Some(100));
    }

    #[test]
    fn counter_zero_is_a_counter_like_any_other() {
        let mut w = ReplayWindow::new();
        assert!(w.update(0));
        assert!(!w.update(0));
        assert_eq!(w.highest(), Some(0));
        assert!(w.update(1));
        assert!(!w.update(0));
        // Zero arriving late is still accepted once.
        let mut w = ReplayWindow::new();
        assert!(w.update(3));
        assert!(w.update(0));
        assert!(!w.update(0));
    }

    #[test]
    fn reordering_within_the_window_is_accepted_once() {
        let mut w = ReplayWindow::new();
        assert!(w.update(10_000));
        for c in (10_000 - W + 1..10_000).rev() {
            assert!(w.update(c), "{c}");
        }
        for c in 10_000 - W + 1..=10_000 {
            assert!(!w.update(c), "{c} replayed");
        }
        assert_eq!(w.highest(), Some(10_000));
    }

    #[test]
    fn the_window_edge() {
        let mut w = ReplayWindow::new();
        assert!(w.update(5_000));
        // The oldest counter still inside, and the first one outside.
        assert!(w.check(5_000 - W + 1));
        assert!(!w.check(5_000 - W));
        assert!(!w.update(5_000 - W));
        assert!(w.update(5_000 - W + 1));
        // One step forward pushes that one out.
        assert!(w.update(5_001));
        assert!(!w.check(5_001 - W));
        assert!(w.check(5_001 - W + 1));
        // A counter of an older word than the window is not mistaken for
        // its namesake in the ring.
        assert!(!w.check(5_001 - ReplayWindow::<DEFAULT_WORDS>::BITS as u64));
    }

    #[test]
    fn a_huge_jump_clears_everything_behind() {
        let mut w = ReplayWindow::new();
        for c in 0..3_000 {
            assert!(w.update(c));
        }
        let far = 1u64 << 40;
        assert!(w.update(far));
        // Everything old is too old now; the recent past is open again.
        assert!(!w.check(2_999));
        assert!(w.check(far - 1));
        assert!(w.check(far - W + 1));
        // Before the jump every bit of the ring was set (3000 > 2048
        // counters): the oldest counter inside the window now shares its
        // slot with one of those and is fresh all the same.
        let alias = far - W + 1;
        assert!(w.update(alias));
        assert!(!w.update(alias));
    }

    #[test]
    fn u64_max_is_the_end_of_the_line() {
        let mut w = ReplayWindow::new();
        assert!(w.update(u64::MAX));
        assert!(!w.update(u64::MAX));
        assert!(w.update(u64::MAX - 1));
        assert!(w.update(u64::MAX - W + 1));
        assert!(!w.update(u64::MAX - W));
        assert!(!w.check(0));
        assert_eq!(w.highest(), Some(u64::MAX));
        // And straight from zero to the top.
        let mut w = ReplayWindow::new();
        assert!(w.update(0));
        assert!(w.update(u64::MAX));
        assert!(!w.check(0));
    }

    #[test]
    fn reset_forgets() {
        let mut w = ReplayWindow::new();
        assert!(w.update(42));
        w.reset();
        assert!(w.update(42));
        assert!(w.update(1));
    }

    #[test]
    fn a_small_window_works_the_same() {
        let mut w = ReplayWindow::<2>::sized();
        assert_eq!(ReplayWindow::<2>::WINDOW, 64);
        assert!(w.update(200));
        assert!(w.update(137));
        assert!(!w.update(136));
        assert!(!w.update(137));
    }

    /// The window against a plain set of everything accepted, over a
    /// deterministic mix of steps forward, jumps, replays and stragglers.
    fn against_model<const N: usize>() {
        let window = ReplayWindow::<N>::WINDOW;
        let mut w = ReplayWindow::<N>::sized();
        let mut seen = BTreeSet::new();
        let mut top: Option<u64> = None;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut last = 0u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let c = match x % 8 {
                0 | 1 => last.saturating_add(1 + x % 3),
                2 => last.saturating_add(x % (3 * window)),
                3 => last.saturating_sub(x % (window + 10)),
                4 => last.saturating_sub(x % 70),
                5 => *seen.iter().next_back().unwrap_or(&0),
                6 => last.saturating_sub(window - 1),
                _ => last,
            };
            let want = !seen.contains(&c) && !matches!(top, Some(t) if c <= t && t - c >= window);
            assert_eq!(w.check(c), want, "check {c} (top {top:?})");
            assert_eq!(w.update(c), want, "update {c} (top {top:?})");
            if want {
                seen.insert(c);
                top = Some(top.map_or(c, |t| t.max(c)));
            }
            last = c;
        }
        assert_eq!(w.highest(), top);
    }

    #[test]
    fn matches_a_plain_model() {
        against_model::<DEFAULT_WORDS>();
        against_model::<2>();
        against_model::<3>();
    }
}
