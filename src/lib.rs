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
//! - [`task`]: the task model — one record per task of a request, its id and why it ended.
//! - [`agent`]: one `claude` process per attempt — its launch spec, stream-json, containment,
//!   watchdogs, outcome classes — the executor seam attempts run through, and the task actor.
//! - [`governor`]: one API account, many workers — the gate every attempt passes, closed for all
//!   by a throttle any worker sees (a leaf).
//! - [`spend`]: the ceilings above a request's budget — what each session and each day spent,
//!   against `limits.session_budget_usd` and `limits.daily_budget_usd` (a leaf; [`clock`] is
//!   the wall clock it reads, one a test can move).
//! - [`permissions`]: workers' tool calls decided by smith (`stdio` mode) — rules and presets,
//!   then a person: the approvals that wait, their timeout, who is attached, "always".
//! - [`store`]: SQLite — schema, migrations, the Store actor, queries, retention; committed
//!   before acknowledged.
//! - [`session`]: the Session actor (the main REPL session: it dispatches), the running request
//!   as a state machine (plan → tasks → synthesize → finish), the pure rules (verdict, slices,
//!   plans, merge), and `Sessions` with its registry of live sessions.
//! - [`workspace`]: isolated tasks' git worktrees — made ready, committed, reviewed, merged,
//!   discarded, reconciled; a typed git wrapper. Of smith it imports only the protocol's types,
//!   the settings helpers, the metrics and the process group guard (`process_group`, a leaf).
//! - [`protocol`]: the control protocol — frames, handshake, Request/Response and every type
//!   they carry (DTOs). It imports nothing else of smith; [`cli`] imports only it (and the
//!   config paths, and `sanitize` for what reaches a terminal); internal types are converted to it at the edge (`service::wire`,
//!   `session::wire`).
//! - [`cluster`]: beyond one machine — worker nodes on NATS JetStream (`[cluster]`, `smithd
//!   worker`); the control plane's side implements `agent::Nodes`, the seam attempts are placed
//!   through.
//! - [`service`]: smithd — the root tree, the control server, startup recovery, the orphan
//!   sweep, the ordered shutdown.
//! - [`cli`]: `smith` — arguments, client, rendering, the live view, the REPL.
//! - [`config`]: the configuration's layers (defaults < file < environment) over the sections,
//!   each defined by the module that uses it; `settings`: how values are written (durations,
//!   "empty means none"); `paths`: default locations; `sanitize`: worker text made safe for a
//!   terminal (a leaf); [`telemetry`]: logs, traces, metrics.
//!
//! No module imports one that imports it back (the session uses the agent, the store and the
//! protocol; none of those uses the session). Everything is `pub(crate)` unless a binary or an
//! integration test needs it.
//!
//! The binaries are thin: `src/bin/smithd.rs` (config → telemetry → [`service::run`]) and
//! `src/bin/smith.rs` (arguments → [`cli::run`]).

mod accept_pause;
pub mod agent;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod governor;
pub(crate) mod paths;
pub mod permissions;
pub(crate) mod process_group;
pub mod protocol;
pub(crate) mod sanitize;
pub mod service;
pub mod session;
pub(crate) mod settings;
pub mod spend;
pub mod store;
pub mod supervisor;
pub mod task;
pub mod telemetry;
pub mod workspace;
