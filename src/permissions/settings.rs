//! The `[permissions]` section of the configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::{Policy, Preset};
use super::rule::Rule;
use crate::settings::{Invalid, check_durations, duration, empty_is_none};

/// Who decides a worker's tool calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PermissionMode {
    /// The CLI alone, by `agent.permission_mode` and `agent.allowed_tools`: headless, what
    /// nothing allowed is refused (smith reports the refusals).
    #[default]
    Cli,
    /// smith, by these rules and the preset (`--permission-prompt-tool stdio`).
    Stdio,
}

/// What happens to a call that needs a person when no client is attached to its request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unattended {
    /// It waits for `smith approve` / `smith deny` (up to `ask_timeout`).
    #[default]
    Queue,
    /// It is refused at once.
    Deny,
}

/// `[permissions]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PermissionSettings {
    /// Who decides: `cli` or `stdio`.
    pub mode: PermissionMode,
    /// What is allowed when no rule says: `none`, `read-only`, `workspace-write`.
    pub preset: Preset,
    /// Calls allowed.
    pub allow: Vec<String>,
    /// Calls refused (win over everything).
    pub deny: Vec<String>,
    /// Calls a person must decide (win over allow rules).
    pub ask: Vec<String>,
    /// A call nobody decides within this is refused, with a message saying so.
    #[serde(with = "duration")]
    pub ask_timeout: Duration,
    /// When no client is attached to the request: `queue` or `deny`.
    pub unattended: Unattended,
    /// Run with `sh -c` when a call starts waiting for a person, the approval as JSON on its
    /// stdin (empty: none).
    #[serde(with = "empty_is_none")]
    pub notify_command: Option<String>,
}

impl Default for PermissionSettings {
    fn default() -> Self {
        Self {
            mode: PermissionMode::default(),
            preset: Preset::default(),
            allow: Vec::new(),
            deny: Vec::new(),
            ask: Vec::new(),
            ask_timeout: Duration::from_secs(10 * 60),
            unattended: Unattended::default(),
            notify_command: None,
        }
    }
}

impl PermissionSettings {
    /// The policy, when smith decides (`mode = "stdio"`).
    pub fn policy(&self) -> Option<Policy> {
        (self.mode == PermissionMode::Stdio).then(|| Policy {
            allow: parse(&self.allow).unwrap_or_default(),
            deny: parse(&self.deny).unwrap_or_default(),
            ask: parse(&self.ask).unwrap_or_default(),
            preset: self.preset,
        })
    }

    /// Rules that do not parse and durations out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[("permissions.ask_timeout", self.ask_timeout)],
            &["permissions.ask_timeout"],
        )?;
        for (key, rules) in [
            ("permissions.allow", &self.allow),
            ("permissions.deny", &self.deny),
            ("permissions.ask", &self.ask),
        ] {
            parse(rules).map_err(|e| Invalid::new(key, e))?;
        }
        Ok(())
    }
}

fn parse(rules: &[String]) -> Result<Vec<Rule>, String> {
    rules.iter().map(|r| r.parse()).collect()
}
