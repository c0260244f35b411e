//! Sessions: the main REPL sessions that hold the context, fan requests out to tasks, supervise
//! them, and merge what they return.
//!
//! - [`actor`]: the Session actor ([`SessionActor`]);
//! - [`sessions`]: [`Sessions`], the dynamic supervisor of Session actors by name;
//! - [`run`]: the state of a running request; [`request`]: the request a session runs and what
//!   its clients hear; `wire`: conversions from and to the protocol;
//!   [`event_queue`]: the bounded queue between a run and one listening client;
//! - [`context`], [`plan`], [`merge`]: pure rules for slices, plans and merged answers;
//! - [`config`], [`error`].

pub mod actor;
pub mod config;
pub mod context;
pub mod error;
pub mod event_queue;
pub mod merge;
pub mod plan;
pub mod request;
pub mod run;
pub mod sessions;
mod wire;

pub use actor::{SessionActor, SessionDeps, SessionMsg, check_session_name, validate};
pub use config::{ContextLimits, Limits, SessionConfig, Supervision};
pub use error::SessionError;
pub use event_queue::{EventSink, EventStream, event_queue};
pub use request::{RequestEvent, RequestSpec, TaskInput};
pub use sessions::Sessions;
