//! The user's checkout an isolated request starts from: its repository's top level, where the
//! request's working directory lies inside it, and the commit worktrees are cut from — resolved
//! once, when the request is accepted, and stored with it (a resume after a restart of smithd
//! cuts from the same commit).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::WorkspaceError;
use super::git::Git;
use crate::protocol::WorktreeBase;

/// A checkout, as an isolated request was accepted from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    /// The repository's top level (canonical).
    pub repo: PathBuf,
    /// The request's working directory, relative to `repo` (empty: the top level).
    pub rel: PathBuf,
    /// The commit worktrees are cut from (the checkout's HEAD then).
    pub head: String,
    /// The checkout's branch then (`None`: a detached HEAD).
    pub branch: Option<String>,
    /// It had uncommitted changes (they are not carried over).
    pub dirty: bool,
}

impl Checkout {
    /// The checkout `cwd` lies in; an error naming what to do when it is not in a git
    /// repository, git is missing, or the repository has no commit yet.
    pub async fn inspect(cwd: &Path) -> Result<Self, WorkspaceError> {
        let cwd = cwd.canonicalize().map_err(|e| WorkspaceError::NotARepo {
            cwd: cwd.to_path_buf(),
            why: e.to_string(),
        })?;
        let git = Git::new(&cwd);
        let top = git
            .line(&["rev-parse", "--show-toplevel"])
            .await
            .map_err(|e| match e {
                super::git::GitError::Failed { stderr, .. } => WorkspaceError::NotARepo {
                    cwd: cwd.clone(),
                    why: stderr,
                },
                other => WorkspaceError::Git(other),
            })?;
        let repo = PathBuf::from(top)
            .canonicalize()
            .map_err(|e| WorkspaceError::NotARepo {
                cwd: cwd.clone(),
                why: e.to_string(),
            })?;
        let head = git
            .line(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .await
            .map_err(|_| WorkspaceError::NoCommit { repo: repo.clone() })?;
        let branch = git
            .line(&["symbolic-ref", "--quiet", "--short", "HEAD"])
            .await
            .ok()
            .filter(|b| !b.is_empty());
        let dirty = !git
            .run(&["status", "--porcelain", "--untracked-files=no"])
            .await?
            .trim()
            .is_empty();
        let rel = cwd
            .strip_prefix(&repo)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        Ok(Self {
            repo,
            rel,
            head,
            branch,
            dirty,
        })
    }

    /// As the accepted line shows it.
    pub fn base(&self) -> WorktreeBase {
        WorktreeBase {
            repo: self.repo.display().to_string(),
            branch: self.branch.clone(),
            commit: self.head.clone(),
            dirty: self.dirty,
        }
    }
}
