//! The launch spec: everything fixed when a worker is spawned — program, argument vector, the
//! complete environment, the checked working directory, the umask, the watchdogs, and what the
//! stdin side must do. An attempt runs from one; what each later capability adds to a worker
//! (a workspace's cwd, permission flags and a stdin handler, the governor's environment, live
//! output flags) is added here, and a warm pool or a remote node starts exactly this.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::attempt_tag::{AttemptTag, TAG_VAR};
use super::command::{ASK_SMITH, SessionArg, TaskOptions, build_args, build_env, check_cwd};
use super::config::AgentConfig;
use super::error::AgentError;
use super::transcript::TranscriptFile;
use crate::permissions::Policy;

/// The watchdogs and limits of a running attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchdogs {
    /// Wall-clock limit.
    pub timeout: Duration,
    /// No output line for this long → `hung`.
    pub idle_timeout: Duration,
    /// The same while a tool call runs.
    pub tool_timeout: Duration,
    /// After `result`, the process must exit within this.
    pub result_grace: Duration,
    /// After an interrupt request, how long until SIGTERM.
    pub interrupt_grace: Duration,
    /// After SIGTERM, how long until SIGKILL.
    pub term_grace: Duration,
    /// Longest stdout line accepted.
    pub max_line_bytes: usize,
    /// Bytes of stderr kept.
    pub stderr_tail_bytes: usize,
}

impl From<&AgentConfig> for Watchdogs {
    fn from(c: &AgentConfig) -> Self {
        Self {
            timeout: c.timeout,
            idle_timeout: c.idle_timeout,
            tool_timeout: c.tool_timeout,
            result_grace: c.result_grace,
            interrupt_grace: c.interrupt_grace,
            term_grace: c.term_grace,
            max_line_bytes: c.max_line_bytes,
            stderr_tail_bytes: c.stderr_tail_bytes,
        }
    }
}

/// What the stdin side of a worker does: send the first user message (then, later, answer the
/// CLI's control requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdinSide {
    /// The user message: the prompt, or the continuation message of a resumed attempt.
    pub first_message: String,
    /// Answer the CLI's `can_use_tool` requests by this policy (`permissions.mode = "stdio"`).
    pub permissions: Option<Arc<Policy>>,
    /// The task's own worktree (what the `workspace-write` preset lets it edit).
    pub worktree: Option<PathBuf>,
}

/// What one attempt runs, before it is made into a launch spec: the service's agent settings,
/// the task's choices, the Claude session, the message and the attempt's tag.
#[derive(Debug, Clone)]
pub struct AttemptSpec {
    /// Service-wide settings.
    pub config: Arc<AgentConfig>,
    /// Per-task settings.
    pub task: TaskOptions,
    /// Fresh session or resume.
    pub session: SessionArg,
    /// The user message (the prompt, or the continuation message on resume).
    pub message: String,
    /// The attempt's tag (`SMITH_ATTEMPT`); every process carrying it is stopped at the end.
    pub tag: Option<AttemptTag>,
    /// Where its transcript goes (`None`: not kept).
    pub transcript: Option<TranscriptFile>,
}

/// Everything fixed when a worker is spawned (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (stream-json in and out, the session, the model, limits, tools …).
    pub args: Vec<String>,
    /// Its whole environment (nothing else is inherited).
    pub env: BTreeMap<String, String>,
    /// Its working directory, resolved and inside `agent.roots`.
    pub cwd: PathBuf,
    /// Its umask (`None`: smithd's own).
    pub umask: Option<u32>,
    /// The Claude session it runs in.
    pub session: SessionArg,
    /// The attempt's tag, also in `env`.
    pub tag: Option<AttemptTag>,
    /// Its watchdogs.
    pub watchdogs: Watchdogs,
    /// What its stdin side does.
    pub stdin: StdinSide,
    /// Where its stdout lines are kept (`None`: not kept).
    pub transcript: Option<TranscriptFile>,
    /// The process is killed when the thread that started it dies (a worker node's: a node
    /// killed with `kill -9` leaves no `claude` behind; its tools' processes are swept by its
    /// tag when the node starts again).
    pub die_with_parent: bool,
}

impl LaunchSpec {
    /// The launch spec of `spec` in smithd's environment; an error when its working directory
    /// is not one workers may run in.
    pub fn new(spec: &AttemptSpec) -> Result<Self, AgentError> {
        let config = &spec.config;
        let cwd = check_cwd(&config.roots, &spec.task.cwd)?;
        let mut env = build_env(config, &spec.task, std::env::vars());
        if let Some(tag) = &spec.tag {
            env.insert(TAG_VAR.into(), tag.as_str().into());
        }
        if let Some(dir) = &config.runtime_dir {
            env.insert("XDG_RUNTIME_DIR".into(), dir.display().to_string());
        }
        Ok(Self {
            program: config.program.clone(),
            args: build_args(config, &spec.task, &spec.session),
            env,
            cwd,
            umask: config.umask,
            session: spec.session.clone(),
            tag: spec.tag.clone(),
            watchdogs: Watchdogs::from(config.as_ref()),
            stdin: StdinSide {
                first_message: spec.message.clone(),
                permissions: config.permissions.clone(),
                worktree: spec.task.worktree.clone(),
            },
            transcript: spec.transcript.clone(),
            die_with_parent: false,
        })
    }

    /// The same, with the CLI asking smith about every call that needs a permission (what a
    /// worker node does for a control plane that decides them).
    pub fn asking_smith(mut self) -> Self {
        if !self.args.iter().any(|a| a == ASK_SMITH[0]) {
            self.args.extend(ASK_SMITH.map(String::from));
        }
        self
    }

    /// The process to spawn: piped stdio, a process group of its own, killed on drop.
    pub fn command(&self) -> tokio::process::Command {
        use std::process::Stdio;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if self.die_with_parent {
            // SAFETY: runs in the forked child before exec; prctl(2) with PR_SET_PDEATHSIG is
            // async-signal-safe and touches no memory.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        if let Some(mask) = self.umask {
            let mask = mask as libc::mode_t;
            // SAFETY: runs in the forked child before exec; umask(2) is async-signal-safe,
            // touches no memory and cannot fail. (It makes std fork instead of posix_spawn: only
            // when configured.)
            unsafe {
                command.pre_exec(move || {
                    libc::umask(mask);
                    Ok(())
                });
            }
        }
        command
    }
}
