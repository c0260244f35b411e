//! Logs, traces and metrics. `tracing` everywhere; logs to stderr (human or JSON); when
//! configured, OTLP export of traces and metrics (gRPC or HTTP/protobuf; the standard
//! `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` variables apply),
//! batched, flushed on shutdown, and never in the way: a missing or failing collector only
//! produces log lines. Optionally a Prometheus scrape endpoint.
//!
//! - `semconv`: attribute names; `metrics`: the instruments; `prometheus`: `/metrics`.
//! - Spans: `smith.request` → `plan` / `invoke_agent {task}` (one per attempt, kind CLIENT) /
//!   `synthesize` / `merge`; see observability/README.md.

pub(crate) mod metrics;
pub(crate) mod prometheus;
pub(crate) mod semconv;
mod settings;

pub use settings::{LogFormat, TelemetrySettings};

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter is not valid.
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter {
        /// The filter.
        filter: String,
        /// Why.
        reason: String,
    },
    /// A subscriber was already installed.
    #[error("logging is already set up: {0}")]
    Init(String),
    /// The OTLP exporter cannot be built.
    #[error("cannot set up OTLP export to {endpoint:?}: {reason}")]
    Exporter {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// The Prometheus endpoint cannot be served.
    #[error("cannot serve Prometheus metrics on {addr}: {reason}")]
    Prometheus {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// Holds the providers; [`TelemetryGuard::shutdown`] flushes them.
#[derive(Default)]
pub struct TelemetryGuard {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    prometheus: Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>,
}

impl TelemetryGuard {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.tracer.is_some()
    }

    /// The address of the Prometheus endpoint, if it runs.
    pub fn prometheus_addr(&self) -> Option<std::net::SocketAddr> {
        self.prometheus.as_ref().map(|(a, _)| *a)
    }

    /// Flushes and stops the exporters. Blocking: call it outside async code, or through
    /// `spawn_blocking` (a current-thread runtime would stall the exporter's own flush).
    pub fn shutdown(mut self) {
        if let Some((_, task)) = self.prometheus.take() {
            task.abort();
        }
        if let Some(t) = self.tracer.take()
            && let Err(e) = t.shutdown()
        {
            eprintln!("smith: flushing traces failed: {e}");
        }
        if let Some(m) = self.meter.take()
            && let Err(e) = m.shutdown()
        {
            eprintln!("smith: flushing metrics failed: {e}");
        }
    }
}

fn protocol(section: &TelemetrySettings) -> String {
    std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| section.otlp_protocol.clone())
}

fn resource(section: &TelemetrySettings) -> Resource {
    // The builder reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; ours is the fallback.
    let mut b = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.is_empty()) {
        b = b.with_service_name(section.service_name.clone());
    }
    b.with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ))
    .build()
}

fn tracer_provider(
    section: &TelemetrySettings,
    endpoint: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
    let err = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter {
        endpoint: endpoint.to_string(),
        reason: e.to_string(),
    };
    let explicit = !section.otlp_endpoint.is_empty();
    let exporter = if protocol(section).starts_with("http") {
        let mut s = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary);
        if explicit {
            s = s.with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')));
        }
        s.build().map_err(err)?
    } else {
        let mut s = SpanExporter::builder().with_tonic();
        if explicit {
            s = s.with_endpoint(endpoint);
        }
        s.build().map_err(err)?
    };
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(section))
        .build())
}

/// `OTEL_METRIC_EXPORT_INTERVAL` (ms), else 10 s.
fn metric_interval() -> std::time::Duration {
    std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(std::time::Duration::from_millis)
        .unwrap_or(std::time::Duration::from_secs(10))
}

/// Sets up logging, and OTLP export and the Prometheus endpoint when configured. Must run inside
/// a tokio runtime when either is configured.
pub async fn init(
    section: &TelemetrySettings,
    log_format: LogFormat,
    log_level: &str,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => f,
        _ => log_level.to_string(),
    };
    let env_filter = EnvFilter::try_new(&filter).map_err(|e| TelemetryError::Filter {
        filter: filter.clone(),
        reason: e.to_string(),
    })?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs: Box<dyn Layer<_> + Send + Sync> = if log_format == LogFormat::Json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(env_filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .with_filter(env_filter)
            .boxed()
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut guard = TelemetryGuard::default();
    let endpoint = section.otlp_endpoint();
    // One meter provider with an OTLP reader and/or a Prometheus reader.
    let mut meters = SdkMeterProvider::builder().with_resource(resource(section));
    let mut any_meter = false;
    let otel_layer = match &endpoint {
        Some(endpoint) => {
            let tracer = tracer_provider(section, endpoint)?;
            meters = meters.with_reader(metric_reader(section, endpoint)?);
            any_meter = true;
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer.tracer("smith"))
                .with_threads(false)
                .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                    meta.target().starts_with("smith")
                }));
            guard.tracer = Some(tracer);
            Some(layer)
        }
        None => None,
    };
    let mut registry_for_prometheus = None;
    if !section.prometheus_listen.is_empty() {
        let registry = ::prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_target_info()
            .build()
            .map_err(|e| TelemetryError::Prometheus {
                addr: section.prometheus_listen.clone(),
                reason: e.to_string(),
            })?;
        meters = meters.with_reader(exporter);
        any_meter = true;
        registry_for_prometheus = Some(registry);
    }
    if any_meter {
        let provider = meters.build();
        opentelemetry::global::set_meter_provider(provider.clone());
        guard.meter = Some(provider);
    }
    tracing_subscriber::registry()
        .with(logs)
        .with(otel_layer)
        .try_init()
        .map_err(|e| TelemetryError::Init(e.to_string()))?;
    if let Some(registry) = registry_for_prometheus {
        let (addr, task) = prometheus::serve(&section.prometheus_listen, registry)
            .await
            .map_err(|e| TelemetryError::Prometheus {
                addr: section.prometheus_listen.clone(),
                reason: e.to_string(),
            })?;
        tracing::info!(%addr, "serving Prometheus metrics on /metrics");
        guard.prometheus = Some((addr, task));
    }
    if let Some(endpoint) = endpoint {
        tracing::info!(%endpoint, protocol = %protocol(section), "exporting traces and metrics over OTLP");
    }
    Ok(guard)
}

fn metric_reader(
    section: &TelemetrySettings,
    endpoint: &str,
) -> Result<
    opentelemetry_sdk::metrics::PeriodicReader<opentelemetry_otlp::MetricExporter>,
    TelemetryError,
> {
    use opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig};
    let err = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter {
        endpoint: endpoint.to_string(),
        reason: e.to_string(),
    };
    let explicit = !section.otlp_endpoint.is_empty();
    let exporter = if protocol(section).starts_with("http") {
        let mut m = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary);
        if explicit {
            m = m.with_endpoint(format!("{}/v1/metrics", endpoint.trim_end_matches('/')));
        }
        m.build().map_err(err)?
    } else {
        let mut m = MetricExporter::builder().with_tonic();
        if explicit {
            m = m.with_endpoint(endpoint);
        }
        m.build().map_err(err)?
    };
    Ok(
        opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
            .with_interval(metric_interval())
            .build(),
    )
}

/// Makes `span` a child of the remote span in `traceparent` (W3C), if it parses.
pub fn set_remote_parent(span: &tracing::Span, traceparent: &str, tracestate: Option<&str>) {
    let mut carrier = HashMap::new();
    carrier.insert("traceparent".to_string(), traceparent.to_string());
    if let Some(ts) = tracestate {
        carrier.insert("tracestate".to_string(), ts.to_string());
    }
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// `TRACEPARENT` (and `TRACESTATE`) of `span`, when it is exported; else `None`.
pub fn trace_env(span: &tracing::Span) -> Option<Vec<(String, String)>> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    let mut env: Vec<(String, String)> = carrier
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect();
    env.sort();
    Some(env)
}
