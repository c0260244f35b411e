//! Containment with the real Claude Code CLI (2.1.332) against the fake Messages API: its Bash
//! tool runs `nohup sleep 600 > /dev/null 2>&1 &`, which leaves the worker's session and process
//! group. The background process is gone when the request ends, when it is cancelled, on SIGTERM
//! of smithd, and after `kill -9 smithd` + restart; the worker's own `smith` is refused.
//!
//! The worker runs with `bypassPermissions` so that the tool may run (as root the CLI requires
//! `IS_SANDBOX=1` for that).

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use support::background::{
    background_command, gone_within, kill_if_alive, pid_file, session_of, wait_for_pid,
};
use support::daemon::{Daemon, smith_bin, stderr, stdout};
use support::fake_api::FakeApi;

/// smithd running the real CLI; `None` when real-CLI tests are skipped on purpose.
fn daemon() -> Option<(Daemon, FakeApi, tokio::runtime::Runtime)> {
    let cli = support::real_cli::real_cli()?;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = Daemon::new("");
    support::real_cli::configure_daemon(
        &d,
        &cli,
        &api.url(),
        "permission_mode = \"bypassPermissions\"",
        &[("IS_SANDBOX", "1")],
    );
    d.start();
    Some((d, api, rt))
}

fn ask_in_background(d: &Daemon, prompt: &str) -> Child {
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

fn tool(command: &str) -> String {
    format!("run it [[tool:bash {command}]]")
}

#[test]
fn the_real_clis_background_process_dies_with_its_request() {
    let Some((d, _api, _rt)) = daemon() else {
        return;
    };
    let file = pid_file(&d.work(), "done");
    let out = d.smith(&["ask", "--json", &tool(&background_command(&file, 0))]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), d.log());
    let pid = wait_for_pid(&file);
    let gone = gone_within(pid, Duration::from_secs(5));
    kill_if_alive(pid);
    assert!(
        gone,
        "the CLI's background sleep {pid} outlived its request:\n{}",
        d.log()
    );
}

#[test]
fn the_real_clis_background_process_dies_on_cancel() {
    let Some((d, _api, _rt)) = daemon() else {
        return;
    };
    let file = pid_file(&d.work(), "cancel");
    let mut client = ask_in_background(&d, &tool(&background_command(&file, 60)));
    let pid = wait_for_pid(&file);
    assert_ne!(
        session_of(pid),
        session_of(d.pid()),
        "the CLI ran it in a session of its own"
    );
    let history: serde_json::Value =
        serde_json::from_str(&stdout(&d.smith(&["history", "bg", "--json"]))).unwrap();
    let id = history[0]["id"].as_str().unwrap().to_string();
    assert_eq!(d.smith(&["cancel", &id]).status.code(), Some(0));
    let gone = gone_within(pid, Duration::from_secs(15));
    kill_if_alive(pid);
    let _ = client.wait();
    assert!(
        gone,
        "the CLI's background sleep {pid} outlived the cancel:\n{}",
        d.log()
    );
}

#[test]
fn the_real_clis_background_process_dies_on_sigterm_of_smithd() {
    let Some((mut d, _api, _rt)) = daemon() else {
        return;
    };
    let file = pid_file(&d.work(), "term");
    let mut client = ask_in_background(&d, &tool(&background_command(&file, 60)));
    let pid = wait_for_pid(&file);
    d.signal(Signal::SIGTERM);
    assert!(d.wait(Duration::from_secs(30)).is_some(), "smithd stops");
    let gone = gone_within(pid, Duration::from_secs(1));
    kill_if_alive(pid);
    let _ = client.wait();
    assert!(
        gone,
        "the CLI's background sleep {pid} outlived smithd:\n{}",
        d.log()
    );
}

#[test]
fn the_real_clis_background_process_is_swept_after_kill_9() {
    let Some((mut d, _api, _rt)) = daemon() else {
        return;
    };
    let file = pid_file(&d.work(), "kill9");
    let mut client = ask_in_background(&d, &tool(&background_command(&file, 60)));
    let pid = wait_for_pid(&file);
    d.signal(Signal::SIGKILL);
    d.wait(Duration::from_secs(10)).expect("smithd died");
    let _ = client.wait();
    assert!(
        !gone_within(pid, Duration::from_millis(200)),
        "it survived smithd"
    );
    d.start();
    let gone = gone_within(pid, Duration::from_secs(15));
    kill_if_alive(pid);
    for w in d.worker_pids() {
        kill_if_alive(w);
    }
    assert!(
        gone,
        "the sweep missed the CLI's background sleep {pid}:\n{}",
        d.log()
    );
}

#[test]
fn the_real_clis_worker_cannot_drive_smithd() {
    let Some((d, _api, _rt)) = daemon() else {
        return;
    };
    let command = format!(
        "{} --socket {} health 2>&1; {} health 2>&1",
        smith_bin().display(),
        d.socket().display(),
        smith_bin().display()
    );
    let out = d.smith(&["ask", "--json", &tool(&command)]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), d.log());
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let answer = v["answer"].as_str().unwrap();
    assert!(
        answer.contains("takes no requests from its own workers"),
        "{answer}"
    );
    // The default socket, seen from the worker, is in its own runtime directory: nobody there.
    assert!(answer.contains("cannot reach smithd"), "{answer}");
}
