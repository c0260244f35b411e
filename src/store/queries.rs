//! The SQL: one function per state change or read, each a single transaction. Run them through
//! the store actor ([`super::StoreHandle::call`]), never on an async worker.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::error::{QueryContext, StoreError};
use super::records::{
    AttemptRecord, OrphanCandidate, RequestDetail, RequestRecord, RequestStatus, SessionSummary,
    TaskRecord, Turn, now_ms,
};

/// Executes one statement through the connection's statement cache.
fn exec(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    action: &'static str,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .ctx(action)?
        .execute(params)
        .ctx(action)
}

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

/// Records `tasks` (inserted, or updated in place so their attempts stay) and drops the other
/// tasks of the same kinds (e.g. a plan replacing the work tasks).
pub fn set_tasks(
    conn: &mut Connection,
    request_id: &str,
    tasks: &[TaskRecord],
) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let mut kinds: Vec<&str> = tasks.iter().map(|t| t.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let keep = tasks
        .iter()
        .map(|t| t.idx.to_string())
        .collect::<Vec<_>>()
        .join(",");
    for kind in kinds {
        exec(
            &tx,
            &format!(
                "DELETE FROM tasks WHERE request_id = ?1 AND kind = ?2 AND idx NOT IN ({keep})"
            ),
            params![request_id, kind],
            "clearing replaced tasks",
        )?;
    }
    for t in tasks {
        exec(
            &tx,
            "INSERT INTO tasks (request_id, idx, kind, id, name, instruction, status, exit_reason,
                                attempts, output, cost_usd, claude_session_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (request_id, idx) DO UPDATE SET
                kind = excluded.kind, id = excluded.id, name = excluded.name,
                instruction = excluded.instruction, status = excluded.status,
                exit_reason = excluded.exit_reason, attempts = excluded.attempts,
                output = excluded.output, cost_usd = excluded.cost_usd,
                claude_session_id = excluded.claude_session_id",
            params![
                request_id,
                t.idx,
                t.kind.as_str(),
                t.id,
                t.name,
                t.instruction,
                t.status.as_str(),
                t.exit_reason,
                t.attempts,
                t.output,
                t.cost_usd,
                t.claude_session_id
            ],
            "recording a task",
        )?;
    }
    tx.commit().ctx("committing the tasks")
}

/// Records that an attempt's process runs.
pub fn start_attempt(conn: &mut Connection, a: &AttemptRecord) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    exec(
        &tx,
        "INSERT OR REPLACE INTO attempts (request_id, task_idx, attempt, pid, process_start_time,
                                          started_at, resumed_from, claude_session_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            a.request_id,
            a.task_idx,
            a.attempt,
            a.pid,
            a.process_start_time.map(|t| t as i64),
            a.started_at,
            a.resumed_from,
            a.claude_session_id
        ],
        "recording an attempt",
    )?;
    exec(
        &tx,
        "UPDATE tasks SET status = 'running', attempts = MAX(attempts, ?3),
                claude_session_id = COALESCE(?4, claude_session_id)
         WHERE request_id = ?1 AND idx = ?2",
        params![a.request_id, a.task_idx, a.attempt, a.claude_session_id],
        "marking the task running",
    )?;
    tx.commit().ctx("committing the attempt")
}

/// Records the Claude session id an attempt learnt (so a resume after a crash of smithd can
/// continue it).
pub fn set_claude_session(
    conn: &mut Connection,
    request_id: &str,
    task_idx: u32,
    attempt: u32,
    claude_session_id: &str,
) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    exec(
        &tx,
        "UPDATE attempts SET claude_session_id = ?4 WHERE request_id = ?1 AND task_idx = ?2 AND attempt = ?3",
        params![request_id, task_idx, attempt, claude_session_id],
        "recording a Claude session",
    )?;
    exec(
        &tx,
        "UPDATE tasks SET claude_session_id = ?3 WHERE request_id = ?1 AND idx = ?2",
        params![request_id, task_idx, claude_session_id],
        "recording a Claude session",
    )?;
    tx.commit().ctx("committing a Claude session")
}

/// Records how an attempt ended, and its task's new state, in one transaction.
pub fn finish_attempt(
    conn: &mut Connection,
    a: &AttemptRecord,
    task: &TaskRecord,
) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    // The attempt may have ended before its process ever ran (spawn_failed): insert it then.
    exec(
        &tx,
        "INSERT OR IGNORE INTO attempts (request_id, task_idx, attempt, started_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![a.request_id, a.task_idx, a.attempt, a.started_at],
        "recording an attempt",
    )?;
    exec(
        &tx,
        "UPDATE attempts SET finished_at = ?4, exit_reason = ?5, exit_code = ?6, exit_signal = ?7,
                stderr_tail = ?8, claude_session_id = ?9, input_tokens = ?10, output_tokens = ?11,
                cache_read_tokens = ?12, cache_creation_tokens = ?13, cost_usd = ?14, detail = ?15
         WHERE request_id = ?1 AND task_idx = ?2 AND attempt = ?3",
        params![
            a.request_id,
            a.task_idx,
            a.attempt,
            a.finished_at,
            a.exit_reason,
            a.exit_code,
            a.exit_signal,
            a.stderr_tail,
            a.claude_session_id,
            a.input_tokens.map(|v| v as i64),
            a.output_tokens.map(|v| v as i64),
            a.cache_read_tokens.map(|v| v as i64),
            a.cache_creation_tokens.map(|v| v as i64),
            a.cost_usd,
            a.detail
        ],
        "finishing an attempt",
    )?;
    update_task_in(&tx, task)?;
    tx.commit().ctx("committing the attempt's end")
}

fn update_task_in(conn: &Connection, t: &TaskRecord) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE tasks SET status = ?3, exit_reason = ?4, attempts = ?5, output = ?6, cost_usd = ?7,
                claude_session_id = ?8
         WHERE request_id = ?1 AND idx = ?2",
        params![
            t.request_id,
            t.idx,
            t.status.as_str(),
            t.exit_reason,
            t.attempts,
            t.output,
            t.cost_usd,
            t.claude_session_id
        ],
        "updating a task",
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
    /// The tasks' final records.
    pub tasks: Vec<TaskRecord>,
}

/// Commits the end of a request.
pub fn finish_request(conn: &mut Connection, end: &RequestEnd) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let now = now_ms();
    for t in &end.tasks {
        update_task_in(&tx, t)?;
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

fn parse_col<T: std::str::FromStr<Err = String>>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    s.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
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
    let mut stmt = conn
        .prepare(
            "SELECT request_id, idx, id, name, instruction, status, exit_reason, attempts, output,
                    cost_usd, claude_session_id, kind
             FROM tasks WHERE request_id = ?1 ORDER BY idx",
        )
        .ctx("preparing the task query")?;
    let tasks = stmt
        .query_map(params![id], |r| {
            Ok(TaskRecord {
                request_id: r.get(0)?,
                idx: r.get(1)?,
                id: r.get(2)?,
                name: r.get(3)?,
                instruction: r.get(4)?,
                status: parse_col(r, 5)?,
                exit_reason: r.get(6)?,
                attempts: r.get(7)?,
                output: r.get(8)?,
                cost_usd: r.get(9)?,
                claude_session_id: r.get(10)?,
                kind: parse_col(r, 11)?,
            })
        })
        .ctx("reading the tasks")?
        .collect::<Result<_, _>>()
        .ctx("reading the tasks")?;
    let mut stmt = conn
        .prepare(
            "SELECT request_id, task_idx, attempt, pid, process_start_time, started_at, finished_at,
                    exit_reason, exit_code, exit_signal, stderr_tail, claude_session_id,
                    input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
                    cost_usd, detail, resumed_from
             FROM attempts WHERE request_id = ?1 ORDER BY task_idx, attempt",
        )
        .ctx("preparing the attempt query")?;
    let attempts = stmt
        .query_map(params![id], |r| {
            Ok(AttemptRecord {
                request_id: r.get(0)?,
                task_idx: r.get(1)?,
                attempt: r.get(2)?,
                pid: r.get(3)?,
                process_start_time: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                exit_reason: r.get(7)?,
                exit_code: r.get(8)?,
                exit_signal: r.get(9)?,
                stderr_tail: r.get(10)?,
                claude_session_id: r.get(11)?,
                input_tokens: r.get::<_, Option<i64>>(12)?.map(|v| v as u64),
                output_tokens: r.get::<_, Option<i64>>(13)?.map(|v| v as u64),
                cache_read_tokens: r.get::<_, Option<i64>>(14)?.map(|v| v as u64),
                cache_creation_tokens: r.get::<_, Option<i64>>(15)?.map(|v| v as u64),
                cost_usd: r.get(16)?,
                detail: r.get(17)?,
                resumed_from: r.get(18)?,
            })
        })
        .ctx("reading the attempts")?
        .collect::<Result<_, _>>()
        .ctx("reading the attempts")?;
    Ok(RequestDetail {
        request,
        tasks,
        attempts,
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

/// Marks requests of `session` (or of every session when `None`) that were queued or running
/// as `interrupted`, their running tasks too, and closes their unfinished attempts. Returns the
/// processes those attempts recorded, so that the caller can sweep them.
pub fn interrupt_in_flight(
    conn: &mut Connection,
    session: Option<&str>,
) -> Result<Vec<OrphanCandidate>, StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let now = now_ms();
    let candidates: Vec<OrphanCandidate> = {
        let mut stmt = tx
            .prepare(
                "SELECT a.request_id, a.task_idx, a.attempt, a.pid, a.process_start_time
                 FROM attempts a JOIN requests r ON r.id = a.request_id
                 WHERE a.finished_at IS NULL AND a.pid IS NOT NULL
                   AND (?1 IS NULL OR r.session = ?1)",
            )
            .ctx("preparing the orphan query")?;
        stmt.query_map(params![session], |r| {
            Ok(OrphanCandidate {
                request_id: r.get(0)?,
                task_idx: r.get(1)?,
                attempt: r.get(2)?,
                pid: r.get(3)?,
                process_start_time: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
            })
        })
        .ctx("reading unfinished attempts")?
        .collect::<Result<_, _>>()
        .ctx("reading unfinished attempts")?
    };
    let scope = "(SELECT id FROM requests WHERE status IN ('queued', 'running')
                  AND (?1 IS NULL OR session = ?1))";
    exec(
        &tx,
        &format!(
            "UPDATE attempts SET finished_at = ?2, exit_reason = 'interrupted'
             WHERE finished_at IS NULL AND request_id IN {scope}"
        ),
        params![session, now],
        "closing unfinished attempts",
    )?;
    exec(
        &tx,
        &format!(
            "UPDATE tasks SET status = 'interrupted'
             WHERE status IN ('running', 'pending') AND request_id IN {scope}"
        ),
        params![session],
        "interrupting tasks",
    )?;
    exec(
        &tx,
        "UPDATE requests SET status = 'interrupted', reason = 'smithd stopped while it ran',
                finished_at = ?2
         WHERE status IN ('queued', 'running') AND (?1 IS NULL OR session = ?1)",
        params![session, now],
        "interrupting requests",
    )?;
    tx.commit().ctx("committing the interruption")?;
    Ok(candidates)
}

/// Requests queued or running (the ones a restart interrupts), with when they were created.
pub fn in_flight_requests(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT id, created_at FROM requests WHERE status IN ('queued', 'running')")
        .ctx("preparing the in-flight query")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx("reading in-flight requests")?
        .collect::<Result<_, _>>()
        .ctx("reading in-flight requests")?;
    Ok(rows)
}

/// Marks a request `interrupted` (resumable) whose end could not be recorded.
pub fn mark_interrupted(conn: &Connection, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE requests SET status = 'interrupted',
                reason = 'its end could not be committed', finished_at = ?2
         WHERE id = ?1 AND status IN ('queued', 'running')",
        params![id, now_ms()],
        "marking a request interrupted",
    )?;
    Ok(())
}

/// Marks a request `cancelled` before it ever ran (it was still queued).
pub fn cancel_queued(conn: &Connection, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE requests SET status = 'cancelled', reason = 'cancelled before it started',
                finished_at = ?2
         WHERE id = ?1 AND status = 'queued'",
        params![id, now_ms()],
        "cancelling a queued request",
    )?;
    Ok(())
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
