//! A reached ceiling, as the user reads it: which, how much, and what to do.

use std::fmt;

use super::zone::Day;
use crate::protocol::Ceiling;

/// A ceiling that is reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Spent {
    /// Which.
    pub ceiling: Ceiling,
    /// The session (session ceilings).
    pub session: Option<String>,
    /// Spent.
    pub spent_usd: f64,
    /// The ceiling.
    pub budget_usd: f64,
    /// The day it was reached on (in `time_zone`).
    pub day: Day,
    /// `limits.budget_time_zone`.
    pub time_zone: String,
}

impl Spent {
    /// The ceiling, named (`the daily budget`, `session main's budget`).
    pub fn what(&self) -> String {
        match (self.ceiling, &self.session) {
            (Ceiling::Day, _) => format!("the daily budget of {} ({})", self.day, self.time_zone),
            (Ceiling::Session, Some(s)) => format!("session {s}'s budget"),
            (Ceiling::Session, None) => "the session's budget".into(),
        }
    }

    /// Its configuration key.
    pub fn key(&self) -> &'static str {
        match self.ceiling {
            Ceiling::Day => "limits.daily_budget_usd",
            Ceiling::Session => "limits.session_budget_usd",
        }
    }
}

impl fmt::Display for Spent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is spent: ${:.4} of ${:.2} ({})",
            self.what(),
            self.spent_usd,
            self.budget_usd,
            self.key()
        )?;
        match self.ceiling {
            Ceiling::Day => f.write_str(
                "; it starts again at midnight there, or raise limits.daily_budget_usd",
            ),
            Ceiling::Session => f.write_str(
                "; use another session (smith ask --session NAME), or raise limits.session_budget_usd",
            ),
        }
    }
}
