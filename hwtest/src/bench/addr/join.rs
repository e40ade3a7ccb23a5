//! The node-layer line r0..r3 with LAN clients c0..c3, and the join of a
//! new router r4 (fresh namespaces, so new MACs; a fresh state dir, so new
//! keys) with its client c4 at the end of it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::topo::{
    client, field, lease, line_ifaces, link_line, node_args, now, other, ping, sh, sh_ok, sleep,
    tail, Router, MESH_MTU,
};
use crate::netns::{veth, wait_for, Netns, Proc};

/// Routers in the settled line (r4 joins at its end).
pub const LINE: usize = 4;

/// r4 and c4. Fields drop in order: c4's script, r4's meshd and
/// namespace, c4's namespace.
pub struct Joiner {
    _script: Option<Proc>,
    pub router: Router,
    pub client: Netns,
}

/// The line and, after a join, the router that joined.
pub struct NodeLine {
    pub r4: Option<Joiner>,
    pub routers: Vec<Router>,
    pub clients: Vec<Netns>,
    /// The clients' leased IPv4 addresses.
    pub addrs: Vec<String>,
    work: PathBuf,
    meshd: PathBuf,
    udhcpc: PathBuf,
}

/// Seconds from r4's meshd start to each event of one join.
#[derive(Debug, Clone, Copy, Default)]
pub struct JoinSample {
    pub dir_r4: f64,
    pub r0_has_r4: f64,
    pub lease: f64,
    pub ping: f64,
    /// r4's end-to-end handshake retries (`e2e_handshake_retries`) by then.
    pub hs_retries: f64,
}

impl NodeLine {
    /// Build r0..r3 and c0..c3, start meshd with the node layer, wait
    /// for complete directories, leases and a c0 -> c3 ping.
    pub fn build(meshd: &Path, work: &Path, udhcpc: &Path, timeout: f64) -> io::Result<NodeLine> {
        let mut routers = Vec::new();
        for i in 0..LINE {
            routers.push(Router::new(&format!("r{i}"), meshd, work)?);
        }
        link_line(&routers)?;
        let mut clients = Vec::new();
        for (i, r) in routers.iter().enumerate() {
            clients.push(client(&format!("c{i}"), r)?);
        }
        for (i, r) in routers.iter_mut().enumerate() {
            let mut a = vec!["daemon".to_string()];
            a.extend(line_ifaces(i, LINE, true));
            a.extend(node_args(
                &work.join(format!("state-r{i}")),
                &format!("r{i}"),
            ));
            r.start(&a)?;
        }
        let mut line = NodeLine {
            r4: None,
            routers,
            clients,
            addrs: Vec::new(),
            work: work.to_path_buf(),
            meshd: meshd.to_path_buf(),
            udhcpc: udhcpc.to_path_buf(),
        };
        for r in line.routers.iter_mut() {
            r.wait_dir(LINE - 1, timeout)?;
        }
        for c in &line.clients {
            let a = lease(c, udhcpc, timeout)?;
            line.addrs.push(a);
        }
        let (c0, to) = (&line.clients[0], &line.addrs[LINE - 1]);
        wait_for(Duration::from_secs_f64(timeout), || ping(c0, to))
            .ok_or_else(|| other(format!("c0 cannot ping c3 ({to}) over mesh0")))?;
        Ok(line)
    }

    /// One join of a new router: new r4 and c4 namespaces (new MACs) at
    /// the end of the line, the previous ones removed first.
    pub fn join(&mut self, k: usize, timeout: f64) -> io::Result<JoinSample> {
        self.r4 = None;
        let r3 = &self.routers[LINE - 1];
        // r3 notices the old link gone before the new one comes.
        wait_for(Duration::from_secs(5), || !r3.iface_active("m1"));
        let router = Router::new(&format!("j{k}r4"), &self.meshd, &self.work)?;
        veth(&r3.ns, "m1", &router.ns, "m0", MESH_MTU)?;
        let client = client(&format!("j{k}c4"), &router)?;
        if !r3.wait_iface("m1", 10.0) {
            return Err(other("r3 did not open its new m1 within 10 s"));
        }
        let j = Joiner {
            _script: None,
            router,
            client,
        };
        self.watch(j, &format!("j{k}"), timeout)
    }

    /// One join of the same router re-keyed (a reflash): r4's meshd
    /// stopped, its and c4's addresses flushed, started again with a
    /// fresh state dir in the same namespaces (same MACs).
    pub fn rekey(&mut self, k: usize, timeout: f64) -> io::Result<JoinSample> {
        let mut j = self.r4.take().ok_or_else(|| other("no r4 to re-key"))?;
        j._script = None;
        j.router.stop();
        // What a reboot clears: the run directory (tmpfs on OpenWrt), the
        // addresses.
        let _ = std::fs::remove_dir_all(j.router.run_dir());
        sh_ok(&j.router.ns, "ip addr flush dev lan0")?;
        sh_ok(&j.client, "ip addr flush dev eth0")?;
        self.watch(j, &format!("k{k}"), timeout)
    }

    /// Start r4's meshd with a fresh state dir at t = 0 while c4 runs
    /// udhcpc in a loop and then pings c0 every 50 ms (-W 0.2); poll the
    /// directories every 50 ms. r4 stays attached afterwards.
    fn watch(&mut self, mut j: Joiner, tag: &str, timeout: f64) -> io::Result<JoinSample> {
        let file = |s: &str| self.work.join(format!("{tag}-{s}"));
        let (lease_stamp, ping_stamp) = (file("lease.stamp"), file("ping.stamp"));
        let script = format!(
            "export HWTEST_LEASE_STAMP={lease}\n\
             until busybox udhcpc -i eth0 -n -q -f -t 1 -T 1 -s {u} >/dev/null 2>&1; do sleep 0.05; done\n\
             until ping -n -c 1 -W 0.2 {c0} >/dev/null 2>&1; do sleep 0.05; done\n\
             date +%s.%N > {ping}\n",
            lease = lease_stamp.display(),
            u = self.udhcpc.display(),
            c0 = self.addrs[0],
            ping = ping_stamp.display()
        );
        let mut args = vec!["daemon".to_string()];
        args.extend(line_ifaces(1, 2, false));
        args.extend(node_args(&file("state"), "r4"));
        let t0 = now();
        j.router.start(&args)?;
        j._script = Some(j.client.spawn("sh", &["-c", &script], &file("c4.log"))?);
        let stamp = |p: &Path| -> Option<f64> {
            let s = std::fs::read_to_string(p).ok()?;
            s.trim().parse::<f64>().ok().map(|t| t - t0)
        };
        let (mut dir, mut r0, mut ls, mut pg) = (None, None, None, None);
        let mut id = String::new();
        let mut died = None;
        while now() - t0 < timeout {
            let t = now() - t0;
            if dir.is_none() && j.router.dir_count() >= LINE {
                dir = Some(t);
            }
            if id.is_empty() {
                id = j
                    .router
                    .ctl("id")
                    .map_or(String::new(), |a| field(&a, "node_id"));
            }
            if r0.is_none()
                && !id.is_empty()
                && self.routers[0].ctl("dir").is_some_and(|d| d.contains(&id))
            {
                r0 = Some(t);
            }
            ls = ls.or_else(|| stamp(&lease_stamp));
            pg = pg.or_else(|| stamp(&ping_stamp));
            died = j.router.exited();
            if died.is_some() || (dir.is_some() && r0.is_some() && pg.is_some()) {
                break;
            }
            sleep(0.05);
        }
        let out = match (dir, r0, ls, pg, died) {
            (Some(dir_r4), Some(r0_has_r4), Some(lease), Some(ping), None) => Ok(JoinSample {
                dir_r4,
                r0_has_r4,
                lease,
                ping,
                hs_retries: j
                    .router
                    .counter("e2e_handshake_retries")
                    .unwrap_or(f64::NAN),
            }),
            (.., Some(e)) => Err(other(e)),
            _ => Err(other(format!(
                "no complete join within {timeout} s: r4 directory {dir:?}, r0 has r4 {r0:?}, \
                 lease {ls:?}, ping {pg:?}; r4 log: {}; c4: {}",
                tail(&j.router.log, 300),
                sh(&j.client, "ip -4 -o addr; ip -4 route")
                    .1
                    .replace('\n', " | ")
            ))),
        };
        self.r4 = Some(j);
        out
    }

    /// The routers' mesh interfaces (r4's too once it joined), for the
    /// overhead counters.
    pub fn mesh_ifaces(&self) -> Vec<(&Netns, Vec<&'static str>)> {
        let grown = self.r4.is_some();
        let mut v: Vec<(&Netns, Vec<&'static str>)> = self
            .routers
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let ifs = match i {
                    0 => vec!["m1"],
                    i if i + 1 == LINE && !grown => vec!["m0"],
                    _ => vec!["m0", "m1"],
                };
                (&r.ns, ifs)
            })
            .collect();
        if let Some(j) = &self.r4 {
            v.push((&j.router.ns, vec!["m0"]));
        }
        v
    }

    /// meshd's pids on r0..r3 (the mesh0 throughput path).
    pub fn pids(&self) -> Vec<u32> {
        self.routers.iter().filter_map(Router::pid).collect()
    }

    /// Is any router's meshd gone? Which, and why.
    pub fn check(&mut self) -> Option<String> {
        self.routers.iter_mut().find_map(Router::exited)
    }
}
