//! The kernel's randomness for the bench: one read of /dev/urandom per
//! draw, as meshd's `OsRng` makes one getrandom(2) call per draw (hwtest
//! has no libc for getrandom itself; both are one system call into the
//! same generator).

use std::fs::File;
use std::io::Read;

use rand_core::{CryptoRng, RngCore};

/// /dev/urandom, opened once.
#[derive(Debug)]
pub struct OsRandom(File);

impl OsRandom {
    pub fn open() -> std::io::Result<Self> {
        File::open("/dev/urandom").map(OsRandom)
    }
}

impl RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0
            .read_exact(dest)
            .expect("reading /dev/urandom failed");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.read_exact(dest).map_err(|e| {
            let code = e.raw_os_error().unwrap_or(0) as u32;
            let code = std::num::NonZeroU32::new(code)
                .or(std::num::NonZeroU32::new(rand_core::Error::CUSTOM_START))
                .expect("CUSTOM_START is not zero");
            rand_core::Error::from(code)
        })
    }
}

impl CryptoRng for OsRandom {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_differs() {
        let mut r = OsRandom::open().unwrap();
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        r.fill_bytes(&mut a);
        r.fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 64]);
    }
}
