//! The service's workspaces: where they live, what a new one gets, making one ready before an
//! attempt and committing after it, removing one — one writer per repository at a time.

use std::path::{Path, PathBuf};

use tracing::Instrument;

use super::error::WorkspaceError;
use super::prepare;
use super::repo_locks::RepoLocks;
use super::settings::WorkspaceSettings;
use super::worktree::Worktree;
use crate::protocol::ChangeSummary;
use crate::telemetry::metrics::metrics;

/// The service's workspaces: where they live, what new ones get, and the per-repository locks.
#[derive(Debug)]
pub struct Workspaces {
    settings: WorkspaceSettings,
    dir: PathBuf,
    locks: RepoLocks,
    unusable: Option<String>,
}

impl Workspaces {
    /// Workspaces under `dir` (`workspace.dir`, resolved) with `settings`.
    pub fn new(settings: WorkspaceSettings, dir: PathBuf) -> Self {
        Self {
            settings,
            dir,
            locks: RepoLocks::default(),
            unusable: None,
        }
    }

    /// Isolated requests are refused with `why` (e.g. `workspace.dir` outside `agent.roots`).
    pub fn refuse_with(mut self, why: Option<String>) -> Self {
        self.unusable = why;
        self
    }

    /// Why isolated requests are refused, if they are.
    pub fn unusable(&self) -> Option<&str> {
        self.unusable.as_deref()
    }

    /// Where worktrees are made.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings.
    pub fn settings(&self) -> &WorkspaceSettings {
        &self.settings
    }

    /// Makes `wt` ready for its worker — created (or found again), then `workspace.copy` and
    /// `workspace.setup` once (with `env` added to its environment) — and returns the worker's
    /// cwd. A `workspace.create` span under `parent`.
    pub async fn prepare(
        &self,
        wt: &Worktree,
        env: &[(String, String)],
        parent: &tracing::Span,
    ) -> Result<PathBuf, WorkspaceError> {
        let span = tracing::info_span!(
            target: "smith::workspace",
            parent: parent,
            "workspace.create",
            smith.workspace.branch = %wt.branch,
            smith.workspace.path = %wt.path.display(),
            smith.workspace.created = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        async {
            let created = {
                let _repo = self.locks.lock(&wt.repo).await;
                wt.create().await?
            };
            tracing::Span::current().record("smith.workspace.created", created);
            if created {
                self.count_alive();
            }
            prepare::make_ready(&self.settings, wt, env).await?;
            Ok(wt.cwd())
        }
        .instrument(span.clone())
        .await
        .inspect_err(|e: &WorkspaceError| {
            span.record("error.type", "workspace_failed");
            tracing::warn!(parent: &span, error = %e, "workspace not ready");
        })
    }

    /// Commits what the task changed in `wt` (a `workspace.commit` span under `parent`) and
    /// returns what its branch changed against the base.
    pub async fn settle(
        &self,
        wt: &Worktree,
        message: &str,
        parent: &tracing::Span,
    ) -> Result<ChangeSummary, WorkspaceError> {
        let span = tracing::info_span!(
            target: "smith::workspace",
            parent: parent,
            "workspace.commit",
            smith.workspace.branch = %wt.branch,
            smith.workspace.files = tracing::field::Empty,
        );
        async {
            let _repo = self.locks.lock(&wt.repo).await;
            if !wt.exists() {
                return Err(WorkspaceError::WrongState(format!(
                    "the worktree {} is gone, so what the task changed cannot be committed",
                    wt.path.display()
                )));
            }
            wt.commit(message, &self.settings.copy).await?;
            let changes = wt.changes().await?;
            tracing::Span::current().record("smith.workspace.files", changes.files.len() as i64);
            Ok(changes)
        }
        .instrument(span)
        .await
    }

    /// Removes `wt` and its branch.
    pub async fn remove(&self, wt: &Worktree) -> Result<(), WorkspaceError> {
        let result = {
            let _repo = self.locks.lock(&wt.repo).await;
            wt.remove().await
        };
        self.count_alive();
        result
    }

    /// Waits until nothing else writes to `repo`.
    pub(crate) async fn lock(&self, repo: &Path) -> tokio::sync::OwnedMutexGuard<()> {
        self.locks.lock(repo).await
    }

    /// The task worktree directories under `workspace.dir` (`<request>/<task>`).
    pub fn on_disk(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let Ok(requests) = std::fs::read_dir(&self.dir) else {
            return found;
        };
        for request in requests.flatten() {
            if let Ok(tasks) = std::fs::read_dir(request.path()) {
                found.extend(tasks.flatten().map(|t| t.path()).filter(|p| p.is_dir()));
            }
        }
        found
    }

    /// Sets `smith.workspaces.alive`.
    pub fn count_alive(&self) {
        metrics()
            .workspaces_alive
            .record(self.on_disk().len() as u64, &[]);
    }
}
