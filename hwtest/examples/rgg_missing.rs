//! Debug helper: which pairs lack a route after a 250-node run, and how far
//! apart they are. `cargo run --release -p hwtest --example rgg_missing -- SEED SECS`
use core::time::Duration;
use hwtest::bench::sim::Net;
use hwtest::sim::Sim;

fn main() {
    let mut a = std::env::args().skip(1);
    let seed = a.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let secs = a.next().and_then(|s| s.parse().ok()).unwrap_or(120);
    let topo = Net::Rgg(250).topology(seed);
    println!("diameter {:?}", topo.diameter());
    let mut sim = Sim::batman(topo, seed).expect("sim");
    sim.run_until(sim.at(Duration::from_secs(secs)));
    let mut tot = batman::Stats::default();
    for i in 0..sim.len() {
        let s = sim.node(i).stats();
        tot.rx_ogm += s.rx_ogm;
        tot.route_changes += s.route_changes;
        tot.fwd_ogm += s.fwd_ogm;
        tot.rx_frames += s.rx_frames;
        tot.drop_duplicate += s.drop_duplicate;
        tot.drop_ogm_rules += s.drop_ogm_rules;
    }
    println!(
        "per simulated second: {:.0} OGMs received, {:.0} frames, {:.0} route changes, {:.0} forwarded, {:.0} duplicates, {:.0} rule drops",
        tot.rx_ogm as f64 / secs as f64,
        tot.rx_frames as f64 / secs as f64,
        tot.route_changes as f64 / secs as f64,
        tot.fwd_ogm as f64 / secs as f64,
        tot.drop_duplicate as f64 / secs as f64,
        tot.drop_ogm_rules as f64 / secs as f64
    );
    let missing = sim.missing_routes(100_000);
    let mut by_hops = std::collections::BTreeMap::new();
    for &(u, d) in &missing {
        let h = sim.topology().hops_from(u)[d];
        *by_hops.entry(h).or_insert(0) += 1;
    }
    println!(
        "missing {} pairs; by hop distance: {by_hops:?}",
        missing.len()
    );
    for &(u, d) in missing.iter().take(5) {
        let o = sim.node(u).originators();
        let dest = sim.primary(d);
        let e = o.iter().find(|x| x.orig == dest);
        println!(
            "{u}->{d}: hops {} entry {:?}",
            sim.topology().hops_from(u)[d],
            e.map(|e| (
                &e.router,
                e.candidates.len(),
                e.candidates.iter().map(|c| c.tq).collect::<Vec<_>>()
            ))
        );
    }
}
