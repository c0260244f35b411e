//! `smithd worker`: a worker node. No sessions, no context, no store — it takes attempts from
//! the work queue when it has a free slot (`cluster.capacity`), runs each under its own process
//! group (see `node_attempt`), and says it is alive in the nodes bucket every
//! `cluster.node_heartbeat`. Stopping: no new attempt is taken, the running ones are stopped
//! (their outcome `interrupted`, so the control plane restarts them elsewhere), and the node's
//! last entry says it stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use futures::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::connection::{Cluster, ClusterError};
use super::jetstream::{SetupError, Streams};
use super::node_attempt::{NodeContext, run_remote_attempt};
use super::settings::ClusterSettings;
use super::transcripts::Transcripts;
use super::wire::{Dispatch, NodeInfo};
use crate::agent::AgentConfig;
use crate::store::records::now_ms;

/// Why a worker node cannot run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No cluster configured.
    #[error(
        "smithd worker needs cluster.nats_url: the NATS server the control plane uses (e.g. nats://127.0.0.1:4222)"
    )]
    NoCluster,
    /// The connection cannot be made.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// JetStream cannot be set up.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The node's id cannot be kept.
    #[error("cannot keep the node's id in {path} ({why}): check service.data_dir")]
    DataDir {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
}

/// What a worker node runs with (made from smithd's config).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// `[cluster]`.
    pub cluster: ClusterSettings,
    /// `[agent]`: how it runs `claude`.
    pub agent: AgentConfig,
    /// Its slots when `cluster.capacity` is 0 (`limits.max_concurrent_tasks`).
    pub default_capacity: u32,
    /// `service.data_dir` (its id is kept there).
    pub data_dir: std::path::PathBuf,
}

/// How long a stopping node tries to say it stopped.
const LAST_WORD: Duration = Duration::from_secs(5);

/// Runs a worker node until `stop` completes (a graceful stop: its attempts are interrupted).
pub async fn run_node(
    config: NodeConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let (stopping_tx, mut shutdown) = watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stopping_tx.send(true);
    });
    let settings = config.cluster.clone();
    // This node's mark in its processes' tags: its name and the id kept in its data dir.
    let mark = node_mark(&settings.node(), &config.data_dir)?;
    // What an earlier run of this node left (it was killed): its workers' processes, by tag.
    let left = crate::agent::attempt_tag::find(
        |t| crate::agent::attempt_tag::node_of(t) == Some(mark.as_str()),
        None,
    );
    if !left.is_empty() {
        tracing::warn!(node = %mark, processes = left.len(), "stopping the processes an earlier run of this node left");
        crate::agent::attempt_tag::stop(&left, config.agent.term_grace).await;
    }
    let cluster = Cluster::connect(&settings)
        .await?
        .ok_or(NodeError::NoCluster)?;
    let client = tokio::select! {
        c = cluster.wait_client() => c,
        _ = shutdown.changed() => return Ok(()),
    };
    let streams = Streams::open(client.clone()).await?;
    let work = streams.work_consumer().await?;
    let capacity = match settings.capacity {
        0 => config.default_capacity,
        n => n,
    };
    let transcripts = match Transcripts::open(&streams.js).await {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %e, "Claude transcripts are not carried between hosts: a task restarted elsewhere starts its conversation anew");
            None
        }
    };
    let node = Arc::new(NodeContext {
        name: cluster.node().to_string(),
        mark,
        agent: Arc::new(config.agent.clone()),
        client,
        js: streams.js.clone(),
        work: streams.work.clone(),
        transcripts,
    });
    let running = Arc::new(AtomicU32::new(0));
    let info = {
        let (node, running) = (node.clone(), running.clone());
        let roots = config.agent.roots.clone();
        let started_ms = now_ms();
        move |stopping: bool| NodeInfo {
            name: node.name.clone(),
            capacity,
            running: running.load(Ordering::SeqCst),
            version: env!("CARGO_PKG_VERSION").to_string(),
            roots: roots.clone(),
            started_ms,
            seen_ms: now_ms(),
            stopping,
        }
    };
    tracing::info!(node = %node.name, capacity, roots = ?config.agent.roots, "worker node ready");
    let beats = {
        let (kv, info, every) = (streams.nodes.clone(), info.clone(), settings.node_heartbeat);
        let name = node.name.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let entry = serde_json::to_vec(&info(false)).unwrap_or_default();
                if let Err(e) = kv.put(&name, entry.into()).await {
                    tracing::debug!(error = %e, "heartbeat not stored");
                }
            }
        })
    };
    let slots = Arc::new(Semaphore::new(capacity as usize));
    let (stop_all, stopping) = watch::channel(false);
    let mut attempts = JoinSet::new();
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.expect("the slots stay open"),
            _ = shutdown.changed() => break,
        };
        let fetched = tokio::select! {
            f = fetch_one(&work) => f,
            _ = shutdown.changed() => break,
        };
        let Some(message) = fetched else { continue };
        let dispatch = match serde_json::from_slice::<Dispatch>(&message.payload) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "an unreadable dispatch dropped");
                let _ = message.ack_with(AckKind::Term).await;
                continue;
            }
        };
        if now_ms() > dispatch.take_by_ms {
            tracing::info!(attempt = %dispatch.tag, "a dispatch the control plane stopped waiting for dropped");
            let _ = message.ack_with(AckKind::Term).await;
            continue;
        }
        let (node, running, stopping) = (node.clone(), running.clone(), stopping.clone());
        running.fetch_add(1, Ordering::SeqCst);
        attempts.spawn(async move {
            run_remote_attempt(node, message, dispatch, stopping).await;
            running.fetch_sub(1, Ordering::SeqCst);
            drop(slot);
        });
        // Reap what ended (a panic is a bug; its process group was killed by its guard).
        while let Some(done) = attempts.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "a remote attempt's runner failed");
            }
        }
    }
    // Stopping: every attempt runs its stop sequence; their outcomes are published.
    tracing::info!(node = %node.name, running = running.load(Ordering::SeqCst), "worker node stopping");
    let _ = stop_all.send(true);
    let grace = config.agent.interrupt_grace + config.agent.term_grace + Duration::from_secs(5);
    let _ = tokio::time::timeout(grace, async {
        while attempts.join_next().await.is_some() {}
    })
    .await;
    attempts.abort_all();
    beats.abort();
    // The last word, when nats-server hears it (a flush waits for a reconnection that may never
    // come; the control plane's own timer tells a node that said nothing is gone).
    let last = serde_json::to_vec(&info(true)).unwrap_or_default();
    let _ = tokio::time::timeout(LAST_WORD, async {
        let _ = streams.nodes.put(&node.name, last.into()).await;
        let _ = node.client.flush().await;
    })
    .await;
    Ok(())
}

/// `name@id`: the node's name and an id kept in `data_dir/node-id` (made at its first start), so
/// that a node started again finds what its earlier run left, and only that — other nodes on the
/// same host, even of the same name, have data dirs of their own.
fn node_mark(name: &str, data_dir: &std::path::Path) -> Result<String, NodeError> {
    let path = data_dir.join("node-id");
    let id = match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => id.trim().to_string(),
        _ => {
            let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
            std::fs::create_dir_all(data_dir)
                .and_then(|()| std::fs::write(&path, &id))
                .map_err(|e| NodeError::DataDir {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
            id
        }
    };
    Ok(format!("{}@{id}", name.replace('/', "_")))
}

/// One dispatch, or `None` after a few seconds without one (or an error, said once per kind).
async fn fetch_one(
    work: &async_nats::jetstream::consumer::PullConsumer,
) -> Option<async_nats::jetstream::Message> {
    let batch = work
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(2))
        .messages()
        .await;
    match batch {
        // A pull the server forgot (it restarted) is never answered: a deadline of its own.
        Ok(mut messages) => {
            match tokio::time::timeout(Duration::from_secs(3), messages.next()).await {
                Ok(Some(Ok(m))) => Some(m),
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "fetching a dispatch failed");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    None
                }
                Ok(None) | Err(_) => None,
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "fetching a dispatch failed");
            tokio::time::sleep(Duration::from_millis(500)).await;
            None
        }
    }
}
