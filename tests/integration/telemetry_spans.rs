//! Spans of an attempt's content and tools: the prompt and the answer are recorded only with
//! `telemetry.record_content`; each tool call is an `execute_tool` span under its attempt.

use std::time::Duration;

use crate::support::daemon::stderr;
use crate::support::otlp::{Receiver, attr};
use crate::support::traced::{by_name, daemon, spans_when};

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
