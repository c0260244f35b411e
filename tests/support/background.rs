//! A worker's tool that starts a background process in a session of its own (as the real CLI's
//! Bash tool does) and writes its pid to a file: the helpers to start one and to watch it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::agent::pid_alive;

/// A shell command that starts `sleep 600` in the background, detached from everything, and
/// writes its pid to `pid_file`; then sleeps `then_secs` in the foreground.
pub fn background_command(pid_file: &Path, then_secs: u32) -> String {
    format!(
        "nohup sleep 600 > /dev/null 2>&1 & echo $! > {}; sleep {then_secs}",
        pid_file.display()
    )
}

/// A fresh pid file path under `dir`.
pub fn pid_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.pid"))
}

/// The pid in `file` once it is there (up to 60 s).
pub fn wait_for_pid(file: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no pid in {} after 60 s", file.display());
}

/// Waits until `pid` is gone (up to `within`); whether it went.
pub fn gone_within(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !pid_alive(pid)
}

/// Kills `pid` if it is still there (cleanup after a failed assertion).
pub fn kill_if_alive(pid: u32) {
    if pid_alive(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The session id of `pid` (`/proc/<pid>/stat` field 6).
pub fn session_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..]
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}
