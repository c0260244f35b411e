//! The git CLI through a small typed wrapper: argument vectors (never a shell), the `GIT_*`
//! environment removed (so a surrounding hook's `GIT_DIR` or `GIT_INDEX_FILE` cannot redirect
//! smith), no prompts, C locale output, each run in a process group of its own and killed on
//! drop, and errors that carry git's own stderr.
//!
//! Why the CLI and not a library: worktrees, `merge-tree --write-tree` and merges must behave
//! exactly as the user's git does (their config, attributes, hooks for their own commands), and
//! neither `git2` nor `gix` covers worktree creation plus merges the way git does.

use std::path::PathBuf;
use std::process::Stdio;

/// A failed git command.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// `git` is not installed (or not on PATH).
    #[error(
        "git is not installed where smithd runs (or not on its PATH): install git, or use --isolate none"
    )]
    Missing,
    /// It could not be run.
    #[error("git {args}: {source}")]
    Io {
        /// The arguments.
        args: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited non-zero.
    #[error("git {args} failed ({status}): {stderr}")]
    Failed {
        /// The arguments.
        args: String,
        /// Its exit status.
        status: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
}

/// What a git run printed and how it exited.
#[derive(Debug)]
pub struct GitOutput {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Stdout.
    pub stdout: String,
    /// Stderr, trimmed.
    pub stderr: String,
}

/// Git commands in one directory.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

/// The identity and settings smith's own commits and merges use: independent of the user's git
/// identity, signing and hooks.
pub const SMITH_IDENTITY: &[&str] = &[
    "-c",
    "user.name=smith",
    "-c",
    "user.email=smith@localhost",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "core.hooksPath=/dev/null",
];

impl Git {
    /// Commands run in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Runs `git args…`; any exit code is returned.
    pub async fn output(&self, args: &[&str]) -> Result<GitOutput, GitError> {
        let mut command = tokio::process::Command::new("git");
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GIT_") {
                command.env_remove(name);
            }
        }
        command
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("LC_ALL", "C");
        let out = command.output().await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                GitError::Missing
            } else {
                GitError::Io {
                    args: args.join(" "),
                    source,
                }
            }
        })?;
        Ok(GitOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    /// Runs `git args…`; its stdout, or an error with its stderr when it exits non-zero.
    pub async fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.output(args).await?;
        if out.code == Some(0) {
            Ok(out.stdout)
        } else {
            Err(GitError::Failed {
                args: args.join(" "),
                status: out
                    .code
                    .map_or_else(|| "killed".to_string(), |c| format!("exit {c}")),
                stderr: out.stderr,
            })
        }
    }

    /// Like [`Git::run`], with smith's identity (see [`SMITH_IDENTITY`]) before `args`.
    pub async fn run_as_smith(&self, args: &[&str]) -> Result<String, GitError> {
        let all: Vec<&str> = SMITH_IDENTITY.iter().chain(args).copied().collect();
        self.run(&all).await
    }

    /// The first line of `git args…`, trimmed.
    pub async fn line(&self, args: &[&str]) -> Result<String, GitError> {
        Ok(self
            .run(args)
            .await?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string())
    }
}
