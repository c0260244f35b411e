//! The supervisor against OTP's supervisor test suite: strategies, restart types, intensity,
//! backoff, shutdown, dynamic and significant children. Small test actors, no OS processes;
//! tokio's paused clock where time matters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::actors::{
    Log, WorkerMsg, cell_of, next_exit, probe, tell, worker, worker_failing,
};
use crate::support::eventually;
use ractor::ActorCell;
use smith::supervisor::{
    AutoShutdown, Backoff, ChildSpec, ChildStart, ChildState, ExitReason, Restart, Shutdown,
    Strategy, SupervisorError, SupervisorFlags, SupervisorRef, SupervisorSpec, SupervisorState,
};

const WAIT: Duration = Duration::from_secs(10);

fn flags(strategy: Strategy) -> SupervisorFlags {
    SupervisorFlags {
        strategy,
        max_restarts: 3,
        period: Duration::from_secs(5),
        backoff: Backoff::none(),
        ..SupervisorFlags::default()
    }
}

fn spec(strategy: Strategy, log: &Log, names: &[&str]) -> SupervisorSpec {
    let mut spec = SupervisorSpec::new(format!("test-{strategy}")).flags(flags(strategy));
    for n in names {
        spec = spec.child(worker(n, log));
    }
    spec
}

async fn cells(sup: &SupervisorRef, names: &[&str]) -> Vec<Option<ActorCell>> {
    let mut out = Vec::new();
    for n in names {
        out.push(cell_of(sup, n).await);
    }
    out
}

fn same(a: &Option<ActorCell>, b: &Option<ActorCell>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.get_id() == b.get_id(),
        _ => false,
    }
}

/// Waits until every named child runs an incarnation different from `before`.
async fn wait_restarted(sup: &SupervisorRef, names: &[&str], before: &[Option<ActorCell>]) {
    let ok = eventually(WAIT, || async {
        let now = cells(sup, names).await;
        now.iter()
            .zip(before)
            .all(|(n, b)| n.is_some() && !same(n, b))
    })
    .await;
    assert!(ok, "children {names:?} were not all restarted");
}

// ---------------------------------------------------------------- strategies: basic restart

#[tokio::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let log = Log::default();
    let names = ["a", "b", "c"];
    let (sup, _) = SupervisorRef::start(spec(Strategy::OneForOne, &log, &names))
        .await
        .unwrap();
    let before = cells(&sup, &names).await;
    log.clear();

    tell(&sup, "b", WorkerMsg::Crash).await;
    wait_restarted(&sup, &["b"], &before[1..2]).await;

    let after = cells(&sup, &names).await;
    assert!(same(&before[0], &after[0]), "a untouched");
    assert!(same(&before[2], &after[2]), "c untouched");
    assert_eq!(log.started(), vec!["b"]);
    assert!(
        log.stopped().is_empty(),
        "no bystander stopped: {:?}",
        log.events()
    );
    let status = sup.status().await.unwrap();
    assert_eq!(status.children[1].restarts, 1);
    assert!(
        status.children[1]
            .last_exit
            .as_deref()
            .unwrap()
            .contains("crashed on purpose")
    );
    sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn one_for_all_restarts_every_child_in_start_order() {
    let log = Log::default();
    let names = ["a", "b", "c"];
    let (sup, _) = SupervisorRef::start(spec(Strategy::OneForAll, &log, &names))
        .await
        .unwrap();
    let before = cells(&sup, &names).await;
    log.clear();

    tell(&sup, "b", WorkerMsg::Panic).await;
    wait_restarted(&sup, &names, &before).await;

    assert_eq!(
        log.stopped(),
        vec!["c", "a"],
        "bystanders stop in reverse order"
    );
    assert_eq!(
        log.started(),
        vec!["a", "b", "c"],
        "all restart in start order"
    );
    sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_those_started_after_it_in_order() {
    let log = Log::default();
    let names = ["a", "b", "c", "d"];
    let (sup, _) = SupervisorRef::start(spec(Strategy::RestForOne, &log, &names))
        .await
        .unwrap();
    let before = cells(&sup, &names).await;
    log.clear();

    tell(&sup, "b", WorkerMsg::Crash).await;
    wait_restarted(&sup, &["b", "c", "d"], &before[1..]).await;

    let after = cells(&sup, &names).await;
    assert!(
        same(&before[0], &after[0]),
        "a (started before b) untouched"
    );
    assert_eq!(log.stopped(), vec!["d", "c"]);
    assert_eq!(log.started(), vec!["b", "c", "d"]);
    sup.stop(None).await.unwrap();
}

// ---------------------------------------------------------------- strategies: escalation

async fn escalates_when_intensity_is_exceeded(strategy: Strategy) {
    let log = Log::default();
    let names = ["a", "b", "c"];
    let (parent, mut exits) = probe().await;
    let mut spec = spec(strategy, &log, &names);
    spec.flags.max_restarts = 2;
    let (sup, done) = SupervisorRef::start_linked(spec, parent).await.unwrap();

    for round in 0..2 {
        let before = cells(&sup, &["b"]).await;
        tell(&sup, "b", WorkerMsg::Crash).await;
        wait_restarted(&sup, &["b"], &before).await;
        assert!(
            exits.try_recv().is_err(),
            "no escalation after restart {round}"
        );
    }
    log.clear();
    tell(&sup, "b", WorkerMsg::Crash).await;

    let reason = next_exit(&mut exits).await;
    assert!(matches!(reason, ExitReason::Escalated(_)), "{reason:?}");
    assert!(
        reason.is_abnormal(),
        "the parent sees the escalation as abnormal"
    );
    assert!(
        reason.to_string().contains("exceeded 2 restarts"),
        "{reason}"
    );
    tokio::time::timeout(WAIT, done).await.unwrap().unwrap();
    // Every child still running was stopped, in reverse order, and none restarted.
    let expected_stops: Vec<&str> = match strategy {
        Strategy::OneForOne | Strategy::OneForAll | Strategy::RestForOne => vec!["c", "a"],
    };
    assert_eq!(log.stopped(), expected_stops);
    assert!(log.started().is_empty());
}

#[tokio::test]
async fn one_for_one_escalates_when_intensity_is_exceeded() {
    escalates_when_intensity_is_exceeded(Strategy::OneForOne).await;
}

#[tokio::test]
async fn one_for_all_escalates_when_intensity_is_exceeded() {
    escalates_when_intensity_is_exceeded(Strategy::OneForAll).await;
}

#[tokio::test]
async fn rest_for_one_escalates_when_intensity_is_exceeded() {
    escalates_when_intensity_is_exceeded(Strategy::RestForOne).await;
}

// ------------------------------------------- strategies: another failure during a restart

/// Children a, b, c; b's first restart fails (so a retry is pending after a 1 s backoff);
/// while it waits, a crashes too. Everything must end up running, in start order, with the
/// supervisor alive.
async fn handles_another_failure_while_a_restart_is_pending(strategy: Strategy) {
    let log = Log::default();
    let b_starts = Arc::new(AtomicUsize::new(0));
    let mut flags = flags(strategy);
    flags.max_restarts = 10;
    flags.backoff = Backoff {
        min: Duration::from_secs(1),
        max: Duration::from_secs(1),
        jitter: 0.0,
        reset_after: Duration::from_secs(60),
    };
    let spec = SupervisorSpec::new("pending")
        .flags(flags)
        .child(worker("a", &log))
        .child(worker_failing(
            "b",
            &log,
            Arc::new(|n| n == 2),
            b_starts.clone(),
        ))
        .child(worker("c", &log));
    let (sup, _) = SupervisorRef::start(spec).await.unwrap();
    log.clear();

    tell(&sup, "b", WorkerMsg::Crash).await;
    // b's restart start (#2) fails after the first backoff; a retry is pending.
    assert!(eventually(WAIT, || async { b_starts.load(Ordering::SeqCst) == 2 }).await);
    let status = sup.status().await.unwrap();
    assert_eq!(status.state, SupervisorState::Restarting);
    assert_eq!(status.children[1].state, ChildState::Restarting);

    // `a` runs meanwhile under every strategy (under one_for_all it was restarted before b).
    tell(&sup, "a", WorkerMsg::Crash).await;
    let ok = eventually(WAIT, || async {
        let s = sup.status().await.unwrap();
        s.state == SupervisorState::Running
            && s.children.iter().all(|c| c.state == ChildState::Running)
    })
    .await;
    assert!(ok, "all children running again: {:?}", sup.status().await);
    // Whatever restarted did so in start order: b never starts before a, nor c before b.
    let started = log.started();
    let pos = |n: &str| started.iter().rposition(|s| s == n);
    if let (Some(b), Some(c)) = (pos("b"), pos("c"))
        && strategy != Strategy::OneForOne
    {
        assert!(b < c, "b before c: {started:?}");
    }
    assert_eq!(sup.count_children().await.unwrap().active, 3);
    sup.stop(None).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn one_for_one_handles_another_failure_while_a_restart_is_pending() {
    handles_another_failure_while_a_restart_is_pending(Strategy::OneForOne).await;
}

#[tokio::test(start_paused = true)]
async fn one_for_all_handles_another_failure_while_a_restart_is_pending() {
    handles_another_failure_while_a_restart_is_pending(Strategy::OneForAll).await;
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_handles_another_failure_while_a_restart_is_pending() {
    handles_another_failure_while_a_restart_is_pending(Strategy::RestForOne).await;
}

// ---------------------------------------------------------------- restart types × exits

#[tokio::test]
async fn exit_matrix_restarts_exactly_as_otp_defines() {
    type MakeMsg = fn() -> WorkerMsg;
    let exits: [(&str, MakeMsg); 3] = [
        ("normal", || WorkerMsg::ExitNormal),
        ("shutdown", || WorkerMsg::ExitShutdown),
        ("abnormal", || WorkerMsg::Crash),
    ];
    let types = [Restart::Permanent, Restart::Transient, Restart::Temporary];
    for (exit_name, make_msg) in exits {
        for restart in types {
            let log = Log::default();
            let spec = SupervisorSpec::new("matrix")
                .flags(flags(Strategy::OneForOne))
                .child(worker("x", &log).restart(restart))
                .child(worker("keep", &log));
            let (sup, _) = SupervisorRef::start(spec).await.unwrap();
            tell(&sup, "x", make_msg()).await;

            let expect_restart = match restart {
                Restart::Permanent => true,
                Restart::Transient => exit_name == "abnormal",
                Restart::Temporary => false,
            };
            let case = format!("{exit_name} exit of a {restart:?} child");
            if expect_restart {
                assert!(
                    eventually(WAIT, || async { log.starts("x") == 2 }).await,
                    "{case}: restarted"
                );
                assert!(cell_of(&sup, "x").await.is_some(), "{case}");
            } else {
                let gone = eventually(WAIT, || async {
                    let children = sup.which_children().await.unwrap();
                    match children.iter().find(|c| c.id.0 == "x") {
                        None => restart == Restart::Temporary,
                        Some(c) => c.state == ChildState::Terminated && c.cell.is_none(),
                    }
                })
                .await;
                // Terminated, not restarting: the decision was made at the exit.
                assert!(gone, "{case}: not restarted, removed only when temporary");
                assert_eq!(log.starts("x"), 1, "{case}: started once");
            }
            sup.stop(None).await.unwrap();
        }
    }
}

async fn temporary_bystander_is_removed_not_restarted(strategy: Strategy) {
    let log = Log::default();
    let spec = SupervisorSpec::new("bystander")
        .flags(flags(strategy))
        .child(worker("a", &log))
        .child(worker("b", &log))
        .child(worker("tmp", &log).restart(Restart::Temporary));
    let (sup, _) = SupervisorRef::start(spec).await.unwrap();
    let before = cells(&sup, &["b"]).await;
    tell(&sup, "b", WorkerMsg::Crash).await;
    wait_restarted(&sup, &["b"], &before).await;

    let ids: Vec<String> = sup
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id.0)
        .collect();
    assert_eq!(ids, vec!["a", "b"], "the temporary bystander is gone");
    assert_eq!(log.starts("tmp"), 1);
    let expected_stops = match strategy {
        Strategy::OneForAll => vec!["tmp", "a"],
        _ => vec!["tmp"],
    };
    assert_eq!(
        log.stopped(),
        expected_stops,
        "bystanders stop in reverse order"
    );
    sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn temporary_bystander_is_removed_not_restarted_under_one_for_all() {
    temporary_bystander_is_removed_not_restarted(Strategy::OneForAll).await;
}

#[tokio::test]
async fn temporary_bystander_is_removed_not_restarted_under_rest_for_one() {
    temporary_bystander_is_removed_not_restarted(Strategy::RestForOne).await;
}

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

// ---------------------------------------------------------------- escalation to a parent

#[tokio::test]
async fn an_escalating_child_supervisor_is_restarted_by_its_parent() {
    let log = Log::default();
    let inner_log = log.clone();
    let outer = SupervisorSpec::new("outer")
        .flags(flags(Strategy::OneForOne))
        .child(
            SupervisorRef::child_spec("inner", move || {
                let mut s = spec(Strategy::OneForOne, &inner_log, &["w"]);
                s.id = "inner".into();
                s.flags.max_restarts = 0;
                s
            })
            .restart(Restart::Transient),
        );
    let (sup, _) = SupervisorRef::start(outer).await.unwrap();
    let inner_before = cell_of(&sup, "inner").await.unwrap();
    let inner = SupervisorRef::from_actor("inner", ractor::ActorRef::from(inner_before.clone()));
    tell(&inner, "w", WorkerMsg::Crash).await;

    // max_restarts 0: the inner supervisor escalates; its transient spec still restarts because
    // escalation is abnormal.
    let ok = eventually(WAIT, || async {
        cell_of(&sup, "inner")
            .await
            .is_some_and(|c| c.get_id() != inner_before.get_id())
    })
    .await;
    assert!(ok, "inner supervisor restarted");
    assert!(eventually(WAIT, || async { log.starts("w") == 2 }).await);
    let status = sup.status().await.unwrap();
    assert_eq!(status.children[0].restarts, 1);
    assert!(
        status.children[0]
            .last_exit
            .as_deref()
            .unwrap()
            .starts_with("escalated")
    );
    sup.stop(None).await.unwrap();
}

// ---------------------------------------------------------------- dynamic children

#[tokio::test]
async fn many_dynamic_temporary_children_are_counted_and_forgotten_when_they_exit() {
    let log = Log::default();
    let (sup, _) =
        SupervisorRef::start(SupervisorSpec::new("dyn").flags(flags(Strategy::OneForOne)))
            .await
            .unwrap();
    for i in 0..200 {
        let cell = sup
            .start_child(worker(&format!("t{i}"), &log).restart(Restart::Temporary))
            .await
            .unwrap();
        assert!(cell.is_some());
    }
    let counts = sup.count_children().await.unwrap();
    assert_eq!(
        (counts.specs, counts.active, counts.workers),
        (200, 200, 200)
    );

    for i in 0..50 {
        tell(&sup, &format!("t{i}"), WorkerMsg::ExitNormal).await;
    }
    for i in 50..60 {
        tell(&sup, &format!("t{i}"), WorkerMsg::Crash).await;
    }
    let ok = eventually(WAIT, || async {
        sup.count_children().await.unwrap().specs == 140
    })
    .await;
    assert!(
        ok,
        "exited temporary children are removed: {:?}",
        sup.count_children().await
    );
    assert_eq!(sup.count_children().await.unwrap().active, 140);
    assert_eq!(log.started().len(), 200, "none restarted");

    sup.terminate_child("t100").await.unwrap();
    assert_eq!(sup.count_children().await.unwrap().specs, 139);
    sup.stop(None).await.unwrap();
    // The 10 that crashed never ran post_stop; every other one stopped gracefully.
    assert_eq!(log.stopped().len(), 190);
}

#[tokio::test]
async fn max_children_is_enforced_with_a_clear_error() {
    let log = Log::default();
    let mut flags = flags(Strategy::OneForOne);
    flags.max_children = Some(2);
    let (sup, _) = SupervisorRef::start(
        SupervisorSpec::new("capped")
            .flags(flags)
            .child(worker("s", &log)),
    )
    .await
    .unwrap();
    sup.start_child(worker("d1", &log)).await.unwrap();
    let err = sup.start_child(worker("d2", &log)).await.unwrap_err();
    assert!(
        matches!(err, SupervisorError::MaxChildren { limit: 2, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "supervisor capped: max_children (2) reached, child not started"
    );
    assert_eq!(log.starts("d2"), 0);

    sup.terminate_child("d1").await.unwrap();
    sup.start_child(worker("d2", &log)).await.unwrap();
    let dup = sup.start_child(worker("s", &log)).await.unwrap_err();
    assert!(
        matches!(dup, SupervisorError::DuplicateChild { .. }),
        "{dup:?}"
    );
    let missing = sup.terminate_child("nope").await.unwrap_err();
    assert!(
        matches!(missing, SupervisorError::NotFound { .. }),
        "{missing:?}"
    );
    sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn a_permanent_dynamic_child_is_restarted() {
    let log = Log::default();
    let (sup, _) =
        SupervisorRef::start(SupervisorSpec::new("dyn").flags(flags(Strategy::OneForOne)))
            .await
            .unwrap();
    sup.start_child(worker("p", &log)).await.unwrap();
    tell(&sup, "p", WorkerMsg::Crash).await;
    assert!(eventually(WAIT, || async { log.starts("p") == 2 }).await);
    assert!(sup.status().await.unwrap().children[0].dynamic);
    sup.stop(None).await.unwrap();
}

// ---------------------------------------------------------------- significant children

fn significant_spec(auto: AutoShutdown, log: &Log) -> SupervisorSpec {
    let mut flags = flags(Strategy::OneForOne);
    flags.auto_shutdown = auto;
    SupervisorSpec::new("significant")
        .flags(flags)
        .child(worker("plain", log))
        .child(
            worker("s1", log)
                .restart(Restart::Transient)
                .significant(true),
        )
        .child(
            worker("s2", log)
                .restart(Restart::Temporary)
                .significant(true),
        )
}

#[tokio::test]
async fn significant_children_are_rejected_without_auto_shutdown_or_when_permanent() {
    let log = Log::default();
    let err = SupervisorRef::start(significant_spec(AutoShutdown::Never, &log))
        .await
        .err()
        .expect("never + significant is invalid");
    assert!(err.to_string().contains("need auto_shutdown"), "{err}");

    let mut flags = flags(Strategy::OneForOne);
    flags.auto_shutdown = AutoShutdown::AnySignificant;
    let spec = SupervisorSpec::new("perm-significant")
        .flags(flags)
        .child(worker("p", &log).significant(true));
    let err = SupervisorRef::start(spec)
        .await
        .err()
        .expect("permanent + significant is invalid");
    assert!(err.to_string().contains("cannot be permanent"), "{err}");
    assert!(log.started().is_empty());
}

#[tokio::test]
async fn any_significant_stops_the_supervisor_when_one_significant_child_exits() {
    let log = Log::default();
    let (parent, mut exits) = probe().await;
    let (sup, done) =
        SupervisorRef::start_linked(significant_spec(AutoShutdown::AnySignificant, &log), parent)
            .await
            .unwrap();
    tell(&sup, "s2", WorkerMsg::ExitNormal).await;
    let reason = next_exit(&mut exits).await;
    assert!(
        matches!(reason, ExitReason::Shutdown(Some(_))),
        "{reason:?}"
    );
    assert!(!reason.is_abnormal());
    done.await.unwrap();
    assert_eq!(log.stopped(), vec!["s2", "s1", "plain"]);
}

#[tokio::test]
async fn all_significant_stops_the_supervisor_only_after_the_last_significant_child_exits() {
    let log = Log::default();
    let (parent, mut exits) = probe().await;
    let (sup, done) =
        SupervisorRef::start_linked(significant_spec(AutoShutdown::AllSignificant, &log), parent)
            .await
            .unwrap();
    tell(&sup, "s1", WorkerMsg::ExitNormal).await;
    assert!(
        eventually(WAIT, || async {
            sup.which_children().await.unwrap()[1].state == ChildState::Terminated
        })
        .await
    );
    assert!(exits.try_recv().is_err(), "one significant child remains");
    tell(&sup, "s2", WorkerMsg::ExitShutdown).await;
    assert!(matches!(
        next_exit(&mut exits).await,
        ExitReason::Shutdown(Some(_))
    ));
    done.await.unwrap();
}

#[tokio::test]
async fn a_significant_child_that_is_restarted_or_terminated_by_the_supervisor_does_not_stop_it() {
    let log = Log::default();
    let (sup, _) = SupervisorRef::start(significant_spec(AutoShutdown::AnySignificant, &log))
        .await
        .unwrap();
    // Transient + abnormal exit → restarted, not an auto shutdown.
    tell(&sup, "s1", WorkerMsg::Crash).await;
    assert!(eventually(WAIT, || async { log.starts("s1") == 2 }).await);
    // Terminated through the API → not "on its own".
    sup.terminate_child("s2").await.unwrap();
    // Answered after the termination was handled: an auto shutdown would have been decided.
    assert_eq!(sup.count_children().await.unwrap().active, 2);
    sup.stop(None).await.unwrap();
}

#[tokio::test]
async fn a_significant_child_declining_its_restart_counts_as_its_end_for_auto_shutdown() {
    let log = Log::default();
    let starts = Arc::new(AtomicUsize::new(0));
    let counter = starts.clone();
    let inner = worker("s", &log);
    let declining_after_first = ChildSpec::new("s", move |sup| {
        let inner = inner.clone();
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                (inner.start)(sup).await
            } else {
                Ok(ChildStart::Ignore)
            }
        }
    })
    .restart(Restart::Transient)
    .significant(true);
    let mut flags = flags(Strategy::OneForOne);
    flags.auto_shutdown = AutoShutdown::AllSignificant;
    let (parent, mut exits) = probe().await;
    let (sup, done) = SupervisorRef::start_linked(
        SupervisorSpec::new("declining")
            .flags(flags)
            .child(declining_after_first),
        parent,
    )
    .await
    .unwrap();
    tell(&sup, "s", WorkerMsg::Crash).await;
    assert!(matches!(
        next_exit(&mut exits).await,
        ExitReason::Shutdown(Some(_))
    ));
    done.await.unwrap();
    assert_eq!(starts.load(Ordering::SeqCst), 2);
}
