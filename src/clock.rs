//! Wall-clock time where the calendar matters (the day a cost is charged to): the system's, or one
//! a test sets and moves (across midnight, into another time zone's day) — a leaf.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The system's clock (the default), or a manual one shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `ms` (Unix milliseconds) until it is set again.
    pub fn manual(ms: i64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(ms))),
        }
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        }
    }

    /// Moves a manual clock (and every clone of it) to `ms`.
    ///
    /// # Panics
    /// On the system's clock: a test that thinks it moved time would pass for the wrong reason.
    pub fn set_ms(&self, ms: i64) {
        self.manual
            .as_ref()
            .expect("only a manual clock can be set")
            .store(ms, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_for_all_its_clones() {
        let c = Clock::manual(1_000);
        let d = c.clone();
        d.set_ms(2_000);
        assert_eq!(c.now_ms(), 2_000);
        assert!(Clock::system().now_ms() > 1_700_000_000_000);
    }
}
