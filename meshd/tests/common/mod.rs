//! Helpers shared by meshd's namespace tests: start a daemon with its own
//! control socket and log, ask it with meshctl, read its log.
#![allow(dead_code)] // each test binary uses a different subset

use hwtest::netns::{Netns, Proc};
use std::path::{Path, PathBuf};

pub const MESHD: &str = env!("CARGO_BIN_EXE_meshd");

/// The control socket of the meshd in `ns` (namespaces share the
/// filesystem, so the default /var/run/meshd.sock would collide).
pub fn sock_of(ns: &Netns) -> String {
    std::env::temp_dir()
        .join(format!("{}.sock", ns.name))
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// A log file for `name`, unique to this test process.
pub fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("meshd-test-{}-{name}.log", std::process::id()))
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Start meshd in `ns` with `args` plus its own control socket.
pub fn spawn_meshd(ns: &Netns, args: &[&str], log: &Path) -> Proc {
    let sock = sock_of(ns);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-s", sock.as_str()]);
    ns.spawn(MESHD, &all, log).expect("meshd starts")
}

/// `meshctl ARGS` against the meshd of `ns`: (success, stdout + stderr).
pub fn ctl(ns: &Netns, args: &[&str]) -> (bool, String) {
    let out = ns
        .cmd(MESHD)
        .arg("ctl")
        .args(["-s", &sock_of(ns)])
        .args(args)
        .output()
        .expect("meshctl runs");
    let mut s = String::from_utf8_lossy(&out.stdout).to_string();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// The MAC of `iface` in `ns`.
pub fn mac_of(ns: &Netns, iface: &str) -> String {
    let out = ns.ip(&["-br", "link", "show", iface]).expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

/// A counter of `meshctl s` on the meshd in `ns`.
pub fn counter(ns: &Netns, name: &str) -> u64 {
    ctl(ns, &["s"])
        .1
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{name}: "))
                .map(str::to_string)
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no counter {name}"))
}

/// Is `prog` installed (on PATH)?
pub fn have(prog: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `sh -c CMD` in `ns`: (success, stdout + stderr).
pub fn sh(ns: &Netns, cmd: &str) -> (bool, String) {
    let o = ns.cmd("sh").args(["-c", cmd]).output().expect("sh runs");
    let mut s = String::from_utf8_lossy(&o.stdout).to_string();
    s.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), s)
}

/// Are the programs a test needs installed? Outside CI a missing one skips
/// the test, saying so; in CI (which installs them all) it is a failure.
pub fn require_tools(test: &str, progs: &[&str]) -> bool {
    for p in progs {
        if !have(p) {
            assert!(
                std::env::var_os("CI").is_none(),
                "{p} missing (CI installs it)"
            );
            eprintln!("skipped {test}: {p} not installed");
            return false;
        }
    }
    true
}
