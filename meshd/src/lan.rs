//! The LAN side of a router: router advertisements of its /64 (clients use
//! SLAAC) and DHCPv4 from its /24 claim, plus DNS for the LAN, all served by
//! a real dnsmasq that meshd configures and supervises. meshd writes no
//! DHCP server of its own.
//!
//! - [`LanPlan`]: what the LAN looks like (interface, /64, /24, where
//!   meshd's `.mesh` responder listens, the run directory), validated; it
//!   gives the router's own addresses ([`LanPlan::addresses`], for rtnl)
//!   and renders dnsmasq's config file ([`LanPlan::render_conf`]).
//! - [`Dnsmasq`]: runs `dnsmasq --keep-in-foreground --conf-file=...`
//!   (optionally behind a wrapper such as `ip netns exec NS`), reaps and
//!   restarts it with a backoff from the daemon's 1 s tick
//!   ([`Dnsmasq::poll`]), restarts it when the rendered config changes
//!   ([`Dnsmasq::reconfigure`]: dnsmasq rereads its DHCP config only on a
//!   restart), and kills it on [`Dnsmasq::stop`] and on drop, so meshd
//!   never leaves a dnsmasq behind when it exits normally.
//!
//! The dnsmasq started here touches only the LAN interface: `interface=`
//! with `bind-interfaces` binds DNS to that interface's addresses and DHCP
//! to the device, so a system dnsmasq serving other interfaces keeps
//! running undisturbed. Put [`LanPlan::addresses`] on the interface before
//! starting (the IPv6 one without DAD, as `sys::rtnl::add_address` does):
//! dnsmasq binds the addresses present when it starts, and serves a
//! DHCP or RA range only on an interface holding an address inside it.
//!
//! Stopping is SIGTERM, then SIGKILL after [`STOP_WAIT`]
//! (`sys::child::terminate`); the pid file is removed here either way.
//! dnsmasq is started with a parent-death signal (`sys::child::die_with_parent`),
//! so even a `kill -9` of meshd leaves no dnsmasq behind.

use core::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where dnsmasq is looked for when it is not in `PATH`.
pub const DEFAULT_BINARY: &str = "/usr/sbin/dnsmasq";
/// DHCPv4 lease time, seconds.
pub const LEASE_TIME_SECS: u32 = 12 * 3600;
/// The router's host number in its /24 and in its /64 (`.1`, `::1`).
pub const ROUTER_HOST: u8 = 1;
/// First and last host number DHCPv4 hands out.
pub const DHCP_FIRST_HOST: u8 = 10;
pub const DHCP_LAST_HOST: u8 = 250;
/// First wait before restarting a dnsmasq that exited or failed to start.
pub const RESTART_FIRST: Duration = Duration::from_secs(1);
/// The wait doubles up to this.
pub const RESTART_MAX: Duration = Duration::from_secs(60);
/// A dnsmasq that ran this long is healthy: the next restart waits
/// [`RESTART_FIRST`] again.
pub const STABLE_RUN: Duration = Duration::from_secs(60);
/// How long [`Dnsmasq::stop`] waits for the killed process to be reaped.
pub const STOP_WAIT: Duration = Duration::from_secs(2);
/// Bytes of dnsmasq's stderr kept for an exit report (its last words).
pub const STDERR_TAIL: u64 = 512;
/// Longest interface name (IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;
/// Longest run directory path accepted.
pub const MAX_RUN_DIR: usize = 200;

/// File names inside the run directory.
pub const CONF_FILE: &str = "dnsmasq.conf";
pub const PID_FILE: &str = "dnsmasq.pid";
pub const LEASE_FILE: &str = "dnsmasq.leases";
pub const STDERR_FILE: &str = "dnsmasq.stderr";

/// Why a plan was refused or dnsmasq could not be run.
#[derive(Debug)]
pub enum LanError {
    /// Not an interface name dnsmasq can be given (1 to 15 of
    /// `A-Za-z0-9_.-`, not `lo`).
    Interface(String),
    /// Not a /64 network: host bits set.
    Prefix6(Ipv6Addr),
    /// A /64 that is not unicast (unspecified, loopback, link-local,
    /// multicast).
    Prefix6Scope(Ipv6Addr),
    /// Not a /24 network: host bits set.
    Net4(Ipv4Addr),
    /// A /24 that is not unicast (0/8, loopback, link-local, multicast,
    /// reserved).
    Net4Scope(Ipv4Addr),
    /// The `.mesh` responder's address is unusable (unspecified, multicast,
    /// port 0).
    DnsForward(SocketAddr),
    /// An upstream DNS server's address is unusable.
    Upstream(SocketAddr),
    /// The run directory is not absolute, too long, or has characters that
    /// do not belong in a config line.
    RunDir(PathBuf),
    /// The dnsmasq binary is missing or not executable.
    Binary { path: PathBuf, why: &'static str },
    /// A file operation on `path` failed.
    Io {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    /// The process could not be started.
    Spawn { program: PathBuf, error: io::Error },
}

impl fmt::Display for LanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LanError::Interface(n) => write!(
                f,
                "{n:?} is not a LAN interface name (1 to {MAX_IFNAME} of A-Za-z0-9_.-, not lo)"
            ),
            LanError::Prefix6(p) => write!(f, "{p} is not a /64 network (host bits set)"),
            LanError::Prefix6Scope(p) => write!(f, "{p}/64 is not a unicast LAN prefix"),
            LanError::Net4(n) => write!(f, "{n} is not a /24 network (host bits set)"),
            LanError::Net4Scope(n) => write!(f, "{n}/24 is not a unicast LAN network"),
            LanError::DnsForward(a) => write!(f, "{a} is not usable as the .mesh responder"),
            LanError::Upstream(a) => write!(f, "{a} is not usable as an upstream DNS server"),
            LanError::RunDir(p) => write!(
                f,
                "run directory {} must be absolute, at most {MAX_RUN_DIR} bytes of \
                 A-Za-z0-9/._+@:-",
                p.display()
            ),
            LanError::Binary { path, why } => write!(f, "dnsmasq binary {}: {why}", path.display()),
            LanError::Io { what, path, error } => {
                write!(f, "{what} {}: {error}", path.display())
            }
            LanError::Spawn { program, error } => {
                write!(f, "cannot run {}: {error}", program.display())
            }
        }
    }
}

impl std::error::Error for LanError {}

fn valid_ifname(n: &str) -> bool {
    (1..=MAX_IFNAME).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && n != "."
        && n != ".."
        && n != "lo"
}

fn valid_run_dir(p: &Path) -> bool {
    let Some(s) = p.to_str() else {
        return false;
    };
    p.is_absolute()
        && s.len() <= MAX_RUN_DIR
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+@:-".contains(&b))
}

fn usable_server(a: &SocketAddr) -> bool {
    a.port() != 0 && !a.ip().is_unspecified() && !a.ip().is_multicast()
}

/// What the LAN looks like; every field validated by [`LanPlan::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanPlan {
    iface: String,
    prefix6: Ipv6Addr,
    /// The anonymous /64 (addresses that leave the node only inside onion
    /// circuits), advertised deprecated: hosts get an address in it but
    /// use it only when an app binds to it.
    anon6: Option<Ipv6Addr>,
    net4: Ipv4Addr,
    dns_forward: SocketAddr,
    upstream: Vec<SocketAddr>,
    run_dir: PathBuf,
}

impl LanPlan {
    /// A LAN on `iface` with the /64 whose network is `prefix6` (e.g.
    /// `onion::addr::lan_prefix`), the /24 whose network is `net4` (the
    /// node's IPv4 claim), `.mesh` forwarded to meshd's responder at
    /// `dns_forward`, and dnsmasq's files in `run_dir` (created if
    /// missing). No upstream DNS: names outside `.mesh` are not resolved
    /// until [`LanPlan::with_upstream`] names servers.
    pub fn new(
        iface: &str,
        prefix6: Ipv6Addr,
        net4: Ipv4Addr,
        dns_forward: SocketAddr,
        run_dir: &Path,
    ) -> Result<LanPlan, LanError> {
        if !valid_ifname(iface) {
            return Err(LanError::Interface(iface.to_string()));
        }
        check_prefix6(prefix6)?;
        if net4.octets()[3] != 0 {
            return Err(LanError::Net4(net4));
        }
        let [a, b, ..] = net4.octets();
        if a == 0 || a == 127 || a >= 224 || (a == 169 && b == 254) {
            return Err(LanError::Net4Scope(net4));
        }
        if !usable_server(&dns_forward) {
            return Err(LanError::DnsForward(dns_forward));
        }
        if !valid_run_dir(run_dir) {
            return Err(LanError::RunDir(run_dir.to_path_buf()));
        }
        Ok(LanPlan {
            iface: iface.to_string(),
            prefix6,
            anon6: None,
            net4,
            dns_forward,
            upstream: Vec::new(),
            run_dir: run_dir.to_path_buf(),
        })
    }

    /// The same plan with the anonymous /64 `prefix` advertised too.
    pub fn with_anon(mut self, prefix: Ipv6Addr) -> Result<LanPlan, LanError> {
        check_prefix6(prefix)?;
        self.anon6 = Some(prefix);
        Ok(self)
    }

    pub fn anon6(&self) -> Option<Ipv6Addr> {
        self.anon6
    }

    /// The same plan with these upstream DNS servers for names outside
    /// `.mesh` (in order of preference; empty: none).
    pub fn with_upstream(mut self, servers: &[SocketAddr]) -> Result<LanPlan, LanError> {
        if let Some(bad) = servers.iter().find(|s| !usable_server(s)) {
            return Err(LanError::Upstream(*bad));
        }
        self.upstream = servers.to_vec();
        Ok(self)
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }
    pub fn prefix6(&self) -> Ipv6Addr {
        self.prefix6
    }
    pub fn net4(&self) -> Ipv4Addr {
        self.net4
    }
    pub fn dns_forward(&self) -> SocketAddr {
        self.dns_forward
    }
    pub fn upstream(&self) -> &[SocketAddr] {
        &self.upstream
    }
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The router's IPv4 address on the LAN: `.1` of the /24.
    pub fn router_v4(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.net4) | u32::from(ROUTER_HOST))
    }

    /// The router's IPv6 address on the LAN: `::1` of the /64.
    pub fn router_v6(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.prefix6) | u128::from(ROUTER_HOST))
    }

    /// The addresses to put on the LAN interface, with their prefix
    /// lengths (the arguments of `sys::rtnl::add_address`).
    pub fn addresses(&self) -> Vec<(IpAddr, u8)> {
        let mut v = vec![
            (IpAddr::V4(self.router_v4()), 24),
            (IpAddr::V6(self.router_v6()), 64),
        ];
        if let Some(a) = self.anon6 {
            v.push((
                IpAddr::V6(Ipv6Addr::from(u128::from(a) | u128::from(ROUTER_HOST))),
                64,
            ));
        }
        v
    }

    /// First and last address DHCPv4 hands out.
    pub fn dhcp_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        let net = u32::from(self.net4);
        (
            Ipv4Addr::from(net | u32::from(DHCP_FIRST_HOST)),
            Ipv4Addr::from(net | u32::from(DHCP_LAST_HOST)),
        )
    }

    pub fn conf_path(&self) -> PathBuf {
        self.run_dir.join(CONF_FILE)
    }
    pub fn pid_path(&self) -> PathBuf {
        self.run_dir.join(PID_FILE)
    }
    pub fn lease_path(&self) -> PathBuf {
        self.run_dir.join(LEASE_FILE)
    }

    /// dnsmasq's complete config file for this plan: a comment line
    /// saying why, then the directive.
    pub fn render_conf(&self) -> String {
        let (first, last) = self.dhcp_range();
        let (v4, v6, fwd) = (self.router_v4(), self.router_v6(), self.dns_forward);
        let mesh_why = if self.upstream.is_empty() {
            "Names under .mesh: meshd's responder (no upstream server: nothing else resolves)."
        } else {
            "Names under .mesh: meshd's responder."
        };
        let mut lines: Vec<(&str, String)> = vec![
            (
                "Serve this interface only.",
                format!("interface={}", self.iface),
            ),
            (
                "Not the loopback, which interface= would add: the host's resolver owns it.",
                "except-interface=lo".into(),
            ),
            (
                "Bind the interface's addresses (DHCP: the device), never the wildcard, so \
                 no other interface sees this dnsmasq and one serving them does not clash.",
                "bind-interfaces".into(),
            ),
            (
                "DNS for the LAN on the standard port, on the LAN addresses.",
                "port=53".into(),
            ),
            (
                "Upstream servers are listed here, not read from /etc/resolv.conf.",
                "no-resolv".into(),
            ),
            ("Answer no names from /etc/hosts.", "no-hosts".into()),
            (
                "Never forward names without a dot upstream.",
                "domain-needed".into(),
            ),
            (
                "Never forward reverse lookups of private ranges upstream.",
                "bogus-priv".into(),
            ),
            (
                mesh_why,
                format!("server=/mesh/{}#{}", fwd.ip(), fwd.port()),
            ),
        ];
        for u in &self.upstream {
            lines.push((
                "Upstream DNS server for names outside .mesh.",
                format!("server={}#{}", u.ip(), u.port()),
            ));
        }
        lines.extend([
            (
                "DHCPv4 from the node's /24 claim; lease time in seconds.",
                format!("dhcp-range={first},{last},255.255.255.0,{LEASE_TIME_SECS}"),
            ),
            (
                "DHCPv4 clients route through this router.",
                format!("dhcp-option=option:router,{v4}"),
            ),
            (
                "DHCPv4 clients ask this router for names.",
                format!("dhcp-option=option:dns-server,{v4}"),
            ),
            (
                "The only DHCP server on this LAN: a client asking for a lease from elsewhere \
                 is answered at once.",
                "dhcp-authoritative".into(),
            ),
            (
                "No ICMP probe of an address before offering it: the range is this \
                 router's alone, and the probe costs every new client 3 s.",
                "no-ping".into(),
            ),
            (
                "Leases, kept across dnsmasq restarts.",
                format!("dhcp-leasefile={}", self.lease_path().display()),
            ),
            ("Send IPv6 router advertisements.", "enable-ra".into()),
            (
                "Advertise the node's /64 for SLAAC (no DHCPv6).",
                format!("dhcp-range={},ra-only,64", self.prefix6),
            ),
            (
                "The DNS server in the advertisements (RDNSS): this router in the /64.",
                format!("dhcp-option=option6:dns-server,[{v6}]"),
            ),
        ]);
        if let Some(a) = self.anon6 {
            lines.push((
                "The anonymous /64, deprecated (preferred lifetime 0): hosts form an address \
                 in it but use it only when an app binds to it; its packets leave the router \
                 only inside onion circuits.",
                format!("dhcp-range={a},ra-only,64,deprecated"),
            ));
        }
        lines.extend([(
            "Pid file, in meshd's run directory.",
            format!("pid-file={}", self.pid_path().display()),
        )]);
        let mut c = format!(
            "# dnsmasq for the LAN on {}, written by meshd. meshd rewrites this file and\n\
             # restarts dnsmasq whenever the LAN changes: edits here are lost.\n",
            self.iface
        );
        for (why, directive) in lines {
            c.push_str("# ");
            c.push_str(why);
            c.push('\n');
            c.push_str(&directive);
            c.push('\n');
        }
        c
    }
}

/// A /64 network in a unicast range (not multicast, not link-local).
fn check_prefix6(prefix6: Ipv6Addr) -> Result<(), LanError> {
    if u128::from(prefix6) & u128::from(u64::MAX) != 0 {
        return Err(LanError::Prefix6(prefix6));
    }
    let s0 = prefix6.segments()[0];
    if prefix6.is_unspecified() || s0 & 0xff00 == 0xff00 || s0 & 0xffc0 == 0xfe80 {
        return Err(LanError::Prefix6Scope(prefix6));
    }
    Ok(())
}

/// Is `p` an executable regular file?
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable `dnsmasq` in the directories of `path_var` (a
/// `PATH`-style list).
fn find_in(path_var: &str) -> Option<PathBuf> {
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("dnsmasq"))
        .find(|p| executable(p))
}

/// dnsmasq from `PATH`, else [`DEFAULT_BINARY`] (which may not exist: the
/// error then names it when dnsmasq is started).
pub fn find_binary() -> PathBuf {
    std::env::var("PATH")
        .ok()
        .and_then(|p| find_in(&p))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BINARY))
}

/// Something the daemon should log.
#[derive(Debug)]
pub enum Event {
    /// dnsmasq was (re)started.
    Started { pid: u32 },
    /// dnsmasq exited; started again in `restart_in`.
    Exited {
        status: String,
        /// The end of what it wrote to stderr (its error, if it died of
        /// one).
        stderr: String,
        restart_in: Duration,
    },
    /// dnsmasq could not be started; tried again in `restart_in`.
    StartFailed {
        error: LanError,
        restart_in: Duration,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Started { pid } => write!(f, "dnsmasq started (pid {pid})"),
            Event::Exited {
                status,
                stderr,
                restart_in,
            } => {
                write!(f, "dnsmasq exited ({status})")?;
                if !stderr.is_empty() {
                    write!(f, ": {stderr}")?;
                }
                write!(f, "; restarting in {} s", restart_in.as_secs())
            }
            Event::StartFailed { error, restart_in } => write!(
                f,
                "dnsmasq could not start: {error}; retrying in {} s",
                restart_in.as_secs()
            ),
        }
    }
}

struct Running {
    child: Child,
    since: Instant,
}

/// The supervisor of one dnsmasq serving one LAN.
pub struct Dnsmasq {
    plan: LanPlan,
    binary: PathBuf,
    wrapper: Vec<String>,
    running: Option<Running>,
    /// Supervising (between `start` and `stop`)?
    active: bool,
    /// When no dnsmasq runs: when to try again.
    next_start: Option<Instant>,
    /// The wait before the next restart.
    backoff: Duration,
}

impl Dnsmasq {
    /// A supervisor for `plan`, not started yet; the binary is
    /// [`find_binary`]'s.
    pub fn new(plan: LanPlan) -> Dnsmasq {
        Dnsmasq {
            plan,
            binary: find_binary(),
            wrapper: Vec::new(),
            running: None,
            active: false,
            next_start: None,
            backoff: RESTART_FIRST,
        }
    }

    /// Run this binary instead.
    pub fn set_binary(&mut self, binary: PathBuf) {
        self.binary = binary;
    }

    /// Run dnsmasq behind this command prefix, e.g. `ip netns exec NS`.
    /// The prefix must exec dnsmasq (as `ip netns exec` and `nsenter`
    /// do), so that the process stopped is dnsmasq itself.
    pub fn set_wrapper(&mut self, wrapper: Vec<String>) {
        self.wrapper = wrapper;
    }

    pub fn plan(&self) -> &LanPlan {
        &self.plan
    }
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The running dnsmasq's process ID.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// Write the config and start dnsmasq. From here on it is kept
    /// running (by [`Dnsmasq::poll`]) until [`Dnsmasq::stop`]: on an error
    /// a retry is already scheduled.
    pub fn start(&mut self, now: Instant) -> Result<u32, LanError> {
        self.active = true;
        self.backoff = RESTART_FIRST;
        self.kill();
        self.stop_stale();
        self.launch(now)
    }

    /// A dnsmasq that an earlier meshd left running (killed with SIGKILL:
    /// dnsmasq drops the parent-death signal when it changes user) still
    /// holds the LAN's sockets: stop it. Found by the pid file in the run
    /// directory, and only if its command line names our config file.
    fn stop_stale(&self) {
        let Ok(text) = std::fs::read_to_string(self.plan.pid_path()) else {
            return;
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return;
        };
        let conf = format!("--conf-file={}", self.plan.conf_path().display());
        if !cmd.split(|b| *b == 0).any(|a| a == conf.as_bytes()) {
            return;
        }
        let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
        let _ = crate::sys::child::signal_pid(pid, libc::SIGTERM);
        let t0 = Instant::now();
        while alive() && t0.elapsed() < STOP_WAIT {
            std::thread::sleep(Duration::from_millis(5));
        }
        if alive() {
            let _ = crate::sys::child::signal_pid(pid, libc::SIGKILL);
        }
        let _ = std::fs::remove_file(self.plan.pid_path());
    }

    /// Take a new plan. Only when its config differs from the current one
    /// is the config rewritten and dnsmasq restarted at once (`Ok(true)`).
    /// A supervisor that is not started just keeps the plan for
    /// [`Dnsmasq::start`] (`Ok(false)`).
    pub fn reconfigure(&mut self, plan: LanPlan, now: Instant) -> Result<bool, LanError> {
        let changed = plan.render_conf() != self.plan.render_conf();
        if !self.active || !changed {
            self.plan = plan;
            return Ok(false);
        }
        // Killed under the old plan, whose pid file it removes.
        self.kill();
        self.plan = plan;
        self.start(now).map(|_| true)
    }

    /// Call every tick (about 1 s): reaps an exited dnsmasq and restarts it
    /// when its wait is over. At most one event per call.
    pub fn poll(&mut self, now: Instant) -> Option<Event> {
        if !self.active {
            return None;
        }
        if let Some(r) = &mut self.running {
            let status = match r.child.try_wait() {
                Ok(None) => {
                    if now.saturating_duration_since(r.since) >= STABLE_RUN {
                        self.backoff = RESTART_FIRST;
                    }
                    return None;
                }
                Ok(Some(st)) => st.to_string(),
                Err(e) => {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                    format!("lost: {e}")
                }
            };
            self.running = None;
            let _ = std::fs::remove_file(self.plan.pid_path());
            let restart_in = self.schedule(now);
            return Some(Event::Exited {
                status,
                stderr: self.stderr_tail(),
                restart_in,
            });
        }
        if self.next_start.is_some_and(|t| now >= t) {
            return Some(match self.launch(now) {
                Ok(pid) => Event::Started { pid },
                Err(error) => Event::StartFailed {
                    error,
                    restart_in: self.next_start.map_or(Duration::ZERO, |t| t - now),
                },
            });
        }
        None
    }

    /// Stop supervising and stop dnsmasq (SIGTERM, then SIGKILL; reaped, waiting
    /// at most [`STOP_WAIT`]). Also done on drop.
    pub fn stop(&mut self) {
        self.active = false;
        self.next_start = None;
        self.kill();
    }

    fn kill(&mut self) {
        let Some(mut r) = self.running.take() else {
            return;
        };
        // SIGTERM first (dnsmasq removes its pid file and closes its
        // sockets), SIGKILL when it does not go within STOP_WAIT.
        let _ = crate::sys::child::terminate(&r.child);
        let t0 = Instant::now();
        let mut gone = false;
        while t0.elapsed() < STOP_WAIT {
            if !matches!(r.child.try_wait(), Ok(None)) {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if !gone {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
        let _ = std::fs::remove_file(self.plan.pid_path());
    }

    /// Arm the next restart after the current wait and double the wait.
    fn schedule(&mut self, now: Instant) -> Duration {
        let wait = self.backoff;
        self.next_start = Some(now + wait);
        self.backoff = (self.backoff * 2).min(RESTART_MAX);
        wait
    }

    /// Write the config and spawn; on failure schedule the next try.
    fn launch(&mut self, now: Instant) -> Result<u32, LanError> {
        self.next_start = None;
        match self.spawn() {
            Ok(child) => {
                let pid = child.id();
                self.running = Some(Running { child, since: now });
                Ok(pid)
            }
            Err(e) => {
                self.schedule(now);
                Err(e)
            }
        }
    }

    fn spawn(&self) -> Result<Child, LanError> {
        if !self.binary.is_file() {
            return Err(LanError::Binary {
                path: self.binary.clone(),
                why: "not found (install dnsmasq, or set its path)",
            });
        }
        if !executable(&self.binary) {
            return Err(LanError::Binary {
                path: self.binary.clone(),
                why: "not executable",
            });
        }
        let conf = self.plan.conf_path();
        write_atomically(&conf, self.plan.render_conf().as_bytes())?;
        let err_path = self.plan.run_dir.join(STDERR_FILE);
        let stderr = File::create(&err_path).map_err(|error| LanError::Io {
            what: "cannot create dnsmasq's stderr file",
            path: err_path,
            error,
        })?;
        let mut cmd = match self.wrapper.split_first() {
            Some((prog, args)) => {
                let mut c = Command::new(prog);
                c.args(args).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        crate::sys::child::die_with_parent(&mut cmd);
        cmd.arg("--keep-in-foreground")
            .arg(format!("--conf-file={}", conf.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        cmd.spawn().map_err(|error| LanError::Spawn {
            program: self
                .wrapper
                .first()
                .map_or_else(|| self.binary.clone(), PathBuf::from),
            error,
        })
    }

    /// The last [`STDERR_TAIL`] bytes dnsmasq wrote to stderr, trimmed,
    /// lines joined by "; ".
    fn stderr_tail(&self) -> String {
        let mut f = match File::open(self.plan.run_dir.join(STDERR_FILE)) {
            Ok(f) => f,
            Err(_) => return String::new(),
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(STDERR_TAIL)));
        let mut buf = Vec::new();
        let _ = f.take(STDERR_TAIL).read_to_end(&mut buf);
        String::from_utf8_lossy(&buf)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Replace `path` with `bytes`: a temporary file next to it, then
/// rename(2), so dnsmasq never reads half a config. Creates the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), LanError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |error| LanError::Io { what, path, error }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("cannot create the run directory", dir))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp).map_err(io("cannot write dnsmasq config", &tmp))?;
    f.write_all(bytes)
        .map_err(io("cannot write dnsmasq config", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io("cannot write dnsmasq config", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const NAME: &str = "l7zelifkfympnobf.mesh";

    fn prefix() -> Ipv6Addr {
        "fd7c:d550:3dce:4f5d::".parse().unwrap()
    }

    fn net4() -> Ipv4Addr {
        Ipv4Addr::new(10, 224, 224, 0)
    }

    fn fwd() -> SocketAddr {
        "127.0.0.1:5353".parse().unwrap()
    }

    fn plan_in(dir: &Path) -> LanPlan {
        LanPlan::new("br-lan", prefix(), net4(), fwd(), dir).unwrap()
    }

    /// A directory of its own under the temp dir, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(tag: &str) -> TestDir {
            let p = std::env::temp_dir().join(format!("meshd-lan-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TestDir(p)
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A stand-in for dnsmasq: says its arguments on stderr, runs while a
    /// file `hold` is next to it, then exits 3. Run through `/bin/sh` (the
    /// wrapper), never exec'd itself, so a fork in another test thread
    /// holding it open for writing cannot make it "text file busy".
    fn fake(dir: &Path) -> Dnsmasq {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = bin.join("dnsmasq");
        std::fs::write(
            &script,
            "echo \"fake dnsmasq $*\" >&2\n\
             while [ -e \"$(dirname \"$0\")/hold\" ]; do sleep 0.02; done\n\
             exit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut d = Dnsmasq::new(plan_in(&dir.join("run")));
        d.set_binary(script);
        d.set_wrapper(vec!["/bin/sh".into()]);
        d
    }

    fn hold(dir: &Path, on: bool) {
        let f = dir.join("bin/hold");
        if on {
            std::fs::write(f, b"").unwrap();
        } else {
            std::fs::remove_file(f).unwrap();
        }
    }

    /// Poll at the fixed time `now` until an event comes (the process
    /// needs real time to exit).
    fn next_event(d: &mut Dnsmasq, now: Instant) -> Event {
        for _ in 0..1000 {
            if let Some(e) = d.poll(now) {
                return e;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no event within 10 s");
    }

    fn alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn plan_addresses_and_range() {
        let p = plan_in(Path::new("/var/run/meshd"));
        assert_eq!(p.router_v4(), Ipv4Addr::new(10, 224, 224, 1));
        assert_eq!(
            p.router_v6(),
            "fd7c:d550:3dce:4f5d::1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            p.addresses(),
            [
                (IpAddr::V4(Ipv4Addr::new(10, 224, 224, 1)), 24),
                (IpAddr::V6("fd7c:d550:3dce:4f5d::1".parse().unwrap()), 64),
            ]
        );
        let anon: Ipv6Addr = "fd01:2:3:4::".parse().unwrap();
        let a = p.clone().with_anon(anon).unwrap();
        assert_eq!(
            a.addresses()[2],
            (IpAddr::V6("fd01:2:3:4::1".parse().unwrap()), 64)
        );
        assert!(a
            .render_conf()
            .lines()
            .any(|l| l == "dhcp-range=fd01:2:3:4::,ra-only,64,deprecated"));
        assert!(!p.render_conf().contains("deprecated"));
        assert!(p.clone().with_anon("fe80::".parse().unwrap()).is_err());
        assert_eq!(
            p.dhcp_range(),
            (
                Ipv4Addr::new(10, 224, 224, 10),
                Ipv4Addr::new(10, 224, 224, 250)
            )
        );
        assert_eq!(p.conf_path(), Path::new("/var/run/meshd/dnsmasq.conf"));
        assert_eq!(p.pid_path(), Path::new("/var/run/meshd/dnsmasq.pid"));
        assert_eq!(p.lease_path(), Path::new("/var/run/meshd/dnsmasq.leases"));
    }

    #[test]
    fn render_conf_line_by_line() {
        let p = plan_in(Path::new("/var/run/meshd"));
        let conf = p.render_conf();
        let lines: Vec<&str> = conf.lines().collect();
        // Two lines of header, then each directive after its comment.
        assert!(lines[0].starts_with("# dnsmasq for the LAN on br-lan, written by meshd."));
        assert!(lines[1].starts_with("# restarts dnsmasq whenever the LAN changes"));
        let body = &lines[2..];
        assert_eq!(body.len() % 2, 0);
        for pair in body.chunks(2) {
            assert!(pair[0].starts_with("# ") && pair[0].len() > 10, "{pair:?}");
            assert!(!pair[1].starts_with('#') && !pair[1].is_empty(), "{pair:?}");
        }
        let directives: Vec<&str> = body.iter().skip(1).step_by(2).copied().collect();
        assert_eq!(
            directives,
            [
                "interface=br-lan",
                "except-interface=lo",
                "bind-interfaces",
                "port=53",
                "no-resolv",
                "no-hosts",
                "domain-needed",
                "bogus-priv",
                "server=/mesh/127.0.0.1#5353",
                "dhcp-range=10.224.224.10,10.224.224.250,255.255.255.0,43200",
                "dhcp-option=option:router,10.224.224.1",
                "dhcp-option=option:dns-server,10.224.224.1",
                "dhcp-authoritative",
                "no-ping",
                "dhcp-leasefile=/var/run/meshd/dnsmasq.leases",
                "enable-ra",
                "dhcp-range=fd7c:d550:3dce:4f5d::,ra-only,64",
                "dhcp-option=option6:dns-server,[fd7c:d550:3dce:4f5d::1]",
                "pid-file=/var/run/meshd/dnsmasq.pid",
            ]
        );
        assert!(conf.ends_with('\n'));
        assert!(conf.contains("nothing else resolves"));

        // Upstream servers follow the .mesh forward; an IPv6 responder.
        let p = LanPlan::new(
            "lan0",
            prefix(),
            net4(),
            "[::1]:5353".parse().unwrap(),
            Path::new("/tmp/m"),
        )
        .unwrap()
        .with_upstream(&[
            "192.0.2.53:53".parse().unwrap(),
            "[2001:db8::53]:5300".parse().unwrap(),
        ])
        .unwrap();
        let conf = p.render_conf();
        let directives: Vec<&str> = conf.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            directives[8..11],
            [
                "server=/mesh/::1#5353",
                "server=192.0.2.53#53",
                "server=2001:db8::53#5300"
            ]
        );
        assert!(!conf.contains("nothing else resolves"));
        assert_eq!(directives.len(), 21);
    }

    #[test]
    fn plan_validation() {
        let dir = Path::new("/run/meshd");
        let new = |i: &str, p: &str, n: Ipv4Addr, f: &str, d: &str| {
            LanPlan::new(i, p.parse().unwrap(), n, f.parse().unwrap(), Path::new(d))
        };
        let ok = |i: &str| new(i, "fd00:1::", net4(), "127.0.0.1:5353", "/run/meshd");
        assert!(ok("br-lan").is_ok());
        assert!(ok("eth0.100").is_ok());
        assert!(ok("wlan0_ap").is_ok());
        assert!(ok("abcdefghijklmno").is_ok()); // 15
        for bad in [
            "",
            "abcdefghijklmnop", // 16
            "eth 0",
            "eth0,lo",
            "eth/0",
            "eth0\ninterface=lo",
            "lo",
            ".",
            "..",
            "ethé",
        ] {
            let e = ok(bad).unwrap_err();
            assert!(
                matches!(e, LanError::Interface(ref n) if n == bad),
                "{bad:?}"
            );
            assert!(e.to_string().contains("not a LAN interface name"));
        }
        for (p, host_bits) in [
            ("fd00:1::1", true),
            ("fd00:1:0:0:8000::", true),
            ("::", false),
            ("ff02::", false),
            ("fe80::", false),
            ("febf:1::", false),
        ] {
            let e = new("lan0", p, net4(), "127.0.0.1:5353", "/run/meshd").unwrap_err();
            if host_bits {
                assert!(matches!(e, LanError::Prefix6(_)), "{p}");
                assert!(e.to_string().contains("not a /64 network"), "{e}");
            } else {
                assert!(matches!(e, LanError::Prefix6Scope(_)), "{p}");
            }
        }
        assert!(new("lan0", "2001:db8:1:2::", net4(), "127.0.0.1:5353", "/r").is_ok());
        for (n, host_bits) in [
            (Ipv4Addr::new(10, 224, 224, 1), true),
            (Ipv4Addr::new(192, 168, 1, 128), true),
            (Ipv4Addr::new(0, 0, 0, 0), false),
            (Ipv4Addr::new(127, 0, 0, 0), false),
            (Ipv4Addr::new(169, 254, 3, 0), false),
            (Ipv4Addr::new(224, 0, 0, 0), false),
            (Ipv4Addr::new(255, 255, 255, 0), false),
        ] {
            let e = new("lan0", "fd00:1::", n, "127.0.0.1:5353", "/run/meshd").unwrap_err();
            if host_bits {
                assert!(matches!(e, LanError::Net4(_)), "{n}");
                assert!(e.to_string().contains("not a /24 network"), "{e}");
            } else {
                assert!(matches!(e, LanError::Net4Scope(_)), "{n}");
            }
        }
        for f in ["0.0.0.0:5353", "127.0.0.1:0", "[::]:53", "224.0.0.1:53"] {
            let e = new("lan0", "fd00:1::", net4(), f, "/run/meshd").unwrap_err();
            assert!(matches!(e, LanError::DnsForward(_)), "{f}");
        }
        for d in [
            "run/meshd",
            "/run/my dir",
            "/run/a#b",
            "/run/a,b",
            "/run/a\nport=0",
        ] {
            let e = new("lan0", "fd00:1::", net4(), "127.0.0.1:5353", d).unwrap_err();
            assert!(matches!(e, LanError::RunDir(_)), "{d:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_RUN_DIR));
        assert!(new("lan0", "fd00:1::", net4(), "127.0.0.1:53", &long).is_err());
        let p = LanPlan::new("lan0", prefix(), net4(), fwd(), dir).unwrap();
        let e = p
            .clone()
            .with_upstream(&["9.9.9.9:53".parse().unwrap(), "0.0.0.0:53".parse().unwrap()])
            .unwrap_err();
        assert!(matches!(e, LanError::Upstream(_)));
        assert_eq!(p.clone().with_upstream(&[]).unwrap(), p);
    }

    #[test]
    fn find_in_takes_the_first_executable() {
        let t = TestDir::new("find");
        let (a, b) = (t.0.join("a"), t.0.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("dnsmasq"), b"").unwrap(); // not executable
        std::fs::write(b.join("dnsmasq"), b"").unwrap();
        std::fs::set_permissions(b.join("dnsmasq"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let path = format!("{}::{}", a.display(), b.display());
        assert_eq!(find_in(&path), Some(b.join("dnsmasq")));
        assert_eq!(find_in(&a.display().to_string()), None);
        assert_eq!(find_in(""), None);
        assert!(executable(&b.join("dnsmasq")));
        assert!(!executable(&b)); // a directory
    }

    #[test]
    fn exits_are_reported_and_restarts_back_off() {
        let t = TestDir::new("backoff");
        let mut d = fake(&t.0);
        let t0 = Instant::now();
        assert!(d.poll(t0).is_none(), "not started: nothing to do");
        let pid = d.start(t0).unwrap();
        assert_eq!(d.pid(), Some(pid));
        let conf = d.plan().conf_path();
        assert_eq!(
            std::fs::read_to_string(&conf).unwrap(),
            d.plan().render_conf()
        );
        match next_event(&mut d, t0) {
            Event::Exited {
                status,
                stderr,
                restart_in,
            } => {
                assert_eq!(status, "exit status: 3");
                let args = format!("--keep-in-foreground --conf-file={}", conf.display());
                assert_eq!(stderr, format!("fake dnsmasq {args}"));
                assert_eq!(restart_in, RESTART_FIRST);
            }
            e => panic!("{e}"),
        }
        assert_eq!(d.pid(), None);
        assert!(d.poll(t0 + Duration::from_millis(999)).is_none());
        let mut now = t0 + RESTART_FIRST;
        for want in [2, 4, 8, 16, 32, 60, 60] {
            match d.poll(now) {
                Some(Event::Started { pid: p }) => assert_ne!(p, pid),
                e => panic!("{e:?}"),
            }
            match next_event(&mut d, now) {
                Event::Exited { restart_in, .. } => {
                    assert_eq!(restart_in, Duration::from_secs(want))
                }
                e => panic!("{e}"),
            }
            assert!(d
                .poll(now + Duration::from_secs(want) - Duration::from_millis(1))
                .is_none());
            now += Duration::from_secs(want);
        }
    }

    #[test]
    fn a_stable_run_resets_the_backoff() {
        let t = TestDir::new("stable");
        let mut d = fake(&t.0);
        let t0 = Instant::now();
        d.start(t0).unwrap();
        let mut now = t0;
        for want in [1, 2, 4] {
            match next_event(&mut d, now) {
                Event::Exited { restart_in, .. } => {
                    assert_eq!(restart_in, Duration::from_secs(want))
                }
                e => panic!("{e}"),
            }
            now += Duration::from_secs(want);
            if want == 4 {
                hold(&t.0, true);
            }
            assert!(matches!(d.poll(now), Some(Event::Started { .. })));
        }
        // Runs: nothing to report, even long after.
        assert!(d.poll(now).is_none());
        now += STABLE_RUN;
        assert!(d.poll(now).is_none());
        hold(&t.0, false);
        match next_event(&mut d, now) {
            Event::Exited { restart_in, .. } => assert_eq!(restart_in, RESTART_FIRST),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn stop_and_drop_kill_it() {
        let t = TestDir::new("stop");
        let mut d = fake(&t.0);
        hold(&t.0, true);
        let t0 = Instant::now();
        let pid = d.start(t0).unwrap();
        assert!(alive(pid));
        assert!(d.poll(t0).is_none());
        std::fs::write(d.plan().pid_path(), format!("{pid}\n")).unwrap();
        d.stop();
        assert!(!alive(pid), "{pid} still there after stop");
        assert_eq!(d.pid(), None);
        assert!(!d.plan().pid_path().exists());
        // Stopped means stopped: no restart, however late.
        assert!(d.poll(t0 + Duration::from_secs(3600)).is_none());
        // The lease file and config stay for the next start.
        assert!(d.plan().conf_path().exists());
        let pid = d.start(t0).unwrap();
        assert!(alive(pid));
        drop(d);
        assert!(!alive(pid), "{pid} still there after drop");
    }

    #[test]
    fn reconfigure_restarts_only_on_a_change() {
        let t = TestDir::new("reconf");
        let mut d = fake(&t.0);
        hold(&t.0, true);
        let t0 = Instant::now();
        let same = d.plan().clone();
        // Not started: the plan is kept, nothing runs.
        assert!(!d.reconfigure(same.clone(), t0).unwrap());
        assert_eq!(d.pid(), None);
        let p1 = d.start(t0).unwrap();
        assert!(!d.reconfigure(same.clone(), t0).unwrap());
        assert_eq!(d.pid(), Some(p1));
        let other = LanPlan::new(
            "br-lan",
            prefix(),
            Ipv4Addr::new(10, 1, 2, 0),
            fwd(),
            same.run_dir(),
        )
        .unwrap();
        assert!(d.reconfigure(other.clone(), t0).unwrap());
        let p2 = d.pid().unwrap();
        assert_ne!(p1, p2);
        assert!(!alive(p1));
        let conf = std::fs::read_to_string(other.conf_path()).unwrap();
        assert!(conf.contains("dhcp-range=10.1.2.10,10.1.2.250,"), "{conf}");
        assert_eq!(d.plan(), &other);
        // While waiting to restart, a change starts it at once.
        hold(&t.0, false);
        assert!(matches!(next_event(&mut d, t0), Event::Exited { .. }));
        assert_eq!(d.pid(), None);
        hold(&t.0, true);
        assert!(d.reconfigure(same, t0).unwrap());
        assert!(d.pid().is_some());
        d.stop();
        assert!(!d.reconfigure(other, t0).unwrap());
        assert_eq!(d.pid(), None);
    }

    #[test]
    fn direct_spawn_without_wrapper() {
        let t = TestDir::new("direct");
        let mut d = Dnsmasq::new(plan_in(&t.0.join("run")));
        d.set_binary(PathBuf::from("/bin/false"));
        let t0 = Instant::now();
        d.start(t0).unwrap();
        match next_event(&mut d, t0) {
            Event::Exited { status, stderr, .. } => {
                assert_eq!(status, "exit status: 1");
                assert_eq!(stderr, "");
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn start_errors_name_the_path_and_are_retried() {
        let t = TestDir::new("errors");
        let t0 = Instant::now();

        let mut d = fake(&t.0);
        let missing = t.0.join("nope/dnsmasq");
        d.set_binary(missing.clone());
        let e = d.start(t0).unwrap_err();
        assert!(matches!(e, LanError::Binary { ref path, .. } if *path == missing));
        let msg = e.to_string();
        assert!(msg.contains(&missing.display().to_string()), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
        assert!(d.poll(t0).is_none());
        match d.poll(t0 + RESTART_FIRST) {
            Some(Event::StartFailed { error, restart_in }) => {
                assert!(matches!(error, LanError::Binary { .. }));
                assert_eq!(restart_in, Duration::from_secs(2));
            }
            e => panic!("{e:?}"),
        }

        let plain = t.0.join("plain");
        std::fs::write(&plain, b"").unwrap();
        d.set_binary(plain.clone());
        let e = d.start(t0).unwrap_err();
        assert!(e.to_string().contains("not executable"), "{e}");

        // The run directory under a regular file cannot be made (even by
        // root).
        let mut d = fake(&t.0);
        let run = plain.join("run");
        let p = LanPlan::new("lan0", prefix(), net4(), fwd(), &run).unwrap();
        d.reconfigure(p, t0).unwrap();
        let e = d.start(t0).unwrap_err();
        assert!(matches!(e, LanError::Io { .. }));
        let msg = e.to_string();
        assert!(msg.starts_with("cannot create the run directory"), "{msg}");
        assert!(msg.contains(&run.display().to_string()), "{msg}");

        // A wrapper that does not exist.
        let mut d = fake(&t.0);
        d.set_wrapper(vec!["/nonexistent/wrapper".into()]);
        let e = d.start(t0).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot run /nonexistent/wrapper:"),
            "{e}"
        );
    }

    #[test]
    fn events_read_well() {
        let e = Event::Exited {
            status: "exit status: 2".into(),
            stderr: "dnsmasq: failed to create listening socket: Address in use".into(),
            restart_in: Duration::from_secs(4),
        };
        assert_eq!(
            e.to_string(),
            "dnsmasq exited (exit status: 2): dnsmasq: failed to create listening socket: \
             Address in use; restarting in 4 s"
        );
        let e = Event::StartFailed {
            error: LanError::Binary {
                path: "/usr/sbin/dnsmasq".into(),
                why: "not found (install dnsmasq, or set its path)",
            },
            restart_in: Duration::from_secs(1),
        };
        assert_eq!(
            e.to_string(),
            "dnsmasq could not start: dnsmasq binary /usr/sbin/dnsmasq: not found \
             (install dnsmasq, or set its path); retrying in 1 s"
        );
        assert_eq!(
            Event::Started { pid: 7 }.to_string(),
            "dnsmasq started (pid 7)"
        );
    }

    /// The `.mesh` responder on 127.0.0.1 inside a namespace, on a thread
    /// of its own; stopped and joined on drop.
    struct Responder {
        addr: SocketAddr,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Responder {
        fn start(netns: &str, answer: crate::dns::Answer) -> Responder {
            use std::sync::atomic::{AtomicBool, Ordering};
            let stop = std::sync::Arc::new(AtomicBool::new(false));
            let (tx, rx) = std::sync::mpsc::channel();
            let path = PathBuf::from(format!("/run/netns/{netns}"));
            let stop2 = stop.clone();
            let thread = std::thread::spawn(move || {
                crate::sys::rtnl::enter_netns(&path).expect("setns into the router namespace");
                let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                tx.send(sock.local_addr().unwrap()).unwrap();
                let lookup = |n: &str| (n == NAME).then(|| answer.clone());
                let mut buf = [0u8; 1500];
                while !stop2.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = sock.recv_from(&mut buf) {
                        if let Some(r) = crate::dns::respond(&buf[..n], &lookup) {
                            let _ = sock.send_to(&r, from);
                        }
                    }
                }
            });
            let addr = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            Responder {
                addr,
                stop,
                thread: Some(thread),
            }
        }
    }

    impl Drop for Responder {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn sh(ns: &hwtest::netns::Netns, script: &str) -> std::process::Output {
        ns.cmd("sh").args(["-c", script]).output().unwrap()
    }

    /// The real thing, as root with dnsmasq installed: a router namespace
    /// and a client namespace joined by a veth pair; the supervisor runs
    /// dnsmasq in the router's (through `ip netns exec`); the client gets a
    /// DHCPv4 lease from the /24 and a SLAAC address from the /64, and
    /// resolves a `.mesh` name through dnsmasq to meshd's responder over
    /// both the DHCP-given and the RA-given (RDNSS) server address.
    #[test]
    fn dnsmasq_serves_a_lan_in_a_namespace() {
        use hwtest::netns::{require_root, wait_for, Netns};
        if !require_root("lan::tests::dnsmasq_serves_a_lan_in_a_namespace") {
            return;
        }
        let binary = find_binary();
        if !executable(&binary) {
            println!("skipped: dnsmasq is not installed (apt-get install dnsmasq-base)");
            return;
        }
        let has_udhcpc = Command::new("busybox")
            .arg("--list")
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l == "udhcpc")
            });
        if !has_udhcpc {
            println!("skipped: busybox with udhcpc is not installed (apt-get install busybox)");
            return;
        }
        let t = TestDir::new("netns");
        let router = Netns::new("lanr").unwrap();
        let client = Netns::new("lanc").unwrap();
        router
            .ip(&[
                "link",
                "add",
                "lan0",
                "type",
                "veth",
                "peer",
                "name",
                "cli0",
                "netns",
                &client.name,
            ])
            .unwrap();
        let out = sh(&client, "echo 2 > /proc/sys/net/ipv6/conf/cli0/accept_ra");
        assert!(out.status.success(), "{out:?}");

        let node_v6: Ipv6Addr = "fd7c:d550:3dce:4f5d:34a3:e495:803b:7e60".parse().unwrap();
        let responder = Responder::start(
            &router.name,
            crate::dns::Answer {
                v6: vec![node_v6],
                v4: vec![Ipv4Addr::new(10, 224, 224, 1)],
            },
        );
        let plan = LanPlan::new(
            "lan0",
            "fd11:2233:4455:6677::".parse().unwrap(),
            Ipv4Addr::new(10, 99, 7, 0),
            responder.addr,
            &t.0.join("run"),
        )
        .unwrap();
        for (a, len) in plan.addresses() {
            let a = format!("{a}/{len}");
            let mut args = vec!["addr", "add", &a, "dev", "lan0"];
            if a.contains(':') {
                args.push("nodad");
            }
            router.ip(&args).unwrap();
        }
        router.ip(&["link", "set", "lan0", "up"]).unwrap();

        let mut d = Dnsmasq::new(plan.clone());
        d.set_binary(binary);
        d.set_wrapper(
            ["ip", "netns", "exec", &router.name]
                .map(String::from)
                .to_vec(),
        );
        let pid = d.start(Instant::now()).unwrap();
        // dnsmasq writes its pid file once it is set up.
        let up = wait_for(Duration::from_secs(5), || {
            if let Some(e) = d.poll(Instant::now()) {
                panic!("{e}");
            }
            std::fs::read_to_string(plan.pid_path()).is_ok_and(|s| s.trim() == pid.to_string())
        });
        assert!(up.is_some(), "no pid file {}", plan.pid_path().display());

        client.ip(&["link", "set", "cli0", "up"]).unwrap();

        // DHCPv4: a lease from the range.
        let out = client
            .cmd("busybox")
            .args(["udhcpc", "-i", "cli0", "-n", "-q", "-f", "-s", "/bin/true"])
            .args(["-t", "5", "-T", "1"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "udhcpc: {text}");
        let lease: Ipv4Addr = text
            .split("lease of ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no lease in {text}"));
        let (first, last) = plan.dhcp_range();
        assert!((first..=last).contains(&lease), "{lease}");
        let leased = wait_for(Duration::from_secs(2), || {
            std::fs::read_to_string(plan.lease_path())
                .is_ok_and(|s| s.contains(&format!(" {lease} ")))
        });
        assert!(leased.is_some(), "{lease} not in the lease file");
        // What udhcpc's script would do with it (ours was /bin/true).
        client
            .ip(&["addr", "add", &format!("{lease}/24"), "dev", "cli0"])
            .unwrap();

        // SLAAC: an address from the /64, through duplicate address
        // detection.
        let in_prefix = |a: &Ipv6Addr| a.segments()[..4] == plan.prefix6().segments()[..4];
        let mut slaac = None;
        wait_for(Duration::from_secs(10), || {
            let out = client.ip(&["-6", "addr", "show", "dev", "cli0"]).unwrap();
            slaac = String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
                let mut w = l.split_whitespace();
                if w.next() != Some("inet6") || l.contains("tentative") {
                    return None;
                }
                let a: Ipv6Addr = w.next()?.strip_suffix("/64")?.parse().ok()?;
                in_prefix(&a).then_some(a)
            });
            slaac.is_some()
        });
        let slaac = slaac.expect("no SLAAC address from the /64 within 10 s");
        assert_ne!(slaac, plan.router_v6());

        // .mesh through dnsmasq to the responder, at the DHCP-given and
        // the RDNSS server address.
        if Command::new("dig").arg("-v").output().is_ok() {
            for server in [plan.router_v4().to_string(), plan.router_v6().to_string()] {
                let out = client
                    .cmd("dig")
                    .args([&format!("@{server}"), NAME, "AAAA", "+short"])
                    .args(["+time=2", "+tries=2"])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                assert_eq!(text.trim(), node_v6.to_string(), "via {server}");
            }
        } else {
            println!("dig is not installed: the .mesh lookup through dnsmasq is not checked");
        }

        // Stopped: no dnsmasq left in the namespace, no pid file.
        assert!(d.poll(Instant::now()).is_none());
        d.stop();
        assert!(!alive(pid));
        assert!(!plan.pid_path().exists());
        let pids = Command::new("ip")
            .args(["netns", "pids", &router.name])
            .output()
            .unwrap();
        let pids = String::from_utf8_lossy(&pids.stdout).into_owned();
        assert_eq!(pids.trim(), "", "processes left in the router namespace");
        drop(responder);
    }
}
