//! Path selection: which relays a client's circuit goes through.
//!
//! Relays are drawn uniformly at random from the candidates the driver
//! gives (the verified directory's nodes it can reach), excluding the
//! client itself and the destination, and with never two relays that are
//! direct neighbours of the client (a neighbour hears the client's frames
//! on the air; two of them on one circuit could tie its two ends
//! together). Nodes to avoid (the relays of a circuit that just died) are
//! left out while enough others remain.

use rand_core::RngCore;

use super::PathHop;
use crate::cell::MAX_HOPS;
use crate::identity::NodeId;

/// A node the client could use as a relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub hop: PathHop,
    /// Is it a direct batman neighbour of the client?
    pub neighbour: bool,
}

/// Why no path was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("only {have} usable relays for a circuit of {want}")]
    NotEnough { have: usize, want: usize },
    #[error("{0} relays is more than a cell's {max} hops allow", max = MAX_HOPS - 1)]
    TooManyHops(usize),
    #[error("a path may not repeat a hop or contain this node")]
    BadPath,
}

/// `n` relays for a circuit from `me` to `dest`.
pub fn pick_relays<R: RngCore>(
    rng: &mut R,
    candidates: &[Candidate],
    me: &NodeId,
    dest: &NodeId,
    n: usize,
    avoid: &[NodeId],
) -> Result<Vec<PathHop>, SelectError> {
    if n + 1 > MAX_HOPS {
        return Err(SelectError::TooManyHops(n));
    }
    let mut pool: Vec<&Candidate> = Vec::with_capacity(candidates.len());
    for c in candidates {
        if c.hop.id != *me && c.hop.id != *dest && !pool.iter().any(|p| p.hop.id == c.hop.id) {
            pool.push(c);
        }
    }
    // Fisher-Yates with rejection sampling (no modulo bias).
    for i in (1..pool.len()).rev() {
        let j = uniform(rng, i as u32 + 1) as usize;
        pool.swap(i, j);
    }
    let mut picked: Vec<&Candidate> = Vec::with_capacity(n);
    for allow_avoided in [false, true] {
        for c in &pool {
            if picked.len() == n {
                break;
            }
            let avoided = avoid.contains(&c.hop.id);
            let second_neighbour = c.neighbour && picked.iter().any(|p| p.neighbour);
            if (avoided && !allow_avoided)
                || second_neighbour
                || picked.iter().any(|p| p.hop.id == c.hop.id)
            {
                continue;
            }
            picked.push(c);
        }
    }
    if picked.len() < n {
        return Err(SelectError::NotEnough {
            have: picked.len(),
            want: n,
        });
    }
    Ok(picked.into_iter().map(|c| c.hop.clone()).collect())
}

/// Uniform in `0..bound` (bound > 0).
fn uniform<R: RngCore>(rng: &mut R, bound: u32) -> u32 {
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        // The high half: weak generators are weakest in their low bits.
        let x = (rng.next_u64() >> 32) as u32;
        if x < zone {
            return x % bound;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_rng::Counter;

    fn cand(i: u8, neighbour: bool) -> Candidate {
        Candidate {
            hop: PathHop {
                id: [i; 32],
                orig: [2, 0, 0, 0, 0, i],
                onion: [i; 32],
            },
            neighbour,
        }
    }

    #[test]
    fn excludes_me_and_dest_and_takes_at_most_one_neighbour() {
        let cands: Vec<_> = (1..=8).map(|i| cand(i, i <= 4)).collect();
        let mut rng = Counter(5);
        for _ in 0..500 {
            let p = pick_relays(&mut rng, &cands, &[1; 32], &[2; 32], 3, &[]).unwrap();
            assert_eq!(p.len(), 3);
            assert!(p.iter().all(|h| h.id != [1; 32] && h.id != [2; 32]));
            let neigh = p.iter().filter(|h| h.id[0] <= 4).count();
            assert!(neigh <= 1, "{p:?}");
            let mut ids: Vec<_> = p.iter().map(|h| h.id).collect();
            ids.dedup();
            assert_eq!(ids.len(), 3);
        }
    }

    #[test]
    fn every_eligible_relay_gets_picked_sometimes() {
        let cands: Vec<_> = (1..=10).map(|i| cand(i, false)).collect();
        let mut seen = [0u32; 11];
        let mut rng = Counter(9);
        for _ in 0..2000 {
            for h in pick_relays(&mut rng, &cands, &[1; 32], &[2; 32], 3, &[]).unwrap() {
                seen[h.id[0] as usize] += 1;
            }
        }
        // 6000 picks over 8 eligible: 750 each on average.
        for (i, &n) in seen.iter().enumerate().skip(3) {
            assert!((550..950).contains(&n), "relay {i}: {n}");
        }
        assert_eq!(seen[1] + seen[2], 0);
    }

    #[test]
    fn avoided_relays_only_when_nothing_else_is_left() {
        let cands: Vec<_> = (3..=7).map(|i| cand(i, false)).collect();
        let mut rng = Counter(1);
        let avoid = [[3u8; 32], [4; 32]];
        for _ in 0..100 {
            let p = pick_relays(&mut rng, &cands, &[1; 32], &[2; 32], 3, &avoid).unwrap();
            assert!(p.iter().all(|h| !avoid.contains(&h.id)));
        }
        let p = pick_relays(&mut rng, &cands, &[1; 32], &[2; 32], 4, &avoid).unwrap();
        assert_eq!(p.iter().filter(|h| avoid.contains(&h.id)).count(), 1);
    }

    #[test]
    fn too_few_or_too_many() {
        let cands: Vec<_> = (1..=4).map(|i| cand(i, i == 3 || i == 4)).collect();
        let mut rng = Counter(1);
        assert_eq!(
            pick_relays(&mut rng, &cands, &[1; 32], &[2; 32], 2, &[]),
            Err(SelectError::NotEnough { have: 1, want: 2 })
        );
        assert_eq!(
            pick_relays(&mut rng, &cands, &[1; 32], &[2; 32], 7, &[]),
            Err(SelectError::TooManyHops(7))
        );
    }
}
