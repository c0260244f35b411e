//! The supervisor against OTP's suite: a child supervisor escalating to its parent, dynamic
//! children (counted, limited, restarted), significant children and auto shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::actors::{Log, WorkerMsg, cell_of, next_exit, probe, tell, worker};
use crate::support::eventually;
use crate::support::supervision::{WAIT, flags, spec};
use smith::supervisor::{
    AutoShutdown, ChildSpec, ChildStart, ChildState, ExitReason, Restart, Strategy,
    SupervisorError, SupervisorRef, SupervisorSpec,
};

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
