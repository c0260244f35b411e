//! The integration tests, by area: one binary (one link of the crate) with a module per
//! feature. `lifecycle` (signals, kill -9, the instance lock), `agent_env` (it changes its own
//! environment) and `supervisor_events` (it installs the global subscriber) are binaries of
//! their own.

#[path = "../support/mod.rs"]
mod support;

mod agent;
mod ask_inputs;
mod cli;
mod cluster;
mod cluster_approvals;
mod cluster_nodes;
mod containment;
mod control_plane;
mod control_plane_clients;
mod durability;
mod governor;
mod live;
mod metrics_endpoint;
mod parser;
mod permissions;
mod prometheus_kit;
mod protocol;
mod real_cli;
mod real_cli_cluster;
mod real_cli_containment;
mod real_cli_governor;
mod real_cli_live;
mod real_cli_permissions;
mod real_cli_warm;
mod real_cli_workspaces;
mod repl;
mod retention;
mod session;
mod session_lifecycle;
mod spend;
mod store;
mod supervisor;
mod supervisor_children;
mod supervisor_timing;
mod task;
mod telemetry;
mod telemetry_export;
mod telemetry_spans;
mod usage;
mod warm;
mod workspaces;
mod workspaces_lifecycle;
