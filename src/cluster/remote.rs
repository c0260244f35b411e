//! Attempts on worker nodes, as the control plane runs them: where an attempt goes
//! (`cluster.placement`, the nodes' free slots and roots), and one remote attempt from its
//! dispatch to its outcome — its events read from the events stream (from the first, so none
//! is missed whatever the connection does), its lease renewed by every event the node sends,
//! stop requests passed on, and a node not heard of for a lease an attempt that ended
//! `node_lost` (retryable: the supervisor restarts it like any crash, as a new attempt; a
//! late word from the lost one goes to a subject nobody reads any more). The tool calls its
//! node asks about are decided here (`remote_calls`).

use std::path::Path;
use std::sync::Arc;

use async_nats::HeaderMap;
use tokio::sync::{OnceCell, mpsc};
use tokio::time::{Instant, sleep_until};

use super::connection::Cluster;
use super::directory::{Directory, RemoteSlot};
use super::event_reader::{Events, acknowledge};
use super::jetstream::Streams;
use super::remote_calls::RemoteCalls;
use super::settings::{ClusterSettings, Placement};
use super::wire::{
    Control, Dispatch, NodeEvent, WORK_SUBJECT, WireSession, control_subject, events_subject,
};
use crate::agent::{
    AttemptEvent, NodeSlot, NodeWork, Nodes, Outcome, OutcomeReason, StopCause, ToolCalls,
};
use crate::protocol::{NodeStatus, StopReason};
use futures::future::BoxFuture;

/// The control plane's side of the worker nodes.
pub struct Remote {
    cluster: Arc<Cluster>,
    settings: ClusterSettings,
    directory: Arc<Directory>,
    streams: OnceCell<Streams>,
}

impl Remote {
    /// The nodes of `cluster`; follows their heartbeats from the first connection on.
    pub fn start(cluster: Arc<Cluster>, settings: &ClusterSettings) -> Arc<Self> {
        let remote = Arc::new(Self {
            cluster,
            settings: settings.clone(),
            directory: Directory::new(settings.node_heartbeat),
            streams: OnceCell::new(),
        });
        remote.directory.observe();
        let me = remote.clone();
        tokio::spawn(async move {
            if let Some(streams) = me.streams().await {
                me.directory.clone().follow(streams.nodes.clone()).await;
            }
        });
        remote
    }

    /// The streams, once connected (`None` if they cannot be set up; said in the log).
    async fn streams(&self) -> Option<&Streams> {
        let streams = self
            .streams
            .get_or_try_init(|| async {
                let client = self.cluster.wait_client().await;
                Streams::open(client).await
            })
            .await;
        match streams {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "the cluster's streams cannot be used: attempts run on this host");
                None
            }
        }
    }

    /// The nodes, as `smith status` shows them.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        self.directory.statuses()
    }

    /// Where an attempt in `cwd` runs: `Some` (a slot on the nodes) for a node, `None` for this
    /// host. `placement = "remote"` waits for a free slot when a node has `cwd` (a stop
    /// request ends the wait: `Err`).
    pub async fn place(
        &self,
        cwd: &Path,
        stop: &mut mpsc::UnboundedReceiver<StopReason>,
    ) -> Result<Option<RemoteSlot>, StopReason> {
        if !self.cluster.is_connected() || self.streams.get().is_none() {
            return Ok(None);
        }
        match self.settings.placement {
            Placement::Local => Ok(None),
            Placement::Any => Ok(self.directory.try_reserve(cwd)),
            Placement::Remote => {
                if !self.directory.has(cwd) {
                    tracing::warn!(cwd = %cwd.display(), "no worker node has this directory (yet): the attempt waits for one");
                }
                tokio::select! {
                    slot = self.directory.reserve(cwd) => Ok(Some(slot)),
                    reason = stop.recv() => Err(reason.unwrap_or(StopReason::Cancelled)),
                }
            }
        }
    }

    /// Runs `dispatch` on a node to its end (see the module doc); `headers` carry the trace,
    /// `calls` decide the tool calls its node asks about.
    async fn run(
        &self,
        mut dispatch: Dispatch,
        headers: HeaderMap,
        calls: Option<ToolCalls>,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
        stop: &mut mpsc::UnboundedReceiver<StopReason>,
    ) -> Outcome {
        let lost = |detail: String| Outcome::bare(OutcomeReason::NodeLost, detail);
        // The Claude session a restart resumes, once the process ran (a lost node says no more).
        let session_id = match &dispatch.session {
            WireSession::New(id) | WireSession::Resume(id) => id.clone(),
        };
        let Some(streams) = self.streams().await else {
            return lost("the cluster's streams cannot be used".into());
        };
        let key = dispatch.key();
        dispatch.lease_ms = self.settings.lease.as_millis() as u64;
        dispatch.ask = calls.is_some();
        let start_timeout = self.settings.start_timeout;
        dispatch.take_by_ms = crate::store::records::now_ms() + start_timeout.as_millis() as i64;
        // Events are read from the stream's first for the attempt: nothing is missed.
        let events = Events::start(streams.events.clone(), &key);
        let mut headers = headers;
        headers.insert("Nats-Msg-Id", key.as_str());
        let payload = serde_json::to_vec(&dispatch).unwrap_or_default();
        let published = match streams
            .js
            .publish_with_headers(WORK_SUBJECT, headers, payload.into())
            .await
        {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let work_seq = match published {
            Ok(ack) => ack.sequence,
            Err(e) => return lost(format!("the attempt could not be dispatched: {e}")),
        };
        tracing::debug!(attempt = %key, seq = work_seq, "dispatched");
        let lease = self.settings.lease;
        let follow = Follow {
            calls: RemoteCalls::new(calls, self.cluster.client(), &key, lease, 0),
            key,
            work_seq: Some(work_seq),
            session_id,
            first_wait: start_timeout,
        };
        self.follow(streams, events, follow, on_event, stop, &mut false)
            .await
    }

    /// Follows attempt `tag`, started on a node by an earlier control plane (killed while it
    /// ran), to its end: its events from the first (an outcome it reached meanwhile is read at
    /// once), its lease as for any remote attempt. `session_id`: its Claude session; `calls`
    /// decide the tool calls its node asks about.
    async fn adopt(
        &self,
        tag: &str,
        session_id: String,
        calls: Option<ToolCalls>,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
        stop: &mut mpsc::UnboundedReceiver<StopReason>,
    ) -> Outcome {
        let Some(streams) = self.streams().await else {
            return Outcome::bare(
                OutcomeReason::NodeLost,
                "the cluster's streams cannot be used",
            );
        };
        let key = super::wire::attempt_key(tag);
        tracing::info!(attempt = %key, "following a remote attempt an earlier smithd started");
        // What was said before now is a replay: tool calls asked then are decided once it is
        // read, unless their answers arrived meanwhile.
        let replay_to = streams
            .events
            .get_last_raw_message_by_subject(&events_subject(&key))
            .await
            .map_or(0, |m| m.sequence);
        let events = Events::start(streams.events.clone(), &key);
        let lease = self.settings.lease;
        let follow = Follow {
            calls: RemoteCalls::new(calls, self.cluster.client(), &key, lease, replay_to),
            key,
            work_seq: None,
            session_id,
            first_wait: self.settings.lease,
        };
        let mut stopped = false;
        let mut outcome = self
            .follow(streams, events, follow, on_event, stop, &mut stopped)
            .await;
        // Stopped by the earlier smithd as it shut down (its grace ran out before the outcome
        // came), not by this one: interrupted, so it goes on — as a local attempt does.
        if outcome.reason == OutcomeReason::Cancelled && !stopped {
            outcome.reason = OutcomeReason::Interrupted;
            outcome.retryable = true;
        }
        outcome
    }

    /// Follows a remote attempt to its end; `stopped` is set once this control plane asked it
    /// to stop.
    async fn follow(
        &self,
        streams: &Streams,
        mut events: Events,
        f: Follow,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
        stop: &mut mpsc::UnboundedReceiver<StopReason>,
        stopped: &mut bool,
    ) -> Outcome {
        let lost = |detail: String| Outcome::bare(OutcomeReason::NodeLost, detail);
        let key = f.key;
        let mut calls = f.calls;
        let lease = self.settings.lease;
        let mut deadline = Instant::now() + f.first_wait;
        let mut node: Option<String> = None;
        let mut stop_open = true;
        let mut stopping: Option<StopReason> = None;
        let mut spawned = false;
        // The position up to which its events were applied.
        let mut applied = 0;
        let outcome = loop {
            tokio::select! {
                (seq, event) = events.next() => {
                    tracing::trace!(attempt = %key, seq, ?event, "event");
                    deadline = Instant::now() + lease;
                    applied = seq;
                    match event {
                        NodeEvent::Taken { node: n } => {
                            tracing::debug!(attempt = %key, node = %n, "taken");
                            node = Some(n);
                            // A stop asked before the node had it is said again.
                            if let Some(r) = stopping {
                                self.tell(&key, r).await;
                            }
                        }
                        NodeEvent::Heartbeat => {}
                        NodeEvent::Attempt(e) => {
                            spawned |= matches!(e, AttemptEvent::Spawned { .. });
                            on_event(e)
                        }
                        NodeEvent::ToolAsked(request) => calls.asked(seq, request, on_event),
                        NodeEvent::ToolAnswered { request_id } => calls.answered(&request_id),
                        NodeEvent::Finished(outcome) => break *outcome,
                    }
                    calls.read(seq, on_event);
                }
                answer = calls.next(), if calls.waiting() => calls.answer(answer, on_event),
                reason = stop.recv(), if stop_open => {
                    stop_open = reason.is_some();
                    let reason = reason.unwrap_or(StopReason::Cancelled);
                    stopping = Some(reason);
                    *stopped = true;
                    // What waits for a person is withdrawn: the worker will not run it.
                    calls.end(StopCause::from(reason).describe());
                    if let (None, Some(seq)) = (&node, f.work_seq)
                        && streams.work.delete_message(seq).await.unwrap_or(false)
                    {
                        // Taken back first, then told: a node that fetched it meanwhile drops it
                        // or hears this.
                        self.tell(&key, reason).await;
                        break Outcome::bare(
                            crate::agent::outcome::classify(None, Some(StopCause::from(reason))),
                            format!("stopped ({reason}) before a worker node took it"),
                        );
                    }
                    self.tell(&key, reason).await;
                }
                _ = sleep_until(deadline) => {
                    calls.end("its worker node was lost");
                    if let (None, Some(seq)) = (&node, f.work_seq) {
                        // Taken back first, then told: a node that fetched it meanwhile drops it
                        // or hears this.
                        let _ = streams.work.delete_message(seq).await;
                        self.tell(&key, StopReason::Cancelled).await;
                        break lost(format!(
                            "no worker node took it within {} (cluster.start_timeout)",
                            humantime::format_duration(f.first_wait)
                        ));
                    }
                    // Whoever has it stops it when it hears again (and stops by itself when cut off).
                    self.tell(&key, StopReason::Cancelled).await;
                    let who = node.map_or_else(|| "its worker node".to_string(), |n| format!("worker node {n}"));
                    break Outcome {
                        claude_session_id: spawned.then_some(f.session_id.clone()),
                        ..lost(format!(
                            "{who} was not heard of for {} (cluster.lease)",
                            humantime::format_duration(lease)
                        ))
                    };
                }
            }
        };
        // Once the end is committed, nothing the node said about this attempt is needed.
        let receipt = Some(acknowledge(streams.events.clone(), &key, applied));
        Outcome { receipt, ..outcome }
    }

    /// Asks the node running attempt `key` to stop it.
    async fn tell(&self, key: &str, reason: StopReason) {
        if let Some(client) = self.cluster.client() {
            let payload = serde_json::to_vec(&Control::Stop(reason)).unwrap_or_default();
            if let Err(e) = client.publish(control_subject(key), payload.into()).await {
                tracing::warn!(attempt = %key, error = %e, "cannot pass a stop request on");
            }
            let _ = client.flush().await;
        }
    }
}

/// What a remote attempt is followed by.
struct Follow {
    /// The tool calls its node asks about.
    calls: RemoteCalls,
    /// Its key.
    key: String,
    /// Its dispatch's sequence in the work queue (taken back while no node has it).
    work_seq: Option<u64>,
    /// Its Claude session.
    session_id: String,
    /// How long until the first word of a node.
    first_wait: std::time::Duration,
}

impl Nodes for Remote {
    fn place<'a>(
        &'a self,
        cwd: &'a Path,
        control: &'a mut mpsc::UnboundedReceiver<StopReason>,
    ) -> BoxFuture<'a, Result<Option<NodeSlot>, StopReason>> {
        Box::pin(async move {
            let slot = Remote::place(self, cwd, control).await?;
            Ok(slot.map(|s| NodeSlot(Box::new(s))))
        })
    }

    fn claim(&self, cwd: &Path) -> NodeSlot {
        NodeSlot(Box::new(self.directory.claim(cwd)))
    }

    fn run<'a>(
        &'a self,
        slot: NodeSlot,
        work: NodeWork,
        on_event: &'a mut (dyn FnMut(AttemptEvent) + Send),
        control: &'a mut mpsc::UnboundedReceiver<StopReason>,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            // The slot is held to the attempt's end.
            let _slot = slot;
            match work {
                NodeWork::Dispatch {
                    spec,
                    request_id,
                    task_id,
                    task_name,
                    attempt,
                    trace,
                    calls,
                } => {
                    let dispatch = Dispatch::new(&spec, &request_id, &task_id, &task_name, attempt);
                    let mut headers = HeaderMap::new();
                    for (name, value) in trace {
                        headers.insert(name.to_ascii_lowercase().as_str(), value.as_str());
                    }
                    Remote::run(self, dispatch, headers, calls, on_event, control).await
                }
                NodeWork::Adopt {
                    tag,
                    session_id,
                    calls,
                } => {
                    self.adopt(tag.as_str(), session_id, calls, on_event, control)
                        .await
                }
            }
        })
    }
}
