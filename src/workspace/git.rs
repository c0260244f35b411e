//! The git CLI through a small typed wrapper: argument vectors (never a shell), the `GIT_*`
//! environment removed (so a surrounding hook's `GIT_DIR` or `GIT_INDEX_FILE` cannot redirect
//! smith), no prompts, C locale output, each run in a process group of its own — killed as a
//! group when it is dropped, when it ends (what it left running goes with it) and when it runs
//! past [`GIT_TIMEOUT`] (a git stuck on a lock, a hook or a slow file system fails with a clear
//! error instead of stalling its task or smithd) — and errors that carry git's own stderr.
//!
//! Why the CLI and not a library: worktrees, `merge-tree --write-tree` and merges must behave
//! exactly as the user's git does (their config, attributes, hooks for their own commands), and
//! neither `git2` nor `gix` covers worktree creation plus merges the way git does.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::process_group::{GroupGuard, ProcessGroup};

/// How long one git command may run before it is stopped (with its process group) and fails.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

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
    /// It ran too long and was stopped.
    #[error(
        "git {args} did not finish within {} and was stopped: look for a stale lock (.git/*.lock) or a hung hook in the repository",
        humantime::format_duration(*after)
    )]
    TimedOut {
        /// The arguments.
        args: String,
        /// The limit.
        after: Duration,
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
    program: PathBuf,
    timeout: Duration,
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
        Self {
            dir: dir.into(),
            program: "git".into(),
            timeout: GIT_TIMEOUT,
        }
    }

    /// Runs `git args…`; any exit code is returned.
    pub async fn output(&self, args: &[&str]) -> Result<GitOutput, GitError> {
        let mut command = tokio::process::Command::new(&self.program);
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
        let io = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                GitError::Missing
            } else {
                GitError::Io {
                    args: args.join(" "),
                    source,
                }
            }
        };
        let child = command.spawn().map_err(io)?;
        let group = ProcessGroup::new();
        if let Some(pid) = child.id() {
            group.set(pid);
        }
        // Whatever way this ends, nothing of the group is left running.
        let _guard = GroupGuard(group);
        let out = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(out) => out.map_err(io)?,
            Err(_) => {
                tracing::warn!(args = %args.join(" "), dir = %self.dir.display(), "a git command ran too long: stopped");
                return Err(GitError::TimedOut {
                    args: args.join(" "),
                    after: self.timeout,
                });
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    #[tokio::test]
    async fn a_git_that_hangs_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        // A "git" that starts a helper in its group, then hangs.
        let fake = dir.path().join("git");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\nsleep 1000 &\necho $! > {}\nsleep 1000\n",
                pids.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let git = Git {
            dir: dir.path().into(),
            program: fake,
            timeout: Duration::from_millis(500),
        };
        let e = git.run(&["status"]).await.unwrap_err();
        assert!(matches!(e, GitError::TimedOut { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("git status did not finish within 500ms"),
            "{e}"
        );
        let helper: i32 = std::fs::read_to_string(&pids)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            !alive(helper)
        });
        assert!(gone, "the helper git started is stopped with it");
    }
}
