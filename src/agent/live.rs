//! What a worker is doing while it does it: its text as it is written (the partial messages'
//! text deltas, coalesced: one event per [`FLUSH_EVERY`] at most, never one per delta), each
//! tool call as an activity (its `tool_use`, then its `tool_result` paired by id: tool, short
//! input, duration, error), and its transcript.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::denial::summarize;
use super::observed::AttemptEvent;
use super::transcript::Transcript;

/// Text deltas are held this long at most before they are reported together.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Tool calls remembered as running, at most (the oldest is forgotten past it).
const MAX_OPEN_CALLS: usize = 256;
/// Characters of a tool's result kept (for the content switch and an error's first line).
const RESULT_CHARS: usize = 4096;

/// A tool call that runs.
struct OpenCall {
    tool: String,
    started: Instant,
}

/// The live side of one attempt.
#[derive(Default)]
pub(super) struct Live {
    text: String,
    flush_at: Option<Instant>,
    calls: HashMap<String, OpenCall>,
    transcript: Option<Transcript>,
}

impl Live {
    /// Live output, written to `transcript` too when there is one.
    pub fn new(transcript: Option<Transcript>) -> Self {
        Self {
            transcript,
            ..Self::default()
        }
    }

    /// Keeps a stdout line in the transcript (the partial messages' lines are not kept).
    pub fn transcribe(&mut self, line: &str, partial: bool) {
        if let (Some(t), false) = (self.transcript.as_mut(), partial) {
            t.line(line);
        }
    }

    /// A `stream_event` line: its text delta (of the top-level assistant) is held.
    pub fn stream_event(&mut self, line: &Value) {
        if !line["parent_tool_use_id"].is_null() {
            return;
        }
        let event = line.get("event").unwrap_or(line);
        if event["type"] == "content_block_delta"
            && event["delta"]["type"] == "text_delta"
            && let Some(text) = event["delta"]["text"].as_str()
        {
            self.text.push_str(text);
            self.flush_at
                .get_or_insert_with(|| Instant::now() + FLUSH_EVERY);
        }
    }

    /// When the held text is due.
    pub fn flush_at(&self) -> Option<Instant> {
        self.flush_at
    }

    /// Reports the held text.
    pub fn flush(&mut self, on_event: &mut (dyn FnMut(AttemptEvent) + Send)) {
        self.flush_at = None;
        if !self.text.is_empty() {
            on_event(AttemptEvent::Text(std::mem::take(&mut self.text)));
        }
    }

    /// A tool call starts (the text before it is reported first).
    pub fn tool_use(
        &mut self,
        id: &str,
        tool: &str,
        input: &Value,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
    ) {
        self.flush(on_event);
        if self.calls.len() >= MAX_OPEN_CALLS {
            return;
        }
        self.calls.insert(
            id.to_string(),
            OpenCall {
                tool: tool.to_string(),
                started: Instant::now(),
            },
        );
        on_event(AttemptEvent::ToolStarted {
            call_id: id.to_string(),
            tool: tool.to_string(),
            input: summarize(tool, input),
            arguments: input.clone(),
        });
    }

    /// A tool call's result.
    pub fn tool_result(
        &mut self,
        id: &str,
        is_error: bool,
        content: &Value,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
    ) {
        let Some(call) = self.calls.remove(id) else {
            return;
        };
        let result = cut(&result_text(content), RESULT_CHARS);
        let error = is_error.then(|| {
            let first = result.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            crate::sanitize::one_line(&cut(first, 200))
        });
        on_event(AttemptEvent::ToolEnded {
            call_id: id.to_string(),
            tool: call.tool,
            duration: call.started.elapsed(),
            error,
            result,
        });
    }

    /// The attempt ends: the held text is reported, calls without a result end unfinished, the
    /// transcript is closed.
    pub fn finish(&mut self, on_event: &mut (dyn FnMut(AttemptEvent) + Send)) {
        self.flush(on_event);
        let mut open: Vec<(String, OpenCall)> = self.calls.drain().collect();
        open.sort_by_key(|(_, c)| c.started);
        for (id, call) in open {
            on_event(AttemptEvent::ToolEnded {
                call_id: id,
                tool: call.tool,
                duration: call.started.elapsed(),
                error: Some("unfinished: the attempt ended first".into()),
                result: String::new(),
            });
        }
        if let Some(t) = self.transcript.as_mut() {
            t.close();
        }
    }
}

/// A `tool_result`'s content as text: a string, or its text blocks.
pub(crate) fn result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delta(text: &str) -> Value {
        json!({"type": "stream_event", "parent_tool_use_id": null,
            "event": {"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": text}}})
    }

    #[tokio::test(start_paused = true)]
    async fn deltas_are_held_and_reported_together() {
        let mut live = Live::new(None);
        let mut seen = Vec::new();
        let mut on_event = |e: AttemptEvent| seen.push(e);
        assert_eq!(live.flush_at(), None);
        for piece in ["ECHO:", " a", " plain"] {
            live.stream_event(&delta(piece));
        }
        let due = live.flush_at().expect("due");
        assert!(due <= Instant::now() + FLUSH_EVERY);
        // A sub-agent's deltas and other events are not the worker's text.
        let mut sub = delta("hidden");
        sub["parent_tool_use_id"] = json!("toolu_1");
        live.stream_event(&sub);
        live.stream_event(&json!({"type": "stream_event", "event": {"type": "message_stop"}}));
        live.flush(&mut on_event);
        live.flush(&mut on_event);
        assert!(matches!(&seen[..], [AttemptEvent::Text(t)] if t == "ECHO: a plain"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_tool_call_is_an_activity_from_its_use_to_its_result() {
        let mut live = Live::new(None);
        let mut seen = Vec::new();
        let mut on_event = |e: AttemptEvent| seen.push(e);
        live.stream_event(&delta("before the call"));
        live.tool_use(
            "toolu_1",
            "Bash",
            &json!({"command": "cargo test"}),
            &mut on_event,
        );
        tokio::time::advance(Duration::from_secs(41)).await;
        live.tool_result(
            "toolu_1",
            true,
            &json!([{"type": "text", "text": "\nerror: 2 tests failed\nmore"}]),
            &mut on_event,
        );
        live.tool_use(
            "toolu_2",
            "Read",
            &json!({"file_path": "/a"}),
            &mut on_event,
        );
        live.tool_result("toolu_unknown", false, &json!("x"), &mut on_event);
        live.finish(&mut on_event);
        match &seen[..] {
            [
                AttemptEvent::Text(t),
                AttemptEvent::ToolStarted { tool, input, .. },
                AttemptEvent::ToolEnded {
                    duration, error, ..
                },
                AttemptEvent::ToolStarted { .. },
                AttemptEvent::ToolEnded {
                    error: unfinished, ..
                },
            ] => {
                assert_eq!(t, "before the call");
                assert_eq!((tool.as_str(), input.as_str()), ("Bash", "cargo test"));
                assert_eq!(*duration, Duration::from_secs(41));
                assert_eq!(error.as_deref(), Some("error: 2 tests failed"));
                assert!(unfinished.as_deref().unwrap().starts_with("unfinished"));
            }
            other => panic!("{other:?}"),
        }
    }
}
