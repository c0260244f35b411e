//! Isolated tasks' worktrees: recorded with their tasks (before any worker starts), what each
//! changed (with the attempt's end), and where they stand (`apply`, `discard`, expiry).

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{exec, parse_col};
use crate::protocol::{ChangeSummary, RequestStatus, WorkspaceState};
use crate::store::error::{QueryContext, StoreError};
use crate::store::records::now_ms;
use crate::task::{Task, TaskId};
use crate::workspace::{TaskWorkspace, Worktree};

/// Records a task's workspace, where it stands, and what it changed (kept when not known now).
/// Only a running request's session writes it this way (`apply` and `discard` refuse while a
/// request runs, and use [`set_workspace_state`]).
pub(super) fn upsert_workspace(
    conn: &Connection,
    request_id: &str,
    task: &Task,
) -> Result<(), StoreError> {
    let Some(ws) = &task.workspace else {
        return Ok(());
    };
    let wt = &ws.worktree;
    let changes = ws
        .changes
        .as_ref()
        .map(|c| serde_json::to_string(c).expect("a change summary serializes"));
    exec(
        conn,
        "INSERT INTO workspaces (request_id, task_idx, repo, path, branch, base, rel, state,
                                 created_at, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (request_id, task_idx) DO UPDATE SET
            state = excluded.state, changes = COALESCE(excluded.changes, changes)",
        params![
            request_id,
            task.id.index(),
            wt.repo.to_string_lossy(),
            wt.path.to_string_lossy(),
            wt.branch,
            wt.base,
            wt.rel.to_string_lossy(),
            ws.state.as_str(),
            now_ms(),
            changes
        ],
        "recording a workspace",
    )?;
    Ok(())
}

/// The columns [`workspace_from`] reads, from `workspaces w`.
pub(super) const WORKSPACE_COLUMNS: &str =
    "w.repo, w.path, w.branch, w.base, w.rel, w.state, w.changes";

/// A workspace from [`WORKSPACE_COLUMNS`] starting at column `at` (`None` when absent).
pub(super) fn workspace_from(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<TaskWorkspace>> {
    let Some(repo) = r.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    let changes = r
        .get::<_, Option<String>>(at + 6)?
        .and_then(|json| serde_json::from_str::<ChangeSummary>(&json).ok());
    Ok(Some(TaskWorkspace {
        worktree: Worktree {
            repo: PathBuf::from(repo),
            path: PathBuf::from(r.get::<_, String>(at + 1)?),
            branch: r.get(at + 2)?,
            base: r.get(at + 3)?,
            rel: PathBuf::from(r.get::<_, String>(at + 4)?),
        },
        state: parse_col(r, at + 5)?,
        changes,
    }))
}

/// Sets where a task's workspace stands.
pub fn set_workspace_state(
    conn: &Connection,
    request_id: &str,
    task: TaskId,
    state: WorkspaceState,
) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE workspaces SET state = ?3 WHERE request_id = ?1 AND task_idx = ?2",
        params![request_id, task.index(), state.as_str()],
        "recording a workspace's state",
    )?;
    Ok(())
}

/// A workspace with its request, for listings and the reconcile pass.
#[derive(Debug, Clone)]
pub struct WorkspaceRow {
    /// Request id.
    pub request_id: String,
    /// Task.
    pub task: TaskId,
    /// The workspace.
    pub workspace: TaskWorkspace,
    /// When it was recorded (Unix ms).
    pub created_ms: i64,
    /// Its request's status.
    pub request_status: RequestStatus,
    /// When its request finished (Unix ms).
    pub finished_ms: Option<i64>,
}

/// Every recorded workspace (newest first); `active_only`: those still on disk.
pub fn list_workspaces(
    conn: &Connection,
    active_only: bool,
) -> Result<Vec<WorkspaceRow>, StoreError> {
    let sql = format!(
        "SELECT w.request_id, w.task_idx, w.created_at, r.status, r.finished_at, {WORKSPACE_COLUMNS}
         FROM workspaces w JOIN requests r ON r.id = w.request_id
         {}
         ORDER BY w.created_at DESC, w.request_id, w.task_idx",
        if active_only {
            "WHERE w.state = 'active'"
        } else {
            ""
        }
    );
    let mut stmt = conn.prepare(&sql).ctx("preparing the workspace query")?;
    let rows: Vec<Option<WorkspaceRow>> = stmt
        .query_map([], |r| {
            let Some(workspace) = workspace_from(r, 5)? else {
                return Ok(None);
            };
            Ok(Some(WorkspaceRow {
                request_id: r.get(0)?,
                task: TaskId::Work(r.get(1)?),
                created_ms: r.get(2)?,
                request_status: parse_col(r, 3)?,
                finished_ms: r.get(4)?,
                workspace,
            }))
        })
        .ctx("reading the workspaces")?
        .collect::<Result<_, _>>()
        .ctx("reading the workspaces")?;
    Ok(rows.into_iter().flatten().collect())
}

/// A request's status, if it exists.
pub fn request_status(
    conn: &Connection,
    request_id: &str,
) -> Result<Option<RequestStatus>, StoreError> {
    conn.query_row(
        "SELECT status FROM requests WHERE id = ?1",
        params![request_id],
        |r| parse_col(r, 0),
    )
    .optional()
    .ctx("reading a request's status")
}
