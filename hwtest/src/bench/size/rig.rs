//! The RSS measurement of `bench size`: a real meshd in one network
//! namespace, the OGM flood of [`super::flood`] in another, one veth
//! between them.
//!
//! ```text
//!   [mt<pid>-n-szm]  meshd -i wlmesh0 -t bat0     (the node under test)
//!          wlmesh0 ==veth, MTU 1532== flood0
//!   [mt<pid>-n-szf]  python3 raw-socket shim <-> hwtest (stdin/stdout, hex)
//! ```
//!
//! hwtest has no unsafe code and no socket crate, so a ten-line Python
//! program moves frames between an AF_PACKET socket on `flood0` and its
//! stdin/stdout (one hex line per frame, its own transmissions skipped);
//! every byte of every frame is built and parsed here with the `batman`
//! wire reprs. One thread sends a flood round every second, another reads
//! meshd's frames and answers its own OGMs with the neighbours' echoes at
//! once.

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use batman::wire::PacketType;
use batman::Mac;

use super::flood::{echoes, split_frame, Flood};
use super::parse::{self, Status};
use crate::netns::{veth, wait_for, Netns, Proc};

/// The frame pump, run with `python3 -u -c SHIM IFACE`.
pub const SHIM: &str = r#"
import os, socket, sys, threading
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x4305))
s.bind((sys.argv[1], 0x4305))
def tx():
    for line in sys.stdin:
        line = line.strip()
        if line:
            try:
                s.send(bytes.fromhex(line))
            except OSError as e:
                sys.stderr.write("send: %s\n" % e)
    os._exit(0)
threading.Thread(target=tx, daemon=True).start()
while True:
    data, addr = s.recvfrom(65535)
    if addr[2] != socket.PACKET_OUTGOING:
        sys.stdout.write(data.hex() + "\n")
        sys.stdout.flush()
"#;

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Seconds from meshd's start until `meshctl o` listed every
    /// originator of the flood (`None`: not within the timeout).
    pub all_known: Option<f64>,
    /// `meshctl o` / `meshctl tg` rows at the end.
    pub known: usize,
    pub tt_global: usize,
    /// VmRSS samples (KiB), and the status at the last sample.
    pub rss: Vec<u64>,
    pub last: Status,
    /// Frames meshd sent on its link during the run, and of those the
    /// BCASTs (its bat0's own IPv6 chatter, flooded) and UNICAST_TVLVs
    /// (TT requests: there are none when the flood's TT TVLVs are right).
    pub frames_from_node: u64,
    pub bcast_frames: u64,
    pub unicast_tvlv_frames: u64,
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub originators: usize,
    pub neighbours: usize,
    pub settle_secs: f64,
    pub samples: usize,
    pub timeout_secs: f64,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Send one frame through the shim.
fn send(stdin: &Mutex<ChildStdin>, frame: &[u8]) -> io::Result<()> {
    let mut line = parse::hex(frame);
    line.push('\n');
    let mut s = stdin.lock().map_err(|_| other("stdin lock poisoned"))?;
    s.write_all(line.as_bytes())
}

/// `meshd ctl -s SOCK -j VERB`.
fn meshctl(meshd: &Path, sock: &Path, verb: &str) -> Option<String> {
    let o = Command::new(meshd)
        .arg("ctl")
        .arg("-s")
        .arg(sock)
        .args(["-j", verb])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// `/proc/PID/status` of the daemon, once it is meshd itself (not
/// `ip netns exec` any more).
fn daemon_status(p: &Proc) -> Option<Status> {
    let text = std::fs::read_to_string(format!("/proc/{}/status", p.child.id())).ok()?;
    let name = parse::status_name(&text)?;
    // The kernel's comm is at most 15 bytes: a renamed binary still counts.
    (name != "ip").then(|| parse::status(&text))?
}

/// One run: fresh namespaces, meshd, the flood; `say` gets progress.
pub fn run_once(
    meshd: &Path,
    python: &Path,
    work: &Path,
    tag: &str,
    spec: &RunSpec,
    say: &dyn Fn(String),
) -> io::Result<RunResult> {
    let ns_node = Netns::new("szm")?;
    let ns_flood = Netns::new("szf")?;
    veth(&ns_node, "wlmesh0", &ns_flood, "flood0", 1532)?;
    let mac_out = ns_node.ip(&["-br", "link", "show", "wlmesh0"])?;
    let node_mac = parse::ip_br_mac(&String::from_utf8_lossy(&mac_out.stdout))
        .ok_or_else(|| other("no MAC on wlmesh0"))?;

    // The shim first, so that meshd's first OGMs are answered.
    let shim_log = work.join(format!("{tag}-shim.log"));
    let mut child = ns_flood
        .cmd(&python.to_string_lossy())
        .args(["-u", "-c", SHIM, "flood0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&shim_log)?)
        .spawn()?;
    let stdin = Arc::new(Mutex::new(
        child.stdin.take().ok_or_else(|| other("no stdin"))?,
    ));
    let stdout = child.stdout.take().ok_or_else(|| other("no stdout"))?;
    let shim = Proc { child };

    let flood = Flood::new(spec.originators, spec.neighbours, 1000);
    let neighbours: Vec<Mac> = flood.neighbours().to_vec();
    let stop = Arc::new(AtomicBool::new(false));
    // Frames from meshd: all, BCAST, UNICAST_TVLV.
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());

    let reader: JoinHandle<()> = {
        let stdin = stdin.clone();
        let counts = counts.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(b) = parse::unhex(&line) else {
                    continue;
                };
                let Some((_, src, payload)) = split_frame(&b) else {
                    continue;
                };
                if src != node_mac {
                    continue;
                }
                counts[0].fetch_add(1, Ordering::Relaxed);
                match PacketType::from_u8(payload.first().copied().unwrap_or(0xff)) {
                    Some(PacketType::IvOgm) => {}
                    Some(PacketType::Bcast) => {
                        counts[1].fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Some(PacketType::UnicastTvlv) => {
                        counts[2].fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    _ => continue,
                }
                for f in echoes(&neighbours, node_mac, src, payload) {
                    if send(&stdin, &f.bytes()).is_err() {
                        return;
                    }
                }
            }
        })
    };
    let ticker: JoinHandle<()> = {
        let (stdin, stop) = (stdin.clone(), stop.clone());
        let mut flood = flood.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for f in flood.round() {
                    if send(&stdin, &f.bytes()).is_err() {
                        return;
                    }
                }
                n += 1;
                let next = t0 + Duration::from_secs(n as u64);
                while !stop.load(Ordering::Relaxed) && Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(20).min(next - Instant::now()));
                }
            }
        })
    };

    let sock = work.join(format!("{tag}.sock"));
    let log = work.join(format!("{tag}-meshd.log"));
    let t0 = Instant::now();
    let mut daemon = ns_node.spawn(
        &meshd.to_string_lossy(),
        &[
            "daemon",
            "-i",
            "wlmesh0",
            "-t",
            "bat0",
            "-s",
            &sock.to_string_lossy(),
        ],
        &log,
    )?;
    let count = |verb: &str, key: &str| {
        meshctl(meshd, &sock, verb)
            .and_then(|j| parse::ctl_rows(&j, key))
            .unwrap_or(0)
    };
    let target = spec.originators;
    let mut r = RunResult::default();
    // meshctl every 250 ms (not wait_for's 50: each call is a process).
    let mut known = None;
    while t0.elapsed().as_secs_f64() < spec.timeout_secs {
        if count("o", "orig") >= target {
            known = Some(t0.elapsed());
            break;
        }
        if let Ok(Some(_)) = daemon.child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let result = (|| {
        if let Ok(Some(st)) = daemon.child.try_wait() {
            return Err(other(format!(
                "meshd exited ({st}); log: {}",
                log.display()
            )));
        }
        r.all_known = known.map(|d| d.as_secs_f64());
        match r.all_known {
            Some(t) => say(format!("all {target} originators known after {t:.1} s")),
            None => say(format!(
                "only {} of {target} originators known after {} s",
                count("o", "orig"),
                spec.timeout_secs
            )),
        }
        std::thread::sleep(Duration::from_secs_f64(spec.settle_secs));
        for i in 0..spec.samples {
            if i > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
            let st = wait_for(Duration::from_secs(2), || daemon_status(&daemon).is_some())
                .and_then(|_| daemon_status(&daemon))
                .ok_or_else(|| other("cannot read meshd's /proc/PID/status"))?;
            r.rss.push(st.vm_rss);
            r.last = st;
        }
        r.known = count("o", "orig");
        r.tt_global = count("tg", "client");
        io::Result::Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    r.frames_from_node = counts[0].load(Ordering::Relaxed);
    r.bcast_frames = counts[1].load(Ordering::Relaxed);
    r.unicast_tvlv_frames = counts[2].load(Ordering::Relaxed);
    drop(daemon);
    drop(shim);
    let _ = reader.join();
    drop(stdin);
    let _ = std::fs::remove_file(&sock);
    result.map(|_| r)
}

/// A Python 3 interpreter: the system's first (it needs no user setup
/// inside a namespace), else the first in PATH.
pub fn python() -> Option<PathBuf> {
    let sys = PathBuf::from("/usr/bin/python3");
    if sys.is_file() {
        return Some(sys);
    }
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("python3"))
        .find(|p| p.is_file())
}
