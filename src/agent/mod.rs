//! The Claude process: command line, environment and working directory; stream-json events;
//! containment (own process group, attempt tag, subreaper, scrubbed environment, Drop guard);
//! watchdogs; the stop
//! sequence; outcome classification; and the task actor that owns one process per attempt.
//!
//! - `config`: how smith runs `claude` ([`AgentConfig`]);
//! - `command`: argument vector, environment, working-directory check;
//! - [`event`]: typed stream-json events (`rate_limit_event`: the account's rate-limit state);
//!   `line_reader`: bounded stdout lines; `stderr_tail`: bounded stderr;
//! - `proc_info`: what /proc says (the process group and its kill-on-drop guard are the crate's
//!   `process_group`, shared with workspace setups);
//! - [`attempt_tag`]: `SMITH_ATTEMPT`, finding and stopping every process of an attempt;
//!   `reaper`: smithd as child subreaper, reaping adopted orphans by pid;
//! - `launch`: the launch spec, everything fixed when a worker is spawned;
//! - `attempt`: one attempt from spawn to reaped exit ([`run_launch`]); `clocks`: its wall and
//!   idle clocks (standing still while a call waits for a person); `tool_calls`: its tool calls
//!   decided by smith (`permissions.mode = "stdio"`); `relayed_calls`: a worker node's, passed
//!   to the control plane that decides them;
//! - `executor`: the seam the task actor runs attempts through (local processes);
//!   `placement`: where an attempt runs — here, or on a worker node (`crate::cluster`);
//! - [`outcome`]: outcome classes and what an attempt leaves behind (`receipt`: where a remote
//!   one was read, acknowledged once committed);
//! - `gate`: a request's hold over its attempts (budget left, closed on cancel or budget);
//! - `hint`: what a person should do about a failed attempt;
//! - `task_env`: what a task's attempts are given and report; `task_runner`: the actor's runner
//!   (attempts again while throttled, a panic guard); `task_attempt`: one attempt;
//!   `attempt_spans`: what it leaves on its span and in the metrics; `task`: the task actor
//!   ([`TaskActor`]).

pub(crate) mod attempt;
pub(crate) mod attempt_spans;
pub mod attempt_tag;
pub(crate) mod clocks;
pub(crate) mod command;
pub(crate) mod config;
pub(crate) mod denial;
pub(crate) mod error;
pub mod event;
pub(crate) mod executor;
pub(crate) mod gate;
pub(crate) mod hint;
pub(crate) mod launch;
pub(crate) mod line_reader;
pub(crate) mod live;
pub(crate) mod observed;
pub mod outcome;
pub(crate) mod placement;
pub(crate) mod proc_info;
pub(crate) mod rate_limit_event;
pub(crate) mod reaper;
pub(crate) mod receipt;
pub(crate) mod relayed_calls;
pub(crate) mod stderr_tail;
pub(crate) mod task;
pub(crate) mod task_attempt;
pub(crate) mod task_env;
pub(crate) mod task_runner;
pub(crate) mod tool_calls;
pub(crate) mod transcript;
pub(crate) mod usage;
pub mod warm_pool;
pub(crate) mod warm_profile;

pub use crate::process_group::ProcessGroup;
pub use attempt::{AttemptEvent, run_attempt, run_launch};
pub use command::{SessionArg, TaskOptions};
pub use config::AgentConfig;
pub use error::AgentError;
pub use event::{StreamEvent, Usage};
pub use executor::{Executor, LocalExecutor};
pub use gate::AttemptGate;
pub use launch::{AttemptSpec, LaunchSpec, StdinSide, Watchdogs};
pub use outcome::{ExitStatus, Outcome, OutcomeReason, StopCause};
pub use placement::{NodeSlot, NodeWork, Nodes};
pub use receipt::Receipt;
pub use relayed_calls::Relay;
pub use task::{TaskActor, TaskMsg};
pub use task_env::{
    AttemptRecorder, AttemptStart, TaskCarry, TaskEnv, TaskEvent, TaskEventKind, TaskLabels,
    TaskReporter, TaskSpec, TaskWorktree,
};
pub use tool_calls::{Answered, Decider, ToolCalls};
pub use warm_pool::{WarmPool, WarmProcess};
