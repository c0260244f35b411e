//! Sessions: the main REPL sessions that hold the context, fan requests out to tasks, supervise
//! them, and merge what they return.
//!
//! - `actor`: the Session actor ([`SessionActor`]) — it only dispatches;
//! - `state`: what a Session holds, and the loop that drives its running request;
//! - `queue`: requests before they run (accepted, resumed, cancelled, interrupted);
//! - `run`: one running request as a state machine (`Starting → Planning → Running →
//!   Synthesizing → Finishing`); `phase`: starting a phase's supervisor and tasks;
//!   `task_events`: what a task's report changes; `finish`: merge, verdict, commit, answer;
//! - `verdict`, `context`, `plan`, `merge`: pure rules (how tasks and requests end,
//!   slices, plans, merged answers); `spans`: the request's spans; `validate`: what a request
//!   must be;
//! - `sessions`: [`Sessions`], the dynamic supervisor of Session actors by name; `registry`:
//!   which are live and busy (lookups, retiring idle ones, waiting for all to be idle);
//! - `request`: the request a session runs and what its clients hear; [`event_queue`]: the
//!   bounded queue to one listening client; `wire`: conversions from and to the protocol;
//! - `config`, `error`.

pub(crate) mod actor;
pub(crate) mod config;
pub(crate) mod context;
pub(crate) mod error;
pub mod event_queue;
mod finish;
mod live;
pub(crate) mod merge;
mod message;
mod phase;
pub(crate) mod plan;
mod queue;
mod registry;
pub(crate) mod request;
mod run;
pub(crate) mod sessions;
mod spans;
mod state;
mod task_events;
mod validate;
mod verdict;
mod watch;
mod wire;

pub use actor::SessionActor;
pub use config::{ContextLimits, Limits, SessionConfig, Supervision};
pub use error::SessionError;
pub use event_queue::{EventSink, EventStream, event_queue};
pub use message::{SessionDeps, SessionMsg};
pub use request::{RequestEvent, RequestSpec, TaskInput};
pub use sessions::Sessions;
pub use validate::{check_session_name, validate};
