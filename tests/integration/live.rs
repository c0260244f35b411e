//! The live view with the stand-in agent: the worker's text reaches the client coalesced (never
//! one event per delta) and sanitized, its tool calls as activities — live, in `smith show
//! --tools`, in its transcript (`smith logs`, rendered and raw); `smith watch` from other clients,
//! a watcher that stops reading never slows the request; `smith status` shows the call a task runs.

use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::Value;
use smith::protocol::{
    Ask, AskSpec, Event, Request, RequestStatus, RequestSummary, Response, ToolActivity, WatchQuery,
};

use crate::support::approvals::json_of;
use crate::support::daemon::{Daemon, output_of, stderr, stdout};
use crate::support::eventually_sync;
use crate::support::wire::{handshaken, read_response, send};

/// Runs `prompt` through a raw client; every event it heard, and the summary.
pub fn ask_events(d: &Daemon, session: &str, prompt: &str) -> (Vec<Event>, RequestSummary) {
    let mut s = handshaken(&d.socket());
    send(
        &mut s,
        &Request::Ask(Ask {
            spec: AskSpec {
                session: session.into(),
                prompt: prompt.into(),
                cwd: d.work(),
                ..AskSpec::default()
            },
            detach: false,
        }),
    );
    events_until_finished(&mut s)
}

fn events_until_finished(s: &mut UnixStream) -> (Vec<Event>, RequestSummary) {
    let mut events = Vec::new();
    loop {
        match read_response(s) {
            Some(Response::Event(e)) => events.push(e),
            Some(Response::Finished(summary)) => return (events, summary),
            other => panic!("unexpected {other:?} after {events:?}"),
        }
    }
}

/// The tool calls' activities the events reported (starts and ends), in order.
pub fn tool_activities(events: &[Event]) -> Vec<ToolActivity> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TaskTool { activity, .. } => Some(activity.clone()),
            _ => None,
        })
        .collect()
}

/// The text events' texts, in order.
pub fn texts(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TaskText { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn text_and_tool_calls_stream_live_and_are_listed_and_logged() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let (events, summary) = ask_events(
        &d,
        "main",
        "[[sh:echo hello-tool]] [[sh:echo broken >&2; exit 3]] [[deltas:300]]",
    );
    assert_eq!(summary.status, RequestStatus::Succeeded, "{summary:?}");
    // The text as written: every delta, in order, in far fewer events.
    let text = texts(&events);
    let expected: String = (0..300).map(|i| format!("d{i} ")).collect();
    assert_eq!(text.concat(), expected);
    assert!(text.len() < 30, "{} text events for 300 deltas", text.len());
    // Each tool call: started, then ended with its duration (and the failed one's error).
    let tools = tool_activities(&events);
    assert_eq!(tools.len(), 4, "{tools:?}");
    assert_eq!(tools[0].input, "echo hello-tool");
    assert_eq!(tools[0].duration_ms, None);
    assert!(tools[1].duration_ms.is_some() && tools[1].error.is_none());
    assert_eq!(tools[3].error.as_deref(), Some("EXIT 3"), "{tools:?}");

    let id = summary.request_id.as_str();
    let show = json_of(&d, &["show", "--json", id]);
    let listed = show["tools"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{show}");
    assert_eq!(listed[0]["task_id"], "t1");
    assert_eq!(listed[0]["activity"]["tool"], "Bash");
    assert!(listed[0]["activity"]["duration_ms"].as_u64().is_some());
    assert_eq!(listed[1]["activity"]["error"], "EXIT 3");
    let table = stdout(&d.smith(&["show", "--tools", id]));
    assert!(
        table.contains("echo hello-tool") && table.contains("✗ EXIT 3"),
        "{table}"
    );

    let logs = d.smith(&["logs", id, "t1"]);
    let logs = stdout(&logs);
    assert!(logs.contains("▸ Bash: echo hello-tool"), "{logs}");
    assert!(
        logs.contains("← EXIT 0") && logs.contains("✗ EXIT 3"),
        "{logs}"
    );
    assert!(
        logs.contains("d0 d1 d2") && logs.contains("ended (success)"),
        "{logs}"
    );
    let raw = stdout(&d.smith(&["logs", "--raw", id, "t1"]));
    let lines: Vec<Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["subtype"], "init", "{raw}");
    assert_eq!(lines.last().unwrap()["type"], "result");
    assert!(
        lines.iter().all(|l| l["type"] != "stream_event"),
        "the partial messages' lines are not kept"
    );
    let none = d.smith(&["logs", id, "t1", "--attempt", "4"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stderr(&none).contains("there is no attempt 4"),
        "{}",
        stderr(&none)
    );
    let unknown = d.smith(&["logs", id, "t7"]);
    assert!(
        stderr(&unknown).contains("its tasks: t1"),
        "{}",
        stderr(&unknown)
    );
    d.stop_in_process().unwrap();
}

#[test]
fn an_escape_sequence_in_worker_text_is_not_passed_through() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let prompt = "[[text:plain \\e[31mred\\e[0m \\e]0;owned\\a done]]";
    let (events, summary) = ask_events(&d, "main", prompt);
    let text = texts(&events).concat();
    assert!(text.contains("red") && text.contains("done"), "{text:?}");
    assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    let logs = stdout(&d.smith(&["logs", &summary.request_id, "t1"]));
    assert!(logs.contains("red") && !logs.contains('\x1b'), "{logs:?}");
    // What `ask --follow` writes (off a terminal: the text as it comes) is clean too.
    let out = d.smith(&["ask", "--follow", "t1", prompt]);
    let followed = stderr(&out);
    assert!(
        followed.contains("red") && !followed.contains('\x1b'),
        "{followed:?}"
    );
    d.stop_in_process().unwrap();
}

#[test]
fn watchers_attach_from_other_clients_and_a_stalled_one_does_not_slow_the_request() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let nothing = d.smith(&["watch", "--session", "w"]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(
        stderr(&nothing).contains("no request running or queued"),
        "{}",
        stderr(&nothing)
    );

    let out = d.smith(&[
        "ask",
        "--detach",
        "--session",
        "w",
        "[[sh:sleep 0.5]] [[deltas:20000]]",
    ]);
    let id = stdout(&out).trim().to_string();
    // A watcher that never reads.
    let mut stalled = handshaken(&d.socket());
    send(
        &mut stalled,
        &Request::Watch(WatchQuery {
            request_id: Some(id.clone()),
            session: "w".into(),
        }),
    );
    // Two that do: by session, and by id through a raw client.
    let by_session = d.smith_child(&["watch", "--json", "--session", "w"]);
    let mut by_id = handshaken(&d.socket());
    send(
        &mut by_id,
        &Request::Watch(WatchQuery {
            request_id: Some(id.clone()),
            session: "ignored".into(),
        }),
    );
    let (events, summary) = events_until_finished(&mut by_id);
    assert_eq!(summary.status, RequestStatus::Succeeded);
    assert!(
        matches!(events.first(), Some(Event::Accepted { request_id, .. }) if *request_id == id),
        "a watcher first hears where the request stands: {events:?}"
    );
    assert!(events.iter().any(|e| matches!(e, Event::TaskTool { .. })));
    let out = output_of(by_session);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["request_id"], id.as_str());
    // The request ended while one watcher read nothing at all.
    let show = json_of(&d, &["show", "--json", &id]);
    assert_eq!(show["request"]["status"], "succeeded");
    drop(stalled);
    // A late watcher of a request that ended is told where to look.
    let late = d.smith(&["watch", &id]);
    assert!(
        stderr(&late).contains(&format!("smith show {id}")),
        "{}",
        stderr(&late)
    );
    assert!(
        eventually_sync(Duration::from_secs(5), || d
            .smith(&["health"])
            .status
            .success()
            .then_some(()))
        .is_some()
    );
    d.stop_in_process().unwrap();
}

#[test]
fn status_shows_the_tool_call_a_task_runs_now() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let client = d.smith_child(&["ask", "--json", "[[sh:sleep 3]]"]);
    let status = eventually_sync(Duration::from_secs(20), || {
        let s = json_of(&d, &["status", "--json"]);
        let running = s["sessions"][0]["current"]["tasks"][0]["tools"]
            .as_array()?
            .len();
        (running == 1).then_some(s)
    })
    .expect("the running call is listed");
    let task = &status["sessions"][0]["current"]["tasks"][0];
    assert_eq!(task["tools"][0]["tool"], "Bash", "{task}");
    assert_eq!(task["tools"][0]["input"], "sleep 3", "{task}");
    assert!(task["node"].is_null(), "it runs here: {task}");
    let text = stdout(&d.smith(&["status"]));
    assert!(text.contains("▸ Bash: sleep 3 · "), "{text}");
    let out = output_of(client);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Once it ended, nothing runs.
    let s = json_of(&d, &["status", "--json"]);
    assert!(s["sessions"][0]["current"].is_null(), "{s}");
    d.stop_in_process().unwrap();
}

#[test]
fn a_watcher_attaching_mid_attempt_hears_the_text_written_before() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let out = d.smith(&[
        "ask",
        "--detach",
        "--session",
        "late",
        "[[deltas:150]] [[rate:100]]",
    ]);
    let id = stdout(&out).trim().to_string();
    let watch = || {
        let mut s = handshaken(&d.socket());
        send(
            &mut s,
            &Request::Watch(WatchQuery {
                request_id: Some(id.clone()),
                session: "late".into(),
            }),
        );
        s
    };
    // The first watcher reads until some text came.
    let mut early = watch();
    loop {
        match read_response(&mut early) {
            Some(Response::Event(Event::TaskText { .. })) => break,
            Some(Response::Event(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut late = watch();
    let (events, summary) = events_until_finished(&mut late);
    assert_eq!(summary.status, RequestStatus::Succeeded);
    let text = texts(&events);
    let expected: String = (0..150).map(|i| format!("d{i} ")).collect();
    assert!(text[0].starts_with("d0 d1 "), "{text:?}");
    assert_eq!(text.concat(), expected, "what came before, then the rest");
    d.stop_in_process().unwrap();
}
