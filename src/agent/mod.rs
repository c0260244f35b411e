//! The Claude process: command line, environment and working directory; stream-json events;
//! containment (own process group, scrubbed environment, Drop guard); watchdogs; the stop
//! sequence; outcome classification; and the task actor that owns one process per attempt.
//!
//! - [`config`]: how smith runs `claude` ([`AgentConfig`]);
//! - [`command`]: argument vector, environment, working-directory check;
//! - [`event`]: typed stream-json events; [`line_reader`]: bounded stdout lines;
//!   [`stderr_tail`]: bounded stderr;
//! - [`process_group`]: the group, its kill-on-drop guard, process start times;
//! - [`attempt`]: one attempt from spawn to reaped exit ([`run_attempt`]);
//! - [`outcome`]: outcome classes and what an attempt leaves behind;
//! - [`gate`]: a request's hold over its attempts (budget left, closed on cancel or budget);
//! - [`task`]: the task actor ([`TaskActor`]).

pub mod attempt;
pub mod command;
pub mod config;
pub mod error;
pub mod event;
pub mod gate;
pub mod line_reader;
pub mod outcome;
pub mod process_group;
pub mod stderr_tail;
pub mod task;
pub mod task_attempt;

pub use attempt::{AttemptEvent, AttemptSpec, Control, run_attempt};
pub use command::{SessionArg, TaskOptions};
pub use config::AgentConfig;
pub use error::AgentError;
pub use event::{StreamEvent, Usage};
pub use gate::AttemptGate;
pub use outcome::{ExitStatus, Outcome, OutcomeReason, StopCause};
pub use process_group::ProcessGroup;
pub use task::{
    TaskActor, TaskCarry, TaskEnv, TaskEvent, TaskEventKind, TaskLabels, TaskMsg, TaskReporter,
    TaskSpec,
};
