//! The `[workspace]` section of the configuration: where isolated tasks' worktrees live, what
//! each new worktree is given before its worker starts, and how long they are kept.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, check_durations, duration, empty_is_none};

/// `[workspace]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspaceSettings {
    /// Where worktrees are made, as `<dir>/<request>/<task>` (empty: `<data_dir>/worktrees`).
    /// Workers run there, so it must lie inside `agent.roots`.
    pub dir: PathBuf,
    /// Paths (relative to the repository's top level) copied into each new worktree — reflinked
    /// where the file system can: untracked things a worktree lacks (`.env`, `node_modules`,
    /// `target`). Missing ones are skipped.
    pub copy: Vec<PathBuf>,
    /// A command (`sh -c`) run in each new worktree, at the task's working directory, before its
    /// worker starts (empty: none); its failure fails the task (`workspace_failed`).
    #[serde(with = "empty_is_none")]
    pub setup: Option<String>,
    /// How long `workspace.setup` may run.
    #[serde(with = "duration")]
    pub setup_timeout: Duration,
    /// Worktrees and branches of finished requests are removed after this (unless applied or
    /// discarded earlier).
    #[serde(with = "duration")]
    pub keep_for: Duration,
    /// How often expired and orphaned worktrees are looked for (besides at startup).
    #[serde(with = "duration")]
    pub reconcile_every: Duration,
}

impl Default for WorkspaceSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            copy: Vec::new(),
            setup: None,
            setup_timeout: Duration::from_secs(10 * 60),
            keep_for: Duration::from_secs(7 * 24 * 3600),
            reconcile_every: Duration::from_secs(3600),
        }
    }
}

impl WorkspaceSettings {
    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[
                ("workspace.setup_timeout", self.setup_timeout),
                ("workspace.keep_for", self.keep_for),
                ("workspace.reconcile_every", self.reconcile_every),
            ],
            &["workspace.setup_timeout", "workspace.reconcile_every"],
        )?;
        if !self.dir.as_os_str().is_empty() && !self.dir.is_absolute() {
            return Err(Invalid::new(
                "workspace.dir",
                format!("{} must be an absolute path", self.dir.display()),
            ));
        }
        if let Some(p) = self
            .copy
            .iter()
            .find(|p| p.is_absolute() || p.components().any(|c| c.as_os_str() == ".."))
        {
            return Err(Invalid::new(
                "workspace.copy",
                format!(
                    "{} must be a path inside the repository, relative to its top level",
                    p.display()
                ),
            ));
        }
        Ok(())
    }
}
