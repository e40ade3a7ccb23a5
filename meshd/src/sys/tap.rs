//! The soft interfaces: a TAP device (batman-adv's `bat0`, Ethernet
//! frames) and a TUN device (`mesh0`, bare IP packets), both from
//! `/dev/net/tun`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An open TAP or TUN device, non-blocking, without packet-info headers.
/// The kernel removes the device when the last descriptor closes (it is
/// not made persistent), so a clean or unclean exit leaves nothing behind.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    pub name: String,
}

fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    // SAFETY: ifreq is a plain C struct (a name array and a union of
    // integers and byte arrays); all-zero is a valid value.
    let mut r: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in r.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(r)
}

impl Tap {
    /// Create (or attach to) TAP `name`, give it hardware address `mac`
    /// (if any; a restarted daemon keeps the same one, so the LAN's and
    /// the mesh's neighbour caches stay right) and bring it up. Needs
    /// CAP_NET_ADMIN.
    pub fn open(name: &str, mac: Option<batman::Mac>) -> io::Result<Self> {
        let tap = Self::create(name, libc::IFF_TAP)?;
        if let Some(mac) = mac {
            tap.set_mac(mac)?;
        }
        tap.set_up()?;
        Ok(tap)
    }

    /// Create (or attach to) TUN `name`, which carries IPv4 and IPv6
    /// packets with no link-layer header (the version nibble tells them
    /// apart), set its MTU (the kernel refuses values below 68, and IPv6
    /// needs at least 1280) and bring it up. Needs CAP_NET_ADMIN.
    #[allow(dead_code)] // the mesh0 device; wired into the daemon next
    pub fn open_tun(name: &str, mtu: u16) -> io::Result<Self> {
        let tun = Self::create(name, libc::IFF_TUN)?;
        tun.set_mtu(mtu)?;
        tun.set_up()?;
        Ok(tun)
    }

    /// Open `/dev/net/tun` and attach it to device `name` of `kind`
    /// (IFF_TAP or IFF_TUN), without packet-info headers.
    fn create(name: &str, kind: libc::c_int) -> io::Result<Self> {
        let mut req = ifreq(name)?;
        req.ifr_ifru.ifru_flags = (kind | libc::IFF_NO_PI) as libc::c_short;
        let path = c"/dev/net/tun";
        // SAFETY: `path` is a valid NUL-terminated string; open(2) takes it
        // and integer flags; the result is checked.
        let raw = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor from open(2) owned by nobody
        // else; OwnedFd closes it exactly once.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: TUNSETIFF reads and writes one `ifreq`, and `req` is a
        // valid, initialised ifreq that outlives the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut req) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tap {
            fd,
            name: name.to_string(),
        })
    }

    /// A throwaway datagram socket for interface ioctls, as `ip` uses.
    fn ioctl_socket() -> io::Result<OwnedFd> {
        // SAFETY: socket(2) with integer arguments; checked below.
        let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if s < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `s` is a fresh descriptor we own.
        Ok(unsafe { OwnedFd::from_raw_fd(s) })
    }

    /// Set the device's Ethernet address (SIOCSIFHWADDR), before it is up.
    fn set_mac(&self, mac: batman::Mac) -> io::Result<()> {
        let s = Self::ioctl_socket()?;
        let mut req = ifreq(&self.name)?;
        // SAFETY: writing a plain `sockaddr` (integers and a byte array)
        // into the union member SIOCSIFHWADDR reads.
        let sa = unsafe { &mut req.ifr_ifru.ifru_hwaddr };
        sa.sa_family = libc::ARPHRD_ETHER;
        for (d, b) in sa.sa_data.iter_mut().zip(mac.0) {
            *d = b as libc::c_char;
        }
        // SAFETY: SIOCSIFHWADDR reads one valid, initialised `ifreq`.
        if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFHWADDR as _, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Set the device's MTU (SIOCSIFMTU, as `ip link set mtu` does).
    fn set_mtu(&self, mtu: u16) -> io::Result<()> {
        let s = Self::ioctl_socket()?;
        let mut req = ifreq(&self.name)?;
        req.ifr_ifru.ifru_mtu = mtu.into();
        // SAFETY: SIOCSIFMTU reads one valid, initialised `ifreq`.
        if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFMTU as _, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Set IFF_UP on the device (SIOCSIFFLAGS, as `ip link set up` does).
    fn set_up(&self) -> io::Result<()> {
        let s = Self::ioctl_socket()?;
        let mut req = ifreq(&self.name)?;
        // SAFETY: SIOCGIFFLAGS fills the flags of one valid `ifreq`.
        if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just wrote `ifru_flags`; reading that union
        // member is what SIOCGIFFLAGS defines.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
        // SAFETY: SIOCSIFFLAGS reads one valid `ifreq`.
        if unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS as _, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Read one frame (an Ethernet frame from a TAP, an IP packet from a
    /// TUN); `WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: the pointer and length describe `buf`, valid and writable
        // for the call; read(2) writes at most `buf.len()` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Write one frame (Ethernet for a TAP, IP for a TUN) to the host side.
    pub fn send(&self, frame: &[u8]) -> io::Result<usize> {
        // SAFETY: `frame` is valid for reads of `frame.len()` bytes.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Register with the tokio reactor (inside the runtime).
    pub fn into_async(self) -> io::Result<tokio::io::unix::AsyncFd<Tap>> {
        // SAFETY: a Tap owns its descriptor (an OwnedFd never replaced or
        // closed early), so `as_raw_fd` stays the same open descriptor for
        // the AsyncFd's lifetime, which owns the Tap.
        unsafe { tokio::io::unix::AsyncFd::register(self) }.map_err(|e| e.into_parts().1)
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
