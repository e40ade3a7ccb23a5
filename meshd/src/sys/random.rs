//! The kernel's CSPRNG (getrandom(2)) as a `rand_core` generator, for keys,
//! nonces and session indices.

use batman::rand_core::{self, CryptoRng, RngCore};

/// Fill `buf` from getrandom(2), blocking only until the kernel's pool is
/// initialised (early boot).
pub fn fill(buf: &mut [u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the pointer and length describe `rest`, a live, writable
        // byte slice; getrandom(2) writes at most that many bytes into it.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// getrandom(2) as an RNG. A failure of the kernel's generator cannot be
/// worked around: it aborts (panic=abort) rather than make weak keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl RngCore for OsRng {
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
        fill(dest).expect("getrandom(2) failed: no secure randomness");
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        fill(dest).map_err(|e| {
            let code = e.raw_os_error().unwrap_or(0) as u32;
            let code = std::num::NonZeroU32::new(code)
                .or(std::num::NonZeroU32::new(rand_core::Error::CUSTOM_START))
                .expect("CUSTOM_START is not zero");
            rand_core::Error::from(code)
        })
    }
}

impl CryptoRng for OsRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_differs() {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        OsRng.fill_bytes(&mut a);
        OsRng.fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 64]);
        let mut big = vec![0u8; 1 << 20];
        fill(&mut big).unwrap();
        assert!(big.iter().filter(|&&x| x == 0).count() < 1 << 14);
    }
}
