//! The gate a request holds over its tasks' attempts: once closed (budget spent, a ceiling
//! reached, cancelled), no new attempt starts; while open, it says how much is left for
//! `--max-budget-usd` — the least of what is left of the request's budget and of its session's
//! and the day's ceilings.

use std::sync::{Arc, Mutex};

use crate::protocol::StopReason;
use crate::spend::{Day, Ledger, Spent};

/// Shared by a request and its task child specs.
#[derive(Default)]
pub struct AttemptGate {
    state: Mutex<GateState>,
    /// The service's ledger and the request's session (`None`: only the request's budget).
    ceilings: Option<(Arc<Ledger>, String)>,
}

#[derive(Debug, Default)]
struct GateState {
    closed: Option<StopReason>,
    /// The ceiling that closed it, when one did.
    ceiling: Option<Spent>,
    budget_usd: Option<f64>,
    spent_usd: f64,
}

impl AttemptGate {
    /// An open gate with an optional budget.
    pub fn new(budget_usd: Option<f64>) -> Self {
        Self {
            state: Mutex::new(GateState {
                budget_usd,
                ..GateState::default()
            }),
            ceilings: None,
        }
    }

    /// An open gate with an optional budget, under the ceilings of `ledger` for `session`.
    pub fn under(budget_usd: Option<f64>, ledger: Arc<Ledger>, session: &str) -> Self {
        Self {
            ceilings: Some((ledger, session.to_string())),
            ..Self::new(budget_usd)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.closed.is_none()
            && let Some((ledger, session)) = &self.ceilings
            && let Some(spent) = ledger.reached(session)
        {
            s.closed = Some(StopReason::BudgetExceeded);
            s.ceiling = Some(spent);
        }
        s
    }

    /// Closes the gate for `reason` (the first reason stays).
    pub fn close(&self, reason: StopReason) {
        self.lock().closed.get_or_insert(reason);
    }

    /// Why the gate is closed, if it is (a reached ceiling closes it for the budget).
    pub fn closed(&self) -> Option<StopReason> {
        self.lock().closed
    }

    /// The ceiling that closed it, if one did.
    pub fn ceiling(&self) -> Option<Spent> {
        self.lock().ceiling.clone()
    }

    /// Counts what the request spent before this run (a resumed request): the ledger has it.
    pub fn spent_before(&self, usd: f64) {
        self.lock().spent_usd += usd.max(0.0);
    }

    /// Adds an attempt's cost to the request and charges it to the ledger; closes the gate for
    /// the budget once it is reached. Returns the day the ledger charged (`None`: no ledger).
    pub fn spend(&self, usd: f64) -> Option<Day> {
        let charged = self
            .ceilings
            .as_ref()
            .map(|(ledger, session)| ledger.charge(session, usd));
        let mut s = self.lock();
        s.spent_usd += usd.max(0.0);
        if let Some(budget) = s.budget_usd
            && s.spent_usd >= budget
        {
            s.closed.get_or_insert(StopReason::BudgetExceeded);
        }
        charged
    }

    /// Spent so far.
    pub fn spent(&self) -> f64 {
        self.lock().spent_usd
    }

    /// What is left of the budget and the ceilings (`None`: neither).
    pub fn remaining(&self) -> Option<f64> {
        let own = {
            let s = self.lock();
            s.budget_usd.map(|b| (b - s.spent_usd).max(0.0))
        };
        let ceilings = self
            .ceilings
            .as_ref()
            .and_then(|(ledger, session)| ledger.left(session));
        [own, ceilings].into_iter().flatten().reduce(f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::spend::{BudgetZone, Ceilings, Restored};

    #[test]
    fn spending_the_budget_closes_the_gate() {
        let g = AttemptGate::new(Some(1.0));
        g.spend(0.4);
        assert_eq!(g.closed(), None);
        assert_eq!(g.remaining(), Some(0.6));
        g.spend(0.6);
        assert_eq!(g.closed(), Some(StopReason::BudgetExceeded));
        assert_eq!(g.remaining(), Some(0.0));
        assert_eq!(g.ceiling(), None, "the request's own budget, no ceiling");
    }

    #[test]
    fn no_budget_never_closes_by_spending() {
        let g = AttemptGate::new(None);
        assert_eq!(g.spend(1e9), None, "no ledger, no day");
        assert_eq!(g.remaining(), None);
        g.close(StopReason::Cancelled);
        g.close(StopReason::Interrupted);
        assert_eq!(g.closed(), Some(StopReason::Cancelled));
    }

    #[test]
    fn the_ceilings_bound_what_is_left_and_close_every_gate_under_them() {
        let ceilings = Ceilings {
            session_usd: Some(1.0),
            daily_usd: None,
            zone: BudgetZone::utc(),
        };
        let ledger = Arc::new(Ledger::new(ceilings, Clock::system(), Restored::default()));
        let a = AttemptGate::under(Some(5.0), ledger.clone(), "main");
        let b = AttemptGate::under(None, ledger.clone(), "main");
        let other = AttemptGate::under(None, ledger, "other");
        assert_eq!(
            a.remaining(),
            Some(1.0),
            "the session's 1.0 < the request's 5.0"
        );
        assert!(a.spend(0.25).is_some());
        assert_eq!(b.remaining(), Some(0.75), "b sees what a spent");
        b.spend(0.75);
        assert_eq!(a.closed(), Some(StopReason::BudgetExceeded));
        assert_eq!(
            a.ceiling().map(|c| c.key()),
            Some("limits.session_budget_usd")
        );
        assert_eq!(other.closed(), None);
        // What a resumed request spent before is the request's, not charged again.
        other.spent_before(0.5);
        assert_eq!(other.spent(), 0.5);
        assert_eq!(other.remaining(), Some(1.0));
    }
}
