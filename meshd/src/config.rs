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
    Ok(Config {
        interfaces: m.interfaces,
        soft_interface,
        log,
        batman: bc,
        gateway,
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
