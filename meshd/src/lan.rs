//! The LAN side: dnsmasq configured and supervised by meshd (filled in next).
