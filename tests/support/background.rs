//! A worker's tool that starts a background process in a session of its own (as the real CLI's
//! Bash tool does) and writes its pid to a file: the helpers to start one and to watch it, and the
//! four containment scenarios the stand-in and the real CLI both go through.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::agent::pid_alive;
use super::daemon::{Daemon, smith_bin, stderr, stdout};

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

/// How a worker is asked to run a shell command: the stand-in's `[[sh:…]]`, the real CLI's Bash
/// tool through the fake API.
pub type Runs = fn(&str) -> String;

/// `smith ask` in the background (the request runs while the test acts), in session `bg`.
pub fn ask_in_background(d: &Daemon, prompt: &str) -> Child {
    Command::new(smith_bin())
        .args(["ask", "--session", "bg", prompt])
        .env("SMITH_SOCKET", d.socket())
        .current_dir(d.work())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A worker's background process is gone when its request ends.
pub fn dies_with_its_request(d: &Daemon, runs: Runs) {
    let file = pid_file(&d.work(), "done");
    let out = d.smith(&["ask", "--json", &runs(&background_command(&file, 0))]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), d.log());
    let pid = wait_for_pid(&file);
    let gone = gone_within(pid, Duration::from_secs(5));
    kill_if_alive(pid);
    assert!(
        gone,
        "the background sleep {pid} outlived its request:\n{}",
        d.log()
    );
}

/// A worker's background process, in a session of its own, is gone `within` a cancel.
pub fn dies_on_cancel(d: &Daemon, runs: Runs, within: Duration) {
    let file = pid_file(&d.work(), "cancel");
    let mut client = ask_in_background(d, &runs(&background_command(&file, 60)));
    let pid = wait_for_pid(&file);
    assert_ne!(
        session_of(pid),
        session_of(d.pid()),
        "it left the session workers run in"
    );
    let history: serde_json::Value =
        serde_json::from_str(&stdout(&d.smith(&["history", "bg", "--json"]))).unwrap();
    let id = history[0]["id"].as_str().unwrap().to_string();
    assert_eq!(d.smith(&["cancel", &id]).status.code(), Some(0));
    let gone = gone_within(pid, within);
    kill_if_alive(pid);
    let _ = client.wait();
    assert!(
        gone,
        "the background sleep {pid} outlived the cancel:\n{}",
        d.log()
    );
}

/// A worker's background process is gone once smithd stopped on SIGTERM.
pub fn dies_when_smithd_stops(d: &mut Daemon, runs: Runs) {
    let file = pid_file(&d.work(), "term");
    let mut client = ask_in_background(d, &runs(&background_command(&file, 60)));
    let pid = wait_for_pid(&file);
    d.signal(Signal::SIGTERM);
    assert!(d.wait(Duration::from_secs(30)).is_some(), "smithd stops");
    let gone = gone_within(pid, Duration::from_secs(1));
    kill_if_alive(pid);
    let _ = client.wait();
    assert!(
        gone,
        "the background sleep {pid} outlived smithd:\n{}",
        d.log()
    );
}

/// A worker's background process survives `kill -9 smithd` and is gone `within` the next start.
pub fn swept_after_kill_9(d: &mut Daemon, runs: Runs, within: Duration) {
    let file = pid_file(&d.work(), "kill9");
    let mut client = ask_in_background(d, &runs(&background_command(&file, 60)));
    let pid = wait_for_pid(&file);
    d.signal(Signal::SIGKILL);
    d.wait(Duration::from_secs(10)).expect("smithd died");
    let _ = client.wait();
    assert!(
        !gone_within(pid, Duration::from_millis(200)),
        "it survived smithd"
    );
    d.start();
    let gone = gone_within(pid, within);
    kill_if_alive(pid);
    for w in d.worker_pids() {
        kill_if_alive(w);
    }
    assert!(gone, "the sweep missed {pid}:\n{}", d.log());
}
