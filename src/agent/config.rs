//! How smith runs `claude`: the program, its flags, the environment it gets, where it may run,
//! and the watchdog and stop timings. One per service (from config), shared by every task.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

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

/// The longest duration smith accepts anywhere (config keys and request options): a week. Deadlines
/// are computed with checked arithmetic besides, so nothing overflows below this bound.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The message sent instead of the original prompt when a restart resumes the previous attempt's
/// Claude session.
pub const DEFAULT_CONTINUATION: &str = "[smith] Your previous attempt at this task stopped before \
it finished. Continue from where you left off, without redoing completed steps, and end with the \
complete final answer to the original task.";

/// How smith runs `claude`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// The `claude` executable.
    pub program: PathBuf,
    /// Appended to every command line.
    pub extra_args: Vec<String>,
    /// `--model` unless the task says otherwise.
    pub model: Option<String>,
    /// `--permission-mode` (the CLI's own default when absent).
    pub permission_mode: Option<String>,
    /// `--allowedTools`.
    pub allowed_tools: Vec<String>,
    /// `--tools` (`Some(vec![])` passes `--tools ""`: no tools).
    pub tools: Option<Vec<String>>,
    /// `--append-system-prompt`.
    pub append_system_prompt: Option<String>,
    /// `--max-turns`.
    pub max_turns: Option<u32>,
    /// Names (or `PREFIX*`) inherited from smithd's environment.
    pub env_allowlist: Vec<String>,
    /// Set for every process (wins over inherited values).
    pub env: BTreeMap<String, String>,
    /// Working directories must lie inside one of these.
    pub roots: Vec<PathBuf>,
    /// Wall-clock limit of one attempt.
    pub timeout: Duration,
    /// No output line for this long → `hung`.
    pub idle_timeout: Duration,
    /// After `result`, the process must exit within this, or it is terminated (result kept).
    pub result_grace: Duration,
    /// After an interrupt request, how long to wait before SIGTERM.
    pub interrupt_grace: Duration,
    /// After SIGTERM to the group, how long to wait before SIGKILL.
    pub term_grace: Duration,
    /// Longest stdout line accepted; longer → `protocol_error`.
    pub max_line_bytes: usize,
    /// How much of stderr is kept.
    pub stderr_tail_bytes: usize,
    /// Restart with `--resume <previous session>` and a continuation message.
    pub resume_on_restart: bool,
    /// The continuation message.
    pub continuation: String,
    /// The umask workers start with (`None`: smithd's own).
    pub umask: Option<u32>,
    /// `XDG_RUNTIME_DIR` of workers: a directory of their own, not the one holding smithd's
    /// socket (`None`: inherited through the allowlist).
    pub runtime_dir: Option<PathBuf>,
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
            append_system_prompt: None,
            max_turns: None,
            env_allowlist: DEFAULT_ENV_ALLOWLIST
                .iter()
                .map(|s| s.to_string())
                .collect(),
            env: BTreeMap::new(),
            roots: Vec::new(),
            timeout: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(5 * 60),
            result_grace: Duration::from_secs(3),
            interrupt_grace: Duration::from_secs(1),
            term_grace: Duration::from_secs(1),
            max_line_bytes: 8 * 1024 * 1024,
            stderr_tail_bytes: 16 * 1024,
            resume_on_restart: true,
            continuation: DEFAULT_CONTINUATION.to_string(),
            umask: None,
            runtime_dir: None,
        }
    }
}

impl AgentConfig {
    /// The longest a stop can take: interrupt grace, SIGTERM grace, and a margin for the kill.
    pub fn stop_budget(&self) -> Duration {
        self.interrupt_grace + self.term_grace + Duration::from_secs(2)
    }
}
