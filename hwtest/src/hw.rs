//! `hwtest hw`: real routers. Given a hosts file (one router per line: its
//! SSH destination and its OpenWrt architecture), it copies the matching
//! `.ipk` from `openwrt/out/` to each router, installs it with opkg,
//! restarts meshd, waits until every router knows every other one, and
//! prints each router's `meshctl o` and a ping matrix over `bat0`
//! (IPv6 link-local, so no addresses need configuring).
//!
//! ```text
//! # hosts file: ssh-destination  openwrt-arch
//! root@192.168.1.1   mipsel_24kc
//! root@router-b      aarch64_cortex-a53
//! ```
//!
//! With no hosts file it says so and exits 0: nothing here runs unless a
//! user points it at routers they own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Default hosts file (relative to the working directory).
pub const DEFAULT_HOSTS: &str = "hwtest/hosts";
/// How long to wait for the mesh to form after the installs.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(90);
/// Seconds an SSH connection may take to open.
const SSH_CONNECT_TIMEOUT_S: u32 = 5;

/// The OpenWrt architectures `openwrt/build-ipk` packages.
pub const ARCHES: [&str; 5] = [
    "x86_64",
    "aarch64_cortex-a53",
    "arm_cortex-a7_neon-vfpv4",
    "mipsel_24kc",
    "mips_24kc",
];

/// One router of the hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub ssh: String,
    pub arch: String,
    /// Line in the hosts file (for messages).
    pub line: usize,
}

/// Parse a hosts file; errors name the file and line.
pub fn parse_hosts(text: &str, origin: &str) -> Result<Vec<Host>, String> {
    let mut out: Vec<Host> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let w: Vec<&str> = l.split_whitespace().collect();
        let [ssh, arch] = w[..] else {
            return Err(format!(
                "{origin}: line {}: want `ssh-destination openwrt-arch`, got {l:?}",
                i + 1
            ));
        };
        if !ARCHES.contains(&arch) {
            return Err(format!(
                "{origin}: line {}: unknown architecture {arch:?} (one of {})",
                i + 1,
                ARCHES.join(", ")
            ));
        }
        if ssh.starts_with('-') {
            return Err(format!(
                "{origin}: line {}: bad SSH destination {ssh:?}",
                i + 1
            ));
        }
        if let Some(h) = out.iter().find(|h| h.ssh == ssh) {
            return Err(format!(
                "{origin}: line {}: {ssh} is already on line {}",
                i + 1,
                h.line
            ));
        }
        out.push(Host {
            ssh: ssh.to_string(),
            arch: arch.to_string(),
            line: i + 1,
        });
    }
    Ok(out)
}

/// The package for `arch` in `dir` (`meshd_<version>_<arch>.ipk`).
pub fn find_ipk(dir: &Path, arch: &str) -> Option<PathBuf> {
    let suffix = format!("_{arch}.ipk");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("meshd_") && n.ends_with(&suffix))
        })
        .collect();
    found.sort();
    found.pop()
}

/// The ping matrix: rows ping columns; `.` for oneself.
pub fn matrix(names: &[String], ok: &dyn Fn(usize, usize) -> bool) -> String {
    let w = names.iter().map(String::len).max().unwrap_or(0).max(7);
    let mut s = format!("{:w$}", "from\\to");
    for (j, _) in names.iter().enumerate() {
        s.push_str(&format!(" {j:>3}"));
    }
    s.push('\n');
    for (i, n) in names.iter().enumerate() {
        s.push_str(&format!("{n:w$}"));
        for j in 0..names.len() {
            let c = if i == j {
                "."
            } else if ok(i, j) {
                "ok"
            } else {
                "--"
            };
            s.push_str(&format!(" {c:>3}"));
        }
        s.push_str(&format!("   ({i})\n"));
    }
    s
}

fn ssh(host: &str, cmd: &str) -> Result<String, String> {
    let out = Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            &format!("ConnectTimeout={SSH_CONNECT_TIMEOUT_S}"),
            host,
            cmd,
        ])
        .output()
        .map_err(|e| format!("ssh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(format!(
            "{host}: `{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Options of `hwtest hw`.
#[derive(Debug, Clone)]
pub struct Options {
    pub hosts: PathBuf,
    pub ipk_dir: PathBuf,
    pub wait: Duration,
}

/// Run it: `Ok(report)`, or the first thing that went wrong.
pub fn run(o: &Options) -> Result<String, String> {
    let Ok(text) = std::fs::read_to_string(&o.hosts) else {
        return Ok(format!(
            "hwtest hw: no hosts file at {} (one router per line: `ssh-destination openwrt-arch`); nothing to do\n",
            o.hosts.display()
        ));
    };
    let hosts = parse_hosts(&text, &o.hosts.display().to_string())?;
    if hosts.is_empty() {
        return Ok(format!(
            "hwtest hw: {} lists no routers; nothing to do\n",
            o.hosts.display()
        ));
    }
    let mut report = String::new();
    for h in &hosts {
        let ipk = find_ipk(&o.ipk_dir, &h.arch).ok_or(format!(
            "no meshd_*_{}.ipk in {} (build with cross/build, then openwrt/build-ipk)",
            h.arch,
            o.ipk_dir.display()
        ))?;
        let name = ipk
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("meshd.ipk");
        eprintln!("hwtest hw: {} <- {}", h.ssh, ipk.display());
        let st = Command::new("scp")
            .args(["-q", "-o", "BatchMode=yes"])
            .arg(&ipk)
            .arg(format!("{}:/tmp/{name}", h.ssh))
            .status()
            .map_err(|e| format!("scp: {e}"))?;
        if !st.success() {
            return Err(format!("{}: copying {name} failed", h.ssh));
        }
        ssh(
            &h.ssh,
            &format!("opkg install --force-reinstall /tmp/{name} && rm -f /tmp/{name} && /etc/init.d/meshd restart"),
        )?;
    }
    // Each router's originator address is its first mesh interface's MAC.
    let t0 = Instant::now();
    let mut tables: Vec<String> = vec![String::new(); hosts.len()];
    loop {
        for (i, h) in hosts.iter().enumerate() {
            tables[i] = ssh(&h.ssh, "meshctl o").unwrap_or_default();
        }
        let known = |t: &String| {
            t.lines()
                .filter(|l| l.trim_start().starts_with('*'))
                .count()
        };
        if tables.iter().all(|t| known(t) + 1 >= hosts.len()) {
            report.push_str(&format!(
                "mesh formed {:.1} s after the installs\n",
                t0.elapsed().as_secs_f64()
            ));
            break;
        }
        if t0.elapsed() > o.wait {
            report.push_str(&format!(
                "mesh NOT complete after {} s: some routers miss others\n",
                o.wait.as_secs()
            ));
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    for (h, t) in hosts.iter().zip(&tables) {
        report.push_str(&format!("\n== {} ({}) meshctl o\n{t}", h.ssh, h.arch));
    }
    let ll: Vec<Option<String>> = hosts
        .iter()
        .map(|h| {
            let out = ssh(&h.ssh, "ip -6 addr show dev bat0 scope link").ok()?;
            out.split_whitespace()
                .skip_while(|w| *w != "inet6")
                .nth(1)
                .and_then(|a| a.split('/').next())
                .map(str::to_string)
        })
        .collect();
    let names: Vec<String> = hosts.iter().map(|h| h.ssh.clone()).collect();
    let ping = |i: usize, j: usize| {
        ll[j]
            .as_ref()
            .is_some_and(|a| ssh(&hosts[i].ssh, &format!("ping -6 -c 1 -W 2 {a}%bat0")).is_ok())
    };
    report.push_str("\n== ping over bat0 (IPv6 link-local)\n");
    report.push_str(&matrix(&names, &ping));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_lines_and_errors() {
        let h = parse_hosts(
            "# routers\nroot@10.0.0.1 mipsel_24kc\n\n  root@b  aarch64_cortex-a53 # upstairs\n",
            "hosts",
        )
        .unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(
            (h[1].ssh.as_str(), h[1].arch.as_str(), h[1].line),
            ("root@b", "aarch64_cortex-a53", 4)
        );
        let e = parse_hosts("root@a\n", "hosts").unwrap_err();
        assert!(e.starts_with("hosts: line 1:"), "{e}");
        let e = parse_hosts("root@a ppc\n", "hosts").unwrap_err();
        assert!(e.contains("unknown architecture"), "{e}");
        let e = parse_hosts("a x86_64\na x86_64\n", "hosts").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("already on line 1"),
            "{e}"
        );
        let e = parse_hosts("-oProxyCommand=x x86_64\n", "hosts").unwrap_err();
        assert!(e.contains("bad SSH destination"), "{e}");
    }

    #[test]
    fn no_hosts_file_is_not_an_error() {
        let o = Options {
            hosts: PathBuf::from("/nonexistent/hosts"),
            ipk_dir: PathBuf::from("/nonexistent"),
            wait: DEFAULT_WAIT,
        };
        let r = run(&o).unwrap();
        assert!(
            r.contains("no hosts file") && r.contains("nothing to do"),
            "{r}"
        );
    }

    #[test]
    fn finds_the_package_of_an_arch_and_draws_the_matrix() {
        let d = std::env::temp_dir().join(format!("hwtest-hw-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        for n in [
            "meshd_0.1.0-1_mipsel_24kc.ipk",
            "meshd_0.1.0-1_mips_24kc.ipk",
            "other_1_mipsel_24kc.ipk",
        ] {
            std::fs::write(d.join(n), b"").unwrap();
        }
        let p = find_ipk(&d, "mipsel_24kc").unwrap();
        assert!(p.ends_with("meshd_0.1.0-1_mipsel_24kc.ipk"), "{p:?}");
        assert!(find_ipk(&d, "x86_64").is_none());
        std::fs::remove_dir_all(&d).unwrap();
        let m = matrix(&["a".into(), "b".into()], &|i, _| i == 0);
        let rows: Vec<Vec<&str>> = m.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["from\\to", "0", "1"], "{m}");
        assert_eq!(rows[1], ["a", ".", "ok", "(0)"], "{m}");
        assert_eq!(rows[2], ["b", "--", ".", "(1)"], "{m}");
    }
}
