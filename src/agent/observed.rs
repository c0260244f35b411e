//! What an attempt observes of its process's output: each stdout line typed, progress reported
//! as [`AttemptEvent`]s, and what the outcome is made of (the Claude session, the result, the
//! refused tool calls, why smith stopped it).

use super::denial::Denials;
use super::event::{ApiRetry, ContentBlock, ResultEvent, StreamEvent};
use super::event::{RateLimitEvent, RateLimitStatus};
use crate::governor::Throttle;
use std::time::Duration;

use super::line_reader::Line;
use super::live::Live;
use super::outcome::StopCause;

/// Progress of an attempt, reported as it happens (a worker node sends it to the control plane
/// as JSON).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptEvent {
    /// The process runs.
    Spawned {
        /// Its pid (and process group id).
        pid: u32,
        /// Its start time in clock ticks since boot (to recognise it after a crash of smithd;
        /// `None` on another host).
        start_time: Option<u64>,
        /// The worker node it runs on (`None`: this host).
        #[serde(default)]
        node: Option<String>,
    },
    /// `system/init`: the Claude session id is known.
    Init {
        /// Claude session id.
        claude_session_id: String,
        /// Model.
        model: Option<String>,
    },
    /// Assistant output: its text and the tools it called.
    Progress {
        /// Text of the message.
        text: String,
        /// Tool names called.
        tools: Vec<String>,
    },
    /// The CLI retries an API call.
    ApiRetry(ApiRetry),
    /// smith decided a tool call (`permissions.mode = "stdio"`).
    ToolDecided(crate::protocol::ToolDecision),
    /// The API throttled the worker (an `api_retry` of a 429 or 529, a `rate_limit_event`).
    Throttled(Throttle),
    /// The first real answer of the API in this attempt (not one the CLI made up after an
    /// error).
    Answered,
    /// Text the worker wrote since the last one (coalesced deltas of its partial messages).
    Text(String),
    /// A tool call started.
    ToolStarted {
        /// The call's id.
        call_id: String,
        /// The tool.
        tool: String,
        /// Its input as a person reads it (sanitized, cut).
        input: String,
        /// Its whole input (recorded only behind the content switch).
        arguments: serde_json::Value,
    },
    /// A tool call's result came (or the attempt ended first).
    ToolEnded {
        /// The call's id.
        call_id: String,
        /// The tool.
        tool: String,
        /// How long it ran.
        duration: Duration,
        /// The first line of its error, when it failed.
        error: Option<String>,
        /// Its result text, cut (recorded only behind the content switch).
        result: String,
    },
}

/// What the attempt observed so far.
pub(super) struct Observed {
    pub init_seen: bool,
    pub denials: Denials,
    /// Tool calls without their result yet (bounded: the oldest is forgotten past a thousand).
    pub tools_running: std::collections::VecDeque<String>,
    pub claude_session_id: Option<String>,
    /// The model of its init.
    pub model: Option<String>,
    /// A real answer of the API came.
    pub answered: bool,
    /// A throttle was reported.
    pub throttled: bool,
    pub result: Option<ResultEvent>,
    pub cause: Option<StopCause>,
    pub detail: Option<String>,
    /// Text deltas, tool activity, the transcript.
    pub live: Live,
}

/// What a `rate_limit_event` says for the governor: `rejected` closes the gate until its reset,
/// `allowed_warning` is an early signal, `allowed` nothing.
fn throttle_of(e: &RateLimitEvent) -> Option<Throttle> {
    let wait = e.resets_at.map(|at| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Duration::from_secs(at).saturating_sub(now)
    });
    match e.status {
        RateLimitStatus::Allowed => None,
        RateLimitStatus::AllowedWarning => Some(Throttle {
            status: None,
            wait,
            reset: true,
            warning: true,
        }),
        RateLimitStatus::Rejected => Some(Throttle {
            status: Some(429),
            wait,
            reset: wait.is_some(),
            warning: false,
        }),
    }
}

/// Tool calls remembered as running, at most.
const MAX_RUNNING_TOOLS: usize = 1000;

impl Observed {
    /// A tool call has no result yet.
    pub fn tool_running(&self) -> bool {
        !self.tools_running.is_empty()
    }
}

/// What a line means for the attempt.
pub(super) enum LineVerdict {
    /// Read on.
    Continue,
    /// The `result` arrived.
    ResultSeen,
    /// The output broke the protocol.
    ProtocolError(String),
    /// The CLI asks the host (a `control_request`).
    Control(serde_json::Value),
}

/// Types one stdout line, records what the outcome needs in `seen`, and reports progress.
pub(super) fn handle_line(
    line: std::io::Result<Line>,
    seen: &mut Observed,
    on_event: &mut (dyn FnMut(AttemptEvent) + Send),
) -> LineVerdict {
    let text = match line {
        Ok(Line::Text(text)) => text,
        Ok(Line::Oversized(n)) => {
            return LineVerdict::ProtocolError(format!(
                "stdout line of {n} bytes exceeds the limit"
            ));
        }
        Err(err) => return LineVerdict::ProtocolError(format!("cannot read stdout: {err}")),
    };
    if text.trim().is_empty() {
        return LineVerdict::Continue;
    }
    let event = match StreamEvent::parse(&text) {
        Ok(event) => event,
        Err(err) => return LineVerdict::ProtocolError(err.to_string()),
    };
    seen.live
        .transcribe(&text, matches!(event, StreamEvent::Stream(_)));
    match event {
        StreamEvent::Init(init) => {
            seen.init_seen = true;
            seen.claude_session_id = Some(init.session_id.clone());
            seen.model = init.model.clone();
            on_event(AttemptEvent::Init {
                claude_session_id: init.session_id,
                model: init.model,
            });
        }
        StreamEvent::Assistant(_) | StreamEvent::Result(_) if !seen.init_seen => {
            return LineVerdict::ProtocolError(format!("{} before system/init", event.kind()));
        }
        StreamEvent::Assistant(turn) => {
            // The message is complete: its deltas go before it.
            seen.live.flush(on_event);
            for block in &turn.message.content {
                if let ContentBlock::ToolUse { id, name, input } = block {
                    if turn.parent_tool_use_id.is_none() {
                        seen.live.tool_use(id, name, input, on_event);
                    }
                    seen.denials.called(id, name, input);
                    if seen.tools_running.len() == MAX_RUNNING_TOOLS {
                        seen.tools_running.pop_front();
                    }
                    seen.tools_running.push_back(id.clone());
                }
            }
            if !seen.answered && turn.message.model.as_deref() != Some("<synthetic>") {
                seen.answered = true;
                on_event(AttemptEvent::Answered);
            }
            let text = turn.message.text();
            let tools = turn.message.tool_uses();
            if !text.is_empty() || !tools.is_empty() {
                on_event(AttemptEvent::Progress { text, tools });
            }
        }
        StreamEvent::ApiRetry(retry) => {
            if Throttle::is_throttle_status(retry.error_status) {
                seen.throttled = true;
                on_event(AttemptEvent::Throttled(Throttle {
                    status: retry.error_status,
                    wait: Some(Duration::from_millis(retry.retry_delay_ms)),
                    reset: false,
                    warning: false,
                }));
            }
            on_event(AttemptEvent::ApiRetry(retry));
        }
        StreamEvent::RateLimit(event) => {
            if let Some(t) = throttle_of(&event) {
                seen.throttled |= !t.warning;
                on_event(AttemptEvent::Throttled(t));
            }
        }
        StreamEvent::PermissionDenied(denied) => seen.denials.denied(denied),
        StreamEvent::Result(result) => {
            seen.denials.listed(&result.permission_denials);
            seen.result = Some(*result);
            return LineVerdict::ResultSeen;
        }
        StreamEvent::ControlRequest(request) => return LineVerdict::Control(request),
        StreamEvent::User(turn) => {
            for block in &turn.message.content {
                if let ContentBlock::ToolResult {
                    tool_use_id,
                    is_error,
                    content,
                } = block
                {
                    seen.tools_running.retain(|id| id != tool_use_id);
                    seen.live.tool_result(
                        tool_use_id,
                        is_error.unwrap_or(false),
                        content,
                        on_event,
                    );
                }
            }
        }
        StreamEvent::Stream(line) => seen.live.stream_event(&line),
        StreamEvent::Status(_) | StreamEvent::ControlResponse(_) | StreamEvent::Unknown(_) => {}
    }
    LineVerdict::Continue
}
