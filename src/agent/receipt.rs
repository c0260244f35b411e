//! Where a remote attempt's outcome was read, and what is owed once it is committed: the events
//! stream's sequence up to which its events were applied — its outcome's, or the last heard of a
//! lost node — stored in the same transaction as the outcome (so an outcome is applied once),
//! and the acknowledgement that lets the stream forget the attempt's events, given only after
//! COMMIT.

use std::fmt;
use std::sync::Arc;

/// The receipt of a remote outcome (see the module doc).
#[derive(Clone)]
pub struct Receipt {
    /// The events stream's sequence up to which the attempt's events were applied.
    pub seq: u64,
    acknowledge: Arc<dyn Fn() + Send + Sync>,
}

impl Receipt {
    /// The receipt of an end whose events were applied up to `seq`; `acknowledge` runs once it
    /// is committed (it must not block: it runs on the store's thread).
    pub fn new(seq: u64, acknowledge: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            seq,
            acknowledge: Arc::new(acknowledge),
        }
    }

    /// The outcome is committed.
    pub fn committed(&self) {
        (self.acknowledge)();
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt").field("seq", &self.seq).finish()
    }
}

impl PartialEq for Receipt {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
