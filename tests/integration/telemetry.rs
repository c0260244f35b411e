//! OpenTelemetry end to end: smithd and `smith ask` export to an OTLP receiver running inside the
//! test. A fan-out request with one injected crash makes one trace — client span → smith.request
//! → invoke_agent per attempt (kind CLIENT) → merge — with the GenAI attributes, the restart
//! event, an error status on the failed attempt; the metrics arrive with their names and values;
//! the stand-in sees the request's trace id in TRACEPARENT; a missing collector blocks nothing;
//! and the dashboard only queries metrics the service really emits.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::support::daemon::{Daemon, stderr, stdout};
use crate::support::otlp::{Receiver, attr, hex};
use crate::support::prometheus::{dashboard_exprs, exercise, prometheus_addr, scrape};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::Value;

/// A daemon exporting to `endpoint`, quickly, with a Prometheus endpoint on a free port.
fn daemon(endpoint: &str) -> Daemon {
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

fn smith_traced(d: &Daemon, endpoint: &str, args: &[&str]) -> std::process::Output {
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
fn closed_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    format!("http://{a}")
}

/// The spans received once `ready` says they are all there (within 10 s).
async fn spans_when(receiver: &Receiver, what: &str, ready: impl Fn(&[Span]) -> bool) -> Vec<Span> {
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

fn by_name<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_and_answer_text_are_recorded_only_with_record_content() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint.clone();
    tokio::task::spawn_blocking(move || {
        let mut d = daemon(&endpoint);
        d.env
            .push(("SMITH_TELEMETRY__RECORD_CONTENT".into(), "true".into()));
        d.start();
        assert_eq!(
            d.smith(&["ask", "the secret prompt [[sh:echo secret-output]]"])
                .status
                .code(),
            Some(0)
        );
        d.smith(&["shutdown"]);
        d.wait(Duration::from_secs(20)).expect("stops");
    })
    .await
    .unwrap();
    let spans = spans_when(&receiver, "a smith.request span", |spans| {
        !by_name(spans, "smith.request").is_empty()
    })
    .await;
    let request = by_name(&spans, "smith.request")[0];
    assert_eq!(
        attr(&request.attributes, "smith.prompt").as_deref(),
        Some("the secret prompt [[sh:echo secret-output]]")
    );
    assert!(
        attr(&request.attributes, "smith.answer")
            .unwrap()
            .contains("secret-output")
    );
    let attempt = spans
        .iter()
        .find(|s| s.name.starts_with("invoke_agent"))
        .unwrap();
    assert!(
        attr(&attempt.attributes, "smith.prompt")
            .unwrap()
            .contains("the secret prompt")
    );
    assert!(attr(&attempt.attributes, "smith.answer").is_some());
    // The tool call's arguments and result, with the content switch on.
    let tool = by_name(&spans, "execute_tool Bash")[0];
    assert_eq!(
        attr(&tool.attributes, "gen_ai.tool.call.arguments").as_deref(),
        Some(r#"{"command":"echo secret-output","description":"fake tool call"}"#)
    );
    assert!(
        attr(&tool.attributes, "gen_ai.tool.call.result")
            .unwrap()
            .contains("secret-output")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tool_call_is_an_execute_tool_span_under_its_attempt() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint.clone();
    tokio::task::spawn_blocking(move || {
        let mut d = daemon(&endpoint);
        d.start();
        let out = d.smith(&["ask", "[[sh:echo one]] [[sh:exit 4]]"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        d.smith(&["shutdown"]);
        d.wait(Duration::from_secs(20)).expect("stops");
    })
    .await
    .unwrap();
    let spans = spans_when(&receiver, "two execute_tool spans", |spans| {
        by_name(spans, "execute_tool Bash").len() == 2
            && spans.iter().any(|s| s.name.starts_with("invoke_agent"))
    })
    .await;
    let attempt = spans
        .iter()
        .find(|s| s.name.starts_with("invoke_agent"))
        .unwrap();
    let tools = by_name(&spans, "execute_tool Bash");
    for t in &tools {
        assert_eq!(t.parent_span_id, attempt.span_id, "a child of its attempt");
        assert_eq!(t.trace_id, attempt.trace_id);
        for (key, value) in [
            ("gen_ai.operation.name", "execute_tool"),
            ("gen_ai.tool.name", "Bash"),
            ("gen_ai.tool.type", "function"),
        ] {
            assert_eq!(attr(&t.attributes, key).as_deref(), Some(value), "{key}");
        }
        assert!(
            attr(&t.attributes, "gen_ai.tool.call.id")
                .unwrap()
                .starts_with("toolu_")
        );
        assert!(
            attr(&t.attributes, "gen_ai.tool.call.arguments").is_none(),
            "no content without the switch"
        );
        assert!(t.end_time_unix_nano >= t.start_time_unix_nano);
    }
    let failed: Vec<_> = tools
        .iter()
        .filter(|t| attr(&t.attributes, "error.type").is_some())
        .collect();
    assert_eq!(failed.len(), 1, "the exit 4 call is an error");
    assert_eq!(
        attr(&failed[0].attributes, "error.type").as_deref(),
        Some("tool_error")
    );
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
