//! A 3x3 grid of real meshd daemons in network namespaces (root; CI runs
//! these): converge and every node pings every other over bat0 (IPv4 and
//! IPv6); cut a link on the n00 -> n22 path while n00 pings n22 every
//! 50 ms: by carrier loss (pings resume within 1 s; measured: no ping
//! lost), silently with nftables (within 5 s); 30% random loss on every
//! link (still converges, pings get through); kill -9 of the middle node
//! and a restart from its config file (it rejoins with all of its config);
//! LAN clients bridged behind opposite corners reach each other.
//!
//! ```text
//!   n00 -- n01 -- n02      each "--" is a veth pair (MTU 1532); the end in
//!    |      |      |       nRC towards nXY is called toXY; every node runs
//!   n10 -- n11 -- n12      meshd -i <all its toXY> -t bat0, bat0 holds
//!    |      |      |       10.98.0.<3R+C+1>/24
//!   n20 -- n21 -- n22      and fd98::<3R+C+1>/64; n11 runs from a config
//! ```                      file (a gateway) when a test asks for it

use hwtest::netns::{require_root, wait_for, Netns};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

mod common;

use common::{mac_of, spawn_meshd, MESHD};

fn name(r: usize, c: usize) -> String {
    format!("{r}{c}")
}

fn log_path(n: &str) -> PathBuf {
    std::env::temp_dir().join(format!("meshd-grid-{}-{n}.log", std::process::id()))
}

struct Grid {
    ns: HashMap<String, Netns>,
    ifaces: HashMap<String, Vec<String>>,
    owner: HashMap<String, String>,
    procs: HashMap<String, hwtest::netns::Proc>,
}

/// One grid at a time: 9 daemons and a 50 ms pinger per test already load
/// a 2-core machine; timing assertions should not race each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Grid {
    fn start(loss_percent: u32) -> Grid {
        Grid::start_with(loss_percent, false)
    }

    /// The config file n11 runs from when `middle_from_file`.
    fn middle_config() -> PathBuf {
        std::env::temp_dir().join(format!("meshd-grid-{}-11.toml", std::process::id()))
    }

    /// The daemon arguments of node `n` on interfaces `ifs`.
    fn args(n: &str, ifs: &[String], middle_from_file: bool) -> Vec<String> {
        if middle_from_file && n == "11" {
            let list: Vec<String> = ifs.iter().map(|i| format!("\"{i}\"")).collect();
            let text = format!(
                "[mesh]\ninterfaces = [{}]\nsoft_interface = \"bat0\"\ngateway = \"50mbit/10mbit\"\n",
                list.join(", ")
            );
            std::fs::write(Grid::middle_config(), text).unwrap();
            let path = Grid::middle_config().to_str().unwrap().to_string();
            return vec!["daemon".into(), "--config".into(), path];
        }
        let mut args: Vec<String> = vec!["daemon".into(), "-t".into(), "bat0".into()];
        for i in ifs {
            args.extend(["-i".into(), i.clone()]);
        }
        args
    }

    /// bat0 of `n` (row r, column c) gets its IPv4 and IPv6 address.
    fn address(&self, r: usize, c: usize) {
        let n = &self.ns[&name(r, c)];
        let up = wait_for(Duration::from_secs(5), || {
            n.ip(&["link", "show", "bat0"]).is_ok()
        });
        assert!(up.is_some(), "no bat0 in {}", n.name);
        let k = 3 * r + c + 1;
        let v4 = format!("10.98.0.{k}/24");
        let v6 = format!("fd98::{k}/64");
        n.ip(&["addr", "add", &v4, "dev", "bat0"]).unwrap();
        n.ip(&["addr", "add", &v6, "dev", "bat0", "nodad"]).unwrap();
    }

    fn start_with(loss_percent: u32, middle_from_file: bool) -> Grid {
        let mut ns: HashMap<String, Netns> = HashMap::new();
        let mut ifaces: HashMap<String, Vec<String>> = HashMap::new();
        for r in 0..3 {
            for c in 0..3 {
                ns.insert(name(r, c), Netns::new(&format!("g{r}{c}")).unwrap());
            }
        }
        for r in 0..3 {
            for c in 0..3 {
                for (r2, c2) in [(r, c + 1), (r + 1, c)] {
                    if r2 > 2 || c2 > 2 {
                        continue;
                    }
                    let (a, b) = (name(r, c), name(r2, c2));
                    let (ia, ib) = (format!("to{b}"), format!("to{a}"));
                    hwtest::netns::veth(&ns[&a], &ia, &ns[&b], &ib, 1532).unwrap();
                    ifaces.entry(a.clone()).or_default().push(ia);
                    ifaces.entry(b.clone()).or_default().push(ib);
                }
            }
        }
        if loss_percent > 0 {
            for (n, ifs) in &ifaces {
                for i in ifs {
                    nft(&ns[n], &format!(
                        "add table netdev loss{i} ; add chain netdev loss{i} in {{ type filter hook ingress device {i} priority 0 ; }} ; add rule netdev loss{i} in numgen random mod 100 < {loss_percent} drop"
                    ));
                }
            }
        }
        let mut owner: HashMap<String, String> = HashMap::new();
        for (n, ifs) in &ifaces {
            for i in ifs {
                owner.insert(mac_of(&ns[n], i), n.clone());
            }
        }
        let mut procs = HashMap::new();
        for (n, ifs) in &ifaces {
            let args = Grid::args(n, ifs, middle_from_file);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            procs.insert(n.clone(), spawn_meshd(&ns[n], &args, &log_path(n)));
        }
        let g = Grid {
            ns,
            ifaces,
            owner,
            procs,
        };
        for r in 0..3 {
            for c in 0..3 {
                g.address(r, c);
            }
        }
        g
    }

    /// `ping -c 1 -W 1 to` from node `from`.
    fn ping_from(&self, from: &str, to: &str) -> bool {
        self.ns[from]
            .cmd("ping")
            .args(["-c", "1", "-W", "1", to])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn ping_once(&self, to: &str) -> bool {
        self.ping_from("00", to)
    }

    /// n00's path to n22, following each node's latest logged next hop.
    fn path(&self) -> Vec<String> {
        let dest_mac = mac_of(&self.ns["22"], &self.ifaces["22"][0]);
        let next_hop = |n: &str| -> Option<String> {
            let log = std::fs::read_to_string(log_path(n)).ok()?;
            let needle = format!("route to {dest_mac} via ");
            let line = log.lines().rfind(|l| l.contains(&needle))?;
            let mac = line.split(&needle).nth(1)?.split_whitespace().next()?;
            self.owner.get(mac).cloned()
        };
        let mut path = vec!["00".to_string()];
        while path.last().unwrap() != "22" && path.len() < 9 {
            match next_hop(path.last().unwrap()) {
                Some(h) => path.push(h),
                None => break,
            }
        }
        path
    }

    /// Ping n22 every 50 ms for 8 s, calling `cut` after 3 s; the reply
    /// timestamps.
    fn ping_through(&self, cut: impl FnOnce()) -> Vec<f64> {
        let pinger = self.ns["00"]
            .cmd("ping")
            .args(["-i", "0.05", "-D", "-W", "1", "-w", "8", "10.98.0.9"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs(3));
        cut();
        let out = pinger.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("bytes from"))
            .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
            .collect()
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.procs.clear();
        for n in self.ifaces.keys() {
            let _ = std::fs::remove_file(log_path(n));
        }
        let _ = std::fs::remove_file(Grid::middle_config());
    }
}

fn nft(ns: &Netns, script: &str) {
    let st = ns.cmd("nft").arg(script).status().expect("nft runs");
    assert!(st.success(), "nft {script}");
}

fn longest_gap(stamps: &[f64]) -> f64 {
    stamps.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

fn converged_path(g: &Grid) -> Vec<String> {
    let conv = wait_for(Duration::from_secs(30), || g.ping_once("10.98.0.9"));
    assert!(conv.is_some(), "n00 never reached n22");
    std::thread::sleep(Duration::from_secs(3)); // let routes settle
    let path = g.path();
    assert_eq!(path.last().map(String::as_str), Some("22"), "path {path:?}");
    path
}

#[test]
fn grid_3x3_carrier_cut_on_the_path_resumes_within_a_second() {
    if !require_root("grid_3x3_carrier_cut_on_the_path_resumes_within_a_second") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let g = Grid::start(0);
    let path = converged_path(&g);
    let (from, to) = (path[1].clone(), path[2].clone());
    let stamps = g.ping_through(|| {
        g.ns[to.as_str()]
            .ip(&["link", "set", &format!("to{from}"), "down"])
            .unwrap();
    });
    assert!(stamps.len() > 40, "too few replies: {}", stamps.len());
    let gap = longest_gap(&stamps);
    println!("path {path:?}, carrier cut {from}-{to}: longest gap {gap:.3} s");
    assert!(
        gap <= 1.0,
        "pings stopped for {gap:.3} s after the carrier cut {from}-{to}"
    );
    assert!(
        stamps.last().unwrap() - stamps[0] > 7.0,
        "pings did not resume"
    );
}

#[test]
fn grid_3x3_silent_cut_on_the_path_resumes_within_five_seconds() {
    if !require_root("grid_3x3_silent_cut_on_the_path_resumes_within_five_seconds") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let g = Grid::start(0);
    let path = converged_path(&g);
    let (from, to) = (path[1].clone(), path[2].clone());
    let stamps = g.ping_through(|| {
        // Frames vanish both ways; carrier stays up: nobody is told.
        nft(&g.ns[to.as_str()], &format!(
            "add table netdev cut ; add chain netdev cut in {{ type filter hook ingress device to{from} priority 0 ; }} ; add rule netdev cut in drop"
        ));
        nft(&g.ns[from.as_str()], &format!(
            "add table netdev cut ; add chain netdev cut in {{ type filter hook ingress device to{to} priority 0 ; }} ; add rule netdev cut in drop"
        ));
    });
    assert!(stamps.len() > 20, "too few replies: {}", stamps.len());
    let gap = longest_gap(&stamps);
    println!("path {path:?}, silent cut {from}-{to}: longest gap {gap:.3} s");
    assert!(
        gap <= 5.0,
        "pings stopped for {gap:.3} s after the silent cut {from}-{to}"
    );
    assert!(
        stamps.last().unwrap() - stamps[0] > 7.0,
        "pings did not resume"
    );
}

#[test]
fn grid_3x3_with_30_percent_loss_converges_and_pings() {
    if !require_root("grid_3x3_with_30_percent_loss_converges_and_pings") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let g = Grid::start(30);
    let conv = wait_for(Duration::from_secs(60), || g.ping_once("10.98.0.9"));
    assert!(conv.is_some(), "n00 never reached n22 at 30% loss");
    let stamps = g.ping_through(|| {});
    // 30% loss on each of ~8 link crossings (4 hops there and back) leaves
    // about 0.7^8 = 6% of pings answered; MAC-level retries do not exist
    // here. Require a steady trickle, not a number.
    println!(
        "30% loss: {} of 160 pings answered, converged after {:?}",
        stamps.len(),
        conv
    );
    assert!(stamps.len() >= 3, "only {} replies", stamps.len());
}

/// Every node reaches every other over bat0, by IPv4 and by IPv6.
#[test]
fn grid_3x3_every_node_pings_every_other_v4_and_v6() {
    if !require_root("grid_3x3_every_node_pings_every_other_v4_and_v6") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let g = Grid::start(0);
    let conv = wait_for(Duration::from_secs(30), || g.ping_once("10.98.0.9"));
    assert!(conv.is_some(), "n00 never reached n22");
    let mut slowest = Duration::ZERO;
    for from in 0..9 {
        for to in 0..9 {
            if from == to {
                continue;
            }
            let src = name(from / 3, from % 3);
            for addr in [format!("10.98.0.{}", to + 1), format!("fd98::{}", to + 1)] {
                let t = wait_for(Duration::from_secs(10), || g.ping_from(&src, &addr));
                assert!(t.is_some(), "n{src} cannot ping {addr}");
                slowest = slowest.max(t.unwrap());
            }
        }
    }
    println!(
        "all 72 pairs ping over IPv4 and IPv6 (converged after {conv:?}; slowest pair needed {slowest:?} more)"
    );
}

/// kill -9 of the middle node (it runs from a config file and announces a
/// gateway), then a restart from the same file: it rejoins, routes to and
/// through it come back, and its whole configuration is in force again.
#[test]
fn grid_3x3_middle_node_killed_and_restarted_rejoins() {
    if !require_root("grid_3x3_middle_node_killed_and_restarted_rejoins") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut g = Grid::start_with(0, true);
    let ctl = |n: &str, args: &[&str]| -> String {
        let sock = std::env::temp_dir().join(format!("{}.sock", g.ns[n].name));
        let out = g.ns[n]
            .cmd(MESHD)
            .args(["ctl", "-s", sock.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let mid = mac_of(&g.ns["11"], &g.ifaces["11"][0]);
    let conv = wait_for(Duration::from_secs(30), || {
        g.ping_once("10.98.0.5") && ctl("00", &["gwl"]).contains(&mid)
    });
    assert!(
        conv.is_some(),
        "n00 never reached the middle node or saw its gateway"
    );
    g.procs.remove("11").unwrap().kill9();
    // The others route around the dead node: n10 and n12 still meet.
    assert!(
        wait_for(Duration::from_secs(10), || g.ping_from("10", "10.98.0.6")).is_some(),
        "n10 cannot reach n12 with n11 dead"
    );
    // Restart from the same file; bat0 is new (the old TAP died with the
    // process), so it gets its addresses again as the system would give them.
    let ifs = g.ifaces["11"].clone();
    let args = Grid::args("11", &ifs, true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let p = spawn_meshd(&g.ns["11"], &args, &log_path("11"));
    g.procs.insert("11".into(), p);
    g.address(1, 1);
    let back = wait_for(Duration::from_secs(30), || {
        g.ping_once("10.98.0.5") && g.ping_from("11", "fd98::9")
    });
    assert!(
        back.is_some(),
        "the restarted node did not rejoin:\n{}\nn11 n:\n{}\nn11 o:\n{}\nn01 o:\n{}\nn01 s:\n{}",
        std::fs::read_to_string(log_path("11")).unwrap_or_default(),
        ctl("11", &["n"]),
        ctl("11", &["o"]),
        ctl("01", &["o"]),
        ctl("01", &["s"])
    );
    // Its whole config is back: all four interfaces, the gateway, and
    // routes to all eight others (their primary interfaces are the first
    // they were given, so their originator addresses).
    let others: Vec<String> = g
        .ifaces
        .iter()
        .filter(|(n, _)| n.as_str() != "11")
        .map(|(n, ifs)| mac_of(&g.ns[n], &ifs[0]))
        .collect();
    let ifs = ctl("11", &["if"]);
    assert_eq!(ifs.matches(": active").count(), 4, "{ifs}");
    let full = wait_for(Duration::from_secs(15), || {
        let o = ctl("11", &["o"]);
        ctl("00", &["gwl"]).contains(&mid) && others.iter().all(|m| o.contains(&format!(" * {m}")))
    });
    assert!(
        full.is_some(),
        "gateway or originators missing: {}{}",
        ctl("00", &["gwl"]),
        ctl("11", &["o"])
    );
    println!(
        "converged {conv:?}; after kill -9 and restart, pings through n11 after {back:?}, all routes and its gateway {full:?} later"
    );
}

/// A LAN client namespace bridged with n00's bat0 reaches one bridged with
/// n22's, three hops across the grid (IPv4 and IPv6): the corners learn
/// the clients' MACs from their bridges, announce them in their
/// translation tables, and the frames go as batman unicast.
///
/// ```text
///   [c0] lan ==veth== cl -br0- bat0 [n00] ... [n22] bat0 -br0- cl ==veth== lan [c2]
/// ```
#[test]
fn grid_3x3_lan_clients_behind_opposite_corners_meet() {
    if !require_root("grid_3x3_lan_clients_behind_opposite_corners_meet") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let g = Grid::start(0);
    let clients: Vec<Netns> = ["c0", "c2"]
        .iter()
        .map(|n| Netns::new(n).unwrap())
        .collect();
    for (corner, client, k) in [("00", &clients[0], 101), ("22", &clients[1], 102)] {
        let n = &g.ns[corner];
        hwtest::netns::veth(client, "lan", n, "cl", 1500).unwrap();
        n.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
        n.ip(&["link", "set", "bat0", "master", "br0"]).unwrap();
        n.ip(&["link", "set", "cl", "master", "br0"]).unwrap();
        n.ip(&["link", "set", "br0", "up"]).unwrap();
        let v4 = format!("10.96.0.{k}/24");
        let v6 = format!("fd96::{k}/64");
        client.ip(&["addr", "add", &v4, "dev", "lan"]).unwrap();
        client
            .ip(&["addr", "add", &v6, "dev", "lan", "nodad"])
            .unwrap();
    }
    let ping = |to: &str| {
        clients[0]
            .cmd("ping")
            .args(["-c", "1", "-W", "1", to])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let v4 = wait_for(Duration::from_secs(30), || ping("10.96.0.102"));
    assert!(v4.is_some(), "the LAN clients never met over IPv4");
    let v6 = wait_for(Duration::from_secs(15), || ping("fd96::102"));
    assert!(v6.is_some(), "the LAN clients never met over IPv6");
    // n00 has the far client in its global table, behind n22.
    let far = mac_of(&clients[1], "lan");
    let sock = std::env::temp_dir().join(format!("{}.sock", g.ns["00"].name));
    let tg = || {
        let o = g.ns["00"]
            .cmd(MESHD)
            .args(["ctl", "-s", sock.to_str().unwrap(), "tg"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let n22 = mac_of(&g.ns["22"], &g.ifaces["22"][0]);
    let known = wait_for(Duration::from_secs(20), || {
        tg().lines().any(|l| l.contains(&far) && l.contains(&n22))
    });
    assert!(
        known.is_some(),
        "n00's global table lacks {far} behind {n22}:\n{}",
        tg()
    );
    println!(
        "LAN clients across the grid: IPv4 after {v4:?}, IPv6 {v6:?} later, in n00's tg {known:?} later:\n{}",
        tg()
    );
}
