//! The governor with the real CLI 2.1.332 against the fake Messages API throttling everyone: a
//! 6-task fan-out in one session and a 2-task request in another start while every call is
//! answered 429 (retry-after 2) for 5 s. The first throttle closes the gate for all; the
//! throttled attempts wait there and start again (resuming) instead of failing, so both
//! requests succeed without a single supervised restart, and the API sees a bounded number of
//! calls during the throttle.

use std::time::Duration;

use crate::support::daemon::{Daemon, output_of, stderr, stdout};
use crate::support::fake_api::FakeApi;
use crate::support::real_cli::{configure_daemon, real_cli};

/// The storm: what the API sees and how the requests end, with the governor `enabled` or not.
struct Storm {
    throttled_calls: usize,
    /// `smith status --json` right after.
    status: serde_json::Value,
    results: Vec<serde_json::Value>,
    log: String,
}

fn storm(enabled: bool) -> Option<Storm> {
    let cli = real_cli()?;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = Daemon::new(&format!(
        "[limits]\nmax_concurrent_tasks = 8\n\n[supervision]\nmax_restarts = 2\nperiod = \"1m\"\n\n[governor]\nenabled = {enabled}\n"
    ));
    configure_daemon(&d, &cli, &api.url(), "", &[]);
    d.start();
    api.throttle_for(Duration::from_millis(8000), 1);
    let started = std::time::Instant::now();
    let mut fanout = vec!["ask", "--json", "--session", "big", "six"];
    for _ in 0..6 {
        fanout.extend(["--task", "say hi"]);
    }
    let big = d.smith_child(&fanout);
    let small = d.smith_child(&[
        "ask",
        "--json",
        "--session",
        "small",
        "two",
        "--task",
        "a",
        "--task",
        "b",
    ]);
    let mut results = Vec::new();
    for child in [big, small] {
        let out = output_of(child);
        let v: serde_json::Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("{e}: {}\n{}\n{}", stdout(&out), stderr(&out), d.log()));
        results.push(v);
    }
    let throttled_calls = api.throttled_calls();
    println!(
        "governor enabled = {enabled}: {throttled_calls} throttled calls, took {:?}",
        started.elapsed()
    );
    if std::env::var("SMITH_TEST_SHOW_LOG").is_ok() {
        println!("{}", d.log());
    }
    let out = d.smith(&["status", "--json"]);
    let status = serde_json::from_str(&stdout(&out)).unwrap();
    Some(Storm {
        status,
        throttled_calls,
        results,
        log: d.log(),
    })
}

#[test]
fn a_throttle_is_waited_out_once_for_everyone_and_no_task_fails() {
    let Some(governed) = storm(true) else {
        return;
    };
    for v in &governed.results {
        assert_eq!(v["status"], "succeeded", "{v}\n{}", governed.log);
        for t in v["tasks"].as_array().unwrap() {
            assert_eq!(t["status"], "succeeded", "{t}");
        }
    }
    assert!(governed.log.contains("throttled: the gate is closed"));
    // The storm halved the process cap once (8 → 4); the successes after it grew it back some.
    let g = &governed.status["governor"];
    assert_eq!(g["state"], "open", "{g}");
    let cap = g["cap"].as_u64().unwrap();
    assert!((4..8).contains(&cap), "{g}");
    assert!(
        !governed.log.contains("restarting child"),
        "no supervised restart: {}",
        governed.log
    );
    // Bounded: the 8 workers are all in flight before the first throttle is seen, and each
    // CLI retries once on its own (cli_max_retries = 1): 16 calls nobody can hold back. After
    // that only one probe at a time goes (2 calls each, its CLI retrying once), at backoffs of
    // 1, 2, 4 s… over the 8 s window: at most 4 probes.
    assert!(
        governed.throttled_calls <= 16 + 4 * 2,
        "{} throttled calls",
        governed.throttled_calls
    );
    // The same storm without the governor, for the comparison: each worker restarts on its own
    // and the restart budgets burn before the window ends.
    let alone = storm(false).unwrap();
    assert!(
        alone.results.iter().any(|v| v["status"] != "succeeded"),
        "without the governor the storm burns restart budgets: {:?}",
        alone.results
    );
}

#[test]
fn past_max_wait_an_attempt_ends_rate_limited_with_a_clear_message() {
    let Some(cli) = real_cli() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = Daemon::new(
        "[supervision]\nmax_restarts = 0\n\n[governor]\nmax_wait = \"2s\"\nmin_backoff = \"5s\"\n",
    );
    configure_daemon(&d, &cli, &api.url(), "", &[]);
    d.start();
    api.throttle_for(Duration::from_secs(60), 1);
    let out = d.smith(&["ask", "--json", "wait for it"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}\n{}", stdout(&out), stderr(&out), d.log()));
    assert_eq!(v["status"], "failed", "{v}");
    let task = &v["tasks"][0];
    assert!(
        task["exit_reason"]
            .as_str()
            .unwrap()
            .starts_with("rate_limited"),
        "{v}"
    );
    assert!(
        task["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("governor.max_wait"),
        "{v}"
    );
    let detail = task["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("governor.max_wait (2s)") && detail.contains("429 from r-"),
        "{v}"
    );
}
