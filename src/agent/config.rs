//! How smith runs `claude`: the program, its flags, the environment it gets, where it may run,
//! and the watchdog and stop timings — the `[agent]` section of the configuration itself. One
//! per service, shared by every task.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::permissions::Policy;
use crate::protocol::Isolation;

use crate::settings::{
    Invalid, check_durations, check_min, duration, empty_is_none, home_dir, octal_umask,
    zero_is_none,
};

/// Environment variables passed through from smithd's own environment by default. A trailing
/// `*` matches a prefix. `CLAUDECODE` and `CLAUDE_CODE_*` are never inherited, whatever the list.
pub const DEFAULT_ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_*",
    "TZ",
    "TERM",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
    "ANTHROPIC_*",
    "CLAUDE_CONFIG_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "API_TIMEOUT_MS",
    "DISABLE_TELEMETRY",
    "DISABLE_AUTOUPDATER",
    "DISABLE_ERROR_REPORTING",
];

/// The message sent instead of the original prompt when a restart resumes the previous attempt's
/// Claude session.
pub const DEFAULT_CONTINUATION: &str = "[smith] Your previous attempt at this task stopped before \
it finished. Continue from where you left off, without redoing completed steps, and end with the \
complete final answer to the original task.";

/// How smith runs `claude` (`[agent]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The `claude` executable.
    pub program: PathBuf,
    /// Appended to every command line.
    pub extra_args: Vec<String>,
    /// `--model` unless the task says otherwise (empty: the CLI's default).
    #[serde(with = "empty_is_none")]
    pub model: Option<String>,
    /// `--permission-mode` (empty: the CLI's own default).
    #[serde(with = "empty_is_none")]
    pub permission_mode: Option<String>,
    /// `--allowedTools`.
    pub allowed_tools: Vec<String>,
    /// `--tools` (`Some(vec![])` passes `--tools ""`: no tools; absent: the CLI's set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// `--bare` for every worker unless a request says otherwise: no hooks, CLAUDE.md, MCP
    /// discovery, plugins or auto-memory (cheaper turns; API-key auth only).
    pub bare: bool,
    /// `--include-partial-messages`: the workers' text reaches clients as it is written.
    pub partial_messages: bool,
    /// Warm workers kept started ahead of need (0: every attempt starts its process).
    pub warm_pool: usize,
    /// A warm worker idle this long is recycled.
    #[serde(with = "duration")]
    pub warm_idle: Duration,
    /// `--append-system-prompt` (empty: none).
    #[serde(with = "empty_is_none")]
    pub append_system_prompt: Option<String>,
    /// `--max-turns` (0: the CLI's default).
    #[serde(with = "zero_is_none")]
    pub max_turns: Option<u32>,
    /// Names (or `PREFIX*`) inherited from smithd's environment.
    pub env_allowlist: Vec<String>,
    /// Set for every process (wins over inherited values).
    pub env: BTreeMap<String, String>,
    /// Working directories must lie inside one of these.
    pub roots: Vec<PathBuf>,
    /// Where work tasks run unless a request says: `none` (the request's cwd) or `worktree`
    /// (each in a git worktree of its own).
    pub isolation: Isolation,
    /// Wall-clock limit of one attempt.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// No output line for this long → `hung`.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// While a tool call runs (a `tool_use` without its `tool_result` yet: a long `cargo test`
    /// prints nothing), no output for this long → `hung` (instead of `idle_timeout`).
    #[serde(with = "duration")]
    pub tool_timeout: Duration,
    /// After `result`, the process must exit within this, or it is terminated (result kept).
    #[serde(with = "duration")]
    pub result_grace: Duration,
    /// After an interrupt request, how long to wait before SIGTERM.
    #[serde(with = "duration")]
    pub interrupt_grace: Duration,
    /// After SIGTERM to the group, how long to wait before SIGKILL.
    #[serde(with = "duration")]
    pub term_grace: Duration,
    /// Longest stdout line accepted; longer → `protocol_error`.
    pub max_line_bytes: usize,
    /// How much of stderr is kept.
    pub stderr_tail_bytes: usize,
    /// Restart with `--resume <previous session>` and a continuation message.
    pub resume_on_restart: bool,
    /// The continuation message.
    pub continuation: String,
    /// The umask workers start with, octal like "022" (absent: smithd's own).
    #[serde(with = "octal_umask", skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    /// `XDG_RUNTIME_DIR` of workers: a directory of their own, not the one holding smithd's
    /// socket (`None`: inherited through the allowlist). Not a key: smithd sets it under its
    /// data directory.
    #[serde(skip)]
    pub runtime_dir: Option<PathBuf>,
    /// smith decides tool calls by this policy (`permissions.mode = "stdio"`); not a key of
    /// `[agent]`: `[permissions]` sets it.
    #[serde(skip)]
    pub permissions: Option<Arc<Policy>>,
    /// Where attempts' transcripts go, and their cap (`None`: none kept). Not a key of
    /// `[agent]`: smithd puts them under its data directory, `store.transcript_max_bytes` caps.
    #[serde(skip)]
    pub transcripts: Option<(PathBuf, u64)>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            program: PathBuf::from("claude"),
            extra_args: Vec::new(),
            model: None,
            permission_mode: None,
            allowed_tools: Vec::new(),
            tools: None,
            bare: false,
            partial_messages: true,
            warm_pool: 0,
            warm_idle: Duration::from_secs(5 * 60),
            append_system_prompt: None,
            max_turns: None,
            env_allowlist: DEFAULT_ENV_ALLOWLIST
                .iter()
                .map(|s| s.to_string())
                .collect(),
            env: BTreeMap::new(),
            roots: home_dir().into_iter().collect(),
            isolation: Isolation::None,
            timeout: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(5 * 60),
            tool_timeout: Duration::from_secs(20 * 60),
            result_grace: Duration::from_secs(3),
            interrupt_grace: Duration::from_secs(1),
            term_grace: Duration::from_secs(1),
            max_line_bytes: 8 * 1024 * 1024,
            stderr_tail_bytes: 16 * 1024,
            resume_on_restart: true,
            continuation: DEFAULT_CONTINUATION.to_string(),
            umask: None,
            runtime_dir: None,
            permissions: None,
            transcripts: None,
        }
    }
}

impl AgentConfig {
    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[
                ("agent.timeout", self.timeout),
                ("agent.idle_timeout", self.idle_timeout),
                ("agent.tool_timeout", self.tool_timeout),
                ("agent.result_grace", self.result_grace),
                ("agent.interrupt_grace", self.interrupt_grace),
                ("agent.term_grace", self.term_grace),
                ("agent.warm_idle", self.warm_idle),
            ],
            &[
                "agent.timeout",
                "agent.idle_timeout",
                "agent.tool_timeout",
                "agent.warm_idle",
            ],
        )?;
        check_min("agent.max_line_bytes", self.max_line_bytes, 1024)?;
        if self.roots.is_empty() {
            let why = if home_dir().is_none() {
                "HOME is not set, so there is no default (it would be your home directory): name the directories tasks may run in"
            } else {
                "needs at least one directory tasks may run in"
            };
            return Err(Invalid::new("agent.roots", why));
        }
        Ok(())
    }

    /// The longest a stop can take: interrupt grace, SIGTERM grace, and a margin for the kill.
    pub fn stop_budget(&self) -> Duration {
        self.interrupt_grace + self.term_grace + Duration::from_secs(2)
    }
}
