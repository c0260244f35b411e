//! Beyond one machine (ARCHITECTURE §13): smithd's connection to NATS JetStream, where worker
//! nodes will take attempts from. This part connects the control plane (`[cluster]`), checks the
//! server (2.9 or later, JetStream on), and reports the cluster's state; without a `nats_url` it
//! is absent and smith is a single machine.
//!
//! - `settings`: `[cluster]`;
//! - `connection`: the connection, its checks and its state.

mod connection;
mod directory;
mod event_reader;
mod jetstream;
mod node;
mod node_attempt;
mod remote;
mod settings;
mod transcripts;
mod wire;

pub use connection::{Cluster, ClusterError, version_ok};
pub use directory::RemoteSlot;
pub use node::{NodeError, run_node};
pub use remote::{Remote, trace_headers};
pub use settings::{ClusterSettings, Placement};
pub use wire::Dispatch;
