//! The `[store]` section of the configuration: how long finished requests are kept and how
//! often that is applied.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, check_durations, duration};

use super::retention::Retention;

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Finished requests older than this are pruned ("0s": any age).
    #[serde(with = "duration")]
    pub retention_age: Duration,
    /// Of each session only the newest this many requests are kept (0: any number).
    pub retention_requests: u64,
    /// How often pruning runs (besides at startup and `smith prune`).
    #[serde(with = "duration")]
    pub prune_every: Duration,
    /// Bytes of one attempt's transcript kept for `smith logs` (0: no transcripts).
    pub transcript_max_bytes: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            // "3months" (a month being 30.44 days, as durations are written here).
            retention_age: Duration::from_secs(3 * 2_630_016),
            retention_requests: 1000,
            prune_every: Duration::from_secs(3600),
            transcript_max_bytes: 4 * 1024 * 1024,
        }
    }
}

impl StoreSettings {
    /// What retention keeps.
    pub fn retention(&self) -> Retention {
        Retention {
            transcripts: None,
            max_age: (!self.retention_age.is_zero()).then_some(self.retention_age),
            max_requests_per_session: (self.retention_requests > 0)
                .then_some(self.retention_requests),
        }
    }

    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[("store.prune_every", self.prune_every)],
            &["store.prune_every"],
        )?;
        if self.retention_age > Duration::from_secs(100 * 365 * 24 * 3600) {
            return Err(Invalid::new(
                "store.retention_age",
                "is longer than 100 years; \"0s\" keeps requests of any age",
            ));
        }
        Ok(())
    }
}
