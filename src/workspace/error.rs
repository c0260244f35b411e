//! What can go wrong with workspaces, each saying what to do.

use std::path::PathBuf;

use super::git::GitError;

/// A workspace failure.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// `--isolate worktree` from a directory outside any git repository.
    #[error(
        "--isolate worktree needs a git repository, and {cwd} is not inside one ({why}): run from a checkout, pass --cwd DIR, or use --isolate none"
    )]
    NotARepo {
        /// The request's working directory.
        cwd: PathBuf,
        /// git's words.
        why: String,
    },
    /// A repository without a commit has nothing to cut worktrees from.
    #[error(
        "the repository {repo} has no commit yet, so there is nothing to cut worktrees from: commit first, or use --isolate none"
    )]
    NoCommit {
        /// The repository.
        repo: PathBuf,
    },
    /// A git command failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A file operation on a worktree failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `workspace.copy` failed.
    #[error("workspace.copy of {path} into the worktree failed: {why}")]
    Copy {
        /// The path.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// `workspace.setup` failed or ran too long.
    #[error("workspace.setup `{command}` failed in {cwd} ({status}): {output}")]
    Setup {
        /// The command.
        command: String,
        /// Where it ran.
        cwd: PathBuf,
        /// How it ended.
        status: String,
        /// The end of what it printed.
        output: String,
    },
    /// Asked about a request or task that has no workspace.
    #[error("{0}")]
    NotFound(String),
    /// Not possible in its state.
    #[error("{0}")]
    WrongState(String),
}
