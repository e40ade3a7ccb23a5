//! Pure parsing for `bench size`: cargo-bloat's crate table,
//! `/proc/PID/status`, ELF headers, `meshctl -j` answers, MACs and hex.
//! No I/O here, so all of it is unit-tested.

use batman::Mac;

/// One row of `cargo bloat --crates`.
#[derive(Debug, Clone, PartialEq)]
pub struct BloatCrate {
    pub name: String,
    /// Share of the whole file, percent.
    pub file_pct: f64,
    /// Share of `.text`, percent.
    pub text_pct: f64,
    /// Bytes of `.text` (cargo-bloat prints them rounded to 0.1 KiB/MiB).
    pub bytes: f64,
}

/// `cargo bloat --crates` output, parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bloat {
    /// The listed crates, largest first, as printed.
    pub crates: Vec<BloatCrate>,
    /// The "And N more crates" row: (N, their bytes and .text share).
    pub more: Option<(usize, f64, f64)>,
    /// `.text` section size in bytes.
    pub text_bytes: f64,
    /// Size of the (unstripped) file cargo-bloat analysed, bytes.
    pub file_bytes: f64,
}

/// `316.1KiB`, `932B`, `2.9MiB` -> bytes.
pub fn size_bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    for (unit, mult) in [
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("KiB", 1024.0),
        ("B", 1.0),
    ] {
        if let Some(n) = s.strip_suffix(unit) {
            return n.trim().parse::<f64>().ok().map(|v| v * mult);
        }
    }
    None
}

fn pct(s: &str) -> Option<f64> {
    s.strip_suffix('%')?.parse().ok()
}

/// Parse the table `cargo bloat --crates -n N` prints on stdout:
///
/// ```text
///  File  .text     Size Crate
/// 10.8%  52.1% 316.1KiB std
///  0.0%   0.0%      70B And 2 more crates. Use -n N to show more.
/// 20.8% 100.0% 607.1KiB .text section size, the file size is 2.9MiB
/// ```
///
/// `None` if no `.text section size` line is found (not a crate table).
pub fn bloat_crates(out: &str) -> Option<Bloat> {
    let mut b = Bloat::default();
    let mut total = false;
    for line in out.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 4 {
            continue;
        }
        let (Some(file_pct), Some(text_pct), Some(bytes)) =
            (pct(t[0]), pct(t[1]), size_bytes(t[2]))
        else {
            continue;
        };
        let rest = t[3..].join(" ");
        if let Some(tail) = rest.strip_prefix(".text section size") {
            b.text_bytes = bytes;
            b.file_bytes = tail
                .rsplit(' ')
                .next()
                .and_then(size_bytes)
                .unwrap_or(f64::NAN);
            total = true;
        } else if let Some(more) = rest.strip_prefix("And ") {
            let n = more.split(' ').next().and_then(|n| n.parse().ok());
            b.more = n.map(|n| (n, bytes, text_pct));
        } else {
            b.crates.push(BloatCrate {
                name: rest,
                file_pct,
                text_pct,
                bytes,
            });
        }
    }
    total.then_some(b)
}

/// Memory figures of `/proc/PID/status`, KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub vm_rss: u64,
    pub vm_hwm: u64,
    pub rss_anon: u64,
    pub rss_file: u64,
}

/// The `Key:   1234 kB` value of `key` in `/proc/PID/status`.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        let mut t = v.split_whitespace();
        let n = t.next()?.parse().ok()?;
        (t.next() == Some("kB")).then_some(n)
    })
}

/// VmRSS, VmHWM, RssAnon, RssFile of `/proc/PID/status`; `None` without
/// VmRSS (a kernel thread or a process that is gone).
pub fn status(text: &str) -> Option<Status> {
    Some(Status {
        vm_rss: status_kib(text, "VmRSS")?,
        vm_hwm: status_kib(text, "VmHWM").unwrap_or(0),
        rss_anon: status_kib(text, "RssAnon").unwrap_or(0),
        rss_file: status_kib(text, "RssFile").unwrap_or(0),
    })
}

/// The `Name:` of `/proc/PID/status`.
pub fn status_name(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix("Name:"))
        .map(str::trim)
}

/// What an ELF header says about a binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub bits: u8,
    pub big_endian: bool,
    /// `e_machine`.
    pub machine: u16,
    /// Has a `.symtab` section (not stripped).
    pub symtab: bool,
    /// Has a `PT_INTERP` program header (dynamically linked).
    pub interp: bool,
}

impl ElfInfo {
    pub fn machine_name(&self) -> &'static str {
        match self.machine {
            3 => "x86",
            8 => "mips",
            40 => "arm",
            62 => "x86-64",
            183 => "aarch64",
            _ => "other",
        }
    }

    /// `mips 32-bit BE, static, stripped`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}-bit {}, {}, {}",
            self.machine_name(),
            self.bits,
            if self.big_endian { "BE" } else { "LE" },
            if self.interp { "dynamic" } else { "static" },
            if self.symtab { "symbols" } else { "stripped" }
        )
    }

    /// Does the header match a `cross/out/<arch>` directory name?
    pub fn matches_arch(&self, arch: &str) -> bool {
        match arch {
            "x86_64" => self.machine == 62,
            "aarch64" => self.machine == 183,
            "armv7" => self.machine == 40 && !self.big_endian,
            "mipsel" => self.machine == 8 && !self.big_endian,
            "mips" => self.machine == 8 && self.big_endian,
            _ => false,
        }
    }
}

/// Read the ELF file header, the program headers (for `PT_INTERP`) and
/// the section names (for `.symtab`). `None` if `b` is not a well-formed
/// ELF file.
pub fn elf_info(b: &[u8]) -> Option<ElfInfo> {
    if b.get(..4)? != b"\x7fELF" {
        return None;
    }
    let bits = match b.get(4)? {
        1 => 32u8,
        2 => 64,
        _ => return None,
    };
    let big = match b.get(5)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let get = |at: usize, n: usize| -> Option<u64> {
        let s = b.get(at..at.checked_add(n)?)?;
        let mut v = 0u64;
        for i in 0..n {
            let byte = if big { s[i] } else { s[n - 1 - i] };
            v = (v << 8) | byte as u64;
        }
        Some(v)
    };
    let w = if bits == 64 { 8 } else { 4 };
    let machine = get(18, 2)? as u16;
    // e_phoff, e_shoff follow e_entry (at 24).
    let phoff = get(24 + w, w)? as usize;
    let shoff = get(24 + 2 * w, w)? as usize;
    let at = 24 + 3 * w + 4 + 2; // e_flags, e_ehsize
    let phentsize = get(at, 2)? as usize;
    let phnum = get(at + 2, 2)? as usize;
    let shentsize = get(at + 4, 2)? as usize;
    let shnum = get(at + 6, 2)? as usize;
    let shstrndx = get(at + 8, 2)? as usize;
    let mut interp = false;
    for i in 0..phnum {
        if get(phoff.checked_add(i.checked_mul(phentsize)?)?, 4)? == 3 {
            interp = true;
        }
    }
    let mut symtab = false;
    if shnum > 0 && shstrndx < shnum {
        let sh = |i: usize| shoff + i * shentsize;
        // sh_offset: after sh_name, sh_type (4 + 4) and sh_flags, sh_addr (2w).
        let strtab = get(sh(shstrndx) + 8 + 2 * w, w)? as usize;
        for i in 0..shnum {
            let name = get(sh(i), 4)? as usize;
            let start = strtab.checked_add(name)?;
            let tail = b.get(start..)?;
            let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
            if &tail[..end] == b".symtab" {
                symtab = true;
            }
        }
    }
    Some(ElfInfo {
        bits,
        big_endian: big,
        machine,
        symtab,
        interp,
    })
}

/// Rows in a `meshctl -j` answer (`{"ok":true,"rows":[{...},{...}]}`):
/// the number of row objects, counted by the key every row of the verb
/// has. `None` for an error answer.
pub fn ctl_rows(json: &str, key: &str) -> Option<usize> {
    if !json.contains("\"ok\":true") {
        return None;
    }
    Some(json.matches(&format!("\"{key}\":")).count())
}

/// `aa:bb:cc:dd:ee:ff` -> MAC.
pub fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in m.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(Mac(m))
}

/// The MAC in `ip -br link show DEV` output (`DEV@ifN  UP  aa:bb:..  <...>`).
pub fn ip_br_mac(out: &str) -> Option<Mac> {
    out.split_whitespace().find_map(parse_mac)
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Hex -> bytes; `None` on an odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() & 1 == 1 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // cargo-bloat 0.12.1 on meshd (x86_64, release profile, strip=false).
    const BLOAT: &str = " File  .text     Size Crate
10.8%  52.1% 316.1KiB std
 4.0%  19.4% 118.0KiB meshd
 2.3%  10.9%  66.1KiB batman
 0.0%   0.2%   1.4KiB [Unknown]
 0.0%   0.1%     932B toml_datetime
 0.0%   0.0%      70B And 2 more crates. Use -n N to show more.
20.8% 100.0% 607.1KiB .text section size, the file size is 2.9MiB

Note: numbers above are a result of guesswork. They are not 100% correct and never will be.
";

    #[test]
    fn parses_cargo_bloat_crates() {
        let b = bloat_crates(BLOAT).unwrap();
        assert_eq!(b.crates.len(), 5);
        assert_eq!(
            b.crates[0],
            BloatCrate {
                name: "std".into(),
                file_pct: 10.8,
                text_pct: 52.1,
                bytes: 316.1 * 1024.0
            }
        );
        assert_eq!(b.crates[3].name, "[Unknown]");
        assert_eq!(b.crates[4].bytes, 932.0);
        assert_eq!(b.more, Some((2, 70.0, 0.0)));
        assert!((b.text_bytes - 607.1 * 1024.0).abs() < 1e-6);
        assert!((b.file_bytes - 2.9 * 1024.0 * 1024.0).abs() < 1e-6);
        // Not a crate table: cargo's error output, an empty string.
        assert_eq!(bloat_crates("error: no such command: `bloat`"), None);
        assert_eq!(bloat_crates(""), None);
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(size_bytes("932B"), Some(932.0));
        assert_eq!(size_bytes("1.5KiB"), Some(1536.0));
        assert_eq!(size_bytes("2MiB"), Some(2097152.0));
        assert_eq!(size_bytes("1GiB"), Some(1073741824.0));
        assert_eq!(size_bytes("12kB"), None);
        assert_eq!(size_bytes("x"), None);
    }

    #[test]
    fn parses_proc_status() {
        let s = "Name:\tmeshd\nUmask:\t0022\nVmPeak:\t   12345 kB\nVmHWM:\t    2816 kB\n\
                 VmRSS:\t    2688 kB\nRssAnon:\t     512 kB\nRssFile:\t    2176 kB\n\
                 RssShmem:\t       0 kB\nThreads:\t1\n";
        assert_eq!(
            status(s),
            Some(Status {
                vm_rss: 2688,
                vm_hwm: 2816,
                rss_anon: 512,
                rss_file: 2176
            })
        );
        assert_eq!(status_name(s), Some("meshd"));
        assert_eq!(status_kib(s, "VmRSS"), Some(2688));
        // VmRSSx is not VmRSS; kernel threads have no VmRSS line.
        assert_eq!(status_kib("VmRSSx:\t1 kB\n", "VmRSS"), None);
        assert_eq!(status("Name:\tkthreadd\nThreads:\t1\n"), None);
        assert_eq!(status_kib("VmRSS:\t12\n", "VmRSS"), None);
    }

    #[test]
    fn reads_elf_headers() {
        // This test binary: an x86-64 (or whatever the host is) ELF file.
        let me = std::fs::read("/proc/self/exe").unwrap();
        let i = elf_info(&me).unwrap();
        if cfg!(target_arch = "x86_64") {
            assert_eq!((i.bits, i.big_endian, i.machine), (64, false, 62));
            assert!(i.matches_arch("x86_64") && !i.matches_arch("mipsel"));
        }
        assert!(elf_info(b"\x7fELF").is_none());
        assert!(elf_info(b"#!/bin/sh\n").is_none());
        assert!(elf_info(&me[..64]).is_none()); // headers cut off

        // A minimal 32-bit big-endian MIPS header: no program headers, a
        // section table of [null, .shstrtab, .symtab].
        let mut b = vec![0u8; 52];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 1; // 32-bit
        b[5] = 2; // big-endian
        b[18..20].copy_from_slice(&8u16.to_be_bytes());
        let strtab = b"\0.shstrtab\0.symtab\0";
        let str_off = b.len();
        b.extend_from_slice(strtab);
        let shoff = b.len();
        b[32..36].copy_from_slice(&(shoff as u32).to_be_bytes());
        b[46..48].copy_from_slice(&40u16.to_be_bytes()); // shentsize
        b[48..50].copy_from_slice(&3u16.to_be_bytes()); // shnum
        b[50..52].copy_from_slice(&1u16.to_be_bytes()); // shstrndx
        for name in [0u32, 1, 11] {
            let mut sh = vec![0u8; 40];
            sh[..4].copy_from_slice(&name.to_be_bytes());
            sh[16..20].copy_from_slice(&(str_off as u32).to_be_bytes());
            b.extend_from_slice(&sh);
        }
        let i = elf_info(&b).unwrap();
        assert_eq!(
            i,
            ElfInfo {
                bits: 32,
                big_endian: true,
                machine: 8,
                symtab: true,
                interp: false
            }
        );
        assert!(i.matches_arch("mips") && !i.matches_arch("mipsel"));
        assert_eq!(i.describe(), "mips 32-bit BE, static, symbols");
        // Rename .symtab: stripped.
        let at = str_off + 11;
        b[at..at + 7].copy_from_slice(b".commen");
        assert!(!elf_info(&b).unwrap().symtab);
    }

    #[test]
    fn counts_meshctl_rows() {
        let o = r#"{"ok":true,"rows":[{"orig":"02:00:00:00:00:01","tq":255},{"orig":"02:00:00:00:00:02","tq":200}]}"#;
        assert_eq!(ctl_rows(o, "orig"), Some(2));
        assert_eq!(ctl_rows(r#"{"ok":true,"rows":[]}"#, "orig"), Some(0));
        assert_eq!(ctl_rows(r#"{"ok":false,"error":"x"}"#, "orig"), None);
    }

    #[test]
    fn macs_and_hex() {
        let m = Mac([0x02, 0xba, 0x7a, 0, 0x0f, 0xff]);
        assert_eq!(parse_mac("02:ba:7a:00:0f:ff"), Some(m));
        assert_eq!(parse_mac("02:BA:7A:00:0F:FF"), Some(m));
        assert_eq!(parse_mac("02:ba:7a:00:0f"), None);
        assert_eq!(parse_mac("02:ba:7a:00:0f:ff:00"), None);
        assert_eq!(parse_mac("2:ba:7a:00:0f:ff"), None);
        assert_eq!(
            ip_br_mac("wlmesh0@if2        UP             02:ba:7a:00:0f:ff <BROADCAST,MULTICAST,UP,LOWER_UP>\n"),
            Some(m)
        );
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(unhex("00ab10\n"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(unhex("0ab"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(""), Some(vec![]));
    }
}
