//! Warm workers (`agent.warm_pool`) with the stand-in agent and a start-up delay
//! (`FAKE_CLAUDE_STARTUP_MS`): later tasks start on a warm worker, a profile mismatch starts
//! cold, a warm worker killed while idle is replaced and never used, the process cap counts warm
//! workers (an attempt that needs a slot evicts one), and neither a shutdown nor `kill -9 smithd`
//! leaves one behind; an attempt on a warm worker links to the worker's `warm_worker` span.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::Value;

use crate::support::approvals::json_of;
use crate::support::background::gone_within;
use crate::support::daemon::Daemon;
use crate::support::eventually_sync;
use crate::support::otlp::{Receiver, attr};

/// A daemon whose workers take 300 ms to start, with a pool of `pool` warm workers.
fn warm_daemon(pool: usize, extra: &str) -> Daemon {
    let d = Daemon::new(extra);
    configure(&d, pool, 300);
    d
}

fn configure(d: &Daemon, pool: usize, startup_ms: u64) {
    let agent =
        d.agent_section()
            .replacen("[agent]\n", &format!("[agent]\nwarm_pool = {pool}\n"), 1)
            + &format!("FAKE_CLAUDE_STARTUP_MS = \"{startup_ms}\"\n");
    d.write_config(&agent);
}

pub fn status(d: &Daemon) -> Value {
    json_of(d, &["status", "--json"])
}

/// Waits until `n` warm workers are idle.
pub fn warm_ready(d: &Daemon, n: u64) {
    eventually_sync(Duration::from_secs(15), || {
        (status(d)["warm_workers"] == n).then_some(())
    })
    .unwrap_or_else(|| panic!("{n} warm workers never became idle:\n{}", d.log()));
}

/// Asks `args`; whether its (single) attempt started warm, and its pid.
pub fn ask(d: &Daemon, args: &[&str]) -> (bool, u64) {
    let v = json_of(d, &[&["ask", "--json"][..], args].concat());
    assert_eq!(v["status"], "succeeded", "{v}");
    let show = json_of(d, &["show", "--json", v["request_id"].as_str().unwrap()]);
    let a = &show["attempts"][0];
    (a["warm"].as_bool().unwrap(), a["pid"].as_u64().unwrap())
}

/// Live processes of `d`'s workers that carry a warm worker's tag.
fn warm_pids(d: &Daemon) -> Vec<u32> {
    d.worker_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0).any(|v| {
                    v.starts_with(b"SMITH_ATTEMPT=") && v.windows(6).any(|w| w == b"/warm/")
                })
            })
        })
        .collect()
}

#[test]
fn later_tasks_start_warm_a_mismatch_starts_cold_and_warm_workers_hold_slots() {
    let mut d = warm_daemon(2, "");
    d.start_in_process();
    let (warm, _) = ask(&d, &["one"]);
    assert!(
        !warm,
        "the first attempt of a profile starts cold (and asks for it)"
    );
    warm_ready(&d, 2);
    // Idle warm workers count toward the process cap.
    assert_eq!(status(&d)["running_tasks"], 2);
    let (warm, _) = ask(&d, &["two"]);
    assert!(warm, "the next one starts on a warm worker");
    warm_ready(&d, 2);
    // A per-attempt --max-budget-usd is fixed at spawn: cold.
    let (warm, _) = ask(&d, &["--budget", "1", "three"]);
    assert!(!warm);
    // Another model is another profile: cold, and it is remembered for next time.
    let (warm, _) = ask(&d, &["--model", "other", "four"]);
    assert!(!warm);
    // Another working directory too.
    let elsewhere = d.work().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let (warm, _) = ask(&d, &["--cwd", elsewhere.to_str().unwrap(), "five"]);
    assert!(!warm);
    // A fan-out: the tasks take the idle warm workers (a third may take one a refill started
    // meanwhile).
    warm_ready(&d, 2);
    let v = json_of(
        &d,
        &[
            "ask", "--json", "fan", "--task", "a", "--task", "b", "--task", "c",
        ],
    );
    assert_eq!(v["status"], "succeeded", "{v}");
    let show = json_of(&d, &["show", "--json", v["request_id"].as_str().unwrap()]);
    let warm: Vec<bool> = show["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["warm"].as_bool().unwrap())
        .collect();
    assert!(warm.iter().filter(|w| **w).count() >= 2, "{show}");
    // A restart resumes its Claude session (--resume): cold, though the first attempt was warm.
    warm_ready(&d, 2);
    let v = json_of(&d, &["ask", "--json", "again [[fail-first:again]]"]);
    assert_eq!(v["status"], "succeeded", "{v}");
    let show = json_of(&d, &["show", "--json", v["request_id"].as_str().unwrap()]);
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{show}");
    assert_eq!(attempts[0]["warm"], true);
    assert_eq!(attempts[1]["warm"], false, "the resume starts cold");
    assert!(attempts[1]["resumed_from"].is_string(), "{show}");
    d.stop_in_process().unwrap();
    assert!(warm_pids(&d).is_empty(), "the pool was drained on shutdown");
}

#[test]
fn a_warm_worker_killed_while_idle_is_replaced_and_never_used() {
    let mut d = warm_daemon(1, "");
    d.start_in_process();
    ask(&d, &["one"]);
    warm_ready(&d, 1);
    let killed = warm_pids(&d);
    assert_eq!(killed.len(), 1, "{killed:?}");
    kill(Pid::from_raw(killed[0] as i32), Signal::SIGKILL).unwrap();
    eventually_sync(Duration::from_secs(15), || {
        let now = warm_pids(&d);
        (now.len() == 1 && now[0] != killed[0] && status(&d)["warm_workers"] == 1).then_some(())
    })
    .expect("the killed warm worker is replaced");
    let (warm, pid) = ask(&d, &["two"]);
    assert!(warm);
    assert_ne!(pid, u64::from(killed[0]), "the killed one is never used");
    d.stop_in_process().unwrap();
}

#[test]
fn with_one_slot_an_attempt_evicts_the_idle_warm_worker() {
    let mut d = warm_daemon(1, "[limits]\nmax_concurrent_tasks = 1\n");
    d.start_in_process();
    ask(&d, &["one"]);
    warm_ready(&d, 1);
    assert_eq!(
        status(&d)["running_tasks"],
        1,
        "the warm worker holds the only slot"
    );
    // Another profile needs the slot: the warm worker gives it up.
    let (warm, _) = ask(&d, &["--model", "other", "two"]);
    assert!(!warm);
    d.stop_in_process().unwrap();
}

#[test]
fn kill_9_and_shutdown_leave_no_warm_worker_behind() {
    // Workers that take long to start do not notice their input closing when smithd dies: they
    // outlive it (a worker that reads at once exits then), and the next start sweeps them.
    let mut d = Daemon::new("");
    configure(&d, 2, 60_000);
    d.start();
    d.smith(&["ask", "--detach", "one"]);
    warm_ready(&d, 2);
    let left = warm_pids(&d);
    assert_eq!(left.len(), 2, "{left:?}");
    d.signal(Signal::SIGKILL);
    d.wait(Duration::from_secs(10)).expect("smithd died");
    assert!(
        !gone_within(left[0], Duration::from_millis(300)),
        "they outlived smithd"
    );
    configure(&d, 2, 300);
    d.start();
    for pid in &left {
        assert!(
            gone_within(*pid, Duration::from_secs(10)),
            "the sweep missed warm worker {pid}"
        );
    }
    ask(&d, &["two"]);
    warm_ready(&d, 2);
    let again = warm_pids(&d);
    assert_eq!(d.smith(&["shutdown"]).status.code(), Some(0));
    d.wait(Duration::from_secs(20)).expect("smithd stops");
    for pid in again {
        assert!(
            gone_within(pid, Duration::from_secs(5)),
            "warm worker {pid} outlived the shutdown"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_on_a_warm_worker_links_to_the_warm_workers_span() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint.clone();
    tokio::task::spawn_blocking(move || {
        let mut d = warm_daemon(1, "");
        d.env = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ];
        d.start();
        // The first attempt of a profile starts cold and asks for a warm worker of it.
        let (warm, _) = ask(&d, &["cold"]);
        assert!(!warm);
        warm_ready(&d, 1);
        let (warm, _) = ask(&d, &["on a warm worker"]);
        assert!(warm, "the attempt took the warm worker");
        d.smith(&["shutdown"]);
        d.wait(Duration::from_secs(20)).expect("stops");
    })
    .await
    .unwrap();
    let warm_attempt = |spans: &[Span]| {
        spans
            .iter()
            .find(|s| {
                s.name.starts_with("invoke_agent")
                    && attr(&s.attributes, "smith.warm").as_deref() == Some("true")
            })
            .cloned()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let (attempt, spans) = loop {
        let spans = receiver.spans();
        if let Some(a) = warm_attempt(&spans) {
            break (a, spans);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no warm attempt's span: {:?}",
            spans
                .iter()
                .map(|s| (s.name.clone(), attr(&s.attributes, "smith.warm")))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Each attribute once (one set twice would be exported twice).
    for key in ["smith.warm", "gen_ai.conversation.id"] {
        let n = attempt.attributes.iter().filter(|kv| kv.key == key).count();
        assert_eq!(n, 1, "{key}");
    }
    let workers: Vec<&Span> = spans.iter().filter(|s| s.name == "warm_worker").collect();
    assert!(!workers.is_empty(), "the warm workers' spans are exported");
    let linked = attempt.links.iter().any(|l| {
        workers
            .iter()
            .any(|w| w.span_id == l.span_id && w.trace_id == l.trace_id)
    });
    assert!(
        linked,
        "the attempt links to its warm worker's span: {:?}",
        attempt.links
    );
    // The warm worker's trace is its own: the attempt's trace is the request's.
    assert!(workers.iter().all(|w| w.trace_id != attempt.trace_id));
}
