//! OpenTelemetry end to end: smithd and `smith ask` export to an OTLP receiver running inside the
//! test. A fan-out request with one injected crash makes one trace — client span → smith.request
//! → invoke_agent per attempt (kind CLIENT) → merge — with the GenAI attributes, the restart
//! event, an error status on the failed attempt; the metrics arrive with their names and values;
//! the stand-in sees the request's trace id in TRACEPARENT. (`telemetry_spans`: content and tool
//! spans; `telemetry_export`: a missing collector, the dashboard and configs.)

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::support::daemon::{stderr, stdout};
use crate::support::otlp::{Receiver, attr, hex};
use crate::support::prometheus::{prometheus_addr, scrape};
use crate::support::traced::{by_name, daemon, smith_traced};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_with_a_crash_makes_one_trace_with_the_expected_tree_and_metrics() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint.clone();
    let (d, out, scraped) = tokio::task::spawn_blocking(move || {
        let mut d = daemon(&endpoint);
        d.start();
        let out = smith_traced(
            &d,
            &endpoint,
            &[
                "ask",
                "--json",
                "fan out",
                "--task",
                "alpha",
                "--task",
                "beta [[fail-first:beta]]",
                "--task",
                "gamma [[env]]",
            ],
        );
        let scraped = scrape(&prometheus_addr(&d));
        (d, out, scraped)
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), d.log());
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let request_id = summary["request_id"].as_str().unwrap().to_string();

    // Flush: a graceful stop exports what is left.
    let d = tokio::task::spawn_blocking(move || {
        let mut d = d;
        assert_eq!(d.smith(&["shutdown"]).status.code(), Some(0));
        d.wait(Duration::from_secs(20)).expect("smithd stops");
        d
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let spans = loop {
        let spans = receiver.spans();
        if by_name(&spans, "merge").len() == 1 && by_name(&spans, "smith ask").len() == 1 {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "spans did not arrive: {:?}\n{}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>(),
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // One trace, rooted at the client's span.
    let client = by_name(&spans, "smith ask")[0];
    let request = by_name(&spans, "smith.request");
    assert_eq!(request.len(), 1);
    let request = request[0];
    let trace = hex(&client.trace_id);
    for s in &spans {
        assert_eq!(
            hex(&s.trace_id),
            trace,
            "span {} is in another trace",
            s.name
        );
    }
    assert_eq!(client.kind, 3, "the client span is CLIENT");
    assert_eq!(
        request.parent_span_id, client.span_id,
        "smith.request continues the client's span"
    );
    assert_eq!(request.kind, 2, "smith.request is SERVER");
    assert_eq!(
        attr(&request.attributes, "smith.request.id").as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(
        attr(&request.attributes, "smith.session").as_deref(),
        Some("main")
    );
    assert_eq!(
        attr(&request.attributes, "smith.strategy").as_deref(),
        Some("one_for_one")
    );
    assert_eq!(
        attr(&request.attributes, "smith.request.status").as_deref(),
        Some("succeeded")
    );

    // One invoke_agent span per attempt: 4 (beta twice), children of smith.request.
    let attempts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.starts_with("invoke_agent "))
        .collect();
    assert_eq!(
        attempts.len(),
        4,
        "{:?}",
        attempts.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for a in &attempts {
        assert_eq!(a.kind, 3, "{} is CLIENT", a.name);
        assert_eq!(
            a.parent_span_id, request.span_id,
            "{} under smith.request",
            a.name
        );
        for key in [
            "gen_ai.operation.name",
            "gen_ai.provider.name",
            "gen_ai.agent.name",
            "gen_ai.agent.id",
            "gen_ai.request.model",
            "gen_ai.conversation.id",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
            "process.pid",
            "process.exit.code",
            "smith.request.id",
            "smith.session",
            "smith.attempt",
            "smith.exit_reason",
        ] {
            assert!(attr(&a.attributes, key).is_some(), "{} lacks {key}", a.name);
        }
        assert_eq!(
            attr(&a.attributes, "gen_ai.operation.name").as_deref(),
            Some("invoke_agent")
        );
        assert_eq!(
            attr(&a.attributes, "gen_ai.provider.name").as_deref(),
            Some("anthropic")
        );
        assert!(
            attr(&a.attributes, "smith.prompt").is_none(),
            "no content unless record_content"
        );
    }
    let beta: Vec<&&Span> = attempts
        .iter()
        .filter(|s| s.name.starts_with("invoke_agent beta"))
        .collect();
    assert_eq!(beta.len(), 2);
    let failed = beta
        .iter()
        .find(|s| attr(&s.attributes, "smith.attempt").as_deref() == Some("1"))
        .unwrap();
    assert_eq!(
        failed.status.as_ref().map(|s| s.code),
        Some(2),
        "the crashed attempt has status ERROR"
    );
    assert_eq!(
        attr(&failed.attributes, "error.type").as_deref(),
        Some("crashed")
    );
    assert_eq!(
        attr(&failed.attributes, "smith.exit_reason").as_deref(),
        Some("crashed")
    );
    assert_eq!(
        attr(&failed.attributes, "process.exit.code").as_deref(),
        Some("3")
    );
    let ok = beta
        .iter()
        .find(|s| attr(&s.attributes, "smith.attempt").as_deref() == Some("2"))
        .unwrap();
    assert_ne!(ok.status.as_ref().map(|s| s.code), Some(2));
    // The whole input: the stand-in reports 120 uncached tokens and 40 read from the cache.
    assert_eq!(
        attr(&ok.attributes, "gen_ai.usage.input_tokens").as_deref(),
        Some("160")
    );
    assert_eq!(
        attr(&ok.attributes, "gen_ai.usage.output_tokens").as_deref(),
        Some("8")
    );
    assert_eq!(
        attr(&ok.attributes, "gen_ai.usage.cache_read.input_tokens").as_deref(),
        Some("40")
    );
    assert!(attr(&ok.attributes, "smith.resumed_from").is_some());

    // The restart is an event on the request span, with its backoff delay.
    let restart = request
        .events
        .iter()
        .find(|e| e.name == "smith.restart")
        .expect("a restart event");
    assert_eq!(
        attr(&restart.attributes, "gen_ai.agent.id").as_deref(),
        Some("t2")
    );
    assert!(attr(&restart.attributes, "delay_ms").is_some());
    assert_eq!(by_name(&spans, "merge")[0].parent_span_id, request.span_id);

    // The stand-in saw the trace in TRACEPARENT: the trace id of the request.
    let gamma_env: HashMap<String, String> =
        serde_json::from_str(summary["tasks"][2]["output"].as_str().unwrap()).unwrap();
    let tp = gamma_env
        .get("TRACEPARENT")
        .expect("TRACEPARENT passed to the process");
    assert_eq!(tp.split('-').nth(1), Some(trace.as_str()), "{tp}");
    let gamma = attempts
        .iter()
        .find(|s| s.name.starts_with("invoke_agent gamma"))
        .unwrap();
    assert_eq!(
        tp.split('-').nth(2),
        Some(hex(&gamma.span_id).as_str()),
        "its parent is its attempt's span"
    );

    // Resource: service.name and OTEL_RESOURCE_ATTRIBUTES.
    let resource = receiver
        .resources()
        .into_iter()
        .find(|r| attr(r, "service.name").as_deref() == Some("smithd"))
        .expect("smithd resource");
    assert_eq!(
        attr(&resource, "deployment.environment").as_deref(),
        Some("test")
    );

    // Metrics arrived over OTLP with the expected names and values.
    let metrics = receiver.metrics();
    let names: BTreeSet<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    for name in [
        "smith.tasks.active",
        "smith.task.duration",
        "smith.task.attempts",
        "smith.task.restarts",
        "smith.requests",
        "gen_ai.client.token.usage",
    ] {
        assert!(names.contains(name), "{name} missing in {names:?}");
    }
    let sum_by = |name: &str, key: &str| -> HashMap<String, f64> {
        let mut out = HashMap::new();
        // Cumulative temporality: the last export holds the totals.
        if let Some(m) = metrics.iter().rev().find(|m| m.name == name)
            && let Some(Data::Sum(s)) = &m.data
        {
            for p in &s.data_points {
                let v = match p.value {
                    Some(
                        opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i),
                    ) => i as f64,
                    Some(
                        opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(
                            d,
                        ),
                    ) => d,
                    None => 0.0,
                };
                *out.entry(attr(&p.attributes, key).unwrap_or_default())
                    .or_insert(0.0) += v;
            }
        }
        out
    };
    // gen_ai.client.token.usage counts the whole input too: 3 completed attempts × 160.
    let input_sum: f64 = metrics
        .iter()
        .rev()
        .find(|m| m.name == "gen_ai.client.token.usage")
        .and_then(|m| match &m.data {
            Some(Data::Histogram(h)) => Some(
                h.data_points
                    .iter()
                    .filter(|p| {
                        attr(&p.attributes, "gen_ai.token.type").as_deref() == Some("input")
                    })
                    .map(|p| p.sum.unwrap_or(0.0))
                    .sum(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    assert_eq!(input_sum, 480.0);
    let attempts_by = sum_by("smith.task.attempts", "smith.exit_reason");
    assert_eq!(attempts_by.get("completed"), Some(&3.0), "{attempts_by:?}");
    assert_eq!(attempts_by.get("crashed"), Some(&1.0), "{attempts_by:?}");
    assert_eq!(
        sum_by("smith.task.restarts", "smith.exit_reason").get("crashed"),
        Some(&1.0)
    );
    assert_eq!(
        sum_by("smith.requests", "smith.request.status").get("succeeded"),
        Some(&1.0)
    );
    assert_eq!(
        sum_by("smith.tasks.active", "").values().sum::<f64>(),
        0.0,
        "no task active at the end"
    );

    // The Prometheus scrape (the exporter's real output) has them too.
    for name in [
        "smith_task_attempts_total",
        "smith_task_duration_seconds_bucket",
        "gen_ai_client_token_usage_bucket",
        "smith_requests_total",
    ] {
        assert!(
            scraped.contains(name),
            "{name} not in the scrape:\n{scraped}"
        );
    }
}
