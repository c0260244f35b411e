//! Workspaces on the wire: how a request isolates its workers, what a task changed, and the
//! `diff` / `apply` / `discard` / `workspaces` exchanges.

use serde::{Deserialize, Serialize};

use super::ask::named_enum;

named_enum! {
    /// Where a request's work tasks run.
    Isolation, "isolation" {
        /// All in the request's working directory (questions, reviews, one writer).
        None = "none",
        /// Each in a git worktree of its own on branch `smith/<request>/<task>`.
        Worktree = "worktree",
    }
}

named_enum! {
    /// Where a task's worktree stands.
    WorkspaceState, "workspace state" {
        /// Recorded; the worktree exists or is about to be made (the task runs or may resume).
        Active = "active",
        /// Its branch was merged into the checkout; worktree and branch removed.
        Applied = "applied",
        /// Thrown away (by `discard` or expiry); worktree and branch removed.
        Discarded = "discarded",
    }
}

/// The checkout an isolated request's worktrees are cut from, as accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorktreeBase {
    /// The repository's top level.
    pub repo: String,
    /// The checkout's branch (`None`: a detached HEAD).
    pub branch: Option<String>,
    /// The commit every worktree starts from.
    pub commit: String,
    /// The checkout had uncommitted changes (they are not carried over).
    pub dirty: bool,
}

/// One file a task changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Its path in the repository.
    pub path: String,
    /// Lines added (`None`: a binary file).
    pub added: Option<u64>,
    /// Lines removed (`None`: a binary file).
    pub removed: Option<u64>,
}

/// What a task changed on its branch, against the base commit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChangeSummary {
    /// The files, in path order.
    pub files: Vec<FileChange>,
}

impl ChangeSummary {
    /// Lines added over all files.
    pub fn added(&self) -> u64 {
        self.files.iter().filter_map(|f| f.added).sum()
    }

    /// Lines removed over all files.
    pub fn removed(&self) -> u64 {
        self.files.iter().filter_map(|f| f.removed).sum()
    }

    /// `3 files, +12 −4`, or `no changes`.
    pub fn line(&self) -> String {
        match self.files.len() {
            0 => "no changes".into(),
            1 => format!("1 file, +{} −{}", self.added(), self.removed()),
            n => format!("{n} files, +{} −{}", self.added(), self.removed()),
        }
    }
}

/// One task's workspace as `smith workspaces` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// Request id.
    pub request_id: String,
    /// Task id (`t1`, …).
    pub task_id: String,
    /// The repository it belongs to.
    pub repo: String,
    /// The worktree directory.
    pub path: String,
    /// Its branch.
    pub branch: String,
    /// The commit it was cut from.
    pub base: String,
    /// Where it stands.
    pub state: WorkspaceState,
    /// When it was recorded (Unix ms).
    pub created_ms: i64,
    /// Bytes on disk (0 once removed).
    pub disk_bytes: u64,
    /// What the task changed, once it ended.
    pub changes: Option<ChangeSummary>,
    /// The worktree directory exists.
    pub present: bool,
}

/// `Request::Diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffQuery {
    /// Request id.
    pub request_id: String,
    /// One task (`t2`), or all of the request's.
    pub task: Option<String>,
    /// Only the per-file statistics.
    pub stat: bool,
}

/// `Response::Diff`: one task's diff (base → branch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDiff {
    /// Task id.
    pub task_id: String,
    /// Its branch.
    pub branch: String,
    /// What it changed.
    pub changes: ChangeSummary,
    /// The unified diff (empty with `stat`).
    pub diff: String,
}

/// `Response::Diff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffReply {
    /// Request id.
    pub request_id: String,
    /// The tasks' diffs, in task order.
    pub tasks: Vec<TaskDiff>,
}

/// `Request::Apply` and `Request::Discard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceOp {
    /// Request id.
    pub request_id: String,
    /// These tasks (`t1`, …), in this order; empty: for `apply` the tasks that succeeded, for
    /// `discard` all of the request's.
    pub tasks: Vec<String>,
}

/// What happened to one task's branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskApply {
    /// Merged into the checkout (`commit`: the checkout's new HEAD).
    Merged {
        /// The checkout's HEAD after the merge.
        commit: String,
    },
    /// It changed nothing; its worktree and branch are removed.
    NoChanges,
    /// The merge would conflict: nothing was touched; the branch is kept.
    Conflict {
        /// Conflicting files.
        files: Vec<String>,
        /// The command that merges it by hand.
        command: String,
    },
    /// Files the merge would touch have uncommitted changes in the checkout: nothing touched.
    Dirty {
        /// Those files.
        files: Vec<String>,
    },
    /// Thrown away (`discard`).
    Discarded,
    /// Not reached: an earlier task stopped the run.
    Skipped,
}

/// One task's part of an `apply` or `discard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskApplyReport {
    /// Task id.
    pub task_id: String,
    /// Its branch.
    pub branch: String,
    /// What happened.
    pub result: TaskApply,
}

/// `Response::Applied`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyReply {
    /// Request id.
    pub request_id: String,
    /// The checkout the branches were merged into.
    pub repo: String,
    /// Per task, in order.
    pub tasks: Vec<TaskApplyReport>,
}

impl ApplyReply {
    /// Every task was merged, had nothing to merge, or was discarded.
    pub fn complete(&self) -> bool {
        self.tasks.iter().all(|t| {
            matches!(
                t.result,
                TaskApply::Merged { .. } | TaskApply::NoChanges | TaskApply::Discarded
            )
        })
    }
}

/// `Request::Workspaces`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WorkspacesQuery {}

/// `Response::Workspaces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceList {
    /// Every workspace smith keeps (active ones, newest first).
    pub workspaces: Vec<WorkspaceInfo>,
}
