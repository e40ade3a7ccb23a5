//! The control socket protocol and `meshctl`.
//!
//! A unix stream socket (mode 0600). A request is one JSON line,
//! `{"cmd":"o"}`; the answer is one JSON line, `{"ok":true,"rows":[...]}` or
//! `{"ok":false,"error":"..."}`. Verbs: `o` originators, `n` neighbours,
//! `s` statistics, `tl` local and `tg` global translation table, `gwl`
//! gateways, `if` interfaces (`"op":"add"|"del","name":IF` to change
//! them), `ping`/`tr` one batman ICMP echo (`"dst"`, `"seq"`, `"ttl"`),
//! `id` this node's identity and addresses, `dir` the verified directory,
//! `sessions` the end-to-end sessions of mesh0, `circuits` the onion
//! circuits (ours; as a relay, counts only).
//! `meshctl` prints batctl's column layouts, or the JSON itself with `-j`;
//! `ping` and `tr` repeat requests, `td` captures frames itself.

use std::fmt::Write;
use std::io::{BufRead, BufReader, Write as IoWrite};
use std::os::unix::net::UnixStream;

use batman::{Node, RngCore};

/// Default control socket path.
/// (`/var/run`: OpenWrt before 25.12 has no `/run`; elsewhere it links there.)
pub const DEFAULT_SOCKET: &str = "/var/run/meshd.sock";

/// JSON string literal.
pub fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The `cmd` of a request line (a flat JSON object with string values).
pub fn request_cmd(line: &str) -> Option<String> {
    let rest = line.split("\"cmd\"").nth(1)?;
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let end = rest.find('"')?;
    let cmd = &rest[..end];
    cmd.chars()
        .all(|c| c.is_ascii_alphanumeric())
        .then(|| cmd.to_string())
}

/// A string field of a request line (`"dst":"02:..."`, `"seq":"3"`).
pub fn request_field(line: &str, key: &str) -> Option<String> {
    let rest = line.split(&format!("\"{key}\"")).nth(1)?;
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let v = &rest[..rest.find('"')?];
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))
        .then(|| v.to_string())
}

/// Answer one request from the node's state.
pub fn answer<R: RngCore>(
    node: &Node<R>,
    cmd: &str,
    ifname: &dyn Fn(batman::IfaceId) -> String,
) -> String {
    let now = node.now();
    let mut rows = Vec::new();
    match cmd {
        "o" => {
            for o in node.originators() {
                let Some(r) = o.router else { continue };
                rows.push(format!(
                    "{{\"orig\":{},\"last_seen_ms\":{},\"tq\":{},\"next_hop\":{},\"iface\":{},\"candidates\":{}}}",
                    js(&o.orig.to_string()),
                    now.saturating_since(o.last_seen).as_millis(),
                    r.tq,
                    js(&r.mac.to_string()),
                    js(&ifname(r.iface)),
                    o.candidates.len()
                ));
            }
        }
        "n" => {
            for n in node.neighbours() {
                rows.push(format!(
                    "{{\"iface\":{},\"neighbour\":{},\"last_seen_ms\":{},\"tq_own\":{}}}",
                    js(&ifname(n.iface)),
                    js(&n.mac.to_string()),
                    now.saturating_since(n.last_seen).as_millis(),
                    n.tq_own
                ));
            }
        }
        "s" => {
            rows = counter_rows(&format!("{:?} {:?}", node.stats(), node.tt_stats()), "");
        }
        "tl" => {
            for (mac, vid, announced) in node.tt_local() {
                rows.push(format!(
                    "{{\"client\":{},\"vid\":{},\"announced\":{announced}}}",
                    js(&mac.to_string()),
                    vid & 0x0fff
                ));
            }
        }
        "tg" => {
            for (mac, vid, orig) in node.tt_global() {
                rows.push(format!(
                    "{{\"client\":{},\"vid\":{},\"orig\":{}}}",
                    js(&mac.to_string()),
                    vid & 0x0fff,
                    js(&orig.to_string())
                ));
            }
        }
        "gwl" => {
            for g in node.gateways() {
                let (tq, hop, iface) = g.router.map_or((0, String::new(), String::new()), |r| {
                    (r.tq, r.mac.to_string(), ifname(r.iface))
                });
                rows.push(format!(
                    "{{\"gateway\":{},\"tq\":{tq},\"next_hop\":{},\"iface\":{},\"down_kbit\":{},\"up_kbit\":{}}}",
                    js(&g.orig.to_string()),
                    js(&hop),
                    js(&iface),
                    u64::from(g.bandwidth_down) * 100,
                    u64::from(g.bandwidth_up) * 100
                ));
            }
        }
        other => {
            return format!(
                "{{\"ok\":false,\"error\":{}}}",
                js(&format!("unknown command {other:?}"))
            )
        }
    }
    format!("{{\"ok\":true,\"rows\":[{}]}}", rows.join(","))
}

/// `s` rows from counters' Debug output (`Stats { a: 1, b: 2, ... }`),
/// each name prefixed with `prefix`.
pub fn counter_rows(text: &str, prefix: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for part in text.split(['{', '}', ',']) {
        if let Some((k, v)) = part.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if !k.is_empty() && v.chars().all(|c| c.is_ascii_digit()) {
                rows.push(format!(
                    "{{\"counter\":{},\"value\":{v}}}",
                    js(&format!("{prefix}{k}"))
                ));
            }
        }
    }
    rows
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// Pull the value of `key` out of a flat JSON object (our own rows).
fn field<'a>(row: &'a str, key: &str) -> &'a str {
    let Some(rest) = row.split(&format!("\"{key}\":")).nth(1) else {
        return "";
    };
    let rest = rest.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        &s[..s.find('"').unwrap_or(s.len())]
    } else {
        &rest[..rest.find([',', '}']).unwrap_or(rest.len())]
    }
}

/// The rows of an answer, split at top level.
fn rows(answer: &str) -> Vec<&str> {
    let Some(body) = answer.split("\"rows\":[").nth(1) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, None);
    for (i, c) in body.char_indices() {
        match c {
            '{' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    if let Some(s) = start.take() {
                        out.push(&body[s..=i]);
                    }
                }
            }
            ']' if depth == 0 => break,
            _ => {}
        }
    }
    out
}

/// Format an answer as batctl does.
pub fn render(cmd: &str, answer: &str) -> String {
    let mut o = String::new();
    let rs = rows(answer);
    match cmd {
        "o" => {
            let _ = writeln!(
                o,
                "   Originator        last-seen ( #/255) Nexthop           [outgoingIF]"
            );
            for r in rs {
                let secs = field(r, "last_seen_ms").parse::<f64>().unwrap_or(0.0) / 1000.0;
                let _ = writeln!(
                    o,
                    " * {} {:7.3}s   ({:>3}) {} [{:>10}]",
                    field(r, "orig"),
                    secs,
                    field(r, "tq"),
                    field(r, "next_hop"),
                    field(r, "iface")
                );
            }
        }
        "n" => {
            let _ = writeln!(o, "IF             Neighbor              last-seen");
            for r in rs {
                let secs = field(r, "last_seen_ms").parse::<f64>().unwrap_or(0.0) / 1000.0;
                let _ = writeln!(
                    o,
                    "{:>10}\t  {} {:7.3}s",
                    field(r, "iface"),
                    field(r, "neighbour"),
                    secs
                );
            }
        }
        "s" => {
            for r in rs {
                let _ = writeln!(o, "\t{}: {}", field(r, "counter"), field(r, "value"));
            }
        }
        "tl" => {
            let _ = writeln!(o, "Client             VID Flags");
            for r in rs {
                let flags = if field(r, "announced") == "true" {
                    "......"
                } else {
                    "...N.."
                };
                let _ = writeln!(
                    o,
                    " * {} {:>4} [{flags}]",
                    field(r, "client"),
                    field(r, "vid")
                );
            }
        }
        "tg" => {
            let _ = writeln!(o, "   Client             VID Flags Last ttvn     Via");
            for r in rs {
                let _ = writeln!(
                    o,
                    " * {} {:>4} [....]          {}",
                    field(r, "client"),
                    field(r, "vid"),
                    field(r, "orig")
                );
            }
        }
        "gwl" => {
            let _ = writeln!(
                o,
                "   Router            ( TQ) Next Hop          [outgoingIf]  Bandwidth"
            );
            for r in rs {
                let mbit = |k: &str| field(r, k).parse::<f64>().unwrap_or(0.0) / 1000.0;
                let _ = writeln!(
                    o,
                    " * {} ({:>3}) {} [{:>10}]: {:.1}/{:.1} MBit",
                    field(r, "gateway"),
                    field(r, "tq"),
                    field(r, "next_hop"),
                    field(r, "iface"),
                    mbit("down_kbit"),
                    mbit("up_kbit")
                );
            }
        }
        "if" => {
            for r in rs {
                let _ = writeln!(o, "{}: {}", field(r, "iface"), field(r, "status"));
            }
        }
        "id" => {
            for r in rs {
                let alias = field(r, "alias");
                let _ = writeln!(o, "node id:    {}", field(r, "node_id"));
                let _ = writeln!(
                    o,
                    "name:       {}{}",
                    field(r, "name"),
                    if alias.is_empty() {
                        String::new()
                    } else {
                        format!(" ({alias}.mesh)")
                    }
                );
                let _ = writeln!(o, "address:    {}", field(r, "address"));
                let _ = writeln!(o, "lan:        {}/64", field(r, "lan"));
                let _ = writeln!(
                    o,
                    "anonymous:  {}/64 (on the LAN, deprecated: bind to it for circuits)",
                    field(r, "anon")
                );
                let _ = writeln!(
                    o,
                    "ipv4:       {}/24 (attempt {})",
                    field(r, "ipv4"),
                    field(r, "ipv4_attempt")
                );
                let _ = writeln!(o, "originator: {}", field(r, "orig"));
                let _ = writeln!(
                    o,
                    "onion key:  {} (until {})",
                    field(r, "onion_key"),
                    field(r, "onion_until")
                );
                let _ = writeln!(o, "seqno:      {}", field(r, "seqno"));
            }
        }
        "circuits" => {
            let _ = writeln!(
                o,
                "   Destination  State         Age     tx bytes     rx bytes  Relays > destination"
            );
            for r in rs {
                let hops = r
                    .split("\"hops\":[")
                    .nth(1)
                    .and_then(|h| h.split(']').next())
                    .unwrap_or("")
                    .replace('"', "")
                    .replace(',', " > ");
                let age = field(r, "age_ms").parse::<f64>().unwrap_or(0.0) / 1000.0;
                let _ = writeln!(
                    o,
                    "   {:<12} {:<8} {:>7.1}s {:>12} {:>12}  {hops}",
                    field(r, "dest"),
                    field(r, "state"),
                    age,
                    field(r, "tx_bytes"),
                    field(r, "rx_bytes"),
                );
            }
            let relay = answer.split("\"relay\":").nth(1).unwrap_or("");
            let _ = writeln!(
                o,
                "relay: {} relayed, {} ending here ({} extending), {} previous hops; {} pseudonym groups, {} pseudonyms",
                field(relay, "relaying"),
                field(relay, "ending"),
                field(relay, "extending"),
                field(relay, "prev_hops"),
                field(relay, "groups"),
                field(relay, "pseudonyms")
            );
        }
        "sessions" => {
            let _ = writeln!(
                o,
                "   Peer                   established   last-rx     tx bytes     rx bytes queued"
            );
            for r in rs {
                let secs = |k: &str| {
                    field(r, k)
                        .parse::<f64>()
                        .map_or("-".to_string(), |v| format!("{:.1}s", v / 1000.0))
                };
                let _ = writeln!(
                    o,
                    " {} {:<22} {:>11} {:>9} {:>12} {:>12} {:>6}",
                    if field(r, "initiator") == "true" {
                        '>'
                    } else {
                        '<'
                    },
                    field(r, "peer"),
                    secs("age_ms"),
                    secs("last_rx_ms"),
                    field(r, "tx_bytes"),
                    field(r, "rx_bytes"),
                    field(r, "queued")
                );
            }
        }
        "dir" => {
            let _ = writeln!(
                o,
                "   Name                   Address                                  IPv4            Originator         last-seen"
            );
            for r in rs {
                let alias = field(r, "alias");
                let secs = field(r, "last_seen_ms").parse::<f64>().unwrap_or(0.0) / 1000.0;
                let _ = writeln!(
                    o,
                    " * {:<22} {:<40} {:<15} {} {:7.3}s{}",
                    field(r, "name"),
                    field(r, "address"),
                    field(r, "ipv4"),
                    field(r, "orig"),
                    secs,
                    if alias.is_empty() {
                        String::new()
                    } else {
                        format!("  {alias}.mesh")
                    }
                );
            }
        }
        _ => o.push_str(answer),
    }
    o
}

/// `meshctl [-s SOCKET] [-j] VERB`: ask the daemon, print the answer.
pub fn meshctl(args: &[String]) -> Result<String, String> {
    let mut socket = DEFAULT_SOCKET.to_string();
    let mut json = false;
    let mut verb = None;
    let mut rest: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-s" | "--socket" => socket = it.next().ok_or("-s needs a path")?.clone(),
            "-j" | "--json" => json = true,
            v if verb.is_none() => verb = Some(v.to_string()),
            v => rest.push(v.to_string()),
        }
    }
    match verb.as_deref() {
        Some("ping") | Some("p") => return ping(&socket, &rest, json),
        Some("traceroute") | Some("tr") => return traceroute(&socket, &rest, json),
        Some("tcpdump") | Some("td") => return crate::td::capture(&rest).map(|()| String::new()),
        Some("interface") | Some("if") if !rest.is_empty() => {
            let (op, name) = match (rest.first().map(String::as_str), rest.get(1), rest.len()) {
                (Some("add") | Some("a"), Some(n), 2) => ("add", n),
                (Some("del") | Some("d"), Some(n), 2) => ("del", n),
                _ => return Err("usage: meshctl if [add IF | del IF]".into()),
            };
            let line = request(
                &socket,
                &format!("{{\"cmd\":\"if\",\"op\":\"{op}\",\"name\":{}}}", js(name)),
            )?;
            if line.contains("\"ok\":false") {
                return Err(field(&line, "error").to_string());
            }
            return Ok(if json { line } else { render("if", &line) });
        }
        _ => {}
    }
    if let Some(r) = rest.first() {
        return Err(format!("unexpected argument {r:?}"));
    }
    let verb = match verb.as_deref() {
        Some("originators") => "o".to_string(),
        Some("neighbors") | Some("neighbours") => "n".to_string(),
        Some("statistics") => "s".to_string(),
        Some("translocal") => "tl".to_string(),
        Some("transglobal") => "tg".to_string(),
        Some("gateways") => "gwl".to_string(),
        Some("interface") => "if".to_string(),
        Some("directory") => "dir".to_string(),
        Some(v) => v.to_string(),
        None => return Err(USAGE.into()),
    };
    let line = request(&socket, &format!("{{\"cmd\":{}}}", js(&verb)))?;
    if line.contains("\"ok\":false") {
        return Err(field(&line, "error").to_string());
    }
    Ok(if json { line } else { render(&verb, &line) })
}

const USAGE: &str = "usage: meshctl [-s SOCKET] [-j] o|n|s|tl|tg|gwl|id|dir|sessions|circuits|if [add|del IF]|ping [-c N] MAC|tr MAC|td IF [-c N]";

/// One request, one answer line.
fn request(socket: &str, line: &str) -> Result<String, String> {
    let mut stream =
        UnixStream::connect(socket).map_err(|e| format!("{socket}: {e} (is meshd running?)"))?;
    writeln!(stream, "{line}").map_err(|e| e.to_string())?;
    let mut out = String::new();
    BufReader::new(stream)
        .read_line(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The destination MAC and an optional `-c N` of a ping or traceroute.
fn dst_and_count(args: &[String], count: u16) -> Result<(batman::Mac, u16), String> {
    let mut count = count;
    let mut dst = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => {
                count = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&c| c > 0)
                    .ok_or("-c needs a number above 0")?
            }
            v => dst = Some(v.parse::<batman::Mac>().map_err(|e| format!("{v}: {e}"))?),
        }
    }
    Ok((dst.ok_or("needs a MAC address")?, count))
}

/// One batman ICMP echo through the daemon: the answer's row (`from`,
/// `type`, `ttl`, `rtt_us`), or the error (`timeout`, no route, ...).
fn echo(
    socket: &str,
    dst: batman::Mac,
    seq: u16,
    ttl: u8,
) -> Result<Result<String, String>, String> {
    let line =
        format!("{{\"cmd\":\"ping\",\"dst\":\"{dst}\",\"seq\":\"{seq}\",\"ttl\":\"{ttl}\"}}");
    let ans = request(socket, &line)?;
    Ok(if ans.contains("\"ok\":true") {
        Ok(rows(&ans).first().copied().unwrap_or("").to_string())
    } else {
        Err(field(&ans, "error").to_string())
    })
}

/// `meshctl ping [-c N] MAC`: batman ICMP echo to an originator or a
/// client MAC, one a second, printed as `batctl ping` does.
fn ping(socket: &str, args: &[String], json: bool) -> Result<String, String> {
    let (dst, count) = dst_and_count(args, 5).map_err(|e| format!("ping {e}"))?;
    let mut out = String::new();
    if !json {
        let _ = writeln!(out, "PING {dst} (20 bytes)");
    }
    let mut ok = 0u32;
    for seq in 1..=count {
        match echo(socket, dst, seq, 50)? {
            Ok(r) if field(&r, "type") == "EchoReply" => {
                ok += 1;
                if json {
                    let _ = writeln!(out, "{r}");
                } else {
                    let ms = field(&r, "rtt_us").parse::<f64>().unwrap_or(0.0) / 1000.0;
                    let _ = writeln!(
                        out,
                        "20 bytes from {} icmp_seq={seq} ttl={} time={ms:.2} ms",
                        field(&r, "from"),
                        field(&r, "ttl")
                    );
                }
            }
            Ok(r) => {
                let _ = writeln!(
                    out,
                    "From {}: icmp_seq={seq} {}",
                    field(&r, "from"),
                    field(&r, "type")
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{dst}: icmp_seq={seq} {e}");
            }
        }
        if seq < count {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    if !json {
        let loss = 100 * (count as u32 - ok) / count.max(1) as u32;
        let _ = writeln!(
            out,
            "--- {dst} ping statistics ---\n{count} packets transmitted, {ok} received, {loss}% packet loss"
        );
    }
    if ok == 0 {
        return Err(out);
    }
    Ok(out)
}

/// Hops `meshctl tr` tries before it gives up (batman-adv's TTL).
const TRACEROUTE_MAX_HOPS: u8 = 50;
/// Probes per hop, as `batctl tr` sends them.
const TRACEROUTE_PROBES: u16 = 3;

/// `meshctl tr MAC`: echo requests with TTL 1, 2, ... until the
/// destination answers; each hop on the way answers "TTL exceeded".
fn traceroute(socket: &str, args: &[String], json: bool) -> Result<String, String> {
    let (dst, _) = dst_and_count(args, 1).map_err(|e| format!("tr {e}"))?;
    let mut out = String::new();
    let mut hops = Vec::new();
    if !json {
        let _ = writeln!(
            out,
            "traceroute to {dst} ({dst}), {TRACEROUTE_MAX_HOPS} hops max, 20 byte packets"
        );
    }
    let mut seq = 0u16;
    for ttl in 1..=TRACEROUTE_MAX_HOPS {
        let mut from = None;
        let mut times = Vec::new();
        let mut reached = false;
        for _ in 0..TRACEROUTE_PROBES {
            seq = seq.wrapping_add(1);
            match echo(socket, dst, seq, ttl)? {
                Ok(r) => {
                    reached |= field(&r, "type") == "EchoReply";
                    from = Some(field(&r, "from").to_string());
                    times.push(format!(
                        "{:.3} ms",
                        field(&r, "rtt_us").parse::<f64>().unwrap_or(0.0) / 1000.0
                    ));
                }
                Err(e) if e == "timeout" => times.push("*".into()),
                Err(e) => return Err(format!("tr {dst}: {e}")),
            }
        }
        let hop = from.unwrap_or_else(|| "*".into());
        if json {
            hops.push(format!(
                "{{\"hop\":{ttl},\"from\":{},\"times\":[{}]}}",
                js(&hop),
                times.iter().map(|t| js(t)).collect::<Vec<_>>().join(",")
            ));
        } else {
            let _ = writeln!(out, "{ttl:2}: {hop}  {}", times.join("  "));
        }
        if reached {
            if json {
                return Ok(format!("{{\"ok\":true,\"rows\":[{}]}}\n", hops.join(",")));
            }
            return Ok(out);
        }
    }
    Err(format!(
        "{out}{dst} not reached in {TRACEROUTE_MAX_HOPS} hops"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_rows_and_rendering() {
        assert_eq!(request_cmd("{\"cmd\":\"o\"}").as_deref(), Some("o"));
        assert_eq!(request_cmd("{ \"cmd\" : \"tg\" }").as_deref(), Some("tg"));
        assert_eq!(request_cmd("{\"cmd\":\"../x\"}"), None);
        assert_eq!(request_cmd("garbage"), None);
        let l = "{\"cmd\":\"ping\",\"dst\":\"02:00:00:00:00:01\",\"seq\":\"3\"}";
        assert_eq!(
            request_field(l, "dst").as_deref(),
            Some("02:00:00:00:00:01")
        );
        assert_eq!(request_field(l, "seq").as_deref(), Some("3"));
        assert_eq!(request_field(l, "ttl"), None);
        let ans = "{\"ok\":true,\"rows\":[{\"orig\":\"02:00:00:00:00:01\",\"last_seen_ms\":250,\"tq\":200,\"next_hop\":\"02:00:00:00:00:02\",\"iface\":\"eth1\",\"candidates\":2}]}";
        assert_eq!(rows(ans).len(), 1);
        let t = render("o", ans);
        assert!(
            t.contains("02:00:00:00:00:01") && t.contains("0.250s") && t.contains("(200)"),
            "{t}"
        );
        assert_eq!(js("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
