//! The ring of `--part netns`: seven routers as in meshd/tests/onion.rs,
//! built from `bench addr`'s routers and clients.
//!
//! ```text
//!            cA (eth0: SLAAC)                cB (eth0: SLAAC)
//!            |lan0                           |lan0
//!            r0 --- r1 --- r2 --- r3 --------+      meshd -i m0 -i m1 --log debug
//!            |                     |                 --state-dir --name rI
//!            r6 ------ r5 ------ r4                  (--lan lan0 on r0 and r3)
//! ```
//!
//! r0 -> r3 is 3 batman hops (via r1, r2). r0's circuits to r3 may use r1,
//! r2, r4, r5, r6 as relays, at most one of its neighbours r1, r6, so three
//! relays are always possible. Mesh veths have `bench addr`'s MTU.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bench::addr::topo::{client, field, link_line, other, sh, sleep, Router, MESH_MTU};
use crate::netns::{veth, wait_for, Netns};

/// Routers in the ring.
pub const N: usize = 7;
/// The client's router and the destination's.
pub const A: usize = 0;
pub const B: usize = 3;

/// How r0 (or every router) sends to fd00::/8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Onion circuits of this many relays (`--relays`; the others keep the
    /// default of 3).
    Circuit(usize),
    /// `--anonymous none` on every router: mesh0's end-to-end session.
    Direct,
}

impl Mode {
    pub fn label(self) -> String {
        match self {
            Mode::Circuit(n) => format!("circuit, {n} relay{}", if n == 1 { "" } else { "s" }),
            Mode::Direct => "direct mesh0 (--anonymous none)".into(),
        }
    }
}

/// The ring, its two clients and what the bench needs to know of them.
/// Fields drop in order: meshd (and its dnsmasq) before the namespaces.
pub struct Ring {
    pub routers: Vec<Router>,
    pub ca: Netns,
    pub cb: Netns,
    /// Each router's state directory (its keys: the same over restarts).
    state: Vec<PathBuf>,
    /// Each router's short name (8 characters of its key name), as
    /// `meshctl circuits` names hops.
    pub shorts: Vec<String>,
    /// cB's SLAAC address in r3's LAN /64.
    pub b_addr: String,
    /// The mode every router now runs in (r0's, for a circuit mode).
    pub mode: Mode,
    /// Seconds from the last restart until the restarted routers'
    /// directories were complete.
    pub restart_s: f64,
}

impl Ring {
    /// Build the ring, start every meshd with the default policy, wait for
    /// complete directories and the clients' SLAAC addresses.
    pub fn build(meshd: &Path, work: &Path, timeout: f64) -> io::Result<Ring> {
        let mut routers = Vec::new();
        for i in 0..N {
            routers.push(Router::new(&format!("o{i}"), meshd, work)?);
        }
        link_line(&routers)?;
        veth(&routers[N - 1].ns, "m1", &routers[0].ns, "m0", MESH_MTU)?;
        let ca = client("ca", &routers[A])?;
        let cb = client("cb", &routers[B])?;
        for c in [&ca, &cb] {
            let (ok, out) = sh(
                c,
                "sysctl -qw net.ipv6.conf.eth0.accept_ra=2 net.ipv6.conf.eth0.autoconf=1",
            );
            if !ok {
                return Err(other(format!("{}: sysctl: {out}", c.name)));
            }
        }
        let state = (0..N).map(|i| work.join(format!("state-o{i}"))).collect();
        let mut ring = Ring {
            routers,
            ca,
            cb,
            state,
            shorts: Vec::new(),
            b_addr: String::new(),
            mode: Mode::Circuit(3),
            restart_s: 0.0,
        };
        for i in 0..N {
            ring.start(i, Mode::Circuit(3))?;
        }
        ring.wait_dirs(&(0..N).collect::<Vec<_>>(), timeout)?;
        for r in &ring.routers {
            let id = r.ctl("id").unwrap_or_default();
            ring.shorts
                .push(field(&id, "name").chars().take(8).collect());
        }
        slaac(&ring.ca, &ring.routers[A], timeout)?;
        ring.b_addr = slaac(&ring.cb, &ring.routers[B], timeout)?;
        Ok(ring)
    }

    /// meshd's arguments for router `i` in `mode`.
    fn args(&self, i: usize, mode: Mode) -> Vec<String> {
        let mut a: Vec<String> = ["daemon", "-i", "m0", "-i", "m1", "--log", "debug"]
            .map(String::from)
            .to_vec();
        a.extend([
            "--state-dir".to_string(),
            self.state[i].to_string_lossy().into_owned(),
            "--name".to_string(),
            format!("r{i}"),
        ]);
        if i == A || i == B {
            a.extend(["--lan".to_string(), "lan0".to_string()]);
        }
        match mode {
            Mode::Direct => a.extend(["--anonymous".to_string(), "none".to_string()]),
            Mode::Circuit(n) if i == A => a.extend(["--relays".to_string(), n.to_string()]),
            Mode::Circuit(_) => {}
        }
        a
    }

    fn start(&mut self, i: usize, mode: Mode) -> io::Result<()> {
        let a = self.args(i, mode);
        self.routers[i].start(&a)
    }

    /// Stop and start routers `which` in `mode` (same keys), then wait
    /// for their directories to be complete again.
    pub fn restart(&mut self, which: &[usize], mode: Mode, timeout: f64) -> io::Result<()> {
        for &i in which {
            self.routers[i].stop();
            // What a reboot clears (dnsmasq's files).
            let _ = std::fs::remove_dir_all(self.routers[i].run_dir());
        }
        let t = std::time::Instant::now();
        for &i in which {
            self.start(i, mode)?;
        }
        self.mode = mode;
        self.wait_dirs(which, timeout)?;
        self.restart_s = t.elapsed().as_secs_f64();
        Ok(())
    }

    /// Wait until routers `which` each have the six others in their
    /// directory.
    fn wait_dirs(&mut self, which: &[usize], timeout: f64) -> io::Result<()> {
        for &i in which {
            self.routers[i].wait_dir(N - 1, timeout)?;
        }
        Ok(())
    }

    /// Every router's meshd pid.
    pub fn pids(&self) -> Vec<u32> {
        self.routers.iter().filter_map(Router::pid).collect()
    }

    /// Has any meshd exited? Which and why.
    pub fn check(&mut self) -> Option<String> {
        self.routers.iter_mut().find_map(Router::exited)
    }

    /// The ring indices of the hops (relays, then the destination) of r0's
    /// ready circuit, if it has one.
    pub fn ready_hops(&self) -> Option<Vec<usize>> {
        let j = self.routers[A].ctl("circuits")?;
        let body = j.split("\"rows\":[").nth(1)?;
        let row = body
            .split("{\"dest\"")
            .skip(1)
            .find(|row| field(row, "state") == "ready")?;
        let hops = row.split("\"hops\":[").nth(1)?.split(']').next()?;
        hops.split(',')
            .map(|h| {
                let h = h.trim_matches('"');
                self.shorts.iter().position(|s| s == h)
            })
            .collect()
    }
}

/// Batman hops between ring routers `i` and `j` (the shorter way round).
pub fn ring_dist(i: usize, j: usize) -> usize {
    let d = i.abs_diff(j);
    d.min(N - d)
}

/// One-way batman hops of a circuit from r0 along `hops` (relays, then
/// the destination).
pub fn path_hops(hops: &[usize]) -> usize {
    let mut at = A;
    let mut sum = 0;
    for &h in hops {
        sum += ring_dist(at, h);
        at = h;
    }
    sum
}

/// The client's SLAAC address in `r`'s LAN /64 (waits up to `timeout`).
fn slaac(c: &Netns, r: &Router, timeout: f64) -> io::Result<String> {
    let id = r.ctl("id").unwrap_or_default();
    let lan = field(&id, "lan");
    let prefix = lan
        .trim_end_matches("/64")
        .trim_end_matches("::")
        .to_string();
    if prefix.is_empty() {
        return Err(other(format!("{}: no LAN prefix in {id}", r.ns.name)));
    }
    let mut got = String::new();
    let ok = wait_for(Duration::from_secs_f64(timeout), || {
        let (_, a) = sh(c, "ip -6 -o addr show dev eth0 scope global -tentative");
        got = a
            .split_whitespace()
            .find(|w| w.starts_with(&prefix))
            .map(|w| w.split('/').next().unwrap_or_default().to_string())
            .unwrap_or_default();
        !got.is_empty()
    });
    if ok.is_none() {
        return Err(other(format!(
            "{}: no SLAAC address in {prefix}::/64 after {timeout} s",
            c.name
        )));
    }
    // The default route from the router's RA, too.
    wait_for(Duration::from_secs(10), || {
        sh(c, "ip -6 route show default").1.contains("default")
    });
    sleep(0.2);
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_distances() {
        assert_eq!(ring_dist(0, 3), 3);
        assert_eq!(ring_dist(0, 4), 3);
        assert_eq!(ring_dist(6, 0), 1);
        // r0 -> r5 -> r2 -> r3: 2 + 3 + 1.
        assert_eq!(path_hops(&[5, 2, 3]), 6);
        assert_eq!(path_hops(&[3]), 3);
        assert_eq!(Mode::Circuit(1).label(), "circuit, 1 relay");
    }
}
