//! Tasks and their attempts: recorded when planned, when an attempt starts (before its process
//! runs) and when it ends, each change in one transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::workspaces::{WORKSPACE_COLUMNS, upsert_workspace, workspace_from};
use super::{exec, parse_col};
use crate::store::error::{QueryContext, StoreError};
use crate::store::records::AttemptRecord;
use crate::task::{Task, TaskId};

/// Records `tasks` (inserted, or updated in place so their attempts stay) and drops the other
/// tasks of the same kinds (e.g. a plan replacing the work tasks).
pub fn set_tasks(
    conn: &mut Connection,
    request_id: &str,
    tasks: &[Task],
) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let mut kinds: Vec<&str> = tasks.iter().map(|t| t.id.kind().as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let keep = tasks
        .iter()
        .map(|t| t.id.index().to_string())
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
        upsert_task(&tx, request_id, t)?;
    }
    tx.commit().ctx("committing the tasks")
}

/// Inserts a task, or updates it in place (its attempts stay).
pub(super) fn upsert_task(conn: &Connection, request_id: &str, t: &Task) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO tasks (request_id, idx, kind, id, name, instruction, status, exit_reason,
                            attempts, output, cost_usd, claude_session_id, denials)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (request_id, idx) DO UPDATE SET
            kind = excluded.kind, id = excluded.id, name = excluded.name,
            instruction = excluded.instruction, status = excluded.status,
            exit_reason = excluded.exit_reason, attempts = excluded.attempts,
            output = excluded.output, cost_usd = excluded.cost_usd,
            claude_session_id = excluded.claude_session_id, denials = excluded.denials",
        params![
            request_id,
            t.id.index(),
            t.id.kind().as_str(),
            t.id.to_string(),
            t.name,
            t.instruction,
            t.status.as_str(),
            t.end.map(|e| e.to_string()),
            t.attempts,
            t.output,
            t.cost_usd,
            t.claude_session_id,
            (!t.denials.is_empty())
                .then(|| serde_json::to_string(&t.denials).expect("denials serialize"))
        ],
        "recording a task",
    )?;
    upsert_workspace(conn, request_id, t)
}

/// Records that an attempt's process is about to run (or runs).
pub fn start_attempt(conn: &mut Connection, a: &AttemptRecord) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    exec(
        &tx,
        "INSERT OR REPLACE INTO attempts (request_id, task_idx, attempt, pid, process_start_time,
                                          started_at, resumed_from, claude_session_id, bare, tag,
                                          node)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            a.request_id,
            a.task.index(),
            a.attempt,
            a.pid,
            a.process_start_time.map(|t| t as i64),
            a.started_at,
            a.resumed_from,
            a.claude_session_id,
            a.bare,
            a.tag,
            a.node
        ],
        "recording an attempt",
    )?;
    exec(
        &tx,
        "UPDATE tasks SET status = 'running', attempts = MAX(attempts, ?3),
                claude_session_id = COALESCE(?4, claude_session_id)
         WHERE request_id = ?1 AND idx = ?2",
        params![a.request_id, a.task.index(), a.attempt, a.claude_session_id],
        "marking the task running",
    )?;
    tx.commit().ctx("committing the attempt")
}

/// An attempt's process, as recorded when it started.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptProcess {
    /// Its pid (on its node when it runs on one).
    pub pid: u32,
    /// Its start time (`None` on a node: the sweep leaves it alone).
    pub start_time: Option<u64>,
    /// It started on a warm worker.
    pub warm: bool,
    /// The worker node it runs on.
    pub node: Option<String>,
}

/// Records the process of an attempt recorded before it started (the orphan sweep needs it).
pub fn set_attempt_process(
    conn: &Connection,
    request_id: &str,
    task: TaskId,
    attempt: u32,
    p: &AttemptProcess,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE attempts SET pid = ?4, process_start_time = ?5, warm = ?6, node = ?7
         WHERE request_id = ?1 AND task_idx = ?2 AND attempt = ?3",
        params![
            request_id,
            task.index(),
            attempt,
            p.pid,
            p.start_time.map(|t| t as i64),
            p.warm,
            p.node
        ],
        "recording an attempt's process",
    )?;
    Ok(())
}

/// Records the Claude session id an attempt learnt (so a resume after a crash of smithd can
/// continue it).
pub fn set_claude_session(
    conn: &mut Connection,
    request_id: &str,
    task: TaskId,
    attempt: u32,
    claude_session_id: &str,
) -> Result<(), StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    exec(
        &tx,
        "UPDATE attempts SET claude_session_id = ?4 WHERE request_id = ?1 AND task_idx = ?2 AND attempt = ?3",
        params![request_id, task.index(), attempt, claude_session_id],
        "recording a Claude session",
    )?;
    exec(
        &tx,
        "UPDATE tasks SET claude_session_id = ?3 WHERE request_id = ?1 AND idx = ?2",
        params![request_id, task.index(), claude_session_id],
        "recording a Claude session",
    )?;
    tx.commit().ctx("committing a Claude session")
}

/// Records how an attempt ended, and its task's new state, in one transaction. A remote
/// attempt's outcome (with its `event_seq`) is applied once: an attempt that has one already is
/// left as it is (`Ok(false)`).
pub fn finish_attempt(
    conn: &mut Connection,
    a: &AttemptRecord,
    task: &Task,
) -> Result<bool, StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let applied: Option<i64> = tx
        .query_row(
            "SELECT event_seq FROM attempts WHERE request_id = ?1 AND task_idx = ?2 AND attempt = ?3",
            params![a.request_id, a.task.index(), a.attempt],
            |r| r.get(0),
        )
        .optional()
        .ctx("reading an attempt's outcome")?
        .flatten();
    if let Some(seq) = applied {
        tracing::debug!(request = %a.request_id, attempt = a.attempt, seq, "an outcome applied before: left as it is");
        return Ok(false);
    }
    // The attempt may have ended before its process ever ran (spawn_failed): insert it then.
    exec(
        &tx,
        "INSERT OR IGNORE INTO attempts (request_id, task_idx, attempt, started_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![a.request_id, a.task.index(), a.attempt, a.started_at],
        "recording an attempt",
    )?;
    exec(
        &tx,
        "UPDATE attempts SET finished_at = ?4, exit_reason = ?5, exit_code = ?6, exit_signal = ?7,
                stderr_tail = ?8, claude_session_id = ?9, input_tokens = ?10, output_tokens = ?11,
                cache_read_tokens = ?12, cache_creation_tokens = ?13, cost_usd = ?14, detail = ?15,
                model = COALESCE(?16, model), day = COALESCE(?17, day), event_seq = ?18
         WHERE request_id = ?1 AND task_idx = ?2 AND attempt = ?3",
        params![
            a.request_id,
            a.task.index(),
            a.attempt,
            a.finished_at,
            a.exit_reason.map(|r| r.to_string()),
            a.exit_code,
            a.exit_signal,
            a.stderr_tail,
            a.claude_session_id,
            a.input_tokens.map(|v| v as i64),
            a.output_tokens.map(|v| v as i64),
            a.cache_read_tokens.map(|v| v as i64),
            a.cache_creation_tokens.map(|v| v as i64),
            a.cost_usd,
            a.detail,
            a.model,
            a.day,
            a.event_seq.map(|s| s as i64)
        ],
        "finishing an attempt",
    )?;
    upsert_task(&tx, &a.request_id, task)?;
    tx.commit().ctx("committing the attempt's end")?;
    Ok(true)
}

/// A stored reason; one this smithd cannot read (written by a newer one) is left out.
fn reason_col<T: std::str::FromStr>(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<T>> {
    Ok(r.get::<_, Option<String>>(i)?.and_then(|s| s.parse().ok()))
}

/// A request's tasks, in order (work tasks, then the planner and the synthesizer).
pub(super) fn read_tasks(conn: &Connection, request_id: &str) -> Result<Vec<Task>, StoreError> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT t.kind, t.idx, t.name, t.instruction, t.status, t.exit_reason, t.attempts,
                        t.output, t.cost_usd, t.claude_session_id, t.denials, {WORKSPACE_COLUMNS}
                 FROM tasks t LEFT JOIN workspaces w
                   ON w.request_id = t.request_id AND w.task_idx = t.idx
                 WHERE t.request_id = ?1 ORDER BY t.idx"
        ))
        .ctx("preparing the task query")?;
    let rows: Vec<Option<Task>> = stmt
        .query_map(params![request_id], |r| {
            let Some(id) = TaskId::from_index(parse_col(r, 0)?, r.get(1)?) else {
                return Ok(None);
            };
            let mut t = Task::new(id, r.get::<_, String>(2)?, r.get::<_, String>(3)?);
            t.status = parse_col(r, 4)?;
            t.end = reason_col(r, 5)?;
            t.attempts = r.get(6)?;
            t.output = r.get(7)?;
            t.cost_usd = r.get(8)?;
            t.claude_session_id = r.get(9)?;
            t.denials = r
                .get::<_, Option<String>>(10)?
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default();
            t.workspace = workspace_from(r, 11)?;
            Ok(Some(t))
        })
        .ctx("reading the tasks")?
        .collect::<Result<_, _>>()
        .ctx("reading the tasks")?;
    Ok(rows.into_iter().flatten().collect())
}

/// A request's attempts, by task and number.
pub(super) fn read_attempts(
    conn: &Connection,
    request_id: &str,
) -> Result<Vec<AttemptRecord>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT a.request_id, t.kind, a.task_idx, a.attempt, a.pid, a.process_start_time,
                    a.started_at, a.finished_at, a.exit_reason, a.exit_code, a.exit_signal,
                    a.stderr_tail, a.claude_session_id, a.input_tokens, a.output_tokens,
                    a.cache_read_tokens, a.cache_creation_tokens, a.cost_usd, a.detail,
                    a.resumed_from, a.model, a.bare, a.day, a.warm, a.node, a.tag,
                    a.event_seq
             FROM attempts a JOIN tasks t ON t.request_id = a.request_id AND t.idx = a.task_idx
             WHERE a.request_id = ?1 ORDER BY a.task_idx, a.attempt",
        )
        .ctx("preparing the attempt query")?;
    let rows: Vec<Option<AttemptRecord>> = stmt
        .query_map(params![request_id], |r| {
            let Some(task) = TaskId::from_index(parse_col(r, 1)?, r.get(2)?) else {
                return Ok(None);
            };
            Ok(Some(AttemptRecord {
                request_id: r.get(0)?,
                task,
                attempt: r.get(3)?,
                pid: r.get(4)?,
                process_start_time: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
                started_at: r.get(6)?,
                finished_at: r.get(7)?,
                exit_reason: reason_col(r, 8)?,
                exit_code: r.get(9)?,
                exit_signal: r.get(10)?,
                stderr_tail: r.get(11)?,
                claude_session_id: r.get(12)?,
                input_tokens: r.get::<_, Option<i64>>(13)?.map(|v| v as u64),
                output_tokens: r.get::<_, Option<i64>>(14)?.map(|v| v as u64),
                cache_read_tokens: r.get::<_, Option<i64>>(15)?.map(|v| v as u64),
                cache_creation_tokens: r.get::<_, Option<i64>>(16)?.map(|v| v as u64),
                cost_usd: r.get(17)?,
                detail: r.get(18)?,
                resumed_from: r.get(19)?,
                model: r.get(20)?,
                bare: r.get(21)?,
                day: r.get(22)?,
                warm: r.get(23)?,
                node: r.get(24)?,
                tag: r.get(25)?,
                event_seq: r.get::<_, Option<i64>>(26)?.map(|s| s as u64),
            }))
        })
        .ctx("reading the attempts")?
        .collect::<Result<_, _>>()
        .ctx("reading the attempts")?;
    Ok(rows.into_iter().flatten().collect())
}
