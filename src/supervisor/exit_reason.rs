//! Why a child exited, classified the way OTP does: `normal` and `shutdown` are normal exits,
//! everything else is abnormal.
//!
//! Mapping from ractor's supervision events:
//! - `ActorTerminated` with no reason, `"normal"` or `"Drained"` → [`ExitReason::Normal`];
//! - `"shutdown"` or `"shutdown: …"` → [`ExitReason::Shutdown`];
//! - `"killed"` (ractor's kill signal) or `"actor_task_cancelled"` → [`ExitReason::Killed`];
//! - `"escalated: …"` (a child supervisor gave up) → [`ExitReason::Escalated`];
//! - any other reason → [`ExitReason::Other`] (abnormal, as any other term in OTP);
//! - `ActorFailed` (panic or `Err` from a handler) → [`ExitReason::Failed`].

use std::fmt;

use ractor::SupervisionEvent;
use serde::{Deserialize, Serialize};

/// Stop reason for a normal exit.
pub const REASON_NORMAL: &str = "normal";
/// Stop reason a supervisor gives children it terminates (a normal exit).
pub const REASON_SHUTDOWN: &str = "shutdown";
/// Prefix of the stop reason of a supervisor whose restart intensity was exceeded.
pub const REASON_ESCALATED: &str = "escalated";

/// A classified exit reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The child finished its work.
    Normal,
    /// The child was asked to shut down (optionally with detail).
    Shutdown(Option<String>),
    /// The child was killed (ractor kill signal or a cancelled task).
    Killed,
    /// A child supervisor exceeded its restart intensity and gave up.
    Escalated(String),
    /// The child panicked or returned an error from a handler.
    Failed(String),
    /// The child stopped with some other reason.
    Other(String),
}

impl ExitReason {
    /// Classifies the stop reason carried by `ActorTerminated`.
    pub fn from_stop_reason(reason: Option<&str>) -> Self {
        match reason {
            None | Some(REASON_NORMAL) | Some("Drained") => ExitReason::Normal,
            Some(REASON_SHUTDOWN) => ExitReason::Shutdown(None),
            Some("killed") | Some("actor_task_cancelled") => ExitReason::Killed,
            Some(r) => {
                if let Some(detail) = r.strip_prefix("shutdown:") {
                    ExitReason::Shutdown(Some(detail.trim().to_string()))
                } else if r.starts_with(REASON_ESCALATED) {
                    ExitReason::Escalated(r.to_string())
                } else {
                    ExitReason::Other(r.to_string())
                }
            }
        }
    }

    /// Classifies a supervision event; `None` for events that are not an exit.
    pub fn from_event(event: &SupervisionEvent) -> Option<Self> {
        match event {
            SupervisionEvent::ActorTerminated(_, _, reason) => {
                Some(Self::from_stop_reason(reason.as_deref()))
            }
            SupervisionEvent::ActorFailed(_, err) => Some(ExitReason::Failed(err.to_string())),
            _ => None,
        }
    }

    /// Whether OTP would call this exit abnormal (anything but normal and shutdown).
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, ExitReason::Normal | ExitReason::Shutdown(_))
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown(None) => f.write_str("shutdown"),
            ExitReason::Shutdown(Some(d)) => write!(f, "shutdown: {d}"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Escalated(r) | ExitReason::Other(r) => f.write_str(r),
            ExitReason::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_and_shutdown_are_not_abnormal() {
        for r in [
            None,
            Some("normal"),
            Some("Drained"),
            Some("shutdown"),
            Some("shutdown: bye"),
        ] {
            assert!(!ExitReason::from_stop_reason(r).is_abnormal(), "{r:?}");
        }
    }

    #[test]
    fn killed_cancelled_escalated_and_other_reasons_are_abnormal() {
        for r in [
            "killed",
            "actor_task_cancelled",
            "escalated: too many",
            "oops",
        ] {
            assert!(ExitReason::from_stop_reason(Some(r)).is_abnormal(), "{r}");
        }
        assert!(ExitReason::Failed("panic".into()).is_abnormal());
    }

    #[test]
    fn shutdown_detail_is_kept() {
        assert_eq!(
            ExitReason::from_stop_reason(Some("shutdown: auto")),
            ExitReason::Shutdown(Some("auto".into()))
        );
    }

    #[test]
    fn reasons_read_as_they_were_given() {
        let shown = [
            ExitReason::Normal,
            ExitReason::Shutdown(None),
            ExitReason::Shutdown(Some("auto".into())),
            ExitReason::Killed,
            ExitReason::Escalated("escalated: too many".into()),
            ExitReason::Failed("panic".into()),
            ExitReason::Other("oops".into()),
        ]
        .map(|r| r.to_string());
        assert_eq!(
            shown,
            [
                "normal",
                "shutdown",
                "shutdown: auto",
                "killed",
                "escalated: too many",
                "failed: panic",
                "oops"
            ]
        );
        // What a stop reason says is what it reads back as.
        for r in [
            "normal",
            "shutdown",
            "shutdown: auto",
            "killed",
            "escalated: x",
            "oops",
        ] {
            assert_eq!(ExitReason::from_stop_reason(Some(r)).to_string(), r);
        }
    }
}
