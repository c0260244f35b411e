//! `smith usage`: what the workers cost — cost, tokens, requests and attempts, by day, session or
//! model — read from the ledger (each attempt's result, committed as it ends); and the ceilings on
//! it (`limits.session_budget_usd`, `limits.daily_budget_usd`) as `smith status` shows them.

use serde::{Deserialize, Serialize};

use super::ask::named_enum;

named_enum! {
    /// How `smith usage` groups.
    UsageBy, "grouping" {
        /// By the day each attempt's cost was charged to (when it ended), in
        /// `limits.budget_time_zone`.
        Day = "day",
        /// By session.
        Session = "session",
        /// By the model the CLI ran.
        Model = "model",
    }
}

/// `Request::Usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    /// The grouping.
    pub by: UsageBy,
    /// Only attempts charged on or after this day (`YYYY-MM-DD`, in `limits.budget_time_zone`).
    pub since: Option<String>,
}

/// One group of `smith usage` (or the total).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UsageRow {
    /// The day (`2026-11-26`), session or model.
    pub key: String,
    /// Cost reported by the CLI (USD).
    pub cost_usd: f64,
    /// The whole input: uncached, cache reads and cache writes.
    pub input_tokens: u64,
    /// Of the input: cache reads.
    pub cache_read_tokens: u64,
    /// Of the input: cache writes.
    pub cache_creation_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Requests with an attempt in the group.
    pub requests: u64,
    /// Attempts.
    pub attempts: u64,
    /// Of the attempts: run with `--bare`.
    pub bare_attempts: u64,
}

/// `Response::Usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// The grouping.
    pub by: UsageBy,
    /// The groups, in order of their key.
    pub rows: Vec<UsageRow>,
    /// All of them (`key`: `total`).
    pub total: UsageRow,
    /// The time zone of the days (`limits.budget_time_zone`).
    pub time_zone: String,
}

named_enum! {
    /// A spending ceiling above the request's own budget.
    Ceiling, "ceiling" {
        /// `limits.session_budget_usd`: what one session may spend.
        Session = "session",
        /// `limits.daily_budget_usd`: what all sessions may spend in a day.
        Day = "day",
    }
}

/// Spending against the ceilings, as `smith status` shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpendStatus {
    /// Today (`YYYY-MM-DD`) in `time_zone`.
    pub day: String,
    /// `limits.budget_time_zone`.
    pub time_zone: String,
    /// Spent today, all sessions.
    pub day_spent_usd: f64,
    /// `limits.daily_budget_usd` (`None`: no ceiling).
    pub daily_budget_usd: Option<f64>,
    /// `limits.session_budget_usd` (`None`: no ceiling).
    pub session_budget_usd: Option<f64>,
    /// The ceilings 80 % spent or more: the day's first, then sessions by name.
    pub warnings: Vec<CeilingUse>,
}

/// How much of one ceiling is spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CeilingUse {
    /// Which.
    pub ceiling: Ceiling,
    /// The session (session ceilings).
    pub session: Option<String>,
    /// Spent.
    pub spent_usd: f64,
    /// The ceiling.
    pub budget_usd: f64,
}
