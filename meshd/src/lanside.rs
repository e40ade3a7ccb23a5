//! The router's LAN in the daemon: the node's /64 and /24 on the LAN
//! interface, forwarding on, and a supervised dnsmasq ([`crate::lan`])
//! sending router advertisements (SLAAC) and answering DHCPv4, with `.mesh`
//! forwarded to meshd's responder. Follows the node's IPv4 claim when a
//! collision moves it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::config::NodeConfig;
use crate::daemon::LogLevel;
use crate::ident::Ident;
use crate::lan::{Dnsmasq, LanPlan};
use crate::sys::rtnl;

/// Per-network-namespace switches a router needs.
const FORWARDING: [&str; 2] = [
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv6/conf/all/forwarding",
];

/// The LAN side of a running node.
pub struct LanSide {
    ifname: String,
    ifindex: i32,
    plan: LanPlan,
    dnsmasq: Dnsmasq,
    dns: SocketAddr,
    run_dir: PathBuf,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl LanSide {
    /// Put the node's LAN addresses on `n.lan`, turn forwarding on and
    /// start dnsmasq (files in `<socket>.dnsmasq/`).
    pub fn start(n: &NodeConfig, id: &Ident, socket: &Path, log: LogLevel) -> io::Result<LanSide> {
        let ifname = n.lan.clone().expect("called with a LAN");
        let ifindex = rtnl::ifindex(&ifname)
            .map_err(|e| io::Error::new(e.kind(), format!("LAN interface {ifname}: {e}")))?;
        let dns = n.dns.unwrap_or(crate::dns::DEFAULT_LISTEN);
        let run_dir = PathBuf::from(format!("{}.dnsmasq", socket.display()));
        let plan = LanPlan::new(&ifname, id.lan_prefix(), id.ipv4_net(), dns, &run_dir)
            .and_then(|p| p.with_anon(id.anon_prefix()))
            .map_err(other)?;
        for (a, len) in plan.addresses() {
            rtnl::add_address(ifindex, a, len).map_err(|e| {
                io::Error::new(e.kind(), format!("LAN {ifname}: address {a}/{len}: {e}"))
            })?;
        }
        for f in FORWARDING {
            std::fs::write(f, b"1")
                .map_err(|e| io::Error::new(e.kind(), format!("{f}: {e} (a router forwards)")))?;
        }
        let mut dnsmasq = Dnsmasq::new(plan.clone());
        // "dnsmasq": from PATH (else /usr/sbin/dnsmasq); otherwise a path.
        if n.dnsmasq != "dnsmasq" {
            dnsmasq.set_binary(PathBuf::from(&n.dnsmasq));
        }
        match dnsmasq.start(std::time::Instant::now()) {
            Ok(pid) if log >= LogLevel::Info => eprintln!(
                "meshd: LAN {ifname}: {}/24 and {}/64, dnsmasq pid {pid}",
                plan.net4(),
                plan.prefix6()
            ),
            Ok(_) => {}
            // Retried by `poll`; the mesh runs meanwhile.
            Err(e) => eprintln!("meshd: LAN {ifname}: {e}"),
        }
        Ok(LanSide {
            ifname,
            ifindex,
            plan,
            dnsmasq,
            dns,
            run_dir,
        })
    }

    /// Once a second: keep dnsmasq running; move to a new /24 when the
    /// claim moved.
    pub fn tick(&mut self, id: &Ident, log: LogLevel) {
        let now = std::time::Instant::now();
        if let Some(ev) = self.dnsmasq.poll(now) {
            if log >= LogLevel::Info || !matches!(ev, crate::lan::Event::Started { .. }) {
                eprintln!("meshd: LAN {}: dnsmasq {ev}", self.ifname);
            }
        }
        if id.ipv4_net() != self.plan.net4() {
            self.move_to(id.ipv4_net(), now);
        }
    }

    fn move_to(&mut self, net4: Ipv4Addr, now: std::time::Instant) {
        let plan = match LanPlan::new(
            &self.ifname,
            self.plan.prefix6(),
            net4,
            self.dns,
            &self.run_dir,
        )
        .and_then(|p| match self.plan.anon6() {
            Some(a) => p.with_anon(a),
            None => Ok(p),
        }) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("meshd: LAN {}: {e}", self.ifname);
                return;
            }
        };
        let old = self.plan.addresses()[0];
        let new = plan.addresses()[0];
        if let Err(e) = rtnl::add_address(self.ifindex, new.0, new.1) {
            eprintln!("meshd: LAN {}: address {}: {e}", self.ifname, new.0);
        }
        if old.0.is_ipv4() {
            let _ = rtnl::del_address(self.ifindex, old.0, old.1);
        }
        match self.dnsmasq.reconfigure(plan.clone(), now) {
            Ok(_) => eprintln!("meshd: LAN {}: now {}/24", self.ifname, net4),
            Err(e) => eprintln!("meshd: LAN {}: dnsmasq: {e}", self.ifname),
        }
        self.plan = plan;
    }
}
