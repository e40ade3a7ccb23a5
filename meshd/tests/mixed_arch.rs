//! A mesh of mixed architectures: the cross-built router binaries
//! (`cross/build` puts them in cross/out/<arch>/meshd) run under
//! qemu-user-static, each as a node of a netns line between two native
//! x86_64 nodes. Every wire field crosses a different byte order and word
//! size on the way (mips is big-endian, armv7 and mipsel 32-bit), so
//! convergence and end-to-end pings are the test of both.
//!
//! ```text
//!   [x0] bat0 -- m0 == m0 [mipsel] m1 == m0 [aarch64] m1 == m0 [armv7] m1 == m0 [mips] m1 == m0 -- bat0 [x1]
//!   (x0, x1: native meshd with bat0 10.95.0.1 / .2, fd95::1 / ::2; the
//!    others routing only, no soft interface; mips only if it was built)
//! ```
//!
//! Every node also runs the node layer (`--state-dir`): each signs its
//! announcement and verifies the others' (ed25519 across word sizes and
//! byte orders), and x0 pings every node's mesh0 address end-to-end
//! encrypted (the x25519 handshake and ChaCha20-Poly1305 of each foreign
//! build against the native one).
//!
//! Skipped with a message when the cross binaries or qemu are missing,
//! except under CI, where `.ci/run` builds them first and this must run.

mod common;

use common::{ctl, log_path, mac_of, read, spawn_meshd};
use hwtest::netns::{require_root, veth, wait_for, Netns, Proc};
use std::path::PathBuf;
use std::time::Duration;

/// (cross/out directory, qemu-user binary) of each foreign node, in line
/// order; the big-endian one is optional.
const FOREIGN: [(&str, &str, bool); 4] = [
    ("mipsel", "qemu-mipsel-static", true),
    ("aarch64", "qemu-aarch64-static", true),
    ("armv7", "qemu-arm-static", true),
    ("mips", "qemu-mips-static", false),
];

fn cross_bin(arch: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../cross/out/{arch}/meshd"))
}

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

#[test]
fn foreign_architectures_mesh_and_carry_pings() {
    if !require_root("foreign_architectures_mesh_and_carry_pings") {
        return;
    }
    let mut nodes: Vec<(&str, &str)> = Vec::new();
    for (arch, qemu, required) in FOREIGN {
        let present = cross_bin(arch).is_file() && on_path(qemu);
        if present {
            nodes.push((arch, qemu));
        } else if required {
            let why = format!(
                "{} or {qemu} missing (run cross/build)",
                cross_bin(arch).display()
            );
            assert!(std::env::var_os("CI").is_none(), "CI needs them: {why}");
            println!("skipping: {why}");
            return;
        } else {
            println!("note: {arch} not built; the line runs without it");
        }
    }
    // Namespaces: x0, the foreign ones, x1.
    let mut ns: Vec<Netns> = vec![Netns::new("x0").unwrap()];
    for (arch, _) in &nodes {
        ns.push(Netns::new(arch).unwrap());
    }
    ns.push(Netns::new("x1").unwrap());
    for i in 0..ns.len() - 1 {
        veth(&ns[i], "m1", &ns[i + 1], "m0", 1532).unwrap();
    }
    let logs: Vec<PathBuf> = ns.iter().map(|n| log_path(&n.name)).collect();
    let state = std::env::temp_dir().join(format!("meshd-mixed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let state_of = |n: &Netns| state.join(&n.name).to_str().unwrap().to_string();
    let mut procs: Vec<Proc> = Vec::new();
    let s0 = state_of(&ns[0]);
    procs.push(spawn_meshd(
        &ns[0],
        &["daemon", "-i", "m1", "-t", "bat0", "--state-dir", &s0],
        &logs[0],
    ));
    for (k, (arch, qemu)) in nodes.iter().enumerate() {
        let n = &ns[k + 1];
        let bin = cross_bin(arch);
        let sock = common::sock_of(n);
        let st = state_of(n);
        let args = [
            bin.to_str().unwrap(),
            "daemon",
            "-i",
            "m0",
            "-i",
            "m1",
            "-s",
            &sock,
            "--state-dir",
            &st,
        ];
        procs.push(n.spawn(qemu, &args, &logs[k + 1]).expect("qemu starts"));
    }
    let last = ns.len() - 1;
    let sl = state_of(&ns[last]);
    procs.push(spawn_meshd(
        &ns[last],
        &["daemon", "-i", "m0", "-t", "bat0", "--state-dir", &sl],
        &logs[last],
    ));
    for (n, k) in [(&ns[0], 1), (&ns[last], 2)] {
        let up = wait_for(Duration::from_secs(10), || {
            n.ip(&["link", "show", "bat0"]).is_ok()
        });
        assert!(up.is_some(), "no bat0 in {}", n.name);
        n.ip(&["addr", "add", &format!("10.95.0.{k}/24"), "dev", "bat0"])
            .unwrap();
        n.ip(&[
            "addr",
            "add",
            &format!("fd95::{k}/64"),
            "dev",
            "bat0",
            "nodad",
        ])
        .unwrap();
    }
    let all_logs = || {
        ns.iter()
            .zip(&logs)
            .map(|(n, l)| format!("--- {}\n{}", n.name, read(l)))
            .collect::<String>()
    };
    // Every node's originator (its first interface) is known at x0.
    let origs: Vec<String> = ns.iter().skip(1).map(|n| mac_of(n, "m0")).collect();
    let conv = wait_for(Duration::from_secs(60), || {
        let o = ctl(&ns[0], &["o"]).1;
        origs.iter().all(|m| o.contains(&format!(" * {m}")))
    });
    assert!(
        conv.is_some(),
        "x0 never learned every node:\n{}\n{}",
        ctl(&ns[0], &["o"]).1,
        all_logs()
    );
    let ping = |to: &str| {
        ns[0]
            .cmd("ping")
            .args(["-c", "1", "-W", "2", to])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let v4 = wait_for(Duration::from_secs(30), || ping("10.95.0.2"));
    assert!(
        v4.is_some(),
        "no IPv4 ping x0 -> x1 through {nodes:?}:\n{}",
        all_logs()
    );
    let v6 = wait_for(Duration::from_secs(30), || ping("fd95::2"));
    assert!(
        v6.is_some(),
        "no IPv6 ping x0 -> x1 through {nodes:?}:\n{}",
        all_logs()
    );
    // A foreign node's own meshctl (same foreign binary) reads its tables.
    let (arch, qemu) = nodes[1];
    let out = ns[2]
        .cmd(qemu)
        .args([
            cross_bin(arch).to_str().unwrap(),
            "ctl",
            "-s",
            &common::sock_of(&ns[2]),
            "o",
        ])
        .output()
        .unwrap();
    let o = String::from_utf8_lossy(&out.stdout);
    assert!(
        o.contains(&mac_of(&ns[last], "m0")),
        "{arch} meshctl o:\n{o}"
    );
    // The node layer: x0's directory holds every node's signed record,
    // and every node's mesh0 answers x0 end-to-end encrypted.
    let dir = wait_for(Duration::from_secs(30), || {
        ctl(&ns[0], &["-j", "dir"]).1.matches("\"node_id\"").count() == ns.len() - 1
    });
    assert!(
        dir.is_some(),
        "x0's directory:\n{}\n{}",
        ctl(&ns[0], &["dir"]).1,
        all_logs()
    );
    for n in &ns[1..] {
        let id = ctl(n, &["-j", "id"]).1;
        let addr = id
            .split("\"address\":\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_string();
        assert!(!addr.is_empty(), "{}: meshctl id: {id}", n.name);
        let ok = wait_for(Duration::from_secs(20), || ping(&addr));
        assert!(
            ok.is_some(),
            "x0 cannot reach {} at {addr} over mesh0:\n{}\n{}",
            n.name,
            ctl(&ns[0], &["s"]).1,
            all_logs()
        );
    }
    let _ = std::fs::remove_dir_all(&state);
    println!(
        "line x86_64 - {} - x86_64: all originators after {conv:?}, IPv4 ping {v4:?} later, IPv6 {v6:?} later",
        nodes.iter().map(|n| n.0).collect::<Vec<_>>().join(" - ")
    );
    drop(procs);
    for l in &logs {
        let _ = std::fs::remove_file(l);
    }
}
