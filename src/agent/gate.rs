//! The gate a request holds over its tasks' attempts: once closed (budget spent, cancelled), no
//! new attempt starts; while open, it says how much budget is left for `--max-budget-usd`.

use std::sync::Mutex;

use crate::protocol::StopReason;

/// Shared by a request and its task child specs.
#[derive(Debug, Default)]
pub struct AttemptGate {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    closed: Option<StopReason>,
    budget_usd: Option<f64>,
    spent_usd: f64,
}

impl AttemptGate {
    /// An open gate with an optional budget.
    pub fn new(budget_usd: Option<f64>) -> Self {
        Self {
            state: Mutex::new(GateState {
                closed: None,
                budget_usd,
                spent_usd: 0.0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the gate for `reason` (the first reason stays).
    pub fn close(&self, reason: StopReason) {
        self.lock().closed.get_or_insert(reason);
    }

    /// Why the gate is closed, if it is.
    pub fn closed(&self) -> Option<StopReason> {
        self.lock().closed
    }

    /// Adds spending; closes the gate for the budget once it is reached.
    /// Returns true when this call closed it.
    pub fn spend(&self, usd: f64) -> bool {
        let mut s = self.lock();
        s.spent_usd += usd.max(0.0);
        match s.budget_usd {
            Some(budget) if s.spent_usd >= budget && s.closed.is_none() => {
                s.closed = Some(StopReason::BudgetExceeded);
                true
            }
            _ => false,
        }
    }

    /// Spent so far.
    pub fn spent(&self) -> f64 {
        self.lock().spent_usd
    }

    /// What is left of the budget (`None`: no budget).
    pub fn remaining(&self) -> Option<f64> {
        let s = self.lock();
        s.budget_usd.map(|b| (b - s.spent_usd).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_the_budget_closes_the_gate_once() {
        let g = AttemptGate::new(Some(1.0));
        assert!(!g.spend(0.4));
        assert_eq!(g.remaining(), Some(0.6));
        assert!(g.spend(0.6));
        assert!(!g.spend(0.1), "already closed");
        assert_eq!(g.closed(), Some(StopReason::BudgetExceeded));
        assert_eq!(g.remaining(), Some(0.0));
    }

    #[test]
    fn no_budget_never_closes_by_spending() {
        let g = AttemptGate::new(None);
        assert!(!g.spend(1e9));
        assert_eq!(g.remaining(), None);
        g.close(StopReason::Cancelled);
        g.close(StopReason::Interrupted);
        assert_eq!(g.closed(), Some(StopReason::Cancelled));
    }
}
