//! The `[governor]` section of the configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, check_durations, duration};

/// `[governor]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GovernorSettings {
    /// Attempts pass the gate (`false`: each throttled attempt fails on its own, as before the
    /// governor — for comparison).
    pub enabled: bool,
    /// A task waits at the closed gate this long at most (in all); then its attempt ends
    /// `rate_limited`.
    #[serde(with = "duration")]
    pub max_wait: Duration,
    /// The first backoff when a throttle advertises no reset time.
    #[serde(with = "duration")]
    pub min_backoff: Duration,
    /// The longest backoff.
    #[serde(with = "duration")]
    pub max_backoff: Duration,
    /// Up to this much is added at random to each reopening (spreads the attempts).
    #[serde(with = "duration")]
    pub jitter: Duration,
    /// `CLAUDE_CODE_MAX_RETRIES` of workers (unless `[agent.env]` sets it): the CLI retries a
    /// throttled call this often itself; smith waits for the whole fleet after that.
    pub cli_max_retries: u32,
}

impl Default for GovernorSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_wait: Duration::from_secs(30 * 60),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            jitter: Duration::from_millis(500),
            cli_max_retries: 1,
        }
    }
}

impl GovernorSettings {
    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[
                ("governor.max_wait", self.max_wait),
                ("governor.min_backoff", self.min_backoff),
                ("governor.max_backoff", self.max_backoff),
                ("governor.jitter", self.jitter),
            ],
            &["governor.min_backoff", "governor.max_backoff"],
        )?;
        if self.max_backoff < self.min_backoff {
            return Err(Invalid::new(
                "governor.max_backoff",
                "must not be shorter than governor.min_backoff",
            ));
        }
        Ok(())
    }
}
