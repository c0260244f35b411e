//! Errors of the supervisor API.

use super::child_spec::ChildId;

/// What can go wrong when starting or asking a supervisor.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The flags make no sense.
    #[error("supervisor {supervisor}: invalid flags: {reason}")]
    InvalidFlags {
        /// Supervisor id.
        supervisor: String,
        /// What is wrong.
        reason: String,
    },
    /// A child spec makes no sense with these flags.
    #[error("supervisor {supervisor}: invalid child {child}: {reason}")]
    InvalidChild {
        /// Supervisor id.
        supervisor: String,
        /// Child id.
        child: ChildId,
        /// What is wrong.
        reason: String,
    },
    /// Two children share an id.
    #[error("supervisor {supervisor}: a child with id {child} already exists")]
    DuplicateChild {
        /// Supervisor id.
        supervisor: String,
        /// Child id.
        child: ChildId,
    },
    /// `max_children` reached.
    #[error("supervisor {supervisor}: max_children ({limit}) reached, child not started")]
    MaxChildren {
        /// Supervisor id.
        supervisor: String,
        /// The configured limit.
        limit: usize,
    },
    /// No child with that id.
    #[error("supervisor {supervisor}: no child with id {child}")]
    NotFound {
        /// Supervisor id.
        supervisor: String,
        /// Child id.
        child: ChildId,
    },
    /// The child's start function failed.
    #[error("supervisor {supervisor}: child {child} failed to start: {reason}")]
    StartFailed {
        /// Supervisor id.
        supervisor: String,
        /// Child id.
        child: ChildId,
        /// The start function's error.
        reason: String,
    },
    /// The supervisor actor could not be spawned (e.g. a static child failed to start).
    #[error("supervisor {supervisor} failed to start: {reason}")]
    Spawn {
        /// Supervisor id.
        supervisor: String,
        /// Why.
        reason: String,
    },
    /// The supervisor is gone or did not answer in time.
    #[error("supervisor {supervisor} is not reachable: {reason}")]
    Unreachable {
        /// Supervisor id.
        supervisor: String,
        /// Why.
        reason: String,
    },
}
