//! The address hook: a program meshd runs at start and whenever the
//! node's addresses change (an IPv4 re-pick), with them in its
//! environment, so that a router's own services follow (OpenWrt's
//! `meshd-lan` writes them into /etc/config/network and dhcp for the
//! system's dnsmasq and odhcpd). One run at a time; a change during a run
//! starts another when it ends. Its exit status is logged, never fatal.
//!
//! | variable | example |
//! |---|---|
//! | `MESHD_NODE_ADDRESS` | `fd7c:d550:3dce:4f5d:34a3:e495:803b:7e60` |
//! | `MESHD_LAN_PREFIX` | `fdff:b4e7:9cf8:ad10::/64` |
//! | `MESHD_LAN_ROUTER6` | `fdff:b4e7:9cf8:ad10::1` |
//! | `MESHD_IPV4_NET` | `10.224.224.0/24` |
//! | `MESHD_IPV4_ROUTER` | `10.224.224.1` |
//! | `MESHD_NAME` | `l7zelifkfympnobf.mesh` |
//! | `MESHD_DNS` | `127.0.0.1:5353` (empty: no responder) |

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::ident::Ident;

/// The hook's environment for `id`.
pub fn env(id: &Ident, dns: Option<std::net::SocketAddr>) -> Vec<(&'static str, String)> {
    let net = id.ipv4_net();
    let lan = id.lan_prefix();
    let mut r6 = lan.octets();
    r6[15] = 1;
    vec![
        ("MESHD_NODE_ADDRESS", id.node_address().to_string()),
        ("MESHD_LAN_PREFIX", format!("{lan}/64")),
        (
            "MESHD_LAN_ROUTER6",
            std::net::Ipv6Addr::from(r6).to_string(),
        ),
        ("MESHD_IPV4_NET", format!("{net}/24")),
        (
            "MESHD_IPV4_ROUTER",
            Ipv4Addr::from(u32::from(net) | 1).to_string(),
        ),
        ("MESHD_NAME", id.key_name()),
        ("MESHD_DNS", dns.map(|d| d.to_string()).unwrap_or_default()),
    ]
}

/// Runs the hook when the environment changes.
pub struct Hook {
    program: PathBuf,
    running: Option<Child>,
    /// The environment of the last run started.
    done: Vec<(&'static str, String)>,
}

impl Hook {
    pub fn new(program: PathBuf) -> Hook {
        Hook {
            program,
            running: None,
            done: Vec::new(),
        }
    }

    /// Once a second: reap a finished run; start one when `env` differs
    /// from the last run's and none is running.
    pub fn tick(&mut self, env: Vec<(&'static str, String)>) {
        if let Some(c) = self.running.as_mut() {
            match c.try_wait() {
                Ok(None) => return,
                Ok(Some(st)) if !st.success() => {
                    eprintln!("meshd: hook {}: {st}", self.program.display())
                }
                Ok(Some(_)) => {}
                Err(e) => eprintln!("meshd: hook {}: {e}", self.program.display()),
            }
            self.running = None;
        }
        if env == self.done {
            return;
        }
        match Command::new(&self.program)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(c) => self.running = Some(c),
            Err(e) => eprintln!("meshd: hook {}: {e}", self.program.display()),
        }
        // A hook that cannot start is not retried every second; the next
        // change of addresses tries again.
        self.done = env;
    }
}

/// How long meshd, when it stops, waits for a hook run still going
/// before it kills it.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Drop for Hook {
    fn drop(&mut self) {
        if let Some(mut c) = self.running.take() {
            let t0 = std::time::Instant::now();
            while matches!(c.try_wait(), Ok(None)) && t0.elapsed() < STOP_WAIT {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_once_per_change_with_the_addresses() {
        let dir = std::env::temp_dir().join(format!("meshd-hook-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let prog = dir.join("hook.sh");
        std::fs::write(
            &prog,
            format!(
                "#!/bin/sh\necho \"$MESHD_IPV4_NET $MESHD_IPV4_ROUTER\" >> {}\n",
                out.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut h = Hook::new(prog);
        let e = |net: &str, r: &str| {
            vec![
                ("MESHD_IPV4_NET", net.to_string()),
                ("MESHD_IPV4_ROUTER", r.to_string()),
            ]
        };
        // One tick, then wait for the run it started (if any) to end.
        let run = |h: &mut Hook, env| {
            h.tick(env);
            for _ in 0..500 {
                match h.running.as_mut().map(|c| c.try_wait()) {
                    None | Some(Ok(Some(_))) => {
                        h.running = None;
                        return;
                    }
                    _ => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
            panic!("the hook did not end");
        };
        run(&mut h, e("10.1.2.0/24", "10.1.2.1"));
        run(&mut h, e("10.1.2.0/24", "10.1.2.1"));
        run(&mut h, e("10.9.9.0/24", "10.9.9.1"));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "10.1.2.0/24 10.1.2.1\n10.9.9.0/24 10.9.9.1\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
