//! The task model: one [`Task`] per task of a request — who it is ([`TaskId`]: a work task by
//! position, the planner or the synthesizer), what it was asked, its attempts, the Claude session
//! a restart resumes, its workspace, its output and why it ended. The run holds it, the store
//! writes it, and what clients see of it (status line, summary, `show`) are conversions of it.

use std::fmt;

use crate::protocol::{
    ChangeSummary, TaskEnd, TaskInfo, TaskKind, TaskLine, TaskStatus, TaskSummary, ToolDenial,
};
use crate::workspace::TaskWorkspace;

/// Which task of its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskId {
    /// A work task, by 0-based position.
    Work(u32),
    /// The planner of plan mode.
    Planner,
    /// The synthesizer of `--synthesize`.
    Synthesizer,
}

/// Where the planner and the synthesizer are numbered: after any work task.
const PLANNER_INDEX: u32 = 10_000;
const SYNTHESIZER_INDEX: u32 = 10_001;

impl TaskId {
    /// What the task is for.
    pub fn kind(self) -> TaskKind {
        match self {
            TaskId::Work(_) => TaskKind::Work,
            TaskId::Planner => TaskKind::Plan,
            TaskId::Synthesizer => TaskKind::Synthesize,
        }
    }

    /// The number the database keys the task by and clients name its texts by (work tasks
    /// from 0, then the planner and the synthesizer).
    pub fn index(self) -> u32 {
        match self {
            TaskId::Work(i) => i,
            TaskId::Planner => PLANNER_INDEX,
            TaskId::Synthesizer => SYNTHESIZER_INDEX,
        }
    }

    /// The work task named `name` (`t3` → the third), as [`fmt::Display`] names it.
    pub fn work_named(name: &str) -> Option<Self> {
        let n: u32 = name.strip_prefix('t')?.parse().ok()?;
        n.checked_sub(1)
            .filter(|&i| i < PLANNER_INDEX)
            .map(TaskId::Work)
    }

    /// The task numbered `index` of kind `kind` (`None` when they do not match).
    pub fn from_index(kind: TaskKind, index: u32) -> Option<Self> {
        match (kind, index) {
            (TaskKind::Work, i) if i < PLANNER_INDEX => Some(TaskId::Work(i)),
            (TaskKind::Plan, PLANNER_INDEX) => Some(TaskId::Planner),
            (TaskKind::Synthesize, SYNTHESIZER_INDEX) => Some(TaskId::Synthesizer),
            _ => None,
        }
    }
}

/// `t1`, `t2`, … for work tasks; `plan`, `synthesize`.
impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskId::Work(i) => write!(f, "t{}", i + 1),
            TaskId::Planner => f.write_str("plan"),
            TaskId::Synthesizer => f.write_str("synthesize"),
        }
    }
}

/// The attempt of a task that runs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// Its process (= its process group).
    pub pid: u32,
    /// The worker node it runs on (`None`: this host).
    pub node: Option<String>,
    /// When it started (Unix ms).
    pub since_ms: i64,
    /// Its tool calls that run now, oldest first.
    pub tools: Vec<crate::protocol::ToolActivity>,
    /// Tool calls it made so far.
    pub tool_calls: u32,
    /// The end of what it wrote so far (at most [`TEXT_TAIL_BYTES`]; `…` first when cut): what
    /// a client that attaches now is shown first.
    pub text: String,
}

/// How much of a running attempt's text is kept for clients that attach later.
pub const TEXT_TAIL_BYTES: usize = 16 * 1024;

impl Running {
    /// Its attempt wrote `text`.
    pub fn wrote(&mut self, text: &str) {
        self.text.push_str(text);
        if self.text.len() > TEXT_TAIL_BYTES {
            let mut cut = self.text.len() - TEXT_TAIL_BYTES + '…'.len_utf8();
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text = format!("…{}", &self.text[cut..]);
        }
    }
}

/// One task of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Which task.
    pub id: TaskId,
    /// Short name.
    pub name: String,
    /// What it is asked to do.
    pub instruction: String,
    /// Where it stands (provisional while its phase runs).
    pub status: TaskStatus,
    /// Why it ended as it did (none while it has not).
    pub end: Option<TaskEnd>,
    /// Attempts started.
    pub attempts: u32,
    /// The Claude session a restart (or a resume) continues.
    pub claude_session_id: Option<String>,
    /// Its git worktree, when its request is isolated (a work task's).
    pub workspace: Option<TaskWorkspace>,
    /// Its result: the last completed attempt's (kept if a later attempt does not complete).
    pub output: Option<String>,
    /// Cost of all its attempts.
    pub cost_usd: f64,
    /// The first line of why its last attempt failed, and what a person can do about it.
    pub failure: Option<(String, Option<String>)>,
    /// Its running attempt.
    pub running: Option<Running>,
    /// Tool calls the CLI refused in its last attempt.
    pub denials: Vec<ToolDenial>,
}

impl Task {
    /// A task not started yet.
    pub fn new(id: TaskId, name: impl Into<String>, instruction: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            instruction: instruction.into(),
            status: TaskStatus::Pending,
            end: None,
            attempts: 0,
            claude_session_id: None,
            workspace: None,
            output: None,
            cost_usd: 0.0,
            failure: None,
            running: None,
            denials: Vec::new(),
        }
    }

    /// Whether it has its result (it is not run again).
    pub fn succeeded(&self) -> bool {
        self.status == TaskStatus::Succeeded
    }

    /// Its line in the status tree (`now_ms` for the running attempt's age).
    pub fn line(&self, now_ms: i64) -> TaskLine {
        TaskLine {
            id: self.id.to_string(),
            name: self.name.clone(),
            status: self.status,
            attempt: self.attempts,
            restarts: self.attempts.saturating_sub(1),
            pid: self.running.as_ref().map(|r| r.pid),
            node: self.running.as_ref().and_then(|r| r.node.clone()),
            uptime_secs: self
                .running
                .as_ref()
                .map(|r| (now_ms - r.since_ms).max(0) as f64 / 1000.0),
            tools: self
                .running
                .as_ref()
                .map(|r| r.tools.clone())
                .unwrap_or_default(),
            cost_usd: self.cost_usd,
            exit_reason: self.end,
        }
    }

    /// What the request's summary says of it.
    pub fn summary(&self) -> TaskSummary {
        let (detail, hint) = match &self.failure {
            Some((detail, hint)) if !self.succeeded() => (Some(detail.clone()), hint.clone()),
            _ => (None, None),
        };
        TaskSummary {
            id: self.id.to_string(),
            name: self.name.clone(),
            status: self.status,
            attempts: self.attempts,
            exit_reason: self.end,
            cost_usd: self.cost_usd,
            output: self.output.clone(),
            detail,
            hint,
            branch: self.branch(),
            changes: self.changes(),
            denials: self.denials.clone(),
        }
    }

    /// Its worktree's branch, if it has one.
    pub fn branch(&self) -> Option<String> {
        self.workspace.as_ref().map(|w| w.worktree.branch.clone())
    }

    /// What it changed in its worktree, once an attempt ended.
    pub fn changes(&self) -> Option<ChangeSummary> {
        self.workspace.as_ref().and_then(|w| w.changes.clone())
    }

    /// What `show` says of it.
    pub fn info(&self) -> TaskInfo {
        TaskInfo {
            idx: self.id.index(),
            kind: self.id.kind(),
            id: self.id.to_string(),
            name: self.name.clone(),
            instruction: self.instruction.clone(),
            status: self.status,
            exit_reason: self.end,
            attempts: self.attempts,
            output: self.output.clone(),
            cost_usd: self.cost_usd,
            claude_session_id: self.claude_session_id.clone(),
            branch: self.branch(),
            changes: self.changes(),
            denials: self.denials.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_attempts_text_keeps_its_end_only() {
        let mut r = Running {
            pid: 1,
            node: None,
            since_ms: 0,
            tools: Vec::new(),
            tool_calls: 0,
            text: String::new(),
        };
        r.wrote("héllo ");
        assert_eq!(r.text, "héllo ");
        // Multi-byte characters everywhere: the cut lands on a boundary.
        for _ in 0..TEXT_TAIL_BYTES {
            r.wrote("é");
        }
        r.wrote(" end");
        assert!(r.text.len() <= TEXT_TAIL_BYTES, "{}", r.text.len());
        assert!(r.text.starts_with('…') && r.text.ends_with("éé end"));
    }

    #[test]
    fn ids_are_named_and_numbered_as_before() {
        assert_eq!(TaskId::Work(0).to_string(), "t1");
        assert_eq!(TaskId::Planner.to_string(), "plan");
        assert_eq!(TaskId::Synthesizer.to_string(), "synthesize");
        for id in [
            TaskId::Work(0),
            TaskId::Work(41),
            TaskId::Planner,
            TaskId::Synthesizer,
        ] {
            assert_eq!(TaskId::from_index(id.kind(), id.index()), Some(id));
        }
        assert_eq!(TaskId::from_index(TaskKind::Plan, 3), None);
        assert_eq!(TaskId::from_index(TaskKind::Work, PLANNER_INDEX), None);
        assert_eq!(TaskId::work_named("t1"), Some(TaskId::Work(0)));
        assert_eq!(TaskId::work_named("t12"), Some(TaskId::Work(11)));
        for other in ["t0", "plan", "synthesize", "1", "t", "t10001"] {
            assert_eq!(TaskId::work_named(other), None, "{other}");
        }
        assert_eq!(
            TaskId::work_named(&TaskId::Work(41).to_string()),
            Some(TaskId::Work(41))
        );
    }
}
