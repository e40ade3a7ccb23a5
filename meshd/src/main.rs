//! meshd: the mesh router daemon and its `meshctl` CLI, in one binary.
//!
//! `meshd daemon` runs the BATMAN IV core (`batman`) on AF_PACKET sockets,
//! one per mesh interface (`ifaces`), with a TAP soft interface whose
//! frames travel as batman unicast (translation tables) or broadcast, a
//! config file (`config`) and a control socket (`daemon`). `meshctl`
//! (`meshd ctl`, or this binary linked as `meshctl`) reads and steers it
//! with batctl's verbs (`ctl`), and decodes live frames itself (`td`).
//! All unsafe code is in `sys`.

#![deny(unsafe_code)] // allowed in `sys` only, where each block is justified

mod carrier;
mod circuits;
mod config;
mod ctl;
mod daemon;
mod dns;
mod hook;
mod ident;
mod ifaces;
#[allow(dead_code)] // wired into the daemon next
mod lan;
mod lanside;
mod mesh0;
mod state;
#[allow(unsafe_code)]
mod sys;
mod td;
mod uci;

use std::process::ExitCode;

const USAGE: &str = "\
meshd - community mesh router daemon (batman-adv compatible)

usage:
  meshd daemon [--config FILE] [--log warn|info|debug] [-s SOCKET]
                       run as /etc/meshd/meshd.toml (or FILE, TOML or UCI
                       such as /etc/config/meshd) says; SIGHUP
                       re-reads it (a bad file is refused, the running
                       configuration kept)
  meshd daemon -i IF [-i IF ...] [-t bat0] [-g DOWN/UP] [--log LEVEL] [-s SOCKET]
                       run on the given mesh interfaces (root or CAP_NET_RAW);
                       -t creates the soft interface (a TAP): its frames go
                       to the node that announced the destination in its
                       translation table, or are flooded; -g announces an
                       uplink as a gateway (e.g. 10mbit/2mbit);
                       SIGUSR1 prints the originator table, SIGTERM stops
     [--state-dir DIR] [--name NAME] [--tun mesh0] [--lan IF] [--dns ADDR:PORT]
     [--ipv4-pool 10.0.0.0/8] [--dnsmasq PROGRAM] [--anonymous PREFIXES|none]
     [--relays N]
                       the node layer (as a [node] section): keys in DIR
                       (created on first start), key-derived addresses on
                       the tun, RA and DHCP for the LAN interface IF by a
                       dnsmasq meshd runs, .mesh names answered at ADDR:PORT;
                       packets to PREFIXES (default fd00::/8) go through
                       onion circuits of N relays (default 3)
  meshd ctl [-s SOCKET] [-j] VERB
                       ask the running daemon (also as `meshctl`, a link to
                       this binary), batctl's layouts or JSON with -j:
                         o | n | s | tl | tg | gwl   originators, neighbours,
                             statistics, local/global translation tables,
                             gateways
                         id | dir | sessions         this node's identity and
                             addresses, the verified directory, mesh0's
                             end-to-end sessions (with a [node] section)
                         circuits                    this node's onion
                             circuits; as a relay, counts only
                         if [add IF | del IF]        mesh interfaces
                         ping [-c N] MAC             batman ICMP echo to an
                             originator or a client MAC
                         tr MAC                      traceroute
                         td IF [-c N]                decode live frames on IF
                       -s sets the control socket (default /var/run/meshd.sock)
  meshd check [--config FILE]
                       validate a config file (TOML, or OpenWrt's UCI
                       /etc/config/meshd) and say ok or what is wrong
  meshd decode <hex>   decode one batman-adv payload (bytes after the
                       Ethernet header, ethertype 0x4305) and print its fields
  meshd --version      print the version
  meshd --help         this text
";

fn main() -> ExitCode {
    let argv0 = std::env::args().next().unwrap_or_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let as_ctl = std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "meshctl");
    if as_ctl || args.first().map(String::as_str) == Some("ctl") {
        let rest = if as_ctl { &args[..] } else { &args[1..] };
        return match ctl::meshctl(rest) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("meshctl: {e}");
                ExitCode::from(1)
            }
        };
    }
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("meshd {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("daemon") => match parse_daemon(&args[1..]) {
            Ok(opts) => match daemon::run(opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("meshd: {e}");
                    ExitCode::from(1)
                }
            },
            Err(e) => {
                eprintln!("meshd: {e}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("check") => match check(&args[1..]) {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
        Some("decode") => match args.get(1).map(|h| parse_hex(h)) {
            Some(Ok(bytes)) => match td::describe_payload(batman::Mac::ZERO, &bytes) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("meshd: cannot decode: {e}");
                    ExitCode::from(1)
                }
            },
            Some(Err(e)) => {
                eprintln!("meshd: {e}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("meshd: decode needs a hex string\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("--help") | Some("-h") | None => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("meshd: unknown command '{other}'\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse_daemon(args: &[String]) -> Result<daemon::Options, String> {
    let mut ifaces = Vec::new();
    let mut log = None;
    let mut tap = None;
    let mut path = None;
    let mut gateway = None;
    let mut state_dir: Option<String> = None;
    let mut node_opts: Vec<(String, String)> = Vec::new();
    let mut socket = std::path::PathBuf::from(ctl::DEFAULT_SOCKET);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" | "--config" => {
                path = Some(std::path::PathBuf::from(
                    it.next().ok_or("--config needs a file")?,
                ))
            }
            "-i" | "--iface" => ifaces.push(it.next().ok_or("-i needs an interface name")?.clone()),
            "--log" => log = Some(it.next().ok_or("--log needs a level")?.parse()?),
            "-t" | "--tap" => {
                tap = Some(it.next().ok_or("-t needs a soft interface name")?.clone())
            }
            "-s" | "--socket" => socket = it.next().ok_or("-s needs a path")?.into(),
            "-g" | "--gateway" => {
                let bw = it
                    .next()
                    .ok_or("--gateway needs a bandwidth (e.g. 10mbit/2mbit)")?;
                gateway = Some(config::parse_bandwidth(bw).map_err(|e| format!("--gateway: {e}"))?)
            }
            "--state-dir" => {
                state_dir = Some(it.next().ok_or("--state-dir needs a directory")?.clone())
            }
            "--name" | "--tun" | "--lan" | "--dns" | "--ipv4-pool" | "--dnsmasq"
            | "--anonymous" | "--relays" => {
                let v = it.next().ok_or(format!("{a} needs a value"))?;
                node_opts.push((a[2..].to_string(), v.clone()));
            }
            o => return Err(format!("unknown option {o:?}")),
        }
    }
    // --state-dir and its companions: the [node] section from the command
    // line (over the file's, when there is one).
    let node_from_args =
        |base: Option<config::NodeConfig>| -> Result<Option<config::NodeConfig>, String> {
            if state_dir.is_none() && node_opts.is_empty() {
                return Ok(base);
            }
            let mut n = match (base, &state_dir) {
            (_, Some(d)) => config::NodeConfig::with_state_dir(d),
            (Some(b), None) => b,
            (None, None) => return Err("--name, --tun, --lan, --dns, --ipv4-pool and --dnsmasq need --state-dir (or a [node] section)".into()),
        };
            if !n.state_dir.is_absolute() {
                return Err("--state-dir must be an absolute path".into());
            }
            for (k, v) in &node_opts {
                let opt = |v: &str| (!v.is_empty()).then(|| v.to_string());
                match k.as_str() {
                    "name" => {
                        if !onion::announce::valid_name(v) {
                            return Err(format!(
                                "--name {v:?}: 1-32 characters of a-z, 0-9 and '-'"
                            ));
                        }
                        n.name = v.clone()
                    }
                    "tun" => n.tun = opt(v),
                    "lan" => n.lan = opt(v),
                    "dns" => {
                        n.dns = match opt(v) {
                            None => None,
                            Some(a) => Some(
                                a.parse()
                                    .map_err(|_| format!("--dns {a:?}: not ADDRESS:PORT"))?,
                            ),
                        }
                    }
                    "ipv4-pool" => {
                        n.pool = config::parse_pool(v).map_err(|e| format!("--ipv4-pool: {e}"))?
                    }
                    "anonymous" => n
                        .set_policy(Some(v), None)
                        .map_err(|e| format!("--anonymous: {e}"))?,
                    "relays" => {
                        let r = v
                            .parse()
                            .map_err(|_| format!("--relays {v:?}: not a number"))?;
                        n.set_relays(r).map_err(|e| format!("--relays: {e}"))?
                    }
                    _ => n.dnsmasq = v.clone(),
                }
            }
            if n.lan.is_some() && n.tun.is_none() {
                return Err("--lan needs the tun interface".into());
            }
            Ok(Some(n))
        };
    if ifaces.is_empty() {
        // The config file: --config, or the default location.
        let path = path.unwrap_or_else(|| std::path::PathBuf::from(config::DEFAULT_PATH));
        let mut config = config::load(&path)?;
        if let Some(l) = log {
            config.log = l;
        }
        if tap.is_some() {
            config.soft_interface = tap;
        }
        if gateway.is_some() {
            config.gateway = gateway;
        }
        config.node = node_from_args(config.node.take())?;
        return Ok(daemon::Options {
            config,
            path: Some(path),
            socket,
        });
    }
    if path.is_some() {
        return Err("give either --config or -i, not both".into());
    }
    let config = config::Config {
        interfaces: ifaces,
        soft_interface: tap,
        log: log.unwrap_or(daemon::LogLevel::Info),
        batman: batman::Config::default(),
        gateway,
        node: node_from_args(None)?,
    };
    Ok(daemon::Options {
        config,
        path: None,
        socket,
    })
}

/// `meshd check [--config FILE]`: validate a config file (TOML or UCI)
/// without running anything, as an init script does before a reload.
fn check(args: &[String]) -> Result<String, String> {
    let path = match args {
        [] => std::path::PathBuf::from(config::DEFAULT_PATH),
        [flag, f] if flag == "-c" || flag == "--config" => std::path::PathBuf::from(f),
        _ => return Err(format!("usage: meshd check [--config FILE]\n\n{USAGE}")),
    };
    config::load(&path).map(|_| format!("{}: ok", path.display()))
}

fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if s.len() % 2 == 1 {
        return Err("hex string has an odd number of digits".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .map_err(|_| format!("'{}' is not hex", &s[i..i + 2]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_an_ogm_and_refuses_garbage() {
        let ogm = "000f3200 00000001 020000000001 020000000001 00ff 0000";
        let text = td::describe_payload(batman::Mac::ZERO, &parse_hex(ogm).unwrap()).unwrap();
        assert!(text.contains("BAT 02:00:00:00:00:01: OGM IV"), "{text}");
        assert!(text.contains("tq 255"));
        assert!(parse_hex("0f0").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(td::describe_payload(batman::Mac::ZERO, &[0x00, 0x0e]).is_err());
    }
}
