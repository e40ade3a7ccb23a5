//! meshctl's verbs against running daemons, and mesh interfaces that come
//! and go while meshd runs (root; CI runs them).
//!
//! ```text
//!   [ia] m0 ==veth== m0 [ib] m1 ==veth== m0 [ic]
//!    |                 gateway 10mbit/2mbit    |
//!    m9 ===========(made while running)====== m9
//! ```

mod common;

use common::{ctl, log_path, mac_of, read, spawn_meshd};
use hwtest::netns::{require_root, veth, wait_for, Netns};
use std::time::Duration;

struct Line {
    ns: Vec<Netns>,
    logs: Vec<std::path::PathBuf>,
    procs: Vec<hwtest::netns::Proc>,
}

impl Line {
    /// a - b - c, b a gateway; `extra_a` adds daemon arguments to a.
    fn start(tag: &str, extra_a: &[&str]) -> Line {
        let ns: Vec<Netns> = ["a", "b", "c"]
            .iter()
            .map(|n| Netns::new(&format!("{tag}{n}")).unwrap())
            .collect();
        veth(&ns[0], "m0", &ns[1], "m0", 1532).unwrap();
        veth(&ns[1], "m1", &ns[2], "m0", 1532).unwrap();
        let logs: Vec<_> = ns.iter().map(|n| log_path(&n.name)).collect();
        let mut a = vec!["daemon", "-i", "m0", "-t", "bat0"];
        a.extend_from_slice(extra_a);
        let args: [Vec<&str>; 3] = [
            a,
            vec![
                "daemon",
                "-i",
                "m0",
                "-i",
                "m1",
                "-t",
                "bat0",
                "-g",
                "10mbit/2mbit",
            ],
            vec!["daemon", "-i", "m0", "-t", "bat0"],
        ];
        let procs = (0..3)
            .map(|i| spawn_meshd(&ns[i], &args[i], &logs[i]))
            .collect();
        Line { ns, logs, procs }
    }

    fn logs(&self) -> String {
        self.ns
            .iter()
            .zip(&self.logs)
            .map(|(n, l)| format!("--- {}\n{}", n.name, read(l)))
            .collect()
    }

    /// Until a's `meshctl o` routes to `orig` via `hop`.
    fn wait_route(&self, orig: &str, hop: &str, limit: Duration) -> Option<Duration> {
        wait_for(limit, || {
            let (_, o) = ctl(&self.ns[0], &["o"]);
            o.lines()
                .any(|l| l.contains(&format!(" * {orig}")) && l.contains(hop))
        })
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.procs.clear();
        for l in &self.logs {
            let _ = std::fs::remove_file(l);
        }
    }
}

/// `meshctl gwl`, `tr`, `td`, `if` and their JSON on a line of three.
#[test]
fn meshctl_gateways_traceroute_capture_and_interfaces() {
    if !require_root("meshctl_gateways_traceroute_capture_and_interfaces") {
        return;
    }
    let l = Line::start("va", &[]);
    let (a, b, c) = (&l.ns[0], &l.ns[1], &l.ns[2]);
    let (b_orig, c_orig) = (mac_of(b, "m0"), mac_of(c, "m0"));
    assert!(
        l.wait_route(&c_orig, &b_orig, Duration::from_secs(15))
            .is_some(),
        "a never routed to c:\n{}",
        l.logs()
    );
    // The gateway b announces, as batctl gwl shows it.
    let got = wait_for(Duration::from_secs(5), || {
        ctl(a, &["gwl"]).1.contains(&format!(" * {b_orig} "))
    });
    let (ok, gwl) = ctl(a, &["gwl"]);
    assert!(ok && got.is_some(), "{gwl}");
    assert!(
        gwl.contains("Router") && gwl.contains("10.0/2.0 MBit"),
        "{gwl}"
    );
    let (_, j) = ctl(a, &["-j", "gwl"]);
    assert!(
        j.contains("\"down_kbit\":10000") && j.contains("\"up_kbit\":2000"),
        "{j}"
    );
    // c is no gateway; b does not list itself.
    assert!(
        !ctl(b, &["gwl"]).1.contains(" * "),
        "{}",
        ctl(b, &["gwl"]).1
    );
    // Traceroute: b answers TTL exceeded, then c the echo.
    let (ok, tr) = ctl(a, &["tr", &c_orig]);
    assert!(ok, "{tr}");
    assert!(
        tr.contains(&format!(" 1: {b_orig}")) && tr.contains(&format!(" 2: {c_orig}")),
        "{tr}"
    );
    let (ok, trj) = ctl(a, &["-j", "tr", &c_orig]);
    assert!(ok && trj.contains("\"hop\":2"), "{trj}");
    // Live decode on a's link: OGMs of both others pass there.
    let (ok, td) = ctl(a, &["td", "m0", "-c", "8", "-w", "10"]);
    assert!(ok, "{td}");
    assert!(td.contains("OGM IV via neigh"), "{td}");
    assert!(td.contains(&format!("BAT {c_orig}: OGM IV")), "{td}");
    eprintln!("{gwl}{tr}{td}");
    let (ok, bad) = ctl(a, &["td", "nosuchif0"]);
    assert!(!ok && bad.contains("nosuchif0"), "{bad}");
    // Interfaces.
    let (ok, iface) = ctl(b, &["if"]);
    assert!(
        ok && iface.contains("m0: active") && iface.contains("m1: active"),
        "{iface}"
    );
    let (_, ij) = ctl(b, &["-j", "if"]);
    assert!(
        ij.contains("\"iface\":\"m1\",\"status\":\"active\""),
        "{ij}"
    );
    let (ok, e) = ctl(a, &["if", "add", "m0"]);
    assert!(!ok && e.contains("already"), "{e}");
    let (ok, e) = ctl(a, &["if", "add", "nosuchif0"]);
    assert!(!ok && e.contains("not found"), "{e}");
    let (ok, e) = ctl(a, &["if", "del", "nosuchif0"]);
    assert!(!ok && e.contains("not a mesh interface"), "{e}");
    let (ok, e) = ctl(a, &["if", "frob", "m0"]);
    assert!(!ok && e.contains("usage"), "{e}");
}

/// An interface deleted under meshd drops its routes at once; re-created
/// (new index, new MAC) it is used again without a restart. One named at
/// start but not there yet is used when it appears; `meshctl if add/del`
/// change the set at runtime.
#[test]
fn interfaces_come_and_go_without_a_restart() {
    if !require_root("interfaces_come_and_go_without_a_restart") {
        return;
    }
    let l = Line::start("vb", &["-i", "m9"]);
    let (a, b, c) = (&l.ns[0], &l.ns[1], &l.ns[2]);
    let b_orig = mac_of(b, "m0");
    let c_orig = mac_of(c, "m0");
    assert!(
        l.wait_route(&c_orig, &b_orig, Duration::from_secs(15))
            .is_some(),
        "a never routed to c:\n{}",
        l.logs()
    );
    assert!(read(&l.logs[0]).contains("m9"), "{}", l.logs());
    assert!(ctl(a, &["if"]).1.contains("m9: not present"));

    // Delete b-c under the running daemons: a loses c within a moment
    // (b drops the link at once and withdraws the route).
    b.ip(&["link", "del", "m1"]).unwrap();
    let gone = wait_for(Duration::from_secs(3), || {
        !ctl(a, &["o"]).1.contains(&format!(" * {c_orig}"))
    });
    assert!(gone.is_some(), "a still routes to c:\n{}", l.logs());
    eprintln!("route to c gone {gone:?} after the link was deleted");
    assert!(ctl(b, &["if"]).1.contains("m1: not present"));
    assert!(ctl(c, &["if"]).1.contains("m0: not present"));

    // Re-create it: both ends pick it up again, c under a new MAC.
    veth(b, "m1", c, "m0", 1532).unwrap();
    let c_new = mac_of(c, "m0");
    let back = l.wait_route(&c_new, &b_orig, Duration::from_secs(15));
    assert!(
        back.is_some(),
        "no route to the re-created c:\n{}",
        l.logs()
    );
    eprintln!("route to c back {back:?} after the link was re-created");
    assert!(read(&l.logs[2]).contains("m0 appeared"), "{}", l.logs());

    // a was started with m9 before it existed: a new a-c link is used by
    // a on its own, by c after `meshctl if add`.
    veth(a, "m9", c, "m9", 1532).unwrap();
    let (ok, out) = ctl(c, &["if", "add", "m9"]);
    assert!(ok && out.contains("m9: active"), "{out}");
    let c_m9 = mac_of(c, "m9");
    let direct = l.wait_route(&c_new, &c_m9, Duration::from_secs(15));
    assert!(
        direct.is_some(),
        "a never used the direct link:\n{}",
        l.logs()
    );
    // Removed again at runtime: the route goes back through b.
    let (ok, out) = ctl(c, &["if", "del", "m9"]);
    assert!(ok && !out.contains("m9"), "{out}");
    let via_b = l.wait_route(&c_new, &b_orig, Duration::from_secs(15));
    assert!(
        via_b.is_some(),
        "route did not move back to b:\n{}",
        l.logs()
    );
}
