//! End-to-end tests of the simulator driven by [`ToyRouter`], whose
//! behaviour is known exactly, so that every expectation below is about the
//! harness, not about the core under test.

use std::time::Duration;

use batman::{Instant, Mac};

use super::*;

fn toy(topo: Topology, seed: u64) -> Sim<ToyRouter> {
    Sim::build(topo, seed, Instant::ZERO, |_, rng| {
        Ok(ToyRouter::new(rng, Instant::ZERO))
    })
    .unwrap()
}

fn secs_(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn neighbours_form_and_pings_flow_over_two_hops() {
    let mut sim = toy(
        Topology::line(3, LinkParams::fixed(Duration::from_millis(2))),
        1,
    );
    let (p0, p2) = (sim.primary(0), sim.primary(2));
    let p1 = sim.primary(1);
    sim.node_mut(0).add_route(p2, vec![p1]);
    sim.node_mut(2).add_route(p0, vec![p1]);
    let t = sim
        .run_until_converged(sim.at(secs_(5.0)))
        .expect("toy converges");
    // Hellos go out at t=0 and cross a 2 ms link.
    assert_eq!(t, sim.at(Duration::from_millis(2)));
    let id = sim.add_pinger(0, 2, sim.at(secs_(1.0)));
    sim.run_until(sim.at(secs_(3.0)));
    let log = &sim.pinger(id).log;
    assert_eq!(log.sent.len(), 41); // 1.00 s ..= 3.00 s every 50 ms
    assert!(log.sent.iter().all(|s| s.2));
    // 4 hops of exactly 2 ms: every RTT is 8 ms.
    assert!(log
        .replies
        .iter()
        .all(|r| r.received.saturating_since(r.sent) == Duration::from_millis(8)));
    let g = log.max_gap(sim.at(secs_(1.1)), sim.at(secs_(2.9)));
    assert_eq!(g.len, Duration::from_millis(50));
    assert_eq!(sim.counters.pongs_sent, 40); // the 3.00 s ping is still in flight
    assert!(sim.anomalies.is_empty());
    assert_eq!(sim.path(0, 2), vec![0, 1, 2]);
    assert_eq!(sim.path_links(0, 2), vec![0, 1]);
    let r = sim.check_routes();
    assert!(r.loops.is_empty());
    // Neighbours plus the two static routes: everybody reaches everybody.
    assert_eq!(r.missing, 0);
}

#[test]
fn same_seed_same_run_different_seed_different_run() {
    let run = |seed| {
        let mut topo = Topology::grid(3, 3, LinkParams::wired());
        topo.set_loss_everywhere(0.1);
        let mut sim = toy(topo, seed);
        sim.trace.keep_lines();
        sim.run_until(sim.at(secs_(10.0)));
        (sim.trace.hash(), sim.trace.lines().to_vec(), sim.counters)
    };
    let a = run(7);
    let b = run(7);
    let c = run(8);
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    assert!(a.2.lost > 0 && a.2.delivered > 100);
    assert_ne!(a.0, c.0);
    assert_ne!(a.2, c.2);
}

#[test]
fn loss_is_per_direction() {
    let mut topo = Topology::line(2, LinkParams::wired());
    topo.links[0].params[Dir::AtoB.index()].loss = 1.0;
    let mut sim = toy(topo, 3);
    sim.run_until(sim.at(secs_(5.0)));
    // 1 hears nothing from 0; 0 hears 1.
    assert!(sim.has_route(0, 1));
    assert!(!sim.has_route(1, 0));
    assert!(sim.counters.lost >= 5);
}

#[test]
fn carrier_down_tells_the_ends_and_reroutes_at_once() {
    let mut sim = toy(Topology::ring(4, LinkParams::wired()), 5);
    let (p0, p1, p2, p3) = (
        sim.primary(0),
        sim.primary(1),
        sim.primary(2),
        sim.primary(3),
    );
    sim.node_mut(0).add_route(p2, vec![p1, p3]);
    // Pongs come back the other way round, away from the cut.
    sim.node_mut(2).add_route(p0, vec![p3, p1]);
    sim.run_until(sim.at(secs_(3.0)));
    let id = sim.add_pinger(0, 2, sim.now());
    // Cut 10 ms after a ping, when nothing is in flight on the link.
    sim.run_until(sim.at(secs_(5.01)));
    assert_eq!(sim.path(0, 2), vec![0, 1, 2]);
    let l = sim.path_links(0, 2)[0];
    let downs = sim.counters.neighbour_down;
    let cut = sim.now();
    sim.set_link_state(l, LinkState::Down);
    // Both ends lost carrier and dropped the neighbour at once.
    assert_eq!(sim.counters.neighbour_down, downs + 2);
    assert_eq!(sim.path(0, 2), vec![0, 3, 2]);
    sim.run_until(sim.at(secs_(8.0)));
    let g = sim.pinger(id).log.max_gap(cut - secs_(1.0), sim.now());
    // One ping interval, give or take the link jitter: no ping lost.
    assert!(g.len < Duration::from_millis(51), "{g:?}");
    assert_eq!(sim.pinger(id).log.lost_in(cut, sim.at(secs_(7.9))), 0);
    // Back up: carrier returns, the neighbour is heard again within a hello.
    sim.set_link_state(l, LinkState::Up);
    sim.run_until(sim.at(secs_(10.0)));
    assert_eq!(sim.path(0, 2), vec![0, 1, 2]);
    assert!(sim.anomalies.is_empty());
}

#[test]
fn silent_cut_is_noticed_only_by_silence() {
    let mut sim = toy(Topology::ring(4, LinkParams::wired()), 6);
    let (p0, p1, p2, p3) = (
        sim.primary(0),
        sim.primary(1),
        sim.primary(2),
        sim.primary(3),
    );
    sim.node_mut(0).add_route(p2, vec![p1, p3]);
    // Pongs come back the other way round, away from the cut.
    sim.node_mut(2).add_route(p0, vec![p3, p1]);
    sim.run_until(sim.at(secs_(3.0)));
    let id = sim.add_pinger(0, 2, sim.now());
    sim.run_until(sim.at(secs_(5.0)));
    let l = sim.path_links(0, 2)[0];
    let cut = sim.now();
    let downs = sim.counters.neighbour_down;
    sim.set_link_state(l, LinkState::SilentDrop);
    assert_eq!(sim.counters.neighbour_down, downs, "nobody is told");
    // The walk now stops at the silent link: a dead end, not a loop.
    let r = sim.check_routes();
    assert!(r.loops.is_empty());
    assert!(r
        .dead_ends
        .iter()
        .any(|d| d.at == 0 && d.reason == DeadEndReason::LinkSilent));
    sim.run_until(sim.at(secs_(12.0)));
    let g = sim.pinger(id).log.max_gap(cut - secs_(1.0), sim.now());
    // The toy holds a silent neighbour for 3.5 s after its last hello
    // (which came at most ~1.02 s before the cut).
    assert!(g.len > secs_(2.4) && g.len <= secs_(3.6), "{g:?}");
    assert_eq!(sim.path(0, 2), vec![0, 3, 2]);
}

#[test]
fn wireless_pair_cut_leaves_the_rest_of_the_medium() {
    let g = Geometric::with_degree(3, 2.0);
    let r = g.range;
    let topo = Topology::geometric_at(&[(0.0, 0.0), (0.5 * r, 0.0), (0.0, 0.5 * r)], &g);
    assert_eq!(topo.links.len(), 3);
    let mut sim = toy(topo, 9);
    sim.run_until(sim.at(secs_(3.0)));
    assert!(sim.routes_complete());
    let l01 = sim.topology().links_between(0, 1)[0];
    sim.set_link_state(l01, LinkState::Down);
    // Carrier stays (the radio still hears node 2): neighbour_lost instead.
    assert!(!sim.has_route(0, 1) && !sim.has_route(1, 0));
    assert!(sim.has_route(0, 2) && sim.has_route(1, 2));
    sim.run_until(sim.at(secs_(8.0)));
    assert!(!sim.has_route(0, 1));
    assert!(sim.has_route(0, 2) && sim.has_route(2, 1));
    // One broadcast from node 2 reaches both 0 and 1; a unicast to a MAC
    // nobody on the medium has reaches nobody.
    let before = sim.counters.no_receiver;
    sim.inject(
        Endpoint { node: 2, iface: 0 },
        sim.primary(2),
        Mac([2, 9, 9, 9, 9, 9]),
        vec![0xf1],
    );
    assert_eq!(sim.counters.no_receiver, before + 1);
}

#[test]
fn loop_watch_sees_a_loop_the_moment_it_forms() {
    let mut sim = toy(Topology::line(4, LinkParams::wired()), 2);
    sim.enable_loop_watch();
    let (p0, p1, p3) = (sim.primary(0), sim.primary(1), sim.primary(3));
    // 0 and 1 both send traffic for 3 to each other.
    sim.node_mut(0).add_route(p3, vec![p1]);
    sim.node_mut(1).add_route(p3, vec![p0]);
    sim.run_until(sim.at(secs_(0.5)));
    let w = sim.loop_watch().unwrap();
    assert_eq!(w.loops.len(), 1, "{:?}", w.loops);
    let (t, l) = &w.loops[0];
    assert_eq!((l.dest, l.cycle.clone()), (3, vec![0, 1]));
    assert!(*t <= sim.at(Duration::from_millis(1)));
    assert_eq!(sim.check_routes().loops.len(), 1);
}

#[test]
fn frames_in_flight_on_a_cut_link_vanish() {
    let mut sim = toy(
        Topology::line(2, LinkParams::fixed(Duration::from_millis(10))),
        4,
    );
    // Hellos leave at t=0 and arrive at 10 ms; cut at 5 ms.
    sim.run_until(sim.at(Duration::from_millis(5)));
    sim.set_link_state(0, LinkState::SilentDrop);
    sim.run_until(sim.at(Duration::from_millis(20)));
    assert_eq!(sim.counters.cut_in_flight, 2);
    assert_eq!(sim.counters.delivered, 0);
}

#[test]
fn run_until_advances_the_clock_even_when_idle() {
    let mut sim = toy(Topology::line(2, LinkParams::wired()), 1);
    sim.run_until(sim.at(secs_(2.5)));
    assert_eq!(sim.now(), sim.at(secs_(2.5)));
    sim.run_for(secs_(0.5));
    assert_eq!(sim.elapsed(), secs_(3.0));
    assert!(sim.pending() > 0);
}
