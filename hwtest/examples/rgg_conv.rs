//! Profile helper: one convergence run of the 250-node radio mesh.
//! `cargo run --release -p hwtest --example rgg_conv -- [SEED] [SECS]`
use hwtest::bench::sim::{conv_run, Net};

fn main() {
    let mut a = std::env::args().skip(1);
    let seed = a.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let secs = a.next().and_then(|s| s.parse().ok()).unwrap_or(120);
    let r = conv_run(Net::Rgg(250), seed, secs);
    println!(
        "rgg 250 seed {seed} {secs} s: converged {:?}, wall {:.2} s, ctrl {:.0} B/node/s, {:.0} B/orig",
        r.converged, r.wall, r.ctrl_bytes_per_node_s, r.bytes_per_orig
    );
}
