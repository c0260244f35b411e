//! The supervisor against OTP's suite, where time matters (tokio's paused clock): the intensity
//! window, backoff that grows and resets, shutdown order and timeouts, start failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::actors::{Log, WorkerMsg, next_exit, probe, tell, worker, worker_failing};
use crate::support::eventually;
use crate::support::supervision::{WAIT, cells, flags, spec, wait_restarted};
use smith::supervisor::{
    Backoff, ChildSpec, ChildStart, ChildState, ExitReason, Restart, Shutdown, Strategy,
    SupervisorFlags, SupervisorRef, SupervisorSpec,
};

// ---------------------------------------------------------------- intensity window

#[tokio::test(start_paused = true)]
async fn restarts_spread_over_time_do_not_escalate() {
    let log = Log::default();
    let (parent, mut exits) = probe().await;
    let mut spec = spec(Strategy::OneForOne, &log, &["a"]);
    spec.flags.max_restarts = 2;
    spec.flags.period = Duration::from_secs(5);
    let (sup, _) = SupervisorRef::start_linked(spec, parent).await.unwrap();

    for _ in 0..8 {
        let before = cells(&sup, &["a"]).await;
        tell(&sup, "a", WorkerMsg::Crash).await;
        wait_restarted(&sup, &["a"], &before).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    assert!(exits.try_recv().is_err(), "no escalation");
    let status = sup.status().await.unwrap();
    assert_eq!(status.total_restarts, 8);
    assert!(status.restarts_in_window <= 2);
    sup.stop(None).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_restarts_escalates() {
    let log = Log::default();
    let (parent, mut exits) = probe().await;
    let mut spec = spec(Strategy::OneForOne, &log, &["a"]);
    spec.flags.max_restarts = 2;
    let (sup, done) = SupervisorRef::start_linked(spec, parent).await.unwrap();

    for _ in 0..2 {
        let before = cells(&sup, &["a"]).await;
        tell(&sup, "a", WorkerMsg::Crash).await;
        wait_restarted(&sup, &["a"], &before).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tell(&sup, "a", WorkerMsg::Crash).await;
    assert!(matches!(
        next_exit(&mut exits).await,
        ExitReason::Escalated(_)
    ));
    done.await.unwrap();
    assert_eq!(log.starts("a"), 3);
}

#[tokio::test(start_paused = true)]
async fn a_child_failing_at_every_start_escalates_instead_of_spinning() {
    let log = Log::default();
    let starts = Arc::new(AtomicUsize::new(0));
    let (parent, mut exits) = probe().await;
    let spec = SupervisorSpec::new("spinner")
        .flags(SupervisorFlags {
            max_restarts: 5,
            period: Duration::from_secs(60),
            backoff: Backoff {
                min: Duration::from_millis(10),
                max: Duration::from_millis(100),
                jitter: 0.0,
                reset_after: Duration::from_secs(60),
            },
            ..SupervisorFlags::default()
        })
        .child(worker_failing(
            "a",
            &log,
            Arc::new(|n| n > 1),
            starts.clone(),
        ));
    let (sup, done) = SupervisorRef::start_linked(spec, parent).await.unwrap();
    tell(&sup, "a", WorkerMsg::Crash).await;

    let reason = next_exit(&mut exits).await;
    assert!(matches!(reason, ExitReason::Escalated(_)), "{reason:?}");
    assert!(reason.to_string().contains("start failed"), "{reason}");
    done.await.unwrap();
    // 1 initial start + 5 failing restart attempts; the 6th restart exceeded the intensity.
    assert_eq!(starts.load(Ordering::SeqCst), 6);
}

// ---------------------------------------------------------------- backoff in the supervisor

#[tokio::test(start_paused = true)]
async fn restart_waits_for_a_backoff_that_grows_and_resets_after_quiet() {
    let log = Log::default();
    let mut spec = spec(Strategy::OneForOne, &log, &["a"]);
    spec.flags.max_restarts = 100;
    spec.flags.period = Duration::from_secs(1);
    spec.flags.backoff = Backoff {
        min: Duration::from_secs(1),
        max: Duration::from_secs(4),
        jitter: 0.0,
        reset_after: Duration::from_secs(30),
    };
    let (sup, _) = SupervisorRef::start(spec).await.unwrap();

    // Measures the delay between a crash and the restart.
    async fn crash_and_time(sup: &SupervisorRef, log: &Log) -> Duration {
        let n = log.starts("a");
        let t0 = tokio::time::Instant::now();
        tell(sup, "a", WorkerMsg::Crash).await;
        assert!(eventually(WAIT * 10, || async { log.starts("a") == n + 1 }).await);
        t0.elapsed()
    }
    let mut delays = Vec::new();
    for _ in 0..4 {
        delays.push(crash_and_time(&sup, &log).await);
    }
    let secs: Vec<u64> = delays.iter().map(|d| d.as_millis() as u64 / 100).collect();
    // 1 s, 2 s, 4 s, capped at 4 s (in tenths, polling adds < 100 ms).
    assert_eq!(secs, vec![10, 20, 40, 40], "{delays:?}");

    tokio::time::sleep(Duration::from_secs(31)).await;
    let after_quiet = crash_and_time(&sup, &log).await;
    assert_eq!(
        after_quiet.as_millis() / 100,
        10,
        "reset to min: {after_quiet:?}"
    );
    sup.stop(None).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn backoff_jitter_stays_within_bounds_in_the_supervisor() {
    let log = Log::default();
    let mut spec = spec(Strategy::OneForOne, &log, &["a"]);
    spec.flags.max_restarts = 100;
    spec.flags.period = Duration::from_millis(1);
    spec.flags.backoff = Backoff {
        min: Duration::from_secs(1),
        max: Duration::from_secs(1),
        jitter: 0.5,
        reset_after: Duration::from_secs(3600),
    };
    let (sup, _) = SupervisorRef::start(spec).await.unwrap();
    for _ in 0..10 {
        let n = log.starts("a");
        let t0 = tokio::time::Instant::now();
        tell(&sup, "a", WorkerMsg::Crash).await;
        assert!(eventually(WAIT, || async { log.starts("a") == n + 1 }).await);
        let d = t0.elapsed();
        assert!(d >= Duration::from_secs(1), "{d:?}");
        assert!(d <= Duration::from_millis(1510), "{d:?}");
    }
    sup.stop(None).await.unwrap();
}

// ---------------------------------------------------------------- shutdown

#[tokio::test]
async fn children_stop_in_reverse_start_order() {
    let log = Log::default();
    let (sup, done) = SupervisorRef::start(spec(Strategy::OneForOne, &log, &["a", "b", "c"]))
        .await
        .unwrap();
    sup.stop(None).await.unwrap();
    done.await.unwrap();
    assert_eq!(log.stopped(), vec!["c", "b", "a"]);
}

#[tokio::test(start_paused = true)]
async fn a_child_ignoring_the_stop_request_is_killed_after_its_timeout() {
    let log = Log::default();
    let spec = SupervisorSpec::new("stubborn")
        .flags(flags(Strategy::OneForOne))
        .child(worker("a", &log))
        .child(worker("hang", &log).shutdown(Shutdown::Timeout(Duration::from_secs(3))));
    let (sup, done) = SupervisorRef::start(spec).await.unwrap();
    tell(&sup, "hang", WorkerMsg::Hang).await;
    tokio::task::yield_now().await;

    let t0 = tokio::time::Instant::now();
    sup.stop(None).await.unwrap();
    done.await.unwrap();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // Killed: its post_stop never ran; `a` stopped gracefully after it.
    assert_eq!(log.stopped(), vec!["a"]);
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_does_not_wait_for_the_child() {
    let log = Log::default();
    let spec = SupervisorSpec::new("brutal")
        .flags(flags(Strategy::OneForOne))
        .child(worker("hang", &log).shutdown(Shutdown::BrutalKill));
    let (sup, done) = SupervisorRef::start(spec).await.unwrap();
    tell(&sup, "hang", WorkerMsg::Hang).await;
    let t0 = tokio::time::Instant::now();
    sup.stop(None).await.unwrap();
    done.await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
    assert!(log.stopped().is_empty(), "killed, no post_stop");
}

#[tokio::test]
async fn a_nested_supervisor_stops_its_children_before_its_parent_finishes() {
    let log = Log::default();
    let inner_log = log.clone();
    let spec = SupervisorSpec::new("outer")
        .flags(flags(Strategy::OneForOne))
        .child(worker("first", &log))
        .child(SupervisorRef::child_spec("inner", move || {
            spec(Strategy::OneForOne, &inner_log, &["i1", "i2"])
        }))
        .child(worker("last", &log));
    let (sup, done) = SupervisorRef::start(spec).await.unwrap();
    sup.stop(None).await.unwrap();
    done.await.unwrap();
    assert_eq!(log.stopped(), vec!["last", "i2", "i1", "first"]);
}

// ---------------------------------------------------------------- start failures

#[tokio::test]
async fn a_static_child_failing_to_start_fails_the_supervisor_and_stops_the_earlier_ones() {
    let log = Log::default();
    let spec = SupervisorSpec::new("broken")
        .flags(flags(Strategy::OneForOne))
        .child(worker("a", &log))
        .child(worker("b", &log))
        .child(worker_failing(
            "c",
            &log,
            Arc::new(|_| true),
            Arc::default(),
        ))
        .child(worker("d", &log));
    let err = SupervisorRef::start(spec).await.err().expect("start fails");
    let msg = err.to_string();
    assert!(msg.contains("child c failed to start"), "{msg}");
    assert_eq!(log.stopped(), vec!["b", "a"]);
    assert_eq!(log.started(), vec!["a", "b"]);
}

#[tokio::test]
async fn a_child_that_declines_to_start_is_kept_only_if_not_temporary() {
    let declining = |id: &str| ChildSpec::new(id, |_sup| async { Ok(ChildStart::Ignore) });
    let spec = SupervisorSpec::new("ignore")
        .flags(flags(Strategy::OneForOne))
        .child(declining("perm"))
        .child(declining("tmp").restart(Restart::Temporary));
    let (sup, _) = SupervisorRef::start(spec).await.unwrap();
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].id.0, "perm");
    assert_eq!(children[0].state, ChildState::Terminated);
    assert!(children[0].cell.is_none());
    sup.stop(None).await.unwrap();
}
