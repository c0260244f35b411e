//! Keeping `workspace.dir` and the repositories clean: worktrees of finished requests older than
//! `workspace.keep_for` are removed with their branches; worktrees under `workspace.dir` that no
//! active record names (their request pruned, a crash between steps) are removed; branches
//! `smith/r-…/t…` that no active record names are deleted; `git worktree prune` runs in every
//! repository smith knows. Nothing else is touched: only directories of smith's own layout
//! under its own directory, and only branches of its own naming.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use super::git::Git;
use super::workspaces::Workspaces;
use super::worktree::{TaskWorkspace, parse_branch};
use crate::protocol::WorkspaceState;
use crate::telemetry::metrics::metrics;

/// A workspace the store knows.
#[derive(Debug, Clone)]
pub struct Known {
    /// Request id.
    pub request_id: String,
    /// Task id.
    pub task_id: String,
    /// The workspace.
    pub workspace: TaskWorkspace,
    /// When its request finished (Unix ms; `None` while it may still run or resume).
    pub finished_ms: Option<i64>,
}

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pass {
    /// `(request, task)` whose workspace expired and was removed (to be marked discarded).
    pub expired: Vec<(String, String)>,
    /// Worktree directories removed that no record named.
    pub orphan_worktrees: Vec<PathBuf>,
    /// Branches deleted that no record named.
    pub orphan_branches: Vec<String>,
    /// Bytes the remaining worktrees take.
    pub disk_bytes: u64,
}

/// What was on disk and in the repositories before the store was read: a worktree is recorded
/// before it is made, so anything seen here that the later read does not name is an orphan —
/// never one that a request was making meanwhile.
#[derive(Debug, Default, Clone)]
pub struct Scan {
    /// Task worktree directories under `workspace.dir`.
    dirs: Vec<PathBuf>,
    /// Per repository, the branches of smith's naming.
    branches: Vec<(PathBuf, Vec<String>)>,
}

/// Looks at `workspace.dir` and at the branches of `repos` (those the store knew).
pub async fn scan(workspaces: &Workspaces, repos: BTreeSet<PathBuf>) -> Scan {
    let dirs = workspaces.on_disk();
    let mut branches = Vec::new();
    for repo in repos.into_iter().filter(|r| r.is_dir()) {
        let listed = Git::new(&repo)
            .run(&[
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/smith/",
            ])
            .await;
        if let Ok(out) = listed {
            let ours = out
                .lines()
                .map(str::trim)
                .filter(|b| parse_branch(b).is_some())
                .map(str::to_string)
                .collect();
            branches.push((repo, ours));
        }
    }
    Scan { dirs, branches }
}

/// One pass (see the module doc) at `now_ms`, over what `scan` saw and what the store knows
/// (read after the scan).
pub async fn reconcile(workspaces: &Workspaces, scan: Scan, known: &[Known], now_ms: i64) -> Pass {
    let mut pass = Pass::default();
    let keep_ms = workspaces.settings().keep_for.as_millis() as i64;
    let mut active_paths: HashSet<PathBuf> = HashSet::new();
    let mut active_branches: HashSet<(PathBuf, String)> = HashSet::new();
    let mut repos: BTreeSet<PathBuf> = BTreeSet::new();
    for k in known {
        let wt = &k.workspace.worktree;
        repos.insert(wt.repo.clone());
        if k.workspace.state != WorkspaceState::Active {
            continue;
        }
        let expired = k
            .finished_ms
            .is_some_and(|f| f.saturating_add(keep_ms) <= now_ms);
        if expired {
            match workspaces.remove(wt).await {
                Ok(()) => pass.expired.push((k.request_id.clone(), k.task_id.clone())),
                Err(e) => {
                    tracing::warn!(error = %e, path = %wt.path.display(), "cannot remove an expired worktree")
                }
            }
            continue;
        }
        active_paths.insert(wt.path.clone());
        active_branches.insert((wt.repo.clone(), wt.branch.clone()));
    }
    for path in scan.dirs {
        if active_paths.contains(&path) || !path.exists() {
            continue;
        }
        let Some((request, task)) = layout_names(workspaces.dir(), &path) else {
            continue;
        };
        match remove_orphan(workspaces, &path, &request, &task).await {
            Ok(repo) => {
                if let Some(repo) = repo {
                    repos.insert(repo);
                }
                pass.orphan_worktrees.push(path);
            }
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot remove an orphaned worktree")
            }
        }
    }
    for (repo, branches) in scan.branches {
        let _lock = workspaces.lock(&repo).await;
        let git = Git::new(&repo);
        for branch in branches {
            if active_branches.contains(&(repo.clone(), branch.clone())) {
                continue;
            }
            // Checked out in a worktree still (one smith is making): git refuses, and it stays.
            if git.run(&["branch", "-D", "--quiet", &branch]).await.is_ok() {
                pass.orphan_branches.push(branch);
            }
        }
    }
    for repo in repos.iter().filter(|r| r.is_dir()) {
        let _lock = workspaces.lock(repo).await;
        let _ = Git::new(repo).run(&["worktree", "prune"]).await;
    }
    if let Ok(entries) = std::fs::read_dir(workspaces.dir()) {
        for e in entries.flatten() {
            // Request directories (smith's layout) left empty.
            let name = e.file_name();
            let ours = name
                .to_str()
                .is_some_and(|n| parse_branch(&super::worktree::branch_name(n, "t1")).is_some());
            if ours {
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
    pass.disk_bytes = workspaces.on_disk().iter().map(|p| disk_usage(p)).sum();
    let m = metrics();
    m.workspaces_disk.record(pass.disk_bytes, &[]);
    workspaces.count_alive();
    pass
}

/// `(request, task)` when `path` is `<dir>/r-<12 hex>/t<N>`, smith's own layout.
fn layout_names(dir: &Path, path: &Path) -> Option<(String, String)> {
    let rel = path.strip_prefix(dir).ok()?;
    let mut parts = rel.iter().map(|p| p.to_str());
    let (request, task) = (parts.next()??, parts.next()??);
    let branch = super::worktree::branch_name(request, task);
    parse_branch(&branch)?;
    Some((request.to_string(), task.to_string()))
}

/// Removes an orphaned worktree directory (through its repository when it still is a worktree,
/// deleting its branch there) and returns that repository.
async fn remove_orphan(
    workspaces: &Workspaces,
    path: &Path,
    request: &str,
    task: &str,
) -> Result<Option<PathBuf>, super::error::WorkspaceError> {
    let repo = if path.join(".git").is_file() {
        Git::new(path)
            .line(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .await
            .ok()
            .map(PathBuf::from)
            .and_then(|common| {
                // `<repo>/.git` → `<repo>`.
                (common.file_name()? == ".git").then(|| common.parent().map(Path::to_path_buf))?
            })
    } else {
        None
    };
    match &repo {
        Some(repo) => {
            let wt = super::worktree::Worktree {
                repo: repo.clone(),
                path: path.to_path_buf(),
                branch: super::worktree::branch_name(request, task),
                base: String::new(),
                rel: PathBuf::new(),
            };
            workspaces.remove(&wt).await?;
        }
        None => {
            std::fs::remove_dir_all(path).map_err(|source| super::error::WorkspaceError::Io {
                what: "removing the orphaned directory",
                path: path.to_path_buf(),
                source,
            })?
        }
    }
    Ok(repo)
}

/// Bytes of the files under `path` (not following symlinks).
pub fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_smiths_layout_is_recognised() {
        let dir = Path::new("/d/worktrees");
        assert_eq!(
            layout_names(dir, &dir.join("r-0123456789ab/t2")),
            Some(("r-0123456789ab".into(), "t2".into()))
        );
        for other in ["mine/t1", "r-0123456789ab/notes", "r-01/t1"] {
            assert_eq!(layout_names(dir, &dir.join(other)), None, "{other}");
        }
        assert_eq!(
            layout_names(dir, Path::new("/elsewhere/r-0123456789ab/t1")),
            None
        );
    }
}
