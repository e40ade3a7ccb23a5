//! The daemon's driver: one tokio current-thread runtime, an AF_PACKET
//! socket per hard interface, the `batman` core in the middle. Thin on
//! purpose: every protocol decision is the core's.
//!
//! One reader task per socket hands frames to the main loop over a
//! channel; the main loop feeds them to the core, runs its timers at
//! `poll_timeout`, and sends what `poll_transmit` yields.

use std::io;
use std::time::Duration;

use batman::{Event, IfaceConfig, IfaceId, IfaceKind, Instant, Mac, Node};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use crate::sys::link::{link_info, LinkInfo};
use crate::sys::netlink::{self, LinkMonitor};
use crate::sys::packet::PacketSocket;
use crate::sys::tap::Tap;

/// How much the daemon says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Warn,
    Info,
    Debug,
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warn" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            o => Err(format!("unknown log level {o:?} (warn, info, debug)")),
        }
    }
}

/// What to run: a validated configuration, and the file it came from
/// (re-read on SIGHUP) if any.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: crate::config::Config,
    pub path: Option<std::path::PathBuf>,
    /// Control socket path.
    pub socket: std::path::PathBuf,
}

/// Channel keys of the soft interface's frames and of netlink messages
/// (hard interfaces count up from 0).
const FROM_TAP: usize = usize::MAX;
const FROM_NETLINK: usize = usize::MAX - 1;

/// SplitMix64 seeded from the kernel: jitter and initial seqnos only (no
/// secrets depend on it).
struct Rng(u64);

impl Rng {
    fn from_os() -> io::Result<Self> {
        let mut b = [0u8; 8];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
        Ok(Rng(u64::from_le_bytes(b)))
    }
}

impl batman::RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        for c in d.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), batman::rand_core::Error> {
        self.fill_bytes(d);
        Ok(())
    }
}

struct Hard {
    /// Channel key of this interface's frames (unique for the run).
    key: usize,
    id: IfaceId,
    info: LinkInfo,
    sock: std::rc::Rc<AsyncFd<PacketSocket>>,
    reader: tokio::task::AbortHandle,
}

impl Drop for Hard {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Something whose datagrams meshd reads (packet socket, TAP, netlink).
pub trait Datagrams {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl Datagrams for PacketSocket {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        PacketSocket::recv(self, buf)
    }
}

impl Datagrams for Tap {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Tap::recv(self, buf)
    }
}

impl Datagrams for LinkMonitor {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        LinkMonitor::recv(self, buf)
    }
}

/// A task that reads datagrams from `fd` and hands each, tagged with
/// `key`, to the main loop; it ends when the main loop is gone.
fn spawn_reader<T: Datagrams + std::os::fd::AsRawFd + 'static>(
    fd: std::rc::Rc<AsyncFd<T>>,
    key: usize,
    tx: mpsc::Sender<(usize, Vec<u8>)>,
    what: &'static str,
) -> tokio::task::AbortHandle {
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return;
            };
            match guard.try_io(|s| s.get_ref().recv(&mut buf)) {
                Ok(Ok(n)) => {
                    if tx.send((key, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
                Ok(Err(e)) => eprintln!("meshd: {what}: {e}"),
                Err(_would_block) => continue,
            }
        }
    })
    .abort_handle()
}

/// Open a hard interface: raw socket, core interface, reader task.
fn open_hard(
    name: &str,
    key: usize,
    node: &mut Node<Rng>,
    now: Instant,
    tx: &mpsc::Sender<(usize, Vec<u8>)>,
    log: LogLevel,
) -> io::Result<Hard> {
    let info = link_info(name)?;
    let sock = PacketSocket::open(info.ifindex).map_err(|e| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            io::Error::new(
                e.kind(),
                format!("{name}: opening a raw socket needs root or CAP_NET_RAW ({e})"),
            )
        } else {
            io::Error::new(e.kind(), format!("{name}: {e}"))
        }
    })?;
    let cfg = IfaceConfig {
        mac: info.mac,
        kind: if info.wireless {
            IfaceKind::Wireless
        } else {
            IfaceKind::Wired
        },
        mtu: info.mtu,
        hop_penalty: 0,
    };
    let id = node
        .add_iface(now, cfg)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: {e}")))?;
    if !info.carrier {
        node.set_carrier(now, id, false);
    }
    if log >= LogLevel::Info {
        eprintln!("meshd: {name} {} mtu {} as {:?}", info.mac, info.mtu, id);
    }
    let sock = std::rc::Rc::new(sock.into_async()?);
    let reader = spawn_reader(sock.clone(), key, tx.clone(), "receive");
    Ok(Hard {
        key,
        id,
        info,
        sock,
        reader,
    })
}

/// Run until SIGTERM or SIGINT.
pub fn run(opts: Options) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, main_loop(opts))
}

async fn main_loop(opts: Options) -> io::Result<()> {
    let start = std::time::Instant::now();
    let clock = move || Instant::from_micros(start.elapsed().as_micros() as u64);
    let mut cfg = opts.config.clone();
    let mut log = cfg.log;
    let mut node = Node::new(cfg.batman.clone(), Rng::from_os()?, clock())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let (tx, mut rx) = mpsc::channel::<(usize, Vec<u8>)>(1024);
    let mut hards: Vec<Hard> = Vec::new();
    let mut next_key = 0usize;
    for name in &cfg.interfaces {
        hards.push(open_hard(name, next_key, &mut node, clock(), &tx, log)?);
        next_key += 1;
    }
    let tap = match &cfg.soft_interface {
        Some(name) => {
            let t = Tap::open(name).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("soft interface {name}: {e} (needs root or CAP_NET_ADMIN)"),
                )
            })?;
            let t = std::rc::Rc::new(t.into_async()?);
            spawn_reader(t.clone(), FROM_TAP, tx.clone(), "soft interface read");
            match link_info(name) {
                Ok(i) => {
                    node.set_soft_mac(clock(), i.mac);
                    if log >= LogLevel::Info {
                        eprintln!("meshd: soft interface {name} {} up", i.mac);
                    }
                }
                Err(e) => eprintln!("meshd: soft interface {name}: {e}"),
            }
            Some(t)
        }
        None => None,
    };
    // Control socket: mode 0600 (umask while binding), one JSON line per
    // request; answered from the main loop, which owns the node.
    type CtlReq = (String, tokio::sync::oneshot::Sender<String>);
    let (ctx, mut crx) = mpsc::channel::<CtlReq>(16);
    let _ = std::fs::remove_file(&opts.socket);
    // umask is process-wide; it is changed around bind only.
    let listener = {
        let old = crate::sys::set_umask(0o177);
        let l = tokio::net::UnixListener::bind(&opts.socket);
        crate::sys::set_umask(old);
        l.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("control socket {}: {e}", opts.socket.display()),
            )
        })?
    };
    tokio::task::spawn_local(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let ctx = ctx.clone();
            tokio::task::spawn_local(async move {
                let (r, mut w) = stream.into_split();
                let mut line = String::new();
                let mut reader = BufReader::new(r);
                if reader.read_line(&mut line).await.is_err() || line.len() > 4096 {
                    return;
                }
                let answer = match crate::ctl::request_cmd(&line) {
                    Some(_) => {
                        let (otx, orx) = tokio::sync::oneshot::channel();
                        if ctx.send((line.clone(), otx)).await.is_err() {
                            return;
                        }
                        orx.await.unwrap_or_default()
                    }
                    None => "{\"ok\":false,\"error\":\"bad request\"}".to_string(),
                };
                let _ = w.write_all(format!("{answer}\n").as_bytes()).await;
            });
        }
    });
    type PendingPing = (
        u8,
        u16,
        std::time::Instant,
        tokio::sync::oneshot::Sender<String>,
    );
    let mut pings: Vec<PendingPing> = Vec::new();
    let mut next_uid: u8 = 0;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    if log >= LogLevel::Info {
        eprintln!(
            "meshd: running as originator {}",
            node.primary_mac().unwrap_or(Mac::ZERO)
        );
    }
    // Link state: rtnetlink events apply at once; sysfs is also read once
    // a second in case an event was lost (the socket buffer can overflow).
    match LinkMonitor::open().and_then(LinkMonitor::into_async) {
        Ok(mon) => {
            spawn_reader(std::rc::Rc::new(mon), FROM_NETLINK, tx.clone(), "netlink");
        }
        Err(e) => eprintln!("meshd: no netlink link events ({e}); reading carrier once a second"),
    }
    let mut carrier: Vec<bool> = hards.iter().map(|h| h.info.carrier).collect();
    let mut link_poll = tokio::time::interval(Duration::from_secs(1));
    loop {
        for r in flush(&mut node, &hards, tap.as_deref(), log) {
            if let Some(i) = pings.iter().position(|p| p.0 == r.uid && p.1 == r.seqno) {
                let (_, _, sent, reply) = pings.swap_remove(i);
                let _ = reply.send(format!(
                    "{{\"ok\":true,\"rows\":[{{\"from\":{},\"type\":{},\"seq\":{},\"ttl\":{},\"rtt_us\":{}}}]}}",
                    crate::ctl::js(&r.from.to_string()),
                    crate::ctl::js(&format!("{:?}", r.msg_type)),
                    r.seqno,
                    r.ttl,
                    sent.elapsed().as_micros()
                ));
            }
        }
        let wake = node
            .poll_timeout()
            .map(|t| Duration::from_micros(t.as_micros().saturating_sub(clock().as_micros())))
            .unwrap_or(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wake) => node.handle_timeout(clock()),
            Some((k, frame)) = rx.recv() => {
                if k == FROM_NETLINK {
                    for ev in netlink::parse(&frame) {
                        let Some(k) = hards.iter().position(|h| h.info.ifindex == ev.ifindex) else { continue };
                        apply_carrier(&mut node, clock(), &hards[k], &mut carrier[k], ev.carrier, "netlink", log);
                    }
                } else if k == FROM_TAP {
                    // Unicast to the originator that announced the
                    // destination, else flooded (the core decides).
                    if let Err(e) = node.send_frame(clock(), &frame) {
                        if log >= LogLevel::Debug {
                            eprintln!("meshd: soft interface frame not sent: {e}");
                        }
                    }
                } else if frame.len() >= 14 {
                    if let Some(h) = hards.iter().find(|h| h.key == k) {
                        let dst = Mac::from_bytes(&frame[0..6]);
                        let src = Mac::from_bytes(&frame[6..12]);
                        node.handle_frame(clock(), h.id, src, dst, &frame[14..]);
                    }
                }
            }
            _ = link_poll.tick() => {
                let (late, keep): (Vec<_>, Vec<_>) =
                    pings.drain(..).partition(|p| p.2.elapsed() >= Duration::from_secs(1));
                pings = keep;
                for (_, _, _, reply) in late {
                    let _ = reply.send("{\"ok\":false,\"error\":\"timeout\"}".into());
                }
                for (k, h) in hards.iter().enumerate() {
                    let up = link_info(&h.info.name).map(|i| i.carrier).unwrap_or(false);
                    apply_carrier(&mut node, clock(), h, &mut carrier[k], up, "sysfs", log);
                }
            }
            Some((line, reply)) = crx.recv() => {
                let cmd = crate::ctl::request_cmd(&line).unwrap_or_default();
                if cmd == "ping" || cmd == "tr" {
                    // batman ICMP echo: answered when the reply event comes
                    // (or after 1 s with a timeout).
                    let dst = crate::ctl::request_field(&line, "dst").and_then(|d| d.parse::<Mac>().ok());
                    let seqno = crate::ctl::request_field(&line, "seq").and_then(|v| v.parse().ok()).unwrap_or(1);
                    let ttl = crate::ctl::request_field(&line, "ttl").and_then(|v| v.parse().ok()).unwrap_or(50);
                    let Some(mut dst) = dst else {
                        let _ = reply.send("{\"ok\":false,\"error\":\"ping needs a MAC address\"}".into());
                        continue;
                    };
                    // A client MAC is pinged at the originator announcing it.
                    if let Some((_, _, orig)) = node.tt_global().into_iter().find(|(m, _, _)| *m == dst) {
                        dst = orig;
                    }
                    next_uid = next_uid.wrapping_add(1);
                    let req = batman::IcmpRequest { dst, seqno, uid: next_uid, ttl, record_route: false };
                    match node.send_icmp(clock(), req) {
                        Ok(()) => pings.push((next_uid, seqno, std::time::Instant::now(), reply)),
                        Err(e) => {
                            let _ = reply.send(format!("{{\"ok\":false,\"error\":{}}}", crate::ctl::js(&e.to_string())));
                        }
                    }
                    continue;
                }
                let names = |id: IfaceId| {
                    hards.iter().find(|h| h.id == id).map_or_else(|| "?".to_string(), |h| h.info.name.clone())
                };
                let _ = reply.send(crate::ctl::answer(&node, &cmd, &names));
            }
            _ = usr1.recv() => print_originators(&node),
            _ = hup.recv() => {
                let Some(path) = &opts.path else {
                    eprintln!("meshd: SIGHUP: no config file to reload (started with -i)");
                    continue;
                };
                match crate::config::load(path) {
                    Err(e) => eprintln!("meshd: reload refused, keeping the running configuration: {e}"),
                    Ok(new) => {
                        if new.soft_interface != cfg.soft_interface || new.batman != cfg.batman {
                            eprintln!("meshd: reload: soft_interface and [batman] changes take effect at the next start");
                        }
                        // Interfaces gone from the file: drop them.
                        let gone: Vec<usize> = hards
                            .iter()
                            .filter(|h| !new.interfaces.contains(&h.info.name))
                            .map(|h| h.key)
                            .collect();
                        for key in gone {
                            let pos = hards.iter().position(|h| h.key == key).expect("listed");
                            let h = hards.remove(pos);
                            carrier.remove(pos);
                            let _ = node.remove_iface(clock(), h.id);
                            eprintln!("meshd: reload: {} removed", h.info.name);
                        }
                        // New ones: open them (a failure is reported, the rest applies).
                        for name in &new.interfaces {
                            if hards.iter().any(|h| &h.info.name == name) {
                                continue;
                            }
                            match open_hard(name, next_key, &mut node, clock(), &tx, new.log) {
                                Ok(h) => {
                                    next_key += 1;
                                    carrier.push(h.info.carrier);
                                    hards.push(h);
                                    eprintln!("meshd: reload: {name} added");
                                }
                                Err(e) => eprintln!("meshd: reload: {name}: {e}"),
                            }
                        }
                        log = new.log;
                        cfg = new;
                        eprintln!("meshd: configuration reloaded");
                    }
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let _ = std::fs::remove_file(&opts.socket);
    if log >= LogLevel::Info {
        eprintln!("meshd: shutting down");
    }
    Ok(())
}

/// Tell the core about a carrier change of `h` (from `source`), once.
fn apply_carrier(
    node: &mut Node<Rng>,
    now: Instant,
    h: &Hard,
    known: &mut bool,
    up: bool,
    source: &str,
    log: LogLevel,
) {
    if up == *known {
        return;
    }
    *known = up;
    if log >= LogLevel::Info {
        let state = if up { "up" } else { "down" };
        eprintln!("meshd: {} carrier {state} ({source})", h.info.name);
    }
    node.set_carrier(now, h.id, up);
}

/// Send what the core queued and act on its events; ICMP answers to our
/// own requests are returned for the control socket.
fn flush(
    node: &mut Node<Rng>,
    hards: &[Hard],
    tap: Option<&AsyncFd<Tap>>,
    log: LogLevel,
) -> Vec<batman::IcmpReply> {
    let mut icmp = Vec::new();
    while let Some(t) = node.poll_transmit() {
        let Some(h) = hards.iter().find(|h| h.id == t.iface) else {
            continue;
        };
        let mut frame = Vec::with_capacity(14 + t.payload.len());
        frame.extend_from_slice(&t.dst.0);
        frame.extend_from_slice(&t.src.0);
        frame.extend_from_slice(&batman::wire::ETHERTYPE_BATADV.to_be_bytes());
        frame.extend_from_slice(&t.payload);
        if let Err(e) = h.sock.get_ref().send(&frame) {
            if log >= LogLevel::Debug {
                eprintln!("meshd: send on {}: {e}", h.info.name);
            }
        }
    }
    while let Some(e) = node.poll_event() {
        // Frames and ICMP answers are handled at every log level.
        if let Event::Icmp(r) = e {
            icmp.push(r);
            continue;
        }
        if let Event::Deliver { frame, .. } = &e {
            if let Some(t) = tap {
                if let Err(err) = t.get_ref().send(frame) {
                    if log >= LogLevel::Debug {
                        eprintln!("meshd: soft interface write: {err}");
                    }
                }
            }
            continue;
        }
        if log < LogLevel::Info {
            continue;
        }
        let name = |id: IfaceId| {
            hards
                .iter()
                .find(|h| h.id == id)
                .map_or("?", |h| h.info.name.as_str())
        };
        match e {
            Event::NeighbourUp { iface, mac } => {
                eprintln!("meshd: neighbour {mac} up on {}", name(iface))
            }
            Event::NeighbourDown { iface, mac, reason } => {
                eprintln!(
                    "meshd: neighbour {mac} down on {} ({reason:?})",
                    name(iface)
                )
            }
            Event::RouteChanged {
                orig,
                next_hop: Some(h),
            } => {
                eprintln!(
                    "meshd: route to {orig} via {} on {} (tq {})",
                    h.mac,
                    name(h.iface),
                    h.tq
                )
            }
            Event::RouteChanged {
                orig,
                next_hop: None,
            } => eprintln!("meshd: no route to {orig}"),
            _ => {}
        }
    }
    icmp
}

/// `batctl o` and `batctl tg` layouts, printed on SIGUSR1 (until the
/// control socket lands).
fn print_originators(node: &Node<Rng>) {
    let now = node.now();
    println!("  Originator        last-seen ( #/255) Nexthop           [outgoingIF]");
    for o in node.originators() {
        if let Some(r) = o.router {
            let age = now.saturating_since(o.last_seen).as_secs_f64();
            println!(
                " * {}  {age:6.3}s   ({:3}) {} [{:?}]",
                o.orig, r.tq, r.mac, r.iface
            );
        }
    }
    println!("  Client             VID  Originator");
    for (mac, vid, orig) in node.tt_global() {
        println!(" * {mac}  {:4}  {orig}", vid & 0x0fff);
    }
}
