//! meshd on real raw sockets in network namespaces (root; CI runs them).
//!
//! ```text
//!   two_daemons:  [mtP-a] m0 ==veth 1500== m0 [mtP-b]
//! ```
//!
//! The tests with real Linux batman-adv nodes are in interop.rs.

use hwtest::netns::{require_root, veth, wait_for, Netns};
use std::path::PathBuf;
use std::time::Duration;

mod common;

use common::{log_path, read, spawn_meshd, MESHD};

/// Two daemons on one veth find each other and route within a few OGM
/// intervals, and SIGUSR1 prints the originator table.
#[test]
fn two_daemons_over_veth_route_to_each_other() {
    if !require_root("two_daemons_over_veth_route_to_each_other") {
        return;
    }
    let a = Netns::new("a").unwrap();
    let b = Netns::new("b").unwrap();
    veth(&a, "m0", &b, "m0", 1500).unwrap();
    let (la, lb) = (log_path("a"), log_path("b"));
    let pa = spawn_meshd(&a, &["daemon", "-i", "m0"], &la);
    let _pb = spawn_meshd(&b, &["daemon", "-i", "m0"], &lb);
    let took = wait_for(Duration::from_secs(10), || {
        read(&la).contains("route to") && read(&lb).contains("route to")
    });
    assert!(took.is_some(), "no routes:\n{}\n{}", read(&la), read(&lb));
    pa.signal(10).unwrap();
    let table = wait_for(Duration::from_secs(2), || read(&la).contains(" * "));
    assert!(table.is_some(), "no table on SIGUSR1:\n{}", read(&la));
    let _ = std::fs::remove_file(&la);
    let _ = std::fs::remove_file(&lb);
}

/// A daemon without the interface it was given says so and exits non-zero.
#[test]
fn missing_interface_is_a_clear_error() {
    let out = std::process::Command::new(MESHD)
        .args(["daemon", "-i", "nosuchif0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nosuchif0") && err.contains("not found"),
        "{err}"
    );
}

/// Without root (or CAP_NET_RAW) meshd says what it needs and exits
/// non-zero; run as `nobody` through setpriv.
#[test]
fn without_privileges_it_says_so() {
    if !require_root("without_privileges_it_says_so") {
        return;
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", MESHD])
        .args(["daemon", "-i", "lo", "-s", "/tmp/meshd-nobody.sock"])
        .output()
        .expect("setpriv runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs root or CAP_NET_RAW"), "{err}");
}

/// A line of three daemons, each with a `bat0` soft interface carrying an
/// IPv4 and an IPv6 address; the ends ping each other across the middle
/// (translation tables make the replies unicast).
///
/// ```text
///   [a] bat0 10.99.0.1   [b] bat0 10.99.0.2   [c] bat0 10.99.0.3
///    m0 ====veth 1532==== m0   m1 ====veth==== m0
/// ```
#[test]
fn line_of_three_pings_end_to_end_over_bat0() {
    if !require_root("line_of_three_pings_end_to_end_over_bat0") {
        return;
    }
    let ns: Vec<Netns> = ["la", "lb", "lc"]
        .iter()
        .map(|n| Netns::new(n).unwrap())
        .collect();
    veth(&ns[0], "m0", &ns[1], "m0", 1532).unwrap();
    veth(&ns[1], "m1", &ns[2], "m0", 1532).unwrap();
    let logs: Vec<PathBuf> = ["la", "lb", "lc"].iter().map(|n| log_path(n)).collect();
    let _procs: Vec<_> = ns
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut args = vec!["daemon", "-i", "m0", "-t", "bat0"];
            if i == 1 {
                args.extend(["-i", "m1"]);
            }
            spawn_meshd(n, &args, &logs[i])
        })
        .collect();
    for (i, n) in ns.iter().enumerate() {
        let up = wait_for(Duration::from_secs(5), || {
            n.ip(&["link", "show", "bat0"]).is_ok()
        });
        assert!(up.is_some(), "no bat0 in {}:\n{}", n.name, read(&logs[i]));
        n.ip(&[
            "addr",
            "add",
            &format!("10.99.0.{}/24", i + 1),
            "dev",
            "bat0",
        ])
        .unwrap();
        n.ip(&[
            "addr",
            "add",
            &format!("fd99::{}/64", i + 1),
            "dev",
            "bat0",
            "nodad",
        ])
        .unwrap();
    }
    let ping = |to: &str| {
        ns[0]
            .cmd("ping")
            .args(["-c", "1", "-W", "1", to])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let v4 = wait_for(Duration::from_secs(15), || ping("10.99.0.3"));
    assert!(
        v4.is_some(),
        "no IPv4 ping a -> c:\n{}\n{}",
        read(&logs[0]),
        read(&logs[1])
    );
    let v6 = wait_for(Duration::from_secs(10), || ping("fd99::3"));
    assert!(v6.is_some(), "no IPv6 ping a -> c");
    for l in &logs {
        let _ = std::fs::remove_file(l);
    }
}

/// The config file: a missing or broken one is a clear error naming the
/// file (and line); SIGHUP re-reads it, refuses a broken one and keeps
/// running, and picks up a new interface without a restart.
#[test]
fn config_file_and_sighup_reload() {
    let missing = std::process::Command::new(MESHD)
        .args(["daemon", "--config", "/nonexistent/meshd.toml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/meshd.toml"));
    let dir = std::env::temp_dir().join(format!("meshd-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("meshd.toml");
    std::fs::write(&file, "[mesh]\ninterfaces = [\"m0\"]\nlog = \"chatty\"\n").unwrap();
    let bad = std::process::Command::new(MESHD)
        .args(["daemon", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("meshd.toml") && err.contains("log"), "{err}");
    if !require_root("config_file_and_sighup_reload") {
        return;
    }
    let a = Netns::new("ca").unwrap();
    let b = Netns::new("cb").unwrap();
    veth(&a, "m0", &b, "m0", 1500).unwrap();
    veth(&a, "m1", &b, "m1", 1500).unwrap();
    std::fs::write(
        &file,
        "[mesh]\ninterfaces = [\"m0\"]\nsoft_interface = \"\"\n",
    )
    .unwrap();
    let (la, lb) = (log_path("ca"), log_path("cb"));
    let pa = spawn_meshd(&a, &["daemon", "--config", file.to_str().unwrap()], &la);
    let _pb = spawn_meshd(&b, &["daemon", "-i", "m0", "-i", "m1"], &lb);
    assert!(
        wait_for(Duration::from_secs(10), || read(&la).contains("route to")).is_some(),
        "{}",
        read(&la)
    );
    std::fs::write(&file, "[mesh]\ninterfaces = [\"m0\", \"m1\"\n").unwrap();
    pa.signal(1).unwrap();
    let refused = wait_for(Duration::from_secs(3), || {
        read(&la).contains("reload refused")
    });
    assert!(refused.is_some(), "{}", read(&la));
    assert!(
        read(&la).contains("line"),
        "the refusal names the line:\n{}",
        read(&la)
    );
    std::fs::write(
        &file,
        "[mesh]\ninterfaces = [\"m0\", \"m1\"]\nsoft_interface = \"\"\n",
    )
    .unwrap();
    pa.signal(1).unwrap();
    let added = wait_for(Duration::from_secs(3), || read(&la).contains("m1 added"));
    assert!(added.is_some(), "{}", read(&la));
    let heard = wait_for(Duration::from_secs(10), || read(&la).contains("up on m1"));
    assert!(
        heard.is_some(),
        "no neighbour on the new interface:\n{}",
        read(&la)
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&la);
    let _ = std::fs::remove_file(&lb);
}

/// `meshctl` (here `meshd ctl`) against a running daemon: originators and
/// neighbours in batctl's layout, JSON with -j, statistics; the socket is
/// mode 0600 and removed on SIGTERM.
#[test]
fn meshctl_reads_the_running_daemon() {
    if !require_root("meshctl_reads_the_running_daemon") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let a = Netns::new("qa").unwrap();
    let b = Netns::new("qb").unwrap();
    veth(&a, "m0", &b, "m0", 1500).unwrap();
    let sock = std::env::temp_dir().join(format!("meshd-ctl-{}.sock", std::process::id()));
    let sock_s = sock.to_str().unwrap().to_string();
    let (la, lb) = (log_path("qa"), log_path("qb"));
    let mut pa = a
        .spawn(
            MESHD,
            &["daemon", "-i", "m0", "-t", "bat0", "-s", &sock_s],
            &la,
        )
        .unwrap();
    let sock_b = format!("{sock_s}.b");
    let _pb = b
        .spawn(MESHD, &["daemon", "-i", "m0", "-s", &sock_b], &lb)
        .unwrap();
    // both directions routed (the echo reply needs the way back too)
    assert!(
        wait_for(Duration::from_secs(10), || read(&la).contains("route to")
            && read(&lb).contains("route to"))
        .is_some()
    );
    let ctl = |args: &[&str]| {
        let out = std::process::Command::new(MESHD)
            .arg("ctl")
            .args(["-s", &sock_s])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "meshctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let peer = b.ip(&["-br", "link", "show", "m0"]).unwrap();
    let peer = String::from_utf8_lossy(&peer.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    let o = ctl(&["o"]);
    assert!(
        o.contains("Originator") && o.contains(&peer) && o.contains("m0"),
        "{o}"
    );
    let n = ctl(&["n"]);
    assert!(n.contains(&peer), "{n}");
    let j = ctl(&["-j", "o"]);
    assert!(j.starts_with("{\"ok\":true,\"rows\":[{\"orig\":"), "{j}");
    let s = ctl(&["s"]);
    assert!(
        s.contains("rx_ogm:") && s.contains("drop_malformed:"),
        "{s}"
    );
    let bad = std::process::Command::new(MESHD)
        .args(["ctl", "-s", &sock_s, "bogus"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    // batman ICMP echo through the core, like batctl ping
    let p = ctl(&["ping", "-c", "2", &peer]);
    assert!(
        p.contains(&format!("20 bytes from {peer} icmp_seq=1")) && p.contains("2 received"),
        "{p}"
    );
    let lost = std::process::Command::new(MESHD)
        .args(["ctl", "-s", &sock_s, "ping", "-c", "1", "02:99:99:99:99:99"])
        .output()
        .unwrap();
    assert!(!lost.status.success(), "ping to nobody succeeded");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // SIGTERM: a clean exit that takes the socket and the TAP with it.
    assert!(a.ip(&["link", "show", "bat0"]).is_ok());
    pa.signal(15).unwrap();
    let exited = wait_for(Duration::from_secs(3), || {
        matches!(pa.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited.is_some(), "meshd did not exit on SIGTERM");
    assert!(pa.child.wait().unwrap().success(), "{}", read(&la));
    assert!(!sock.exists(), "socket left behind");
    assert!(a.ip(&["link", "show", "bat0"]).is_err(), "bat0 left behind");
    let _ = std::fs::remove_file(&la);
    let _ = std::fs::remove_file(&lb);
    let _ = std::fs::remove_file(&sock_b);
}

/// Hostile input: a namespace floods random and malformed 0x4305 frames
/// at meshd for 10 s. meshd keeps running, keeps its route to the real
/// peer, stays small, and counts the drops (`meshctl s`).
///
/// ```text
///   [ha] meshd m0 ==veth== m0 [hb] meshd
///        meshd m1 ==veth== m1 [hx] inject.py
/// ```
#[test]
fn hostile_flood_is_dropped_and_counted() {
    if !require_root("hostile_flood_is_dropped_and_counted") {
        return;
    }
    if std::process::Command::new("python3")
        .arg("-V")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs python3 for the injector"
        );
        println!("skipping: python3 not found");
        return;
    }
    let a = Netns::new("ha").unwrap();
    let b = Netns::new("hb").unwrap();
    let x = Netns::new("hx").unwrap();
    veth(&a, "m0", &b, "m0", 1500).unwrap();
    veth(&a, "m1", &x, "m1", 1500).unwrap();
    let sock = std::env::temp_dir().join(format!("{}.sock", a.name));
    let (la, lb) = (log_path("ha"), log_path("hb"));
    let pa = spawn_meshd(
        &a,
        &["daemon", "-i", "m0", "-i", "m1", "--log", "warn"],
        &la,
    );
    let _pb = spawn_meshd(&b, &["daemon", "-i", "m0"], &lb);
    let peer = b.ip(&["-br", "link", "show", "m0"]).unwrap();
    let peer = String::from_utf8_lossy(&peer.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    let ctl = |v: &str| {
        let out = std::process::Command::new(MESHD)
            .args(["ctl", "-s", sock.to_str().unwrap(), v])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(wait_for(Duration::from_secs(10), || ctl("o").contains(&peer)).is_some());
    let tool = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/inject.py");
    let out = x
        .cmd("python3")
        .arg(&tool)
        .args(["m1", "10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(sent > 10_000, "the injector only sent {sent} frames");
    // still alive, still routing to the real peer
    assert!(
        ctl("o").contains(&peer),
        "route to the real peer lost:\n{}",
        ctl("o")
    );
    let s = ctl("s");
    let counter = |name: &str| -> u64 {
        s.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let dropped =
        counter("drop_malformed") + counter("drop_version") + counter("drop_unknown_type");
    assert!(dropped > 1000, "drops not counted:\n{s}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", pa.child.id())).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    println!("{sent} hostile frames, {dropped} counted as malformed, RSS {rss_kb} kB");
    assert!(rss_kb < 16 * 1024, "RSS {rss_kb} kB after the flood");
    let _ = std::fs::remove_file(&la);
    let _ = std::fs::remove_file(&lb);
}

/// LAN clients bridged behind the two ends of a line reach each other
/// through the mesh (their MACs learned into the translation tables); then
/// the middle daemon is killed with SIGKILL and restarted, and the clients
/// reach each other again.
///
/// ```text
///   [wa] client veth --br0-- bat0 [la] m0 == m0 [lb] m1 == m0 [lc] bat0 --br0-- veth [wc] client
///        10.97.0.1                                                       10.97.0.3
/// ```
#[test]
fn bridged_lan_clients_meet_across_the_mesh_and_survive_a_middle_restart() {
    if !require_root("bridged_lan_clients_meet_across_the_mesh_and_survive_a_middle_restart") {
        return;
    }
    let ns: Vec<Netns> = ["ba", "bb", "bc"]
        .iter()
        .map(|n| Netns::new(n).unwrap())
        .collect();
    let wa = Netns::new("wa").unwrap();
    let wc = Netns::new("wc").unwrap();
    veth(&ns[0], "m0", &ns[1], "m0", 1532).unwrap();
    veth(&ns[1], "m1", &ns[2], "m0", 1532).unwrap();
    veth(&wa, "lan", &ns[0], "cl", 1500).unwrap();
    veth(&wc, "lan", &ns[2], "cl", 1500).unwrap();
    let logs: Vec<PathBuf> = ["ba", "bb", "bc"].iter().map(|n| log_path(n)).collect();
    let mut procs: Vec<Option<hwtest::netns::Proc>> = Vec::new();
    for (i, n) in ns.iter().enumerate() {
        let args: Vec<&str> = if i == 1 {
            vec!["daemon", "-i", "m0", "-i", "m1"]
        } else {
            vec!["daemon", "-i", "m0", "-t", "bat0"]
        };
        procs.push(Some(spawn_meshd(n, &args, &logs[i])));
    }
    for i in [0, 2] {
        let n = &ns[i];
        assert!(wait_for(Duration::from_secs(5), || n
            .ip(&["link", "show", "bat0"])
            .is_ok())
        .is_some());
        n.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
        n.ip(&["link", "set", "bat0", "master", "br0"]).unwrap();
        n.ip(&["link", "set", "cl", "master", "br0"]).unwrap();
        n.ip(&["link", "set", "br0", "up"]).unwrap();
    }
    wa.ip(&["addr", "add", "10.97.0.1/24", "dev", "lan"])
        .unwrap();
    wc.ip(&["addr", "add", "10.97.0.3/24", "dev", "lan"])
        .unwrap();
    let ping = || {
        wa.cmd("ping")
            .args(["-c", "1", "-W", "1", "10.97.0.3"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let first = wait_for(Duration::from_secs(20), ping);
    assert!(
        first.is_some(),
        "LAN clients never met:\n{}",
        read(&logs[0])
    );
    // the client behind c is in a's global translation table
    let client_c = wc.ip(&["-br", "link", "show", "lan"]).unwrap();
    let client_c = String::from_utf8_lossy(&client_c.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_string();
    let sock_a = std::env::temp_dir().join(format!("{}.sock", ns[0].name));
    let tg = || {
        let o = std::process::Command::new(MESHD)
            .args(["ctl", "-s", sock_a.to_str().unwrap(), "tg"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    // announced with the next own OGM of c, then carried to a
    let learned = wait_for(Duration::from_secs(10), || tg().contains(&client_c));
    assert!(
        learned.is_some(),
        "a's tg lacks the client behind c {client_c}:\n{}",
        tg()
    );
    // SIGKILL the middle daemon, restart it with the same command line.
    procs[1].take().unwrap().kill9();
    procs[1] = Some(spawn_meshd(
        &ns[1],
        &["daemon", "-i", "m0", "-i", "m1"],
        &logs[1],
    ));
    let again = wait_for(Duration::from_secs(20), ping);
    assert!(
        again.is_some(),
        "no ping after the middle node restarted:\n{}",
        read(&logs[1])
    );
    println!(
        "first contact {:?}, after restart {:?}",
        first.unwrap(),
        again.unwrap()
    );
    for l in &logs {
        let _ = std::fs::remove_file(l);
    }
}

/// OpenWrt's UCI file is a config file too: `meshd check` validates it
/// (file, line and cause for a bad one) and the daemon runs from it.
#[test]
fn uci_config_file_checks_and_runs() {
    if !require_root("uci_config_file_checks_and_runs") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("meshd-uci-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("meshd");
    std::fs::write(
        &good,
        "config meshd 'main'\n\toption enabled '1'\n\tlist interface 'm0'\n\toption soft_interface 'none'\n\toption gateway '5mbit'\n\nconfig wifi 'wifi'\n\toption mesh_id 'x'\n",
    )
    .unwrap();
    let bad = dir.join("broken");
    std::fs::write(
        &bad,
        "config meshd 'main'\n\tlist interface 'm0'\n\toption colour 'red'\n",
    )
    .unwrap();
    let check = |p: &std::path::Path| {
        std::process::Command::new(MESHD)
            .args(["check", "--config", p.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let ok = check(&good);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).ends_with(": ok\n"));
    let no = check(&bad);
    assert_eq!(no.status.code(), Some(1));
    let err = String::from_utf8_lossy(&no.stderr);
    assert!(
        err.contains("broken: line 3: unknown option \"colour\""),
        "{err}"
    );

    let a = Netns::new("ua").unwrap();
    let b = Netns::new("ub").unwrap();
    veth(&a, "m0", &b, "m0", 1500).unwrap();
    let (la, lb) = (log_path("ua"), log_path("ub"));
    let _pa = spawn_meshd(&a, &["daemon", "--config", good.to_str().unwrap()], &la);
    let _pb = spawn_meshd(&b, &["daemon", "-i", "m0"], &lb);
    let routed = wait_for(Duration::from_secs(10), || {
        read(&la).contains("route to") && read(&lb).contains("route to")
    });
    assert!(routed.is_some(), "{}\n{}", read(&la), read(&lb));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&la);
    let _ = std::fs::remove_file(&lb);
}
