//! `/etc/meshd/meshd.toml`: what the daemon runs on, validated before it is
//! used (at start and on SIGHUP, where a bad file is refused and the running
//! configuration kept). See `meshd.toml.example` in the repository.

use serde::Deserialize;
use std::path::Path;

use crate::daemon::LogLevel;
use batman::wire::tvlv_data::GwData;

/// Default location of the config file.
pub const DEFAULT_PATH: &str = "/etc/meshd/meshd.toml";

/// The file as written (TOML, or UCI mapped onto the same fields by
/// `uci.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    pub mesh: MeshSection,
    #[serde(default)]
    pub batman: BatmanSection,
    /// Present: the node has an identity and key-derived addresses.
    pub node: Option<NodeSection>,
}

/// `[node]`: identity, addresses, the L3 path, the LAN and `.mesh` names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeSection {
    pub state_dir: Option<String>,
    pub name: Option<String>,
    pub ipv4_pool: Option<String>,
    pub tun: Option<String>,
    pub lan: Option<String>,
    pub dns: Option<String>,
    pub dnsmasq: Option<String>,
    pub max_directory: Option<usize>,
    pub hook: Option<String>,
    /// Destination prefixes sent through onion circuits ("none": none).
    pub anonymous: Option<String>,
    /// Destination prefixes sent direct even inside an anonymous one.
    pub direct: Option<String>,
    pub relays: Option<usize>,
    pub rotate_s: Option<u64>,
    pub max_circuits: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MeshSection {
    pub interfaces: Vec<String>,
    #[serde(default = "default_soft")]
    pub soft_interface: String,
    #[serde(default = "default_log")]
    pub log: String,
    /// Announce an uplink: `"10mbit/2mbit"` as batctl's `gw_mode server`.
    pub gateway: Option<String>,
}

pub(crate) fn default_soft() -> String {
    "bat0".into()
}

pub(crate) fn default_log() -> String {
    "info".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatmanSection {
    pub orig_interval_ms: Option<u64>,
    pub hop_penalty: Option<u8>,
    pub aggregation: Option<bool>,
    pub max_originators: Option<usize>,
    pub max_neighbours: Option<usize>,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub interfaces: Vec<String>,
    /// `None`: routing only, no soft interface.
    pub soft_interface: Option<String>,
    pub log: LogLevel,
    pub batman: batman::Config,
    /// What this node announces as a gateway (GW TVLV), if it has an uplink.
    pub gateway: Option<GwData>,
    /// Identity, addresses, mesh0, LAN service; None: batman only.
    pub node: Option<NodeConfig>,
}

/// Default L3 interface.
pub const DEFAULT_TUN: &str = "mesh0";

/// The validated `[node]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// Keys and node state (default /etc/meshd).
    pub state_dir: std::path::PathBuf,
    /// Announced name (answers `<name>.mesh`); empty: none.
    pub name: String,
    pub pool: onion::addr::Pool,
    /// The L3 TUN; None: no end-to-end path.
    pub tun: Option<String>,
    /// The LAN interface served with RA and DHCP (dnsmasq); None: none.
    pub lan: Option<String>,
    /// Where the `.mesh` responder listens; None: off.
    pub dns: Option<std::net::SocketAddr>,
    /// The dnsmasq program.
    pub dnsmasq: String,
    pub max_directory: usize,
    /// A program run at start and whenever the node's addresses change,
    /// with them in its environment (e.g. OpenWrt's meshd-lan, which puts
    /// them into the system's network and dhcp config).
    pub hook: Option<std::path::PathBuf>,
    /// Onion circuits: relays, rotation, relay limits.
    pub circuit: onion::circuit::Config,
    /// Which destinations go through circuits.
    pub policy: crate::circuits::Policy,
}

impl NodeConfig {
    /// The defaults, with keys in `state_dir`.
    pub fn with_state_dir(state_dir: &str) -> NodeConfig {
        NodeConfig {
            state_dir: state_dir.into(),
            name: String::new(),
            pool: onion::addr::Pool::DEFAULT,
            tun: Some(DEFAULT_TUN.into()),
            lan: None,
            dns: Some(crate::dns::DEFAULT_LISTEN),
            dnsmasq: "dnsmasq".into(),
            max_directory: onion::directory::DEFAULT_MAX_ENTRIES,
            hook: None,
            circuit: onion::circuit::Config::default(),
            policy: crate::circuits::Policy::default(),
        }
    }

    /// Set the anonymous and direct prefix lists (space or comma
    /// separated; "none" or empty: no prefix).
    pub fn set_policy(
        &mut self,
        anonymous: Option<&str>,
        direct: Option<&str>,
    ) -> Result<(), String> {
        let list = |s: &str| -> Vec<String> {
            s.split([' ', ','])
                .filter(|p| !p.is_empty() && *p != "none")
                .map(str::to_string)
                .collect()
        };
        let anon = match anonymous {
            Some(a) => list(a),
            None => vec!["fd00::/8".to_string()],
        };
        let direct = direct.map(list).unwrap_or_default();
        self.policy = crate::circuits::Policy::new(&anon, &direct)?;
        Ok(())
    }

    /// Relays per circuit, 1 ..= 6 (a cell has 7 hops).
    pub fn set_relays(&mut self, n: usize) -> Result<(), String> {
        if !(1..onion::cell::MAX_HOPS).contains(&n) {
            return Err(format!("{n} is not 1 to {}", onion::cell::MAX_HOPS - 1));
        }
        self.circuit.relays = n;
        Ok(())
    }
}

/// A pool as `10.0.0.0/8`.
pub fn parse_pool(s: &str) -> Result<onion::addr::Pool, String> {
    let (net, len) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not NETWORK/LENGTH"))?;
    let net: std::net::Ipv4Addr = net
        .parse()
        .map_err(|_| format!("{net:?} is not an IPv4 address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("{len:?} is not a prefix length"))?;
    onion::addr::Pool::new(net, len).map_err(|e| e.to_string())
}

fn validate_node(n: NodeSection, origin: &str) -> Result<NodeConfig, String> {
    let mut c =
        NodeConfig::with_state_dir(n.state_dir.as_deref().unwrap_or(crate::state::DEFAULT_DIR));
    let bad = |k: &str, e: String| format!("{origin}: [node] {k}: {e}");
    if c.state_dir.as_os_str().is_empty() || !c.state_dir.is_absolute() {
        return Err(bad("state_dir", "must be an absolute path".into()));
    }
    if let Some(name) = n.name {
        if !onion::announce::valid_name(&name) {
            return Err(bad(
                "name",
                format!("{name:?} is not 1-32 characters of a-z, 0-9 and '-'"),
            ));
        }
        c.name = name;
    }
    if let Some(p) = n.ipv4_pool {
        c.pool = parse_pool(&p).map_err(|e| bad("ipv4_pool", e))?;
    }
    let iface =
        |k: &str, v: Option<String>, dflt: Option<String>| -> Result<Option<String>, String> {
            match v {
                None => Ok(dflt),
                Some(s) if s.is_empty() => Ok(None),
                Some(s) if valid_ifname(&s) => Ok(Some(s)),
                Some(s) => Err(bad(k, format!("{s:?} is not an interface name"))),
            }
        };
    c.tun = iface("tun", n.tun, c.tun.clone())?;
    c.lan = iface("lan", n.lan, None)?;
    match n.dns.as_deref() {
        None => {}
        Some("") => c.dns = None,
        Some(s) => {
            c.dns = Some(
                s.parse()
                    .map_err(|_| bad("dns", format!("{s:?} is not ADDRESS:PORT")))?,
            )
        }
    }
    if let Some(d) = n.dnsmasq {
        if d != "dnsmasq" && !d.starts_with('/') {
            return Err(bad(
                "dnsmasq",
                format!("{d:?}: \"dnsmasq\" (found in PATH) or an absolute path"),
            ));
        }
        c.dnsmasq = d;
    }
    if let Some(m) = n.max_directory {
        if m == 0 {
            return Err(bad("max_directory", "must be at least 1".into()));
        }
        c.max_directory = m;
    }
    if let Some(h) = n.hook.filter(|h| !h.is_empty()) {
        if !h.starts_with('/') {
            return Err(bad("hook", format!("{h:?} is not an absolute path")));
        }
        c.hook = Some(h.into());
    }
    if c.lan.is_some() && c.tun.is_none() {
        return Err(bad("lan", "serving a LAN needs the tun interface".into()));
    }
    c.set_policy(n.anonymous.as_deref(), n.direct.as_deref())
        .map_err(|e| bad("anonymous/direct", e))?;
    if let Some(r) = n.relays {
        c.set_relays(r).map_err(|e| bad("relays", e))?;
    }
    if let Some(r) = n.rotate_s {
        if r < 10 {
            return Err(bad("rotate_s", format!("{r} is below 10 seconds")));
        }
        c.circuit.rotate_ms = r * 1000;
    }
    if let Some(m) = n.max_circuits {
        if m == 0 {
            return Err(bad("max_circuits", "must be at least 1".into()));
        }
        c.circuit.max_circuits = m;
    }
    Ok(c)
}

/// A bandwidth as batctl's `gw_mode server` takes it: `DOWN[/UP]`, each a
/// number with an optional `kbit` or `mbit` unit (default kbit); UP
/// defaults to DOWN/5. Stored in the GW TVLV's 100 kbit/s units.
pub fn parse_bandwidth(s: &str) -> Result<GwData, String> {
    let one = |v: &str| -> Result<u32, String> {
        let v = v.trim().to_ascii_lowercase();
        let (num, mult) = if let Some(n) = v.strip_suffix("mbit") {
            (n, 1000.0)
        } else if let Some(n) = v.strip_suffix("kbit") {
            (n, 1.0)
        } else {
            (v.as_str(), 1.0)
        };
        let x: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("bad bandwidth {s:?} (want e.g. 10mbit/2mbit)"))?;
        let units = (x * mult / f64::from(GwData::UNIT_KBIT)).round();
        if !(1.0..=f64::from(u32::MAX)).contains(&units) {
            return Err(format!(
                "bandwidth {s:?} out of range (100 kbit/s to 429 Tbit/s)"
            ));
        }
        Ok(units as u32)
    };
    let (down, up) = match s.split_once('/') {
        Some((d, u)) => (one(d)?, one(u)?),
        None => {
            let d = one(s)?;
            (d, (d / 5).max(1))
        }
    };
    Ok(GwData {
        bandwidth_down: down,
        bandwidth_up: up,
    })
}

fn valid_ifname(n: &str) -> bool {
    !n.is_empty() && n.len() < 16 && !n.contains(['/', ' ', '\t', '\0']) && n != "." && n != ".."
}

/// Parse and validate config text, TOML or (when its first statement is a
/// `config` line) OpenWrt's UCI; errors name `origin` and, for syntax and
/// type errors, the line.
pub fn parse(text: &str, origin: &str) -> Result<Config, String> {
    let f = if crate::uci::looks_like_uci(text) {
        crate::uci::parse(text, origin)?
    } else {
        parse_toml(text, origin)?
    };
    validate(f, origin)
}

fn parse_toml(text: &str, origin: &str) -> Result<File, String> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" line {line}:")
            })
            .unwrap_or_default();
        format!("{origin}:{at} {}", e.message().trim())
    })
}

/// Check a parsed file's values and build the configuration.
fn validate(f: File, origin: &str) -> Result<Config, String> {
    let m = f.mesh;
    if m.interfaces.is_empty() {
        return Err(format!(
            "{origin}: [mesh] interfaces must name at least one interface"
        ));
    }
    for i in &m.interfaces {
        if !valid_ifname(i) {
            return Err(format!(
                "{origin}: [mesh] interfaces: {i:?} is not an interface name"
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for i in &m.interfaces {
        if !seen.insert(i) {
            return Err(format!(
                "{origin}: [mesh] interfaces: {i:?} is listed twice"
            ));
        }
    }
    let soft_interface = if m.soft_interface.is_empty() {
        None
    } else if !valid_ifname(&m.soft_interface) {
        return Err(format!(
            "{origin}: [mesh] soft_interface: {:?} is not an interface name",
            m.soft_interface
        ));
    } else if m.interfaces.contains(&m.soft_interface) {
        return Err(format!(
            "{origin}: [mesh] soft_interface {:?} is also a mesh interface",
            m.soft_interface
        ));
    } else {
        Some(m.soft_interface)
    };
    let log: LogLevel = m
        .log
        .parse()
        .map_err(|e| format!("{origin}: [mesh] log: {e}"))?;
    let gateway = match &m.gateway {
        None => None,
        Some(g) => Some(parse_bandwidth(g).map_err(|e| format!("{origin}: [mesh] gateway: {e}"))?),
    };
    let mut bc = batman::Config::default();
    let b = f.batman;
    if let Some(ms) = b.orig_interval_ms {
        bc.orig_interval = std::time::Duration::from_millis(ms);
    }
    if let Some(h) = b.hop_penalty {
        bc.hop_penalty = h;
    }
    if let Some(a) = b.aggregation {
        bc.aggregation = a;
    }
    if let Some(n) = b.max_originators {
        bc.limits.max_originators = n;
    }
    if let Some(n) = b.max_neighbours {
        bc.limits.max_neighbours = n;
    }
    bc.validate()
        .map_err(|e| format!("{origin}: [batman] {e}"))?;
    let node = f.node.map(|n| validate_node(n, origin)).transpose()?;
    if let Some(n) = &node {
        for name in n.tun.iter().chain(n.lan.iter()) {
            if m.interfaces.contains(name) || soft_interface.as_ref() == Some(name) {
                return Err(format!(
                    "{origin}: [node] {name:?} is also a mesh or soft interface"
                ));
            }
        }
    }
    Ok(Config {
        interfaces: m.interfaces,
        soft_interface,
        log,
        batman: bc,
        gateway,
        node,
    })
}

/// Read and validate a config file.
pub fn load(path: &Path) -> Result<Config, String> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{origin}: {e}"))?;
    parse(&text, &origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_in_the_repository_is_valid() {
        let text = include_str!("../meshd.toml.example");
        let c = parse(text, "meshd.toml.example").unwrap();
        assert_eq!(c.soft_interface.as_deref(), Some("bat0"));
        assert!(!c.interfaces.is_empty());
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let c = parse("[mesh]\ninterfaces = [\"eth1\"]\n", "t").unwrap();
        assert_eq!(c.interfaces, vec!["eth1"]);
        assert_eq!(c.soft_interface.as_deref(), Some("bat0"));
        assert_eq!(c.log, LogLevel::Info);
        assert_eq!(c.batman, batman::Config::default());
        let c = parse(
            "[mesh]\ninterfaces = [\"eth1\"]\nsoft_interface = \"\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.soft_interface, None);
        assert_eq!(c.gateway, None);
        assert_eq!(c.node, None);
    }

    #[test]
    fn node_section_defaults_and_errors() {
        let c = parse("[mesh]\ninterfaces = [\"eth1\"]\n[node]\n", "t").unwrap();
        let n = c.node.unwrap();
        assert_eq!(n, NodeConfig::with_state_dir("/etc/meshd"));
        assert_eq!(n.tun.as_deref(), Some("mesh0"));
        assert_eq!(n.dns, Some("127.0.0.1:5353".parse().unwrap()));
        let c = parse(
            "[mesh]\ninterfaces = [\"eth1\"]\n[node]\nstate_dir = \"/var/lib/m\"\nname = \"alice\"\nipv4_pool = \"172.16.0.0/12\"\nlan = \"br-lan\"\ndns = \"\"\n",
            "t",
        )
        .unwrap();
        let n = c.node.unwrap();
        assert_eq!(n.state_dir, std::path::PathBuf::from("/var/lib/m"));
        assert_eq!(n.name, "alice");
        assert_eq!(n.pool, parse_pool("172.16.0.0/12").unwrap());
        assert_eq!(n.lan.as_deref(), Some("br-lan"));
        assert_eq!(n.dns, None);
        for (body, want) in [
            ("name = \"Alice\"", "[node] name"),
            ("ipv4_pool = \"10.1.0.0/8\"", "host bits"),
            ("ipv4_pool = \"10.0.0.0/25\"", "between 1 and 24"),
            ("state_dir = \"rel\"", "absolute"),
            ("tun = \"a/b\"", "not an interface name"),
            ("tun = \"\"\nlan = \"br-lan\"", "needs the tun"),
            ("tun = \"eth1\"", "also a mesh"),
            ("dns = \"localhost\"", "ADDRESS:PORT"),
            ("max_directory = 0", "at least 1"),
            ("hook = \"meshd-lan\"", "absolute path"),
            ("bogus = 1", "bogus"),
        ] {
            let e = parse(
                &format!("[mesh]\ninterfaces = [\"eth1\"]\n[node]\n{body}\n"),
                "f",
            )
            .unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn gateway_bandwidths_as_batctl_takes_them() {
        let g = |down, up| GwData {
            bandwidth_down: down,
            bandwidth_up: up,
        };
        assert_eq!(parse_bandwidth("10mbit/2mbit"), Ok(g(100, 20)));
        assert_eq!(parse_bandwidth("10MBit"), Ok(g(100, 20)));
        assert_eq!(parse_bandwidth("5000"), Ok(g(50, 10)));
        assert_eq!(parse_bandwidth("500kbit/100kbit"), Ok(g(5, 1)));
        assert!(parse_bandwidth("fast").is_err());
        assert!(parse_bandwidth("0").is_err());
        assert!(parse_bandwidth("10mbit/").is_err());
        let c = parse(
            "[mesh]\ninterfaces = [\"e\"]\ngateway = \"50mbit/10mbit\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.gateway, Some(g(500, 100)));
        let e = parse("[mesh]\ninterfaces = [\"e\"]\ngateway = \"x\"\n", "f").unwrap_err();
        assert!(
            e.contains("[mesh] gateway") && e.contains("bad bandwidth"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_cause() {
        let e = parse(
            "[mesh]\ninterfaces = [\"eth1\"]\nlog = 3\n",
            "/etc/meshd/meshd.toml",
        )
        .unwrap_err();
        assert!(e.starts_with("/etc/meshd/meshd.toml: line 3:"), "{e}");
        let e = parse("[mesh]\ninterfaces = [\"eth1\"]\nbogus = 1\n", "f").unwrap_err();
        assert!(e.contains("line 3") && e.contains("bogus"), "{e}");
        let e = parse("[mesh]\ninterfaces = [\"eth1\"\n", "f").unwrap_err();
        assert!(e.starts_with("f: line"), "{e}");
        let e = parse("[mesh]\ninterfaces = []\n", "f").unwrap_err();
        assert!(e.contains("at least one"), "{e}");
        let e = parse("[mesh]\ninterfaces = [\"a/b\"]\n", "f").unwrap_err();
        assert!(e.contains("not an interface name"), "{e}");
        let e = parse("[mesh]\ninterfaces = [\"e\", \"e\"]\n", "f").unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = parse("[mesh]\ninterfaces = [\"e\"]\nlog = \"loud\"\n", "f").unwrap_err();
        assert!(e.contains("unknown log level"), "{e}");
        let e = parse(
            "[mesh]\ninterfaces = [\"e\"]\n[batman]\norig_interval_ms = 5\n",
            "f",
        )
        .unwrap_err();
        assert!(e.contains("[batman]") && e.contains("orig_interval"), "{e}");
        let e = load(Path::new("/nonexistent/meshd.toml")).unwrap_err();
        assert!(e.starts_with("/nonexistent/meshd.toml: "), "{e}");
    }
}
