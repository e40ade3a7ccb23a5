//! The two reference paths for the mesh0 throughput, each on its own four
//! routers (same 3-hop line, same veth MTUs), and iperf3 between clients.
//!
//! ```text
//!   bat0 (plain L2):  bc0 -lan0- [b0 br0{lan0,bat0}] =m= b1 =m= b2 =m= [b3 br0] -lan0- bc3
//!                     (bc1, bc2 behind b1, b2 likewise)   clients 10.97.0.1-4/24, one subnet
//!   boringtun:        wc0 -lan0- [w0 wg0] =m= w1 =m= w2 =m= [w3 wg0] -lan0- wc3
//!                     10.95.0.2    bat0 10.98.0.1 ... 10.98.0.4      10.95.3.2
//!                     wg0 10.96.0.1/30 <-- UDP 51820 over bat0 --> 10.96.0.2/30
//! ```
//!
//! boringtun-cli runs in a shell that first mounts a tmpfs on /run (the
//! shell has its own mount namespace from `ip netns exec`), so both ends'
//! `/run/wireguard/wg0.sock` stay private and the host's /run is never
//! touched; `wg set` configures it from the same shell.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::topo::{client, line_ifaces, link_line, other, ping, sh, sh_ok, sleep, tail, Router};
use crate::netns::{wait_for, Netns, Proc};

const ROUTERS: usize = 4;

/// Four routers with `-t bat0`, each bridging its lan0 with bat0.
pub struct L2Set {
    pub routers: Vec<Router>,
    pub clients: Vec<Netns>,
}

impl L2Set {
    pub const SERVER: &'static str = "10.97.0.4";

    pub fn build(meshd: &Path, work: &Path, timeout: f64) -> io::Result<L2Set> {
        let mut routers = Vec::new();
        for i in 0..ROUTERS {
            routers.push(Router::new(&format!("b{i}"), meshd, work)?);
        }
        link_line(&routers)?;
        let mut clients = Vec::new();
        for (i, r) in routers.iter().enumerate() {
            clients.push(client(&format!("bc{i}"), r)?);
        }
        let set = L2Set { routers, clients };
        let mut set = set;
        for (i, r) in set.routers.iter_mut().enumerate() {
            let mut a = vec!["daemon".to_string()];
            a.extend(line_ifaces(i, ROUTERS, false));
            a.extend(["-t".to_string(), "bat0".to_string()]);
            r.start(&a)?;
        }
        for (i, r) in set.routers.iter().enumerate() {
            r.wait_bat0(None)?;
            sh_ok(
                &r.ns,
                "ip link add br0 type bridge && ip link set bat0 master br0 && \
                 ip link set lan0 master br0 && ip link set br0 up",
            )?;
            sh_ok(
                &set.clients[i],
                &format!("ip addr add 10.97.0.{}/24 dev eth0", i + 1),
            )?;
        }
        let c0 = &set.clients[0];
        wait_for(Duration::from_secs_f64(timeout), || ping(c0, Self::SERVER))
            .ok_or_else(|| other(format!("bc0 cannot ping bc3 over bat0 within {timeout} s")))?;
        Ok(set)
    }

    pub fn pids(&self) -> Vec<u32> {
        self.routers.iter().filter_map(Router::pid).collect()
    }
}

/// Four routers with `-t bat0` and addresses on it; a WireGuard tunnel
/// (boringtun) between the two ends, their LANs routed through it.
pub struct WgSet {
    /// The shells running boringtun-cli (dropped first: SIGTERM, which
    /// they pass on to boringtun).
    pub bt: Vec<Proc>,
    pub bt_pids: Vec<u32>,
    pub routers: Vec<Router>,
    /// wc0 (behind w0) and wc3 (behind w3).
    pub clients: Vec<Netns>,
}

impl Drop for WgSet {
    fn drop(&mut self) {
        for p in &self.bt_pids {
            let _ = Command::new("kill")
                .arg(p.to_string())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `wg genkey` and `wg pubkey`: (private, public).
fn wg_keys(wg: &Path) -> io::Result<(String, String)> {
    let o = Command::new(wg).arg("genkey").output()?;
    let private = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let mut c = Command::new(wg)
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    c.stdin
        .take()
        .ok_or_else(|| other("no stdin"))?
        .write_all(private.as_bytes())?;
    let o = c.wait_with_output()?;
    let public = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if private.len() != 44 || public.len() != 44 {
        return Err(other("wg genkey / wg pubkey gave no keys"));
    }
    Ok((private, public))
}

impl WgSet {
    pub const SERVER: &'static str = "10.95.3.2";

    pub fn build(
        meshd: &Path,
        boringtun: &Path,
        wg: &Path,
        work: &Path,
        timeout: f64,
    ) -> io::Result<WgSet> {
        let mut set = WgSet {
            bt: Vec::new(),
            bt_pids: Vec::new(),
            routers: Vec::new(),
            clients: Vec::new(),
        };
        for i in 0..ROUTERS {
            set.routers
                .push(Router::new(&format!("w{i}"), meshd, work)?);
        }
        link_line(&set.routers)?;
        for (i, r) in set.routers.iter_mut().enumerate() {
            let mut a = vec!["daemon".to_string()];
            a.extend(line_ifaces(i, ROUTERS, false));
            a.extend(["-t".to_string(), "bat0".to_string()]);
            r.start(&a)?;
        }
        for (i, r) in set.routers.iter().enumerate() {
            r.wait_bat0(Some(&format!("10.98.0.{}/24", i + 1)))?;
        }
        let ends = [(0usize, 0u8, 3u8), (ROUTERS - 1, 3, 0)];
        for &(ri, net, _) in &ends {
            let r = &set.routers[ri];
            let c = client(&format!("wc{ri}"), r)?;
            sh_ok(&r.ns, &format!("ip addr add 10.95.{net}.1/24 dev lan0"))?;
            sh_ok(
                &c,
                &format!(
                    "ip addr add 10.95.{net}.2/24 dev eth0 && \
                     ip route add default via 10.95.{net}.1"
                ),
            )?;
            set.clients.push(c);
        }
        let w0 = &set.routers[0];
        wait_for(Duration::from_secs_f64(timeout), || {
            ping(&w0.ns, "10.98.0.4")
        })
        .ok_or_else(|| other(format!("w0 cannot ping w3 over bat0 within {timeout} s")))?;
        let keys = [wg_keys(wg)?, wg_keys(wg)?];
        for (k, &(ri, _, peer_net)) in ends.iter().enumerate() {
            let key = work.join(format!("wg{k}.key"));
            write_private(&key, &keys[k].0)?;
            let peer = ROUTERS - ri; // w0 <-> 10.98.0.4, w3 <-> 10.98.0.1
            let ready = work.join(format!("wg{k}.ready"));
            let pidf = work.join(format!("wg{k}.pid"));
            let script = format!(
                "trap 'kill $BT 2>/dev/null; exit 0' TERM INT HUP\n\
                 mount -t tmpfs hwtest-wg /run || exit 1\n\
                 mkdir -p /run/wireguard\n\
                 {bt} -f --disable-drop-privileges wg0 & BT=$!\n\
                 echo $BT > {pidf}\n\
                 i=0; while [ ! -S /run/wireguard/wg0.sock ]; do i=$((i+1)); \
                 [ $i -gt 200 ] && {{ echo no UAPI socket; exit 1; }}; sleep 0.05; done\n\
                 {wg} set wg0 listen-port 51820 private-key {key} peer {pub_} \
                 endpoint 10.98.0.{peer}:51820 allowed-ips 10.96.0.{pk}/32,10.95.{peer_net}.0/24 || exit 1\n\
                 ip addr add 10.96.0.{mk}/30 dev wg0 && ip link set wg0 mtu 1420 up && \
                 ip route add 10.95.{peer_net}.0/24 dev wg0 || exit 1\n\
                 : > {ready}\n\
                 wait $BT\n",
                bt = boringtun.display(),
                pidf = pidf.display(),
                wg = wg.display(),
                key = key.display(),
                pub_ = keys[1 - k].1,
                pk = 2 - k,
                mk = k + 1,
                ready = ready.display(),
            );
            let log = work.join(format!("wg{k}.log"));
            let p = set.routers[ri].ns.spawn("sh", &["-c", &script], &log)?;
            set.bt.push(p);
            let up = wait_for(Duration::from_secs(15), || ready.exists());
            if let Ok(s) = std::fs::read_to_string(&pidf) {
                if let Ok(pid) = s.trim().parse() {
                    set.bt_pids.push(pid);
                }
            }
            if up.is_none() {
                return Err(other(format!(
                    "boringtun in {} not up within 15 s: {}",
                    set.routers[ri].ns.name,
                    tail(&log, 300)
                )));
            }
        }
        let c0 = &set.clients[0];
        wait_for(Duration::from_secs_f64(timeout), || ping(c0, Self::SERVER)).ok_or_else(|| {
            other(format!(
                "wc0 cannot ping wc3 through wg0 within {timeout} s: {}",
                sh(&set.routers[0].ns, "wg show 2>&1; ip route").1
            ))
        })?;
        Ok(set)
    }

    pub fn meshd_pids(&self) -> Vec<u32> {
        self.routers.iter().filter_map(Router::pid).collect()
    }
}

fn write_private(p: &Path, key: &str) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)?;
    writeln!(f, "{key}")
}

/// What one iperf3 run gave.
#[derive(Debug, Clone, Copy)]
pub struct Iperf {
    pub bps: f64,
    pub bytes: f64,
    pub retransmits: f64,
}

/// iperf3 TCP, one stream, `secs` s, from `client` to `ip` in `server`
/// (up to 3 attempts); files under `prefix`.
pub fn iperf(
    client: &Netns,
    server: &Netns,
    ip: &str,
    secs: u64,
    prefix: &Path,
) -> io::Result<Iperf> {
    let file = |s: &str| PathBuf::from(format!("{}-{s}", prefix.display()));
    let out = file("iperf.json");
    let mut last = String::new();
    for _ in 0..3 {
        let srv = server.spawn("iperf3", &["-s", "-1", "-B", ip], &file("iperf-server.log"))?;
        sleep(0.7);
        let t = secs.to_string();
        let mut c = client.spawn(
            "iperf3",
            &["-c", ip, "-t", &t, "-J", "--connect-timeout", "3000"],
            &out,
        )?;
        let deadline = Instant::now() + Duration::from_secs(secs + 20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.child.try_wait() {
                break;
            }
            sleep(0.2);
        }
        drop(c);
        drop(srv);
        let j = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(r) = parse_iperf(&j) {
            return Ok(r);
        }
        last = json_str(&j, "error").unwrap_or_else(|| "no result".into());
        sleep(1.0);
    }
    Err(other(format!("iperf3 to {ip}: {last}")))
}

/// Receiver bit/s and bytes (the last `sum_received`), sender retransmits.
pub fn parse_iperf(j: &str) -> Option<Iperf> {
    let rx = &j[j.rfind("\"sum_received\"")?..];
    let rx = &rx[..rx.find('}').unwrap_or(rx.len())];
    let retransmits = j
        .rfind("\"sum_sent\"")
        .and_then(|at| {
            let s = &j[at..];
            json_num(&s[..s.find('}').unwrap_or(s.len())], "retransmits")
        })
        .unwrap_or(f64::NAN);
    Some(Iperf {
        bps: json_num(rx, "bits_per_second")?,
        bytes: json_num(rx, "bytes")?,
        retransmits,
    })
}

fn after_key<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\"");
    let at = s.find(&pat)? + pat.len();
    Some(s[at..].trim_start().strip_prefix(':')?.trim_start())
}

fn json_num(s: &str, key: &str) -> Option<f64> {
    let v = after_key(s, key)?;
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(v.len());
    v[..end].parse().ok()
}

fn json_str(s: &str, key: &str) -> Option<String> {
    let v = after_key(s, key)?.strip_prefix('"')?;
    Some(v[..v.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iperf_json() {
        let j = r#"{"end":{"sum_sent":{"bytes":9,"retransmits":3},
            "sum_received":{"start":0,"bytes":1250000000,"bits_per_second":1.0e9}}}"#;
        let r = parse_iperf(j).unwrap();
        assert_eq!((r.bps, r.bytes, r.retransmits), (1.0e9, 1.25e9, 3.0));
        assert!(parse_iperf(r#"{"error":"x"}"#).is_none());
        assert_eq!(json_str(r#"{"error": "busy"}"#, "error").unwrap(), "busy");
    }
}
