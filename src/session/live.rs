//! A task's live output as the Session passes it on: the worker's text to listeners only
//! (sanitized; never stored — the transcript has it), its tool calls to listeners and to the
//! store (at most [`MAX_STORED_CALLS`] per attempt).

use crate::agent::AttemptEvent;
use crate::protocol::{Event, ToolActivity};
use crate::store::StoreHandle;
use crate::store::queries::{self, CallAt};
use crate::store::records::now_ms;
use crate::task::Task;

/// Tool calls of one attempt recorded at most (`smith show --tools`); the live view sees all.
pub const MAX_STORED_CALLS: u32 = 500;

/// What a live report of `task`'s attempt `attempt` tells listeners (and the store).
pub(super) fn live_event(
    task: &mut Task,
    request_id: &str,
    attempt: u32,
    event: AttemptEvent,
    store: &StoreHandle,
) -> Option<Event> {
    let task_id = task.id.to_string();
    let at = CallAt {
        request_id: request_id.to_string(),
        task: task.id,
        attempt,
    };
    let running = task.running.as_mut()?;
    match event {
        AttemptEvent::Text(text) => {
            let text = crate::sanitize::lines(&text);
            running.wrote(&text);
            Some(Event::TaskText {
                task_id,
                attempt,
                text,
            })
        }
        AttemptEvent::ToolStarted {
            call_id,
            tool,
            input,
            ..
        } => {
            let activity = ToolActivity {
                call_id,
                tool,
                input,
                started_ms: now_ms(),
                duration_ms: None,
                error: None,
            };
            running.tool_calls += 1;
            if running.tool_calls <= MAX_STORED_CALLS {
                let (seq, a) = (running.tool_calls, activity.clone());
                store.send("recording a tool call", move |c| {
                    queries::start_tool_call(c, &at, seq, &a)
                });
            }
            running.tools.push(activity.clone());
            Some(Event::TaskTool {
                task_id,
                attempt,
                activity,
            })
        }
        AttemptEvent::ToolEnded {
            call_id,
            duration,
            error,
            ..
        } => {
            let i = running.tools.iter().position(|a| a.call_id == call_id)?;
            let mut activity = running.tools.remove(i);
            activity.duration_ms = Some(duration.as_millis() as u64);
            activity.error = error;
            let a = activity.clone();
            store.send("recording the end of a tool call", move |c| {
                queries::end_tool_call(c, &at, &a)
            });
            Some(Event::TaskTool {
                task_id,
                attempt,
                activity,
            })
        }
        _ => None,
    }
}
