//! One task's worktree: where it is, its branch and base (recorded before the worker starts),
//! making it ready (created, or found again on a restart or a resume, then `workspace.copy` and
//! `workspace.setup` once), committing what the task changed when an attempt ends, and removing
//! it with its branch.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checkout::Checkout;
use super::error::WorkspaceError;
use super::git::{Git, GitError};
use crate::protocol::{ChangeSummary, FileChange, WorkspaceState};

/// A task's worktree, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worktree {
    /// The user's checkout (top level) it belongs to.
    pub repo: PathBuf,
    /// The worktree directory.
    pub path: PathBuf,
    /// Its branch, `smith/<request>/<task>`.
    pub branch: String,
    /// The commit it was cut from.
    pub base: String,
    /// The worker's cwd relative to `path` (the request's cwd relative to the checkout).
    pub rel: PathBuf,
}

/// A task's workspace: its worktree, where it stands, and what the task changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskWorkspace {
    /// The worktree.
    pub worktree: Worktree,
    /// Where it stands.
    pub state: WorkspaceState,
    /// What the task changed (after an attempt ended).
    pub changes: Option<ChangeSummary>,
}

/// The branch of a task's worktree.
pub fn branch_name(request_id: &str, task: &str) -> String {
    format!("smith/{request_id}/{task}")
}

/// Parses a branch smith made: `(request, task)`.
pub fn parse_branch(branch: &str) -> Option<(&str, &str)> {
    let rest = branch.strip_prefix("smith/")?;
    let (request, task) = rest.split_once('/')?;
    let request_ok = request.len() == 14
        && request.starts_with("r-")
        && request[2..].chars().all(|c| c.is_ascii_hexdigit());
    let task_ok =
        task.len() > 1 && task.starts_with('t') && task[1..].chars().all(|c| c.is_ascii_digit());
    (request_ok && task_ok).then_some((request, task))
}

impl Worktree {
    /// The worktree of task `task` of request `request_id`, cut from `checkout`, under `dir`.
    pub fn plan(checkout: &Checkout, dir: &Path, request_id: &str, task: &str) -> Self {
        Self {
            repo: checkout.repo.clone(),
            path: dir.join(request_id).join(task),
            branch: branch_name(request_id, task),
            base: checkout.head.clone(),
            rel: checkout.rel.clone(),
        }
    }

    /// Where the worker runs.
    pub fn cwd(&self) -> PathBuf {
        self.path.join(&self.rel)
    }

    /// The worktree is there and is a git worktree.
    pub fn exists(&self) -> bool {
        self.path.join(".git").is_file()
    }

    /// Creates the worktree (a new branch at the base, or the branch again if it survived a
    /// crash); nothing when it exists. Call with the repository's lock held.
    pub async fn create(&self) -> Result<bool, WorkspaceError> {
        if self.exists() {
            return Ok(false);
        }
        let repo = Git::new(&self.repo);
        if self.path.exists() {
            // A directory left by a creation that did not finish: smith's own, under its dir.
            std::fs::remove_dir_all(&self.path).map_err(|source| WorkspaceError::Io {
                what: "removing the unfinished worktree",
                path: self.path.clone(),
                source,
            })?;
        }
        repo.run(&["worktree", "prune"]).await?;
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| WorkspaceError::Io {
                what: "creating",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let path = self.path.to_string_lossy();
        let branch_ref = format!("refs/heads/{}", self.branch);
        let has_branch = repo
            .output(&["show-ref", "--verify", "--quiet", &branch_ref])
            .await?
            .code
            == Some(0);
        if has_branch {
            repo.run(&["worktree", "add", "--quiet", &path, &self.branch])
                .await?;
        } else {
            repo.run(&[
                "worktree",
                "add",
                "--quiet",
                "-b",
                &self.branch,
                &path,
                &self.base,
            ])
            .await?;
        }
        Ok(true)
    }

    /// The marker that `workspace.copy` and `workspace.setup` are done, kept in the worktree's
    /// private git directory (never seen by `git status`).
    pub async fn ready_marker(&self) -> Result<PathBuf, WorkspaceError> {
        let git_dir = Git::new(&self.path)
            .line(&["rev-parse", "--absolute-git-dir"])
            .await?;
        Ok(PathBuf::from(git_dir).join("smith-ready"))
    }

    /// Commits whatever the task changed (untracked files included, `workspace.copy` paths
    /// left out) with smith's identity — nothing when it changed nothing. Call with the
    /// repository's lock held.
    pub async fn commit(&self, message: &str, copied: &[PathBuf]) -> Result<(), WorkspaceError> {
        let git = Git::new(&self.path);
        git.run(&["add", "-A"]).await?;
        for path in copied {
            let path = path.to_string_lossy();
            // Copied, not made by the task: unstage it (an error means it was not staged).
            let _ = git
                .output(&[
                    "rm",
                    "-r",
                    "--cached",
                    "--quiet",
                    "--ignore-unmatch",
                    "--",
                    &path,
                ])
                .await;
        }
        let staged = git.output(&["diff", "--cached", "--quiet"]).await?;
        if staged.code == Some(0) {
            return Ok(());
        }
        git.run_as_smith(&["commit", "--quiet", "--no-verify", "-m", message])
            .await?;
        Ok(())
    }

    /// What the branch changed against the base.
    pub async fn changes(&self) -> Result<ChangeSummary, WorkspaceError> {
        changes(&Git::new(&self.repo), &self.base, &self.branch).await
    }

    /// Removes the worktree (whatever it holds) and its branch. Call with the repository's
    /// lock held.
    pub async fn remove(&self) -> Result<(), WorkspaceError> {
        let repo = Git::new(&self.repo);
        if self.path.exists() {
            let path = self.path.to_string_lossy();
            if let Err(e) = repo
                .run(&["worktree", "remove", "--force", "--force", &path])
                .await
            {
                tracing::debug!(error = %e, path = %self.path.display(), "git worktree remove failed; removing the directory");
                std::fs::remove_dir_all(&self.path).map_err(|source| WorkspaceError::Io {
                    what: "removing the worktree",
                    path: self.path.clone(),
                    source,
                })?;
            }
        }
        repo.run(&["worktree", "prune"]).await?;
        match repo.run(&["branch", "-D", "--quiet", &self.branch]).await {
            Ok(_) => {}
            Err(GitError::Failed { stderr, .. }) if stderr.contains("not found") => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(parent) = self.path.parent() {
            // The request's directory, once its last worktree is gone.
            let _ = std::fs::remove_dir(parent);
        }
        Ok(())
    }
}

/// What `to` changed against `from`, per file (renames as a removal and an addition).
pub async fn changes(git: &Git, from: &str, to: &str) -> Result<ChangeSummary, WorkspaceError> {
    let out = git
        .run(&["diff", "--numstat", "--no-renames", "-z", from, to, "--"])
        .await?;
    Ok(parse_numstat(&out))
}

/// `git diff --numstat -z` output: `added\tremoved\tpath\0` per file, `-` for binary files.
pub fn parse_numstat(out: &str) -> ChangeSummary {
    let mut files: Vec<FileChange> = out
        .split('\0')
        .filter(|r| !r.is_empty())
        .filter_map(|record| {
            let mut parts = record.splitn(3, '\t');
            let added = parts.next()?.trim_start_matches('\n');
            let removed = parts.next()?;
            let path = parts.next()?;
            Some(FileChange {
                path: path.to_string(),
                added: added.parse().ok(),
                removed: removed.parse().ok(),
            })
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    ChangeSummary { files }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_is_parsed_with_binary_files_and_odd_names() {
        let out = "3\t1\tsrc/a b.rs\x00-\t-\timg.png\x000\t7\told.txt\x00";
        let s = parse_numstat(out);
        assert_eq!(s.files.len(), 3);
        assert_eq!(s.files[0].path, "img.png");
        assert_eq!(s.files[0].added, None);
        assert_eq!(s.files[2].path, "src/a b.rs");
        assert_eq!((s.added(), s.removed()), (3, 8));
        assert_eq!(s.line(), "3 files, +3 −8");
        assert_eq!(parse_numstat("").line(), "no changes");
    }

    #[test]
    fn only_branches_smith_names_are_recognised() {
        assert_eq!(
            parse_branch("smith/r-0123456789ab/t12"),
            Some(("r-0123456789ab", "t12"))
        );
        for other in [
            "smith/feature/t1",
            "smith/r-0123456789ab/plan",
            "smith/r-0123456789ab/t",
            "main",
            "smith/r-0123456789zz/t1",
        ] {
            assert_eq!(parse_branch(other), None, "{other}");
        }
        assert_eq!(
            branch_name("r-0123456789ab", "t3"),
            "smith/r-0123456789ab/t3"
        );
    }
}
