//! Pure parsing and arithmetic for `bench netns`: `ping -D` output, the
//! reroute gap as docs/anchors.md defines it, iperf3's JSON, meshctl's JSON
//! rows and `/proc/PID/status`. No I/O here, so all of it is unit-tested.

/// Timestamps (`-D`, seconds since the epoch) of the replies in `ping -D`
/// output, in order.
pub fn reply_stamps(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(stamp)
        .collect()
}

/// Timestamps of the `-O` "no answer yet" lines (pings lost).
pub fn no_answer_stamps(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.contains("no answer yet"))
        .filter_map(stamp)
        .collect()
}

fn stamp(line: &str) -> Option<f64> {
    line.strip_prefix('[')?.split(']').next()?.parse().ok()
}

/// The first reply after `t` (convergence: the first reply after the
/// daemons were started).
pub fn first_reply_after(stamps: &[f64], t: f64) -> Option<f64> {
    stamps.iter().copied().find(|&s| s > t)
}

/// The longest hole between consecutive replies among those later than
/// `t - 1` (anchors.md: "from 1 s before the cut"), as
/// `(hole, end of that hole, last reply)`; `None` without replies there.
/// With a single reply the hole is 0 and ends at 0 (as the anchors' awk).
pub fn hole_after(stamps: &[f64], t: f64) -> Option<(f64, f64, f64)> {
    let mut prev: Option<f64> = None;
    let (mut hole, mut end) = (0.0f64, 0.0f64);
    for &s in stamps.iter().filter(|&&s| s > t - 1.0) {
        if let Some(p) = prev {
            if s - p > hole {
                hole = s - p;
                end = s;
            }
        }
        prev = Some(s);
    }
    prev.map(|last| (hole, end, last))
}

/// The reroute gap once it is final: replies have flowed for 2 s after the
/// longest hole and the last reply is more than 2 s after the cut at `t`
/// (the anchors' stop condition); `None` while that is not yet so.
pub fn settled_gap(stamps: &[f64], t: f64) -> Option<f64> {
    let (hole, end, last) = hole_after(stamps, t)?;
    (last > t + 2.0 && last - end >= 2.0).then_some(hole)
}

/// Receiver throughput in bit/s from `iperf3 -J` output: the
/// `bits_per_second` of the last `"sum_received"` object.
pub fn iperf_receiver_bps(json: &str) -> Option<f64> {
    let at = json.rfind("\"sum_received\"")?;
    number_field(&json[at..], "bits_per_second")
}

/// Sender retransmits from `iperf3 -J` output (`"sum_sent"`), if given.
pub fn iperf_retransmits(json: &str) -> Option<f64> {
    let at = json.rfind("\"sum_sent\"")?;
    let obj = &json[at..];
    let obj = &obj[..obj.find('}').unwrap_or(obj.len())];
    number_field(obj, "retransmits")
}

/// iperf3's `"error"` message, if it reports one.
pub fn iperf_error(json: &str) -> Option<String> {
    string_field(json, "error")
}

/// The first number after `"key":` (whitespace allowed around the colon).
pub fn number_field(s: &str, key: &str) -> Option<f64> {
    let v = after_key(s, key)?;
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(v.len());
    v[..end].parse().ok()
}

/// The first string value after `"key":` (no escapes expected).
pub fn string_field(s: &str, key: &str) -> Option<String> {
    let v = after_key(s, key)?.strip_prefix('"')?;
    Some(v[..v.find('"')?].to_string())
}

fn after_key<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\"");
    let at = s.find(&pat)? + pat.len();
    Some(s[at..].trim_start().strip_prefix(':')?.trim_start())
}

/// The rows of a meshctl JSON answer (`{"ok":true,"rows":[{..},{..}]}`),
/// each a flat object as text.
pub fn ctl_rows(answer: &str) -> Vec<&str> {
    let Some(at) = answer.find("\"rows\":[") else {
        return Vec::new();
    };
    let body = &answer[at + 8..];
    let body = &body[..body.rfind(']').unwrap_or(body.len())];
    body.split("},{")
        .map(|r| r.trim_matches(|c| c == '{' || c == '}'))
        .filter(|r| !r.is_empty())
        .collect()
}

/// The outgoing interface of meshd's route to any of `origs` (MACs, lower
/// case) in a `meshctl -j o` answer.
pub fn ctl_route_iface(answer: &str, origs: &[String]) -> Option<String> {
    ctl_rows(answer).into_iter().find_map(|r| {
        let o = string_field(r, "orig")?.to_ascii_lowercase();
        origs
            .contains(&o)
            .then(|| string_field(r, "iface"))
            .flatten()
    })
}

/// `VmRSS` in KiB from `/proc/PID/status`.
pub fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The interface after `dev` in `ip route get` output.
pub fn route_dev(out: &str) -> Option<String> {
    let mut w = out.split_whitespace();
    while let Some(x) = w.next() {
        if x == "dev" {
            return w.next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PING: &str = "\
PING 10.255.0.22 (10.255.0.22) from 10.255.0.0 : 56(84) bytes of data.
[1700000000.000000] 64 bytes from 10.255.0.22: icmp_seq=1 ttl=61 time=0.1 ms
[1700000000.050000] 64 bytes from 10.255.0.22: icmp_seq=2 ttl=61 time=0.1 ms
[1700000001.100000] no answer yet for icmp_seq=3
[1700000001.150000] no answer yet for icmp_seq=4
[1700000001.500000] 64 bytes from 10.255.0.22: icmp_seq=11 ttl=60 time=0.1 ms
ping: sendmsg: Network is unreachable
[1700000001.550000] 64 bytes from 10.255.0.22: icmp_seq=12 ttl=60 time=0.1 ms
";

    #[test]
    fn ping_replies_and_losses() {
        let s = reply_stamps(PING);
        assert_eq!(s, vec![1.7e9, 1.7e9 + 0.05, 1.7e9 + 1.5, 1.7e9 + 1.55]);
        assert_eq!(no_answer_stamps(PING).len(), 2);
        assert_eq!(first_reply_after(&s, 1.7e9 + 0.01), Some(1.7e9 + 0.05));
        assert_eq!(first_reply_after(&s, 1.7e9 + 2.0), None);
    }

    #[test]
    fn gap_is_longest_hole_from_one_second_before_the_cut() {
        // Replies every 50 ms from 0 to 3 s, a cut at 3.02, replies again
        // from 4.5 s to 8 s.
        let mut s: Vec<f64> = (0..=60).map(|i| i as f64 * 0.05).collect();
        s.extend((90..=160).map(|i| i as f64 * 0.05));
        let (hole, end, last) = hole_after(&s, 3.02).unwrap();
        assert!((hole - 1.5).abs() < 1e-9 && (end - 4.5).abs() < 1e-9);
        assert_eq!(last, 8.0);
        assert!((settled_gap(&s, 3.02).unwrap() - 1.5).abs() < 1e-9);
        // A longer hole more than 1 s before the cut does not count.
        let mut early = vec![0.0, 1.0];
        early.extend((40..=160).map(|i| i as f64 * 0.05));
        assert!((settled_gap(&early, 5.0).unwrap() - 0.05).abs() < 1e-9);
        // Not final while the pings have not come back for 2 s.
        let short: Vec<f64> = s.iter().copied().filter(|&x| x < 6.0).collect();
        assert_eq!(settled_gap(&short, 3.02), None);
        let none: Vec<f64> = s.iter().copied().filter(|&x| x < 3.0).collect();
        assert_eq!(settled_gap(&none, 3.02), None);
        assert_eq!(hole_after(&[], 3.0), None);
        assert_eq!(hole_after(&[5.0], 3.0), Some((0.0, 0.0, 5.0)));
    }

    #[test]
    fn iperf_json() {
        let j = r#"{"start":{},"end":{"streams":[{"receiver":{"bits_per_second":1}}],
            "sum_sent": {"bytes": 10, "bits_per_second": 9.5e9, "retransmits": 12},
            "sum_received": {"bytes": 10, "bits_per_second":9.4e9, "sender": true}}}"#;
        assert_eq!(iperf_receiver_bps(j), Some(9.4e9));
        assert_eq!(iperf_retransmits(j), Some(12.0));
        assert_eq!(iperf_error(j), None);
        let e = r#"{"start":{},"error": "unable to connect to server: Connection refused"}"#;
        assert_eq!(iperf_receiver_bps(e), None);
        assert_eq!(
            iperf_error(e).as_deref(),
            Some("unable to connect to server: Connection refused")
        );
    }

    #[test]
    fn meshctl_rows_and_route() {
        let a = r#"{"ok":true,"rows":[{"orig":"02:00:00:00:00:01","last_seen_ms":10,"tq":250,"next_hop":"02:00:00:00:00:01","iface":"to01","candidates":2},{"orig":"AA:00:00:00:00:22","last_seen_ms":400,"tq":200,"next_hop":"02:00:00:00:00:01","iface":"to10","candidates":2}]}"#;
        assert_eq!(ctl_rows(a).len(), 2);
        let want = vec!["aa:00:00:00:00:22".to_string()];
        assert_eq!(ctl_route_iface(a, &want).as_deref(), Some("to10"));
        assert_eq!(ctl_route_iface(a, &["x".into()]), None);
        assert!(ctl_rows(r#"{"ok":true,"rows":[]}"#).is_empty());
    }

    #[test]
    fn rss_and_route_dev() {
        let st = "Name:\tmeshd\nVmPeak:\t  9000 kB\nVmRSS:\t    3120 kB\nThreads:\t2\n";
        assert_eq!(vm_rss_kib(st), Some(3120));
        assert_eq!(vm_rss_kib("Name: x\n"), None);
        let r = "10.255.0.22 via 10.100.1.2 dev to01 src 10.255.0.0 uid 0 \n    cache \n";
        assert_eq!(route_dev(r).as_deref(), Some("to01"));
        assert_eq!(route_dev("RTNETLINK answers: Network is unreachable"), None);
    }
}
