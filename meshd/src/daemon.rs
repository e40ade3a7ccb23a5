//! The daemon's driver: one tokio current-thread runtime, an AF_PACKET
//! socket per hard interface, the `batman` core in the middle. Thin on
//! purpose: every protocol decision is the core's.
//!
//! One reader task per socket hands frames to the main loop over a
//! channel; the main loop feeds them to the core, runs its timers at
//! `poll_timeout`, and sends what `poll_transmit` yields.

use std::io;
use std::time::Duration;

use batman::{Event, IfaceId, Instant, Mac, Node};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use crate::ifaces::Ifaces;
use crate::sys::link::link_info;
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
const FROM_TUN: usize = usize::MAX - 2;

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
pub(crate) fn spawn_reader<T: Datagrams + std::os::fd::AsRawFd + 'static>(
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

/// Run until SIGTERM or SIGINT.
pub fn run(opts: Options) -> io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, main_loop(opts))
}

/// A batman ICMP echo sent for the control socket: (uid, seqno, when,
/// where the answer goes).
type PendingPing = (
    u8,
    u16,
    std::time::Instant,
    tokio::sync::oneshot::Sender<String>,
);

/// Directory messages waiting for a route, at most, and for how long.
const MAX_DEFERRED: usize = 64;
const DEFERRED_TTL: Duration = Duration::from_secs(5);

/// How long a control-socket ping waits for its answer.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// The daemon's state, owned by the main loop.
struct Daemon {
    node: Node<Rng>,
    ifaces: Ifaces,
    tap: Option<std::rc::Rc<AsyncFd<Tap>>>,
    pings: Vec<PendingPing>,
    next_uid: u8,
    cfg: crate::config::Config,
    /// The node layer ([node] configured): identity and directory.
    ident: Option<crate::ident::Ident>,
    /// The LAN served ([node] lan).
    lan: Option<crate::lanside::LanSide>,
    /// The extra TVLV area of own OGMs now (the announcement hash, or none).
    ogm_area: Vec<u8>,
    /// Directory messages waiting for a route: (to, area, since).
    deferred: Vec<(Mac, Vec<u8>, Instant)>,
    /// The L3 path ([node] tun).
    mesh0: Option<crate::mesh0::Mesh0>,
    /// The address hook ([node] hook).
    hook: Option<crate::hook::Hook>,
}

async fn main_loop(opts: Options) -> io::Result<()> {
    let start = std::time::Instant::now();
    let clock = move || Instant::from_micros(start.elapsed().as_micros() as u64);
    let cfg = opts.config.clone();
    let mut node = Node::new(cfg.batman.clone(), Rng::from_os()?, clock())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    node.set_gateway(cfg.gateway);
    let (tx, mut rx) = mpsc::channel::<(usize, Vec<u8>)>(1024);
    let ifaces = Ifaces::start(&cfg.interfaces, &mut node, clock(), tx.clone(), cfg.log)?;
    let tap = match &cfg.soft_interface {
        Some(name) => {
            let mac = node.primary_mac().map(soft_mac);
            let t = Tap::open(name, mac).map_err(|e| {
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
                    if cfg.log >= LogLevel::Info {
                        eprintln!("meshd: soft interface {name} {} up", i.mac);
                    }
                }
                Err(e) => eprintln!("meshd: soft interface {name}: {e}"),
            }
            Some(t)
        }
        None => None,
    };
    let ident = match &cfg.node {
        Some(n) => {
            let dc = onion::directory::DirConfig {
                max_entries: n.max_directory,
                ..Default::default()
            };
            let id = crate::ident::Ident::load(&n.state_dir, &n.name, n.pool, dc, cfg.log)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if cfg.log >= LogLevel::Info {
                eprintln!(
                    "meshd: node {} address {} lan {}/64 ipv4 {}/24",
                    id.key_name(),
                    id.node_address(),
                    id.lan_prefix(),
                    id.ipv4_net()
                );
            }
            Some(id)
        }
        None => None,
    };
    let mesh0 = match (&cfg.node, &ident) {
        (Some(n), Some(id)) => match &n.tun {
            Some(name) => {
                let m = crate::mesh0::Mesh0::open(
                    name,
                    id,
                    (n.circuit.clone(), n.policy.clone()),
                    cfg.log,
                )?;
                spawn_reader(m.tun.clone(), FROM_TUN, tx.clone(), "mesh0 read");
                Some(m)
            }
            None => None,
        },
        _ => None,
    };
    let lan = match (&cfg.node, &ident) {
        (Some(n), Some(id)) if n.lan.is_some() => Some(crate::lanside::LanSide::start(
            n,
            id,
            &opts.socket,
            cfg.log,
        )?),
        _ => None,
    };
    let cfg_hook = cfg
        .node
        .as_ref()
        .and_then(|n| n.hook.clone())
        .map(crate::hook::Hook::new);
    let mut crx = serve_control(&opts.socket)?;
    let mut d = Daemon {
        node,
        ifaces,
        tap,
        pings: Vec::new(),
        next_uid: 0,
        cfg,
        ident,
        lan,
        deferred: Vec::new(),
        ogm_area: Vec::new(),
        hook: cfg_hook,
        mesh0,
    };
    d.node_tick(clock());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    if d.cfg.log >= LogLevel::Info {
        eprintln!(
            "meshd: running as originator {}",
            d.node.primary_mac().unwrap_or(Mac::ZERO)
        );
    }
    // Link state: rtnetlink events apply at once; sysfs is also read once
    // a second in case an event was lost (the socket buffer can overflow).
    match LinkMonitor::open().and_then(LinkMonitor::into_async) {
        Ok(mon) => {
            spawn_reader(std::rc::Rc::new(mon), FROM_NETLINK, tx.clone(), "netlink");
        }
        Err(e) => eprintln!("meshd: no netlink link events ({e}); reading links once a second"),
    }
    // The `.mesh` responder (dnsmasq forwards the zone to it).
    let dns = match d.cfg.node.as_ref().and_then(|n| n.dns) {
        Some(at) => {
            let s = std::net::UdpSocket::bind(at)
                .and_then(|s| {
                    s.set_nonblocking(true)?;
                    tokio::net::UdpSocket::from_std(s)
                })
                .map_err(|e| {
                    io::Error::new(e.kind(), format!(".mesh DNS responder on {at}: {e}"))
                })?;
            Some(s)
        }
        None => None,
    };
    let mut dns_buf = vec![0u8; 1500];
    let mut link_poll = tokio::time::interval(Duration::from_secs(1));
    let mut carrier_poll = tokio::time::interval(crate::ifaces::CARRIER_POLL);
    carrier_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        d.flush();
        let wake = d
            .node
            .poll_timeout()
            .map(|t| Duration::from_micros(t.as_micros().saturating_sub(clock().as_micros())))
            .unwrap_or(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wake) => d.node.handle_timeout(clock()),
            Some((k, frame)) = rx.recv() => {
                // Under load, take what else is waiting before going back
                // to the select (timers, sleep, flush once per batch):
                // per-frame overhead is what limits the data path.
                d.on_input(k, &frame, clock());
                for n in 1..RX_BATCH {
                    let Ok((k, frame)) = rx.try_recv() else { break };
                    d.on_input(k, &frame, clock());
                    if n % FLUSH_EVERY == 0 {
                        d.flush();
                    }
                }
            }
            _ = link_poll.tick() => {
                d.expire_pings();
                d.node_tick(clock());
                d.ifaces.reconcile(&mut d.node, clock(), d.cfg.log);
            }
            _ = carrier_poll.tick() => d.ifaces.poll_carrier(&mut d.node, clock(), d.cfg.log),
            Some((line, reply)) = crx.recv() => d.control(&line, reply, clock()),
            Ok((n, from)) = async {
                match &dns {
                    Some(s) => s.recv_from(&mut dns_buf).await,
                    None => std::future::pending().await,
                }
            } => {
                if let (Some(s), Some(answer)) = (&dns, d.dns_answer(&dns_buf[..n])) {
                    let _ = s.try_send_to(&answer, from);
                }
            }
            _ = usr1.recv() => print_originators(&d.node),
            _ = hup.recv() => d.reload(opts.path.as_deref(), clock()),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let _ = std::fs::remove_file(&opts.socket);
    if d.cfg.log >= LogLevel::Info {
        eprintln!("meshd: shutting down");
    }
    Ok(())
}

/// The soft interface's MAC, derived from the originator address: the same
/// after every restart (clients' ARP and neighbour caches stay valid, and
/// the translation tables name the same client), different from every
/// hard interface's, locally administered and unicast.
fn soft_mac(orig: Mac) -> Mac {
    // FNV-1a over a tag and the originator address.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"meshd soft interface".iter().chain(orig.0.iter()) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    Mac([(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]])
}

/// `id` and `dir` answers from the node layer.
fn node_answer(id: &crate::ident::Ident, cmd: &str, orig: Option<Mac>, now: Instant) -> String {
    use crate::ctl::{hex, js};
    let mut rows = Vec::new();
    if cmd == "id" {
        let keys = id.onion_keys();
        rows.push(format!(
            "{{\"node_id\":{},\"name\":{},\"alias\":{},\"address\":{},\"lan\":{},\"anon\":{},\"ipv4\":{},\"ipv4_attempt\":{},\"orig\":{},\"onion_key\":{},\"onion_until\":{},\"seqno\":{}}}",
            js(&hex(&id.node_id())),
            js(&id.key_name()),
            js(id.name()),
            js(&id.node_address().to_string()),
            js(&id.lan_prefix().to_string()),
            js(&id.anon_prefix().to_string()),
            js(&id.ipv4_net().to_string()),
            id.ipv4_attempt(),
            js(&orig.unwrap_or(Mac::ZERO).to_string()),
            js(&hex(&keys[0].public())),
            keys[0].valid_until,
            id.seqno()
        ));
    } else {
        for e in id.directory.entries() {
            rows.push(format!(
                "{{\"node_id\":{},\"name\":{},\"alias\":{},\"address\":{},\"lan\":{},\"ipv4\":{},\"orig\":{},\"seqno\":{},\"last_seen_ms\":{},\"record\":{}}}",
                js(&hex(&e.ann.node)),
                js(&e.key_name),
                js(&e.ann.name),
                js(&e.node_addr.to_string()),
                js(&e.lan_prefix.to_string()),
                js(&e.ipv4.map_or(String::new(), |a| a.to_string())),
                js(&Mac(e.ann.orig).to_string()),
                e.ann.seqno,
                now.as_millis().saturating_sub(e.last_seen_ms),
                js(&hex(&e.raw))
            ));
        }
    }
    format!("{{\"ok\":true,\"rows\":[{}]}}", rows.join(","))
}

/// Longest control request line accepted, in bytes.
const MAX_REQUEST: usize = 4096;

/// A control request line and where its answer goes.
type CtlReq = (String, tokio::sync::oneshot::Sender<String>);

/// Listen on the control socket (mode 0600: umask while binding); every
/// request line goes to the main loop, which owns the node.
fn serve_control(path: &std::path::Path) -> io::Result<mpsc::Receiver<CtlReq>> {
    let (ctx, crx) = mpsc::channel::<CtlReq>(16);
    let _ = std::fs::remove_file(path);
    // umask is process-wide; it is changed around bind only.
    let listener = {
        let old = crate::sys::set_umask(0o177);
        let l = tokio::net::UnixListener::bind(path);
        crate::sys::set_umask(old);
        l.map_err(|e| io::Error::new(e.kind(), format!("control socket {}: {e}", path.display())))?
    };
    tokio::task::spawn_local(async move {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let ctx = ctx.clone();
            tokio::task::spawn_local(async move {
                let (r, mut w) = stream.into_split();
                let mut line = String::new();
                // One request line of at most MAX_REQUEST bytes: a longer
                // one is cut off there and refused.
                let mut reader = BufReader::new(r.take(MAX_REQUEST as u64 + 1));
                if reader.read_line(&mut line).await.is_err() || line.len() > MAX_REQUEST {
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
    Ok(crx)
}

fn error_json(e: &str) -> String {
    format!("{{\"ok\":false,\"error\":{}}}", crate::ctl::js(e))
}

/// Frames taken from the channel per wakeup, at most.
const RX_BATCH: usize = 256;
/// Within a batch, send what the core queued every this many frames (the
/// core's transmit queue is bounded).
const FLUSH_EVERY: usize = 32;

impl Daemon {
    /// One datagram from a reader task: a netlink message, a frame from
    /// the soft interface, or a frame from a mesh interface.
    fn on_input(&mut self, key: usize, frame: &[u8], now: Instant) {
        if key == FROM_NETLINK {
            for ev in netlink::parse(frame) {
                self.ifaces
                    .on_link_event(ev, &mut self.node, now, self.cfg.log);
            }
        } else if key == FROM_TUN {
            if let (Some(m), Some(id)) = (self.mesh0.as_mut(), self.ident.as_ref()) {
                m.outbound(now.as_millis(), id, frame);
            }
        } else if key == FROM_TAP {
            // Unicast to the originator that announced the destination,
            // else flooded (the core decides).
            if let Err(e) = self.node.send_frame(now, frame) {
                if self.cfg.log >= LogLevel::Debug {
                    eprintln!("meshd: soft interface frame not sent: {e}");
                }
            }
        } else if frame.len() >= 14 {
            if let Some(h) = self.ifaces.by_key(key) {
                let dst = Mac::from_bytes(&frame[0..6]);
                let src = Mac::from_bytes(&frame[6..12]);
                self.node.handle_frame(now, h.id, src, dst, &frame[14..]);
            }
        }
    }

    /// Answer a control request (batman ICMP answers come later, from
    /// `flush`, or as a timeout from `expire_pings`).
    fn control(&mut self, line: &str, reply: tokio::sync::oneshot::Sender<String>, now: Instant) {
        use crate::ctl::request_field as field;
        let cmd = crate::ctl::request_cmd(line).unwrap_or_default();
        let log = self.cfg.log;
        let answer = match cmd.as_str() {
            "ping" | "tr" => {
                let Some(mut dst) = field(line, "dst").and_then(|d| d.parse::<Mac>().ok()) else {
                    let _ = reply.send(error_json("ping needs a MAC address"));
                    return;
                };
                let seqno = field(line, "seq").and_then(|v| v.parse().ok()).unwrap_or(1);
                let ttl = field(line, "ttl")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(50);
                // A client MAC is pinged at the originator announcing it.
                if let Some((_, _, orig)) = self
                    .node
                    .tt_global()
                    .into_iter()
                    .find(|(m, _, _)| *m == dst)
                {
                    dst = orig;
                }
                self.next_uid = self.next_uid.wrapping_add(1);
                let req = batman::IcmpRequest {
                    dst,
                    seqno,
                    uid: self.next_uid,
                    ttl,
                    record_route: false,
                };
                match self.node.send_icmp(now, req) {
                    Ok(()) => {
                        self.pings
                            .push((self.next_uid, seqno, std::time::Instant::now(), reply));
                        return;
                    }
                    Err(e) => error_json(&e.to_string()),
                }
            }
            "if" => {
                let name = field(line, "name").unwrap_or_default();
                let done = match field(line, "op").as_deref() {
                    None => Ok(()),
                    Some("add") => self.ifaces.add(&name, &mut self.node, now, log),
                    Some("del") => self.ifaces.remove(&name, &mut self.node, now),
                    Some(o) => Err(format!("unknown interface operation {o:?} (add, del)")),
                };
                match done {
                    Err(e) => error_json(&e),
                    Ok(()) => {
                        let rows: Vec<String> = self
                            .ifaces
                            .rows()
                            .into_iter()
                            .map(|r| {
                                format!(
                                    "{{\"iface\":{},\"status\":{},\"mac\":{},\"mtu\":{}}}",
                                    crate::ctl::js(&r.name),
                                    crate::ctl::js(r.status),
                                    r.mac
                                        .map_or("null".into(), |m| crate::ctl::js(&m.to_string())),
                                    r.mtu.map_or("null".into(), |m| m.to_string())
                                )
                            })
                            .collect();
                        format!("{{\"ok\":true,\"rows\":[{}]}}", rows.join(","))
                    }
                }
            }
            "circuits" => match self.mesh0.as_ref().and_then(|m| m.circuits.as_ref()) {
                Some(c) => c.json(now.as_millis()),
                None => error_json("no onion circuits: configure a [node] section with a tun"),
            },
            "sessions" => match (&self.mesh0, &self.ident) {
                (Some(m), Some(_)) => {
                    let now_ms = now.as_millis();
                    let age = |t: Option<u64>| {
                        t.map_or("null".to_string(), |t| now_ms.saturating_sub(t).to_string())
                    };
                    let rows: Vec<String> = m
                        .sessions
                        .sessions()
                        .into_iter()
                        .map(|s| {
                            format!(
                                "{{\"peer\":{},\"age_ms\":{},\"initiator\":{},\"last_rx_ms\":{},\"tx_bytes\":{},\"rx_bytes\":{},\"queued\":{}}}",
                                crate::ctl::js(&onion::addr::name(&s.peer)),
                                age(s.established_ms),
                                s.initiator,
                                age(s.last_rx_ms),
                                s.tx_bytes,
                                s.rx_bytes,
                                s.queued
                            )
                        })
                        .collect();
                    format!("{{\"ok\":true,\"rows\":[{}]}}", rows.join(","))
                }
                _ => error_json("no mesh0: configure a [node] section with a tun"),
            },
            "id" | "dir" => match &self.ident {
                None => error_json(
                    "no node layer: configure a [node] section or start with --state-dir",
                ),
                Some(id) => node_answer(id, &cmd, self.node.primary_mac(), now),
            },
            "s" => {
                let mut a = crate::ctl::answer(&self.node, &cmd, &|id| self.ifaces.name_of(id));
                if let Some(id) = &self.ident {
                    let mut extra =
                        crate::ctl::counter_rows(&format!("{:?}", id.directory.stats()), "dir_");
                    if let Some(m) = &self.mesh0 {
                        extra.extend(crate::ctl::counter_rows(
                            &format!("{:?}", m.stats),
                            "mesh0_",
                        ));
                        extra.extend(crate::ctl::counter_rows(
                            &format!("{:?}", m.sessions.stats()),
                            "e2e_",
                        ));
                        if let Some(c) = &m.circuits {
                            extra.extend(crate::ctl::counter_rows(
                                &format!("{:?}", c.engine.stats()),
                                "circ_",
                            ));
                            extra.extend(crate::ctl::counter_rows(
                                &format!("{:?}", c.stats),
                                "circ_",
                            ));
                        }
                    }
                    if let Some(at) = a.rfind("]}") {
                        let sep = if a[..at].ends_with('[') { "" } else { "," };
                        a.insert_str(at, &format!("{sep}{}", extra.join(",")));
                    }
                }
                a
            }
            _ => crate::ctl::answer(&self.node, &cmd, &|id| self.ifaces.name_of(id)),
        };
        let _ = reply.send(answer);
    }

    /// Control-socket pings that got no answer in time.
    fn expire_pings(&mut self) {
        let (late, keep): (Vec<_>, Vec<_>) = self
            .pings
            .drain(..)
            .partition(|p| p.2.elapsed() >= PING_TIMEOUT);
        self.pings = keep;
        for (_, _, _, reply) in late {
            let _ = reply.send(error_json("timeout"));
        }
    }

    /// SIGHUP: re-read the config file; a bad one is refused and the
    /// running configuration kept.
    fn reload(&mut self, path: Option<&std::path::Path>, now: Instant) {
        let Some(path) = path else {
            eprintln!("meshd: SIGHUP: no config file to reload (started with -i)");
            return;
        };
        match crate::config::load(path) {
            Err(e) => eprintln!("meshd: reload refused, keeping the running configuration: {e}"),
            Ok(new) => {
                if new.soft_interface != self.cfg.soft_interface || new.batman != self.cfg.batman {
                    eprintln!("meshd: reload: soft_interface and [batman] changes take effect at the next start");
                }
                if new.node != self.cfg.node {
                    eprintln!("meshd: reload: [node] changes take effect at the next start");
                }
                self.ifaces
                    .set_wanted(&new.interfaces, &mut self.node, now, new.log);
                self.node.set_gateway(new.gateway);
                self.cfg = new;
                eprintln!("meshd: configuration reloaded");
            }
        }
    }

    /// The node layer's second: key rotation, directory expiry, claim
    /// changes; a new announcement goes into the OGMs at once.
    fn node_tick(&mut self, now: Instant) {
        let Some(id) = self.ident.as_mut() else {
            return;
        };
        if let Err(e) = id.tick(now.as_millis(), self.node.primary_mac()) {
            eprintln!("meshd: {e}");
        }
        let area = id.ogm_tvlvs_for_tick();
        if area != self.ogm_area {
            match self.node.set_ogm_tvlvs(area.clone()) {
                Ok(()) => self.ogm_area = area,
                Err(e) => eprintln!("meshd: announcement not set: {e}"),
            }
        }
        if let Some(l) = self.lan.as_mut() {
            l.tick(id, self.cfg.log);
        }
        if let Some(m) = self.mesh0.as_mut() {
            m.tick(now.as_millis(), id, self.node.primary_mac());
        }
        if let Some(h) = self.hook.as_mut() {
            let dns = self.cfg.node.as_ref().and_then(|n| n.dns);
            h.tick(crate::hook::env(id, dns));
        }
        self.retry_deferred(now);
    }

    /// Answer one DNS query for `.mesh` names: ours (key-hash name and
    /// announced name) and the directory's.
    ///
    /// A name whose node address the circuit policy sends anonymously
    /// (the default) gets no A record: IPv4 would go direct, and
    /// resolvers prefer IPv4 over ULA (RFC 6724), so `.mesh` names would
    /// quietly bypass the circuits.
    fn dns_answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let id = self.ident.as_ref()?;
        let host1 = |net: std::net::Ipv4Addr| std::net::Ipv4Addr::from(u32::from(net) | 1);
        let anonymous = |a: &std::net::Ipv6Addr| {
            let circuits = self.mesh0.as_ref().is_some_and(|m| m.circuits.is_some());
            circuits
                && self
                    .cfg
                    .node
                    .as_ref()
                    .is_some_and(|n| n.policy.anonymous(a))
        };
        let lookup = |name: &str| -> Option<crate::dns::Answer> {
            let ours = name == id.key_name()
                || (!id.name().is_empty() && name.strip_suffix(".mesh") == Some(id.name()));
            let (v6, v4) = if ours {
                (id.node_address(), Some(id.ipv4_net()))
            } else {
                let e = id.directory.by_name(name)?;
                (e.node_addr, e.ipv4)
            };
            Some(crate::dns::Answer {
                v6: vec![v6],
                v4: v4
                    .filter(|_| !anonymous(&v6))
                    .map(host1)
                    .into_iter()
                    .collect(),
            })
        };
        crate::dns::respond(query, &lookup)
    }

    /// TVLVs of other originators for the node layer.
    fn on_tvlv(&mut self, orig: Mac, unicast: bool, data: &[u8]) {
        let Some(id) = self.ident.as_mut() else {
            return;
        };
        let now = self.node.now();
        let mut sends = Vec::new();
        if unicast {
            if let Some(m) = self.mesh0.as_mut() {
                for t in batman::wire::TvlvIter::new(data).flatten() {
                    if t.tvlv_type == batman::wire::TvlvType::Unknown(crate::circuits::TVLV_CELL)
                        && t.version == crate::circuits::TVLV_CELL_VERSION
                    {
                        if let Some(c) = m.circuits.as_mut() {
                            c.on_cell(now.as_millis(), orig, t.value);
                        }
                        continue;
                    }
                    if t.tvlv_type == batman::wire::TvlvType::Unknown(crate::mesh0::TVLV_E2E)
                        && t.version == crate::mesh0::TVLV_E2E_VERSION
                        && m.inbound(now.as_millis(), id, orig, t.value)
                    {
                        // A handshake from a node whose record we lack:
                        // ask for it now; the handshake is kept and
                        // replayed when the record is in.
                        sends.extend(id.request_record(now.as_millis(), orig).map(|a| (orig, a)));
                    }
                }
            }
        }
        let (more, changed) = id.on_tvlv(now.as_millis(), orig, unicast, data);
        sends.extend(more);
        if changed {
            let area = id.ogm_tvlvs();
            match self.node.set_ogm_tvlvs(area.clone()) {
                Ok(()) => self.ogm_area = area,
                Err(e) => eprintln!("meshd: announcement not set: {e}"),
            }
        }
        if unicast {
            if let Some(m) = self.mesh0.as_mut() {
                m.replay_stashed(now.as_millis(), id, orig);
            }
        }
        for (to, area) in sends {
            self.send_directory(to, area, now);
        }
    }

    /// A directory message (record request or answer) to `to`. One that
    /// finds no route yet (a record asked for by a node whose OGMs reached
    /// us before we have a route back) waits up to [`DEFERRED_TTL`] for
    /// one instead of being lost until the next request.
    fn send_directory(&mut self, to: Mac, area: Vec<u8>, now: Instant) {
        match crate::carrier::send(&mut self.node, to, &area) {
            Ok(()) => {}
            Err(batman::SendError::NoRoute(_)) => {
                if self.deferred.len() >= MAX_DEFERRED {
                    self.deferred.remove(0);
                }
                self.deferred.push((to, area, now));
            }
            Err(e) => {
                if self.cfg.log >= LogLevel::Debug {
                    eprintln!("meshd: directory message to {to} not sent: {e}");
                }
            }
        }
    }

    /// Retry deferred directory messages whose destination has a route now.
    fn retry_deferred(&mut self, now: Instant) {
        if self.deferred.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.deferred);
        for (to, area, since) in pending {
            if now.saturating_since(since) >= DEFERRED_TTL {
                continue;
            }
            if self.node.next_hop(to).is_some() {
                let _ = crate::carrier::send(&mut self.node, to, &area);
            } else {
                self.deferred.push((to, area, since));
            }
        }
    }

    /// A meshd frame ([`crate::carrier`]) delivered to us.
    fn on_meshd_frame(&mut self, from: Mac, area: &[u8]) {
        self.on_tvlv(from, true, area);
    }

    /// Send what the core queued and act on its events.
    fn flush(&mut self) {
        let log = self.cfg.log;
        // Node-layer answers queue more frames: a second round sends them.
        for _ in 0..2 {
            if let (Some(m), Some(id)) = (self.mesh0.as_mut(), self.ident.as_ref()) {
                m.drain(id, &mut self.node);
            }
            let events = flush(&mut self.node, &self.ifaces, self.tap.as_deref(), log);
            if events.is_empty() {
                break;
            }
            for e in events {
                match e {
                    Event::Icmp(r) => self.icmp_answer(r),
                    // The node layer's unicast messages come as meshd
                    // frames; UNICAST_TVLVs carry only batman's own.
                    Event::Tvlv {
                        orig,
                        unicast: false,
                        data,
                    } => self.on_tvlv(orig, false, &data),
                    Event::Deliver { frame, .. } => {
                        if let Some((from, area)) = crate::carrier::parse(&frame) {
                            self.on_meshd_frame(from, area);
                        }
                    }
                    Event::RouteChanged {
                        next_hop: Some(_), ..
                    } => {
                        let now = self.node.now();
                        self.retry_deferred(now);
                    }
                    _ => {}
                }
            }
        }
    }

    /// A batman ICMP answer for a control-socket ping.
    fn icmp_answer(&mut self, r: batman::IcmpReply) {
        {
            let Some(i) = self
                .pings
                .iter()
                .position(|p| p.0 == r.uid && p.1 == r.seqno)
            else {
                return;
            };
            let (_, _, sent, reply) = self.pings.swap_remove(i);
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
}

/// Send what the core queued and act on its events; ICMP answers to our
/// own requests and TVLVs for the node layer are returned.
fn flush(
    node: &mut Node<Rng>,
    ifaces: &Ifaces,
    tap: Option<&AsyncFd<Tap>>,
    log: LogLevel,
) -> Vec<Event> {
    let mut icmp = Vec::new();
    while let Some(t) = node.poll_transmit() {
        let Some(h) = ifaces.by_id(t.iface) else {
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
        if matches!(e, Event::Icmp(_) | Event::Tvlv { .. }) {
            icmp.push(e);
            continue;
        }
        if let Event::Deliver { frame, .. } = &e {
            if crate::carrier::parse(frame).is_some() {
                icmp.push(e);
                continue;
            }
            if let Some(t) = tap {
                if let Err(err) = t.get_ref().send(frame) {
                    if log >= LogLevel::Debug {
                        eprintln!("meshd: soft interface write: {err}");
                    }
                }
            }
            continue;
        }
        // A new route may let deferred directory messages go.
        if matches!(
            e,
            Event::RouteChanged {
                next_hop: Some(_),
                ..
            }
        ) {
            icmp.push(e.clone());
        }
        if log < LogLevel::Info {
            continue;
        }
        let name = |id: IfaceId| ifaces.name_of(id);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_mac_is_stable_local_unicast_and_not_the_originator() {
        let o = Mac([0x02, 0xba, 0x7a, 0, 0, 1]);
        let m = soft_mac(o);
        assert_eq!(m, soft_mac(o));
        assert_ne!(m, o);
        assert_ne!(m, soft_mac(Mac([0x02, 0xba, 0x7a, 0, 0, 2])));
        assert_eq!(m.0[0] & 0x03, 0x02, "{m}");
    }
}
