//! Namespaces, routers and clients for `bench addr`, and the small helpers
//! every part uses (shell in a namespace, meshctl, CPU time, timestamps).
//!
//! The node-layer line (join time, mesh0 throughput, overhead "with"):
//!
//! ```text
//!   c0        c1        c2        c3        c4     LAN clients (eth0: DHCPv4
//!   |lan0     |lan0     |lan0     |lan0     |lan0   from the router's dnsmasq)
//!   r0 --m-- r1 --m-- r2 --m-- r3 --m-- r4        meshd --state-dir --lan lan0
//!                                      ^ r4, c4: new namespaces per join run
//! ```
//!
//! Mesh links are veths with MTU 1532 in every set (bat0 keeps 1500
//! unfragmented; mesh0's 1440 fits either way), LAN links 1500.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::netns::{veth, wait_for, Netns, Proc};

/// MTU of the mesh veths.
pub const MESH_MTU: u16 = 1532;

/// Wall clock, seconds since the epoch (comparable with `date +%s.%N`).
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub fn sleep(secs: f64) {
    std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
}

pub fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Progress on stderr with the time since the bench started.
pub fn progress(t0: &Instant, msg: &str) {
    eprintln!("[{:7.1} s] {msg}", t0.elapsed().as_secs_f64());
}

/// `sh -c CMD` in `ns`: (success, stdout + stderr).
pub fn sh(ns: &Netns, cmd: &str) -> (bool, String) {
    match ns.cmd("sh").args(["-c", cmd]).stdin(Stdio::null()).output() {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.success(), s)
        }
        Err(e) => (false, e.to_string()),
    }
}

/// `sh -c CMD` in `ns`, an error with its output if it fails.
pub fn sh_ok(ns: &Netns, cmd: &str) -> io::Result<String> {
    let (ok, out) = sh(ns, cmd);
    if ok {
        Ok(out)
    } else {
        Err(other(format!("{}: `{cmd}`: {}", ns.name, out.trim())))
    }
}

pub use crate::netns::field;

/// utime + stime of `pid` in seconds (`/proc/PID/stat`), `None` if gone.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &st[st.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3 (state).
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clk_tck())
}

fn clk_tck() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// One meshd router in its own namespace. Fields drop in order: meshd
/// (SIGTERM, so it stops its dnsmasq) before the namespace.
pub struct Router {
    pub proc: Option<Proc>,
    pub ns: Netns,
    pub sock: PathBuf,
    pub log: PathBuf,
    meshd: PathBuf,
}

impl Router {
    pub fn new(short: &str, meshd: &Path, work: &Path) -> io::Result<Router> {
        let ns = Netns::new(short)?;
        sysctl_router(&ns)?;
        Ok(Router {
            proc: None,
            sock: work.join(format!("{}.sock", ns.name)),
            log: work.join(format!("{}.log", ns.name)),
            ns,
            meshd: meshd.to_path_buf(),
        })
    }

    /// Start meshd with `args` plus its own control socket.
    pub fn start(&mut self, args: &[String]) -> io::Result<()> {
        let sock = self.sock.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["-s", &sock]);
        self.proc = Some(
            self.ns
                .spawn(&self.meshd.to_string_lossy(), &all, &self.log)?,
        );
        Ok(())
    }

    /// meshd's pid (`ip netns exec` execs it in place).
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.child.id())
    }

    /// Has meshd exited? Its status and the log's tail, if so.
    pub fn exited(&mut self) -> Option<String> {
        let p = self.proc.as_mut()?;
        match p.child.try_wait() {
            Ok(Some(st)) => Some(format!(
                "meshd in {} exited ({st}): {}",
                self.ns.name,
                tail(&self.log, 400)
            )),
            _ => None,
        }
    }

    /// `meshctl -j VERB`; `None` if it fails.
    pub fn ctl(&self, verb: &str) -> Option<String> {
        let o = std::process::Command::new(&self.meshd)
            .arg("ctl")
            .arg("-s")
            .arg(&self.sock)
            .args(["-j", verb])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// A counter of `meshctl -j s`.
    pub fn counter(&self, name: &str) -> Option<f64> {
        let s = self.ctl("s")?;
        let at = s.find(&format!("\"counter\":\"{name}\""))?;
        let row = &s[at..];
        field(&row[..row.find('}').unwrap_or(row.len())], "value")
            .parse()
            .ok()
    }

    /// Entries in the directory (`meshctl -j dir`).
    pub fn dir_count(&self) -> usize {
        self.ctl("dir")
            .map_or(0, |d| d.matches("\"node_id\"").count())
    }

    /// Wait until the directory has `n` entries; an error with meshd's
    /// exit, if it exited, otherwise.
    pub fn wait_dir(&mut self, n: usize, timeout: f64) -> io::Result<()> {
        let full = wait_for(Duration::from_secs_f64(timeout), || self.dir_count() >= n);
        if full.is_none() {
            let why = self.exited().unwrap_or_default();
            return Err(other(format!(
                "{}: directory has {} of {n} entries after {timeout} s {why}",
                self.ns.name,
                self.dir_count(),
            )));
        }
        Ok(())
    }

    /// Is `iface` active in meshd?
    pub fn iface_active(&self, iface: &str) -> bool {
        self.ctl("if").is_some_and(|a| {
            a.split("},{")
                .any(|r| field(r, "iface") == iface && field(r, "status") == "active")
        })
    }

    /// Wait for `iface` to be active in meshd.
    pub fn wait_iface(&self, iface: &str, limit: f64) -> bool {
        wait_for(Duration::from_secs_f64(limit), || self.iface_active(iface)).is_some()
    }

    /// Wait for the soft interface and give it `addr` (CIDR), if any.
    pub fn wait_bat0(&self, addr: Option<&str>) -> io::Result<()> {
        wait_for(Duration::from_secs(10), || {
            self.ns.ip(&["link", "show", "bat0"]).is_ok()
        })
        .ok_or_else(|| other(format!("no bat0 in {} after 10 s", self.ns.name)))?;
        if let Some(a) = addr {
            self.ns.ip(&["addr", "add", a, "dev", "bat0"])?;
        }
        Ok(())
    }
}

impl Router {
    /// Stop meshd; then, should its dnsmasq have outlived it (dnsmasq drops
    /// to `nobody`, which clears the parent-death signal), stop that one
    /// too: the pid from the pid file in meshd's run directory, checked
    /// against its command line.
    pub fn stop(&mut self) {
        self.proc = None;
        let run = self.run_dir();
        let Ok(pid) = std::fs::read_to_string(run.join("dnsmasq.pid")) else {
            return;
        };
        let pid = pid.trim();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&*run.to_string_lossy()) {
            let _ = std::process::Command::new("kill")
                .arg(pid)
                .stderr(Stdio::null())
                .status();
        }
    }

    /// meshd's run directory (dnsmasq's files): next to its socket.
    pub fn run_dir(&self) -> PathBuf {
        PathBuf::from(format!("{}.dnsmasq", self.sock.display()))
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `n` bytes of a log file.
pub fn tail(p: &Path, n: usize) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let from = s.len().saturating_sub(n);
    let from = (from..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    s[from..].trim().replace('\n', " | ")
}

fn sysctl_router(ns: &Netns) -> io::Result<()> {
    sh_ok(
        ns,
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
         net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
         net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0",
    )
    .map(|_| ())
}

/// meshd's mesh interfaces for router `i` of a line of `n`: `m0` towards
/// the previous router, `m1` towards the next; the last router of a line
/// that grows (`grows`) also waits for an `m1`.
pub fn line_ifaces(i: usize, n: usize, grows: bool) -> Vec<String> {
    let mut a = Vec::new();
    if i > 0 {
        a.extend(["-i".to_string(), "m0".to_string()]);
    }
    if i + 1 < n || grows {
        a.extend(["-i".to_string(), "m1".to_string()]);
    }
    a
}

/// The node layer's options: keys in `state`, `--lan lan0`.
pub fn node_args(state: &Path, name: &str) -> Vec<String> {
    [
        "--state-dir",
        &state.to_string_lossy(),
        "--name",
        name,
        "--lan",
        "lan0",
        // mesh0's direct path; `bench onion` measures circuits.
        "--anonymous",
        "none",
    ]
    .map(String::from)
    .to_vec()
}

/// Join routers into a line (`m1` of one to `m0` of the next).
pub fn link_line(routers: &[Router]) -> io::Result<()> {
    for w in routers.windows(2) {
        veth(&w[0].ns, "m1", &w[1].ns, "m0", MESH_MTU)?;
    }
    Ok(())
}

/// A LAN client namespace joined to `r` (client `eth0`, router `lan0`).
pub fn client(short: &str, r: &Router) -> io::Result<Netns> {
    let c = Netns::new(short)?;
    veth(&r.ns, "lan0", &c, "eth0", 1500)?;
    Ok(c)
}

/// udhcpc's script: the lease onto the interface, the default route, and
/// a timestamp into `$HWTEST_LEASE_STAMP` if set.
pub const UDHCPC_SCRIPT: &str = "#!/bin/sh\n\
case \"$1\" in bound|renew)\n\
  ip addr add \"$ip/24\" dev \"$interface\"\n\
  [ -n \"$router\" ] && ip route replace default via \"$router\" dev \"$interface\"\n\
  [ -n \"$HWTEST_LEASE_STAMP\" ] && date +%s.%N > \"$HWTEST_LEASE_STAMP\";;\n\
esac\nexit 0\n";

/// Write the udhcpc script into `work`, executable.
pub fn write_udhcpc_script(work: &Path) -> io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let p = work.join("udhcpc.sh");
    std::fs::write(&p, UDHCPC_SCRIPT)?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(p)
}

/// Get a DHCPv4 lease in `c` (retried for `limit` s); its IPv4 address.
pub fn lease(c: &Netns, script: &Path, limit: f64) -> io::Result<String> {
    let cmd = format!(
        "busybox udhcpc -i eth0 -n -q -f -t 3 -T 1 -s {}",
        script.display()
    );
    wait_for(Duration::from_secs_f64(limit), || sh(c, &cmd).0)
        .ok_or_else(|| other(format!("{}: no DHCP lease in {limit} s", c.name)))?;
    client_v4(c).ok_or_else(|| other(format!("{}: leased but no address", c.name)))
}

/// The IPv4 address on a client's eth0.
pub fn client_v4(c: &Netns) -> Option<String> {
    let (_, a) = sh(c, "ip -4 -o addr show dev eth0");
    a.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .map(|w| w.split('/').next().unwrap_or_default().to_string())
}

/// One ping from `ns` to `to` with a 1 s wait.
pub fn ping(ns: &Netns, to: &str) -> bool {
    sh(ns, &format!("ping -n -c 1 -W 1 {to} >/dev/null 2>&1")).0
}

/// L2 bytes sent so far on interfaces `ifs` of `ns` (sysfs).
pub fn tx_bytes(ns: &Netns, ifs: &[&str]) -> io::Result<u64> {
    let files: Vec<String> = ifs
        .iter()
        .map(|i| format!("/sys/class/net/{i}/statistics/tx_bytes"))
        .collect();
    let o = sh_ok(ns, &format!("cat {}", files.join(" ")))?;
    let v: Vec<u64> = o.lines().filter_map(|l| l.trim().parse().ok()).collect();
    if v.len() != ifs.len() {
        return Err(other(format!("{}: cannot read {files:?}", ns.name)));
    }
    Ok(v.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_and_line_ifaces() {
        let row = r#"{"node_id":"ab","ipv4":"10.1.2.0","ipv4_attempt":0}"#;
        assert_eq!(field(row, "ipv4"), "10.1.2.0");
        assert_eq!(field(row, "ipv4_attempt"), "0");
        assert_eq!(field(row, "name"), "");
        assert_eq!(line_ifaces(0, 4, false), ["-i", "m1"]);
        assert_eq!(line_ifaces(3, 4, false), ["-i", "m0"]);
        assert_eq!(line_ifaces(3, 4, true), ["-i", "m0", "-i", "m1"]);
        assert!(cpu_secs(std::process::id()).is_some());
    }
}
