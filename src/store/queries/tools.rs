//! Workers' tool calls: one row per call (at most a cap per attempt), started and then ended;
//! read back by `smith show`.

use rusqlite::{Connection, params};

use super::exec;
use crate::protocol::{ToolActivity, ToolCall};
use crate::store::error::{QueryContext, StoreError};
use crate::task::TaskId;

/// Where one call of an attempt is recorded.
#[derive(Debug, Clone)]
pub struct CallAt {
    /// The request.
    pub request_id: String,
    /// The task.
    pub task: TaskId,
    /// The attempt.
    pub attempt: u32,
}

/// Records a call that started, as the `seq`-th of its attempt.
pub fn start_tool_call(
    conn: &Connection,
    at: &CallAt,
    seq: u32,
    a: &ToolActivity,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT OR IGNORE INTO tool_calls
            (request_id, task_idx, attempt, seq, call_id, tool, input, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            at.request_id,
            at.task.index(),
            at.attempt,
            seq,
            a.call_id,
            a.tool,
            a.input,
            a.started_ms
        ],
        "recording a tool call",
    )
    .map(|_| ())
}

/// Records how a call ended (nothing when it was not recorded: past the cap).
pub fn end_tool_call(conn: &Connection, at: &CallAt, a: &ToolActivity) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE tool_calls SET duration_ms = ?5, error = ?6
         WHERE request_id = ?1 AND task_idx = ?2 AND attempt = ?3 AND call_id = ?4",
        params![
            at.request_id,
            at.task.index(),
            at.attempt,
            a.call_id,
            a.duration_ms.map(|d| d as i64),
            a.error
        ],
        "recording the end of a tool call",
    )
    .map(|_| ())
}

/// A request's tool calls, by task, attempt and start.
pub(super) fn read_tool_calls(
    conn: &Connection,
    request_id: &str,
) -> Result<Vec<(i64, ToolCall)>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT c.task_idx, c.attempt, c.call_id, c.tool, c.input, c.started_at,
                    c.duration_ms, c.error
             FROM tool_calls c WHERE c.request_id = ?1
             ORDER BY c.task_idx, c.attempt, c.seq",
        )
        .ctx("preparing the tool call query")?;
    let rows = stmt
        .query_map(params![request_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ToolCall {
                    task_id: String::new(),
                    attempt: r.get(1)?,
                    activity: ToolActivity {
                        call_id: r.get(2)?,
                        tool: r.get(3)?,
                        input: r.get(4)?,
                        started_ms: r.get(5)?,
                        duration_ms: r.get::<_, Option<i64>>(6)?.map(|d| d.max(0) as u64),
                        error: r.get(7)?,
                    },
                },
            ))
        })
        .ctx("reading the tool calls")?
        .collect::<Result<Vec<_>, _>>()
        .ctx("reading the tool calls")?;
    Ok(rows)
}
