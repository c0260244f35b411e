//! What a supervisor tells an observer (besides its `tracing` events): restarts with their
//! backoff delay, failed restarts, escalation. The Session uses it to put these events on the
//! request's span.

use std::time::Duration;

use tokio::sync::mpsc;

use super::child_spec::ChildId;

/// A supervision decision.
#[derive(Debug, Clone, PartialEq)]
pub enum SupervisorEvent {
    /// A child will be restarted after `delay`.
    Restarting {
        /// The child that exited.
        child: ChildId,
        /// Why it exited.
        reason: String,
        /// 1-based position in its backoff series.
        attempt: u32,
        /// The backoff delay.
        delay: Duration,
        /// How many children restart with it (strategy).
        restarting: usize,
    },
    /// A restart's start failed; it is retried after `delay`.
    RestartFailed {
        /// The child.
        child: ChildId,
        /// Why.
        reason: String,
        /// The delay before the next try.
        delay: Duration,
    },
    /// The restart intensity was exceeded: the supervisor stops.
    Escalated {
        /// The child whose exit exceeded it.
        child: ChildId,
        /// Its exit reason.
        reason: String,
    },
}

/// Where a supervisor sends its events.
pub type SupervisorObserver = mpsc::UnboundedSender<SupervisorEvent>;
