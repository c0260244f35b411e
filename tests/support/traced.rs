//! Telemetry from a test's side: a daemon exporting to an OTLP receiver quickly, `smith` exporting
//! its own spans, an endpoint where nothing listens, and waiting for spans.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::Span;

use super::daemon::Daemon;
use super::otlp::Receiver;

/// A daemon exporting to `endpoint`, quickly, with a Prometheus endpoint on a free port.
pub fn daemon(endpoint: &str) -> Daemon {
    let mut d = Daemon::new(
        "[supervision]\nbackoff_min = \"50ms\"\nbackoff_max = \"100ms\"\n\n[telemetry]\nprometheus_listen = \"127.0.0.1:0\"\n",
    );
    d.env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.into()),
        ("OTEL_METRIC_EXPORT_INTERVAL".into(), "300".into()),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        (
            "OTEL_RESOURCE_ATTRIBUTES".into(),
            "deployment.environment=test".into(),
        ),
    ];
    d
}

/// `smith ARGS` exporting its own spans to `endpoint`.
pub fn smith_traced(d: &Daemon, endpoint: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(crate::support::daemon::smith_bin())
        .args(args)
        .env("SMITH_SOCKET", d.socket())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .current_dir(d.work())
        .output()
        .unwrap()
}

/// An endpoint on a port where nothing listens.
pub fn closed_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    format!("http://{a}")
}

/// The spans received once `ready` says they are all there (within 10 s).
pub async fn spans_when(
    receiver: &Receiver,
    what: &str,
    ready: impl Fn(&[Span]) -> bool,
) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = receiver.spans();
        if ready(&spans) {
            return spans;
        }
        assert!(Instant::now() < deadline, "no {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The spans named `name`.
pub fn by_name<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}
