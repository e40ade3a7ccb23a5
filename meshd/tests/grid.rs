//! A 3x3 grid of real meshd daemons in network namespaces (root; CI runs
//! it): converge, then cut a link on the n00 -> n22 path by carrier loss
//! while n00 pings n22 every 50 ms; pings must resume within 1 s.
//!
//! ```text
//!   n00 -- n01 -- n02      each "--" is a veth pair (MTU 1532); the end in
//!    |      |      |       nRC towards nXY is called toXY; every node runs
//!   n10 -- n11 -- n12      meshd -i <all its toXY> -t bat0, bat0 holds
//!    |      |      |       10.98.0.<3R+C+1>/24
//!   n20 -- n21 -- n22
//! ```

use hwtest::netns::{require_root, wait_for, Netns};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

const MESHD: &str = env!("CARGO_BIN_EXE_meshd");

fn name(r: usize, c: usize) -> String {
    format!("{r}{c}")
}

fn log_path(n: &str) -> PathBuf {
    std::env::temp_dir().join(format!("meshd-grid-{}-{n}.log", std::process::id()))
}

#[test]
fn grid_3x3_carrier_cut_on_the_path_resumes_within_a_second() {
    if !require_root("grid_3x3_carrier_cut_on_the_path_resumes_within_a_second") {
        return;
    }
    let mut ns: HashMap<String, Netns> = HashMap::new();
    let mut ifaces: HashMap<String, Vec<String>> = HashMap::new();
    for r in 0..3 {
        for c in 0..3 {
            ns.insert(name(r, c), Netns::new(&format!("g{r}{c}")).unwrap());
        }
    }
    let mut links = Vec::new();
    for r in 0..3 {
        for c in 0..3 {
            for (r2, c2) in [(r, c + 1), (r + 1, c)] {
                if r2 > 2 || c2 > 2 {
                    continue;
                }
                let (a, b) = (name(r, c), name(r2, c2));
                let (ia, ib) = (format!("to{b}"), format!("to{a}"));
                hwtest::netns::veth(&ns[&a], &ia, &ns[&b], &ib, 1532).unwrap();
                ifaces.entry(a.clone()).or_default().push(ia.clone());
                ifaces.entry(b.clone()).or_default().push(ib.clone());
                links.push((a, ia, b, ib));
            }
        }
    }
    // MAC of every interface -> node, to follow next hops.
    let mut owner: HashMap<String, String> = HashMap::new();
    for (n, ifs) in &ifaces {
        for i in ifs {
            let out = ns[n].ip(&["-br", "link", "show", i]).unwrap();
            let mac = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .nth(2)
                .unwrap()
                .to_string();
            owner.insert(mac, n.clone());
        }
    }
    let mut procs = Vec::new();
    for (n, ifs) in &ifaces {
        let mut args: Vec<&str> = vec!["daemon", "-t", "bat0"];
        for i in ifs {
            args.extend(["-i", i.as_str()]);
        }
        procs.push(ns[n].spawn(MESHD, &args, &log_path(n)).unwrap());
    }
    for r in 0..3 {
        for c in 0..3 {
            let n = &ns[&name(r, c)];
            let up = wait_for(Duration::from_secs(5), || {
                n.ip(&["link", "show", "bat0"]).is_ok()
            });
            assert!(up.is_some(), "no bat0 in {}", n.name);
            n.ip(&[
                "addr",
                "add",
                &format!("10.98.0.{}/24", 3 * r + c + 1),
                "dev",
                "bat0",
            ])
            .unwrap();
        }
    }
    let ping_once = || {
        ns["00"]
            .cmd("ping")
            .args(["-c", "1", "-W", "1", "10.98.0.9"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let conv = wait_for(Duration::from_secs(30), ping_once);
    assert!(conv.is_some(), "n00 never reached n22");
    std::thread::sleep(Duration::from_secs(3)); // let routes settle
                                                // Follow n00's next hops towards n22's originator (its first interface).
    let dest_mac = ns["22"]
        .ip(&["-br", "link", "show", &ifaces["22"][0]])
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(2)
                .unwrap()
                .to_string()
        })
        .unwrap();
    let next_hop = |n: &str| -> Option<String> {
        let log = std::fs::read_to_string(log_path(n)).ok()?;
        let needle = format!("route to {dest_mac} via ");
        let line = log.lines().rfind(|l| l.contains(&needle))?;
        let mac = line.split(&needle).nth(1)?.split_whitespace().next()?;
        owner.get(mac).cloned()
    };
    let mut path = vec!["00".to_string()];
    while path.last().unwrap() != "22" && path.len() < 9 {
        let hop = next_hop(path.last().unwrap()).expect("a next hop on the path");
        path.push(hop);
    }
    assert_eq!(path.last().map(String::as_str), Some("22"), "path {path:?}");
    // The second link of the path, set down at its downstream end.
    let (from, to) = (&path[1], &path[2]);
    let pinger = ns["00"]
        .cmd("ping")
        .args(["-i", "0.05", "-D", "-W", "1", "-w", "8", "10.98.0.9"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    ns[to.as_str()]
        .ip(&["link", "set", &format!("to{from}"), "down"])
        .unwrap();
    let out = pinger.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let stamps: Vec<f64> = text
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect();
    assert!(stamps.len() > 40, "too few replies:\n{text}");
    let gap = stamps.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    let tail = stamps.last().unwrap() - stamps.first().unwrap();
    println!("path {path:?}, cut {from}-{to}: longest gap {gap:.3} s over {tail:.1} s");
    assert!(
        gap <= 1.0,
        "pings stopped for {gap:.3} s after the carrier cut {from}-{to}"
    );
    assert!(tail > 7.0, "pings did not resume until the end:\n{text}");
    drop(procs);
    for n in ifaces.keys() {
        let _ = std::fs::remove_file(log_path(n));
    }
}
