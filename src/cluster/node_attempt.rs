//! One remote attempt on a worker node: the dispatch made into a launch spec by the node's own
//! `[agent]` config (a dispatch names no program, argument or variable), the process run with
//! the same containment, watchdogs and stop sequence as a local attempt, the dispatch acked
//! once the process runs, every event published in order on the attempt's subject, a
//! heartbeat every quarter of the lease, stop requests obeyed, the tool calls the control plane
//! decides relayed to it and its answers written to the CLI — and the process stopped when
//! the node has been cut off from NATS for half the lease (the control plane will have given
//! the task to another attempt by the time the lease runs out: never two live processes). A
//! dispatch the control plane took back after this node fetched it is dropped.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use super::event_publisher::Publisher;
use super::transcripts::{Keeper, Transcripts, claude_config};
use super::wire::{Control, Dispatch, NodeEvent, WireSession, control_subject};
use crate::agent::attempt_tag::AttemptTag;
use crate::agent::{
    AgentConfig, Answered, AttemptEvent, AttemptSpec, Decider, LaunchSpec, Outcome, OutcomeReason,
    ProcessGroup, Relay, SessionArg, TaskOptions, run_launch,
};
use crate::process_group::GroupGuard;
use crate::protocol::StopReason;

/// What every attempt of a node shares.
pub(super) struct NodeContext {
    /// The node's name.
    pub name: String,
    /// Its mark in its processes' tags (`name@id`).
    pub mark: String,
    /// Its agent settings (the command is built from these).
    pub agent: Arc<AgentConfig>,
    /// The connection.
    pub client: async_nats::Client,
    /// JetStream on it.
    pub js: jetstream::Context,
    /// The work queue.
    pub work: jetstream::stream::Stream,
    /// Where Claude transcripts go between hosts (`None`: the bucket cannot be used).
    pub transcripts: Option<Transcripts>,
}

/// Runs the attempt `dispatch` (taken as `message`) to its end; `stop_all` says the node stops.
pub(super) async fn run_remote_attempt(
    node: Arc<NodeContext>,
    message: jetstream::Message,
    dispatch: Dispatch,
    mut stop_all: watch::Receiver<bool>,
) {
    let key = dispatch.key();
    let lease = dispatch.lease();
    let span = tracing::info_span!(
        target: "smith::cluster",
        "run_attempt",
        otel.name = %format!("run_attempt {}", dispatch.task_name),
        smith.node = %node.name,
        smith.request.id = %dispatch.request_id,
        gen_ai.agent.id = %dispatch.task_id,
        smith.attempt = dispatch.attempt,
    );
    if let Some(headers) = &message.headers
        && let Some(tp) = headers.get("traceparent")
    {
        let ts = headers.get("tracestate").map(|v| v.as_str());
        crate::telemetry::set_remote_parent(&span, tp.as_str(), ts);
    }
    let launch = match launch_of(&node.agent, &node.mark, &dispatch, &span) {
        // Not a directory this node has: another node may have it.
        Err(Unfit::Elsewhere(why)) => {
            tracing::info!(attempt = %key, %why, "a dispatch for another node given back");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
            return;
        }
        Err(Unfit::Never(why)) => Err(why),
        Ok(l) => Ok(l),
    };
    // Stop requests first, so none sent once the process runs is missed.
    let mut control = match node.client.subscribe(control_subject(&key)).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(attempt = %key, error = %e, "cannot hear stop requests; the attempt is given back");
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
            return;
        }
    };
    // The control plane may have taken it back since it was fetched (it does so before it tells
    // the node to stop, and stops are heard from now on): then it is for nobody.
    if !still_queued(&node.work, &message).await {
        tracing::info!(attempt = %key, "a dispatch the control plane took back dropped");
        return;
    }
    let publisher = Publisher::start(node.js.clone(), &key, lease);
    publisher.send(NodeEvent::Taken {
        node: node.name.clone(),
    });
    let (stop_tx, mut stop_rx) = mpsc::unbounded_channel::<StopReason>();
    let outcome = match launch {
        Err(detail) => {
            tracing::warn!(attempt = %key, %detail, "the attempt cannot run on this node");
            let _ = message.double_ack().await;
            Outcome::bare(OutcomeReason::SpawnFailed, detail)
        }
        Ok(launch) => {
            // The session's transcript: fetched when this host does not have it, kept as it grows.
            let keeper = match (&node.transcripts, claude_config(&launch.env)) {
                (Some(store), Some(config)) => {
                    if let WireSession::Resume(id) = &dispatch.session {
                        // Heard of while it fetches (a fetch racing puts may take a while).
                        let restore = store.restore(&config, id, &launch.cwd);
                        tokio::pin!(restore);
                        let mut beat = tokio::time::interval(lease / 4);
                        let restored = loop {
                            tokio::select! {
                                r = &mut restore => break r,
                                _ = beat.tick() => publisher.send(NodeEvent::Heartbeat),
                            }
                        };
                        match restored {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!(attempt = %key, session = %id, "no transcript of the session to resume anywhere")
                            }
                            Err(e) => {
                                tracing::warn!(attempt = %key, session = %id, error = %e, "cannot fetch the transcript of the session to resume")
                            }
                        }
                    }
                    Some(Arc::new(Keeper::new(
                        store.clone(),
                        config,
                        launch.session.id().to_string(),
                    )))
                }
                _ => None,
            };
            let group = ProcessGroup::new();
            let _guard = GroupGuard(group.clone());
            let mut message = Some(message);
            let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
            let events = publisher.clone();
            let node_name = node.name.clone();
            let kept = keeper.clone();
            let mut on_event = move |event: AttemptEvent| {
                // The transcript grows with each message: kept as it does.
                if let (Some(k), AttemptEvent::Init { .. } | AttemptEvent::Progress { .. }) =
                    (&kept, &event)
                {
                    k.tick();
                }
                let event = match event {
                    AttemptEvent::Spawned { pid, .. } => {
                        let _ = started_tx.send(());
                        AttemptEvent::Spawned {
                            pid,
                            start_time: None,
                            node: Some(node_name.clone()),
                        }
                    }
                    other => other,
                };
                events.send(NodeEvent::Attempt(event));
            };
            // Tool calls the control plane decides: asked through the events, answered on the
            // control subject.
            let (asks_tx, mut asks) = mpsc::unbounded_channel::<serde_json::Value>();
            let (answers, answers_rx) = mpsc::unbounded_channel::<Answered>();
            let decider = match dispatch.ask {
                true => Decider::Relay(Relay::new(asks_tx, answers_rx)),
                false => Decider::Here(None),
            };
            let run = run_launch(launch, None, &mut on_event, &mut stop_rx, group, decider);
            tokio::pin!(run);
            let mut beat = tokio::time::interval(lease / 4);
            let mut stopped = false;
            let outcome = loop {
                tokio::select! {
                    outcome = &mut run => break outcome,
                    Some(()) = started_rx.recv() => {
                        // The process runs: the dispatch is done with (liveness is the heartbeats').
                        if let Some(m) = message.take() {
                            tokio::spawn(async move { let _ = m.double_ack().await; });
                        }
                    }
                    Some(m) = next(&mut control) => {
                        match serde_json::from_slice::<Control>(&m.payload) {
                            Ok(Control::Stop(reason)) => { let _ = stop_tx.send(reason); }
                            Ok(Control::Answer(answer)) => {
                                publisher.send(NodeEvent::ToolAnswered { request_id: answer.request_id.clone() });
                                let _ = answers.send(*answer);
                            }
                            Err(e) => tracing::warn!(attempt = %key, error = %e, "an unreadable control message"),
                        }
                        // Answers are sent as requests: heard.
                        if let Some(reply) = m.reply {
                            let _ = node.client.publish(reply, bytes::Bytes::new()).await;
                        }
                    }
                    Some(request) = asks.recv() => publisher.send(NodeEvent::ToolAsked(request)),
                    _ = beat.tick() => {
                        if !stopped && publisher.silent_for() > lease / 2 {
                            tracing::warn!(attempt = %key, "cut off from NATS for half the lease: stopping the attempt's process");
                            stopped = true;
                            let _ = stop_tx.send(StopReason::Cancelled);
                        }
                        publisher.send(NodeEvent::Heartbeat);
                        // What the worker wrote meanwhile (a stat when nothing changed).
                        if let Some(k) = &keeper {
                            k.tick();
                        }
                    }
                    Ok(()) = stop_all.changed(), if !stopped => {
                        stopped = true;
                        let _ = stop_tx.send(StopReason::Interrupted);
                    }
                }
            };
            if let Some(k) = &keeper {
                k.finish().await;
            }
            outcome
        }
    };
    drop(control.take());
    let reason = outcome.reason;
    publisher.send(NodeEvent::Finished(Box::new(outcome)));
    publisher.finish().await;
    tracing::info!(attempt = %key, %reason, "remote attempt ended");
}

/// `message` is still in the work queue (when that cannot be told: yes — the lease decides).
async fn still_queued(work: &jetstream::stream::Stream, message: &jetstream::Message) -> bool {
    let Ok(info) = message.info() else {
        return true;
    };
    match work.get_raw_message(info.stream_sequence).await {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            jetstream::stream::LastRawMessageErrorKind::NoMessageFound
        ),
    }
}

async fn next(s: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// The tools a dispatch may narrow the node's set to, never widen: what it asks for that the
/// node's `agent.tools` has (all it asks for when the node sets none).
fn tools_within(asked: Option<&[String]>, node: Option<&[String]>) -> Option<Vec<String>> {
    match (asked, node) {
        (Some(asked), Some(node)) => {
            Some(asked.iter().filter(|t| node.contains(t)).cloned().collect())
        }
        (Some(asked), None) => Some(asked.to_vec()),
        (None, node) => node.map(<[String]>::to_vec),
    }
}

/// Why a dispatch cannot run here.
enum Unfit {
    /// Its working directory is not one of this node's.
    Elsewhere(String),
    /// It cannot run anywhere.
    Never(String),
}

/// The launch spec of `d` under this node's `agent` config.
fn launch_of(
    agent: &Arc<AgentConfig>,
    mark: &str,
    d: &Dispatch,
    span: &tracing::Span,
) -> Result<LaunchSpec, Unfit> {
    let tag = AttemptTag::parse(&d.tag)
        .ok_or_else(|| Unfit::Never(format!("bad attempt tag {:?}", d.tag)))?;
    let mut env = Vec::new();
    if let Some(vars) = crate::telemetry::trace_env(span) {
        env.extend(vars);
    }
    let task = TaskOptions {
        cwd: d.cwd.clone(),
        model: d.model.clone(),
        max_budget_usd: d.max_budget_usd,
        json_schema: d.json_schema.clone(),
        env,
        tools: tools_within(d.tools.as_deref(), agent.tools.as_deref()),
        disallowed_tools: d.disallowed_tools.clone(),
        worktree: None,
        bare: d.bare,
    };
    let session = match &d.session {
        WireSession::New(id) => SessionArg::New(id.clone()),
        WireSession::Resume(id) => SessionArg::Resume(id.clone()),
    };
    // The control plane decides the tool calls: nothing of this node's may allow one first.
    let config = match d.ask {
        true => Arc::new(AgentConfig {
            allowed_tools: Vec::new(),
            permission_mode: None,
            ..(**agent).clone()
        }),
        false => agent.clone(),
    };
    LaunchSpec::new(&AttemptSpec {
        config,
        task,
        session,
        message: d.message.clone(),
        tag: Some(tag.on_node(mark)),
        transcript: None,
    })
    .map(|mut launch| {
        launch.die_with_parent = true;
        if d.ask { launch.asking_smith() } else { launch }
    })
    // A working directory that is not one of this node's is the only way it fails.
    .map_err(|e| Unfit::Elsewhere(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dispatch_the_control_plane_decides_asks_about_every_call() {
        let agent = Arc::new(AgentConfig {
            allowed_tools: vec!["Bash".into()],
            permission_mode: Some("acceptEdits".into()),
            roots: vec![std::env::temp_dir()],
            ..AgentConfig::default()
        });
        let mut d = Dispatch::new(
            &AttemptSpec {
                config: agent.clone(),
                task: TaskOptions {
                    cwd: std::env::temp_dir(),
                    ..TaskOptions::default()
                },
                session: SessionArg::New("s".into()),
                message: "m".into(),
                tag: AttemptTag::parse("i/r/t1/1"),
                transcript: None,
            },
            "r",
            "t1",
            "t",
            1,
        );
        let span = tracing::Span::none();
        let args = |d: &Dispatch| match launch_of(&agent, "n@1", d, &span) {
            Ok(l) => l.args,
            Err(_) => panic!("the launch spec"),
        };
        let own = args(&d);
        assert!(own.contains(&"--allowedTools".to_string()), "{own:?}");
        assert!(!own.contains(&"--permission-prompt-tool".to_string()));
        d.ask = true;
        let asked = args(&d);
        assert!(
            asked
                .windows(2)
                .any(|w| w == ["--permission-prompt-tool", "stdio"]),
            "{asked:?}"
        );
        assert!(!asked.contains(&"--allowedTools".to_string()), "{asked:?}");
        assert!(
            !asked.contains(&"--permission-mode".to_string()),
            "{asked:?}"
        );
    }

    #[test]
    fn a_dispatch_narrows_the_nodes_tools_never_widens_them() {
        let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let node = s(&["Read", "Grep"]);
        assert_eq!(
            tools_within(Some(&s(&["Read", "Bash"])), Some(&node)),
            Some(s(&["Read"]))
        );
        assert_eq!(tools_within(None, Some(&node)), Some(node.clone()));
        assert_eq!(tools_within(Some(&s(&["Bash"])), None), Some(s(&["Bash"])));
        assert_eq!(tools_within(None, None), None);
    }
}
