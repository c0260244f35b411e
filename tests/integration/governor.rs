//! The governor's process slots with the stand-in agent: at the cap, sessions take turns, so a
//! one-task request of another session is not held behind a whole fan-out; `smith status` shows
//! the cap and who waits. (Throttling itself is tested with the real CLI in `real_cli_governor`
//! and in the governor's unit tests.)

use std::time::Duration;

use crate::support::approvals::{json_of, summary_of_child};
use crate::support::daemon::Daemon;
use crate::support::eventually_sync;

#[test]
fn a_small_request_of_another_session_is_not_held_behind_a_fan_out() {
    let mut d = Daemon::new("[limits]\nmax_concurrent_tasks = 2\n");
    d.start_in_process();
    let mut args = vec!["ask", "--json", "--session", "big", "ten"];
    for _ in 0..10 {
        args.extend(["--task", "work [[sleep:300]]"]);
    }
    let big = d.smith_child(&args);
    // The fan-out holds both slots and queues the rest.
    let status = eventually_sync(Duration::from_secs(20), || {
        let s = json_of(&d, &["status", "--json"]);
        (s["governor"]["queued"][0]["session"] == "big").then_some(s)
    })
    .expect("the fan-out queues");
    assert_eq!(status["governor"]["cap"], 2, "{status}");
    let small = json_of(
        &d,
        &["ask", "--json", "--session", "small", "one [[sleep:300]]"],
    );
    assert_eq!(small["status"], "succeeded", "{small}");
    // The fan-out still runs: the small request did not wait for its queue to drain.
    let status = json_of(&d, &["status", "--json"]);
    let big_running = status["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "big" && !s["current"].is_null());
    assert!(
        big_running,
        "the one-task request waited for the whole fan-out: {status}"
    );
    let big = summary_of_child(big);
    assert_eq!(big["status"], "succeeded", "{big}");
    d.stop_in_process().unwrap();
}
