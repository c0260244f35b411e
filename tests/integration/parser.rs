//! The stream-json parser over every captured output of the real CLI (tests/fixtures/): each file
//! yields the right events and the right outcome class — parsed directly, and replayed through a
//! whole attempt by the stand-in.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::agent::{run, stand_in_config};
use smith::agent::event::ResultEvent;
use smith::agent::outcome::classify;
use smith::agent::{AttemptEvent, OutcomeReason, StopCause, StreamEvent};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude-cli-2.1.332")
        .join(name)
}

fn parse(name: &str) -> Vec<StreamEvent> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| StreamEvent::parse(l).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn kinds(events: &[StreamEvent]) -> Vec<&'static str> {
    events.iter().map(StreamEvent::kind).collect()
}

fn results(events: &[StreamEvent]) -> Vec<&ResultEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Result(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

/// (file, expected kinds, expected outcome of its last result, retryable)
fn cases() -> Vec<(&'static str, Vec<&'static str>, OutcomeReason)> {
    use OutcomeReason::*;
    let api = |n| {
        let mut v = vec!["system/init"];
        v.extend(std::iter::repeat_n("system/api_retry", n));
        v.extend(["assistant", "result"]);
        v
    };
    vec![
        (
            "success.jsonl",
            vec!["system/init", "assistant", "result"],
            Completed,
        ),
        ("api_connection_dropped_recovered.jsonl", api(1), Completed),
        ("api_error_400.jsonl", api(0), ApiError(Some(400))),
        ("api_error_401_auth.jsonl", api(2), ApiError(Some(401))),
        (
            "api_error_429_rate_limited.jsonl",
            api(2),
            ApiError(Some(429)),
        ),
        ("api_error_500.jsonl", api(2), ApiError(Some(500))),
        (
            "api_error_529_overloaded.jsonl",
            api(2),
            ApiError(Some(529)),
        ),
        ("api_malformed_response.jsonl", api(0), ApiError(None)),
        ("api_server_down.jsonl", api(2), ApiError(None)),
        ("api_timeout.jsonl", api(1), ApiError(None)),
        (
            "max_turns_exceeded.jsonl",
            vec!["system/init", "assistant", "user", "result"],
            MaxTurns,
        ),
        (
            "tool_use_bash.jsonl",
            vec!["system/init", "assistant", "user", "assistant", "result"],
            Completed,
        ),
        (
            "sigint_mid_stream.jsonl",
            [
                vec!["system/init", "system/status"],
                vec!["stream_event"; 5],
                vec!["assistant", "user"],
                vec!["stream_event"; 3],
                vec!["result"],
            ]
            .concat(),
            Crashed,
        ),
    ]
}

#[test]
fn every_fixture_parses_into_the_expected_events_and_outcome() {
    for (name, expected_kinds, expected_reason) in cases() {
        let events = parse(name);
        assert_eq!(kinds(&events), expected_kinds, "{name}");
        let last = results(&events).last().copied();
        assert_eq!(classify(last, None), expected_reason, "{name}");
    }
}

#[test]
fn fixture_details_are_typed() {
    let events = parse("success.jsonl");
    let StreamEvent::Init(init) = &events[0] else {
        panic!("init first")
    };
    assert_eq!(init.session_id, "0fe29580-74a0-443c-b4a9-4080a0559b1e");
    assert_eq!(init.model.as_deref(), Some("claude-opus-5-5"));
    assert!(init.tools.contains(&"Bash".to_string()));
    let r = results(&events)[0];
    assert_eq!(r.result.as_deref(), Some("ECHO: say hi"));
    assert_eq!(r.usage.as_ref().unwrap().input_tokens, 2561);
    assert!(r.total_cost_usd > 0.01 && r.total_cost_usd < 0.011);

    let events = parse("tool_use_bash.jsonl");
    let StreamEvent::Assistant(first) = &events[1] else {
        panic!("assistant")
    };
    assert_eq!(first.message.tool_uses(), vec!["Bash"]);

    let events = parse("api_error_500.jsonl");
    let StreamEvent::ApiRetry(retry) = &events[1] else {
        panic!("api_retry")
    };
    assert_eq!(
        (retry.attempt, retry.max_retries, retry.error_status),
        (1, 2, Some(500))
    );
    let StreamEvent::Assistant(synthetic) = &events[3] else {
        panic!("assistant")
    };
    assert_eq!(synthetic.message.model.as_deref(), Some("<synthetic>"));
}

#[test]
fn the_interrupt_fixture_is_cancelled_when_smith_asked_and_the_next_turn_completes() {
    let events = parse("interrupt_control_request.jsonl");
    assert!(events.iter().any(
        |e| matches!(e, StreamEvent::ControlResponse(c) if c.request_id() == Some("req-int-1"))
    ));
    let rs = results(&events);
    assert_eq!(rs.len(), 2);
    assert_eq!(
        classify(Some(rs[0]), Some(StopCause::Cancelled)),
        OutcomeReason::Cancelled
    );
    assert_eq!(rs[0].terminal_reason.as_deref(), Some("aborted_streaming"));
    assert_eq!(classify(Some(rs[1]), None), OutcomeReason::Completed);
}

#[test]
fn three_turns_on_one_stdin_yield_three_completed_results() {
    let events = parse("stream_input_three_turns.jsonl");
    let rs = results(&events);
    let texts: Vec<_> = rs.iter().map(|r| r.result.clone().unwrap()).collect();
    assert_eq!(
        texts,
        [
            "ECHO: hi turn one",
            "ECHO: second turn two",
            "ECHO: third turn three"
        ]
    );
    assert!(
        rs.iter()
            .all(|r| classify(Some(r), None) == OutcomeReason::Completed)
    );
}

#[test]
fn sigterm_mid_stream_has_no_result_and_is_a_crash() {
    let events = parse("sigterm_mid_stream.jsonl");
    assert!(results(&events).is_empty());
    assert_eq!(classify(None, None), OutcomeReason::Crashed);
}

#[tokio::test]
async fn every_fixture_replayed_through_an_attempt_gets_its_outcome_class() {
    let dir = tempfile::tempdir().unwrap();
    let config = stand_in_config(dir.path());
    let mut all = cases();
    all.push(("sigterm_mid_stream.jsonl", vec![], OutcomeReason::Crashed));
    for (name, _, expected) in all {
        let exit = if expected == OutcomeReason::Completed {
            0
        } else {
            1
        };
        let message = format!("[[replay:{}]] [[exit:{exit}]]", fixture(name).display());
        let r = run(config.clone(), dir.path(), &message).await;
        assert_eq!(r.outcome.reason, expected, "{name}: {:?}", r.outcome);
        assert_eq!(r.outcome.exit.unwrap().code, Some(exit), "{name}");
        if expected != OutcomeReason::Crashed {
            assert!(r.outcome.claude_session_id.is_some(), "{name}");
        }
    }
}

/// Mutations of every captured line (bytes flipped, cut, duplicated, numbers made huge, nesting
/// made deep, strings made long): the parser returns an event or an error, never panics.
#[test]
fn mutated_cli_lines_never_panic_the_parser() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-cli-2.1.332");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
    }
    assert!(lines.len() > 50, "{} fixture lines", lines.len());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed = 0;
    for round in 0..6_000 {
        let line = lines[(next() as usize) % lines.len()].clone();
        let mut bytes = line.into_bytes();
        match round % 6 {
            0 => {
                for _ in 0..=(next() % 4) {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
            }
            1 => bytes.truncate((next() as usize) % bytes.len()),
            2 => {
                // A number far beyond any integer type.
                let at = (next() as usize) % bytes.len();
                bytes.splice(at..at, b"1".repeat(400 + (next() % 40) as usize));
            }
            3 => {
                // Deep nesting where a value may stand.
                let depth = 10_000;
                let at = bytes.iter().position(|&b| b == b':').map_or(0, |p| p + 1);
                let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                bytes.splice(at..at, deep.into_bytes());
            }
            4 => {
                let at = (next() as usize) % bytes.len();
                let copy = bytes[at..].to_vec();
                bytes.extend(copy);
            }
            _ => {
                let at = bytes.iter().position(|&b| b == b'"').map_or(0, |p| p + 1);
                bytes.splice(at..at, "é".repeat(50_000).into_bytes());
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if StreamEvent::parse(&text).is_ok() {
            parsed += 1;
        }
    }
    // Some mutations still parse (unknown fields are kept and ignored), most do not.
    assert!(parsed > 0 && parsed < 6_000, "{parsed}");
}

/// The CLI reports `input_tokens` without the cache parts; the whole input counts them.
#[test]
fn the_whole_input_includes_cache_reads_and_writes() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/derived/success_with_cache_tokens.jsonl");
    let events: Vec<StreamEvent> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| StreamEvent::parse(l).unwrap())
        .collect();
    let usage = results(&events)[0].usage.clone().unwrap();
    assert_eq!(usage.input_tokens, 3);
    assert_eq!(usage.cache_read_input_tokens, 24_000);
    assert_eq!(usage.cache_creation_input_tokens, 1_200);
    assert_eq!(usage.total_input(), 25_203);
}

/// A Bash call refused headless (the CLI's side of a real two-way capture): the refusal is typed,
/// and an attempt replaying it reports the call, its input and the CLI's reason — once, though
/// the line and the result's `permission_denials` both name it.
#[tokio::test]
async fn a_headless_refusal_reaches_the_outcome_with_the_call_and_the_reason() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/derived/permission_denied_headless.out.jsonl");
    let events: Vec<StreamEvent> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| StreamEvent::parse(l).unwrap())
        .collect();
    assert!(
        kinds(&events).contains(&"system/permission_denied"),
        "{:?}",
        kinds(&events)
    );
    assert_eq!(results(&events)[0].permission_denials.len(), 1);

    let dir = tempfile::tempdir().unwrap();
    let message = format!("[[replay:{}]] [[exit:0]]", path.display());
    let r = run(stand_in_config(dir.path()), dir.path(), &message).await;
    assert_eq!(
        r.outcome.reason,
        OutcomeReason::Completed,
        "{:?}",
        r.outcome
    );
    assert_eq!(r.outcome.denials.len(), 1, "{:?}", r.outcome.denials);
    let d = &r.outcome.denials[0];
    assert_eq!(
        (d.tool.as_str(), d.input.as_str()),
        ("Bash", "touch made-by-tool.txt")
    );
    assert!(d.message.contains("needs approval"), "{}", d.message);
}

/// A subscription window that is spent (hand-made: a `rate_limit_event` added to a real capture,
/// see tests/fixtures/derived/README.md): the event is typed, an attempt replaying it reports a
/// throttle that runs to the window's reset, and no real answer (the CLI's message is synthetic).
#[tokio::test]
async fn a_rejected_rate_limit_event_is_a_throttle_until_its_reset() {
    use smith::agent::event::RateLimitStatus;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/derived/rate_limit_event_rejected.handmade.jsonl");
    let events: Vec<StreamEvent> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| StreamEvent::parse(l).unwrap())
        .collect();
    let StreamEvent::RateLimit(e) = &events[1] else {
        panic!("{:?}", kinds(&events))
    };
    assert_eq!(e.status, RateLimitStatus::Rejected);
    assert_eq!(e.resets_at, Some(4_102_444_800));
    assert_eq!(e.limit_type.as_deref(), Some("five_hour"));

    let dir = tempfile::tempdir().unwrap();
    let message = format!("[[replay:{}]] [[exit:1]]", path.display());
    let r = run(stand_in_config(dir.path()), dir.path(), &message).await;
    assert_eq!(r.outcome.reason, OutcomeReason::ApiError(Some(429)));
    let throttles: Vec<&smith::governor::Throttle> = r
        .events
        .iter()
        .filter_map(|e| match e {
            AttemptEvent::Throttled(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(throttles.len(), 1, "{:?}", r.events);
    assert!(throttles[0].reset && !throttles[0].warning);
    assert!(
        throttles[0].wait.unwrap() > Duration::from_secs(365 * 24 * 3600),
        "until 2100"
    );
    assert!(!r.events.contains(&AttemptEvent::Answered), "synthetic");
}
