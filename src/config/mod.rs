//! smithd's configuration: built-in defaults < a TOML file < `SMITH_<SECTION>__<KEY>` environment
//! variables. Each section is the settings type of the module that uses it (`[agent]` is the
//! agent's `AgentConfig`, `[limits]`/`[supervision]`/`[context]` the session's, `[store]` the
//! store's, `[telemetry]` telemetry's, `[workspace]` the workspaces'); `[service]` — where smithd lives and how it serves, which
//! `smith` needs too — is defined here, in `service`. Every key is documented in `config/smith.toml`. Unknown keys and bad values are
//! errors that name the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod service;

pub use service::ServiceSettings;

use crate::agent::AgentConfig;
use crate::governor::GovernorSettings;
use crate::paths::default_config_file;
use crate::permissions::PermissionSettings;
use crate::protocol::Isolation;
use crate::session::{ContextLimits, Limits, SessionConfig, Supervision};
use crate::settings::Invalid;
use crate::store::StoreSettings;
use crate::telemetry::TelemetrySettings;
use crate::workspace::WorkspaceSettings;

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

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[service]`.
    pub service: ServiceSettings,
    /// `[agent]`.
    pub agent: AgentConfig,
    /// `[limits]`.
    pub limits: Limits,
    /// `[supervision]`.
    pub supervision: Supervision,
    /// `[context]`.
    pub context: ContextLimits,
    /// `[store]`.
    pub store: StoreSettings,
    /// `[telemetry]`.
    pub telemetry: TelemetrySettings,
    /// `[workspace]`.
    pub workspace: WorkspaceSettings,
    /// `[permissions]`.
    pub permissions: PermissionSettings,
    /// `[governor]`.
    pub governor: GovernorSettings,
    /// `[cluster]`.
    pub cluster: crate::cluster::ClusterSettings,
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
    /// What `smithd worker` runs with.
    pub fn node(&self) -> crate::cluster::NodeConfig {
        crate::cluster::NodeConfig {
            cluster: self.cluster.clone(),
            agent: self.agent.clone(),
            default_capacity: self.limits.max_concurrent_tasks as u32,
            data_dir: self.service.data_dir.clone(),
        }
    }

    /// Loads defaults < `source` < `env` (pairs of `SMITH_*` variables), then validates.
    pub fn load(
        source: Option<ConfigSource>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (config, origins) = Self::layered(source, env)?;
        config.validate(&origins)?;
        Ok(config)
    }

    /// The layers read and typed, not validated; with the origin of every key that was set.
    fn layered(
        source: Option<ConfigSource>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, BTreeMap<String, String>), ConfigError> {
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
                            message: "unknown section (expected service, agent, limits, supervision, context, store, telemetry, workspace, permissions or governor)".into(),
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
        Ok((config, origins))
    }

    /// Each section checks its own values; what spans sections is checked here.
    fn validate(&self, origins: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let checked = self
            .service
            .check()
            .and(self.agent.check())
            .and(self.limits.check())
            .and(self.supervision.check())
            .and(self.store.check())
            .and(self.telemetry.check())
            .and(self.workspace.check())
            .and(self.permissions.check())
            .and(self.governor.check())
            .and(self.cluster.check())
            .and(self.across_sections());
        checked.map_err(|Invalid { key, message }| ConfigError::Key {
            key: key.to_string(),
            origin: origins
                .get(key)
                .cloned()
                .unwrap_or_else(|| "built-in default".into()),
            message,
        })
    }

    fn across_sections(&self) -> Result<(), Invalid> {
        if self.limits.max_request_bytes > self.service.max_frame_bytes {
            return Err(Invalid::new(
                "limits.max_request_bytes",
                format!(
                    "{} is larger than service.max_frame_bytes ({}): such a request could not even be sent",
                    self.limits.max_request_bytes, self.service.max_frame_bytes
                ),
            ));
        }
        let turns = self.context.turns as u64;
        if self.store.retention_requests != 0 && self.store.retention_requests < turns {
            return Err(Invalid::new(
                "store.retention_requests",
                format!(
                    "keeps fewer requests than context.turns ({turns}) needs; use at least that many (or 0: any number)"
                ),
            ));
        }
        if self.agent.isolation == Isolation::Worktree {
            self.workspace_dir_allowed()?;
        }
        Ok(())
    }

    /// Workers may run in `workspace.dir` (it lies inside `agent.roots`, compared as written;
    /// smithd checks the resolved paths again at start).
    pub fn workspace_dir_allowed(&self) -> Result<(), Invalid> {
        let dir = self.workspace_dir();
        if self.agent.roots.iter().any(|root| dir.starts_with(root)) {
            return Ok(());
        }
        Err(Invalid::new(
            "workspace.dir",
            format!(
                "{} is not inside agent.roots, so no isolated worker could run in its worktree: put workspace.dir under one of the roots, or add it to agent.roots",
                dir.display()
            ),
        ))
    }

    /// Where task worktrees live: `workspace.dir`, or `<data_dir>/worktrees`.
    pub fn workspace_dir(&self) -> PathBuf {
        if self.workspace.dir.as_os_str().is_empty() {
            self.service.data_dir.join("worktrees")
        } else {
            self.workspace.dir.clone()
        }
    }

    /// What the retention keeps, the attempts' transcripts included.
    pub fn retention(&self) -> crate::store::Retention {
        crate::store::Retention {
            transcripts: Some(self.service.transcripts_dir()),
            ..self.store.retention()
        }
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config serializes")
    }

    /// How workers run: `[agent]`, with their runtime directory under the data directory.
    /// The CLI retries a throttled call `governor.cli_max_retries` times itself (unless
    /// `[agent.env]` says otherwise); the governor waits for the fleet after that.
    pub fn worker_agent(&self) -> AgentConfig {
        let mut agent = AgentConfig {
            runtime_dir: Some(self.service.worker_runtime_dir()),
            permissions: self.permissions.policy().map(Arc::new),
            transcripts: (self.store.transcript_max_bytes > 0).then(|| {
                (
                    self.service.transcripts_dir(),
                    self.store.transcript_max_bytes,
                )
            }),
            ..self.agent.clone()
        };
        agent
            .env
            .entry("CLAUDE_CODE_MAX_RETRIES".into())
            .or_insert_with(|| self.governor.cli_max_retries.to_string());
        agent
    }

    /// What a session needs: its sections, and what telemetry adds to every task.
    pub fn session_config(&self) -> SessionConfig {
        SessionConfig {
            limits: self.limits.clone(),
            supervision: self.supervision.clone(),
            context: self.context.clone(),
            record_content: self.telemetry.record_content,
            task_env: self.telemetry.claude_code_env(),
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

/// The control socket as smithd would use it: `flag` (`--socket`/`SMITH_SOCKET`), else
/// `service.socket` of the same configuration smithd loads (`SMITH_CONFIG` or the XDG file,
/// `SMITH_SERVICE__SOCKET`). A file smithd could not read is an error here too; values out of
/// range elsewhere are smithd's to report.
pub fn socket_path(flag: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
    match flag {
        Some(p) => Ok(p),
        None => Ok(
            Config::layered(Some(config_source(None)), std::env::vars())?
                .0
                .service
                .socket,
        ),
    }
}

#[cfg(test)]
mod tests;
