//! How workers' tool calls were decided (`permissions.mode = "stdio"`): each call's record,
//! written when it starts waiting for a person (or, decided by rule, when it is decided), its
//! decision, what a person allowed for a whole session, and what a restart finds still waiting.

use rusqlite::{Connection, Row, params};

use super::{exec, parse_col};
use crate::protocol::{ApprovalInfo, DecidedBy, ToolDecision, Verdict};
use crate::store::error::{QueryContext, StoreError};
use crate::store::records::now_ms;

/// Decisions listed by `show` for one request, at most.
pub const DECISIONS_SHOWN: usize = 1000;

/// Records a tool call: waiting (no `decision`) or decided at once (by rule, remembered,
/// unattended).
pub fn insert_approval(
    conn: &Connection,
    info: &ApprovalInfo,
    decision: Option<&ToolDecision>,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO approvals (id, request_id, session, task_id, attempt, tool, summary, input,
                                suggestions, asked_at, expires_at, decided_at, verdict,
                                decided_by, who, message, always)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            info.id,
            info.request_id,
            info.session,
            info.task_id,
            info.attempt,
            info.tool,
            info.summary,
            info.input,
            info.suggestions,
            info.asked_at_ms,
            info.expires_at_ms,
            decision.map(|_| info.asked_at_ms),
            decision.map(|d| d.verdict.as_str()),
            decision.map(|d| d.decided_by.as_str()),
            decision.map(|d| d.who.as_str()),
            decision.and_then(|d| d.message.as_deref()),
            decision.is_some_and(|d| d.always),
        ],
        "recording a tool call's approval",
    )?;
    Ok(())
}

/// Records the decision of a waiting approval; `false` when it was no longer waiting.
pub fn decide_approval(conn: &Connection, d: &ToolDecision) -> Result<bool, StoreError> {
    let n = exec(
        conn,
        "UPDATE approvals SET decided_at = ?2, verdict = ?3, decided_by = ?4, who = ?5,
                              message = ?6, always = ?7
         WHERE id = ?1 AND decided_at IS NULL",
        params![
            d.id,
            now_ms(),
            d.verdict.as_str(),
            d.decided_by.as_str(),
            d.who,
            d.message,
            d.always
        ],
        "recording an approval's decision",
    )?;
    Ok(n == 1)
}

/// Remembers that `session` allows `tool` with exactly `input` (a person's "always").
pub fn insert_grant(
    conn: &Connection,
    session: &str,
    tool: &str,
    input: &str,
    approval_id: &str,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT OR IGNORE INTO session_grants (session, tool, input, approval_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![session, tool, input, approval_id, now_ms()],
        "remembering an approval for the session",
    )?;
    Ok(())
}

/// Every session's remembered approvals: (session, tool, input).
pub fn load_grants(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT session, tool, input FROM session_grants")
        .ctx("reading remembered approvals")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .ctx("reading remembered approvals")?;
    rows.collect::<Result<_, _>>()
        .ctx("reading remembered approvals")
}

/// Denies every approval still waiting (smithd stopped while they waited): how many.
pub fn resolve_waiting(conn: &Connection) -> Result<usize, StoreError> {
    exec(
        conn,
        "UPDATE approvals SET decided_at = ?1, verdict = 'deny', decided_by = 'restart',
                              who = 'smithd', message = 'smithd stopped while it waited for a person'
         WHERE decided_at IS NULL",
        params![now_ms()],
        "resolving approvals left waiting",
    )
}

/// How the tool calls of `request_id` were decided, in order (the first [`DECISIONS_SHOWN`]).
pub fn request_decisions(
    conn: &Connection,
    request_id: &str,
) -> Result<Vec<ToolDecision>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, task_id, attempt, tool, summary, verdict, decided_by, who, message, always,
                    decided_at - asked_at
             FROM approvals WHERE request_id = ?1 AND decided_at IS NOT NULL
             ORDER BY asked_at, rowid LIMIT ?2",
        )
        .ctx("reading tool decisions")?;
    let rows = stmt
        .query_map(params![request_id, DECISIONS_SHOWN as i64], decision_row)
        .ctx("reading tool decisions")?;
    rows.collect::<Result<_, _>>().ctx("reading tool decisions")
}

fn decision_row(r: &Row<'_>) -> rusqlite::Result<ToolDecision> {
    Ok(ToolDecision {
        id: r.get(0)?,
        task_id: r.get(1)?,
        attempt: r.get(2)?,
        tool: r.get(3)?,
        summary: r.get(4)?,
        verdict: parse_col::<Verdict>(r, 5)?,
        decided_by: parse_col::<DecidedBy>(r, 6)?,
        who: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        message: r.get(8)?,
        always: r.get(9)?,
        waited_ms: r.get::<_, i64>(10)?.max(0) as u64,
    })
}
