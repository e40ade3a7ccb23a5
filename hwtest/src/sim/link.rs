//! The link model: per-direction loss, delay and jitter, and link states.
//!
//! A *link* joins two interface endpoints. A point-to-point wired link (a
//! veth pair) is one link; a shared wireless medium is one link per pair of
//! interfaces within radio range, so that a cut or a loss setting applies to
//! the pair (u, v) only. A frame sent on an interface crosses each of its
//! links whose far end accepts the destination MAC; each crossing draws its
//! own loss and delay.
//!
//! States:
//! - [`LinkState::Up`]: frames cross subject to loss.
//! - [`LinkState::SilentDrop`]: every frame vanishes; carrier stays up and
//!   nobody is told (an nftables `drop`, a jammed channel).
//! - [`LinkState::Down`]: every frame vanishes *and* the ends are told: an
//!   interface whose last link went down loses carrier
//!   (`set_carrier(false)`, `set_carrier(true)` when one comes back); on an
//!   interface that still has other links up (a radio) each end is told
//!   that the other is gone (`neighbour_lost`, as a netlink station event).
//!
//! The state is checked when a frame is sent *and* when it would arrive, so
//! frames in flight on a link that is cut vanish too.

use std::time::Duration;

use super::rng::SimRng;

/// Index of a link in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub usize);

/// One end of a link: node index and the interface's index in that node's
/// interface list (0 is the primary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    pub node: usize,
    pub iface: usize,
}

/// Direction of travel over a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From end `a` to end `b`.
    AtoB,
    /// From end `b` to end `a`.
    BtoA,
}

impl Dir {
    pub fn index(self) -> usize {
        match self {
            Dir::AtoB => 0,
            Dir::BtoA => 1,
        }
    }
}

/// Loss and timing of one direction of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkParams {
    /// Probability that a frame is lost, 0.0..=1.0.
    pub loss: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` for every frame (frames
    /// may overtake each other by up to this much).
    pub jitter: Duration,
}

impl LinkParams {
    /// A lossless link with a fixed delay and no jitter.
    pub const fn fixed(delay: Duration) -> Self {
        LinkParams {
            loss: 0.0,
            delay,
            jitter: Duration::ZERO,
        }
    }
    /// A veth pair between namespaces: 50 us, up to 20 us jitter, no loss.
    pub const fn wired() -> Self {
        LinkParams {
            loss: 0.0,
            delay: Duration::from_micros(50),
            jitter: Duration::from_micros(20),
        }
    }
    /// A good 802.11s hop: 1 ms, up to 1 ms jitter (contention), no loss.
    pub const fn wireless() -> Self {
        LinkParams {
            loss: 0.0,
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(1),
        }
    }
    /// The same with loss probability `loss`.
    pub fn with_loss(self, loss: f64) -> Self {
        LinkParams { loss, ..self }
    }
    /// Largest delay a frame can see.
    pub fn max_delay(&self) -> Duration {
        self.delay + self.jitter
    }
    /// Draw the fate of one frame: `None` if lost, else its delay.
    pub fn sample(&self, rng: &mut SimRng) -> Option<Duration> {
        if rng.chance(self.loss) {
            return None;
        }
        let extra = rng.up_to(self.jitter.as_micros() as u64);
        Some(self.delay + Duration::from_micros(extra))
    }
}

/// Administrative state of a link (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    Up,
    SilentDrop,
    Down,
}

/// A link between two interface endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub a: Endpoint,
    pub b: Endpoint,
    /// `params[Dir::AtoB.index()]` and `params[Dir::BtoA.index()]`.
    pub params: [LinkParams; 2],
    pub state: LinkState,
}

impl Link {
    /// A link with the same parameters both ways, up.
    pub fn new(a: Endpoint, b: Endpoint, p: LinkParams) -> Self {
        Link {
            a,
            b,
            params: [p, p],
            state: LinkState::Up,
        }
    }
    /// The far end and direction as seen from `from`, or `None` if `from`
    /// is not an end of this link.
    pub fn far_end(&self, from: Endpoint) -> Option<(Endpoint, Dir)> {
        if from == self.a {
            Some((self.b, Dir::AtoB))
        } else if from == self.b {
            Some((self.a, Dir::BtoA))
        } else {
            None
        }
    }
    /// Does this link join nodes `u` and `v` (either way round)?
    pub fn joins(&self, u: usize, v: usize) -> bool {
        (self.a.node == u && self.b.node == v) || (self.a.node == v && self.b.node == u)
    }
    /// Parameters of direction `d`.
    pub fn params(&self, d: Dir) -> &LinkParams {
        &self.params[d.index()]
    }
    /// Fate of a frame sent now in direction `d`: `None` if it vanishes.
    /// Draws from `rng` only when the link is up (a cut link consumes no
    /// randomness, so it does not perturb the rest of the run).
    pub fn transmit(&self, d: Dir, rng: &mut SimRng) -> Option<Duration> {
        match self.state {
            LinkState::Up => self.params(d).sample(rng),
            LinkState::SilentDrop | LinkState::Down => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(node: usize, iface: usize) -> Endpoint {
        Endpoint { node, iface }
    }

    #[test]
    fn loss_rate_and_delay_bounds() {
        let p = LinkParams {
            loss: 0.25,
            delay: Duration::from_millis(2),
            jitter: Duration::from_micros(500),
        };
        let mut rng = SimRng::seed_from_u64(9);
        let n = 40_000;
        let mut lost = 0;
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        for _ in 0..n {
            match p.sample(&mut rng) {
                None => lost += 1,
                Some(d) => {
                    lo = lo.min(d);
                    hi = hi.max(d);
                }
            }
        }
        let rate = lost as f64 / n as f64;
        assert!((rate - 0.25).abs() < 0.01, "{rate}");
        assert!(lo >= p.delay && hi <= p.max_delay());
        // Jitter is actually used: both ends of the range are approached.
        assert!(lo < p.delay + Duration::from_micros(10));
        assert!(hi > p.delay + Duration::from_micros(490));
    }

    #[test]
    fn fixed_link_is_deterministic_and_draws_nothing() {
        let p = LinkParams::fixed(Duration::from_millis(1));
        let mut rng = SimRng::seed_from_u64(3);
        let before = rng.clone();
        for _ in 0..10 {
            assert_eq!(p.sample(&mut rng), Some(Duration::from_millis(1)));
        }
        assert_eq!(rng, before);
    }

    #[test]
    fn states_and_directions() {
        let mut l = Link::new(ep(0, 0), ep(1, 2), LinkParams::wired());
        l.params[Dir::BtoA.index()] = LinkParams::wired().with_loss(1.0);
        assert_eq!(l.far_end(ep(0, 0)), Some((ep(1, 2), Dir::AtoB)));
        assert_eq!(l.far_end(ep(1, 2)), Some((ep(0, 0), Dir::BtoA)));
        assert_eq!(l.far_end(ep(1, 0)), None);
        assert!(l.joins(1, 0) && l.joins(0, 1) && !l.joins(0, 2));

        let mut rng = SimRng::seed_from_u64(1);
        assert!(l.transmit(Dir::AtoB, &mut rng).is_some());
        assert!(l.transmit(Dir::BtoA, &mut rng).is_none());
        for s in [LinkState::SilentDrop, LinkState::Down] {
            l.state = s;
            let before = rng.clone();
            assert!(l.transmit(Dir::AtoB, &mut rng).is_none());
            assert_eq!(rng, before, "a cut link draws no randomness");
        }
    }
}
