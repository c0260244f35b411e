//! Erlang/OTP supervision on ractor.
//!
//! ractor provides links and supervision events; this module provides the semantics: child
//! specs (restart type, shutdown, significant), strategies (one_for_one, one_for_all,
//! rest_for_one), restart intensity with escalation, backoff with jitter, auto shutdown,
//! dynamic children, ordered and timed shutdown, and typed status snapshots.
//!
//! - `strategy`, `intensity`, `backoff`, `exit_reason`: pure rules, unit-tested beside them;
//! - `child_spec`, `flags`: what a supervisor is told;
//! - `actor`: the supervisor actor; `handle`: [`SupervisorRef`], its API;
//! - `status`: snapshots for the status tree; `error`: what can go wrong.
//!
//! Every restart, backoff delay and escalation is a `tracing` event with the fields
//! `supervisor`, `child`, `reason`, `attempt` and `delay_ms`.
//!
//! # Deliberate differences from OTP
//! - Escalation exits with `escalated: …`, which is abnormal, not with `shutdown`: the parent
//!   restarts a transient child supervisor that gave up (OTP's parent would let it go).
//! - Under one_for_all / rest_for_one, when a restart's start function fails, the children already
//!   restarted keep running; the failed child and the ones after it are retried in order after a
//!   backoff (OTP terminates and retries the whole group). Each try counts toward intensity.
//! - There is no separate `simple_one_for_one` mode: `start_child` appends a child that takes part
//!   in the strategy like any other (OTP's regular supervisor); dynamic children stop in parallel,
//!   before the static ones stop in reverse order.
//! - `terminate_child` forgets dynamic and temporary children and keeps static ones as
//!   `terminated`; there is no `restart_child` / `delete_child`.
//! - Backoff is not OTP's (it comes from Akka); `Backoff::none()` gives OTP's immediate restarts.
//! - ractor's `Drained` stop reason counts as a normal exit.

pub(crate) mod actor;
pub(crate) mod backoff;
mod child;
pub(crate) mod child_spec;
pub(crate) mod error;
pub(crate) mod exit_reason;
pub(crate) mod flags;
pub(crate) mod handle;
pub(crate) mod intensity;
pub(crate) mod observer;
mod restart;
pub(crate) mod status;
pub(crate) mod strategy;

pub use actor::{Supervisor, SupervisorMsg};
pub use backoff::{Backoff, BackoffState};
pub use child_spec::{ChildId, ChildKind, ChildSpec, ChildStart, Restart, Shutdown, StartFn};
pub use error::SupervisorError;
pub use exit_reason::{ExitReason, REASON_ESCALATED, REASON_NORMAL, REASON_SHUTDOWN};
pub use flags::{AutoShutdown, SupervisorFlags, SupervisorSpec};
pub use handle::SupervisorRef;
pub use intensity::RestartIntensity;
pub use observer::{SupervisorEvent, SupervisorObserver};
pub use status::{
    ChildCounts, ChildInfo, ChildState, ChildStatus, SupervisorState, SupervisorStatus,
};
pub use strategy::Strategy;
