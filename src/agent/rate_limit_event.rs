//! `{"type":"rate_limit_event"}`: where the account stands against its rate limit, as the CLI
//! reports it from the API's rate-limit headers (the governor's best signal: a reset time).

use serde_json::Value;

/// Where the account stands against its rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitStatus {
    /// Under the limit.
    Allowed,
    /// Close to it (an early signal).
    AllowedWarning,
    /// Over it: calls are refused until the reset.
    Rejected,
}

/// `{"type":"rate_limit_event"}`: built by the CLI from the API's rate-limit headers (seen with
/// subscription auth; with an API key the pinned CLI prints none). Its fields are read at the top
/// level or under `rate_limit_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitEvent {
    /// The state.
    pub status: RateLimitStatus,
    /// When the window resets (Unix seconds), if said.
    pub resets_at: Option<u64>,
    /// Which window (`five_hour`, `seven_day`, …), if said.
    pub limit_type: Option<String>,
}

impl RateLimitEvent {
    /// The event in `value`; `None` when its status is missing or unknown.
    pub fn from_value(value: &Value) -> Option<Self> {
        let info = value.get("rate_limit_info").unwrap_or(value);
        let status = match info.get("status")?.as_str()? {
            "allowed" => RateLimitStatus::Allowed,
            "allowed_warning" => RateLimitStatus::AllowedWarning,
            "rejected" => RateLimitStatus::Rejected,
            _ => return None,
        };
        let resets_at = info.get("resetsAt").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().map(|f| f as u64))
                .or_else(|| v.as_str()?.parse().ok())
        });
        let limit_type = info
            .get("rateLimitType")
            .and_then(Value::as_str)
            .map(str::to_string);
        Some(Self {
            status,
            resets_at,
            limit_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::event::StreamEvent;

    #[test]
    fn rate_limit_events_are_read_flat_or_nested_and_unknown_ones_are_kept() {
        let flat = StreamEvent::parse(
            r#"{"type":"rate_limit_event","status":"allowed_warning","resetsAt":"1800000000","rateLimitType":"seven_day"}"#,
        )
        .unwrap();
        let StreamEvent::RateLimit(e) = flat else {
            panic!("{flat:?}")
        };
        assert_eq!(e.status, RateLimitStatus::AllowedWarning);
        assert_eq!(e.resets_at, Some(1_800_000_000));
        let odd = StreamEvent::parse(
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"later"}}"#,
        )
        .unwrap();
        assert!(matches!(odd, StreamEvent::Unknown(_)), "{odd:?}");
    }
}
