//! Spend across requests: the ceilings above each request's own budget —
//! `limits.session_budget_usd` and `limits.daily_budget_usd`, days in
//! `limits.budget_time_zone` — kept by one [`Ledger`] for the service. A leaf: it imports only
//! the protocol's types, the clock and the metrics.
//!
//! - `zone`: the budget's time zone and its calendar days;
//! - `ledger`: what each session and today spent, what is left, warnings at 80 %, reached
//!   ceilings told to listeners;
//! - `spent`: a reached ceiling as the user reads it.

mod ledger;
mod spent;
mod zone;

pub use ledger::{Ceilings, Ledger, Restored, WARN_AT};
pub use spent::Spent;
pub use zone::{BudgetZone, Day};
