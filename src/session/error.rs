//! Errors of sessions.

use crate::store::{RequestStatus, StoreError};

/// What can go wrong with a request or a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The request makes no sense.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// No such request.
    #[error("request {0} not found")]
    NotFound(String),
    /// The request cannot do that in its state.
    #[error("request {id} is {status}: {why}")]
    WrongState {
        /// Request id.
        id: String,
        /// Its status.
        status: RequestStatus,
        /// What cannot be done.
        why: &'static str,
    },
    /// The session already has as many requests waiting as it may.
    #[error(
        "session {session} already has {limit} requests waiting (limits.max_queued_requests): wait for some to finish, or cancel some"
    )]
    QueueFull {
        /// Session name.
        session: String,
        /// The limit.
        limit: usize,
    },
    /// As many Sessions as `limits.max_live_sessions` allows are live and busy.
    #[error(
        "{limit} sessions are busy (limits.max_live_sessions): wait for one to finish, or use one of them"
    )]
    TooManySessions {
        /// The limit.
        limit: usize,
    },
    /// A spending ceiling (the session's, or the day's) is reached.
    #[error("{0}")]
    OverBudget(crate::spend::Spent),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An isolated request cannot have worktrees (not a repository, git missing, …).
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    /// The session actor is not reachable.
    #[error("session {session} is not reachable: {reason}")]
    Unreachable {
        /// Session name.
        session: String,
        /// Why.
        reason: String,
    },
}
