//! meshd in lines with real Linux batman-adv nodes (QEMU VMs from
//! ../shared/tools/batadv-vm; root only, skipped otherwise).
//!
//! ```text
//!   kernel_meshd_kernel_line:
//!     VM A == tap ka<P> [mtP-km] meshd -i ka<P> -i kb<P> == tap kb<P> == VM B
//!     (two point-to-point taps: A and B only meet through meshd)
//!
//!   meshd_kernel_meshd_line:
//!     [mtP-kx] meshd bat0 m0 ==veth== px --+
//!                                          br0 [mtP-kbr] -- tap kk<P> == VM K
//!     [mtP-ky] meshd bat0 m0 ==veth== py --+
//!     (px and py are isolated bridge ports: no frame passes px <-> py, so
//!      X and Y only hear each other through the kernel node, which
//!      rebroadcasts OGMs and forwards unicast out of its one interface)
//! ```
//!
//! The VMs boot under TCG on this 2-core host (7-20 s), so the two tests
//! take a mutex and never boot VMs at the same time. Every stage prints
//! how long it took; a failure prints the meshd logs, the guests'
//! `batctl` tables and the tail of their console logs.

use hwtest::netns::{require_root, veth, wait_for, Netns, Proc};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MESHD: &str = env!("CARGO_BIN_EXE_meshd");

/// Held by a test for its whole run: one test's VMs at a time.
static VMS: Mutex<()> = Mutex::new(());

fn vm_tool() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/batadv-vm/batadv-vm.sh")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Stage timings on stderr: `[test] +3.2s (12.5s) what`.
struct Clock {
    test: &'static str,
    t0: Instant,
    last: Instant,
}

impl Clock {
    fn new(test: &'static str) -> Self {
        let now = Instant::now();
        Clock {
            test,
            t0: now,
            last: now,
        }
    }

    fn mark(&mut self, what: &str) {
        let now = Instant::now();
        eprintln!(
            "[{}] +{:.1}s (at {:.1}s) {what}",
            self.test,
            (now - self.last).as_secs_f64(),
            (now - self.t0).as_secs_f64()
        );
        self.last = now;
    }
}

/// A batadv-vm guest, stopped on drop (after printing its tables and
/// console log if the test is failing).
struct Vm {
    name: String,
    ready: String,
}

impl Vm {
    fn sh(args: &[&str], bridge: Option<&str>) -> Output {
        let mut c = Command::new("bash");
        c.arg(vm_tool()).args(args);
        // addresses derive from the MAC; a bridge only where asked for
        for v in ["BATADV_VM_IP4", "BATADV_VM_IP6", "BATADV_VM_BRIDGE"] {
            c.env_remove(v);
        }
        if let Some(b) = bridge {
            c.env("BATADV_VM_BRIDGE", b);
        }
        c.output().expect("bash runs")
    }

    /// Launch (returns once qemu daemonized and the tap exists). The
    /// guard exists even when the launch fails, so a half-started qemu
    /// is stopped too.
    fn start(name: &str, ns: &Netns, mac: &str, bridge: Option<&str>) -> (Vm, Result<(), String>) {
        let out = Self::sh(&["start", name, &ns.name, mac], bridge);
        let vm = Vm {
            name: name.to_string(),
            ready: String::new(),
        };
        let res = if out.status.success() {
            Ok(())
        } else {
            Err(format!("batadv-vm.sh start {name}: {}", text(&out)))
        };
        (vm, res)
    }

    /// Block until the guest printed its READY line; keep that line.
    fn wait(&mut self) -> Result<(), String> {
        let out = Self::sh(&["wait", &self.name, "180"], None);
        if !out.status.success() {
            return Err(format!(
                "batadv-vm.sh wait {}: {}\nconsole:\n{}",
                self.name,
                text(&out),
                tail(&self.console(), 40)
            ));
        }
        self.ready = self
            .console()
            .lines()
            .find(|l| l.contains("BATADV-VM: READY"))
            .unwrap_or_default()
            .to_string();
        // The guest starts reading its command channel a moment after
        // READY; a command sent before that is lost (`exec` then waits
        // out its 30 s timeout). Probe with a short timeout until one
        // gets through.
        let listening = wait_for(Duration::from_secs(60), || {
            let mut c = Command::new("bash");
            c.arg(vm_tool()).args(["exec", &self.name, "true"]);
            c.env("BATADV_VM_EXEC_TIMEOUT", "2");
            c.output().map(|o| o.status.success()).unwrap_or(false)
        });
        if listening.is_none() {
            return Err(format!("{}: command channel never answered", self.name));
        }
        Ok(())
    }

    /// A field of the READY line (`bat0=`, `ip4=`, `ip6=`), without any
    /// `/prefix`.
    fn field(&self, key: &str) -> String {
        self.ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.ready))
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// Run a shell command in the guest: (success, output).
    fn exec(&self, cmd: &str) -> (bool, String) {
        let out = Self::sh(&["exec", &self.name, cmd], None);
        (out.status.success(), text(&out))
    }

    fn console(&self) -> String {
        text(&Self::sh(&["log", &self.name], None))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let (_, tables) = self.exec(
                "batctl o -H; echo --- n; batctl n -H; echo --- tg; batctl tg -H; echo --- tl; batctl tl -H",
            );
            eprintln!("==== VM {} batctl o / n / tg / tl:\n{tables}", self.name);
            eprintln!(
                "==== VM {} console (last 150 lines):\n{}",
                self.name,
                tail(&self.console(), 150)
            );
        }
        Self::sh(&["stop", &self.name], None);
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Launch the guests together (they boot in parallel), then wait for all
/// of them. `None` (after saying why) when the VM tool or qemu is
/// unusable here: the test then skips, except under CI.
fn boot(vms: &[(&str, &Netns, &str, Option<&str>)]) -> Option<Vec<Vm>> {
    let tool = vm_tool();
    let fail = |why: String| {
        assert!(std::env::var_os("CI").is_none(), "CI needs the VMs: {why}");
        println!("skipping: cannot run batadv-vm guests here: {why}");
        None
    };
    if !tool.exists() {
        return fail(format!("{} not found", tool.display()));
    }
    let mut out = Vec::new();
    for (name, ns, mac, bridge) in vms {
        let (vm, res) = Vm::start(name, ns, mac, *bridge);
        out.push(vm);
        if let Err(e) = res {
            return fail(format!("qemu did not start: {e}"));
        }
    }
    for vm in &mut out {
        if let Err(e) = vm.wait() {
            return fail(format!("guest never became ready: {e}"));
        }
    }
    for vm in &out {
        // BLA makes a fresh kernel node drop its own broadcasts (ARP
        // requests) for ~25 s; we test routing, not BLA.
        let (ok, o) = vm.exec("batctl bl 0");
        assert!(ok, "batctl bl 0 in {}: {o}", vm.name);
    }
    Some(out)
}

/// meshd in a namespace with its own control socket; prints its log if
/// the test fails.
struct Meshd {
    ns: String,
    sock: String,
    log: PathBuf,
    proc: Option<Proc>,
}

impl Meshd {
    fn spawn(ns: &Netns, args: &[&str]) -> Meshd {
        let sock = std::env::temp_dir()
            .join(format!("{}.sock", ns.name))
            .to_str()
            .expect("utf-8 path")
            .to_string();
        let log = std::env::temp_dir().join(format!("meshd-interop-{}.log", ns.name));
        let mut all = vec!["daemon"];
        all.extend_from_slice(args);
        all.extend(["-s", sock.as_str()]);
        let proc = ns.spawn(MESHD, &all, &log).expect("meshd starts");
        Meshd {
            ns: ns.name.clone(),
            sock,
            log,
            proc: Some(proc),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `meshd ctl -s SOCK ARGS...` (stdout, or the error).
    fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new(MESHD)
            .args(["ctl", "-s", &self.sock])
            .args(args)
            .output()
            .expect("meshd ctl runs");
        text(&out)
    }

    /// (next hop, interface) of the selected route to `orig`, from
    /// `meshd ctl -j o`.
    fn route(&self, orig: &str) -> Option<(String, String)> {
        let j = self.ctl(&["-j", "o"]);
        let key = format!("\"orig\":\"{orig}\"");
        let row = j.split('{').find(|r| r.contains(&key))?;
        Some((json_str(row, "next_hop")?, json_str(row, "iface")?))
    }
}

impl Drop for Meshd {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "==== meshd in {} `o`:\n{}\n`n`:\n{}\n`tg`:\n{}",
                self.ns,
                self.ctl(&["o"]),
                self.ctl(&["n"]),
                self.ctl(&["tg"])
            );
        }
        drop(self.proc.take());
        if std::thread::panicking() {
            eprintln!("==== meshd log ({}):\n{}", self.ns, tail(&self.log(), 200));
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The string value of `key` in one flat JSON object.
fn json_str(row: &str, key: &str) -> Option<String> {
    let rest = row.split(&format!("\"{key}\":\"")).nth(1)?;
    Some(rest[..rest.find('"')?].to_string())
}

/// The MAC of interface `dev` in `ns`.
fn mac_of(ns: &Netns, dev: &str) -> String {
    let o = ns.ip(&["-br", "link", "show", dev]).expect("interface");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .nth(2)
        .expect("MAC column")
        .to_lowercase()
}

/// The next hop of the selected route (`*`) to `orig` in `batctl o -H`
/// output (` * <orig> <seen>s (<tq>) <next hop> [<iface>]`).
fn kernel_route(table: &str, orig: &str) -> Option<String> {
    table.lines().find_map(|l| {
        let l = l.trim_start().strip_prefix('*')?;
        if l.split_whitespace().next()? != orig {
            return None;
        }
        Some(l.split(')').nth(1)?.split_whitespace().next()?.to_string())
    })
}

/// A ping in namespace `ns` (one echo, 1 s).
fn ns_ping(ns: &Netns, to: &str) -> bool {
    ns.cmd("ping")
        .args(["-c", "1", "-W", "1", to])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Kernel A — meshd — kernel B: two batman-adv nodes that share no link
/// reach each other through meshd. A selects B's originator via meshd's
/// interface towards A (and B the other way), each kernel lists the
/// other's bat0 in its global translation table, and the kernel bat0s
/// ping each other both ways over IPv4 and IPv6 (ARP/ND as batman
/// broadcasts, then unicast, all relayed by meshd).
#[test]
fn kernel_meshd_kernel_line() {
    if !require_root("kernel_meshd_kernel_line") {
        return;
    }
    let _one = VMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut clock = Clock::new("kernel_meshd_kernel_line");
    let m = Netns::new("km").unwrap();
    let pid = std::process::id() % 100_000;
    let (na, nb) = (format!("ka{pid}"), format!("kb{pid}"));
    let (mac_a, mac_b) = ("02:ba:7a:00:00:61", "02:ba:7a:00:00:62");
    let Some(vms) = boot(&[(&na, &m, mac_a, None), (&nb, &m, mac_b, None)]) else {
        return;
    };
    let (a, b) = (&vms[0], &vms[1]);
    clock.mark("both VMs READY (boot in parallel, TCG)");

    let meshd = Meshd::spawn(&m, &["-i", &na, "-i", &nb]);
    let (via_a, via_b) = (mac_of(&m, &na), mac_of(&m, &nb));
    let ours = wait_for(Duration::from_secs(60), || {
        meshd.route(mac_a).is_some() && meshd.route(mac_b).is_some()
    });
    assert!(ours.is_some(), "meshd never routed to both kernel nodes");
    assert_eq!(meshd.route(mac_a), Some((mac_a.to_string(), na.clone())));
    assert_eq!(meshd.route(mac_b), Some((mac_b.to_string(), nb.clone())));
    clock.mark("meshd routes to A and B directly");

    // Each kernel selects the other through meshd's interface on its link.
    let mut tables = (String::new(), String::new());
    let kernels = wait_for(Duration::from_secs(90), || {
        tables = (a.exec("batctl o -H").1, b.exec("batctl o -H").1);
        kernel_route(&tables.0, mac_b).is_some() && kernel_route(&tables.1, mac_a).is_some()
    });
    assert!(
        kernels.is_some(),
        "the kernels never routed to each other:\nA:\n{}\nB:\n{}",
        tables.0,
        tables.1
    );
    assert_eq!(
        kernel_route(&tables.0, mac_b).as_deref(),
        Some(via_a.as_str()),
        "A's route to B is not via meshd:\n{}",
        tables.0
    );
    assert_eq!(
        kernel_route(&tables.1, mac_a).as_deref(),
        Some(via_b.as_str()),
        "B's route to A is not via meshd:\n{}",
        tables.1
    );
    clock.mark("A routes to B via meshd and B to A (batctl o)");

    // Translation tables: each kernel knows the other's bat0 (full table
    // requests and replies are unicast TVLVs through meshd).
    let (bat_a, bat_b) = (a.field("bat0="), b.field("bat0="));
    let tt = wait_for(Duration::from_secs(90), || {
        a.exec("batctl tg -H").1.contains(&bat_b) && b.exec("batctl tg -H").1.contains(&bat_a)
    });
    assert!(
        tt.is_some(),
        "translation tables never agreed (A needs {bat_b}, B needs {bat_a})"
    );
    clock.mark("A's tg has B's bat0 and B's tg has A's");

    let ping = |from: &Vm, to: &str| from.exec(&format!("ping -c 1 -W 2 {to}")).0;
    for (from, to, what) in [
        (a, b.field("ip4="), "A -> B IPv4"),
        (b, a.field("ip4="), "B -> A IPv4"),
        (a, b.field("ip6="), "A -> B IPv6"),
        (b, a.field("ip6="), "B -> A IPv6"),
    ] {
        if wait_for(Duration::from_secs(45), || ping(from, &to)).is_none() {
            let (_, last) = from.exec(&format!("ping -c 1 -W 2 {to}"));
            panic!("no ping {what} ({to}) over bat0:\n{last}");
        }
        clock.mark(&format!("ping {what} ({to}) over bat0"));
    }
}

/// meshd X — kernel node K — meshd Y: X and Y hear only the kernel node,
/// which rebroadcasts their OGMs and forwards their unicast out of its
/// single interface. X routes to Y via K's MAC (and Y to X), neither has
/// the other as a neighbour, and their bat0s ping each other both ways
/// over IPv4 and IPv6.
///
/// batadv-vm gives a guest one NIC, so the three share a bridge whose
/// ports towards X and Y are isolated from each other (`bridge_slave
/// isolated on`: isolated ports only exchange frames with non-isolated
/// ones, here the VM's tap).
#[test]
fn meshd_kernel_meshd_line() {
    if !require_root("meshd_kernel_meshd_line") {
        return;
    }
    let _one = VMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut clock = Clock::new("meshd_kernel_meshd_line");
    let br = Netns::new("kbr").unwrap();
    let x = Netns::new("kx").unwrap();
    let y = Netns::new("ky").unwrap();
    br.ip(&[
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
    ])
    .unwrap();
    veth(&x, "m0", &br, "px", 1532).unwrap();
    veth(&y, "m0", &br, "py", 1532).unwrap();
    for p in ["px", "py"] {
        br.ip(&["link", "set", p, "master", "br0"]).unwrap();
        br.ip(&["link", "set", p, "type", "bridge_slave", "isolated", "on"])
            .unwrap();
    }
    br.ip(&["link", "set", "br0", "mtu", "1532", "up"]).unwrap();
    let (mac_x, mac_y) = (mac_of(&x, "m0"), mac_of(&y, "m0"));
    let nk = format!("kk{}", std::process::id() % 100_000);
    let mac_k = "02:ba:7a:00:00:71";
    let Some(vms) = boot(&[(&nk, &br, mac_k, Some("br0"))]) else {
        return;
    };
    let k = &vms[0];
    let ports = String::from_utf8_lossy(
        &br.cmd("bridge")
            .args(["-d", "link"])
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    assert!(
        ports.lines().filter(|l| l.contains("isolated on")).count() == 2,
        "px/py not isolated:\n{ports}"
    );
    clock.mark("VM K READY on br0 (px, py isolated)");

    // X and Y also run the node layer: their announcements ride K's OGM
    // rebroadcasts and K routes their UNICAST_TVLVs (record requests and
    // end-to-end sessions) like any unicast.
    let state = std::env::temp_dir().join(format!("meshd-interop-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let (sx, sy) = (state.join("x"), state.join("y"));
    let (sx, sy) = (sx.to_str().unwrap(), sy.to_str().unwrap());
    let mx = Meshd::spawn(
        &x,
        &[
            "-i",
            "m0",
            "-t",
            "bat0",
            "--state-dir",
            sx,
            "--name",
            "x",
            "--anonymous",
            "none",
        ],
    );
    let my = Meshd::spawn(
        &y,
        &[
            "-i",
            "m0",
            "-t",
            "bat0",
            "--state-dir",
            sy,
            "--name",
            "y",
            "--anonymous",
            "none",
        ],
    );
    for (ns, n) in [(&x, 1), (&y, 2)] {
        let up = wait_for(Duration::from_secs(5), || {
            ns.ip(&["link", "show", "bat0"]).is_ok()
        });
        assert!(up.is_some(), "no bat0 in {}", ns.name);
        ns.ip(&["addr", "add", &format!("10.98.0.{n}/24"), "dev", "bat0"])
            .unwrap();
        ns.ip(&[
            "addr",
            "add",
            &format!("fd98::{n}/64"),
            "dev",
            "bat0",
            "nodad",
        ])
        .unwrap();
    }
    let direct = wait_for(Duration::from_secs(60), || {
        mx.route(mac_k).is_some() && my.route(mac_k).is_some()
    });
    assert!(direct.is_some(), "meshd never routed to the kernel node");
    clock.mark("X and Y route to K");

    let relayed = wait_for(Duration::from_secs(60), || {
        mx.route(&mac_y).is_some() && my.route(&mac_x).is_some()
    });
    assert!(relayed.is_some(), "X and Y never routed to each other");
    let via_k = Some((mac_k.to_string(), "m0".to_string()));
    assert_eq!(mx.route(&mac_y), via_k, "X's route to Y is not via K");
    assert_eq!(my.route(&mac_x), via_k, "Y's route to X is not via K");
    // The isolation holds: X and Y never heard each other directly.
    assert!(
        !mx.ctl(&["-j", "n"]).contains(&mac_y) && !my.ctl(&["-j", "n"]).contains(&mac_x),
        "X and Y are direct neighbours: the bridge isolation leaks"
    );
    clock.mark("X routes to Y via K's MAC and Y to X (meshctl o)");

    let ping = |from: &Netns, to: &str, what: &str, clock: &mut Clock| {
        let ok = wait_for(Duration::from_secs(60), || ns_ping(from, to));
        assert!(ok.is_some(), "no ping {what} ({to}) over bat0");
        clock.mark(&format!("ping {what} ({to}) over bat0"));
    };
    ping(&x, "10.98.0.2", "X -> Y IPv4", &mut clock);
    ping(&y, "10.98.0.1", "Y -> X IPv4", &mut clock);
    ping(&x, "fd98::2", "X -> Y IPv6", &mut clock);
    ping(&y, "fd98::1", "Y -> X IPv6", &mut clock);
    // Still relayed, not learned directly while traffic flowed.
    assert_eq!(mx.route(&mac_y), via_k, "X's route to Y moved off K");
    // and the kernel node lists both meshd nodes as direct originators
    let (_, table) = k.exec("batctl o -H");
    assert_eq!(kernel_route(&table, &mac_x), Some(mac_x.clone()), "{table}");
    assert_eq!(kernel_route(&table, &mac_y), Some(mac_y.clone()), "{table}");

    // The node layer across the kernel relay: each has the other's signed
    // record, and their mesh0s reach each other end-to-end encrypted.
    let known = wait_for(Duration::from_secs(30), || {
        mx.ctl(&["dir"]).contains("y.mesh") && my.ctl(&["dir"]).contains("x.mesh")
    });
    assert!(
        known.is_some(),
        "directories across K:\nX:\n{}\nY:\n{}\n{}",
        mx.ctl(&["dir"]),
        my.ctl(&["dir"]),
        mx.log()
    );
    clock.mark("X and Y hold each other's signed record (via K)");
    let field = |json: &str, k: &str| -> String {
        let rest = json
            .split(&format!("\"{k}\":\""))
            .nth(1)
            .unwrap_or_default();
        rest[..rest.find('"').unwrap_or(0)].to_string()
    };
    let (ax, ay) = (
        field(&mx.ctl(&["-j", "id"]), "address"),
        field(&my.ctl(&["-j", "id"]), "address"),
    );
    for (from, to, what) in [(&x, &ay, "X -> Y"), (&y, &ax, "Y -> X")] {
        let ok = wait_for(Duration::from_secs(30), || ns_ping(from, to));
        assert!(
            ok.is_some(),
            "no ping {what} ({to}) over mesh0:\n{}\n{}",
            mx.ctl(&["s"]),
            my.log()
        );
        clock.mark(&format!("ping {what} ({to}) over mesh0 through K"));
    }
    let _ = std::fs::remove_dir_all(&state);
}

/// meshd and a kernel node on one link: each lists the other in its
/// originator table (meshctl o, batctl o), their translation tables name
/// each other's bat0, their bat0s ping each other (IPv4 and IPv6), and
/// `meshctl ping`/`tr` reach the kernel with batman ICMP. Both announce a
/// gateway and each lists the other's (`meshctl gwl`, `batctl gwl`), and
/// `meshctl td` decodes everything the kernel sends without a malformed
/// frame.
///
/// ```text
///   [mtP-k1] meshd bat0 -i k1<P> == tap k1<P> == VM (batman-adv)
/// ```
#[test]
fn kernel_and_meshd_on_one_link() {
    if !require_root("kernel_and_meshd_on_one_link") {
        return;
    }
    let _one = VMS.lock().unwrap_or_else(|e| e.into_inner());
    let mut clock = Clock::new("kernel_and_meshd_on_one_link");
    let k = Netns::new("k1").unwrap();
    let name = format!("k1{}", std::process::id() % 100_000);
    let kmac = "02:ba:7a:00:00:51";
    let Some(vms) = boot(&[(&name, &k, kmac, None)]) else {
        return;
    };
    let vm = &vms[0];
    clock.mark("VM READY");
    let (ok, o) = vm.exec("batctl gw_mode server 10mbit/2mbit");
    assert!(ok, "batctl gw_mode: {o}");

    let meshd = Meshd::spawn(&k, &["-i", &name, "-t", "bat0", "-g", "20mbit/4mbit"]);
    let up = wait_for(Duration::from_secs(5), || {
        k.ip(&["link", "show", "bat0"]).is_ok()
    });
    assert!(up.is_some(), "no bat0");
    k.ip(&["addr", "add", "192.168.77.200/24", "dev", "bat0"])
        .unwrap();
    k.ip(&["addr", "add", "fd00:ba7::c8/64", "dev", "bat0", "nodad"])
        .unwrap();
    let our_orig = mac_of(&k, &name);
    let ours = wait_for(Duration::from_secs(60), || meshd.route(kmac).is_some());
    assert!(ours.is_some(), "meshd never routed to the kernel node");
    let mut table = String::new();
    let theirs = wait_for(Duration::from_secs(60), || {
        table = vm.exec("batctl o -H").1;
        kernel_route(&table, &our_orig).is_some()
    });
    assert!(
        theirs.is_some(),
        "the kernel never routed to meshd:\n{table}"
    );
    clock.mark("each routes to the other (meshctl o, batctl o)");

    // Gateways, both ways.
    let gw = wait_for(Duration::from_secs(30), || {
        meshd.ctl(&["gwl"]).contains("10.0/2.0 MBit")
            && vm.exec("batctl gwl -H").1.contains(&our_orig)
    });
    assert!(
        gw.is_some(),
        "gateway lists:\nmeshd:\n{}\nkernel:\n{}",
        meshd.ctl(&["gwl"]),
        vm.exec("batctl gwl -H").1
    );
    let kgwl = vm.exec("batctl gwl -H").1;
    assert!(kgwl.contains("20.0/4.0 MBit"), "kernel gwl:\n{kgwl}");
    clock.mark("each lists the other's gateway (meshctl gwl, batctl gwl)");

    // Translation tables and pings over bat0.
    let our_bat0 = mac_of(&k, "bat0");
    let (vm_bat0, vm_ip4, vm_ip6) = (vm.field("bat0="), vm.field("ip4="), vm.field("ip6="));
    for to in [&vm_ip4, &vm_ip6] {
        let p = wait_for(Duration::from_secs(90), || ns_ping(&k, to));
        assert!(p.is_some(), "no ping meshd -> kernel {to} over bat0");
    }
    for to in ["192.168.77.200", "fd00:ba7::c8"] {
        let p = wait_for(Duration::from_secs(30), || {
            vm.exec(&format!("ping -c 1 -W 2 {to}")).0
        });
        assert!(p.is_some(), "no ping kernel -> meshd {to} over bat0");
    }
    // Pings can pass before the tables agree (unknown destinations go as
    // BCAST); a TT request lost on the slow VM link is retried after
    // batman::tt::REQUEST_TIMEOUT, so give the tables a few rounds.
    let tables = wait_for(Duration::from_secs(30), || {
        vm.exec("batctl tg -H").1.contains(&our_bat0) && meshd.ctl(&["tg"]).contains(&vm_bat0)
    });
    assert!(
        tables.is_some(),
        "translation tables disagree:\nkernel tg:\n{}\nmeshd tg:\n{}",
        vm.exec("batctl tg -H").1,
        meshd.ctl(&["tg"])
    );
    clock.mark("pings both ways over bat0 (IPv4, IPv6); translation tables agree");

    // batman ICMP: echo to the originator and to its client (bat0) MAC,
    // and a one-hop traceroute.
    let p = meshd.ctl(&["ping", "-c", "2", kmac]);
    assert!(p.contains(&format!("20 bytes from {kmac}")), "{p}");
    let p = meshd.ctl(&["ping", "-c", "1", &vm_bat0]);
    assert!(p.contains("1 received"), "{p}");
    let tr = meshd.ctl(&["tr", kmac]);
    assert!(tr.contains(&format!(" 1: {kmac}")), "{tr}");
    clock.mark("meshctl ping and tr answered by the kernel");

    // Live decode of the link: the kernel's frames all parse.
    let out = k
        .cmd(MESHD)
        .args(["ctl", "td", &name, "-c", "20", "-w", "15"])
        .output()
        .unwrap();
    let td = text(&out);
    assert!(out.status.success(), "{td}");
    assert!(td.contains(&format!("BAT {kmac}: OGM IV")), "{td}");
    assert!(td.contains("tvlv [") && td.contains("GW"), "{td}");
    assert!(!td.contains("malformed"), "{td}");
    clock.mark("meshctl td decodes the kernel's frames");
}
