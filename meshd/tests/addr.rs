//! The node layer in network namespaces: key-derived addresses, mesh0 with
//! end-to-end encryption, LANs served by a real dnsmasq, `.mesh` names.
//!
//! ```text
//!   c0        c1        c2        c3        c4      LAN clients (eth0:
//!   |lan0     |lan0     |lan0     |lan0     |lan0    DHCPv4 + SLAAC)
//!   r0 --m-- r1 --m-- r2 --m-- r3 --m-- r4         routers: meshd with
//!                  ^ tshark here                      --state-dir --lan lan0
//! ```
//!
//! Root only (skipped, saying so, otherwise; CI runs it as root).
//! Needs dnsmasq, busybox (udhcpc), dig and tshark.

mod common;

use common::{counter, ctl, log_path, mac_of, read, require_tools, sh, spawn_meshd};
use hwtest::netns::{field, require_root, veth, wait_for, Netns, Proc};
use std::path::PathBuf;
use std::time::Duration;

const N: usize = 5;

struct Router {
    ns: Netns,
    state: PathBuf,
    log: PathBuf,
    proc: Option<Proc>,
    args: Vec<String>,
}

impl Router {
    fn start(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.proc = Some(spawn_meshd(&self.ns, &args, &self.log));
    }
    fn id(&self) -> String {
        ctl(&self.ns, &["-j", "id"]).1
    }
}

/// `udhcpc` script: put the lease on the interface.
const UDHCPC_SCRIPT: &str = "#!/bin/sh\n\
case \"$1\" in bound|renew) ip addr add \"$ip/24\" dev \"$interface\"; \
[ -n \"$router\" ] && ip route replace default via \"$router\" dev \"$interface\";; esac\nexit 0\n";

fn ping(ns: &Netns, to: &str) -> bool {
    sh(ns, &format!("ping -c 1 -W 1 {to}")).0
}

#[test]
fn five_routers_serve_their_lans_and_clients_reach_each_other_end_to_end_encrypted() {
    let test = "five_routers_serve_their_lans_and_clients_reach_each_other_end_to_end_encrypted";
    if !require_root(test) {
        return;
    }
    if !require_tools(test, &["dnsmasq", "busybox", "dig", "tshark"]) {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("meshd-addr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let script = tmp.join("udhcpc.sh");
    std::fs::write(&script, UDHCPC_SCRIPT).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut routers: Vec<Router> = (0..N)
        .map(|i| Router {
            ns: Netns::new(&format!("r{i}")).unwrap(),
            state: tmp.join(format!("r{i}")),
            log: log_path(&format!("addr-r{i}")),
            proc: None,
            args: Vec::new(),
        })
        .collect();
    let clients: Vec<Netns> = (0..N)
        .map(|i| Netns::new(&format!("c{i}")).unwrap())
        .collect();
    // r1-r2 is narrower than the rest: packets mesh0 fills to its MTU
    // (sized for 1500-byte links) are fragmented by the relay r1.
    for i in 0..N - 1 {
        let mtu = if i == 1 { 1400 } else { 1500 };
        veth(&routers[i].ns, "m1", &routers[i + 1].ns, "m0", mtu).unwrap();
    }
    for (r, c) in routers.iter().zip(&clients) {
        veth(&r.ns, "lan0", c, "eth0", 1500).unwrap();
        sh(
            c,
            "sysctl -qw net.ipv6.conf.eth0.accept_ra=2 net.ipv6.conf.eth0.autoconf=1",
        );
    }
    for (i, r) in routers.iter_mut().enumerate() {
        let mut a = vec!["daemon".to_string()];
        if i > 0 {
            a.extend(["-i".into(), "m0".into()]);
        }
        if i < N - 1 {
            a.extend(["-i".into(), "m1".into()]);
        }
        a.extend([
            "--state-dir".into(),
            r.state.display().to_string(),
            "--name".into(),
            format!("r{i}"),
            "--lan".into(),
            "lan0".into(),
            // This test is about the direct end-to-end path (sessions);
            // tests/onion.rs covers the anonymous one.
            "--anonymous".into(),
            "none".into(),
        ]);
        r.args = a;
        r.start();
    }
    let clock = std::time::Instant::now();
    // Every router knows every other one.
    for r in &routers {
        let all = wait_for(Duration::from_secs(30), || {
            ctl(&r.ns, &["-j", "dir"]).1.matches("\"node_id\"").count() == N - 1
        });
        assert!(
            all.is_some(),
            "{}: directory incomplete:\n{}\n{}",
            r.ns.name,
            ctl(&r.ns, &["dir"]).1,
            read(&r.log)
        );
    }
    eprintln!("[{test}] directories complete after {:?}", clock.elapsed());
    // Every client: DHCPv4 from its router's /24, SLAAC from its /64.
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for (r, c) in routers.iter().zip(&clients) {
        let id = r.id();
        let net4 = field(&id, "ipv4");
        let lan = field(&id, "lan");
        let prefix4 = net4.trim_end_matches(".0").to_string() + ".";
        let lease = wait_for(Duration::from_secs(20), || {
            sh(
                c,
                &format!(
                    "busybox udhcpc -i eth0 -n -q -f -t 3 -T 1 -s {}",
                    script.display()
                ),
            )
            .0
        });
        let (_, addrs) = sh(c, "ip -4 -o addr show dev eth0");
        assert!(
            lease.is_some() && addrs.contains(&prefix4),
            "{}: no DHCP lease in {net4}/24: {addrs}\n{}",
            c.name,
            read(&r.log)
        );
        let a4 = addrs
            .split_whitespace()
            .find(|w| w.starts_with(&prefix4))
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let lan_head = lan.trim_end_matches("::").to_string() + ":";
        let mut a6 = String::new();
        let slaac = wait_for(Duration::from_secs(20), || {
            let (_, a) = sh(c, "ip -6 -o addr show dev eth0 scope global -tentative");
            a6 = a
                .split_whitespace()
                .find(|w| w.starts_with(&lan_head))
                .map(|w| w.split('/').next().unwrap().to_string())
                .unwrap_or_default();
            !a6.is_empty()
        });
        assert!(
            slaac.is_some(),
            "{}: no SLAAC address in {lan}/64:\n{}",
            c.name,
            sh(c, "ip -6 addr; ip -6 route").1
        );
        v4.push(a4);
        v6.push(a6);
    }
    eprintln!(
        "[{test}] leases and SLAAC after {:?}: {v4:?} {v6:?}",
        clock.elapsed()
    );
    // Every client reaches every other, IPv4 and IPv6.
    for (i, c) in clients.iter().enumerate() {
        for j in (0..N).filter(|&j| j != i) {
            for to in [&v4[j], &v6[j]] {
                let ok = wait_for(Duration::from_secs(15), || ping(c, to));
                assert!(
                    ok.is_some(),
                    "{} cannot reach {to} (client {j}):\n{}\n{}",
                    c.name,
                    ctl(&routers[i].ns, &["s"]).1,
                    read(&routers[i].log)
                );
            }
        }
    }
    eprintln!(
        "[{test}] all pairs reach each other after {:?}",
        clock.elapsed()
    );
    // r0 has a session with every other router, listed by name.
    let (_, sessions) = ctl(&routers[0].ns, &["sessions"]);
    assert_eq!(
        sessions.lines().filter(|l| l.contains(".mesh")).count(),
        N - 1,
        "{sessions}"
    );
    // Full-size packets (mesh0's MTU, 1440) cross the 1400-byte link in
    // batman fragments.
    let frag_before = counter(&routers[1].ns, "fwd_fragmented");
    for (to, size) in [(&v4[4], 1440 - 28), (&v6[4], 1440 - 48)] {
        let (ok, out) = sh(&clients[0], &format!("ping -c 2 -W 2 -M do -s {size} {to}"));
        assert!(ok, "full-size ping to {to}: {out}");
    }
    assert!(
        counter(&routers[1].ns, "fwd_fragmented") >= frag_before + 4,
        "r1 did not fragment for the narrow link"
    );
    // Self-certifying sources: r0 sends with c1's addresses (which belong
    // to r1's /64 and /24) to r4; r4 drops and counts them.
    let bad_before = counter(&routers[4].ns, "mesh0_drop_bad_source");
    let r4 = routers[4].id();
    let r4_host4 = field(&r4, "ipv4").trim_end_matches(".0").to_string() + ".1";
    sh(
        &routers[0].ns,
        &format!(
            "ip addr add {}/128 dev lo nodad; ip addr add {}/32 dev lo",
            v6[1], v4[1]
        ),
    );
    for (from, to) in [(&v6[1], field(&r4, "address")), (&v4[1], r4_host4.clone())] {
        let (ok, _) = sh(&routers[0].ns, &format!("ping -c 2 -W 1 -I {from} {to}"));
        assert!(!ok, "a packet from {from} (not r0's) reached {to}");
    }
    let bad_after = counter(&routers[4].ns, "mesh0_drop_bad_source");
    assert!(
        bad_after >= bad_before + 4,
        "r4 counted {bad_before} -> {bad_after} bad sources"
    );
    sh(
        &routers[0].ns,
        &format!(
            "ip addr del {}/128 dev lo; ip addr del {}/32 dev lo",
            v6[1], v4[1]
        ),
    );

    // By name: the client asks its router (DHCP gave it as DNS server;
    // dnsmasq forwards .mesh to meshd) and pings the far router.
    let gw0 = field(&routers[0].id(), "ipv4")
        .trim_end_matches(".0")
        .to_string()
        + ".1";
    for name in ["r4.mesh", &field(&routers[3].id(), "name")] {
        for (ty, want) in [
            (
                "AAAA",
                field(
                    &routers[if name == "r4.mesh" { 4 } else { 3 }].id(),
                    "address",
                ),
            ),
            ("A", String::new()),
        ] {
            let (_, ans) = sh(&clients[0], &format!("dig @{gw0} {name} {ty} +short"));
            let ans = ans.trim().to_string();
            assert!(!ans.is_empty(), "{name} {ty}: no answer");
            if !want.is_empty() {
                assert_eq!(ans, want, "{name} {ty}");
            }
            assert!(ping(&clients[0], &ans), "c0 cannot ping {name} at {ans}");
        }
    }
    // No plaintext on a middle link: a marked payload crosses r1-r2 while
    // tshark captures there.
    let pcap = tmp.join("middle.pcap");
    let mut cap = routers[2]
        .ns
        .cmd("tshark")
        .args(["-q", "-i", "m0", "-a", "duration:4", "-w"])
        .arg(&pcap)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mark = "6d657368642d736563726574"; // "meshd-secret"
    for to in [&v4[4], &v6[4]] {
        let (ok, out) = sh(
            &clients[0],
            &format!("ping -c 3 -i 0.2 -s 200 -p {mark} {to}"),
        );
        assert!(ok, "marked ping to {to}: {out}");
    }
    cap.wait().unwrap();
    let bytes = std::fs::read(&pcap).unwrap();
    assert!(
        bytes.len() > 2000,
        "capture too small: {} bytes",
        bytes.len()
    );
    for needle in [&b"meshd-secret"[..], &b"meshd-se"[..]] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "plaintext payload seen on the middle link"
        );
    }
    for a in v4.iter().chain(&v6) {
        let ip: std::net::IpAddr = a.parse().unwrap();
        let raw = match ip {
            std::net::IpAddr::V4(x) => x.octets().to_vec(),
            std::net::IpAddr::V6(x) => x.octets().to_vec(),
        };
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
            "client address {a} seen in clear on the middle link"
        );
    }
    // Restart of a middle router keeps key, addresses and /24.
    let before = routers[2].id();
    routers[2].proc.take().unwrap().kill9();
    routers[2].start();
    let back = wait_for(Duration::from_secs(10), || {
        let now = routers[2].id();
        !field(&now, "node_id").is_empty()
    });
    assert!(
        back.is_some(),
        "r2 did not come back:\n{}",
        read(&routers[2].log)
    );
    // The dnsmasq the killed meshd left behind was replaced, not doubled.
    let conf = format!("{}.dnsmasq/dnsmasq.conf", common::sock_of(&routers[2].ns));
    let count = || {
        let o = std::process::Command::new("pgrep")
            .args(["-fc", &format!("conf-file={conf}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
    };
    let one = wait_for(Duration::from_secs(5), || count() == 1);
    assert!(
        one.is_some(),
        "{} dnsmasq for r2 after its restart",
        count()
    );
    let after = routers[2].id();
    for k in ["node_id", "address", "lan", "ipv4", "name"] {
        assert_eq!(
            field(&before, k),
            field(&after, k),
            "{k} changed on restart"
        );
    }
    let again = wait_for(Duration::from_secs(20), || {
        ping(&clients[2], &v4[0]) && ping(&clients[0], &v6[2])
    });
    assert!(
        again.is_some(),
        "after r2's restart:\n{}",
        read(&routers[2].log)
    );
    drop(routers);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn node_id(json: &str) -> [u8; 32] {
    let h = field(json, "node_id");
    let mut id = [0u8; 32];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex node id");
    }
    id
}

/// Two nodes whose keys pick the same /24 (a pool of two /24s, keys made
/// until they collide) meet: the one the rule names moves, the same on
/// both, and keeps its new /24 over a restart.
#[test]
fn forced_ipv4_collision_moves_the_loser_on_both_nodes_and_survives_restart() {
    let test = "forced_ipv4_collision_moves_the_loser_on_both_nodes_and_survives_restart";
    if !require_root(test) {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("meshd-coll-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut r: Vec<Router> = (0..2)
        .map(|i| Router {
            ns: Netns::new(&format!("k{i}")).unwrap(),
            state: tmp.join(format!("k{i}")),
            log: log_path(&format!("coll-k{i}")),
            proc: None,
            args: Vec::new(),
        })
        .collect();
    veth(&r[0].ns, "m0", &r[1].ns, "m0", 1500).unwrap();
    // Apart until both hold colliding keys.
    r[1].ns.ip(&["link", "set", "m0", "down"]).unwrap();
    for x in r.iter_mut() {
        x.args = [
            "daemon",
            "-i",
            "m0",
            "--tun",
            "",
            "--dns",
            "",
            "--ipv4-pool",
            "10.0.0.0/23",
            "--state-dir",
            x.state.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        x.start();
    }
    let ready = |x: &Router| {
        wait_for(Duration::from_secs(10), || {
            !field(&x.id(), "node_id").is_empty()
        })
        .is_some()
    };
    assert!(ready(&r[0]), "{}", read(&r[0].log));
    let want = field(&r[0].id(), "ipv4");
    let mut tries = 0;
    loop {
        assert!(ready(&r[1]), "{}", read(&r[1].log));
        if field(&r[1].id(), "ipv4") == want {
            break;
        }
        tries += 1;
        assert!(tries < 40, "keys never collided in a pool of two /24s");
        r[1].proc.take().unwrap().kill9();
        std::fs::remove_dir_all(&r[1].state).unwrap();
        r[1].start();
    }
    let ids = [node_id(&r[0].id()), node_id(&r[1].id())];
    let loser = usize::from(onion::addr::ipv4_collision_loser(&ids[0], &ids[1]) == &ids[1]);
    let winner = 1 - loser;
    r[1].ns.ip(&["link", "set", "m0", "up"]).unwrap();
    let moved = wait_for(Duration::from_secs(30), || {
        let (a, b) = (r[0].id(), r[1].id());
        field(&a, "ipv4") != field(&b, "ipv4")
    });
    assert!(
        moved.is_some(),
        "the collision on {want}/24 was never resolved:\n{}\n{}",
        read(&r[0].log),
        read(&r[1].log)
    );
    let (w, l) = (r[winner].id(), r[loser].id());
    assert_eq!(field(&w, "ipv4"), want, "the winner kept its /24");
    assert_eq!(field(&w, "ipv4_attempt"), "0");
    assert!(field(&l, "ipv4_attempt").parse::<u32>().unwrap() >= 1);
    assert!(
        read(&r[loser].log).contains("which keeps it; moving to"),
        "{}",
        read(&r[loser].log)
    );
    // The winner's directory has the loser's new claim.
    let new = field(&l, "ipv4");
    let seen = wait_for(Duration::from_secs(10), || {
        field(&ctl(&r[winner].ns, &["-j", "dir"]).1, "ipv4") == new
    });
    assert!(seen.is_some(), "{}", ctl(&r[winner].ns, &["dir"]).1);
    // The move survives a restart.
    r[loser].proc.take().unwrap().kill9();
    r[loser].start();
    assert!(ready(&r[loser]));
    assert_eq!(field(&r[loser].id(), "ipv4"), new);
    drop(r);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Raw frames into a namespace's interface (AF_PACKET), from python3.
const INJECT_PY: &str = "import socket,sys\n\
s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
s.bind((sys.argv[1],0))\n\
for h in sys.argv[2:]:\n    s.send(bytes.fromhex(h))\n";

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn mac_bytes(m: &str) -> Vec<u8> {
    m.split(':')
        .map(|x| u8::from_str_radix(x, 16).expect("mac"))
        .collect()
}

/// A meshd frame (docs/wire.md) carrying `record` as ID_RECORD, on the
/// wire from `eth_src` to interface `eth_dst` of originator `dest`, with
/// `inner_src` as the claimed sender.
fn record_frame(
    eth_dst: &[u8],
    eth_src: &[u8],
    dest: &[u8],
    inner_src: &[u8],
    record: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(eth_dst);
    f.extend_from_slice(eth_src);
    f.extend_from_slice(&[0x43, 0x05]);
    f.extend_from_slice(&[0x40, 0x0f, 0x32, 0x00]);
    f.extend_from_slice(dest);
    f.extend_from_slice(&[0x03, 0x6d, 0x65, 0x73, 0x68, 0x64]);
    f.extend_from_slice(inner_src);
    f.extend_from_slice(&[0x88, 0xb5, 0xa3, 0x01]);
    f.extend_from_slice(&(record.len() as u16).to_be_bytes());
    f.extend_from_slice(record);
    f
}

/// Records injected on a link by a namespace that is no mesh node: A's
/// real record sent as someone else's (another originator), A's record
/// with a forged signature, and A's previous record replayed after A
/// re-signed. V drops each, counts it, and keeps A's current record.
///
/// ```text
///   [A] m1 == m0 [V] m1 == inj [I: python3 raw socket]
/// ```
#[test]
fn someone_elses_key_forged_signature_and_replayed_record_are_dropped_and_counted() {
    let test = "someone_elses_key_forged_signature_and_replayed_record_are_dropped_and_counted";
    if !require_root(test) {
        return;
    }
    if !require_tools(test, &["python3"]) {
        return;
    }
    let tmp = std::env::temp_dir().join(format!("meshd-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mk = |name: &str, args: &[&str]| Router {
        ns: Netns::new(name).unwrap(),
        state: tmp.join(name),
        log: log_path(&format!("hostile-{name}")),
        proc: None,
        args: args.iter().map(|s| s.to_string()).collect(),
    };
    let mut a = mk("ha", &[]);
    let mut v = mk("hv", &[]);
    let inj = Netns::new("hi").unwrap();
    veth(&a.ns, "m1", &v.ns, "m0", 1500).unwrap();
    veth(&v.ns, "m1", &inj, "inj", 1500).unwrap();
    for (r, ifs) in [
        (&mut a, vec!["-i", "m1"]),
        (&mut v, vec!["-i", "m0", "-i", "m1"]),
    ] {
        let mut args = vec!["daemon".to_string()];
        args.extend(ifs.iter().map(|s| s.to_string()));
        args.extend([
            "--state-dir".to_string(),
            r.state.display().to_string(),
            "--tun".into(),
            "".into(),
            "--dns".into(),
            "".into(),
        ]);
        r.args = args;
        r.start();
    }
    let a_row = |v: &Router| {
        let d = ctl(&v.ns, &["-j", "dir"]).1;
        (field(&d, "record"), field(&d, "seqno"), field(&d, "orig"))
    };
    let got = wait_for(Duration::from_secs(20), || !a_row(&v).0.is_empty());
    assert!(got.is_some(), "V never admitted A:\n{}", read(&v.log));
    let (old, old_seq, a_orig) = a_row(&v);
    // A restarts: a new record with a higher seqno.
    a.proc.take().unwrap().kill9();
    std::thread::sleep(Duration::from_millis(1100));
    a.start();
    let newer = wait_for(Duration::from_secs(20), || {
        let (_, s, _) = a_row(&v);
        s.parse::<u64>().unwrap_or(0) > old_seq.parse::<u64>().unwrap()
    });
    assert!(newer.is_some(), "V never took A's new record");
    let (cur, cur_seq, _) = a_row(&v);
    let v_orig = mac_bytes(&mac_of(&v.ns, "m0"));
    let v_m1 = mac_bytes(&mac_of(&v.ns, "m1"));
    let i_mac = mac_bytes(&mac_of(&inj, "inj"));
    let a_mac = mac_bytes(&a_orig);
    let mut forged = unhex(&cur);
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let frames = [
        // A's current record, sent as the injector's own announcement.
        record_frame(&v_m1, &i_mac, &v_orig, &i_mac, &unhex(&cur)),
        // A's record with its signature damaged.
        record_frame(&v_m1, &i_mac, &v_orig, &a_mac, &forged),
        // A's previous record played back.
        record_frame(&v_m1, &i_mac, &v_orig, &a_mac, &unhex(&old)),
    ];
    let before = [
        counter(&v.ns, "dir_drop_orig_mismatch"),
        counter(&v.ns, "dir_drop_bad_signature"),
        counter(&v.ns, "dir_drop_replayed"),
    ];
    let mut cmd = inj.cmd("python3");
    cmd.args(["-c", INJECT_PY, "inj"]);
    for f in &frames {
        cmd.arg(hexs(f));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counted = wait_for(Duration::from_secs(5), || {
        counter(&v.ns, "dir_drop_orig_mismatch") > before[0]
            && counter(&v.ns, "dir_drop_bad_signature") > before[1]
            && counter(&v.ns, "dir_drop_replayed") > before[2]
    });
    assert!(
        counted.is_some(),
        "drops before {before:?}, after:\n{}",
        ctl(&v.ns, &["s"]).1
    );
    // V still holds A's current record, and nothing from the injector.
    let (rec, seq, orig) = a_row(&v);
    assert_eq!((rec, seq, orig), (cur, cur_seq, a_orig));
    assert_eq!(
        ctl(&v.ns, &["-j", "dir"]).1.matches("\"node_id\"").count(),
        1
    );
    drop((a, v));
    let _ = std::fs::remove_dir_all(&tmp);
}
