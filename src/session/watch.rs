//! A client attaches to a request that runs or waits (`smith watch`): it hears what a client
//! that asked would have heard so far — accepted, started, the tasks, each task's attempt, the
//! end of the text it wrote so far and its running tool calls, or how it ended — then every
//! event from there on, through its own
//! bounded queue (a watcher that stops reading never slows the request).

use crate::protocol::{Event, TaskEnd, TaskRef};
use crate::task::Task;

use super::error::SessionError;
use super::event_queue::EventSink;
use super::request::RequestEvent;
use super::run::Run;
use super::state::SessionState;

impl SessionState {
    /// Attaches `sink` to `request_id` (`None`: the running request, else the next queued one);
    /// the id it attached to.
    pub(super) fn watch(
        &mut self,
        request_id: Option<&str>,
        sink: EventSink,
    ) -> Result<String, SessionError> {
        let wanted = |id: &str| request_id.is_none_or(|want| want == id);
        let session = self.name.clone();
        if let Some(run) = self.current.as_mut().filter(|r| wanted(&r.request_id)) {
            for event in snapshot(run, &session) {
                let _ = sink.send(event.into());
            }
            let id = run.request_id.clone();
            run.sinks.push(sink);
            return Ok(id);
        }
        let ahead = usize::from(self.current.is_some());
        if let Some((i, queued)) = self
            .queue
            .iter_mut()
            .enumerate()
            .find(|(_, q)| wanted(&q.request_id))
        {
            let _ = sink.send(RequestEvent::from(Event::Accepted {
                request_id: queued.request_id.clone(),
                session,
                position: (ahead + i) as u64,
                worktrees: queued.spec.checkout.as_ref().map(|c| c.base()),
            }));
            queued.sinks.push(sink);
            return Ok(queued.request_id.clone());
        }
        Err(match request_id {
            Some(id) => SessionError::Invalid(format!(
                "request {id} is not running or queued: see how it ended with smith show {id}"
            )),
            None => SessionError::Invalid(format!(
                "session {} has no request running or queued",
                self.name
            )),
        })
    }
}

/// What a listener of `run` heard so far, in short.
fn snapshot(run: &Run, session: &str) -> Vec<Event> {
    let mut events = vec![
        Event::Accepted {
            request_id: run.request_id.clone(),
            session: session.to_string(),
            position: 0,
            worktrees: run.spec.checkout.as_ref().map(|c| c.base()),
        },
        Event::Started {
            request_id: run.request_id.clone(),
        },
    ];
    let tasks: Vec<&Task> = run
        .planner
        .iter()
        .chain(run.tasks.iter())
        .chain(run.synthesizer.iter())
        .collect();
    if !tasks.is_empty() {
        events.push(Event::Planned {
            tasks: tasks
                .iter()
                .map(|t| TaskRef {
                    id: t.id.to_string(),
                    name: t.name.clone(),
                })
                .collect(),
        });
    }
    for task in tasks {
        events.extend(task_snapshot(task));
    }
    events
}

/// A task's attempt (running, with the end of its text and its tool calls) or its end.
fn task_snapshot(task: &Task) -> Vec<Event> {
    let task_id = task.id.to_string();
    if let Some(running) = &task.running {
        let mut events = vec![Event::TaskStarted {
            task_id: task_id.clone(),
            attempt: task.attempts,
            pid: running.pid,
            resumed: None,
        }];
        if !running.text.is_empty() {
            events.push(Event::TaskText {
                task_id: task_id.clone(),
                attempt: task.attempts,
                text: running.text.clone(),
            });
        }
        events.extend(running.tools.iter().map(|a| Event::TaskTool {
            task_id: task_id.clone(),
            attempt: task.attempts,
            activity: a.clone(),
        }));
        return events;
    }
    match task.end {
        Some(TaskEnd::Attempt(reason) | TaskEnd::GaveUp(reason)) => vec![Event::TaskFinished {
            task_id,
            attempt: task.attempts,
            reason,
            retryable: false,
            cost_usd: task.cost_usd,
            detail: task.failure.as_ref().map(|(d, _)| d.clone()),
            hint: task.failure.as_ref().and_then(|(_, h)| h.clone()),
        }],
        _ => Vec::new(),
    }
}
