//! The `[permissions]` section of the configuration.

use serde::{Deserialize, Serialize};

use super::policy::{Policy, Preset};
use super::rule::Rule;
use crate::settings::Invalid;

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

/// `[permissions]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

    /// Rules that do not parse, by key.
    pub fn check(&self) -> Result<(), Invalid> {
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
