//! `hwtest`: meshd's test harness CLI (see the library docs for the layers).

use std::process::ExitCode;

use hwtest::bench::addr;
use hwtest::bench::netns;
use hwtest::bench::onion;
use hwtest::bench::sim::{self, Options};
use hwtest::bench::size;

const USAGE: &str = "\
hwtest: meshd's test harness

USAGE:
    hwtest <COMMAND> [OPTIONS]

COMMANDS:
    demo [SEED]   A 3x3 grid converges, a path link is cut silently and by
                  carrier loss while pings flow; prints what happens
    bench sim     Convergence, reroute, overhead and memory of the batman
                  core in the simulator (see `hwtest bench --help`)
    bench netns   meshd, babeld and batmand on a 3x3 grid of network
                  namespaces, side by side (root; `hwtest bench --help`)
    bench size    meshd's binary size per target, its crates' share of the
                  code, RSS with 9 and 250 originators (RSS part as root)
    bench addr    The node layer: join time of a new router, TCP over mesh0
                  next to bat0 and boringtun, announcement overhead (root)
    bench onion   Onion circuits: per-cell crypto of relays, client and
                  destination, the ntor handshake (in-process, no root);
                  build time, throughput and latency of circuits between
                  meshd processes in network namespaces (root)
    hw [--hosts FILE] [--ipk-dir DIR] [--wait SECS]
                  Real routers: install openwrt/out/*.ipk on each router of
                  the hosts file (default hwtest/hosts: `ssh-dest arch` per
                  line) over SSH, wait for the mesh, print meshctl o and a
                  ping matrix over bat0; no hosts file: says so, exits 0
    help          Print this help

Scenario tests: cargo test -p hwtest   (or --release)
The netns and qemu-user layers run as meshd's tests (meshd/tests/).
";

const BENCH_USAGE: &str = "\
hwtest bench: the performance tables

USAGE:
    cargo run --release -p hwtest -- bench sim [OPTIONS]
    cargo run --release -p hwtest -- bench netns [OPTIONS]    (as root)
    cargo run --release -p hwtest -- bench size [OPTIONS]     (RSS part as root)
    cargo run --release -p hwtest -- bench addr [OPTIONS]     (as root)
    cargo run --release -p hwtest -- bench onion [OPTIONS]    (netns part as root)

bench sim: the batman core in the simulator.

Runs a 3x3 grid, a 10x10 grid and a 250-node random geometric radio mesh
(mean degree ~10) for --secs simulated seconds each and reports convergence
time, wall-clock time, OGM bytes per node per second after convergence and
memory per originator; then cuts the second link of the corner-to-corner
path of each grid, silently and carrier-down, and reports the ping gap
(pings every 50 ms, as in docs/anchors.md).

OPTIONS:
    --seeds <N>        seeds for the reroute runs [default: 20]
    --conv-seeds <N>   seeds for the convergence runs [default: 3]
    --first-seed <S>   first seed; seeds are S, S+1, ... [default: 1]
    --secs <T>         simulated seconds per convergence run [default: 120]
    --no-rgg           skip the 250-node mesh
    --json             print JSON instead of tables
    -h, --help         print this help

bench netns: real daemons on a 3x3 grid of network namespaces (the grid
of docs/anchors.md), meshd next to babeld and batmand in one run, runs
interleaved. Per daemon and run: convergence (all daemons start -> first
reply of n00 pinging n22 every 100 ms); the ping gap (pings every 50 ms)
after the 2nd link of the n00 -> n22 path is set down, and after it is cut
silently (nftables ingress drop, carrier up; a fresh grid); the L2 bytes
and packets the middle node sends on its 4 links over --overhead-secs
after --settle-secs; each daemon's VmRSS; meshd only: iperf3 TCP n00 ->
n02 over bat0 next to kernel IPv4 forwarding over the same veths. Table
on stdout (min / median / max, ratios against babeld and batmand),
progress on stderr. Needs root; installs babeld, batmand, iperf3 with
apt-get if missing; meshd is taken from next to this executable (cargo
build --release -p meshd). About 6 minutes per run of all three.

OPTIONS (netns):
    --runs <N>             runs per daemon [default: 3]
    --daemons <LIST>       subset of meshd,babeld,batmand [default: all]
    --settle-secs <S>      wait after convergence [default: 20]
    --overhead-secs <S>    control traffic window [default: 30]
    --iperf-secs <S>       iperf3 duration [default: 10]
    --timeout <S>          limit for convergence and for pings to come
                           back after a cut [default: 120]
    --meshd <PATH>         the meshd binary to run
    --keep                 keep logs and ping output (kept anyway on errors)
    --json                 print JSON (with all samples) instead of tables

bench size: how big meshd is on flash and in RAM. Tables on stdout, each
saying where its numbers come from, progress on stderr:
 1. stripped size of cross/out/<arch>/meshd for x86_64, aarch64, armv7,
    mipsel, mips (cross/build makes them; x86_64 falls back to the native
    release build, the others say \"not built\") with its ELF header;
    budget: mipsel <= 1.5 MiB;
 2. cargo bloat --release -p meshd --crates -n 15 on the x86_64 release
    build with symbols kept (own target dir; cargo-bloat is installed with
    cargo install if missing; without it the table says so);
 3. (root) VmRSS of a real meshd in a network namespace while a flood of
    valid OGMs (fake neighbours that echo meshd's OGMs and forward the
    others', one TT client each; needs python3 for the raw socket) makes it
    know 9 and 250 originators; budget: <= 4 MiB at 250; without root this
    part says it needs root;
 4. the batman core's own heap (Node::memory_usage) under the same flood
    in-process and in the simulator (3x3 grid, 250-node radio mesh).
About 4 minutes with the defaults.

OPTIONS (size):
    --counts <LIST>        originator counts for the RSS runs [default: 9,250]
    --neighbours <K>       fake one-hop neighbours in the flood [default: 4]
    --runs <N>             fresh meshd runs per count [default: 3]
    --settle-secs <S>      wait after all originators are known [default: 20]
    --samples <N>          VmRSS samples, 1 s apart [default: 5]
    --timeout <S>          limit for all originators to be known [default: 60]
    --meshd <PATH>         the meshd for the RSS part [default:
                           cross/out/x86_64/meshd, else the release build]
    --root <DIR>           the workspace [default: the one hwtest was built in]
    --bloat-target-dir <D> cargo-bloat's target dir [default:
                           $CARGO_TARGET_DIR or target, plus /size-bloat]
    --no-bloat, --no-rss, --no-sim   skip part 2, 3 or 4
    --json                 print JSON (with all samples) instead of tables

bench addr: the node layer (meshd --state-dir --lan) in network namespaces
and in the simulator. Tables on stdout, progress on stderr:
 1. join time: a line r0..r3 of routers, each with a LAN client getting
    DHCPv4 from meshd's dnsmasq, settled; a new router r4 (fresh state dir
    and namespaces: new keys, new MACs) with client c4 joins at its end:
    seconds from r4's meshd start until c4 (udhcpc in a loop from t=0)
    pings c0 (50 ms steps, -W 0.2); split into r4's directory complete,
    r0 has r4, c4's lease; interleaved with the same r4 re-keyed (fresh
    state dir, same namespaces and MACs: a reflashed router);
 2. iperf3 TCP c0 -> c3 across 3 hops over mesh0 (end-to-end encrypted),
    next to plain L2 (meshd -t bat0 bridged with the LANs) and boringtun
    (WireGuard, r0-r3 over bat0) on their own routers, runs interleaved;
    meshd's and boringtun's CPU seconds per GB;
 3. announcement overhead: L2 bytes/s per node on the mesh veths of a line
    of five with and without --state-dir (the same windows); in the
    simulator every OGM with and without the 20-byte hash TVLV (line 5,
    grid 3x3, 250-node radio mesh); the one-time record exchange computed.
Needs root for 1-3a (the simulator part runs without), dnsmasq, busybox,
iperf3 (says what to install and skips what it cannot run); the boringtun
column needs wg (wireguard-tools) and installs boringtun-cli with cargo
into /var/cache/meshd-bench-tools if missing. meshd is taken from next to
this executable. About 8 minutes with the defaults (3 of them the
simulated 250-node mesh).

OPTIONS (addr):
    --only <LIST>          subset of join,tput,overhead,sim [default: all]
    --join-runs <N>        joins of a new r4, and as many re-keyed [default: 5]
    --iperf-runs <N>       iperf3 runs per path [default: 3]
    --iperf-secs <S>       iperf3 duration [default: 10]
    --overhead-runs <N>    overhead windows [default: 3]
    --overhead-secs <S>    overhead window length [default: 30]
    --settle-secs <S>      wait after a line is up [default: 10]
    --sim-secs <S>         simulated seconds per run [default: 60]
    --sim-seeds <N>        seeds per simulated network [default: 3]
    --timeout <S>          limit for each wait in namespaces [default: 60]
    --meshd <PATH>         the meshd binary to run
    --keep                 keep logs (kept anyway on errors)

bench onion: onion circuits. Tables on stdout, progress on stderr. Part
cells (in-process, no root), on a 4-hop circuit (3 relays + destination)
whose keys come from real ntor handshakes, one core:
 1. ns per cell and Mbit/s of cell payload, medians of --runs runs of
    --cells cells: a raw ChaCha20-Poly1305 seal of 1444 bytes (the
    reference), a relay's hop_forward and relay_backward, the client's
    4-layer client_forward and client_backward, the destination's
    dest_backward, each with its ratio to the raw seal of the same run;
 2. the ntor handshake: client_start, server_respond, finish, µs, and the
    crypto of a 4-hop circuit's 4 handshakes;
 3. derived: a relay's crypto per cell forward + backward.
Must be a release build (cargo run --release). About 20 s with the defaults.
Part netns (root; in the default parts only when run as root, else said to
be skipped): a ring of 7 routers (meshd --state-dir --log debug), client cA
(SLAAC from r0's dnsmasq) behind r0, cB behind r3; medians of --runs runs:
 1. circuit build: r0's meshd restarted with --relays 1, 2, 3 (directory
    complete again); ms from cA's first ping to cB (every 50 ms) until the
    first reply, and meshd's \"circuit ... ready in M ms\" from r0's log;
 2. iperf3 TCP cA -> cB (IPv6, one stream) over a 3-relay circuit, over
    the direct mesh0 path (every router restarted with --anonymous none)
    and through boringtun on bench addr's 4-router line (same run); ratios
    circuit/direct and circuit/boringtun; meshd CPU s/GB over all routers;
 3. ping RTT cA -> cB (--pings at 0.2 s, median) with 1, 2, 3 relays and
    direct; the fitted added ms per relay.
Needs dnsmasq, iperf3, ping; boringtun as bench addr (wg, boringtun-cli).
meshd is taken from next to this executable. About 6 minutes with the
defaults.

OPTIONS (onion):
    --part <LIST>          parts to run: cells,netns [default: all; netns
                           only as root]
    --runs <N>             timed runs of every measurement [default: 7 for
                           cells, 3 for netns]
    --cells <M>            cells per run and operation [default: 20000]
    --circuits <N>         4-hop circuits (4 handshakes each) per run
                           [default: 50]
    --iperf-secs <S>       iperf3 duration (netns) [default: 10]
    --pings <N>            pings per latency sample (netns) [default: 20]
    --timeout <S>          limit for each wait in namespaces [default: 60]
    --meshd <PATH>         the meshd binary to run (netns)
    --keep                 keep the netns logs (kept anyway on errors)
";

fn parse_bench(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            v.parse().map_err(|_| format!("{name}: not a number: {v}"))
        };
        match a.as_str() {
            "--seeds" => o.seeds = value("--seeds")?,
            "--conv-seeds" => o.conv_seeds = value("--conv-seeds")?,
            "--first-seed" => o.first_seed = value("--first-seed")?,
            "--secs" => o.secs = value("--secs")?,
            "--no-rgg" => o.no_rgg = true,
            "--json" => o.json = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.seeds == 0 || o.conv_seeds == 0 || o.secs == 0 {
        return Err("--seeds, --conv-seeds and --secs must be at least 1".into());
    }
    Ok(o)
}

fn parse_hw(args: &[String]) -> Result<hwtest::hw::Options, String> {
    let mut o = hwtest::hw::Options {
        hosts: hwtest::hw::DEFAULT_HOSTS.into(),
        ipk_dir: "openwrt/out".into(),
        wait: hwtest::hw::DEFAULT_WAIT,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--hosts" => o.hosts = value("--hosts")?.into(),
            "--ipk-dir" => o.ipk_dir = value("--ipk-dir")?.into(),
            "--wait" => {
                let v = value("--wait")?;
                let s: u64 = v
                    .parse()
                    .map_err(|_| format!("--wait: not a number: {v}"))?;
                o.wait = std::time::Duration::from_secs(s);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let help = |a: &String| a == "-h" || a == "--help";
    match args.first().map(String::as_str) {
        None | Some("help") | Some("-h") | Some("--help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("hw") => match parse_hw(&args[1..]) {
            Ok(o) => match hwtest::hw::run(&o) {
                Ok(report) => {
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("hwtest hw: {e}");
                    ExitCode::from(1)
                }
            },
            Err(e) => {
                eprintln!("hwtest hw: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("demo") => {
            let seed = match args.get(1).map(|s| s.parse::<u64>()) {
                None => 1,
                Some(Ok(s)) => s,
                Some(Err(_)) => {
                    eprintln!("hwtest demo: SEED must be a number\n\n{USAGE}");
                    return ExitCode::from(2);
                }
            };
            match hwtest::demo::run(seed) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("hwtest demo: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Some("bench") => {
            let rest = &args[1..];
            if rest.is_empty() || rest.iter().any(help) {
                print!("{BENCH_USAGE}");
                return ExitCode::SUCCESS;
            }
            if rest[0] == "netns" {
                return bench_netns(&rest[1..]);
            }
            if rest[0] == "size" {
                return bench_size(&rest[1..]);
            }
            if rest[0] == "addr" {
                return bench_addr(&rest[1..]);
            }
            if rest[0] == "onion" {
                return bench_onion(&rest[1..]);
            }
            if rest[0] != "sim" {
                eprintln!("hwtest bench: unknown bench {:?}\n\n{BENCH_USAGE}", rest[0]);
                return ExitCode::from(2);
            }
            match parse_bench(&rest[1..]) {
                Ok(o) => {
                    let r = sim::run(&o);
                    if o.json {
                        print!("{}", r.json());
                    } else {
                        print!("{}", r.text());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("hwtest bench sim: {e}\n\n{BENCH_USAGE}");
                    ExitCode::from(2)
                }
            }
        }
        Some(other) => {
            eprintln!("hwtest: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn bench_netns(args: &[String]) -> ExitCode {
    let o = match netns::Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hwtest bench netns: {e}\n\n{BENCH_USAGE}");
            return ExitCode::from(2);
        }
    };
    match netns::run(&o) {
        Ok(r) => {
            if o.json {
                print!("{}", r.json());
            } else {
                print!("{}", r.text());
            }
            let failed = r.results.iter().any(|(_, s)| !s.errors.is_empty());
            if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("hwtest bench netns: {e}");
            ExitCode::from(1)
        }
    }
}

fn bench_size(args: &[String]) -> ExitCode {
    let o = match size::Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hwtest bench size: {e}\n\n{BENCH_USAGE}");
            return ExitCode::from(2);
        }
    };
    let r = size::run(&o);
    if o.json {
        print!("{}", r.json());
    } else {
        print!("{}", r.text());
    }
    let failed = match &r.rss {
        size::Rss::Rows { rows, .. } => rows.iter().any(|row| !row.errors.is_empty()),
        size::Rss::NotRun(_) => false,
    };
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn bench_addr(args: &[String]) -> ExitCode {
    let o = match addr::Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hwtest bench addr: {e}\n\n{BENCH_USAGE}");
            return ExitCode::from(2);
        }
    };
    let r = addr::run(&o);
    print!("{}", r.text());
    if r.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn bench_onion(args: &[String]) -> ExitCode {
    let o = match onion::Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hwtest bench onion: {e}\n\n{BENCH_USAGE}");
            return ExitCode::from(2);
        }
    };
    let r = onion::run(&o);
    print!("{}", r.text());
    if r.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_bench_options() {
        let o = parse_bench(&v(&["--seeds", "5", "--json", "--no-rgg", "--secs", "60"])).unwrap();
        assert_eq!((o.seeds, o.json, o.no_rgg, o.secs), (5, true, true, 60));
        assert_eq!(parse_bench(&[]).unwrap(), Options::default());
        assert!(parse_bench(&v(&["--seeds"])).is_err());
        assert!(parse_bench(&v(&["--seeds", "x"])).is_err());
        assert!(parse_bench(&v(&["--bogus"])).is_err());
        assert!(parse_bench(&v(&["--secs", "0"])).is_err());
    }
}
