//! smithd's configuration: built-in defaults < a TOML file < `SMITH_<SECTION>__<KEY>` environment
//! variables. Every key is documented in `config/smith.toml`. Unknown keys and bad values are
//! errors that name the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::AgentConfig;
use crate::agent::config::{DEFAULT_CONTINUATION, DEFAULT_ENV_ALLOWLIST, MAX_DURATION};
use crate::protocol::MAX_FRAME_BYTES;
use crate::session::{ContextLimits, Limits, SessionConfig, Supervision};
use crate::supervisor::{Backoff, Restart, Strategy};

/// Durations as human strings ("30s", "5m", "250ms").
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{s:?} is not a duration like \"30s\" or \"5m\": {e}"
            ))
        })
    }
}

/// What can be wrong with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key is unknown or its value is wrong.
    #[error("config key `{key}` ({origin}): {message}")]
    Key {
        /// Dotted key.
        key: String,
        /// Where it came from (file path or environment variable).
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// `[service]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSection {
    /// Where the database and the lock live.
    pub data_dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// On SIGTERM/SIGINT, how long running requests may finish before they are interrupted.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// `human` or `json`.
    pub log_format: String,
    /// A tracing filter (`info`, `smith=debug`, …); `RUST_LOG` wins when set.
    pub log_level: String,
    /// A client must say hello within this.
    #[serde(with = "duration")]
    pub handshake_timeout: Duration,
    /// A connection silent this long between requests is closed.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Once a frame began, all of it must arrive within this.
    #[serde(with = "duration")]
    pub frame_timeout: Duration,
    /// A client must take each reply within this, or it is disconnected.
    #[serde(with = "duration")]
    pub write_timeout: Duration,
    /// Largest control frame accepted.
    pub max_frame_bytes: usize,
    /// Connections served at once.
    pub max_clients: usize,
}

/// `[agent]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// The `claude` executable (a name on PATH or a path).
    pub program: PathBuf,
    /// Appended to every command line.
    pub extra_args: Vec<String>,
    /// `--model` (empty: the CLI's default).
    pub model: String,
    /// `--permission-mode` (empty: the CLI's default).
    pub permission_mode: String,
    /// `--allowedTools`.
    pub allowed_tools: Vec<String>,
    /// `--tools` (absent: the CLI's default set).
    pub tools: Option<Vec<String>>,
    /// `--append-system-prompt` (empty: none).
    pub append_system_prompt: String,
    /// `--max-turns` (0: the CLI's default).
    pub max_turns: u32,
    /// Variables inherited from smithd's environment (`PREFIX*` matches a prefix).
    pub env_allowlist: Vec<String>,
    /// Variables set for every process.
    pub env: BTreeMap<String, String>,
    /// Working directories must lie inside one of these.
    pub roots: Vec<PathBuf>,
    /// Wall-clock limit of one attempt.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// No output for this long → hung.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// After its result, a process must exit within this.
    #[serde(with = "duration")]
    pub result_grace: Duration,
    /// After an interrupt, how long until SIGTERM.
    #[serde(with = "duration")]
    pub interrupt_grace: Duration,
    /// After SIGTERM, how long until SIGKILL.
    #[serde(with = "duration")]
    pub term_grace: Duration,
    /// Longest stdout line accepted.
    pub max_line_bytes: usize,
    /// Bytes of stderr kept.
    pub stderr_tail_bytes: usize,
    /// Restarts resume the previous Claude session.
    pub resume_on_restart: bool,
    /// The message a resumed attempt gets.
    pub continuation: String,
    /// Octal umask of workers and their tools (absent: the umask smithd was started with).
    pub umask: Option<String>,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Live `claude` processes across all sessions.
    pub max_concurrent_tasks: usize,
    /// Tasks per request (and per plan).
    pub max_tasks_per_request: usize,
    /// Default budget per request in USD (0: unlimited).
    pub max_budget_usd: f64,
    /// Bytes of a request's prompt and tasks together.
    pub max_request_bytes: usize,
    /// Requests waiting in one session.
    pub max_queued_requests: usize,
    /// Bytes kept of one task's answer.
    pub max_task_output_bytes: usize,
    /// Bytes of a merged answer.
    pub max_answer_bytes: usize,
}

/// `[supervision]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionSection {
    /// one_for_one, one_for_all or rest_for_one.
    pub strategy: Strategy,
    /// transient or temporary.
    pub restart: Restart,
    /// Restarts allowed within `period`.
    pub max_restarts: u32,
    /// The intensity window.
    #[serde(with = "duration")]
    pub period: Duration,
    /// First restart delay.
    #[serde(with = "duration")]
    pub backoff_min: Duration,
    /// Largest restart delay (before jitter).
    #[serde(with = "duration")]
    pub backoff_max: Duration,
    /// Random stretch of delays (0.2 = up to 20 %).
    pub backoff_jitter: f64,
    /// Quiet time after which delays start from the minimum again.
    #[serde(with = "duration")]
    pub backoff_reset_after: Duration,
    /// Restarts of a crashed Session actor within a minute before the service gives up on it.
    pub session_max_restarts: u32,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// Finished requests older than this are pruned ("0s": any age).
    #[serde(with = "duration")]
    pub retention_age: Duration,
    /// Of each session only the newest this many requests are kept (0: any number).
    pub retention_requests: u64,
    /// How often pruning runs (besides at startup and `smith prune`).
    #[serde(with = "duration")]
    pub prune_every: Duration,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            // "3months" (a month being 30.44 days, as durations are written here).
            retention_age: Duration::from_secs(3 * 2_630_016),
            retention_requests: 1000,
            prune_every: Duration::from_secs(3600),
        }
    }
}

/// `[context]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextSection {
    /// Turns of history in a task's slice.
    pub turns: usize,
    /// Characters of history at most.
    pub max_chars: usize,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySection {
    /// OTLP endpoint (empty: no export; `OTEL_EXPORTER_OTLP_ENDPOINT` also enables it).
    pub otlp_endpoint: String,
    /// `grpc` or `http/protobuf`.
    pub otlp_protocol: String,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Address of a Prometheus scrape endpoint (empty: off).
    pub prometheus_listen: String,
    /// Record prompt and answer text in span attributes.
    pub record_content: bool,
    /// Turn on Claude Code's own telemetry in each process, exporting to the same endpoint.
    pub claude_code_telemetry: bool,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[service]`.
    pub service: ServiceSection,
    /// `[agent]`.
    pub agent: AgentSection,
    /// `[limits]`.
    pub limits: LimitsSection,
    /// `[supervision]`.
    pub supervision: SupervisionSection,
    /// `[context]`.
    pub context: ContextSection,
    /// `[store]`.
    pub store: StoreSection,
    /// `[telemetry]`.
    pub telemetry: TelemetrySection,
}

/// `$HOME`, if set (and not empty).
fn home_var() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$HOME`, or `/` for paths that need a base (never for `agent.roots`).
fn home() -> PathBuf {
    home_var().unwrap_or_else(|| PathBuf::from("/"))
}

/// An octal umask like "022" or "0077".
pub fn parse_umask(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim(), 8)
        .ok()
        .filter(|m| *m <= 0o777)
}

/// `$XDG_DATA_HOME/smith`, else `~/.local/share/smith`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".local/share"))
        .join("smith")
}

/// `$XDG_RUNTIME_DIR/smith/smithd.sock`, else `<data dir>/run/smithd.sock`.
pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("smith/smithd.sock"),
        None => default_data_dir().join("run/smithd.sock"),
    }
}

/// `$XDG_CONFIG_HOME/smith/smith.toml`, else `~/.config/smith/smith.toml`.
pub fn default_config_file() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".config"))
        .join("smith/smith.toml")
}

impl Default for ServiceSection {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            socket: default_socket(),
            shutdown_grace: Duration::from_secs(30),
            log_format: "human".into(),
            log_level: "info".into(),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_frame_bytes: 16 * 1024 * 1024,
            max_clients: 256,
        }
    }
}

impl Default for AgentSection {
    fn default() -> Self {
        let a = AgentConfig::default();
        Self {
            program: a.program,
            extra_args: Vec::new(),
            model: String::new(),
            permission_mode: String::new(),
            allowed_tools: Vec::new(),
            tools: None,
            append_system_prompt: String::new(),
            max_turns: 0,
            env_allowlist: DEFAULT_ENV_ALLOWLIST
                .iter()
                .map(|s| s.to_string())
                .collect(),
            env: BTreeMap::new(),
            roots: home_var().into_iter().collect(),
            timeout: a.timeout,
            idle_timeout: a.idle_timeout,
            result_grace: a.result_grace,
            interrupt_grace: a.interrupt_grace,
            term_grace: a.term_grace,
            max_line_bytes: a.max_line_bytes,
            stderr_tail_bytes: a.stderr_tail_bytes,
            resume_on_restart: true,
            continuation: DEFAULT_CONTINUATION.into(),
            umask: None,
        }
    }
}

impl Default for LimitsSection {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            max_concurrent_tasks: l.max_concurrent_tasks,
            max_tasks_per_request: l.max_tasks_per_request,
            max_request_bytes: l.max_request_bytes,
            max_queued_requests: l.max_queued_requests,
            max_task_output_bytes: l.max_task_output_bytes,
            max_answer_bytes: l.max_answer_bytes,
            max_budget_usd: 0.0,
        }
    }
}

impl Default for SupervisionSection {
    fn default() -> Self {
        let s = Supervision::default();
        Self {
            strategy: s.strategy,
            restart: s.restart,
            max_restarts: s.max_restarts,
            period: s.period,
            backoff_min: s.backoff.min,
            backoff_max: s.backoff.max,
            backoff_jitter: s.backoff.jitter,
            backoff_reset_after: s.backoff.reset_after,
            session_max_restarts: 5,
        }
    }
}

impl Default for ContextSection {
    fn default() -> Self {
        let c = ContextLimits::default();
        Self {
            turns: c.turns,
            max_chars: c.max_chars,
        }
    }
}

impl Default for TelemetrySection {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            otlp_protocol: "grpc".into(),
            service_name: "smithd".into(),
            prometheus_listen: String::new(),
            record_content: false,
            claude_code_telemetry: false,
        }
    }
}

/// Where the config file comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// Given explicitly (`--config` or `SMITH_CONFIG`): must exist.
    Explicit(PathBuf),
    /// The XDG default: used if it exists.
    Default(PathBuf),
}

impl Config {
    /// Loads defaults < `source` < `env` (pairs of `SMITH_*` variables), then validates.
    pub fn load(
        source: Option<ConfigSource>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = toml::Table::try_from(Config::default()).expect("defaults serialize");
        let mut origins: BTreeMap<String, String> = BTreeMap::new();
        let file = match source {
            Some(ConfigSource::Explicit(p)) => Some(p),
            Some(ConfigSource::Default(p)) if p.exists() => Some(p),
            _ => None,
        };
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let overlay: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Syntax {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
            for (section, value) in overlay {
                let origin = path.display().to_string();
                match (value, table.get_mut(&section)) {
                    (toml::Value::Table(keys), Some(toml::Value::Table(target))) => {
                        for (k, v) in keys {
                            origins.insert(format!("{section}.{k}"), origin.clone());
                            target.insert(k, v);
                        }
                    }
                    (_, None) => {
                        return Err(ConfigError::Key {
                            key: section,
                            origin,
                            message: "unknown section (expected service, agent, limits, supervision, context or telemetry)".into(),
                        });
                    }
                    (_, Some(_)) => {
                        return Err(ConfigError::Key {
                            key: section,
                            origin,
                            message: "must be a [section] table".into(),
                        });
                    }
                }
            }
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix("SMITH_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue; // SMITH_SOCKET, SMITH_CONFIG, … are not config keys.
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let dotted = format!("{section}.{key}");
            let Some(toml::Value::Table(target)) = table.get_mut(&section) else {
                return Err(ConfigError::Key {
                    key: dotted,
                    origin: name,
                    message: "unknown section".into(),
                });
            };
            // A value that parses as TOML (number, bool, array) is taken as such, else as a string.
            let value = format!("v = {raw}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(raw));
            origins.insert(dotted, name);
            target.insert(key, value);
        }
        let config: Config = serde_path_to_error::deserialize(table).map_err(|e| {
            let key = e.path().to_string();
            let origin = origins
                .iter()
                .find(|(k, _)| key.starts_with(k.as_str()) || k.starts_with(&key))
                .map(|(_, o)| o.clone())
                .unwrap_or_else(|| "built-in default".into());
            ConfigError::Key {
                key,
                origin,
                message: first_line(&e.into_inner().to_string()),
            }
        })?;
        config.validate(&origins)?;
        Ok(config)
    }

    /// Every duration key with its value.
    fn durations(&self) -> [(&'static str, Duration); 15] {
        let (s, a, v) = (&self.service, &self.agent, &self.supervision);
        [
            ("service.shutdown_grace", s.shutdown_grace),
            ("service.handshake_timeout", s.handshake_timeout),
            ("service.idle_timeout", s.idle_timeout),
            ("service.frame_timeout", s.frame_timeout),
            ("service.write_timeout", s.write_timeout),
            ("agent.timeout", a.timeout),
            ("agent.idle_timeout", a.idle_timeout),
            ("agent.result_grace", a.result_grace),
            ("agent.interrupt_grace", a.interrupt_grace),
            ("agent.term_grace", a.term_grace),
            ("supervision.period", v.period),
            ("supervision.backoff_min", v.backoff_min),
            ("supervision.backoff_max", v.backoff_max),
            ("supervision.backoff_reset_after", v.backoff_reset_after),
            ("store.prune_every", self.store.prune_every),
        ]
    }

    fn validate(&self, origins: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Key {
            key: key.to_string(),
            origin: origins
                .get(key)
                .cloned()
                .unwrap_or_else(|| "built-in default".into()),
            message,
        };
        if !matches!(self.service.log_format.as_str(), "human" | "json") {
            return Err(bad(
                "service.log_format",
                format!(
                    "{:?} must be \"human\" or \"json\"",
                    self.service.log_format
                ),
            ));
        }
        if !(4096..=MAX_FRAME_BYTES).contains(&self.service.max_frame_bytes) {
            return Err(bad(
                "service.max_frame_bytes",
                format!("must be between 4096 and {MAX_FRAME_BYTES} (the protocol's ceiling)"),
            ));
        }
        for (key, d) in self.durations() {
            if d > MAX_DURATION {
                return Err(bad(
                    key,
                    format!(
                        "{} is longer than the longest duration smith accepts ({})",
                        humantime::format_duration(d),
                        humantime::format_duration(MAX_DURATION)
                    ),
                ));
            }
        }
        for (key, d) in [
            ("service.handshake_timeout", self.service.handshake_timeout),
            ("service.idle_timeout", self.service.idle_timeout),
            ("service.frame_timeout", self.service.frame_timeout),
            ("service.write_timeout", self.service.write_timeout),
        ] {
            if d.is_zero() {
                return Err(bad(key, "must be longer than zero".into()));
            }
        }
        if self.service.max_clients == 0 {
            return Err(bad("service.max_clients", "must be at least 1".into()));
        }
        if self.limits.max_concurrent_tasks == 0 {
            return Err(bad(
                "limits.max_concurrent_tasks",
                "must be at least 1".into(),
            ));
        }
        for (key, v, min) in [
            (
                "limits.max_request_bytes",
                self.limits.max_request_bytes,
                1024,
            ),
            (
                "limits.max_queued_requests",
                self.limits.max_queued_requests,
                1,
            ),
            (
                "limits.max_task_output_bytes",
                self.limits.max_task_output_bytes,
                1024,
            ),
            (
                "limits.max_answer_bytes",
                self.limits.max_answer_bytes,
                1024,
            ),
        ] {
            if v < min {
                return Err(bad(key, format!("must be at least {min}")));
            }
        }
        if self.limits.max_request_bytes > self.service.max_frame_bytes {
            return Err(bad(
                "limits.max_request_bytes",
                format!(
                    "{} is larger than service.max_frame_bytes ({}): such a request could not even be sent",
                    self.limits.max_request_bytes, self.service.max_frame_bytes
                ),
            ));
        }
        if self.store.prune_every.is_zero() {
            return Err(bad("store.prune_every", "must be longer than zero".into()));
        }
        if self.store.retention_age > Duration::from_secs(100 * 365 * 24 * 3600) {
            return Err(bad(
                "store.retention_age",
                "is longer than 100 years; \"0s\" keeps requests of any age".into(),
            ));
        }
        let turns = self.context.turns as u64;
        if self.store.retention_requests != 0 && self.store.retention_requests < turns {
            return Err(bad(
                "store.retention_requests",
                format!(
                    "keeps fewer requests than context.turns ({turns}) needs; use at least that many (or 0: any number)"
                ),
            ));
        }
        if self.limits.max_tasks_per_request == 0 {
            return Err(bad(
                "limits.max_tasks_per_request",
                "must be at least 1".into(),
            ));
        }
        if !(self.limits.max_budget_usd.is_finite() && self.limits.max_budget_usd >= 0.0) {
            return Err(bad(
                "limits.max_budget_usd",
                "must be a number >= 0 (0: unlimited)".into(),
            ));
        }
        if self.supervision.restart == Restart::Permanent {
            return Err(bad(
                "supervision.restart",
                "tasks finish; permanent would restart a finished task: use transient or temporary"
                    .into(),
            ));
        }
        if self.supervision.backoff_min > self.supervision.backoff_max {
            return Err(bad(
                "supervision.backoff_min",
                "is larger than supervision.backoff_max".into(),
            ));
        }
        if !(self.supervision.backoff_jitter.is_finite() && self.supervision.backoff_jitter >= 0.0)
        {
            return Err(bad(
                "supervision.backoff_jitter",
                "must be a number >= 0".into(),
            ));
        }
        if self.supervision.period.is_zero() {
            return Err(bad("supervision.period", "must be longer than zero".into()));
        }
        for (key, d) in [
            ("agent.timeout", self.agent.timeout),
            ("agent.idle_timeout", self.agent.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(bad(key, "must be longer than zero".into()));
            }
        }
        if self.agent.max_line_bytes < 1024 {
            return Err(bad("agent.max_line_bytes", "must be at least 1024".into()));
        }
        if self.agent.roots.is_empty() {
            let why = if home_var().is_none() {
                "HOME is not set, so there is no default (it would be your home directory): name the directories tasks may run in"
            } else {
                "needs at least one directory tasks may run in"
            };
            return Err(bad("agent.roots", why.into()));
        }
        if let Some(mask) = &self.agent.umask
            && parse_umask(mask).is_none()
        {
            return Err(bad(
                "agent.umask",
                format!("{mask:?} must be an octal umask between 000 and 777, like \"022\""),
            ));
        }
        if !matches!(
            self.telemetry.otlp_protocol.as_str(),
            "grpc" | "http/protobuf"
        ) {
            return Err(bad(
                "telemetry.otlp_protocol",
                format!(
                    "{:?} must be \"grpc\" or \"http/protobuf\"",
                    self.telemetry.otlp_protocol
                ),
            ));
        }
        Ok(())
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config serializes")
    }

    /// The database file.
    /// What retention keeps.
    pub fn retention(&self) -> crate::store::Retention {
        let s = &self.store;
        crate::store::Retention {
            max_age: (!s.retention_age.is_zero()).then_some(s.retention_age),
            max_requests_per_session: (s.retention_requests > 0).then_some(s.retention_requests),
        }
    }

    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.service.data_dir.join("smith.db")
    }

    /// How `claude` runs.
    pub fn agent_config(&self) -> AgentConfig {
        let a = &self.agent;
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        AgentConfig {
            program: a.program.clone(),
            extra_args: a.extra_args.clone(),
            model: non_empty(&a.model),
            permission_mode: non_empty(&a.permission_mode),
            allowed_tools: a.allowed_tools.clone(),
            tools: a.tools.clone(),
            append_system_prompt: non_empty(&a.append_system_prompt),
            max_turns: (a.max_turns > 0).then_some(a.max_turns),
            env_allowlist: a.env_allowlist.clone(),
            env: a.env.clone(),
            roots: a.roots.clone(),
            timeout: a.timeout,
            idle_timeout: a.idle_timeout,
            result_grace: a.result_grace,
            interrupt_grace: a.interrupt_grace,
            term_grace: a.term_grace,
            max_line_bytes: a.max_line_bytes,
            stderr_tail_bytes: a.stderr_tail_bytes,
            resume_on_restart: a.resume_on_restart,
            continuation: a.continuation.clone(),
            umask: a.umask.as_deref().and_then(parse_umask),
            runtime_dir: Some(self.worker_runtime_dir()),
        }
    }

    /// `XDG_RUNTIME_DIR` of every worker: `<data_dir>/worker-run`, apart from smithd's socket.
    pub fn worker_runtime_dir(&self) -> PathBuf {
        self.service.data_dir.join("worker-run")
    }

    /// The environment that turns on Claude Code's own telemetry (`telemetry.claude_code_telemetry`),
    /// exporting to the same endpoint. Empty when off.
    pub fn claude_telemetry_env(&self) -> Vec<(String, String)> {
        let t = &self.telemetry;
        if !t.claude_code_telemetry {
            return Vec::new();
        }
        let mut env = vec![
            ("CLAUDE_CODE_ENABLE_TELEMETRY".to_string(), "1".to_string()),
            ("OTEL_METRICS_EXPORTER".to_string(), "otlp".to_string()),
            ("OTEL_LOGS_EXPORTER".to_string(), "otlp".to_string()),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL".to_string(),
                t.otlp_protocol.clone(),
            ),
        ];
        let endpoint = crate::telemetry::otlp_endpoint(t);
        if let Some(e) = endpoint {
            env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), e));
        }
        env
    }

    /// Session settings.
    pub fn session_config(&self) -> SessionConfig {
        let s = &self.supervision;
        SessionConfig {
            limits: Limits {
                max_concurrent_tasks: self.limits.max_concurrent_tasks,
                max_tasks_per_request: self.limits.max_tasks_per_request,
                max_budget_usd: (self.limits.max_budget_usd > 0.0)
                    .then_some(self.limits.max_budget_usd),
                max_request_bytes: self.limits.max_request_bytes,
                max_queued_requests: self.limits.max_queued_requests,
                max_task_output_bytes: self.limits.max_task_output_bytes,
                max_answer_bytes: self.limits.max_answer_bytes,
            },
            supervision: Supervision {
                strategy: s.strategy,
                restart: s.restart,
                max_restarts: s.max_restarts,
                period: s.period,
                backoff: Backoff {
                    min: s.backoff_min,
                    max: s.backoff_max,
                    jitter: s.backoff_jitter,
                    reset_after: s.backoff_reset_after,
                },
            },
            context: ContextLimits {
                turns: self.context.turns,
                max_chars: self.context.max_chars,
            },
            session_max_restarts: s.session_max_restarts,
            record_content: self.telemetry.record_content,
            task_env: self.claude_telemetry_env(),
        }
    }
}

/// The first line of a (TOML) error message: the rest repeats the key's location.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}

/// The config file to read: `--config`, else `SMITH_CONFIG`, else the XDG default if present.
pub fn config_source(flag: Option<&Path>) -> ConfigSource {
    if let Some(p) = flag {
        return ConfigSource::Explicit(p.to_path_buf());
    }
    match std::env::var_os("SMITH_CONFIG").filter(|v| !v.is_empty()) {
        Some(p) => ConfigSource::Explicit(PathBuf::from(p)),
        None => ConfigSource::Default(default_config_file()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile_dir();
        let source = file.map(|text| {
            let p = dir.join("smith.toml");
            std::fs::write(&p, text).unwrap();
            ConfigSource::Explicit(p)
        });
        Config::load(
            source,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "smith-config-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn defaults_load_and_round_trip_through_toml() {
        let c = load(None, &[]).unwrap();
        assert_eq!(c.limits.max_concurrent_tasks, 8);
        let again: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn the_file_overrides_defaults_and_the_environment_overrides_the_file() {
        let c = load(
            Some("[limits]\nmax_concurrent_tasks = 3\n[agent]\ntimeout = \"90s\"\n"),
            &[
                ("SMITH_LIMITS__MAX_CONCURRENT_TASKS", "5"),
                ("SMITH_SOCKET", "/x"),
            ],
        )
        .unwrap();
        assert_eq!(c.limits.max_concurrent_tasks, 5);
        assert_eq!(c.agent.timeout, Duration::from_secs(90));
        let c = load(None, &[("SMITH_SUPERVISION__STRATEGY", "rest_for_one")]).unwrap();
        assert_eq!(c.supervision.strategy, Strategy::RestForOne);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = load(Some("[limits]\nmax_concurent_tasks = 3\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("max_concurent_tasks") && e.contains("smith.toml"),
            "{e}"
        );
        let e = load(Some("[agent]\ntimeout = \"soon\"\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("agent.timeout") && e.contains("not a duration"),
            "{e}"
        );
        let e = load(None, &[("SMITH_LIMITS__MAX_CONCURRENT_TASKS", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("limits.max_concurrent_tasks")
                && e.contains("SMITH_LIMITS__MAX_CONCURRENT_TASKS"),
            "{e}"
        );
        let e = load(Some("[nope]\nx = 1\n"), &[]).unwrap_err().to_string();
        assert!(e.contains("`nope`") && e.contains("unknown section"), "{e}");
        let e = load(None, &[("SMITH_SUPERVISION__STRATEGY", "all_for_none")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("supervision.strategy"), "{e}");
        let e = load(Some("not toml ["), &[]).unwrap_err().to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn claude_code_telemetry_is_passed_through_only_when_asked() {
        let c = load(None, &[]).unwrap();
        assert!(c.claude_telemetry_env().is_empty());
        assert!(c.session_config().task_env.is_empty());
        let c = load(
            Some("[telemetry]\nclaude_code_telemetry = true\notlp_endpoint = \"http://collector:4317\"\n"),
            &[],
        )
        .unwrap();
        let env: std::collections::BTreeMap<_, _> =
            c.session_config().task_env.into_iter().collect();
        assert_eq!(env["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
        assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://collector:4317");
        assert_eq!(env["OTEL_METRICS_EXPORTER"], "otlp");
        assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
    }

    #[test]
    fn an_explicit_missing_file_is_an_error_but_a_missing_default_is_not() {
        let e = Config::load(
            Some(ConfigSource::Explicit("/nonexistent/smith.toml".into())),
            [],
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/smith.toml"));
        assert!(
            Config::load(
                Some(ConfigSource::Default("/nonexistent/smith.toml".into())),
                []
            )
            .is_ok()
        );
    }
}
