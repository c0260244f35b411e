//! Retention: finished requests beyond the newest N of a session, or older than an age, are
//! deleted with everything they hold, the file gives the space back, running and queued requests
//! are never touched; `smith prune` does it on request.

use std::time::Duration;

use crate::support::daemon::{Daemon, stderr, stdout};
use smith::store::queries::{self, NewRequest, RequestEnd};
use smith::store::retention::prune;
use smith::store::{RequestStatus, Retention, open_database};

fn add(conn: &mut rusqlite::Connection, id: &str, session: &str, answer_bytes: usize, done: bool) {
    queries::insert_request(
        conn,
        &NewRequest {
            id: id.into(),
            session: session.into(),
            prompt: "p".into(),
            spec_json: "{}".into(),
        },
    )
    .unwrap();
    if done {
        queries::finish_request(
            conn,
            &RequestEnd {
                id: id.into(),
                status: RequestStatus::Succeeded,
                reason: None,
                cost_usd: 0.0,
                answer: Some(("a".repeat(answer_bytes), "deterministic".into(), None)),
                tasks: vec![],
            },
        )
        .unwrap();
    }
}

fn ids(conn: &rusqlite::Connection, session: &str) -> Vec<String> {
    queries::session_requests(conn, session, None, 100)
        .unwrap()
        .0
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[test]
fn the_newest_n_of_each_session_stay_and_the_space_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smith.db");
    let mut conn = open_database(&path).unwrap();
    for n in 0..6 {
        add(&mut conn, &format!("a{n}"), "a", 200_000, true);
    }
    add(&mut conn, "a-queued", "a", 0, false);
    add(&mut conn, "b0", "b", 10, true);
    let size_before = std::fs::metadata(&path).unwrap().len()
        + std::fs::metadata(dir.path().join("smith.db-wal")).map_or(0, |m| m.len());
    let transcripts = dir.path().join("transcripts");
    for id in ["a0", "a5"] {
        std::fs::create_dir_all(transcripts.join(id)).unwrap();
        std::fs::write(transcripts.join(id).join("t1-1.jsonl"), b"{}\n").unwrap();
    }
    let keep_two = Retention {
        max_age: None,
        max_requests_per_session: Some(2),
        transcripts: Some(transcripts.clone()),
    };
    let report = prune(&conn, &keep_two, smith::store::records::now_ms()).unwrap();
    assert_eq!(report.requests, 5, "a0..a4 go; a5 and the queued one stay");
    assert!(report.bytes_freed > 900_000, "{report:?}");
    assert_eq!(ids(&conn, "a"), ["a5", "a-queued"]);
    assert_eq!(ids(&conn, "b"), ["b0"]);
    // The transcripts of what was pruned went too; the kept request's stay.
    assert!(!transcripts.join("a0").exists());
    assert!(transcripts.join("a5/t1-1.jsonl").exists());
    // Their tasks, attempts and answers went with them; the file shrank.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let size_after = std::fs::metadata(&path).unwrap().len();
    assert!(
        size_after < size_before / 2,
        "{size_after} vs {size_before}"
    );
    let answers: i64 = conn
        .query_row("SELECT COUNT(*) FROM merged_answers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(answers, 2);
}

#[test]
fn old_finished_requests_go_and_running_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open_database(&dir.path().join("smith.db")).unwrap();
    add(&mut conn, "old", "s", 10, true);
    add(&mut conn, "running", "s", 0, false);
    conn.execute(
        "UPDATE requests SET status = 'running', created_at = 0 WHERE id = 'running'",
        [],
    )
    .unwrap();
    conn.execute("UPDATE requests SET finished_at = 0 WHERE id = 'old'", [])
        .unwrap();
    add(&mut conn, "new", "s", 10, true);
    let a_day = Retention {
        transcripts: None,
        max_age: Some(Duration::from_secs(24 * 3600)),
        max_requests_per_session: None,
    };
    let report = prune(&conn, &a_day, smith::store::records::now_ms()).unwrap();
    assert_eq!(report.requests, 1);
    assert_eq!(ids(&conn, "s"), ["running", "new"]);
}

#[test]
fn smith_prune_applies_the_configured_retention() {
    let mut d = Daemon::new("[context]\nturns = 1\n\n[store]\nretention_requests = 1\n");
    d.start();
    for n in 0..3 {
        let out = d.smith(&["ask", "--session", "kept", &format!("question {n}")]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = d.smith(&["prune"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("pruned 2 requests"),
        "{}",
        stdout(&out)
    );
    let history = stdout(&d.smith(&["history", "kept"]));
    assert!(
        history.contains("question 2") && !history.contains("question 1"),
        "{history}"
    );
    let json = stdout(&d.smith(&["prune", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["requests"], 0);
}
