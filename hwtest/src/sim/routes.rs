//! The loop checker: follow next hops towards a destination from every node.
//!
//! For one destination, each node's next hop is resolved (by the caller) to
//! a [`Step`]: either the node owning the neighbour MAC it points at, or a
//! dead end with its reason. Following steps from every node, a node seen
//! twice on one walk is a **loop**; a walk that stops before the destination
//! is a **dead end** (no route, a MAC nobody owns, a neighbour not on that
//! interface's links, or a link that is down or silently dropping). Dead ends
//! are normal for a moment after a cut and are reported separately: only
//! loops are forwarding errors.
//!
//! [`walk_dest`] asks each node's step once (memoised), so checking one
//! destination costs O(nodes).

/// Why a walk stopped short of the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadEndReason {
    /// The node has no next hop for the destination.
    NoRoute,
    /// The next hop MAC belongs to no node's interface.
    UnknownMac,
    /// The next hop MAC is not reachable over the chosen interface's links.
    NotAdjacent,
    /// The link to the next hop is down.
    LinkDown,
    /// The link to the next hop silently drops frames.
    LinkSilent,
}

/// One node's next hop towards the destination, resolved to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    To(usize),
    Dead(DeadEndReason),
}

/// A forwarding loop towards `dest`: the nodes of the cycle, in order,
/// starting at the smallest index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loop {
    pub dest: usize,
    pub cycle: Vec<usize>,
}

/// A node whose next hop towards `dest` goes nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeadEnd {
    pub dest: usize,
    pub at: usize,
    pub reason: DeadEndReason,
}

/// Outcome of following next hops towards one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestReport {
    /// Distinct cycles.
    pub loops: Vec<Loop>,
    /// Nodes where walks stop (each listed once).
    pub dead_ends: Vec<DeadEnd>,
    /// Nodes (other than the destination) whose walk reaches it.
    pub reaching: usize,
    /// Nodes whose walk ends in a loop (cycle members included).
    pub looping: usize,
    /// Nodes whose walk ends in a dead end (the dead ends included).
    pub stranded: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Unseen,
    OnWalk,
    Reaches,
    Loops,
    Stranded,
}

/// Follow next hops towards `dest` from each of the `n` nodes. `step(u)` is
/// called at most once per node `u != dest`.
pub fn walk_dest(n: usize, dest: usize, mut step: impl FnMut(usize) -> Step) -> DestReport {
    let mut mark = vec![Mark::Unseen; n];
    let mut report = DestReport::default();
    if dest < n {
        mark[dest] = Mark::Reaches;
    }
    let mut path = Vec::new();
    for start in 0..n {
        if mark[start] != Mark::Unseen {
            continue;
        }
        path.clear();
        let mut u = start;
        let outcome = loop {
            match mark[u] {
                Mark::Unseen => {}
                Mark::OnWalk => {
                    // Cycle: from u's first position on this walk to the end.
                    let from = path.iter().position(|&x| x == u).expect("u is on the walk");
                    let mut cycle = path[from..].to_vec();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, &x)| x)
                        .map(|(i, _)| i);
                    cycle.rotate_left(min.unwrap_or(0));
                    report.loops.push(Loop { dest, cycle });
                    break Mark::Loops;
                }
                done => break done,
            }
            mark[u] = Mark::OnWalk;
            path.push(u);
            match step(u) {
                Step::To(v) if v < n => u = v,
                Step::To(_) => {
                    report.dead_ends.push(DeadEnd {
                        dest,
                        at: u,
                        reason: DeadEndReason::UnknownMac,
                    });
                    break Mark::Stranded;
                }
                Step::Dead(reason) => {
                    report.dead_ends.push(DeadEnd {
                        dest,
                        at: u,
                        reason,
                    });
                    break Mark::Stranded;
                }
            }
        };
        for &p in &path {
            mark[p] = outcome;
            match outcome {
                Mark::Reaches => report.reaching += 1,
                Mark::Loops => report.looping += 1,
                _ => report.stranded += 1,
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeadEndReason::*;

    /// Next hops from a table: `t[u]` is `Some(v)` or `None` (no route).
    fn table(t: &[Option<usize>]) -> impl FnMut(usize) -> Step + '_ {
        move |u| match t[u] {
            Some(v) => Step::To(v),
            None => Step::Dead(NoRoute),
        }
    }

    #[test]
    fn a_tree_towards_the_destination_has_no_loops() {
        // 0 -> 1 -> 2(dest) <- 3 <- 4
        let t = [Some(1), Some(2), None, Some(2), Some(3)];
        let r = walk_dest(5, 2, table(&t));
        assert!(r.loops.is_empty() && r.dead_ends.is_empty());
        assert_eq!(r.reaching, 4);
    }

    #[test]
    fn finds_a_loop_and_the_nodes_feeding_it() {
        // 0 -> 1 -> 3 -> 4 -> 1 (cycle 1,3,4); 2 is the destination; 5 -> 0
        let t = [Some(1), Some(3), None, Some(4), Some(1), Some(0)];
        let r = walk_dest(6, 2, table(&t));
        assert_eq!(
            r.loops,
            vec![Loop {
                dest: 2,
                cycle: vec![1, 3, 4]
            }]
        );
        assert_eq!(r.looping, 5);
        assert_eq!(r.reaching, 0);
    }

    #[test]
    fn two_node_ping_pong_is_a_loop() {
        let t = [Some(1), Some(0), None];
        let r = walk_dest(3, 2, table(&t));
        assert_eq!(r.loops.len(), 1);
        assert_eq!(r.loops[0].cycle, vec![0, 1]);
    }

    #[test]
    fn dead_ends_are_not_loops() {
        // 0 -> 1 (1 has no route), 3 -> link down, 4 -> 3
        let steps = [
            Step::To(1),
            Step::Dead(NoRoute),
            Step::Dead(NoRoute),
            Step::Dead(LinkDown),
            Step::To(3),
            Step::To(99),
        ];
        let mut asked = [0; 6];
        let r = walk_dest(6, 2, |u| {
            asked[u] += 1;
            steps[u]
        });
        assert!(r.loops.is_empty());
        assert_eq!(r.stranded, 5);
        let mut ends: Vec<(usize, DeadEndReason)> =
            r.dead_ends.iter().map(|d| (d.at, d.reason)).collect();
        ends.sort_by_key(|e| e.0);
        assert_eq!(ends, vec![(1, NoRoute), (3, LinkDown), (5, UnknownMac)]);
        // memoised: every node asked at most once, the destination never
        assert!(asked.iter().all(|&a| a <= 1));
        assert_eq!(asked[2], 0);
    }

    #[test]
    fn a_self_loop_is_a_loop() {
        let t = [Some(0), None];
        let r = walk_dest(2, 1, table(&t));
        assert_eq!(r.loops[0].cycle, vec![0]);
    }
}
