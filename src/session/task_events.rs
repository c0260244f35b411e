//! What the Session does with a task's report: the task's record moves on (attempts, Claude
//! session, output, why it ended), the store hears it (queued, in order; the request's final
//! commit comes after), listeners get an event, and a spent budget stops the other tasks.

use crate::agent::{AttemptEvent, OutcomeReason, TaskEvent, TaskEventKind, hint};
use crate::protocol::{Event, TaskEnd, TaskStatus};
use crate::store::records::now_ms;
use crate::store::{AttemptRecord, queries};
use crate::task::{Running, TaskId};

use super::live::live_event;
use super::merge::cut_to;
use super::phase::stop_if_spent;
use super::plan::parse_plan;
use super::state::SessionState;

/// Progress text sent to clients is cut to this many characters.
const PROGRESS_CHARS: usize = 400;

impl SessionState {
    /// A ceiling was reached (by this session or another): the running request stops if it is
    /// under it.
    pub(super) fn on_ceiling_reached(&mut self) {
        if let Some(run) = self.current.as_mut() {
            stop_if_spent(&self.name, run);
        }
    }

    /// A report of a task of phase `phase` (a late one from an earlier phase is dropped).
    pub(super) fn on_task_event(&mut self, phase: u64, event: TaskEvent) {
        let store = self.deps.store.clone();
        let limits = &self.deps.config.limits;
        let session = &self.name;
        let Some(run) = self
            .current
            .as_mut()
            .filter(|r| r.phase().is_some_and(|p| p.id == phase))
        else {
            return;
        };
        let request_id = run.request_id.clone();
        let attempt = event.attempt;
        let mut plan = None;
        let mut attempt_ended = false;
        let Some(task) = run.task_mut(event.task_id) else {
            return;
        };
        let task_id = task.id.to_string();
        let emitted = match event.kind {
            TaskEventKind::Queued => Some(Event::TaskQueued { task_id }),
            TaskEventKind::Started {
                pid,
                start_time,
                resumed,
                claude_session_id,
                warm,
                node,
            } => {
                task.claude_session_id = Some(claude_session_id);
                task.attempts = task.attempts.max(attempt);
                task.status = TaskStatus::Running;
                let since_ms = now_ms();
                task.running = Some(Running {
                    pid,
                    node: node.clone(),
                    since_ms,
                    tools: Vec::new(),
                    tool_calls: 0,
                    text: String::new(),
                });
                // The attempt was recorded (and committed) before its process started.
                let (rid, id) = (request_id.clone(), task.id);
                let process = queries::AttemptProcess {
                    pid,
                    start_time,
                    warm,
                    node,
                };
                store.send("recording an attempt's process", move |c| {
                    queries::set_attempt_process(c, &rid, id, attempt, &process)
                });
                if attempt > 1 {
                    tracing::info!(%session, request = %request_id, task = %task.id, attempt, "task restarted");
                }
                Some(Event::TaskStarted {
                    task_id,
                    attempt,
                    pid,
                    resumed,
                })
            }
            TaskEventKind::Attempt(AttemptEvent::Init {
                claude_session_id, ..
            }) if task.claude_session_id.as_deref() != Some(claude_session_id.as_str()) => {
                // The CLI chose another session than the one it was given: remember that one.
                task.claude_session_id = Some(claude_session_id.clone());
                let id = task.id;
                store.send("recording a Claude session", move |c| {
                    queries::set_claude_session(c, &request_id, id, attempt, &claude_session_id)
                });
                None
            }
            TaskEventKind::NotStarted { reason } => {
                tracing::debug!(%session, request = %request_id, task = %task.id, %reason, "task not started");
                None
            }
            TaskEventKind::Attempt(AttemptEvent::Progress { text, tools }) => {
                let text: String = text.chars().take(PROGRESS_CHARS).collect();
                Some(Event::TaskProgress {
                    task_id,
                    text: crate::sanitize::lines(&text),
                    tools,
                })
            }
            TaskEventKind::Attempt(
                e @ (AttemptEvent::Text(_)
                | AttemptEvent::ToolStarted { .. }
                | AttemptEvent::ToolEnded { .. }),
            ) => live_event(task, &request_id, attempt, e, &store),
            TaskEventKind::Attempt(AttemptEvent::ApiRetry(retry)) => Some(Event::TaskApiRetry {
                task_id,
                status: retry.error_status,
                attempt: retry.attempt,
            }),
            TaskEventKind::Throttled(w) => Some(Event::TaskThrottled {
                task_id,
                until_ms: w.until_ms,
                cause: w.cause,
            }),
            // Decisions are recorded by the approvals desk, and reach clients from there;
            // throttles and answers are the governor's.
            TaskEventKind::Attempt(
                AttemptEvent::Spawned { .. }
                | AttemptEvent::Init { .. }
                | AttemptEvent::ToolDecided(_)
                | AttemptEvent::Throttled(_)
                | AttemptEvent::Answered,
            ) => None,
            TaskEventKind::Finished(outcome) => {
                attempt_ended = true;
                let started_at = task.running.take().map_or_else(now_ms, |r| r.since_ms);
                task.attempts = task.attempts.max(attempt);
                task.cost_usd += outcome.cost_usd;
                task.end = Some(TaskEnd::Attempt(outcome.reason));
                if let Some(id) = &outcome.claude_session_id {
                    task.claude_session_id = Some(id.clone());
                }
                task.denials = outcome.denials.clone();
                if let (Some(ws), Some(changes)) = (task.workspace.as_mut(), &outcome.changes) {
                    ws.changes = Some(changes.clone());
                }
                if outcome.reason == OutcomeReason::Completed {
                    let output = outcome.result.clone().unwrap_or_default();
                    task.output = Some(cut_to(
                        output,
                        limits.max_task_output_bytes,
                        "limits.max_task_output_bytes",
                    ));
                    task.status = TaskStatus::Succeeded;
                    if task.id == TaskId::Planner {
                        plan = Some(parse_plan(
                            outcome.structured_output.as_ref(),
                            outcome.result.as_deref(),
                            limits.max_tasks_per_request,
                        ));
                    }
                } else if !outcome.retryable {
                    task.status = TaskStatus::Failed;
                }
                let (detail, hint) = hint::explain(&outcome);
                task.failure = detail.clone().map(|d| (d, hint.clone()));
                let mut record =
                    AttemptRecord::new(request_id.clone(), task.id, attempt, started_at);
                record.finished_at = Some(now_ms());
                record.exit_reason = Some(outcome.reason);
                record.exit_code = outcome.exit.and_then(|e| e.code);
                record.exit_signal = outcome.exit.and_then(|e| e.signal);
                record.stderr_tail = Some(outcome.stderr_tail.clone()).filter(|s| !s.is_empty());
                record.claude_session_id = outcome.claude_session_id.clone();
                record.model = outcome.model.clone();
                record.input_tokens = Some(outcome.usage.total_input());
                record.output_tokens = Some(outcome.usage.output_tokens);
                record.cache_read_tokens = Some(outcome.usage.cache_read_input_tokens);
                record.cache_creation_tokens = Some(outcome.usage.cache_creation_input_tokens);
                record.cost_usd = Some(outcome.cost_usd);
                record.day = outcome.budget_day.clone();
                record.detail = outcome.detail.clone();
                record.event_seq = outcome.receipt.as_ref().map(|r| r.seq);
                let task = task.clone();
                // A remote outcome is acknowledged once it is committed.
                let receipt = outcome.receipt.clone();
                store.send_then(
                    "recording the end of an attempt",
                    move |c| queries::finish_attempt(c, &record, &task),
                    move |_| {
                        if let Some(r) = receipt {
                            r.committed()
                        }
                    },
                );
                Some(Event::TaskFinished {
                    task_id,
                    attempt,
                    reason: outcome.reason,
                    retryable: outcome.retryable,
                    cost_usd: outcome.cost_usd,
                    detail,
                    hint,
                })
            }
        };
        if plan.is_some() {
            run.plan = plan;
        }
        // An attempt that ended spent its cost on the gate before reporting.
        if attempt_ended {
            stop_if_spent(session, run);
        }
        if let Some(e) = emitted {
            run.emit(e);
        }
    }
}
