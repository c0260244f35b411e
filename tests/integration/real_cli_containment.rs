//! Containment with the real Claude Code CLI (2.1.332) against the fake Messages API: its Bash
//! tool runs `nohup sleep 600 > /dev/null 2>&1 &`, which leaves the worker's session and process
//! group. The background process is gone when the request ends, when it is cancelled, on SIGTERM
//! of smithd, and after `kill -9 smithd` + restart; the worker's own `smith` is refused.
//!
//! The worker runs with `bypassPermissions` so that the tool may run (as root the CLI requires
//! `IS_SANDBOX=1` for that).

use std::time::Duration;

use crate::support::background;
use crate::support::daemon::{Daemon, smith_bin, stderr, stdout};
use crate::support::fake_api::FakeApi;

/// smithd running the real CLI; `None` when real-CLI tests are skipped on purpose.
fn daemon() -> Option<(Daemon, FakeApi, tokio::runtime::Runtime)> {
    let cli = crate::support::real_cli::real_cli()?;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = Daemon::new("");
    crate::support::real_cli::configure_daemon(
        &d,
        &cli,
        &api.url(),
        "permission_mode = \"bypassPermissions\"",
        &[("IS_SANDBOX", "1")],
    );
    d.start();
    Some((d, api, rt))
}

fn tool(command: &str) -> String {
    format!("run it [[tool:bash {command}]]")
}

#[test]
fn the_real_clis_background_process_dies_with_its_request() {
    let Some((d, _api, _rt)) = daemon() else {
        return;
    };
    background::dies_with_its_request(&d, tool);
}

#[test]
fn the_real_clis_background_process_dies_on_cancel() {
    let Some((d, _api, _rt)) = daemon() else {
        return;
    };
    background::dies_on_cancel(&d, tool, Duration::from_secs(15));
}

#[test]
fn the_real_clis_background_process_dies_on_sigterm_of_smithd() {
    let Some((mut d, _api, _rt)) = daemon() else {
        return;
    };
    background::dies_when_smithd_stops(&mut d, tool);
}

#[test]
fn the_real_clis_background_process_is_swept_after_kill_9() {
    let Some((mut d, _api, _rt)) = daemon() else {
        return;
    };
    background::swept_after_kill_9(&mut d, tool, Duration::from_secs(15));
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
