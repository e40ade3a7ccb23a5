//! The 3x3 grid of namespaces for `bench netns`, one routing daemon per
//! node, and the measurements made on it (docs/anchors.md's method).
//!
//! ```text
//!   n00 -- n01 -- n02      12 veth pairs, MTU 1532 (bat0 keeps 1500); the
//!    |      |      |       end in nRC towards nXY is toXY. babeld/batmand:
//!   n10 -- n11 -- n12      link k (anchors order) has 10.100.k.0/24, lo has
//!    |      |      |       10.255.0.<RC>/32. meshd: bat0 has 10.99.0.<3R+C+1>/24
//!   n20 -- n21 -- n22      and fd99::<3R+C+1>/64, the veths no address.
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::netns::{veth, wait_for, Netns, Proc};

use super::parse;

/// The nodes, row by row.
pub const NODES: [&str; 9] = ["00", "01", "02", "10", "11", "12", "20", "21", "22"];
/// The links in the anchors' order (link k = index + 1).
pub const LINKS: [(&str, &str); 12] = [
    ("00", "01"),
    ("01", "02"),
    ("10", "11"),
    ("11", "12"),
    ("20", "21"),
    ("21", "22"),
    ("00", "10"),
    ("10", "20"),
    ("01", "11"),
    ("11", "21"),
    ("02", "12"),
    ("12", "22"),
];
const MTU: u16 = 1532;

/// Which routing daemon runs on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Meshd,
    Babeld,
    Batmand,
}

impl Daemon {
    pub const ALL: [Daemon; 3] = [Daemon::Meshd, Daemon::Babeld, Daemon::Batmand];

    pub fn name(self) -> &'static str {
        match self {
            Daemon::Meshd => "meshd",
            Daemon::Babeld => "babeld",
            Daemon::Batmand => "batmand",
        }
    }

    pub fn parse(s: &str) -> Option<Daemon> {
        Daemon::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// How a link is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The downstream veth end is set down (carrier loss, netlink event).
    Down,
    /// nftables netdev ingress drop on both ends; carrier stays up.
    Silent,
}

/// Programs the bench runs, as absolute paths.
#[derive(Debug, Clone)]
pub struct Tools {
    pub meshd: PathBuf,
    pub babeld: PathBuf,
    pub batmand: PathBuf,
    pub ping: PathBuf,
    pub iperf3: PathBuf,
    pub nft: PathBuf,
}

/// Wall clock, seconds since the epoch (ping -D's clock).
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn sleep(secs: f64) {
    std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
}

/// `nRC` -> its number 3R+C+1 (bat0 addresses).
fn seq(id: &str) -> usize {
    NODES.iter().position(|n| *n == id).expect("a grid node") + 1
}

/// `nRC` -> the decimal RC (10.255.0.<RC>, as the anchors number nodes).
fn rc(id: &str) -> u32 {
    id.parse().expect("a grid node")
}

fn other_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// One grid with a daemon on every node. Dropping it stops the daemons
/// (SIGTERM, then SIGKILL) and deletes the namespaces.
pub struct Grid {
    /// Daemons: dropped before the namespaces they live in.
    procs: Vec<Proc>,
    ns: Vec<Netns>,
    pub daemon: Daemon,
    tools: Tools,
    /// Prefix of this grid's files (logs, sockets, ping output).
    files: PathBuf,
}

impl Grid {
    /// Build the namespaces and links (no daemons yet). `tag` names the
    /// files under `work`.
    pub fn build(daemon: Daemon, tools: &Tools, work: &Path, tag: &str) -> io::Result<Grid> {
        let short = &daemon.name()[..2];
        let mut ns = Vec::new();
        for id in NODES {
            let n = Netns::new(&format!("{short}{id}"))?;
            sysctl(
                &n,
                &[
                    "net.ipv4.ip_forward=1",
                    "net.ipv6.conf.all.forwarding=1",
                    "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.all.accept_dad=0",
                ],
            )?;
            if daemon != Daemon::Meshd {
                n.ip(&[
                    "addr",
                    "add",
                    &format!("10.255.0.{}/32", rc(id)),
                    "dev",
                    "lo",
                ])?;
            }
            ns.push(n);
        }
        let g = Grid {
            procs: Vec::new(),
            ns,
            daemon,
            tools: tools.clone(),
            files: work.join(tag),
        };
        for (k, (a, b)) in LINKS.iter().enumerate() {
            veth(
                g.node(a),
                &format!("to{b}"),
                g.node(b),
                &format!("to{a}"),
                MTU,
            )?;
            if daemon != Daemon::Meshd {
                g.link_addrs(k + 1)?;
            }
        }
        sleep(1.0); // as the anchors' grid_up: carrier settles
        Ok(g)
    }

    pub fn node(&self, id: &str) -> &Netns {
        &self.ns[seq(id) - 1]
    }

    /// The veths of a node, sorted.
    pub fn ifaces(id: &str) -> Vec<String> {
        let mut v: Vec<String> = LINKS
            .iter()
            .filter_map(|&(a, b)| {
                (a == id)
                    .then(|| format!("to{b}"))
                    .or_else(|| (b == id).then(|| format!("to{a}")))
            })
            .collect();
        v.sort();
        v
    }

    /// 10.100.k.1/24 on the lower node's end of link k, .2 on the other.
    fn link_addrs(&self, k: usize) -> io::Result<()> {
        let (a, b) = LINKS[k - 1];
        for (me, peer, host) in [(a, b, 1), (b, a, 2)] {
            self.node(me).ip(&[
                "addr",
                "add",
                &format!("10.100.{k}.{host}/24"),
                "broadcast",
                &format!("10.100.{k}.255"),
                "dev",
                &format!("to{peer}"),
            ])?;
        }
        Ok(())
    }

    fn file(&self, what: &str) -> PathBuf {
        let mut s = self.files.clone().into_os_string();
        s.push(format!("-{what}"));
        PathBuf::from(s)
    }

    fn socket(&self, id: &str) -> PathBuf {
        self.file(&format!("n{id}.sock"))
    }

    /// Start the daemon on node `id`.
    fn spawn_daemon(&mut self, id: &str) -> io::Result<()> {
        let ifs = Grid::ifaces(id);
        let log = self.file(&format!("n{id}.log"));
        let t = &self.tools;
        let p = match self.daemon {
            Daemon::Meshd => {
                let sock = self.socket(id).to_string_lossy().into_owned();
                let mut args = vec!["daemon", "-t", "bat0", "-s", &sock];
                for i in &ifs {
                    args.extend(["-i", i.as_str()]);
                }
                self.node(id)
                    .spawn(&t.meshd.to_string_lossy(), &args, &log)?
            }
            // Both keep files in /run: each gets its own tmpfs there (ip
            // netns exec already gave it a mount namespace of its own).
            Daemon::Babeld | Daemon::Batmand => {
                let state = self.file(&format!("n{id}.babel-state"));
                let state = state.to_string_lossy().into_owned();
                let addr = format!("10.255.0.{}/32", rc(id));
                let mut args: Vec<String> = vec![
                    "-c".into(),
                    "mount -t tmpfs hwtest-bench /run && exec \"$@\"".into(),
                    "sh".into(),
                ];
                if self.daemon == Daemon::Babeld {
                    args.push(t.babeld.to_string_lossy().into_owned());
                    for a in [
                        "-I",
                        "",
                        "-S",
                        &state,
                        "-C",
                        "default type wired",
                        "-C",
                        "redistribute local ip 10.100.0.0/16 le 32 deny",
                    ] {
                        args.push(a.into());
                    }
                } else {
                    args.push(t.batmand.to_string_lossy().into_owned());
                    args.extend(["--no-detach".into(), "-a".into(), addr]);
                }
                args.extend(ifs.iter().cloned());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.node(id).spawn("sh", &args, &log)?
            }
        };
        self.procs.push(p);
        Ok(())
    }

    /// meshd: wait for node `id`'s bat0 and give it its addresses.
    fn bat0_addrs(&self, id: &str) -> io::Result<()> {
        let n = self.node(id);
        wait_for(Duration::from_secs(10), || {
            n.ip(&["link", "show", "bat0"]).is_ok()
        })
        .ok_or_else(|| other_err(format!("no bat0 in n{id} after 10 s (see its log)")))?;
        let s = seq(id);
        n.ip(&["addr", "add", &format!("10.99.0.{s}/24"), "dev", "bat0"])?;
        n.ip(&[
            "addr",
            "add",
            &format!("fd99::{s}/64"),
            "dev",
            "bat0",
            "nodad",
        ])?;
        Ok(())
    }

    /// meshd: a permanent neighbour entry in `from` for `to`'s bat0.
    fn static_neigh(&self, from: &str, to: &str) -> io::Result<()> {
        let o = self.node(to).ip(&["-br", "link", "show", "bat0"])?;
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let mac = text
            .split_whitespace()
            .nth(2)
            .ok_or_else(|| other_err(format!("no MAC for bat0 of n{to}: {text}")))?;
        let ip = format!("10.99.0.{}", seq(to));
        self.node(from).ip(&[
            "neigh",
            "replace",
            &ip,
            "lladdr",
            mac,
            "dev",
            "bat0",
            "nud",
            "permanent",
        ])?;
        Ok(())
    }

    /// The ping target for node `id` and the source address to ping from.
    fn target(&self, id: &str) -> (String, Option<String>) {
        match self.daemon {
            Daemon::Meshd => (format!("10.99.0.{}", seq(id)), None),
            _ => (
                format!("10.255.0.{}", rc(id)),
                Some("10.255.0.0".to_string()),
            ),
        }
    }

    /// n00 pings n22 every `interval` s (-D -O -W 1) into `out`.
    fn spawn_ping(&self, interval: &str, out: &Path) -> io::Result<Proc> {
        let (dst, src) = self.target("22");
        let mut args = vec!["-i", interval, "-D", "-O", "-W", "1"];
        if let Some(s) = &src {
            args.extend(["-I", s.as_str()]);
        }
        args.push(&dst);
        self.node("00")
            .spawn(&self.tools.ping.to_string_lossy(), &args, out)
    }

    /// Start all daemons while n00 pings n22 every 100 ms; seconds from
    /// the start of the daemons to the first reply, `None` after `timeout`.
    pub fn converge(&mut self, timeout: f64) -> io::Result<Option<f64>> {
        let out = self.file("conv-ping.txt");
        let t0;
        let pinger;
        if self.daemon == Daemon::Meshd {
            // bat0 exists only once meshd runs: n00 pings as soon as its
            // bat0 has an address.
            t0 = now();
            for id in NODES {
                self.spawn_daemon(id)?;
            }
            self.bat0_addrs("00")?;
            pinger = self.spawn_ping("0.1", &out)?;
            for id in &NODES[1..] {
                self.bat0_addrs(id)?;
            }
            // The ends know each other's bat0 MAC from the start, so the
            // figure is the mesh's convergence and not ARP's one-second
            // retry across it (babeld's and batmand's pings resolve only
            // the first hop, on a direct veth).
            self.static_neigh("00", "22")?;
            self.static_neigh("22", "00")?;
        } else {
            pinger = self.spawn_ping("0.1", &out)?;
            sleep(0.3);
            t0 = now();
            for id in NODES {
                self.spawn_daemon(id)?;
            }
        }
        let mut conv = None;
        while now() - t0 < timeout {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(r) = parse::first_reply_after(&parse::reply_stamps(&text), t0) {
                conv = Some(r - t0);
                break;
            }
            sleep(0.1);
        }
        drop(pinger);
        for p in &mut self.procs {
            if let Ok(Some(st)) = p.child.try_wait() {
                return Err(other_err(format!(
                    "a {} exited ({st}); logs: {}-n*.log",
                    self.daemon.name(),
                    self.files.display()
                )));
            }
        }
        Ok(conv)
    }

    /// Node ids from n00 to `dst` as the routing tables say now (kernel
    /// routes hop by hop, or each meshd's route to `dst`'s originator);
    /// stops at 8 hops or where a node has no route.
    pub fn path_to(&self, dst: &str) -> Vec<String> {
        let dst_macs = match self.daemon {
            Daemon::Meshd => self.macs(dst),
            _ => Vec::new(),
        };
        let dst_ip = format!("10.255.0.{}", rc(dst));
        let mut path = vec!["00".to_string()];
        while path.last().map(String::as_str) != Some(dst) && path.len() <= 8 {
            let at = path.last().expect("non-empty").clone();
            let dev = match self.daemon {
                Daemon::Meshd => self
                    .meshctl(&at, "o")
                    .and_then(|a| parse::ctl_route_iface(&a, &dst_macs)),
                _ => self
                    .node(&at)
                    .ip(&["route", "get", &dst_ip])
                    .ok()
                    .and_then(|o| parse::route_dev(&String::from_utf8_lossy(&o.stdout))),
            };
            match dev.as_deref().and_then(|d| d.strip_prefix("to")) {
                Some(next) if NODES.contains(&next) => path.push(next.to_string()),
                _ => break,
            }
        }
        path
    }

    /// A path to `dst` that gets there, retried for up to 3 s.
    pub fn full_path_to(&self, dst: &str) -> Result<Vec<String>, Vec<String>> {
        let mut p = Vec::new();
        for _ in 0..12 {
            p = self.path_to(dst);
            if p.last().map(String::as_str) == Some(dst) {
                return Ok(p);
            }
            sleep(0.25);
        }
        Err(p)
    }

    /// The MACs of a node's veths (lower case).
    fn macs(&self, id: &str) -> Vec<String> {
        let Ok(o) = self.node(id).ip(&["-br", "link", "show", "type", "veth"]) else {
            return Vec::new();
        };
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_ascii_lowercase))
            .collect()
    }

    /// `meshd ctl -s SOCK -j VERB` for node `id`.
    fn meshctl(&self, id: &str, verb: &str) -> Option<String> {
        let o = std::process::Command::new(&self.tools.meshd)
            .arg("ctl")
            .arg("-s")
            .arg(self.socket(id))
            .args(["-j", verb])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    fn nft(&self, id: &str, script: &str) -> io::Result<()> {
        let o = self
            .node(id)
            .cmd(&self.tools.nft.to_string_lossy())
            .arg(script)
            .output()?;
        if !o.status.success() {
            return Err(other_err(format!(
                "nft in n{id}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Cut link a-b (`b` is the downstream end).
    pub fn cut(&self, a: &str, b: &str, how: Cut) -> io::Result<()> {
        match how {
            Cut::Down => {
                self.node(b)
                    .ip(&["link", "set", &format!("to{a}"), "down"])?;
            }
            Cut::Silent => {
                for (me, peer) in [(b, a), (a, b)] {
                    self.nft(
                        me,
                        &format!(
                            "add table netdev hwtest_cut ; add chain netdev hwtest_cut c \
                             {{ type filter hook ingress device to{peer} priority -500 ; policy drop ; }}"
                        ),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// n00 pings n22 every 50 ms; after 3 s the second link of the forward
    /// path is cut; the longest hole between replies from 1 s before the
    /// cut until replies have flowed 2 s again (infinite if they have not
    /// after `timeout` s).
    pub fn reroute(&self, how: Cut, timeout: f64) -> io::Result<Reroute> {
        let out = self.file(match how {
            Cut::Down => "down-ping.txt",
            Cut::Silent => "silent-ping.txt",
        });
        let pinger = self.spawn_ping("0.05", &out)?;
        sleep(3.0);
        let path = self
            .full_path_to("22")
            .map_err(|p| other_err(format!("no full path n00 -> n22 before the cut: {p:?}")))?;
        let (a, b) = (path[1].clone(), path[2].clone());
        self.cut(&a, &b, how)?;
        let tcut = now();
        let mut gap = f64::INFINITY;
        while now() - tcut < timeout {
            sleep(0.25);
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(g) = parse::settled_gap(&parse::reply_stamps(&text), tcut) {
                gap = g;
                break;
            }
        }
        sleep(1.0);
        drop(pinger);
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let lost = parse::no_answer_stamps(&text)
            .iter()
            .filter(|&&s| s > tcut - 1.0)
            .count();
        Ok(Reroute {
            gap,
            lost,
            path,
            cut: (a, b),
            after: self.path_to("22"),
        })
    }

    /// (bytes, packets) sent so far on node `id`'s veths (L2, sysfs).
    pub fn tx_counters(&self, id: &str) -> io::Result<(u64, u64)> {
        let mut files = Vec::new();
        for i in Grid::ifaces(id) {
            for c in ["tx_bytes", "tx_packets"] {
                files.push(format!("/sys/class/net/{i}/statistics/{c}"));
            }
        }
        let o = self.node(id).cmd("cat").args(&files).output()?;
        let v: Vec<u64> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if v.len() != files.len() {
            return Err(other_err(format!("n{id}: could not read {files:?}")));
        }
        Ok((v.iter().step_by(2).sum(), v.iter().skip(1).step_by(2).sum()))
    }

    /// VmRSS (KiB) of every daemon process that is running the daemon
    /// itself (not still its start-up shell).
    pub fn rss_kib(&self) -> Vec<u64> {
        self.procs
            .iter()
            .filter_map(|p| {
                let st = std::fs::read_to_string(format!("/proc/{}/status", p.child.id())).ok()?;
                let name = st.lines().next()?.strip_prefix("Name:")?.trim().to_string();
                (name == self.daemon.name()).then(|| parse::vm_rss_kib(&st))?
            })
            .collect()
    }

    /// iperf3 TCP, one stream, `secs` s, from n00 to `server_ip` in n02:
    /// receiver bit/s and sender retransmits.
    pub fn iperf(&self, server_ip: &str, secs: u64, what: &str) -> io::Result<(f64, f64)> {
        let iperf3 = self.tools.iperf3.to_string_lossy().into_owned();
        let out = self.file(&format!("iperf-{what}.json"));
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let server = self.node("02").spawn(
                &iperf3,
                &["-s", "-1", "-B", server_ip],
                &self.file(&format!("iperf-{what}-server.log")),
            )?;
            sleep(0.7);
            let secs_s = secs.to_string();
            let mut client = self.node("00").spawn(
                &iperf3,
                &[
                    "-c",
                    server_ip,
                    "-t",
                    &secs_s,
                    "-J",
                    "--connect-timeout",
                    "3000",
                ],
                &out,
            )?;
            let deadline = Instant::now() + Duration::from_secs(secs + 20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = client.child.try_wait() {
                    break;
                }
                sleep(0.2);
            }
            let _ = client.child.kill();
            drop(client);
            drop(server);
            let j = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(bps) = parse::iperf_receiver_bps(&j) {
                return Ok((bps, parse::iperf_retransmits(&j).unwrap_or(f64::NAN)));
            }
            last_err = parse::iperf_error(&j).unwrap_or_else(|| "no result".into());
            sleep(1.0);
        }
        Err(other_err(format!(
            "iperf3 to {server_ip} ({what}): {last_err}"
        )))
    }

    /// Plain kernel forwarding n00 -> n01 -> n02 over the same veths:
    /// 10.100.1.0/24 and 10.100.2.0/24 on the two links, static routes.
    /// The server address.
    pub fn kernel_route_n00_n02(&self) -> io::Result<&'static str> {
        if self.daemon == Daemon::Meshd {
            self.link_addrs(1)?;
            self.link_addrs(2)?;
        }
        self.node("00")
            .ip(&["route", "replace", "10.100.2.0/24", "via", "10.100.1.2"])?;
        self.node("02")
            .ip(&["route", "replace", "10.100.1.0/24", "via", "10.100.2.1"])?;
        Ok("10.100.2.2")
    }

    /// n02's bat0 address (the meshd iperf target).
    pub fn bat0_ip(&self, id: &str) -> String {
        self.target(id).0
    }

    /// SIGTERM all daemons at once (their guards then reap them quickly).
    pub fn stop(&mut self) {
        for p in &self.procs {
            let _ = p.signal(15);
        }
        self.procs.clear();
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What one reroute measurement saw.
#[derive(Debug, Clone)]
pub struct Reroute {
    /// Seconds; infinite if the pings never came back.
    pub gap: f64,
    /// `no answer yet` lines from 1 s before the cut on.
    pub lost: usize,
    pub path: Vec<String>,
    pub cut: (String, String),
    pub after: Vec<String>,
}

fn sysctl(n: &Netns, kv: &[&str]) -> io::Result<()> {
    let o = n.cmd("sysctl").arg("-qw").args(kv).output()?;
    if !o.status.success() {
        return Err(other_err(format!(
            "sysctl in {}: {}",
            n.name,
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_layout() {
        assert_eq!(Grid::ifaces("11"), ["to01", "to10", "to12", "to21"]);
        assert_eq!(Grid::ifaces("00"), ["to01", "to10"]);
        assert_eq!((seq("00"), seq("22"), rc("22"), rc("01")), (1, 9, 22, 1));
        let degree: usize = NODES.iter().map(|n| Grid::ifaces(n).len()).sum();
        assert_eq!(degree, 2 * LINKS.len());
        assert_eq!(Daemon::parse("babeld"), Some(Daemon::Babeld));
        assert_eq!(Daemon::parse("olsrd"), None);
    }
}
