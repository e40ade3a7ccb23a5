//! Child processes meshd supervises (dnsmasq): a polite stop signal, and
//! death with meshd even when meshd is killed with SIGKILL.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Send SIGTERM to `child` (it gets a chance to clean up; the caller
/// reaps it and falls back to SIGKILL).
pub fn terminate(child: &Child) -> io::Result<()> {
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    // `child` is not yet reaped (we hold its `Child`), so the pid still
    // names our own child, never a recycled process.
    if unsafe { libc::kill(pid, libc::SIGTERM) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Send `sig` to process `pid`, which is not our child: a supervised
/// program left over by an earlier meshd (found through its pid file, and
/// checked by its command line just before by the caller).
pub fn signal_pid(pid: u32, sig: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    // Which process it reaches is the caller's check (pid file and command
    // line read just before); pids 0, 1 and negative ones (groups) are
    // refused above, so it never signals a group or init.
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Have the kernel send SIGTERM to the child when meshd dies, however it
/// dies (so a `kill -9` of meshd leaves no dnsmasq behind). The signal is
/// kept across the child's exec of a wrapper (`ip netns exec`) and then
/// of the real program.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: prctl(2) is a plain system call
    // that allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminate_stops_a_child_spawned_with_a_parent_death_signal() {
        let mut c = Command::new("sleep");
        c.arg("30");
        die_with_parent(&mut c);
        let mut child = c.spawn().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        assert!(status.contains("State:"), "{status}");
        terminate(&child).unwrap();
        let st = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGTERM));
    }
}
