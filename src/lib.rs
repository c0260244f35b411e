//! # smith
//!
//! Runs Claude Code the way Claude Code runs its own sub-agents: one main session holds the
//! context and hands focused slices of work to short-lived workers, each a real `claude`
//! process, supervised with Erlang/OTP restart strategies.
//!
//! # Layout
//!
//! Read in this order:
//! - [`supervisor`]: OTP supervision on ractor — child specs, strategies, restart intensity and
//!   escalation, backoff, ordered shutdown, status snapshots. Everything else runs under it.
//! - [`agent`]: one `claude` process per attempt — command, stream-json, containment, watchdogs,
//!   outcome classes — and the task actor that owns it.
//!
//! Planned (see the design in the project's issues): `session` (the main REPL session), `store` (SQLite), `protocol` and `service` (the control
//! socket and the root tree), `cli`, `telemetry`.

pub mod agent;
pub mod cli;
pub mod config;
pub mod protocol;
pub mod service;
pub mod session;
pub mod store;
pub mod supervisor;
pub mod telemetry;
