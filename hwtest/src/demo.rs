//! `hwtest demo`: a 3x3 grid of simulated meshd routers converges, then the
//! second link of the corner-to-corner path is cut silently, restored, and
//! cut by carrier loss, while n00 pings n22 every 50 ms. Prints what a
//! person wants to see: when routes appear, the path before and after each
//! cut, and the longest hole in the pongs. Deterministic for a seed.

use crate::sim::{LinkParams, LinkState, Sim, Topology};
use core::time::Duration;
use std::fmt::Write;

fn path_names(sim: &Sim, a: usize, b: usize) -> String {
    sim.path(a, b)
        .iter()
        .map(|n| sim.name(*n).to_string())
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Run the demo with `seed` and return its report.
pub fn run(seed: u64) -> Result<String, String> {
    let mut out = String::new();
    let topo = Topology::grid(3, 3, LinkParams::wired());
    let mut sim = Sim::batman(topo, seed).map_err(|e| format!("{e:?}"))?;
    sim.enable_loop_watch();
    let (a, b) = (sim.find("n00"), sim.find("n22"));
    let _ = writeln!(
        out,
        "3x3 grid of meshd routers, wired links (1 ms), seed {seed}"
    );
    let conv = sim
        .run_until_converged(sim.at(Duration::from_secs(60)))
        .ok_or("the grid did not converge within 60 s")?;
    let _ = writeln!(
        out,
        "converged: every router has a route to every other after {:.2} s (simulated)",
        conv.saturating_since(sim.start()).as_secs_f64()
    );
    let p = sim.add_pinger(a, b, sim.now());
    sim.run_for(Duration::from_secs(5));
    let _ = writeln!(
        out,
        "n00 pings n22 every 50 ms; path: {}",
        path_names(&sim, a, b)
    );
    for (what, state) in [
        (
            "silently (frames dropped, carrier up)",
            LinkState::SilentDrop,
        ),
        ("by carrier loss", LinkState::Down),
    ] {
        let links = sim.path_links(a, b);
        let link = *links.get(1).ok_or("path too short")?;
        let t_cut = sim.now();
        sim.set_link_state(link, state);
        let _ = writeln!(
            out,
            "\ncut the path's second link {what} at {:.2} s",
            t_cut.saturating_since(sim.start()).as_secs_f64()
        );
        sim.run_for(Duration::from_secs(5));
        let gap = sim
            .pinger(p)
            .log
            .max_gap(t_cut - Duration::from_secs(1), sim.now());
        let _ = writeln!(out, "  new path: {}", path_names(&sim, a, b));
        let _ = writeln!(
            out,
            "  longest hole in the pongs: {} ms (one ping interval is 50 ms)",
            gap.len.as_millis()
        );
        sim.set_link_state(link, LinkState::Up);
        sim.run_for(Duration::from_secs(10));
        let _ = writeln!(out, "  link restored; path: {}", path_names(&sim, a, b));
    }
    let loops = sim.loop_watch().map_or(0, |w| w.loops.len());
    let _ = writeln!(out, "\nrouting loops seen at any step of the run: {loops}");
    Ok(out)
}
