//! The live view with the real CLI 2.1.332 against the fake Messages API: a Bash tool call is an
//! activity in the live stream (and its answer arrives as text deltas), in `smith show --tools`,
//! in the task's transcript, and an `execute_tool Bash` span under its attempt.

use std::time::{Duration, Instant};

use smith::protocol::{Event, RequestStatus};

use crate::live::{ask_events, tool_activities};
use crate::support::approvals::json_of;
use crate::support::daemon::{Daemon, stdout};
use crate::support::fake_api::FakeApi;
use crate::support::otlp::{Receiver, attr};
use crate::support::real_cli::{configure_daemon, real_cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bash_call_of_the_real_cli_is_live_listed_logged_and_traced() {
    let Some(cli) = real_cli() else {
        return;
    };
    let api = FakeApi::start().await;
    let receiver = Receiver::start().await;
    let (url, endpoint) = (api.url(), receiver.endpoint.clone());
    let (events, summary, show, logs) = tokio::task::spawn_blocking(move || {
        let mut d = Daemon::new("");
        configure_daemon(&d, &cli, &url, "allowed_tools = [\"Bash\"]", &[]);
        d.env = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ];
        d.start();
        let (events, summary) = ask_events(&d, "main", "run it [[tool:bash echo hello-from-bash]]");
        let show = json_of(&d, &["show", "--json", &summary.request_id]);
        let logs = stdout(&d.smith(&["logs", &summary.request_id, "t1"]));
        d.smith(&["shutdown"]);
        d.wait(Duration::from_secs(20)).expect("smithd stops");
        (events, summary, show, logs)
    })
    .await
    .unwrap();
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:?}");
    let tools = tool_activities(&events);
    assert_eq!(tools.len(), 2, "started and ended: {events:?}");
    assert_eq!(tools[0].tool, "Bash");
    assert_eq!(tools[0].input, "echo hello-from-bash");
    assert!(tools[1].duration_ms.is_some() && tools[1].error.is_none());
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            Event::TaskText { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        text.contains("ECHO-TOOL-RESULT: hello-from-bash"),
        "{text:?}"
    );

    assert_eq!(
        show["tools"][0]["activity"]["input"], "echo hello-from-bash",
        "{show}"
    );
    assert!(logs.contains("▸ Bash: echo hello-from-bash"), "{logs}");
    assert!(logs.contains("← hello-from-bash"), "{logs}");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = receiver.spans();
        if let Some(t) = spans.iter().find(|s| s.name == "execute_tool Bash") {
            let attempt = spans
                .iter()
                .find(|s| s.name.starts_with("invoke_agent"))
                .expect("its attempt's span");
            assert_eq!(t.parent_span_id, attempt.span_id);
            assert_eq!(
                attr(&t.attributes, "gen_ai.tool.name").as_deref(),
                Some("Bash")
            );
            break;
        }
        assert!(Instant::now() < deadline, "no execute_tool span");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(api);
}
