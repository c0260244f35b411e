//! `smith diff`, `smith apply`, `smith discard` and `smith workspaces`: isolated tasks' worktrees
//! reviewed, merged and thrown away, as text or JSON.

use std::fmt::Write as _;

use crate::protocol::{
    ApplyReply, DiffQuery, DiffReply, Request, Response, TaskApply, WorkspaceList, WorkspaceOp,
    WorkspacesQuery, WorktreeBase,
};

use super::args::{DiffArgs, JsonArg, WorkspaceOpArgs};
use super::client::{Client, ClientError, unexpected};
use super::render::{human_secs, now_ms, print_json};

/// `smith diff`.
pub(super) async fn diff(client: &mut Client, a: DiffArgs) -> Result<(), ClientError> {
    let query = Request::Diff(DiffQuery {
        request_id: a.request_id,
        task: a.task,
        stat: a.stat,
    });
    match client.call(&query).await? {
        Response::Diff(reply) => {
            if a.json {
                print_json(&reply);
            } else {
                print!("{}", render_diff(&reply, a.stat));
            }
            Ok(())
        }
        other => Err(unexpected(other)),
    }
}

/// `smith apply` (`discard`: `smith discard`); whether every task went through.
pub(super) async fn apply(
    client: &mut Client,
    a: WorkspaceOpArgs,
    discard: bool,
) -> Result<bool, ClientError> {
    let op = WorkspaceOp {
        request_id: a.request_id,
        tasks: a.tasks,
    };
    let request = if discard {
        Request::Discard(op)
    } else {
        Request::Apply(op)
    };
    match client.call(&request).await? {
        Response::Applied(reply) => {
            if a.json {
                print_json(&reply);
            } else {
                print!("{}", render_apply(&reply));
            }
            Ok(reply.complete())
        }
        other => Err(unexpected(other)),
    }
}

/// `smith workspaces`.
pub(super) async fn list(client: &mut Client, a: JsonArg) -> Result<(), ClientError> {
    match client
        .call(&Request::Workspaces(WorkspacesQuery {}))
        .await?
    {
        Response::Workspaces(list) => {
            if a.json {
                print_json(&list);
            } else {
                print!("{}", render_list(&list, now_ms()));
            }
            Ok(())
        }
        other => Err(unexpected(other)),
    }
}

/// What the accepted line adds for an isolated request.
pub(super) fn accepted_note(base: &WorktreeBase) -> String {
    let on = base.branch.as_deref().unwrap_or("detached HEAD");
    let short = &base.commit[..base.commit.len().min(10)];
    let mut note = format!("isolated: each task in a worktree cut from {on} at {short}");
    if base.dirty {
        note.push_str("; uncommitted changes in the checkout are NOT carried over");
    } else {
        note.push_str(" (uncommitted changes are never carried over)");
    }
    note
}

fn render_diff(reply: &DiffReply, stat: bool) -> String {
    let mut out = String::new();
    for t in &reply.tasks {
        let _ = writeln!(out, "# {} ({}): {}", t.task_id, t.branch, t.changes.line());
        if stat || t.diff.is_empty() {
            for f in &t.changes.files {
                let counts = match (f.added, f.removed) {
                    (Some(a), Some(r)) => format!("+{a} −{r}"),
                    _ => "binary".into(),
                };
                let _ = writeln!(out, "  {}  {counts}", f.path);
            }
        } else {
            out.push_str(&t.diff);
            if !t.diff.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

fn render_apply(reply: &ApplyReply) -> String {
    let mut out = String::new();
    if reply.tasks.is_empty() {
        let _ = writeln!(
            out,
            "nothing to do for {}: no task with a worktree left (apply without TASK takes the tasks that succeeded)",
            reply.request_id
        );
    }
    for t in &reply.tasks {
        let line = match &t.result {
            TaskApply::Merged { commit } => format!(
                "merged {} into {} (now at {})",
                t.branch,
                reply.repo,
                &commit[..commit.len().min(10)]
            ),
            TaskApply::NoChanges => "changed nothing; worktree removed".into(),
            TaskApply::Discarded => format!("discarded {} and its worktree", t.branch),
            TaskApply::Skipped => "not applied (an earlier task stopped the run)".into(),
            TaskApply::Dirty { files } => format!(
                "refused: uncommitted changes in the checkout to {} — commit or stash them, then apply again",
                files.join(", ")
            ),
            TaskApply::Conflict { files, command } => format!(
                "conflict in {} — nothing was changed; branch {} is kept; merge it by hand with: {command}",
                files.join(", "),
                t.branch
            ),
        };
        let _ = writeln!(out, "{}: {line}", t.task_id);
    }
    out
}

fn render_list(list: &WorkspaceList, now_ms: i64) -> String {
    if list.workspaces.is_empty() {
        return "no worktrees\n".into();
    }
    let mut out = String::new();
    for w in &list.workspaces {
        let age = human_secs(((now_ms - w.created_ms).max(0) / 1000) as f64);
        let changes = w
            .changes
            .as_ref()
            .map_or_else(|| "running or not ended".to_string(), |c| c.line());
        let missing = if w.present {
            ""
        } else {
            " (directory missing)"
        };
        let _ = writeln!(
            out,
            "{} {}  {}  {}  {} MiB  {age} old  {}{missing}\n    {}",
            w.request_id,
            w.task_id,
            w.state,
            w.branch,
            w.disk_bytes / (1024 * 1024),
            changes,
            w.path
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TaskApplyReport;

    #[test]
    fn a_conflict_names_files_branch_and_the_manual_command() {
        let reply = ApplyReply {
            request_id: "r-0123456789ab".into(),
            repo: "/src/app".into(),
            tasks: vec![
                TaskApplyReport {
                    task_id: "t1".into(),
                    branch: "smith/r-0123456789ab/t1".into(),
                    result: TaskApply::Merged {
                        commit: "abcdef0123456789".into(),
                    },
                },
                TaskApplyReport {
                    task_id: "t2".into(),
                    branch: "smith/r-0123456789ab/t2".into(),
                    result: TaskApply::Conflict {
                        files: vec!["src/lib.rs".into()],
                        command: "git -C /src/app merge smith/r-0123456789ab/t2".into(),
                    },
                },
            ],
        };
        let text = render_apply(&reply);
        assert!(
            text.contains("t1: merged smith/r-0123456789ab/t1 into /src/app (now at abcdef0123)")
        );
        assert!(text.contains("t2: conflict in src/lib.rs"));
        assert!(text.contains("git -C /src/app merge smith/r-0123456789ab/t2"));
        assert!(!reply.complete());
        let merged = ApplyReply {
            tasks: vec![reply.tasks[0].clone()],
            ..reply
        };
        assert!(merged.complete(), "every task merged");
    }

    #[test]
    fn the_accepted_note_warns_about_uncommitted_changes() {
        let base = WorktreeBase {
            repo: "/src/app".into(),
            branch: Some("main".into()),
            commit: "0123456789abcdef".into(),
            dirty: true,
        };
        let note = accepted_note(&base);
        assert!(note.contains("cut from main at 0123456789"), "{note}");
        assert!(note.contains("NOT carried over"), "{note}");
    }
}
