//! The SQL: one function per state change or read, each a single transaction. Run them through
//! the store actor ([`super::StoreHandle::call`]), never on an async worker.
//!
//! - `requests`: requests, their history pages, their end, the context turns;
//! - `approvals`: how tool calls were decided and what waits for a person;
//! - `tasks`: tasks and attempts; `tools`: workers' tool calls; `usage`: the ledger read back for `smith usage` and the ceilings; `workspaces`: isolated tasks' worktrees; `recovery`: what a
//!   restart finds left behind.

mod approvals;
mod recovery;
mod requests;
mod tasks;
mod tools;
mod usage;
mod workspaces;

use rusqlite::{Connection, Row};

use super::error::{QueryContext, StoreError};

pub use approvals::{
    DECISIONS_SHOWN, decide_approval, insert_approval, insert_grant, load_grants,
    request_decisions, resolve_waiting,
};
pub use recovery::{in_flight_requests, interrupt_in_flight, mark_interrupted, remote_in_flight};
pub use requests::{
    NewRequest, RequestEnd, finish_request, insert_request, list_sessions, load_turns,
    request_detail, request_session, requeue_request, session_requests, set_request_running,
};
pub use tasks::{
    AttemptProcess, finish_attempt, set_attempt_process, set_claude_session, set_tasks,
    start_attempt,
};
pub use tools::{CallAt, end_tool_call, start_tool_call};
pub use usage::{spent_by_session, spent_on_day, usage};
pub use workspaces::{WorkspaceRow, list_workspaces, request_status, set_workspace_state};

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

fn parse_col<T: std::str::FromStr<Err = String>>(r: &Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    s.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}
