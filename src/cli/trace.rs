//! The client's span: `smith ask` (and `resume`) opens a span of kind CLIENT and sends its
//! traceparent to smithd, which continues the trace. The span is exported only when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set; its ids are propagated either way.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The client's span and its provider.
pub struct ClientTrace {
    provider: SdkTracerProvider,
    cx: Context,
    /// Its W3C traceparent.
    pub traceparent: String,
}

impl ClientTrace {
    /// Opens the span `name`.
    pub fn start(name: &'static str) -> Self {
        let mut builder = SdkTracerProvider::builder().with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("smith")
                .build(),
        );
        let exporting = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        if exporting {
            let http =
                std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").is_ok_and(|p| p.starts_with("http"));
            let exporter = if http {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .build()
            } else {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .build()
            };
            match exporter {
                Ok(e) => builder = builder.with_batch_exporter(e),
                Err(e) => eprintln!("smith: not exporting the client span: {e}"),
            }
        }
        let provider = builder.build();
        let tracer = provider.tracer("smith-cli");
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_attributes([KeyValue::new("rpc.system", "smith")])
            .start(&tracer);
        let cx = Context::current_with_span(span);
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut carrier);
        let traceparent = carrier.remove("traceparent").unwrap_or_default();
        Self {
            provider,
            cx,
            traceparent,
        }
    }

    /// Ends the span (an error status unless `ok`) and flushes it.
    pub async fn finish(self, ok: bool) {
        let span = self.cx.span();
        if !ok {
            span.set_status(Status::error("the request did not succeed"));
        }
        span.end();
        let provider = self.provider;
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}
