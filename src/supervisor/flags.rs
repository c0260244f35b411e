//! Supervisor flags and the supervisor specification (flags + static children).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::backoff::Backoff;
use super::child_spec::{ChildSpec, Restart};
use super::error::SupervisorError;
use super::observer::SupervisorObserver;
use super::strategy::Strategy;

/// When a supervisor stops itself because significant children exited on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AutoShutdown {
    /// Never; significant children are not allowed.
    #[default]
    Never,
    /// As soon as any significant child exits on its own.
    AnySignificant,
    /// Once all significant children have exited on their own.
    AllSignificant,
}

/// How a supervisor restarts its children and when it gives up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorFlags {
    /// Which children restart together.
    pub strategy: Strategy,
    /// At most this many restarts within `period`; one more escalates.
    pub max_restarts: u32,
    /// The intensity window.
    pub period: Duration,
    /// Delay between a failure and the restart.
    pub backoff: Backoff,
    /// Stop the supervisor when significant children exit.
    pub auto_shutdown: AutoShutdown,
    /// Upper bound on children (static + dynamic); `None` is unbounded.
    pub max_children: Option<usize>,
}

impl Default for SupervisorFlags {
    /// one_for_one, 3 restarts in 5 s (Elixir's default), default backoff, no auto shutdown,
    /// unbounded children.
    fn default() -> Self {
        Self {
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            period: Duration::from_secs(5),
            backoff: Backoff::default(),
            auto_shutdown: AutoShutdown::Never,
            max_children: None,
        }
    }
}

/// A supervisor: its id (for logs and status), its flags and its static children in start order.
#[derive(Debug, Clone)]
pub struct SupervisorSpec {
    /// Names the supervisor in logs, events and status.
    pub id: String,
    /// Strategy, intensity, backoff, auto shutdown, limits.
    pub flags: SupervisorFlags,
    /// Started in this order at init, stopped in reverse.
    pub children: Vec<ChildSpec>,
    /// Told about restarts and escalation.
    pub observer: Option<SupervisorObserver>,
}

impl SupervisorSpec {
    /// A supervisor with default flags and no children.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            flags: SupervisorFlags::default(),
            children: Vec::new(),
            observer: None,
        }
    }

    /// Replaces the flags.
    pub fn flags(mut self, flags: SupervisorFlags) -> Self {
        self.flags = flags;
        self
    }

    /// Sets the observer.
    pub fn observer(mut self, observer: SupervisorObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Appends a static child.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Checks the flags and every child spec.
    pub fn validate(&self) -> Result<(), SupervisorError> {
        if !(self.flags.backoff.jitter.is_finite() && self.flags.backoff.jitter >= 0.0) {
            return Err(SupervisorError::InvalidFlags {
                supervisor: self.id.clone(),
                reason: format!(
                    "backoff jitter must be a finite number >= 0, got {}",
                    self.flags.backoff.jitter
                ),
            });
        }
        if self.flags.backoff.min > self.flags.backoff.max {
            return Err(SupervisorError::InvalidFlags {
                supervisor: self.id.clone(),
                reason: format!(
                    "backoff min {:?} is larger than max {:?}",
                    self.flags.backoff.min, self.flags.backoff.max
                ),
            });
        }
        if let Some(max) = self.flags.max_children
            && self.children.len() > max
        {
            return Err(SupervisorError::MaxChildren {
                supervisor: self.id.clone(),
                limit: max,
            });
        }
        for (i, child) in self.children.iter().enumerate() {
            validate_child(&self.id, &self.flags, child)?;
            if self.children[..i].iter().any(|c| c.id == child.id) {
                return Err(SupervisorError::DuplicateChild {
                    supervisor: self.id.clone(),
                    child: child.id.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Checks one child spec against a supervisor's flags: a significant child cannot be permanent,
/// and needs `auto_shutdown` other than `never` (as in OTP).
pub fn validate_child(
    supervisor: &str,
    flags: &SupervisorFlags,
    child: &ChildSpec,
) -> Result<(), SupervisorError> {
    if child.significant {
        let reason = if child.restart == Restart::Permanent {
            Some("a significant child cannot be permanent")
        } else if flags.auto_shutdown == AutoShutdown::Never {
            Some("significant children need auto_shutdown any_significant or all_significant")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(SupervisorError::InvalidChild {
                supervisor: supervisor.to_string(),
                child: child.id.clone(),
                reason: reason.to_string(),
            });
        }
    }
    Ok(())
}
