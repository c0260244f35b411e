//! What a person does with a request's worktrees once its tasks ended: look at them (`diff`),
//! merge them into the checkout (`apply`: in task order, each merge checked first with
//! `git merge-tree --write-tree` so that a conflict stops before anything is touched, and
//! refused when it would touch uncommitted files), or throw them away (`discard`).

use std::collections::BTreeSet;

use tracing::Instrument;

use super::error::WorkspaceError;
use super::git::Git;
use super::workspaces::Workspaces;
use super::worktree::{TaskWorkspace, changes};
use crate::protocol::{TaskApply, TaskApplyReport, TaskDiff, WorkspaceState};

/// One task's workspace, by task id.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Task id (`t1`, …).
    pub task_id: String,
    /// Its workspace.
    pub workspace: TaskWorkspace,
}

/// The diffs (base → branch) of `entries`; with `stat` only the per-file statistics. Tasks
/// whose branch is gone (applied or discarded) show what was recorded, without a diff.
pub async fn diff(entries: &[Entry], stat: bool) -> Result<Vec<TaskDiff>, WorkspaceError> {
    let mut diffs = Vec::with_capacity(entries.len());
    let mut shown = 0;
    for e in entries {
        let wt = &e.workspace.worktree;
        let git = Git::new(&wt.repo);
        let (changes, diff) = if e.workspace.state == WorkspaceState::Active {
            let changes = changes(&git, &wt.base, &wt.branch).await?;
            let diff = if stat {
                String::new()
            } else {
                let whole = git
                    .run(&[
                        "diff",
                        "--no-color",
                        "--no-ext-diff",
                        &wt.base,
                        &wt.branch,
                        "--",
                    ])
                    .await?;
                let room = MAX_DIFF_BYTES.saturating_sub(shown);
                shown += whole.len().min(room);
                clip_diff(whole, room, &wt.repo, &wt.base, &wt.branch)
            };
            (changes, diff)
        } else {
            (
                e.workspace.changes.clone().unwrap_or_default(),
                String::new(),
            )
        };
        diffs.push(TaskDiff {
            task_id: e.task_id.clone(),
            branch: wt.branch.clone(),
            changes,
            diff,
        });
    }
    Ok(diffs)
}

/// The most diff text one reply carries (over all tasks): far below the frame limit.
pub const MAX_DIFF_BYTES: usize = 16 * 1024 * 1024;

/// `diff` cut to `room` bytes (at a line end) with a note saying how to see it whole.
fn clip_diff(
    mut diff: String,
    room: usize,
    repo: &std::path::Path,
    base: &str,
    branch: &str,
) -> String {
    if diff.len() <= room {
        return diff;
    }
    let total = diff.len();
    let at = diff[..diff.floor_char_boundary(room)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    diff.truncate(at);
    diff.push_str(&format!(
        "[smith: the diff is cut at {at} of {total} bytes; the whole of it: git -C {} diff {base} {branch}]\n",
        shell_word(&repo.display().to_string())
    ));
    diff
}

/// Merges the branches of `entries` into their checkout's current branch, in order, and says
/// per task what happened; the first conflict or dirty file stops the run (the rest are
/// `Skipped`). Merged and empty tasks lose their worktree and branch.
pub async fn apply(
    workspaces: &Workspaces,
    request_id: &str,
    entries: &[Entry],
    parent: &tracing::Span,
) -> Result<Vec<TaskApplyReport>, WorkspaceError> {
    let Some(first) = entries.first() else {
        return Ok(Vec::new());
    };
    let repo = first.workspace.worktree.repo.clone();
    let span = tracing::info_span!(
        target: "smith::workspace",
        parent: parent,
        "workspace.apply",
        smith.request.id = %request_id,
        smith.workspace.repo = %repo.display(),
        smith.workspace.tasks = entries.len() as i64,
    );
    async {
        let _repo = workspaces.lock(&repo).await;
        let git = Git::new(&repo);
        if let Some(what) = operation_in_progress(&git).await? {
            return Err(WorkspaceError::WrongState(format!(
                "{} has {what} in progress: finish or abort it first, then apply again",
                repo.display()
            )));
        }
        let mut reports = Vec::with_capacity(entries.len());
        let mut stopped = false;
        for e in entries {
            let wt = &e.workspace.worktree;
            let result = if stopped {
                TaskApply::Skipped
            } else {
                let result = apply_one(&git, request_id, e).await?;
                if matches!(result, TaskApply::Merged { .. } | TaskApply::NoChanges) {
                    wt.remove().await?;
                } else {
                    stopped = true;
                }
                result
            };
            reports.push(TaskApplyReport {
                task_id: e.task_id.clone(),
                branch: wt.branch.clone(),
                result,
            });
        }
        Ok(reports)
    }
    .instrument(span)
    .await
    .inspect(|_| workspaces.count_alive())
}

/// One task: nothing to merge, refused (dirty), a conflict, or merged.
async fn apply_one(git: &Git, request_id: &str, e: &Entry) -> Result<TaskApply, WorkspaceError> {
    let wt = &e.workspace.worktree;
    let changed = changes(git, &wt.base, &wt.branch).await?;
    if changed.files.is_empty() {
        return Ok(TaskApply::NoChanges);
    }
    let dirty = dirty_files(git).await?;
    let touched: Vec<String> = changed
        .files
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| dirty.contains(p))
        .collect();
    if !touched.is_empty() {
        return Ok(TaskApply::Dirty { files: touched });
    }
    let check = git
        .output(&[
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            "HEAD",
            &wt.branch,
        ])
        .await?;
    match check.code {
        Some(0) => {}
        Some(1) => {
            let files = check
                .stdout
                .lines()
                .skip(1)
                .take_while(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            return Ok(TaskApply::Conflict {
                files,
                command: format!(
                    "git -C {} merge {}",
                    shell_word(&wt.repo.display().to_string()),
                    wt.branch
                ),
            });
        }
        _ => {
            return Err(WorkspaceError::WrongState(format!(
                "git merge-tree could not check {} (git 2.38 or later is needed): {}",
                wt.branch, check.stderr
            )));
        }
    }
    let message = format!("smith: merge {} of {request_id}", e.task_id);
    if let Err(err) = git
        .run_as_smith(&[
            "merge",
            "--no-ff",
            "--no-edit",
            "--no-verify",
            "--quiet",
            "-m",
            &message,
            &wt.branch,
        ])
        .await
    {
        // Checked clean, so this is unexpected: leave the checkout as it was.
        let _ = git.output(&["merge", "--abort"]).await;
        return Err(err.into());
    }
    let commit = git.line(&["rev-parse", "HEAD"]).await?;
    Ok(TaskApply::Merged { commit })
}

/// A merge, rebase, cherry-pick or revert the user has in progress in the checkout (smith never
/// merges into one, and so never aborts one of theirs).
async fn operation_in_progress(git: &Git) -> Result<Option<&'static str>, WorkspaceError> {
    for (marker, what) in [
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ] {
        let path = git
            .line(&["rev-parse", "--path-format=absolute", "--git-path", marker])
            .await?;
        if std::path::Path::new(&path).exists() {
            return Ok(Some(what));
        }
    }
    Ok(None)
}

/// Paths with uncommitted changes in the checkout, untracked files included.
async fn dirty_files(git: &Git) -> Result<BTreeSet<String>, WorkspaceError> {
    let out = git
        .run(&["status", "--porcelain=v1", "-z", "--untracked-files=all"])
        .await?;
    let mut files = BTreeSet::new();
    let mut records = out.split('\0').filter(|r| !r.is_empty());
    while let Some(record) = records.next() {
        if record.len() < 4 {
            continue;
        }
        files.insert(record[3..].to_string());
        // A rename or copy is followed by its source.
        if matches!(&record[..1], "R" | "C")
            && let Some(source) = records.next()
        {
            files.insert(source.to_string());
        }
    }
    Ok(files)
}

/// Removes the worktrees and branches of `entries`.
pub async fn discard(
    workspaces: &Workspaces,
    request_id: &str,
    entries: &[Entry],
    parent: &tracing::Span,
) -> Result<Vec<TaskApplyReport>, WorkspaceError> {
    let span = tracing::info_span!(
        target: "smith::workspace",
        parent: parent,
        "workspace.discard",
        smith.request.id = %request_id,
        smith.workspace.tasks = entries.len() as i64,
    );
    async {
        let mut reports = Vec::with_capacity(entries.len());
        for e in entries {
            workspaces.remove(&e.workspace.worktree).await?;
            reports.push(TaskApplyReport {
                task_id: e.task_id.clone(),
                branch: e.workspace.worktree.branch.clone(),
                result: TaskApply::Discarded,
            });
        }
        Ok(reports)
    }
    .instrument(span)
    .await
}

/// `word` quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_diff_is_cut_at_a_line_with_the_command_for_all_of_it() {
        let diff = "+a\n+bb\n+ccc\n".to_string();
        let repo = std::path::Path::new("/src/my app");
        assert_eq!(clip_diff(diff.clone(), 100, repo, "b1", "smith/r/t1"), diff);
        let cut = clip_diff(diff, 8, repo, "b1", "smith/r/t1");
        assert!(
            cut.starts_with("+a\n+bb\n[smith: the diff is cut at 7 of 12 bytes"),
            "{cut}"
        );
        assert!(
            cut.contains("git -C '/src/my app' diff b1 smith/r/t1"),
            "{cut}"
        );
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("/src/app-1"), "/src/app-1");
        assert_eq!(shell_word("/src/it's"), "'/src/it'\\''s'");
    }
}
