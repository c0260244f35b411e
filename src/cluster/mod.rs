//! Beyond one machine (ARCHITECTURE §13): smithd's connection to NATS JetStream, where worker
//! nodes will take attempts from. This part connects the control plane (`[cluster]`), checks the
//! server (2.9 or later, JetStream on), and reports the cluster's state; without a `nats_url` it
//! is absent and smith is a single machine.
//!
//! - `settings`: `[cluster]`;
//! - `connection`: the connection, its checks and its state.

mod connection;
mod settings;

pub use connection::{Cluster, ClusterError, version_ok};
pub use settings::ClusterSettings;
