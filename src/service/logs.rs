//! `smith logs`: an attempt's transcript read back — its stream-json lines as the worker printed
//! them, or rendered (assistant text, tool calls and results, retries, refusals, the result),
//! with worker text sanitized.

use std::sync::Arc;

use crate::agent::denial::summarize;
use crate::agent::event::{ContentBlock, StreamEvent};
use crate::agent::live::result_text;
use crate::agent::transcript::CUT_MARK;
use crate::protocol::{ErrorKind, LogEntry, LogsQuery, LogsReply, Response};
use crate::sanitize;
use crate::store::{StoreHandle, queries};

use super::connection::error;
use super::shared::ServiceShared;

/// Characters of a tool's result shown.
const RESULT_CHARS: usize = 2000;

/// The reply to `q`.
pub(super) async fn logs(
    shared: &Arc<ServiceShared>,
    store: &StoreHandle,
    q: LogsQuery,
) -> Response {
    let id = q.request_id.clone();
    let detail = match store.call(move |c| queries::request_detail(c, &id)).await {
        Ok(d) => d,
        Err(e) => return error(ErrorKind::NotFound, e.to_string()),
    };
    let Some(task) = detail
        .tasks
        .iter()
        .find(|t| t.id.to_string() == q.task || t.name == q.task)
    else {
        let names: Vec<String> = detail.tasks.iter().map(|t| t.id.to_string()).collect();
        return error(
            ErrorKind::NotFound,
            format!(
                "request {} has no task {:?} (its tasks: {})",
                q.request_id,
                q.task,
                names.join(", ")
            ),
        );
    };
    let attempts = detail
        .attempts
        .iter()
        .filter(|a| a.task == task.id)
        .map(|a| a.attempt)
        .max()
        .unwrap_or(0);
    let attempt = q.attempt.unwrap_or(attempts);
    if attempt == 0 || attempt > attempts {
        return error(
            ErrorKind::NotFound,
            format!(
                "task {} of {} has {attempts} attempt(s); there is no attempt {attempt}",
                task.id, q.request_id
            ),
        );
    }
    let path = shared
        .config
        .service
        .transcripts_dir()
        .join(&q.request_id)
        .join(format!("{}-{attempt}.jsonl", task.id));
    let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(&path)).await;
    let text = match read {
        Ok(Ok(text)) => text,
        _ => {
            return error(
                ErrorKind::NotFound,
                format!(
                    "no transcript of {} {} attempt {attempt}: transcripts are kept when store.transcript_max_bytes > 0, from the attempt's start",
                    q.request_id, task.id
                ),
            );
        }
    };
    let lines = text.lines().filter(|l| !l.trim().is_empty());
    let (entries, raw) = if q.raw {
        (Vec::new(), lines.map(str::to_string).collect())
    } else {
        (lines.flat_map(render).collect(), Vec::new())
    };
    Response::Logs(LogsReply {
        task_id: task.id.to_string(),
        attempt,
        attempts,
        entries,
        raw,
    })
}

/// What one transcript line says.
fn render(line: &str) -> Vec<LogEntry> {
    let Ok(event) = StreamEvent::parse(line) else {
        return Vec::new();
    };
    match event {
        StreamEvent::Init(init) => vec![LogEntry::Started {
            model: init.model,
            claude_session_id: init.session_id,
        }],
        StreamEvent::Assistant(turn) => turn
            .message
            .content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text { text } => Some(LogEntry::Text(sanitize::lines(text))),
                ContentBlock::ToolUse { name, input, .. } => Some(LogEntry::ToolCall {
                    tool: name.clone(),
                    input: summarize(name, input),
                }),
                _ => None,
            })
            .collect(),
        StreamEvent::User(turn) => turn
            .message
            .content
            .iter()
            .filter_map(|block| match block {
                ContentBlock::ToolResult {
                    is_error, content, ..
                } => Some(LogEntry::ToolResult {
                    output: sanitize::lines(&cut(&result_text(content), RESULT_CHARS)),
                    is_error: is_error.unwrap_or(false),
                }),
                _ => None,
            })
            .collect(),
        StreamEvent::ApiRetry(r) => vec![LogEntry::ApiRetry {
            status: r.error_status,
            attempt: r.attempt,
        }],
        StreamEvent::PermissionDenied(d) => vec![LogEntry::Denied {
            tool: d.tool_name,
            message: sanitize::one_line(&d.message),
        }],
        StreamEvent::Result(r) => vec![LogEntry::Result {
            subtype: r.subtype.clone(),
            is_error: r.is_error,
            text: r.result.as_deref().map(sanitize::lines),
            cost_usd: r.total_cost_usd,
        }],
        StreamEvent::Unknown(v) if v["type"] == CUT_MARK => vec![LogEntry::Cut {
            lines_dropped: v["lines_dropped"].as_u64().unwrap_or(0),
        }],
        _ => Vec::new(),
    }
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}… [cut]", &text[..at]),
        None => text.to_string(),
    }
}
