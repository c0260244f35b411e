//! An attempt's `invoke_agent` span and what the attempt leaves on it and in the metrics: its
//! start, its end (usage, exit, error), and each tool call smith decided (a span event).

use opentelemetry::trace::Status;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::outcome::{Outcome, OutcomeReason};
use super::task_env::TaskLabels;
use crate::telemetry::metrics::{self, metrics};
use crate::telemetry::semconv::*;

/// The `invoke_agent` span (kind CLIENT) of attempt `attempt` of task `name` (`id`), under the
/// request's `parent`, with its GenAI attributes; what is known later is recorded on it then.
pub(super) fn invoke_agent_span(
    parent: &tracing::Span,
    name: &str,
    id: &str,
    labels: &TaskLabels,
    attempt: u32,
    model: Option<&str>,
) -> tracing::Span {
    tracing::info_span!(
        target: "smith::agent",
        parent: parent,
        "invoke_agent",
        otel.name = %format!("invoke_agent {name}"),
        otel.kind = "client",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.provider.name = ANTHROPIC,
        gen_ai.agent.name = %name,
        gen_ai.agent.id = %id,
        gen_ai.request.model = model.unwrap_or("default"),
        gen_ai.conversation.id = Empty,
        smith.request.id = %labels.request_id,
        smith.session = %labels.session,
        smith.attempt = attempt,
        smith.warm = Empty,
        smith.node = Empty,
        process.pid = Empty,
        process.exit.code = Empty,
        smith.exit_reason = Empty,
        error.type = Empty,
        gen_ai.response.model = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.usage.cache_read.input_tokens = Empty,
        gen_ai.usage.cache_creation.input_tokens = Empty,
    )
}

/// What the attempt runs as, once known: on a warm worker (`warm`) or not, in Claude session
/// `session` (a warm worker's own). Recorded once: a span attribute set twice is exported twice.
pub(super) fn record_start(span: &tracing::Span, warm: bool, session: &str) {
    span.record("smith.warm", warm);
    span.record("gen_ai.conversation.id", session);
}

/// A decided tool call as an event on the attempt's span.
pub(super) fn record_decision(span: &tracing::Span, d: &crate::protocol::ToolDecision) {
    use opentelemetry::KeyValue;
    span.add_event(
        "smith.tool.decision",
        vec![
            KeyValue::new(GEN_AI_TOOL_NAME, d.tool.clone()),
            KeyValue::new(SMITH_VERDICT, d.verdict.as_str()),
            KeyValue::new(SMITH_DECIDED_BY, d.decided_by.as_str()),
            KeyValue::new("smith.approval.id", d.id.clone()),
            KeyValue::new("smith.decided.who", d.who.clone()),
            KeyValue::new("smith.approval.waited_ms", d.waited_ms as i64),
        ],
    );
}

/// Puts the attempt's end on its span and into the metrics.
pub(super) fn record_outcome(span: &tracing::Span, o: &Outcome, record_content: bool) {
    let m = metrics();
    let reason = o.reason.as_str();
    span.record(SMITH_EXIT_REASON, o.reason.to_string().as_str());
    // The whole input (cache parts included), per the GenAI conventions; the parts are below.
    span.record(GEN_AI_USAGE_INPUT_TOKENS, o.usage.total_input() as i64);
    span.record(GEN_AI_USAGE_OUTPUT_TOKENS, o.usage.output_tokens as i64);
    span.record(
        GEN_AI_USAGE_CACHE_READ,
        o.usage.cache_read_input_tokens as i64,
    );
    span.record(
        GEN_AI_USAGE_CACHE_CREATION,
        o.usage.cache_creation_input_tokens as i64,
    );
    if let Some(code) = o.exit.and_then(|e| e.code) {
        span.record(PROCESS_EXIT_CODE, code as i64);
    }
    if record_content && let Some(answer) = &o.result {
        span.set_attribute(SMITH_ANSWER, answer.clone());
    }
    if o.reason != OutcomeReason::Completed {
        span.record(ERROR_TYPE, reason);
        span.set_status(Status::error(
            o.detail.clone().unwrap_or_else(|| o.reason.to_string()),
        ));
    }
    m.task_attempts.add(1, &metrics::reason(reason));
    m.task_duration
        .record(o.duration.as_secs_f64(), &metrics::reason(reason));
    if o.usage.total_input() > 0 || o.usage.output_tokens > 0 {
        m.token_usage
            .record(o.usage.total_input(), &metrics::token_type("input"));
        m.token_usage
            .record(o.usage.output_tokens, &metrics::token_type("output"));
    }
    if o.cost_usd > 0.0 {
        m.cost_usd.add(o.cost_usd, &[]);
    }
}

/// The `execute_tool {tool}` spans of an attempt's tool calls: each a child of the attempt's
/// `invoke_agent` span, from its `tool_use` to its `tool_result` (arguments and result only
/// with `telemetry.record_content`); with the tool and live-text metrics.
#[derive(Default)]
pub(super) struct ToolSpans {
    open: std::collections::HashMap<String, tracing::Span>,
    record_content: bool,
}

impl ToolSpans {
    /// Spans for an attempt; contents recorded when `record_content`.
    pub fn new(record_content: bool) -> Self {
        Self {
            open: Default::default(),
            record_content,
        }
    }

    /// A tool call started or ended, or text came (other events are not theirs).
    pub fn on(&mut self, parent: &tracing::Span, event: &super::observed::AttemptEvent) {
        use super::observed::AttemptEvent;
        match event {
            AttemptEvent::Text(text) => {
                metrics().live_text.add(text.chars().count() as u64, &[]);
            }
            AttemptEvent::ToolStarted {
                call_id,
                tool,
                arguments,
                ..
            } => {
                let span = tracing::info_span!(
                    target: "smith::agent",
                    parent: parent,
                    "execute_tool",
                    otel.name = %format!("execute_tool {tool}"),
                    otel.kind = "internal",
                    gen_ai.operation.name = "execute_tool",
                    gen_ai.tool.name = %tool,
                    gen_ai.tool.call.id = %call_id,
                    gen_ai.tool.type = "function",
                    error.type = tracing::field::Empty,
                );
                if self.record_content {
                    span.set_attribute(GEN_AI_TOOL_CALL_ARGUMENTS, arguments.to_string());
                }
                // Bounded like the attempt's own list of open calls.
                if self.open.len() < 256 {
                    self.open.insert(call_id.clone(), span);
                }
            }
            AttemptEvent::ToolEnded {
                call_id,
                tool,
                duration,
                error,
                result,
            } => {
                let outcome = if error.is_some() { "error" } else { "ok" };
                let m = metrics();
                m.tool_calls.add(1, &metrics::tool(tool, Some(outcome)));
                m.tool_duration
                    .record(duration.as_secs_f64(), &metrics::tool(tool, None));
                let Some(span) = self.open.remove(call_id) else {
                    return;
                };
                if self.record_content {
                    span.set_attribute(GEN_AI_TOOL_CALL_RESULT, result.clone());
                }
                if let Some(e) = error {
                    span.record(ERROR_TYPE, "tool_error");
                    span.set_status(Status::error(e.clone()));
                }
            }
            _ => {}
        }
    }
}
