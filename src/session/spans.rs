//! The spans of a request: `smith.request` (kind SERVER, continuing the client's trace), `plan`
//! and `synthesize` under it, and the supervision decisions of its phases as span events.

use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::supervisor::{Strategy, SupervisorEvent};
use crate::telemetry::semconv::{ANTHROPIC, SMITH_PROMPT};

use super::request::RequestSpec;
use super::run::RunState;

/// The span of a request run.
pub fn request_span(
    session: &str,
    request_id: &str,
    spec: &RequestSpec,
    strategy: Strategy,
    record_content: bool,
) -> tracing::Span {
    let span = tracing::info_span!(
        target: "smith::session",
        parent: None,
        "smith.request",
        otel.kind = "server",
        gen_ai.operation.name = "invoke_workflow",
        gen_ai.provider.name = ANTHROPIC,
        gen_ai.conversation.id = %session,
        smith.request.id = %request_id,
        smith.session = %session,
        smith.strategy = %strategy,
        smith.request.status = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if let Some(tp) = &spec.traceparent {
        crate::telemetry::set_remote_parent(&span, tp, None);
    }
    if record_content {
        span.set_attribute(SMITH_PROMPT, spec.prompt.clone());
    }
    span
}

/// The parent of a phase's attempts: the planner and the synthesizer get a span of their own
/// under the request's; work tasks' attempts hang right under the request's span.
pub fn phase_span(state: &RunState, request: &tracing::Span, request_id: &str) -> tracing::Span {
    match state {
        RunState::Planning(_) => tracing::info_span!(target: "smith::session", parent: request,
            "plan", gen_ai.operation.name = "plan", smith.request.id = %request_id),
        RunState::Synthesizing(_) => tracing::info_span!(target: "smith::session",
            parent: request, "synthesize", gen_ai.operation.name = "invoke_agent",
            smith.request.id = %request_id),
        RunState::Starting | RunState::Running(_) | RunState::Finishing => request.clone(),
    }
}

/// A supervision decision as an event on the request's span.
pub fn record_supervision(span: &tracing::Span, event: SupervisorEvent) {
    span.in_scope(|| match event {
        SupervisorEvent::Restarting {
            child,
            reason,
            attempt,
            delay,
            restarting,
        } => tracing::info!(
            gen_ai.agent.id = %child,
            smith.exit_reason = %reason,
            smith.attempt = attempt,
            delay_ms = delay.as_millis() as u64,
            restarting,
            "smith.restart"
        ),
        SupervisorEvent::RestartFailed {
            child,
            reason,
            delay,
        } => tracing::warn!(
            gen_ai.agent.id = %child,
            smith.exit_reason = %reason,
            delay_ms = delay.as_millis() as u64,
            "smith.restart_failed"
        ),
        SupervisorEvent::Escalated { child, reason } => {
            crate::telemetry::metrics::metrics().escalations.add(1, &[]);
            tracing::warn!(
                gen_ai.agent.id = %child,
                smith.exit_reason = %reason,
                "smith.escalation"
            )
        }
    })
}
