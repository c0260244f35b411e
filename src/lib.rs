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
//! - [`store`]: SQLite — schema, migrations, the Store actor; committed before acknowledged.
//! - [`session`]: the Session actor (the main REPL session: context, planning, request runs,
//!   budget, merge) and `Sessions`, the dynamic supervisor of sessions by name.
//! - [`protocol`]: the control protocol — frames, handshake, Request/Response and every type
//!   they carry (DTOs). It imports nothing else of smith; [`cli`] imports only it (and the
//!   config paths); internal types are converted to it at the edge (`service::wire`,
//!   `session::wire`).
//! - [`service`]: smithd — the root tree, the control server, startup recovery, the orphan
//!   sweep, the ordered shutdown.
//! - [`cli`]: `smith` — arguments, client, rendering.
//! - [`config`]: the configuration's layers (defaults < file < environment) over the sections,
//!   each defined by the module that uses it; [`settings`]: how values are written (durations,
//!   "empty means none"); [`paths`]: default locations; [`telemetry`]: logs, traces, metrics.
//!
//! The binaries are thin: `src/bin/smithd.rs` (config → telemetry → [`service::run`]) and
//! `src/bin/smith.rs` (arguments → [`cli::run`]).

mod accept_pause;
pub mod agent;
pub mod cli;
pub mod config;
pub(crate) mod paths;
pub mod protocol;
pub mod service;
pub mod session;
pub(crate) mod settings;
pub mod store;
pub mod supervisor;
pub mod task;
pub mod telemetry;
