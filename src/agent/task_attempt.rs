//! One attempt of a task, as the task actor's runner runs it: pass the governor's gate, wait for
//! a process slot, check the request's gate, open the `invoke_agent` span (kind CLIENT) with its
//! GenAI attributes, run the process with `TRACEPARENT` set, record usage, exit and metrics,
//! report everything to the request, and say how it ended.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::attempt::AttemptEvent;
use super::attempt_spans::{
    ToolSpans, invoke_agent_span, record_decision, record_outcome, record_start,
};
use super::attempt_tag::AttemptTag;
use super::command::SessionArg;
use super::launch::AttemptSpec;
use super::outcome::{Outcome, OutcomeReason};
use super::placement::{Run, place, run_of};
use super::task_env::{
    AttemptStart, Numbered, TaskCarry, TaskEnv, TaskEvent, TaskEventKind, TaskSpec,
};
use super::task_runner::AttemptEnd;
use super::transcript::TranscriptFile;
use crate::governor::{Throttle, Waiting};
use crate::permissions::Asker;
use crate::process_group::ProcessGroup;
use crate::protocol::StopReason;
use crate::telemetry::metrics::{self, metrics};
use crate::telemetry::semconv::*;

/// Runs one attempt to its end (see the module doc) and says how it ended.
pub(super) async fn run_task_attempt(
    spec: Arc<TaskSpec>,
    carry: Arc<Mutex<TaskCarry>>,
    env: TaskEnv,
    control: &mut mpsc::UnboundedReceiver<StopReason>,
    group: Arc<ProcessGroup>,
    tag: Arc<Mutex<Option<AttemptTag>>>,
    wait_left: &mut Duration,
) -> AttemptEnd {
    let TaskEnv {
        reporter,
        recorder,
        permits,
        gate,
        span: parent,
        labels,
        executor,
        approvals,
        governor,
        warm,
        remote,
    } = env;
    let report = |attempt: u32, kind: TaskEventKind| {
        reporter.report(TaskEvent {
            task_id: spec.id,
            attempt,
            kind,
        });
    };
    let m = metrics();
    // The governor's gate first (holding no process slot): a throttle anywhere holds every
    // attempt here.
    let mut admission = None;
    let mut rate_limited = None;
    if let Some(g) = &governor {
        let started = Instant::now();
        let deadline = started + *wait_left;
        let on_wait = |w: Waiting| report(0, TaskEventKind::Throttled(w));
        tokio::select! {
            admitted = g.admit(deadline, on_wait) => match admitted {
                Ok(a) => admission = Some(a),
                Err(w) => rate_limited = Some(format!(
                    "waited for the API's rate limit longer than governor.max_wait ({}): {}",
                    humantime::format_duration(g.settings().max_wait),
                    w.cause
                )),
            },
            Some(reason) = control.recv() => {
                report(0, TaskEventKind::NotStarted { reason });
                return AttemptEnd::NotStarted;
            }
        }
        *wait_left = wait_left.saturating_sub(started.elapsed());
    }
    // A process slot, in its session's turn when there are fewer than attempts.
    let _permit = match permits {
        Some(slots) => match slots.try_acquire() {
            Some(p) => Some(p),
            None => {
                report(0, TaskEventKind::Queued);
                m.tasks_queued.add(1, &[]);
                let p = slots.acquire(&labels.session).await;
                m.tasks_queued.add(-1, &[]);
                Some(p)
            }
        },
        None => None,
    };
    // The gate may have closed while this attempt waited for its slot.
    if let Some(reason) = gate.as_ref().and_then(|g| g.closed()) {
        report(0, TaskEventKind::NotStarted { reason });
        return AttemptEnd::NotStarted;
    }
    // The attempt takes its number now that its process is about to start (an attempt a killed
    // smithd left running on a worker node is followed, not started again: it keeps its own).
    let Numbered {
        attempt,
        session,
        message,
        adopted,
    } = carry
        .lock()
        .expect("task carry lock")
        .number(&spec, remote.is_some());
    let attempt_tag = adopted
        .clone()
        .unwrap_or_else(|| AttemptTag::new(&labels.request_id, &spec.id.to_string(), attempt));
    *tag.lock().unwrap_or_else(|p| p.into_inner()) = Some(attempt_tag.clone());
    let report = |kind: TaskEventKind| report(attempt, kind);
    let previous = carry.lock().expect("task carry lock").last_outcome;
    // An attempt after a throttle is the same task going on once the gate opens, not a restart
    // (its supervisor never saw it).
    let after_throttle = matches!(previous, Some(OutcomeReason::ApiError(status))
        if governor.is_some() && Throttle::is_throttle_status(status));
    if let (Some(prev), true, false) = (previous, attempt > 1, after_throttle) {
        m.task_restarts.add(1, &metrics::reason(prev.as_str()));
    }
    let resumed = match &session {
        SessionArg::Resume(id) => Some(id.clone()),
        SessionArg::New(_) => None,
    };
    let session_id = session.id().to_string();
    let mut task = spec.options.clone();
    if let Some(left) = gate.as_ref().and_then(|g| g.remaining()) {
        task.max_budget_usd = Some(task.max_budget_usd.map_or(left, |m| m.min(left)));
    }
    let model = task.model.clone().or_else(|| spec.config.model.clone());
    let span = invoke_agent_span(
        &parent,
        &spec.name,
        &spec.id.to_string(),
        &labels,
        attempt,
        model.as_deref(),
    );
    if let Some(r) = &resumed {
        span.set_attribute("smith.resumed_from", r.clone());
    }
    if labels.record_content {
        span.set_attribute(SMITH_PROMPT, message.clone());
    }
    // The process joins the trace: TRACEPARENT of this attempt's span (or the client's when
    // spans are not exported).
    match crate::telemetry::trace_env(&span) {
        Some(vars) => task.env.extend(vars),
        None => {
            if let Some(tp) = &labels.traceparent {
                task.env.push(("TRACEPARENT".into(), tp.clone()));
            }
        }
    }
    let transcript = spec
        .config
        .transcripts
        .as_ref()
        .map(|(dir, max_bytes)| TranscriptFile {
            path: dir
                .join(&labels.request_id)
                .join(format!("{}-{attempt}.jsonl", spec.id)),
            max_bytes: *max_bytes,
        });
    let mut attempt_spec = AttemptSpec {
        config: spec.config.clone(),
        task,
        session,
        message,
        tag: Some(attempt_tag),
        transcript,
    };
    let mut spawned = false;
    // An isolated task runs in its worktree, made ready before its attempt.
    let prepared = match (&spec.workspace, rate_limited) {
        (_, Some(detail)) => Err(Outcome::bare(OutcomeReason::RateLimited, detail)),
        (Some(ws), None) => ws
            .prepare(&mut attempt_spec, control, &parent)
            .await
            .map(|()| true),
        (None, None) => Ok(false),
    };
    // Worker nodes take what does not need this host's worktrees.
    let eligible = matches!(prepared, Ok(false));
    let cwd = attempt_spec.task.cwd.clone();
    let slot = match place(remote.as_ref(), adopted.is_some(), eligible, &cwd, control).await {
        Ok(slot) => slot,
        Err(reason) => {
            report(TaskEventKind::NotStarted { reason });
            return AttemptEnd::NotStarted;
        }
    };
    let recorded = match &recorder {
        Some(record) => {
            record(AttemptStart {
                task_id: spec.id,
                attempt,
                resumed: resumed.clone(),
                claude_session_id: session_id.clone(),
                bare: attempt_spec.task.bare,
                tag: attempt_spec
                    .tag
                    .as_ref()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                remote: slot.is_some(),
            })
            .await
        }
        None => Ok(()),
    };
    let approvals = approvals.as_ref().map(|desk| {
        desk.for_attempt(Asker {
            session: labels.session.clone(),
            request_id: labels.request_id.clone(),
            task_id: spec.id.to_string(),
            attempt,
        })
    });
    let launch = recorded
        .map_err(|e| format!("the attempt could not be recorded, so it was not started: {e}"))
        .and_then(|()| {
            run_of(
                &attempt_spec,
                slot,
                adopted,
                &labels.request_id,
                &spec.id.to_string(),
                &spec.name,
                attempt,
                &session_id,
                approvals.clone(),
                &span,
            )
        });
    let throttle_cause = |status: Option<u16>| {
        let what = status.map_or_else(|| "a rate limit".to_string(), |s| s.to_string());
        format!("{what} from {}/{}", labels.request_id, spec.id)
    };
    let mut signalled = false;
    let mut outcome = match (&prepared, launch) {
        (Err(failed), _) => {
            record_start(&span, false, &session_id);
            failed.clone()
        }
        (Ok(_), Err(detail)) => {
            record_start(&span, false, &session_id);
            Outcome::bare(OutcomeReason::SpawnFailed, detail)
        }
        (Ok(_), Ok(mut launch)) => {
            let warm_process = match (&warm, &mut launch) {
                (Some(pool), Run::Local(launch)) => pool.adopt(launch.as_mut(), &tag, &span).await,
                _ => None,
            };
            let warm_started = warm_process.is_some();
            let started_session = warm_process
                .as_ref()
                .map_or_else(|| session_id.clone(), |w| w.session_id.clone());
            record_start(&span, warm_started, &started_session);
            let mut tool_spans = ToolSpans::new(labels.record_content);
            let mut on_event = |event| match event {
                AttemptEvent::Spawned {
                    pid,
                    start_time,
                    ref node,
                } => {
                    span.record(PROCESS_PID, pid as i64);
                    if let Some(n) = node {
                        span.record(SMITH_NODE, n.as_str());
                    }
                    m.tasks_active.add(1, &[]);
                    spawned = true;
                    report(TaskEventKind::Started {
                        pid,
                        start_time,
                        resumed: resumed.clone(),
                        claude_session_id: started_session.clone(),
                        warm: warm_started,
                        node: node.clone(),
                    })
                }
                AttemptEvent::Init {
                    ref claude_session_id,
                    ref model,
                } => {
                    if let Some(model) = model {
                        span.record(GEN_AI_RESPONSE_MODEL, model.as_str());
                    }
                    carry.lock().expect("task carry lock").claude_session_id =
                        Some(claude_session_id.clone());
                    report(TaskEventKind::Attempt(event));
                }
                AttemptEvent::Throttled(ref t) => {
                    if let Some(g) = &governor {
                        g.throttled(t, &throttle_cause(t.status));
                        signalled |= !t.warning;
                    }
                }
                AttemptEvent::Answered => {
                    if let Some(g) = &governor {
                        g.succeeded();
                    }
                }
                AttemptEvent::ToolDecided(ref d) => {
                    record_decision(&span, d);
                    report(TaskEventKind::Attempt(event));
                }
                AttemptEvent::ToolStarted { .. }
                | AttemptEvent::ToolEnded { .. }
                | AttemptEvent::Text(_) => {
                    tool_spans.on(&span, &event);
                    report(TaskEventKind::Attempt(event));
                }
                other => report(TaskEventKind::Attempt(other)),
            };
            match launch.on_node(&mut on_event, control).await {
                Ok(outcome) => outcome,
                Err(launch) => {
                    executor
                        .run(
                            *launch,
                            warm_process,
                            &mut on_event,
                            control,
                            group,
                            approvals,
                        )
                        .await
                }
            }
        }
    };
    if spawned {
        m.tasks_active.add(-1, &[]);
    }
    // A throttled end closes the gate for everyone (unless the attempt already said so), and
    // the task waits there instead of failing; the probe's outcome is known once this is said.
    let status = match outcome.reason {
        OutcomeReason::ApiError(status) => status,
        _ => None,
    };
    let throttled = governor.is_some() && Throttle::is_throttle_status(status);
    if let (Some(g), true, false) = (&governor, throttled, signalled) {
        let t = Throttle {
            status,
            wait: None,
            reset: false,
            warning: false,
        };
        g.throttled(&t, &throttle_cause(status));
    }
    drop(admission);
    // What the attempt changed is committed on the task's branch, whatever its end.
    if let (Some(ws), Ok(true)) = (&spec.workspace, &prepared) {
        ws.commit(&mut outcome, &parent).await;
    }
    record_outcome(&span, &outcome, labels.record_content);
    // Spend before the slot is released, so that the next waiting attempt sees a closed gate.
    if let Some(g) = &gate {
        outcome.budget_day = g.spend(outcome.cost_usd).map(|d| d.to_string());
    }
    {
        let mut carry = carry.lock().expect("task carry lock");
        carry.last_outcome = Some(outcome.reason);
        if let Some(id) = &outcome.claude_session_id {
            carry.claude_session_id = Some(id.clone());
        }
        // A resume the CLI cannot honour must not be retried forever: start fresh next time.
        if resumed.is_some() && outcome.stderr_tail.contains("No conversation found") {
            carry.claude_session_id = None;
        }
    }
    let reason = outcome.reason;
    let detail = outcome
        .detail
        .clone()
        .or_else(|| outcome.result.clone())
        .unwrap_or_default();
    drop(span);
    report(TaskEventKind::Finished(Box::new(outcome)));
    if throttled {
        return AttemptEnd::Throttled;
    }
    AttemptEnd::Ended {
        attempt,
        reason,
        detail,
    }
}
