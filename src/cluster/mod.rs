//! Beyond one machine (ARCHITECTURE §13): worker nodes on NATS JetStream. The control plane
//! stays the only supervisor and holder of context; an attempt placed on a node is a task spec
//! on a work queue, its events come back on a stream, its lease is renewed by them. Without a
//! `nats_url` all of this is absent and smith is a single machine.
//!
//! - `settings`: `[cluster]`;
//! - `connection`: the connection (checks: credentials, 2.9 or later, JetStream) and its state;
//! - `wire`: what travels and where (subjects, streams, the nodes bucket); `jetstream`: the
//!   streams, the work consumer and the bucket, made when missing;
//! - control plane: `directory` (the nodes from their heartbeats, slots), `remote` (placement,
//!   one remote attempt from dispatch to outcome, adoption after a kill), `remote_calls` (the
//!   tool calls its node relays, decided here), `event_reader` (an
//!   attempt's events from the stream, in order, surviving server restarts);
//! - worker node (`smithd worker`): `node` (fetch with a free slot, heartbeats, stopping),
//!   `node_attempt` (one attempt: the command from the node's own config, events out, lease,
//!   tool calls relayed to the control plane), `event_publisher` (its events, in order, stored);
//! - `transcripts`: Claude transcripts carried between hosts (object store).

mod connection;
mod directory;
mod event_publisher;
mod event_reader;
mod jetstream;
mod node;
mod node_attempt;
mod remote;
mod remote_calls;
mod settings;
mod transcripts;
mod wire;

pub use connection::{Cluster, ClusterError, version_ok};
pub use directory::RemoteSlot;
pub use node::{NodeConfig, NodeError, run_node};
pub use remote::Remote;
pub use settings::{ClusterSettings, Placement};
pub use wire::Dispatch;
