//! Where telemetry goes: a missing collector (gRPC or HTTP) blocks nothing, and the dashboard and
//! the configs in `observability/` parse and query only metrics the service really emits.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::daemon::stderr;
use crate::support::otlp::Receiver;
use crate::support::prometheus::{dashboard_exprs, exercise, prometheus_addr, scrape};
use crate::support::traced::{closed_endpoint, daemon, smith_traced};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collector_the_service_works_and_nothing_blocks() {
    let closed = closed_endpoint();
    tokio::task::spawn_blocking(move || {
        let mut d = daemon(&closed);
        d.start();
        let t0 = Instant::now();
        let out = smith_traced(
            &d,
            &closed,
            &["ask", "q", "--task", "a", "--task", "b [[fail-first:b]]"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "ask took {:?}",
            t0.elapsed()
        );
        assert_eq!(d.smith(&["health"]).status.code(), Some(0));
        let t0 = Instant::now();
        d.smith(&["shutdown"]);
        assert!(d.wait(Duration::from_secs(30)).expect("stops").success());
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "shutdown took {:?}",
            t0.elapsed()
        );
    })
    .await
    .unwrap();
    // And with no telemetry configured at all, the CLI and smithd work as everywhere else in the
    // suite (every other test runs without an endpoint).
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_export_to_a_missing_collector_blocks_nothing_either() {
    let closed = closed_endpoint();
    tokio::task::spawn_blocking(move || {
        let mut d = daemon(&closed);
        d.env
            .push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/protobuf".into()));
        d.start();
        assert!(d.log().contains("protocol=http/protobuf"), "{}", d.log());
        let out = d.smith(&["ask", "q", "--task", "a", "--task", "b"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        d.smith(&["shutdown"]);
        assert!(d.wait(Duration::from_secs(30)).expect("stops").success());
    })
    .await
    .unwrap();
}

/// The metric names and the grouping label names a PromQL expression uses (metric names: our
/// prefixes, outside `{…}` matchers and `by (…)` / `without (…)` groups).
fn promql_names(expr: &str) -> (Vec<String>, Vec<String>) {
    let (mut metrics, mut labels) = (Vec::new(), Vec::new());
    let mut tokens: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in expr.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let (mut braces, mut grouping, mut i) = (0, false, 0);
    while i < tokens.len() {
        let t = tokens[i].as_str();
        match t {
            "{" => braces += 1,
            "}" => braces -= 1,
            "by" | "without" if braces == 0 => {
                grouping = true;
            }
            ")" if grouping => grouping = false,
            _ if grouping && t != "(" && t != "," => labels.push(t.to_string()),
            _ if braces == 0 && (t.starts_with("smith_") || t.starts_with("gen_ai_")) => {
                metrics.push(t.to_string())
            }
            _ => {}
        }
        i += 1;
    }
    (metrics, labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_configs_parse_and_query_only_emitted_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("observability");
    for yaml in [
        "otel-collector.yaml",
        "compose.yaml",
        "prometheus.yml",
        "grafana/provisioning/datasources/datasources.yaml",
        "grafana/provisioning/dashboards/dashboards.yaml",
    ] {
        let text =
            std::fs::read_to_string(root.join(yaml)).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        let _: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    }
    let mut queried = BTreeSet::new();
    let mut grouped_by = BTreeSet::new();
    for e in dashboard_exprs() {
        let (metrics, by) = promql_names(&e);
        queried.extend(metrics);
        grouped_by.extend(by);
    }
    assert!(queried.len() >= 8, "the dashboard queries {queried:?}");

    // Produce every metric for real: a request with a restart, an escalation, a budget stop.
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint.clone();
    let scraped = tokio::task::spawn_blocking(move || {
        let mut d = daemon(&endpoint);
        exercise(&mut d);
        scrape(&prometheus_addr(&d))
    })
    .await
    .unwrap();
    let emitted: BTreeSet<&str> = scraped
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    for name in &queried {
        assert!(
            emitted.contains(name.as_str()),
            "the dashboard queries {name}, which smithd does not emit; it emits {emitted:?}"
        );
    }
    for label in &grouped_by {
        assert!(
            scraped.contains(&format!("{label}=\"")),
            "the dashboard groups by {label}, which no emitted series carries"
        );
    }
    assert!(
        grouped_by.contains("smith_exit_reason") && grouped_by.contains("le"),
        "{grouped_by:?}"
    );
    // The throttled task went on after the gate opened: a throttle is not a restart.
    assert!(
        scraped.contains("smith_governor_throttles_total"),
        "{scraped}"
    );
    let restarts: Vec<&str> = scraped
        .lines()
        .filter(|l| l.starts_with("smith_task_restarts_total"))
        .collect();
    assert!(!restarts.is_empty(), "{scraped}");
    assert!(
        restarts.iter().all(|l| !l.contains("api_error")),
        "{restarts:?}"
    );
}
