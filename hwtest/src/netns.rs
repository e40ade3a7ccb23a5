//! Network-namespace test runner: namespaces joined by veth pairs, real
//! processes inside, everything removed again.
//!
//! Safety of the host: every namespace is named `mt<pid>-<n>-<name>` and made
//! here; nothing touches the host's interfaces. Guards delete namespaces and
//! kill processes on drop (also when a test panics); namespaces left by a
//! run that was killed outright are removed by [`sweep_stale`], which every
//! [`Netns::new`] calls first (their pid is no longer alive).
//!
//! ```text
//!   line(3):   [mtP-n0] m1 ==veth== m0 [mtP-n1] m1 ==veth== m0 [mtP-n2]
//! ```

use std::io;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Is this process root (needed for namespaces and raw sockets)?
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Should a test that needs root run? Outside CI it skips (saying so)
/// when not root; under `CI` it must run and fails if it cannot.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI runs as root, but this is not root"
    );
    println!("skipping {test}: needs root (network namespaces, raw sockets)");
    false
}

fn ip(args: &[&str]) -> io::Result<Output> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

/// Remove namespaces `mt<pid>-*` whose process is gone.
pub fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("mt") else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Create `mt<pid>-<n>-<short>` (n counts up within the process, so
    /// tests running in parallel threads never share a namespace) with
    /// loopback up.
    pub fn new(short: &str) -> io::Result<Self> {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        sweep_stale();
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("mt{}-{n}-{short}", std::process::id());
        let _ = ip(&["netns", "del", &name]);
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `ip -n NS ARGS...`
    pub fn ip(&self, args: &[&str]) -> io::Result<Output> {
        let mut v = vec!["-n", self.name.as_str()];
        v.extend_from_slice(args);
        ip(&v)
    }

    /// A command run inside the namespace.
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    /// Start a long-running process inside; killed on drop of the guard.
    pub fn spawn(&self, prog: &str, args: &[&str], log: &std::path::Path) -> io::Result<Proc> {
        let f = std::fs::File::create(log)?;
        let child = self
            .cmd(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()?;
        Ok(Proc { child })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Join `a`'s interface `ia` and `b`'s `ib` with a veth pair, both up.
pub fn veth(a: &Netns, ia: &str, b: &Netns, ib: &str, mtu: u16) -> io::Result<()> {
    let mtu = mtu.to_string();
    a.ip(&[
        "link", "add", ia, "mtu", &mtu, "type", "veth", "peer", "name", ib, "mtu", &mtu, "netns",
        &b.name,
    ])?;
    a.ip(&["link", "set", ia, "up"])?;
    b.ip(&["link", "set", ib, "up"])?;
    Ok(())
}

/// A process in a namespace; on drop it gets SIGTERM (so it can clean up
/// after itself), then SIGKILL if it has not exited within a second.
#[derive(Debug)]
pub struct Proc {
    pub child: Child,
}

impl Proc {
    /// SIGKILL it now (a crash, as far as the process can tell) and reap it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send a signal by number (e.g. 10 = SIGUSR1, 15 = SIGTERM).
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        let st = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()?;
        if st.success() {
            Ok(())
        } else {
            Err(io::Error::other("kill failed"))
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.signal(15);
            let exited = wait_for(Duration::from_secs(1), || {
                matches!(self.child.try_wait(), Ok(Some(_)))
            });
            if exited.is_none() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// Poll `f` every 50 ms until it returns true or `limit` passes; the time
/// it took.
pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// A shell that outlives a Ctrl-C of hwtest (it ignores SIGINT/SIGTERM/
/// SIGHUP), waits for this process to exit, then kills the processes left
/// in its namespaces (`mt<pid>-*`, all made by this process) and deletes
/// them. The benches start one, since a Ctrl-C ends hwtest before its
/// guards run; after a normal exit there is nothing left for it to do.
pub fn janitor() -> io::Result<()> {
    let pid = std::process::id();
    let script = format!(
        "trap '' INT TERM HUP
while kill -0 {pid} 2>/dev/null; do sleep 1; done
for n in $(ip netns list | awk '{{print $1}}' | grep '^mt{pid}-'); do
  for p in $(ip netns pids \"$n\"); do kill -9 \"$p\"; done
  ip netns del \"$n\"
done"
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
}

/// Find a program in PATH or the sbin directories.
pub fn which(prog: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| std::path::Path::new(d).join(prog))
        .find(|p| p.is_file());
    found
}

/// A string or number field of a flat JSON row (meshctl's answers).
pub fn field(json: &str, key: &str) -> String {
    let Some(rest) = json.split(&format!("\"{key}\":")).nth(1) else {
        return String::new();
    };
    let rest = rest.trim_start();
    match rest.strip_prefix('"') {
        Some(s) => s[..s.find('"').unwrap_or(s.len())].to_string(),
        None => rest[..rest.find([',', '}']).unwrap_or(rest.len())].to_string(),
    }
}
