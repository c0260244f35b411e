//! The requests of a Session before they run: accepted (recorded first), resumed, cancelled
//! while waiting, interrupted by a shutdown; and how a waiting request becomes a [`Run`].

use crate::task::TaskId;
use std::collections::HashMap;
use std::sync::Arc;

use crate::agent::{AttemptGate, TaskLabels};
use crate::protocol::{Event, RequestStatus, RequestSummary, StopReason, TaskStatus};
use crate::store::StoreError;
use crate::store::queries::{self, NewRequest, RequestEnd};
use crate::store::records::now_ms;
use crate::task::Task;

use super::error::SessionError;
use super::event_queue::EventSink;
use super::request::{RequestEvent, RequestSpec};
use super::run::{Run, RunState};
use super::spans::request_span;
use super::state::{Queued, SessionState};
use super::validate::{stored_spec, validate};

impl SessionState {
    fn position(&self) -> u64 {
        (self.queue.len() + usize::from(self.current.is_some())) as u64
    }

    fn accepted(&self, request_id: &str, spec: &RequestSpec, sinks: &[EventSink]) {
        let event = RequestEvent::from(Event::Accepted {
            request_id: request_id.to_string(),
            session: self.name.clone(),
            position: self.position(),
            worktrees: spec.checkout.as_ref().map(|c| c.base()),
        });
        for s in sinks {
            let _ = s.send(event.clone());
        }
    }

    /// Records a new request and queues it; its id once it is committed.
    pub(super) async fn submit(
        &mut self,
        spec: RequestSpec,
        events: Option<EventSink>,
    ) -> Result<String, SessionError> {
        let spec = validate(spec, &self.deps.config)?;
        let limit = self.deps.config.limits.max_queued_requests;
        if self.queue.len() >= limit {
            return Err(SessionError::QueueFull {
                session: self.name.clone(),
                limit,
            });
        }
        let id = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        // The prompt is stored once, in its own column; the options without it.
        let options = RequestSpec {
            prompt: String::new(),
            ..spec.clone()
        };
        let new = NewRequest {
            id: id.clone(),
            session: self.name.clone(),
            prompt: spec.prompt.clone(),
            spec_json: serde_json::to_string(&options).expect("a request spec serializes"),
        };
        self.deps
            .store
            .call(move |c| queries::insert_request(c, &new))
            .await?;
        let sinks: Vec<EventSink> = events.into_iter().collect();
        self.accepted(&id, &spec, &sinks);
        tracing::info!(session = %self.name, request = %id, position = self.position(), "request accepted");
        self.queue.push_back(Queued {
            request_id: id.clone(),
            spec,
            resume: None,
            adopt: HashMap::new(),
            sinks,
        });
        Ok(id)
    }

    /// Queues an interrupted request again: its finished tasks are kept, the others run again.
    pub(super) async fn resume(
        &mut self,
        request_id: &str,
        events: Option<EventSink>,
    ) -> Result<(), SessionError> {
        let id = request_id.to_string();
        let detail = self
            .deps
            .store
            .call(move |c| queries::request_detail(c, &id))
            .await
            .map_err(|e| match e {
                StoreError::NotFound { id, .. } => SessionError::NotFound(id),
                other => other.into(),
            })?;
        let request = detail.request;
        if request.session != self.name {
            return Err(SessionError::NotFound(request_id.into()));
        }
        if request.status != RequestStatus::Interrupted {
            return Err(SessionError::WrongState {
                id: request.id,
                status: request.status,
                why: "only an interrupted request can be resumed",
            });
        }
        let mut spec = stored_spec(&request.spec_json)?;
        // Requests stored before the prompt moved out of the options still carry it there.
        if spec.prompt.is_empty() {
            spec.prompt = request.prompt.clone();
        }
        // An attempt still running on a node when smithd was killed is followed, not re-run.
        let adopt: HashMap<TaskId, String> = detail
            .tasks
            .iter()
            .filter(|t| !t.succeeded())
            .filter_map(|t| {
                let last = detail
                    .attempts
                    .iter()
                    .filter(|a| a.task == t.id)
                    .max_by_key(|a| a.attempt)?;
                let interrupted =
                    last.exit_reason == Some(crate::protocol::OutcomeReason::Interrupted);
                (interrupted && last.node.is_some() && last.attempt == t.attempts)
                    .then(|| last.tag.clone())
                    .flatten()
                    .map(|tag| (t.id, tag))
            })
            .collect();
        let work: Vec<Task> = detail
            .tasks
            .into_iter()
            .filter(|t| matches!(t.id, crate::task::TaskId::Work(_)))
            .map(|mut t| {
                if !t.succeeded() {
                    // It runs again: how it ended before is history (the attempts keep it).
                    t.status = TaskStatus::Pending;
                    t.end = None;
                    // In its worktree again (made anew if it was discarded meanwhile).
                    if let Some(ws) = t.workspace.as_mut() {
                        ws.state = crate::protocol::WorkspaceState::Active;
                    }
                }
                t
            })
            .collect();
        let rid = request.id.clone();
        self.deps
            .store
            .call(move |c| queries::requeue_request(c, &rid))
            .await?;
        let sinks: Vec<EventSink> = events.into_iter().collect();
        self.accepted(&request.id, &spec, &sinks);
        tracing::info!(session = %self.name, request = %request.id, kept = work.iter().filter(|t| t.succeeded()).count(), "request resumed");
        self.queue.push_back(Queued {
            request_id: request.id,
            spec,
            resume: Some(work),
            adopt,
            sinks,
        });
        Ok(())
    }

    /// Stops the running request, or ends a queued one, for `reason`.
    pub(super) async fn cancel(
        &mut self,
        request_id: &str,
        reason: StopReason,
    ) -> Result<(), SessionError> {
        if let Some(run) = self.current.as_mut()
            && run.request_id == request_id
        {
            run.stop(reason);
            return Ok(());
        }
        if let Some(pos) = self.queue.iter().position(|q| q.request_id == request_id)
            && let Some(queued) = self.queue.remove(pos)
        {
            return self.end_queued(queued, reason).await;
        }
        let id = request_id.to_string();
        match self
            .deps
            .store
            .call(move |c| queries::request_detail(c, &id))
            .await
        {
            Ok(d) if d.request.session == self.name => Err(SessionError::WrongState {
                id: d.request.id,
                status: d.request.status,
                why: "it is not queued or running",
            }),
            _ => Err(SessionError::NotFound(request_id.into())),
        }
    }

    /// smithd is stopping: the queued requests end `interrupted`, the running one is stopped.
    pub(super) async fn interrupt_all(&mut self) {
        while let Some(q) = self.queue.pop_front() {
            if let Err(e) = self.end_queued(q, StopReason::Interrupted).await {
                tracing::error!(session = %self.name, error = %e, "cannot record an interrupted request");
            }
        }
        if let Some(run) = self.current.as_mut() {
            run.stop(StopReason::Interrupted);
        }
    }

    /// A queued request ends without running.
    async fn end_queued(&mut self, queued: Queued, reason: StopReason) -> Result<(), SessionError> {
        let (status, why) = match reason {
            StopReason::Interrupted => (
                RequestStatus::Interrupted,
                "smithd stopped before it started",
            ),
            StopReason::Cancelled | StopReason::BudgetExceeded => {
                (RequestStatus::Cancelled, "cancelled before it started")
            }
        };
        let end = RequestEnd {
            id: queued.request_id.clone(),
            status,
            reason: Some(why.into()),
            cost_usd: 0.0,
            answer: None,
            tasks: Vec::new(),
        };
        self.deps
            .store
            .call(move |c| queries::finish_request(c, &end))
            .await?;
        let summary = RequestSummary {
            request_id: queued.request_id,
            session: self.name.clone(),
            status,
            reason: Some(why.into()),
            answer: String::new(),
            cost_usd: 0.0,
            tasks: Vec::new(),
        };
        for s in &queued.sinks {
            let _ = s.send(RequestEvent::Finished(summary.clone()));
        }
        Ok(())
    }

    /// The run of a request whose turn came (`None` when it cannot be started: it is ended).
    pub(super) async fn begin(&mut self, q: Queued) -> Option<Run> {
        let id = q.request_id.clone();
        if let Err(e) = self
            .deps
            .store
            .call(move |c| queries::set_request_running(c, &id))
            .await
        {
            tracing::error!(session = %self.name, request = %q.request_id, error = %e, "cannot start request");
            if let Err(e) = self.end_queued(q, StopReason::Interrupted).await {
                tracing::error!(session = %self.name, error = %e, "cannot record it interrupted either; the next start of smithd will");
            }
            return None;
        }
        let config = &self.deps.config;
        let mut agent = (*self.deps.agent).clone();
        if let Some(t) = q.spec.timeout {
            agent.timeout = t;
        }
        if q.spec.model.is_some() {
            agent.model = q.spec.model.clone();
        }
        let gate = Arc::new(AttemptGate::under(
            q.spec.budget_usd.or(config.limits.max_budget_usd),
            self.deps.ledger.clone(),
            &self.name,
        ));
        let strategy = q.spec.strategy.unwrap_or(config.supervision.strategy);
        let span = request_span(
            &self.name,
            &q.request_id,
            &q.spec,
            strategy,
            config.record_content,
        );
        let labels = Arc::new(TaskLabels {
            request_id: q.request_id.clone(),
            session: self.name.clone(),
            record_content: config.record_content,
            traceparent: q.spec.traceparent.clone(),
        });
        let tasks = q.resume.unwrap_or_default();
        // Spent before an interruption counts toward the budget (the ledger has it already).
        gate.spent_before(tasks.iter().map(|t| t.cost_usd).sum());
        // A ceiling reached while it waited: it starts stopped, the ceiling named.
        let mut notes = Vec::new();
        if let Some(ceiling) = gate.ceiling() {
            tracing::warn!(session = %self.name, request = %q.request_id, "{ceiling}; the request does not start");
            notes.push(ceiling.to_string());
        }
        let budget_stopped = !notes.is_empty();
        let mut run = Run {
            span,
            labels,
            request_id: q.request_id,
            spec: q.spec,
            agent: Arc::new(agent),
            sinks: q.sinks,
            gate,
            tasks,
            planner: None,
            plan: None,
            synthesizer: None,
            state: RunState::Starting,
            stop: None,
            escalated: false,
            budget_stopped,
            notes,
            started_ms: now_ms(),
            adopt: q.adopt,
        };
        run.emit(Event::Started {
            request_id: run.request_id.clone(),
        });
        tracing::info!(session = %self.name, request = %run.request_id, "request started");
        Some(run)
    }
}
