//! OpenWrt's UCI syntax (`/etc/config/meshd`), read natively so that the
//! router's own config file is meshd's config file: no generated copy to
//! drift, and the same validation (file, line, cause) as the TOML file.
//!
//! ```text
//! config meshd 'main'
//!         option enabled '1'            # init script only
//!         list interface 'wlmesh0'        # mesh interfaces, one or more
//!         option soft_interface 'bat0'  # 'none' = routing only
//!         option log 'info'
//!         option gateway '10mbit/2mbit'
//!         option lan_bridge ''          # init script / first boot only
//! config batman 'batman'                # optional
//!         option orig_interval_ms '1000'
//!         option hop_penalty '30'
//!         option aggregation '1'
//!         option max_originators '1024'
//!         option max_neighbours '128'
//! config node 'node'                    # optional: the node layer
//!         option state_dir '/etc/meshd'
//!         option name 'alice'
//!         option ipv4_pool '10.0.0.0/8'
//!         option tun 'mesh0'            # 'none' = no L3 path
//!         option lan 'br-lan'           # absent: no LAN served
//!         option dns '127.0.0.1:5353'   # 'none' = no .mesh responder
//!         option dnsmasq 'dnsmasq'
//!         option max_directory '1024'
//!         option hook '/usr/libexec/meshd-lan'  # run on address changes
//!         option anonymous 'fd00::/8'   # through onion circuits ('none': off)
//!         option direct ''              # prefixes excepted from that
//!         option relays '3'
//!         option rotate_s '600'
//!         option max_circuits '2048'    # circuits relayed at most
//!         option openwrt_lan 'lan'      # read by that hook only
//! ```
//!
//! Exactly one `meshd` section and at most one `batman` and one `node`
//! section; unknown
//! options in them are errors (a typo is never ignored). Sections of other
//! types (such as the first-boot `wifi` section) belong to the init and
//! uci-defaults scripts and are skipped.

use crate::config::{default_log, default_soft, BatmanSection, File, MeshSection, NodeSection};

/// Is the first statement of `text` a `config` (or `package`, as `uci
/// export` writes) line?
pub fn looks_like_uci(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| {
            let kw = l.split_whitespace().next().unwrap_or("");
            kw == "config" || kw == "package"
        })
}

/// The words of one line: bare, 'single' (no escapes) or "double" (with
/// backslash escapes) quoted; a `#` outside quotes ends the line.
fn words(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&c) = chars.peek() else { break };
        if c == '#' {
            break;
        }
        let mut w = String::new();
        while let Some(&c) = chars.peek() {
            match c {
                c if c.is_whitespace() => break,
                '\'' => {
                    chars.next();
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(c) => w.push(c),
                            None => return Err("unterminated ' quote"),
                        }
                    }
                }
                '"' => {
                    chars.next();
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => w.push(chars.next().ok_or("unterminated \" quote")?),
                            Some(c) => w.push(c),
                            None => return Err("unterminated \" quote"),
                        }
                    }
                }
                c => {
                    chars.next();
                    w.push(c);
                }
            }
        }
        out.push(w);
    }
    Ok(out)
}

/// Which section the lines belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum In {
    Nothing,
    Meshd,
    Batman,
    Node,
    Other,
}

fn number<T: std::str::FromStr>(v: &str, at: &str, name: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{at} option {name}: {v:?} is not a number in range"))
}

fn boolean(v: &str, at: &str, name: &str) -> Result<bool, String> {
    match v {
        "1" | "yes" | "on" | "true" | "enabled" => Ok(true),
        "0" | "no" | "off" | "false" | "disabled" => Ok(false),
        _ => Err(format!(
            "{at} option {name}: {v:?} is not a boolean (0 or 1)"
        )),
    }
}

/// Parse UCI text into the fields the TOML file has; `origin` names the
/// file in errors.
pub(crate) fn parse(text: &str, origin: &str) -> Result<File, String> {
    let mut mesh = MeshSection {
        interfaces: Vec::new(),
        soft_interface: default_soft(),
        log: default_log(),
        gateway: None,
    };
    let mut batman = BatmanSection::default();
    let mut node: Option<NodeSection> = None;
    let (mut meshd_seen, mut batman_seen, mut node_seen) =
        (None::<usize>, None::<usize>, None::<usize>);
    let mut section = In::Nothing;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let at = format!("{origin}: line {n}:");
        let w = words(line).map_err(|e| format!("{at} {e}"))?;
        let Some(kw) = w.first() else { continue };
        match kw.as_str() {
            "config" => {
                let ty = w
                    .get(1)
                    .ok_or(format!("{at} config needs a section type"))?;
                if w.len() > 3 {
                    return Err(format!("{at} config takes a type and a name"));
                }
                section = match ty.as_str() {
                    "meshd" => {
                        if let Some(first) = meshd_seen.replace(n) {
                            return Err(format!(
                                "{at} a second meshd section (the first is on line {first})"
                            ));
                        }
                        In::Meshd
                    }
                    "batman" => {
                        if let Some(first) = batman_seen.replace(n) {
                            return Err(format!(
                                "{at} a second batman section (the first is on line {first})"
                            ));
                        }
                        In::Batman
                    }
                    "node" => {
                        if let Some(first) = node_seen.replace(n) {
                            return Err(format!(
                                "{at} a second node section (the first is on line {first})"
                            ));
                        }
                        node = Some(NodeSection::default());
                        In::Node
                    }
                    _ => In::Other,
                };
            }
            "option" | "list" => {
                let (Some(name), Some(value), 3) = (w.get(1), w.get(2), w.len()) else {
                    return Err(format!("{at} {kw} takes a name and one value"));
                };
                let (name, v) = (name.as_str(), value.as_str());
                let list = kw == "list";
                match (section, name) {
                    (In::Nothing, _) => {
                        return Err(format!("{at} {kw} {name} outside a config section"))
                    }
                    (In::Other, _) => {}
                    (In::Meshd, "interface") => {
                        if !v.is_empty() {
                            mesh.interfaces.push(v.to_string());
                        }
                    }
                    (_, _) if list => {
                        return Err(format!("{at} {name} is not a list (use option)"));
                    }
                    // uci drops options set to '' on every rewrite, so
                    // routing only is spelled 'none' here ('' or absent:
                    // the default bat0).
                    (In::Meshd, "soft_interface") => {
                        mesh.soft_interface = match v {
                            "none" => String::new(),
                            "" => default_soft(),
                            v => v.to_string(),
                        }
                    }
                    (In::Meshd, "log") => mesh.log = v.to_string(),
                    (In::Meshd, "gateway") => mesh.gateway = (!v.is_empty()).then(|| v.to_string()),
                    (In::Meshd, "enabled") => {
                        boolean(v, &at, name)?;
                    }
                    (In::Meshd, "lan_bridge") => {}
                    (In::Batman, "orig_interval_ms") => {
                        batman.orig_interval_ms = Some(number(v, &at, name)?)
                    }
                    (In::Batman, "hop_penalty") => batman.hop_penalty = Some(number(v, &at, name)?),
                    (In::Batman, "aggregation") => {
                        batman.aggregation = Some(boolean(v, &at, name)?)
                    }
                    (In::Batman, "max_originators") => {
                        batman.max_originators = Some(number(v, &at, name)?)
                    }
                    (In::Batman, "max_neighbours") => {
                        batman.max_neighbours = Some(number(v, &at, name)?)
                    }
                    (In::Node, k) => {
                        let n = node.as_mut().expect("set with the section");
                        // uci drops '' values, so "off" is spelled 'none'.
                        let off = |v: &str| {
                            if v == "none" {
                                String::new()
                            } else {
                                v.to_string()
                            }
                        };
                        match k {
                            "state_dir" => n.state_dir = Some(v.to_string()),
                            "name" => n.name = Some(v.to_string()),
                            "ipv4_pool" => n.ipv4_pool = Some(v.to_string()),
                            "tun" => n.tun = Some(off(v)),
                            "lan" => n.lan = Some(off(v)),
                            "dns" => n.dns = Some(off(v)),
                            "dnsmasq" => n.dnsmasq = Some(v.to_string()),
                            "max_directory" => n.max_directory = Some(number(v, &at, name)?),
                            "hook" => n.hook = Some(v.to_string()),
                            "anonymous" => n.anonymous = Some(v.to_string()),
                            "direct" => n.direct = Some(v.to_string()),
                            "relays" => n.relays = Some(number(v, &at, name)?),
                            "rotate_s" => n.rotate_s = Some(number(v, &at, name)?),
                            "max_circuits" => n.max_circuits = Some(number(v, &at, name)?),
                            // Read by /usr/libexec/meshd-lan (the hook).
                            "openwrt_lan" => {}
                            _ => {
                                return Err(format!(
                                    "{at} unknown option {name:?} in the node section"
                                ))
                            }
                        }
                    }
                    (In::Meshd, _) => {
                        return Err(format!("{at} unknown option {name:?} in the meshd section"))
                    }
                    (In::Batman, _) => {
                        return Err(format!(
                            "{at} unknown option {name:?} in the batman section"
                        ))
                    }
                }
            }
            "package" => {}
            other => return Err(format!("{at} unknown statement {other:?}")),
        }
    }
    if meshd_seen.is_none() {
        return Err(format!("{origin}: no `config meshd` section"));
    }
    Ok(File { mesh, batman, node })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    const GOOD: &str = "\
# meshd on a router
config meshd 'main'
\toption enabled '1'
\tlist interface 'wlmesh0'
\tlist interface \"lan 2\"   # quoted, with a space: refused later as a name
\toption soft_interface 'bat0'
\toption log 'debug'
\toption gateway '10mbit/2mbit'
\toption lan_bridge ''

config wifi 'wifi'
\toption mesh_id 'meshd'
\toption channel '11'

config batman
\toption orig_interval_ms 500
\toption aggregation '0'
";

    #[test]
    fn the_node_section_maps_onto_the_config() {
        let text = "config meshd 'main'\n\tlist interface 'eth1'\n\
config node 'node'\n\toption state_dir '/etc/meshd'\n\toption name 'alice'\n\
\toption lan 'br-lan'\n\toption dns 'none'\n\toption max_directory '300'\n";
        let c = config::parse(text, "/etc/config/meshd").unwrap();
        let n = c.node.unwrap();
        assert_eq!(n.name, "alice");
        assert_eq!(n.lan.as_deref(), Some("br-lan"));
        assert_eq!(n.tun.as_deref(), Some("mesh0"));
        assert_eq!(n.dns, None);
        assert_eq!(n.max_directory, 300);
        let e = config::parse(
            "config meshd 'main'\n\tlist interface 'eth1'\nconfig node\n\toption colour 'red'\n",
            "f",
        )
        .unwrap_err();
        assert!(e.contains("line 4") && e.contains("node section"), "{e}");
        let e = config::parse(
            "config meshd 'main'\n\tlist interface 'eth1'\nconfig node\nconfig node\n",
            "f",
        )
        .unwrap_err();
        assert!(e.contains("second node section"), "{e}");
        let e = config::parse(
            "config meshd 'main'\n\tlist interface 'eth1'\nconfig node\n\toption name 'Bad Name'\n",
            "f",
        )
        .unwrap_err();
        assert!(e.contains("[node] name"), "{e}");
    }

    #[test]
    fn words_quotes_and_comments() {
        assert_eq!(
            words("  option name 'a b' \"c\\\"d\" e # x").unwrap(),
            vec!["option", "name", "a b", "c\"d", "e"]
        );
        assert_eq!(words("list x ''").unwrap(), vec!["list", "x", ""]);
        assert!(words("option x 'open").is_err());
        assert!(words("option x \"open").is_err());
        assert!(words("   # only a comment").unwrap().is_empty());
    }

    #[test]
    fn a_router_file_maps_onto_the_config() {
        assert!(looks_like_uci(GOOD));
        assert!(!looks_like_uci("[mesh]\ninterfaces = [\"e\"]\n"));
        assert!(looks_like_uci("package meshd\n\nconfig meshd 'main'\n"));
        let none =
            "package meshd\nconfig meshd\n\tlist interface 'e'\n\toption soft_interface 'none'\n";
        assert_eq!(config::parse(none, "f").unwrap().soft_interface, None);
        let empty = "config meshd\n\tlist interface 'e'\n\toption soft_interface ''\n";
        assert_eq!(
            config::parse(empty, "f").unwrap().soft_interface.as_deref(),
            Some("bat0")
        );
        let f = parse(GOOD, "/etc/config/meshd").unwrap();
        assert_eq!(f.mesh.interfaces, vec!["wlmesh0", "lan 2"]);
        assert_eq!(f.mesh.log, "debug");
        assert_eq!(f.batman.orig_interval_ms, Some(500));
        assert_eq!(f.batman.aggregation, Some(false));
        // Validation is the TOML file's: a bad name is caught there.
        let e = config::parse(GOOD, "/etc/config/meshd").unwrap_err();
        assert!(e.contains("not an interface name"), "{e}");
        let ok = GOOD.replace("\tlist interface \"lan 2\"", "\tlist interface 'eth1.3'");
        let c = config::parse(&ok, "/etc/config/meshd").unwrap();
        assert_eq!(c.interfaces, vec!["wlmesh0", "eth1.3"]);
        assert_eq!(c.soft_interface.as_deref(), Some("bat0"));
        assert_eq!(c.batman.orig_interval.as_millis(), 500);
        assert!(c.gateway.is_some());
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases = [
            (
                "config meshd\n\toption colour 'red'\n",
                "line 2: unknown option \"colour\"",
            ),
            (
                "config meshd\n\toption log 'a' 'b'\n",
                "line 2: option takes a name",
            ),
            (
                "option log 'info'\n",
                "line 1: option log outside a config section",
            ),
            (
                "config meshd\n\tlist log 'info'\n",
                "line 2: log is not a list",
            ),
            (
                "config meshd\n\toption enabled 'maybe'\n",
                "line 2: option enabled",
            ),
            (
                "config meshd\nconfig meshd\n",
                "line 2: a second meshd section",
            ),
            ("config meshd\n\toption log 'x\n", "line 2: unterminated"),
            (
                "config wifi\n\toption channel '11'\n",
                "no `config meshd` section",
            ),
            (
                "config meshd\nconfig batman\n\toption hop_penalty '300'\n",
                "line 3: option hop_penalty",
            ),
            ("config meshd\n\tfrobnicate\n", "line 2: unknown statement"),
        ];
        for (text, want) in cases {
            let e = parse(text, "/etc/config/meshd").map(|_| ()).unwrap_err();
            assert!(e.starts_with("/etc/config/meshd: "), "{e}");
            assert!(e.contains(want), "{text:?}: {e}");
        }
        // No interface at all: the shared validation says so.
        let e = config::parse("config meshd 'main'\n", "f").unwrap_err();
        assert!(e.contains("at least one"), "{e}");
    }
}
