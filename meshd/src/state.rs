//! The state directory (default `/etc/meshd`): key files and the small
//! node state, each written atomically with mode 0600 (a temporary file in
//! the same directory, fsync, rename over the old one, fsync of the
//! directory), so a power cut leaves either the old file or the new one,
//! never a torn one.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Default state directory.
pub const DEFAULT_DIR: &str = "/etc/meshd";
/// Largest file read from it (key files are ~130 bytes).
const MAX_FILE: u64 = 64 * 1024;

/// An open state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Open `path`, creating it (mode 0700) when missing.
    pub fn open(path: &Path) -> Result<StateDir, String> {
        if !path.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|e| format!("state directory {}: {e}", path.display()))?;
        }
        Ok(StateDir {
            path: path.to_path_buf(),
        })
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of file `name` in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The bytes of `name`, or None when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let p = self.file(name);
        let meta = match fs::metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        if meta.len() > MAX_FILE {
            return Err(format!(
                "{}: {} bytes, too big to be a meshd state file",
                p.display(),
                meta.len()
            ));
        }
        fs::read(&p)
            .map(Some)
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Replace `name` with `bytes` atomically, mode 0600.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let dst = self.file(name);
        let tmp = self.file(&format!(".{name}.tmp"));
        let err = |e: std::io::Error| format!("{}: {e}", dst.display());
        // A temporary left by a crash is garbage: start afresh.
        let _ = fs::remove_file(&tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        // The umask may have narrowed the mode; never widened it. Make it
        // exactly 0600 anyway.
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        drop(f);
        fs::rename(&tmp, &dst).map_err(err)?;
        fs::File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Remove `name` if it exists.
    pub fn remove(&self, name: &str) -> Result<(), String> {
        match fs::remove_file(self.file(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("{}: {e}", self.file(name).display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("meshd-state-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn writes_are_atomic_0600_and_replace() {
        let p = tmpdir("w");
        let d = StateDir::open(&p.join("sub")).unwrap();
        assert_eq!(
            fs::metadata(d.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(d.read("k").unwrap(), None);
        d.write("k", b"one").unwrap();
        d.write("k", b"two").unwrap();
        assert_eq!(d.read("k").unwrap().as_deref(), Some(&b"two"[..]));
        let mode = fs::metadata(d.file("k")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A stale temporary from a crash does not get in the way.
        fs::write(d.file(".k.tmp"), b"junk").unwrap();
        d.write("k", b"three").unwrap();
        assert!(!d.file(".k.tmp").exists());
        d.remove("k").unwrap();
        d.remove("k").unwrap();
        assert_eq!(d.read("k").unwrap(), None);
        fs::write(d.file("big"), vec![0u8; MAX_FILE as usize + 1]).unwrap();
        assert!(d.read("big").unwrap_err().contains("too big"));
        fs::remove_dir_all(&p).unwrap();
    }
}
