//! `smith usage`: what the workers cost — cost, tokens, requests and attempts, by day, session or
//! model — read from the ledger (each attempt's result, committed as it ends).

use serde::{Deserialize, Serialize};

use super::ask::named_enum;

named_enum! {
    /// How `smith usage` groups.
    UsageBy, "grouping" {
        /// By calendar day (UTC) of the attempts' start.
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
    /// Only attempts started at or after this (Unix milliseconds).
    pub since_ms: Option<i64>,
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
}
