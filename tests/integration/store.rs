//! The SQLite store: schema and migrations, refusal of newer or corrupt databases, the records
//! round trip, interruption of in-flight requests, commit-before-acknowledge, and a remote
//! outcome applied once.

use rusqlite::Connection;
use smith::protocol::{OutcomeReason, TaskKind};
use smith::store::queries::{self, NewRequest, RequestEnd};
use smith::store::records::now_ms;
use smith::store::schema::{self, LATEST};
use smith::store::{
    AttemptRecord, RequestStatus, StoreError, StoreHandle, TaskStatus, open_database,
};
use smith::task::{Task, TaskId};

fn task(_request_id: &str, idx: u32, status: TaskStatus) -> Task {
    let mut t = Task::new(TaskId::Work(idx), format!("task {idx}"), "do");
    t.status = status;
    t
}

fn new_request(id: &str, session: &str) -> NewRequest {
    NewRequest {
        id: id.into(),
        session: session.into(),
        prompt: format!("prompt of {id}"),
        spec_json: "{}".into(),
    }
}

#[test]
fn a_new_database_is_at_the_latest_schema_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smith.db");
    let conn = open_database(&path).unwrap();
    assert_eq!(schema::version(&conn, &path).unwrap(), LATEST);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    // Foreign keys are enforced: a task of a missing request is refused.
    let err = conn.execute(
        "INSERT INTO tasks (request_id, idx, id, name, instruction, status) VALUES ('nope', 0, 't', 't', 'i', 'pending')",
        [],
    );
    assert!(err.is_err());
}

#[test]
fn a_version_1_database_is_migrated_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate_to(&mut conn, &path, 1).unwrap();
        assert_eq!(schema::version(&conn, &path).unwrap(), 1);
        conn.execute_batch(
            "INSERT INTO sessions VALUES ('main', 1);
             INSERT INTO requests (id, session, seq, prompt, spec_json, status, answer, cost_usd, created_at, finished_at)
               VALUES ('r1', 'main', 1, 'old question', '{}', 'succeeded', 'old answer', 0.5, 10, 20);
             INSERT INTO tasks (request_id, idx, id, name, instruction, status, attempts, output)
               VALUES ('r1', 0, 't1', 'request', 'old question', 'succeeded', 1, 'old answer');
             INSERT INTO attempts (request_id, task_idx, attempt, pid, started_at, finished_at, exit_reason)
               VALUES ('r1', 0, 1, 4242, 10, 20, 'completed');",
        )
        .unwrap();
    }
    let conn = open_database(&path).unwrap();
    assert_eq!(schema::version(&conn, &path).unwrap(), LATEST);
    let turns = queries::load_turns(&conn, "main", 10).unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(
        turns[0].answer, "old answer",
        "the inline answer moved to merged_answers"
    );
    let detail = queries::request_detail(&conn, "r1").unwrap();
    assert_eq!(detail.request.answer_mode.as_deref(), Some("deterministic"));
    assert_eq!(detail.request.cost_usd, 0.5);
    assert_eq!(detail.tasks[0].id.kind(), TaskKind::Work);
    assert_eq!(detail.attempts[0].pid, Some(4242));
    assert_eq!(detail.attempts[0].process_start_time, None);
}

#[test]
fn a_version_2_database_counts_cache_tokens_in_its_input_after_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate_to(&mut conn, &path, 2).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions VALUES ('main', 1);
             INSERT INTO requests (id, session, seq, prompt, spec_json, status, cost_usd, created_at)
               VALUES ('r1', 'main', 1, 'q', '{}', 'succeeded', 0.5, 10);
             INSERT INTO tasks (request_id, idx, id, name, instruction, status)
               VALUES ('r1', 0, 't1', 'request', 'q', 'succeeded');
             INSERT INTO attempts (request_id, task_idx, attempt, started_at, input_tokens,
                                   output_tokens, cache_read_tokens, cache_creation_tokens)
               VALUES ('r1', 0, 1, 10, 3, 7, 24000, 1200),
                      ('r1', 0, 2, 11, 5, 7, NULL, NULL),
                      ('r1', 0, 3, 12, NULL, NULL, NULL, NULL);",
        )
        .unwrap();
    }
    let conn = open_database(&path).unwrap();
    let attempts = queries::request_detail(&conn, "r1").unwrap().attempts;
    let input: Vec<Option<u64>> = attempts.iter().map(|a| a.input_tokens).collect();
    assert_eq!(
        input,
        [Some(25_203), Some(5), None],
        "the whole input, cache parts included"
    );
    assert_eq!(
        attempts[0].cache_read_tokens,
        Some(24_000),
        "the parts stay apart"
    );
}

#[test]
fn a_newer_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        conn.execute_batch("CREATE TABLE future (x)").unwrap();
    }
    let err = open_database(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 99") && msg.contains("future.db"),
        "{msg}"
    );
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::version(&conn, &path).unwrap(), 99);
}

#[test]
fn a_corrupt_file_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = open_database(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("garbage.db"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![0x42u8; 8192],
        "left as it was"
    );
}

#[test]
fn a_request_round_trips_with_tasks_attempts_and_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smith.db");
    let mut conn = open_database(&path).unwrap();
    assert_eq!(
        queries::insert_request(&mut conn, &new_request("r1", "main")).unwrap(),
        1
    );
    assert_eq!(
        queries::insert_request(&mut conn, &new_request("r2", "main")).unwrap(),
        2
    );
    assert_eq!(
        queries::insert_request(&mut conn, &new_request("r3", "other")).unwrap(),
        1
    );
    queries::set_request_running(&conn, "r1").unwrap();
    queries::set_tasks(
        &mut conn,
        "r1",
        &[
            task("r1", 0, TaskStatus::Pending),
            task("r1", 1, TaskStatus::Pending),
        ],
    )
    .unwrap();
    let mut started = AttemptRecord::new("r1", TaskId::Work(1), 1, now_ms());
    started.pid = Some(777);
    started.process_start_time = Some(123456);
    queries::start_attempt(&mut conn, &started).unwrap();
    let mut done = task("r1", 1, TaskStatus::Succeeded);
    done.output = Some("B".into());
    done.attempts = 1;
    done.cost_usd = 0.2;
    let finished = AttemptRecord {
        finished_at: Some(now_ms()),
        exit_reason: Some(OutcomeReason::Completed),
        exit_code: Some(0),
        cost_usd: Some(0.2),
        input_tokens: Some(10),
        ..started.clone()
    };
    queries::finish_attempt(&mut conn, &finished, &done).unwrap();
    let mut first = task("r1", 0, TaskStatus::Succeeded);
    first.output = Some("A".into());
    queries::finish_request(
        &mut conn,
        &RequestEnd {
            id: "r1".into(),
            status: RequestStatus::Succeeded,
            reason: None,
            cost_usd: 0.2,
            answer: Some(("A\n\nB".into(), "deterministic".into(), None)),
            tasks: vec![first, done],
        },
    )
    .unwrap();

    let d = queries::request_detail(&conn, "r1").unwrap();
    assert_eq!(d.request.status, RequestStatus::Succeeded);
    assert_eq!(d.request.answer.as_deref(), Some("A\n\nB"));
    assert_eq!(d.tasks.len(), 2);
    assert_eq!(d.tasks[1].output.as_deref(), Some("B"));
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].process_start_time, Some(123456));
    assert_eq!(d.attempts[0].input_tokens, Some(10));
    assert_eq!(queries::load_turns(&conn, "main", 5).unwrap().len(), 1);
    let sessions = queries::list_sessions(&conn).unwrap();
    assert_eq!(
        sessions
            .iter()
            .map(|s| (s.name.as_str(), s.requests))
            .collect::<Vec<_>>(),
        [("main", 2), ("other", 1)]
    );
    assert!(matches!(
        queries::request_detail(&conn, "missing"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn in_flight_requests_become_interrupted_and_their_processes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smith.db");
    let mut conn = open_database(&path).unwrap();
    queries::insert_request(&mut conn, &new_request("run", "main")).unwrap();
    queries::insert_request(&mut conn, &new_request("queued", "main")).unwrap();
    queries::insert_request(&mut conn, &new_request("elsewhere", "other")).unwrap();
    queries::set_request_running(&conn, "run").unwrap();
    queries::set_tasks(&mut conn, "run", &[task("run", 0, TaskStatus::Pending)]).unwrap();
    queries::start_attempt(
        &mut conn,
        &AttemptRecord {
            pid: Some(31337),
            process_start_time: Some(99),
            ..AttemptRecord::new("run", TaskId::Work(0), 1, now_ms())
        },
    )
    .unwrap();

    let orphans = queries::interrupt_in_flight(&mut conn, Some("main")).unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(
        (orphans[0].pid, orphans[0].process_start_time),
        (31337, Some(99))
    );
    for id in ["run", "queued"] {
        let d = queries::request_detail(&conn, id).unwrap();
        assert_eq!(d.request.status, RequestStatus::Interrupted, "{id}");
    }
    let d = queries::request_detail(&conn, "run").unwrap();
    assert_eq!(d.tasks[0].status, TaskStatus::Interrupted);
    assert_eq!(d.attempts[0].exit_reason, Some(OutcomeReason::Interrupted));
    assert_eq!(
        queries::request_detail(&conn, "elsewhere")
            .unwrap()
            .request
            .status,
        RequestStatus::Queued,
        "other sessions untouched"
    );
    assert!(
        queries::interrupt_in_flight(&mut conn, None)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_committed_change_is_visible_to_another_connection_when_the_call_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smith.db");
    let (store, _) = StoreHandle::open(&path).await.unwrap();
    for i in 0..20 {
        let req = new_request(&format!("r{i}"), "main");
        let seq = store
            .call(move |c| queries::insert_request(c, &req))
            .await
            .unwrap();
        // A second, independent connection sees it at once.
        let other = Connection::open(&path).unwrap();
        let n: i64 = other
            .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, seq);
    }
}

#[test]
fn a_remote_attempts_outcome_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_database(&dir.path().join("smith.db")).unwrap();
    queries::insert_request(&mut conn, &new_request("r1", "main")).unwrap();
    queries::set_request_running(&conn, "r1").unwrap();
    queries::set_tasks(&mut conn, "r1", &[task("r1", 0, TaskStatus::Pending)]).unwrap();
    let started = AttemptRecord::new("r1", TaskId::Work(0), 1, now_ms());
    queries::start_attempt(&mut conn, &started).unwrap();
    let finished = AttemptRecord {
        finished_at: Some(now_ms()),
        exit_reason: Some(OutcomeReason::Completed),
        cost_usd: Some(0.2),
        event_seq: Some(42),
        ..started.clone()
    };
    let done = task("r1", 0, TaskStatus::Succeeded);
    assert!(queries::finish_attempt(&mut conn, &finished, &done).unwrap());
    // The same outcome read again (a repeated delivery) changes nothing.
    let again = AttemptRecord {
        exit_reason: Some(OutcomeReason::Crashed),
        cost_usd: Some(9.0),
        ..finished.clone()
    };
    let failed = task("r1", 0, TaskStatus::Failed);
    assert!(!queries::finish_attempt(&mut conn, &again, &failed).unwrap());
    let d = queries::request_detail(&conn, "r1").unwrap();
    assert_eq!(d.attempts[0].event_seq, Some(42));
    assert_eq!(d.attempts[0].exit_reason, Some(OutcomeReason::Completed));
    assert_eq!(d.attempts[0].cost_usd, Some(0.2));
    assert_eq!(d.tasks[0].status, TaskStatus::Succeeded);
}
