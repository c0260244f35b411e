//! The supervisor against OTP's supervisor test suite: the strategies, escalation when the
//! intensity is exceeded, failures while a restart is pending, the exit matrix of restart types,
//! temporary bystanders. Small test actors, no OS processes; tokio's paused clock where time
//! matters. (`supervisor_timing`: intensity over time, backoff, shutdown; `supervisor_children`:
//! nested, dynamic and significant children.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::actors::{
    Log, WorkerMsg, cell_of, next_exit, probe, tell, worker, worker_failing,
};
use crate::support::eventually;
use crate::support::supervision::{WAIT, cells, flags, same, spec, wait_restarted};
use smith::supervisor::{
    Backoff, ChildState, ExitReason, Restart, Strategy, SupervisorRef, SupervisorSpec,
    SupervisorState,
};

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
