//! Durability and size: nothing is answered that was not committed (a full database, a database
//! another process holds), no attempt starts unrecorded, requests and answers are bounded, a
//! session's queue is bounded, and token usage counts the whole input.

use std::time::Duration;

use crate::support::session::{Harness, finish, first_started, until_started};
use smith::protocol::{OutcomeReason, TaskEnd};
use smith::session::SessionError;
use smith::store::RequestStatus;

/// Pages in use now; the database cannot grow past them once `max_page_count` is set to it.
async fn freeze_size(h: &Harness) {
    h.store
        .call(|c| {
            let pages: i64 =
                c.query_row("PRAGMA page_count", [], |r| r.get(0))
                    .map_err(|source| smith::store::StoreError::Query {
                        action: "reading the page count",
                        source,
                    })?;
            c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .map_err(|source| smith::store::StoreError::Query {
                    action: "capping the size",
                    source,
                })
        })
        .await
        .unwrap();
}

async fn unfreeze_size(h: &Harness) {
    h.store
        .call(|c| {
            c.query_row("PRAGMA max_page_count = 1073741823", [], |_| Ok(()))
                .map_err(|source| smith::store::StoreError::Query {
                    action: "lifting the cap",
                    source,
                })
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_database_is_never_answered_as_success_and_the_context_does_not_move() {
    let h = Harness::new(|_, _| {}).await;
    // A long prompt: its answer needs new pages when the request ends.
    let prompt = format!("first [[sleep:400]] {}", "z".repeat(200_000));
    let (id, mut events) = h.submit(h.spec(&prompt, &[])).await;
    until_started(&mut events, "t1").await;
    freeze_size(&h).await;
    let (summary, _) = finish(events).await;
    assert_eq!(summary.status, RequestStatus::Interrupted, "{summary:?}");
    let reason = summary.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("could not be committed") && reason.contains(&format!("smith resume {id}")),
        "{reason}"
    );
    assert!(summary.answer.is_empty(), "nothing uncommitted is answered");
    let status = h.sessions.status().await;
    assert_eq!(
        status[0].turns, 0,
        "the context did not take the uncommitted turn"
    );

    // Room again: the request is resumable and finishes.
    unfreeze_size(&h).await;
    let detail = h.detail(&id).await;
    assert_eq!(detail.request.status, RequestStatus::Interrupted);
    let (summary, _) = h.resume(&id).await;
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:?}");
}

/// Another connection (as another process would) holds the database with `BEGIN EXCLUSIVE`
/// until `release` is told.
fn hold_database(
    path: std::path::PathBuf,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        held.send(()).unwrap();
        let _ = wait.recv();
        conn.execute_batch("ROLLBACK").unwrap();
    });
    is_held.recv().unwrap();
    (release, thread)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_database_keeps_attempts_from_starting_and_ends_from_being_answered() {
    let h = Harness::new(|c, _| c.limits.max_concurrent_tasks = 1).await;
    // Short waits for the lock, so that the test does not take the production timeouts.
    h.store
        .call(|c| {
            c.busy_timeout(Duration::from_millis(100))
                .map_err(|source| smith::store::StoreError::Query {
                    action: "shortening the busy timeout",
                    source,
                })
        })
        .await
        .unwrap();
    // Both wait until the database is held, then leave a mark: the one that gets the only slot
    // first (either may: they start together) runs; the other waits to be recorded, whatever
    // the machine's load.
    let go = h.cwd().join("database-held");
    let task = |name: &str| {
        format!(
            "{name} [[sh:while ! test -e {}; do sleep 0.02; done; touch {}]]",
            go.display(),
            h.cwd().join(format!("{name}-ran")).display()
        )
    };
    let mut spec = h.spec("two", &[&task("first"), &task("second")]);
    // Named: a name made of the instruction's first words would cut a directive in two.
    spec.tasks[0].name = Some("first".into());
    spec.tasks[1].name = Some("second".into());
    let (_, mut events) = h.submit(spec).await;
    let running = first_started(&mut events).await;
    let (release, holder) = hold_database(h.dir.path().join("smith.db"));
    std::fs::write(&go, b"").unwrap();
    let (summary, _) = finish(events).await;
    release.send(()).unwrap();
    holder.join().unwrap();

    let (waiting, name) = match running.as_str() {
        "t1" => (&summary.tasks[1], "second"),
        _ => (&summary.tasks[0], "first"),
    };
    assert_eq!(
        waiting.exit_reason,
        Some(TaskEnd::Attempt(OutcomeReason::SpawnFailed)),
        "{summary:?}"
    );
    assert!(
        !h.cwd().join(format!("{name}-ran")).exists(),
        "an attempt that could not be recorded ran"
    );
    assert_eq!(summary.status, RequestStatus::Interrupted, "{summary:?}");
    assert!(summary.answer.is_empty());
    let reason = summary.reason.unwrap_or_default();
    assert!(
        reason.contains("could not be committed") && reason.contains("locked"),
        "{reason}"
    );
    assert_eq!(h.sessions.status().await[0].turns, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_too_large_and_queues_too_long_are_refused_with_the_limit_named() {
    let h = Harness::new(|c, _| {
        c.limits.max_request_bytes = 10_000;
        c.limits.max_queued_requests = 2;
    })
    .await;
    let big = "x".repeat(6_000);
    let err = h
        .sessions
        .submit(h.spec(&big, &[&big]), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SessionError::Invalid(m) if m.contains("limits.max_request_bytes")),
        "{err}"
    );
    // One runs, two wait, the next is refused.
    let mut ids = Vec::new();
    for n in 0..3 {
        let (id, _) = h.submit(h.spec(&format!("q{n} [[sleep:1000]]"), &[])).await;
        ids.push(id);
    }
    let err = h
        .sessions
        .submit(h.spec("one too many", &[]), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SessionError::QueueFull { limit: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("limits.max_queued_requests"));
    for id in ids {
        let _ = h.sessions.cancel(&id).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn long_answers_are_cut_and_marked_and_names_stay_short() {
    let h = Harness::new(|c, _| {
        c.limits.max_task_output_bytes = 2_000;
        c.limits.max_answer_bytes = 3_000;
    })
    .await;
    let long_task = format!("explain {}", "w".repeat(5_000));
    let (summary, _) = h
        .ask(h.spec("two long ones", &[&long_task, &long_task]))
        .await;
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:?}");
    for t in &summary.tasks {
        let out = t.output.as_deref().unwrap();
        assert!(out.len() < 2_200, "{}", out.len());
        assert!(out.contains("limits.max_task_output_bytes"), "{out}");
        assert!(t.name.chars().count() <= 61, "{}", t.name);
    }
    assert!(summary.answer.len() < 3_200, "{}", summary.answer.len());
    assert!(summary.answer.contains("limits.max_answer_bytes"));
    // The prompt is stored once: not inside the stored options.
    let detail = h.detail(&summary.request_id).await;
    assert!(!detail.request.spec_json.contains("two long ones"));
    assert_eq!(detail.request.prompt, "two long ones");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_input_with_cache_parts_is_recorded() {
    let h = Harness::new(|_, _| {}).await;
    let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/derived/success_with_cache_tokens.jsonl");
    let (summary, _) = h
        .ask(h.spec(&format!("[[replay:{}]]", fixture.display()), &[]))
        .await;
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:?}");
    let detail = h.detail(&summary.request_id).await;
    let a = &detail.attempts[0];
    assert_eq!(
        a.input_tokens,
        Some(25_203),
        "input 3 + cache reads 24,000 + writes 1,200"
    );
    assert_eq!(a.cache_read_tokens, Some(24_000));
    assert_eq!(a.cache_creation_tokens, Some(1_200));
}
