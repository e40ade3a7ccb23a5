//! The simulator's seeded PRNG: xoshiro256** seeded through SplitMix64.
//!
//! One master seed reproduces a run exactly. The simulator never shares a
//! generator between concerns: every node gets its own stream and the link
//! model another, all derived with [`SimRng::fork`], so that adding a node or
//! a ping does not shift the random choices of everything else.

use rand_core::{impls, Error, RngCore};

/// SplitMix64 (Steele, Lea, Flood 2014): used to expand a 64-bit seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna 2018): small, fast, 256 bits of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRng {
    s: [u64; 4],
}

impl SimRng {
    /// A generator from raw state. The all-zero state is a fixed point of
    /// xoshiro, so it is replaced by a SplitMix64 expansion of zero.
    pub fn from_state(s: [u64; 4]) -> Self {
        if s == [0; 4] {
            Self::seed_from_u64(0)
        } else {
            SimRng { s }
        }
    }

    /// Expand a 64-bit seed into a full state with SplitMix64.
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut sm = SplitMix64::new(seed);
        SimRng {
            s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
        }
    }

    /// An independent generator for sub-stream `stream`, derived from this
    /// generator's *seed state* without advancing it: `fork(k)` gives the same
    /// stream whatever else was drawn before.
    pub fn fork(&self, stream: u64) -> SimRng {
        let mut sm = SplitMix64::new(
            self.s[0] ^ self.s[1].rotate_left(17) ^ stream.wrapping_mul(0xd134_2543_de82_ef95),
        );
        let mut s = [0u64; 4];
        for w in s.iter_mut() {
            *w = sm.next_u64();
        }
        SimRng::from_state(s)
    }

    #[inline]
    pub fn gen_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), 53 bits of precision.
    pub fn unit_f64(&mut self) -> f64 {
        (self.gen_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `true` with probability `p` (clamped to [0, 1]). `p <= 0` never
    /// draws, so a lossless link consumes no randomness.
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.unit_f64() < p
    }

    /// Uniform in `0..=max` without modulo bias (Lemire's method with
    /// rejection). `max == 0` draws nothing.
    pub fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        if max == u64::MAX {
            return self.gen_u64();
        }
        let range = max + 1;
        loop {
            let m = (self.gen_u64() as u128) * (range as u128);
            let low = m as u64;
            if low >= range.wrapping_neg() % range {
                return (m >> 64) as u64;
            }
            // Rejected: draw again (probability < range / 2^64).
        }
    }
}

impl RngCore for SimRng {
    fn next_u32(&mut self) -> u32 {
        (self.gen_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.gen_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        impls::fill_bytes_via_next(self, dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_vector() {
        // Reference outputs of Vigna's splitmix64.c for seed 1234567.
        let mut sm = SplitMix64::new(1_234_567);
        let want = [
            6457827717110365317,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        for w in want {
            assert_eq!(sm.next_u64(), w);
        }
    }

    #[test]
    fn xoshiro256starstar_reference_vector() {
        // Reference outputs of xoshiro256starstar.c from state [1, 2, 3, 4].
        let mut r = SimRng::from_state([1, 2, 3, 4]);
        let want: [u64; 10] = [
            11520,
            0,
            1509978240,
            1215971899390074240,
            1216172134540287360,
            607988272756665600,
            16172922978634559625,
            8476171486693032832,
            10595114339597558777,
            2904607092377533576,
        ];
        for w in want {
            assert_eq!(r.next_u64(), w);
        }
    }

    #[test]
    fn same_seed_same_stream_and_forks_are_independent() {
        let mut a = SimRng::seed_from_u64(42);
        let mut b = SimRng::seed_from_u64(42);
        let mut c = SimRng::seed_from_u64(43);
        let va: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);

        let root = SimRng::seed_from_u64(7);
        let mut drawn = root.clone();
        drawn.next_u64();
        // fork depends on the seed state only, not on what was drawn since.
        assert_ne!(root.fork(1), root.fork(2));
        assert_eq!(root.fork(1), SimRng::seed_from_u64(7).fork(1));
        assert_ne!(root.fork(1), SimRng::seed_from_u64(8).fork(1));

        let mut bytes = [0u8; 13];
        a.fill_bytes(&mut bytes);
        assert!(bytes.iter().any(|&x| x != 0));
    }

    #[test]
    fn chance_and_up_to_have_the_right_distribution() {
        let mut r = SimRng::seed_from_u64(1);
        let n = 100_000;
        let hits = (0..n).filter(|_| r.chance(0.3)).count() as f64 / n as f64;
        assert!((hits - 0.3).abs() < 0.01, "{hits}");
        assert!(!(0..1000).any(|_| r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));

        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            let v = r.up_to(6);
            counts[v as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(r.up_to(0), 0);
        let u = r.unit_f64();
        assert!((0.0..1.0).contains(&u));
    }
}
