//! Approvals from a test's side: what waits (`smith approvals --json`), waiting for one to
//! appear, deciding it from a second client, and the end of a `smith ask --json` that ran in the
//! background meanwhile.

use std::process::Child;
use std::time::Duration;

use serde_json::Value;

use super::daemon::{Daemon, output_of, stderr, stdout};
use super::eventually_sync;

/// What waits for a person, in every session.
pub fn waiting(d: &Daemon) -> Vec<Value> {
    let out = d.smith(&["approvals", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str::<Vec<Value>>(&stdout(&out)).expect("a JSON list")
}

/// The first approval that waits, once one does (panics after `within`).
pub fn first_waiting(d: &Daemon, within: Duration) -> Value {
    eventually_sync(within, || waiting(d).into_iter().next())
        .unwrap_or_else(|| panic!("no approval waited within {within:?}:\n{}", d.log()))
}

/// Waits until no approval with `id` waits.
pub fn no_longer_waiting(d: &Daemon, id: &str, within: Duration) -> bool {
    eventually_sync(within, || {
        (!waiting(d).iter().any(|a| a["id"] == id)).then_some(())
    })
    .is_some()
}

/// Kills (SIGKILL) the worker of the running request's first task, as `smith status` names it.
pub fn kill_first_worker(d: &Daemon) {
    let status = json_of(d, &["status", "--json"]);
    let pid = status["sessions"][0]["current"]["tasks"][0]["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("the worker's pid: {status}"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

/// `smith ARGS` must succeed; its stdout as JSON.
pub fn json_of(d: &Daemon, args: &[&str]) -> Value {
    let out = d.smith(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "smith {args:?}: {}\n{}",
        stderr(&out),
        d.log()
    );
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)))
}

/// The summary a background `smith ask --json` printed at its end.
pub fn summary_of_child(child: Child) -> Value {
    let out = output_of(child);
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)))
}
