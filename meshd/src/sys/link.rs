//! Facts about a network interface, read from sysfs (no unsafe needed).

use batman::Mac;
use std::io;

/// What meshd needs to know about a hard interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub name: String,
    pub ifindex: i32,
    pub mac: Mac,
    pub mtu: u16,
    /// Administratively up and the carrier present (see [`carrier`]).
    pub carrier: bool,
    /// A wireless device (has `/sys/class/net/NAME/wireless` or `phy80211`).
    pub wireless: bool,
}

fn read(name: &str, file: &str) -> io::Result<String> {
    let p = format!("/sys/class/net/{name}/{file}");
    std::fs::read_to_string(&p).map(|s| s.trim().to_string())
}

fn bad(name: &str, what: &str, v: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("interface {name}: bad {what} {v:?}"),
    )
}

/// Look an interface up by name.
pub fn link_info(name: &str) -> io::Result<LinkInfo> {
    if name.is_empty() || name.contains('/') || name.len() > 15 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    let ifindex = read(name, "ifindex")
        .map_err(|e| io::Error::new(e.kind(), format!("interface {name} not found ({e})")))?;
    let ifindex: i32 = ifindex
        .parse()
        .map_err(|_| bad(name, "ifindex", &ifindex))?;
    let addr = read(name, "address")?;
    let mac: Mac = addr.parse().map_err(|_| bad(name, "address", &addr))?;
    let mtu = read(name, "mtu")?;
    let mtu: u32 = mtu.parse().map_err(|_| bad(name, "mtu", &mtu))?;
    let base = format!("/sys/class/net/{name}");
    let wireless = std::path::Path::new(&format!("{base}/wireless")).exists()
        || std::path::Path::new(&format!("{base}/phy80211")).exists();
    Ok(LinkInfo {
        name: name.to_string(),
        ifindex,
        mac,
        mtu: mtu.min(u16::MAX as u32) as u16,
        carrier: carrier(name),
        wireless,
    })
}

/// Is `name` administratively up with its carrier present? Read from
/// `flags` (IFF_UP) and `carrier`, which the kernel updates the moment the
/// driver reports a change; netlink events and `operstate` go through
/// linkwatch, which may hold a change back for up to a second. A missing
/// or down interface reads as false.
pub fn carrier(name: &str) -> bool {
    const IFF_UP: u32 = 0x1;
    let up = read(name, "flags")
        .ok()
        .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & IFF_UP != 0);
    up && read(name, "carrier").is_ok_and(|c| c == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_readable_and_bad_names_refused() {
        let lo = link_info("lo").expect("lo exists");
        assert_eq!(lo.mac, Mac::ZERO);
        assert!(lo.ifindex > 0);
        assert!(link_info("../etc").is_err());
        assert!(link_info("nosuchif0").is_err());
        assert!(!carrier("nosuchif0"));
    }
}
