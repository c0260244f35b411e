//! Requests: recorded when accepted, marked when they start, ended with their tasks and answer
//! in one transaction; read back as pages of a session's history, in full for `show`, and as
//! the turns of a session's context.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::tasks::{read_attempts, read_tasks, upsert_task};
use super::{exec, parse_col};
use crate::store::error::{QueryContext, StoreError};
use crate::store::records::{
    RequestDetail, RequestRecord, RequestStatus, SessionSummary, Turn, now_ms,
};
use crate::task::Task;

/// A new request to record.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Request id.
    pub id: String,
    /// Session name.
    pub session: String,
    /// The prompt.
    pub prompt: String,
    /// Its options as JSON.
    pub spec_json: String,
}

/// Records a request as `queued` (creating its session if needed). Returns its sequence number.
pub fn insert_request(conn: &mut Connection, req: &NewRequest) -> Result<i64, StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let now = now_ms();
    exec(
        &tx,
        "INSERT OR IGNORE INTO sessions (name, created_at) VALUES (?1, ?2)",
        params![req.session, now],
        "creating the session",
    )?;
    let seq: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM requests WHERE session = ?1",
            params![req.session],
            |r| r.get(0),
        )
        .ctx("numbering the request")?;
    exec(
        &tx,
        "INSERT INTO requests (id, session, seq, prompt, spec_json, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
        params![req.id, req.session, seq, req.prompt, req.spec_json, now],
        "recording the request",
    )?;
    tx.commit().ctx("committing the request")?;
    Ok(seq)
}

/// Marks a request running.
pub fn set_request_running(conn: &Connection, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE requests SET status = 'running', reason = NULL,
                started_at = COALESCE(started_at, ?2), finished_at = NULL
         WHERE id = ?1",
        params![id, now_ms()],
        "marking the request running",
    )?;
    Ok(())
}

/// Puts an interrupted request back in its session's queue (`resume`).
pub fn requeue_request(conn: &Connection, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE requests SET status = 'queued', reason = NULL, finished_at = NULL WHERE id = ?1",
        params![id],
        "re-queueing the request",
    )?;
    Ok(())
}

/// The end of a request: its tasks' final state, status, reason, cost and merged answer, in one
/// transaction.
#[derive(Debug, Clone)]
pub struct RequestEnd {
    /// Request id.
    pub id: String,
    /// Final status.
    pub status: RequestStatus,
    /// Why (e.g. `budget_exceeded`).
    pub reason: Option<String>,
    /// Total cost.
    pub cost_usd: f64,
    /// The answer, its mode and note.
    pub answer: Option<(String, String, Option<String>)>,
    /// The tasks in their final state.
    pub tasks: Vec<Task>,
}

/// Commits the end of a request.
pub fn finish_request(conn: &mut Connection, end: &RequestEnd) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let now = now_ms();
    for t in &end.tasks {
        upsert_task(&tx, &end.id, t)?;
    }
    exec(
        &tx,
        "UPDATE requests SET status = ?2, reason = ?3, cost_usd = ?4, finished_at = ?5 WHERE id = ?1",
        params![end.id, end.status.as_str(), end.reason, end.cost_usd, now],
        "finishing the request",
    )?;
    if let Some((text, mode, note)) = &end.answer {
        exec(
            &tx,
            "INSERT OR REPLACE INTO merged_answers (request_id, mode, text, note, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![end.id, mode, text, note, now],
            "recording the merged answer",
        )?;
    }
    tx.commit().ctx("committing the request's end")
}

/// The last `limit` turns of a session that produced an answer, oldest first.
pub fn load_turns(conn: &Connection, session: &str, limit: usize) -> Result<Vec<Turn>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT r.id, r.seq, r.prompt, m.text, r.status FROM requests r
             JOIN merged_answers m ON m.request_id = r.id
             WHERE r.session = ?1 AND r.status IN ('succeeded', 'degraded')
             ORDER BY r.seq DESC LIMIT ?2",
        )
        .ctx("preparing the history query")?;
    let mut turns: Vec<Turn> = stmt
        .query_map(params![session, limit as i64], |r| {
            Ok(Turn {
                request_id: r.get(0)?,
                seq: r.get(1)?,
                prompt: r.get(2)?,
                answer: r.get(3)?,
                status: parse_col(r, 4)?,
            })
        })
        .ctx("reading the history")?
        .collect::<Result<_, _>>()
        .ctx("reading the history")?;
    turns.reverse();
    Ok(turns)
}

const REQUEST_COLUMNS: &str = "r.id, r.session, r.seq, r.prompt, r.spec_json, r.status, r.reason,
    m.text, m.mode, m.note, r.cost_usd, r.created_at, r.started_at, r.finished_at";

fn request_row(r: &Row<'_>) -> rusqlite::Result<RequestRecord> {
    Ok(RequestRecord {
        id: r.get(0)?,
        session: r.get(1)?,
        seq: r.get(2)?,
        prompt: r.get(3)?,
        spec_json: r.get(4)?,
        status: parse_col(r, 5)?,
        reason: r.get(6)?,
        answer: r.get(7)?,
        answer_mode: r.get(8)?,
        answer_note: r.get(9)?,
        cost_usd: r.get(10)?,
        created_at: r.get(11)?,
        started_at: r.get(12)?,
        finished_at: r.get(13)?,
    })
}

/// All requests of a session, oldest first.
pub fn session_requests(
    conn: &Connection,
    session: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<RequestRecord>, bool), StoreError> {
    // One more than asked tells whether older requests exist.
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests r LEFT JOIN merged_answers m ON m.request_id = r.id
         WHERE r.session = ?1 AND r.seq < ?2 ORDER BY r.seq DESC LIMIT ?3"
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .ctx("preparing the session query")?;
    let mut rows: Vec<RequestRecord> = stmt
        .query_map(
            params![session, before.unwrap_or(i64::MAX), i64::from(limit) + 1],
            request_row,
        )
        .ctx("reading the session's requests")?
        .collect::<Result<_, _>>()
        .ctx("reading the session's requests")?;
    let older = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    rows.reverse();
    Ok((rows, older))
}

/// One request with its tasks and attempts.
pub fn request_detail(conn: &Connection, id: &str) -> Result<RequestDetail, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM requests r LEFT JOIN merged_answers m ON m.request_id = r.id
         WHERE r.id = ?1"
    );
    let request = conn
        .query_row(&sql, params![id], request_row)
        .optional()
        .ctx("reading the request")?
        .ok_or_else(|| StoreError::NotFound {
            what: "request",
            id: id.to_string(),
        })?;
    let tasks = read_tasks(conn, id)?;
    let attempts = read_attempts(conn, id)?;
    let decisions = super::request_decisions(conn, id)?;
    let tools = super::tools::read_tool_calls(conn, id)?
        .into_iter()
        .filter_map(|(idx, mut call)| {
            let task = tasks.iter().find(|t| i64::from(t.id.index()) == idx)?;
            call.task_id = task.id.to_string();
            Some(call)
        })
        .collect();
    Ok(RequestDetail {
        request,
        tasks,
        attempts,
        decisions,
        tools,
    })
}

/// Every session with its request count, by name.
pub fn list_sessions(conn: &Connection) -> Result<Vec<SessionSummary>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT s.name, s.created_at, COUNT(r.id), MAX(r.created_at)
             FROM sessions s LEFT JOIN requests r ON r.session = s.name
             GROUP BY s.name ORDER BY s.name",
        )
        .ctx("preparing the session list")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(SessionSummary {
                name: r.get(0)?,
                created_at: r.get(1)?,
                requests: r.get(2)?,
                last_activity: r.get(3)?,
            })
        })
        .ctx("listing sessions")?
        .collect::<Result<_, _>>()
        .ctx("listing sessions")?;
    Ok(rows)
}

/// The session a request belongs to, if it exists.
pub fn request_session(conn: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    conn.query_row(
        "SELECT session FROM requests WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )
    .optional()
    .ctx("looking up a request")
}
