//! The service's side of workspaces: `workspace.dir` made and checked at start, the reconcile
//! pass at startup and every `workspace.reconcile_every`, and the `diff` / `apply` / `discard`
//! / `workspaces` requests (git runs in the connection's task, never in an actor's handler; the
//! store records the new states).

use std::sync::Arc;

use crate::config::Config;
use crate::protocol::{
    ApplyReply, DiffQuery, DiffReply, ErrorKind, RequestStatus, Response, TaskStatus,
    WorkspaceInfo, WorkspaceList, WorkspaceOp, WorkspaceState,
};
use crate::store::records::now_ms;
use crate::store::{StoreHandle, queries};
use crate::task::{Task, TaskId};
use crate::workspace::reconcile::{Known, Pass, reconcile, scan};
use crate::workspace::review::{self, Entry};
use crate::workspace::{WorkspaceError, Workspaces};

use super::connection::error;
use super::shared::ServiceShared;

/// `workspace.dir` created (private to smithd) and checked: workers must be allowed to run
/// there (inside `agent.roots`), else isolated requests are refused with the reason (also a
/// startup warning).
pub(crate) fn open(config: &Config) -> (Workspaces, Option<String>) {
    let dir = config.workspace_dir();
    let problem = super::private_dir::private_dir(&dir)
        .err()
        .or_else(|| {
            crate::agent::command::check_cwd(&config.agent.roots, &dir)
                .err()
                .map(|_| {
                    format!(
                        "workspace.dir {} is not inside agent.roots, so isolated requests are refused: put workspace.dir under one of the roots, or add it to agent.roots",
                        dir.display()
                    )
                })
        });
    let dir = dir.canonicalize().unwrap_or(dir);
    let workspaces = Workspaces::new(config.workspace.clone(), dir).refuse_with(problem.clone());
    (workspaces, problem)
}

/// One reconcile pass over what the store knows; expired workspaces are marked discarded.
pub(crate) async fn reconcile_once(workspaces: &Workspaces, store: &StoreHandle) -> Pass {
    // What is on disk first, then what the store knows (see `Scan`).
    let repos = match store.call(|c| queries::list_workspaces(c, false)).await {
        Ok(rows) => rows
            .into_iter()
            .map(|r| r.workspace.worktree.repo)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list workspaces; reconcile skipped");
            return Pass::default();
        }
    };
    let seen = scan(workspaces, repos).await;
    let rows = match store.call(|c| queries::list_workspaces(c, false)).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list workspaces; reconcile skipped");
            return Pass::default();
        }
    };
    let known: Vec<Known> = rows
        .into_iter()
        .map(|r| Known {
            task_id: r.task.to_string(),
            finished_ms: finished_for_expiry(r.request_status, r.finished_ms),
            request_id: r.request_id,
            workspace: r.workspace,
        })
        .collect();
    let pass = reconcile(workspaces, seen, &known, now_ms()).await;
    for (request, task) in pass.expired.clone() {
        let Some(task) = TaskId::work_named(&task) else {
            continue;
        };
        let _ = store
            .call(move |c| {
                queries::set_workspace_state(c, &request, task, WorkspaceState::Discarded)
            })
            .await;
    }
    if !pass.expired.is_empty()
        || !pass.orphan_worktrees.is_empty()
        || !pass.orphan_branches.is_empty()
    {
        tracing::info!(
            expired = pass.expired.len(),
            orphan_worktrees = pass.orphan_worktrees.len(),
            orphan_branches = pass.orphan_branches.len(),
            disk_bytes = pass.disk_bytes,
            "workspaces reconciled"
        );
    }
    pass
}

/// When a request's worktrees start to age toward `workspace.keep_for`: when it finished — not
/// while it is queued or runs, and not while it is interrupted (resumable: its worktrees wait
/// for the resume, or for the request to be pruned, when the orphan pass removes them).
fn finished_for_expiry(status: RequestStatus, finished_ms: Option<i64>) -> Option<i64> {
    match status {
        RequestStatus::Queued | RequestStatus::Running | RequestStatus::Interrupted => None,
        RequestStatus::Succeeded
        | RequestStatus::Degraded
        | RequestStatus::Failed
        | RequestStatus::Cancelled => finished_ms,
    }
}

/// Reconciles at startup, then every `workspace.reconcile_every`.
pub(crate) async fn reconcile_periodically(shared: Arc<ServiceShared>) {
    let every = shared.config.workspace.reconcile_every;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Some(store) = shared.store() {
            reconcile_once(&shared.workspaces, &store).await;
        }
    }
}

fn workspace_error(e: WorkspaceError) -> Response {
    let kind = match e {
        WorkspaceError::NotFound(_) => ErrorKind::NotFound,
        WorkspaceError::WrongState(_) => ErrorKind::WrongState,
        _ => ErrorKind::Internal,
    };
    error(kind, e.to_string())
}

/// The request's status and its tasks with workspaces, in task order; the named ones only
/// (each must have one) when `names` is not empty.
async fn entries(
    store: &StoreHandle,
    request_id: &str,
    names: &[String],
) -> Result<(RequestStatus, Vec<(Task, Entry)>), Response> {
    let id = request_id.to_string();
    let detail = store
        .call(move |c| queries::request_detail(c, &id))
        .await
        .map_err(|e| error(ErrorKind::NotFound, e.to_string()))?;
    let status = detail.request.status;
    let with_ws: Vec<(Task, Entry)> = detail
        .tasks
        .into_iter()
        .filter_map(|t| {
            let workspace = t.workspace.clone()?;
            let entry = Entry {
                task_id: t.id.to_string(),
                workspace,
            };
            Some((t, entry))
        })
        .collect();
    if with_ws.is_empty() {
        return Err(error(
            ErrorKind::NotFound,
            format!(
                "request {request_id} has no worktrees: it did not run with --isolate worktree"
            ),
        ));
    }
    if names.is_empty() {
        return Ok((status, with_ws));
    }
    let mut picked = Vec::with_capacity(names.len());
    for name in names {
        match with_ws.iter().find(|(_, e)| &e.task_id == name) {
            Some(found) => picked.push(found.clone()),
            None => {
                let known: Vec<&str> = with_ws.iter().map(|(_, e)| e.task_id.as_str()).collect();
                return Err(error(
                    ErrorKind::NotFound,
                    format!(
                        "request {request_id} has no worktree for task {name} (it has {})",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok((status, picked))
}

/// `Request::Diff`.
pub(crate) async fn diff(store: &StoreHandle, q: DiffQuery) -> Response {
    let names: Vec<String> = q.task.into_iter().collect();
    let (_, entries) = match entries(store, &q.request_id, &names).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let entries: Vec<Entry> = entries.into_iter().map(|(_, e)| e).collect();
    match review::diff(&entries, q.stat).await {
        Ok(tasks) => Response::Diff(DiffReply {
            request_id: q.request_id,
            tasks,
        }),
        Err(e) => workspace_error(e),
    }
}

/// `Request::Apply` (`discard`: `Request::Discard`).
pub(crate) async fn apply_or_discard(
    shared: &ServiceShared,
    store: &StoreHandle,
    op: WorkspaceOp,
    discard: bool,
) -> Response {
    let (status, picked) = match entries(store, &op.request_id, &op.tasks).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    if matches!(status, RequestStatus::Queued | RequestStatus::Running) {
        return error(
            ErrorKind::WrongState,
            format!(
                "request {} is {status}: its workers may still change their worktrees; wait for it to finish (or cancel it)",
                op.request_id
            ),
        );
    }
    let explicit = !op.tasks.is_empty();
    let mut entries = Vec::new();
    for (task, entry) in picked {
        if entry.workspace.state != WorkspaceState::Active {
            if explicit {
                return error(
                    ErrorKind::WrongState,
                    format!(
                        "task {} of {} was already {}: its worktree and branch are gone",
                        entry.task_id, op.request_id, entry.workspace.state
                    ),
                );
            }
            continue;
        }
        // Without names, `apply` takes the tasks that succeeded.
        if !discard && !explicit && task.status != TaskStatus::Succeeded {
            continue;
        }
        entries.push(entry);
    }
    let repo = entries
        .first()
        .map(|e| e.workspace.worktree.repo.display().to_string())
        .unwrap_or_default();
    let parent = tracing::Span::none();
    let done = if discard {
        review::discard(&shared.workspaces, &op.request_id, &entries, &parent).await
    } else {
        review::apply(&shared.workspaces, &op.request_id, &entries, &parent).await
    };
    let tasks = match done {
        Ok(tasks) => tasks,
        Err(e) => return workspace_error(e),
    };
    for report in &tasks {
        let state = match report.result {
            crate::protocol::TaskApply::Merged { .. } | crate::protocol::TaskApply::NoChanges => {
                WorkspaceState::Applied
            }
            crate::protocol::TaskApply::Discarded => WorkspaceState::Discarded,
            _ => continue,
        };
        let (Some(task), request) = (TaskId::work_named(&report.task_id), op.request_id.clone())
        else {
            continue;
        };
        if let Err(e) = store
            .call(move |c| queries::set_workspace_state(c, &request, task, state))
            .await
        {
            return error(ErrorKind::Internal, e.to_string());
        }
    }
    Response::Applied(ApplyReply {
        request_id: op.request_id,
        repo,
        tasks,
    })
}

/// `Request::Workspaces`: the active ones, newest first, with their size.
pub(crate) async fn list(store: &StoreHandle) -> Response {
    let rows = match store.call(|c| queries::list_workspaces(c, true)).await {
        Ok(rows) => rows,
        Err(e) => return error(ErrorKind::Internal, e.to_string()),
    };
    let workspaces = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .map(|r| {
                let wt = &r.workspace.worktree;
                WorkspaceInfo {
                    request_id: r.request_id.clone(),
                    task_id: r.task.to_string(),
                    repo: wt.repo.display().to_string(),
                    path: wt.path.display().to_string(),
                    branch: wt.branch.clone(),
                    base: wt.base.clone(),
                    state: r.workspace.state,
                    created_ms: r.created_ms,
                    disk_bytes: crate::workspace::reconcile::disk_usage(&wt.path),
                    changes: r.workspace.changes.clone(),
                    present: wt.exists(),
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    Response::Workspaces(WorkspaceList { workspaces })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ended_requests_age_and_interrupted_ones_wait_for_their_resume() {
        for status in [
            RequestStatus::Queued,
            RequestStatus::Running,
            RequestStatus::Interrupted,
        ] {
            assert_eq!(finished_for_expiry(status, Some(5)), None, "{status}");
        }
        for status in [
            RequestStatus::Succeeded,
            RequestStatus::Degraded,
            RequestStatus::Failed,
            RequestStatus::Cancelled,
        ] {
            assert_eq!(finished_for_expiry(status, Some(5)), Some(5), "{status}");
        }
    }
}
