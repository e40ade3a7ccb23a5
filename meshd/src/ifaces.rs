//! The hard (mesh) interfaces: which ones meshd wants, which are open, and
//! what happens when the kernel adds, removes or changes one.
//!
//! Rules, as a router's user expects them:
//! - At start at least one wanted interface must exist (a typo in the only
//!   interface is an error); the others are waited for.
//! - An interface that goes away (RTM_DELLINK, or its index changes because
//!   it was re-created) is closed at once: its neighbours are dropped and
//!   routes move in the same step. When it (re)appears it is opened again,
//!   from the netlink event or, if an event was lost, within a second.
//! - Carrier changes reach the core once, from netlink or from sysfs,
//!   whichever comes first. sysfs is read every [`CARRIER_POLL`]: the
//!   kernel sets the carrier bit at once but may hold the netlink event
//!   back for up to a second (linkwatch rate-limits "non-urgent" events,
//!   which include a physical NIC's and often a veth's).
//! - `meshctl if add|del` changes the wanted set at runtime; SIGHUP sets it
//!   to the config file's list.

use std::io;
use std::rc::Rc;

use batman::{IfaceConfig, IfaceId, IfaceKind, Instant, Node, RngCore};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use crate::daemon::{spawn_reader, LogLevel};
use crate::sys::link::{link_info, LinkInfo};
use crate::sys::netlink::LinkEvent;
use crate::sys::packet::PacketSocket;

/// How often the carrier of every open interface is read from sysfs.
pub const CARRIER_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// An open hard interface.
pub struct Hard {
    /// Channel key of this interface's frames (unique for the run).
    pub key: usize,
    pub id: IfaceId,
    pub info: LinkInfo,
    pub sock: Rc<AsyncFd<PacketSocket>>,
    /// Carrier as last told to the core.
    carrier: bool,
    reader: tokio::task::AbortHandle,
}

impl Drop for Hard {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The wanted interfaces and the open ones.
pub struct Ifaces {
    wanted: Vec<String>,
    open: Vec<Hard>,
    next_key: usize,
    tx: mpsc::Sender<(usize, Vec<u8>)>,
}

/// One row of `meshctl if`.
pub struct IfRow {
    pub name: String,
    /// `active`, `inactive` (carrier down) or `not present`.
    pub status: &'static str,
    pub mac: Option<batman::Mac>,
    pub mtu: Option<u16>,
}

impl Ifaces {
    /// Open the wanted interfaces; fails if none of them exists or one
    /// that exists cannot be used.
    pub fn start<R: RngCore>(
        wanted: &[String],
        node: &mut Node<R>,
        now: Instant,
        tx: mpsc::Sender<(usize, Vec<u8>)>,
        log: LogLevel,
    ) -> io::Result<Self> {
        let mut s = Ifaces {
            wanted: wanted.to_vec(),
            open: Vec::new(),
            next_key: 0,
            tx,
        };
        let mut missing = Vec::new();
        for name in wanted {
            match link_info(name) {
                Ok(_) => s.open_one(name, node, now, log)?,
                Err(e) => missing.push(e),
            }
        }
        if s.open.is_empty() {
            let why: Vec<String> = missing.iter().map(|e| e.to_string()).collect();
            return Err(io::Error::new(io::ErrorKind::NotFound, why.join("; ")));
        }
        for e in missing {
            eprintln!("meshd: {e}; it will be used when it appears");
        }
        Ok(s)
    }

    fn open_one<R: RngCore>(
        &mut self,
        name: &str,
        node: &mut Node<R>,
        now: Instant,
        log: LogLevel,
    ) -> io::Result<()> {
        let h = open_hard(name, self.next_key, node, now, &self.tx, log)?;
        self.next_key += 1;
        self.open.push(h);
        Ok(())
    }

    fn close_at<R: RngCore>(&mut self, pos: usize, node: &mut Node<R>, now: Instant) -> Hard {
        let h = self.open.remove(pos);
        let _ = node.remove_iface(now, h.id);
        h
    }

    /// The open interface whose frames carry channel key `key`.
    pub fn by_key(&self, key: usize) -> Option<&Hard> {
        self.open.iter().find(|h| h.key == key)
    }

    /// The open interface the core calls `id`.
    pub fn by_id(&self, id: IfaceId) -> Option<&Hard> {
        self.open.iter().find(|h| h.id == id)
    }

    /// The name of the core's interface `id` (`?` if closed meanwhile).
    pub fn name_of(&self, id: IfaceId) -> String {
        self.by_id(id)
            .map_or_else(|| "?".to_string(), |h| h.info.name.clone())
    }

    /// A netlink link event: carrier changes apply at once; a deleted
    /// interface is closed; an unknown one may be a wanted one appearing.
    pub fn on_link_event<R: RngCore>(
        &mut self,
        ev: LinkEvent,
        node: &mut Node<R>,
        now: Instant,
        log: LogLevel,
    ) {
        match self.open.iter().position(|h| h.info.ifindex == ev.ifindex) {
            Some(pos) if ev.deleted => {
                let h = self.close_at(pos, node, now);
                eprintln!("meshd: {} went away; waiting for it", h.info.name);
            }
            Some(pos) => apply_carrier(node, now, &mut self.open[pos], ev.carrier, "netlink", log),
            None if !ev.deleted => self.reconcile(node, now, log),
            None => {}
        }
    }

    /// Read every open interface's carrier (cheap: two small sysfs
    /// files) and tell the core of changes netlink has not reported yet.
    pub fn poll_carrier<R: RngCore>(&mut self, node: &mut Node<R>, now: Instant, log: LogLevel) {
        for h in &mut self.open {
            let up = crate::sys::link::carrier(&h.info.name);
            apply_carrier(node, now, h, up, "sysfs", log);
        }
    }

    /// Bring the open set in line with the kernel: close interfaces that
    /// are gone or were re-created, open wanted ones that exist, and apply
    /// carrier read from sysfs (in case a netlink event was lost).
    pub fn reconcile<R: RngCore>(&mut self, node: &mut Node<R>, now: Instant, log: LogLevel) {
        let mut pos = 0;
        while pos < self.open.len() {
            match link_info(&self.open[pos].info.name) {
                Ok(i)
                    if i.ifindex == self.open[pos].info.ifindex
                        && i.mac == self.open[pos].info.mac =>
                {
                    apply_carrier(node, now, &mut self.open[pos], i.carrier, "sysfs", log);
                    pos += 1;
                }
                _ => {
                    let h = self.close_at(pos, node, now);
                    eprintln!("meshd: {} went away or was re-created", h.info.name);
                }
            }
        }
        let closed: Vec<String> = self
            .wanted
            .iter()
            .filter(|n| !self.open.iter().any(|h| &&h.info.name == n))
            .cloned()
            .collect();
        for name in closed {
            if link_info(&name).is_err() {
                continue;
            }
            match self.open_one(&name, node, now, log) {
                Ok(()) => eprintln!("meshd: {name} appeared; meshing on it"),
                Err(e) => eprintln!("meshd: {name}: {e}"),
            }
        }
    }

    /// `meshctl if add`: want `name` from now on and open it.
    pub fn add<R: RngCore>(
        &mut self,
        name: &str,
        node: &mut Node<R>,
        now: Instant,
        log: LogLevel,
    ) -> Result<(), String> {
        if self.wanted.iter().any(|n| n == name) {
            return Err(format!("{name} is already a mesh interface"));
        }
        link_info(name).map_err(|e| e.to_string())?;
        self.open_one(name, node, now, log)
            .map_err(|e| e.to_string())?;
        self.wanted.push(name.to_string());
        Ok(())
    }

    /// `meshctl if del`: stop meshing on `name`.
    pub fn remove<R: RngCore>(
        &mut self,
        name: &str,
        node: &mut Node<R>,
        now: Instant,
    ) -> Result<(), String> {
        let Some(w) = self.wanted.iter().position(|n| n == name) else {
            return Err(format!("{name} is not a mesh interface"));
        };
        self.wanted.remove(w);
        if let Some(pos) = self.open.iter().position(|h| h.info.name == name) {
            self.close_at(pos, node, now);
        }
        Ok(())
    }

    /// SIGHUP: the config file's list becomes the wanted set.
    pub fn set_wanted<R: RngCore>(
        &mut self,
        wanted: &[String],
        node: &mut Node<R>,
        now: Instant,
        log: LogLevel,
    ) {
        for name in self.wanted.clone() {
            if !wanted.contains(&name) && self.remove(&name, node, now).is_ok() {
                eprintln!("meshd: reload: {name} removed");
            }
        }
        for name in wanted {
            if !self.wanted.contains(name) {
                self.wanted.push(name.clone());
                eprintln!("meshd: reload: {name} added");
            }
        }
        self.reconcile(node, now, log);
    }

    /// `meshctl if`: every wanted interface and its state.
    pub fn rows(&self) -> Vec<IfRow> {
        self.wanted
            .iter()
            .map(
                |name| match self.open.iter().find(|h| &h.info.name == name) {
                    Some(h) => IfRow {
                        name: name.clone(),
                        status: if h.carrier { "active" } else { "inactive" },
                        mac: Some(h.info.mac),
                        mtu: Some(h.info.mtu),
                    },
                    None => IfRow {
                        name: name.clone(),
                        status: "not present",
                        mac: None,
                        mtu: None,
                    },
                },
            )
            .collect()
    }
}

/// Open a hard interface: raw socket, core interface, reader task.
fn open_hard<R: RngCore>(
    name: &str,
    key: usize,
    node: &mut Node<R>,
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
    let sock = Rc::new(sock.into_async()?);
    let reader = spawn_reader(sock.clone(), key, tx.clone(), "receive");
    Ok(Hard {
        key,
        id,
        carrier: info.carrier,
        info,
        sock,
        reader,
    })
}

/// Tell the core about a carrier change of `h` (from `source`), once.
fn apply_carrier<R: RngCore>(
    node: &mut Node<R>,
    now: Instant,
    h: &mut Hard,
    up: bool,
    source: &str,
    log: LogLevel,
) {
    if up == h.carrier {
        return;
    }
    h.carrier = up;
    if log >= LogLevel::Info {
        let state = if up { "up" } else { "down" };
        eprintln!("meshd: {} carrier {state} ({source})", h.info.name);
    }
    node.set_carrier(now, h.id, up);
}
