//! The control protocol: every Request and Response round trips; garbage, an oversized length,
//! a truncated frame, a wrong version and a silent client each get a clear error or a closed
//! connection while smithd keeps serving others; a client of another uid is refused.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use smith::protocol::{
    Accepted, Ask, CancelRequest, ClippedText, Done, ErrorKind, ErrorReply, HealthQuery,
    HealthReply, Hello, HistoryQuery, HistoryReply, PROTOCOL_VERSION, ReadLimits, Request,
    Response, ResumeRequest, ServiceStatus, SessionList, SessionsQuery, ShowQuery, ShowReply,
    ShutdownRequest, StatusQuery, TextChunk, TextPart, TextQuery, Welcome, frame::encode,
    read_frame,
};
use smith::session::{RequestEvent, RequestSpec, RequestSummary, TaskSummary};
use smith::store::{
    AttemptRecord, RequestDetail, RequestRecord, RequestStatus, SessionSummary, TaskKind,
    TaskRecord, TaskStatus,
};
use smith::supervisor::{Strategy, SupervisorState, SupervisorStatus};
use support::daemon::{Daemon, stderr};
use support::wire::{connect, read_response};

async fn round_trip<T>(value: T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = encode(&value).unwrap();
    let mut r = &bytes[..];
    let back: T = read_frame(&mut r, ReadLimits::bytes(1 << 20))
        .await
        .unwrap();
    assert_eq!(back, value);
}

fn summary() -> RequestSummary {
    RequestSummary {
        request_id: "r-1".into(),
        session: "main".into(),
        status: RequestStatus::Degraded,
        reason: Some("budget_exceeded".into()),
        answer: "## 1. a\n\nA".into(),
        cost_usd: 0.5,
        tasks: vec![TaskSummary {
            id: "t1".into(),
            name: "a".into(),
            status: TaskStatus::Succeeded,
            attempts: 2,
            exit_reason: Some("completed".into()),
            cost_usd: 0.5,
            output: Some("A".into()),
            detail: None,
            hint: None,
        }],
    }
}

fn record() -> RequestRecord {
    RequestRecord {
        id: "r-1".into(),
        session: "main".into(),
        seq: 1,
        prompt: "p".into(),
        spec_json: "{}".into(),
        status: RequestStatus::Succeeded,
        reason: None,
        answer: Some("a".into()),
        answer_mode: Some("deterministic".into()),
        answer_note: None,
        cost_usd: 0.0,
        created_at: 1,
        started_at: Some(2),
        finished_at: Some(3),
    }
}

#[tokio::test]
async fn every_request_and_response_round_trips() {
    round_trip(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_version: "0.1.0".into(),
        traceparent: Some("00-aa-bb-01".into()),
    })
    .await;
    let spec = RequestSpec {
        session: "main".into(),
        prompt: "p".into(),
        tasks: vec!["a".into(), "b".into()],
        plan: false,
        synthesize: true,
        strategy: Some(Strategy::RestForOne),
        restart: Some(smith::supervisor::Restart::Temporary),
        max_restarts: Some(2),
        within: Some(Duration::from_secs(60)),
        timeout: Some(Duration::from_millis(1500)),
        budget_usd: Some(1.5),
        cwd: PathBuf::from("/tmp"),
        model: Some("sonnet".into()),
        traceparent: None,
    };
    for r in [
        Request::Ask(Ask { spec, detach: true }),
        Request::Status(StatusQuery {}),
        Request::Sessions(SessionsQuery {}),
        Request::History(HistoryQuery {
            session: "main".into(),
            before: Some(7),
            limit: 20,
        }),
        Request::Prune(smith::protocol::PruneRequest {}),
        Request::Text(TextQuery {
            request_id: "r-1".into(),
            part: TextPart::TaskOutput(2),
            offset: 5,
        }),
        Request::Show(ShowQuery {
            request_id: "r-1".into(),
        }),
        Request::Cancel(CancelRequest {
            request_id: "r-1".into(),
        }),
        Request::Resume(ResumeRequest {
            request_id: "r-1".into(),
            detach: false,
        }),
        Request::Health(HealthQuery {}),
        Request::Shutdown(ShutdownRequest {}),
    ] {
        round_trip(r).await;
    }
    let sup = SupervisorStatus {
        id: "service".into(),
        strategy: Strategy::RestForOne,
        state: SupervisorState::Running,
        restarts_in_window: 0,
        total_restarts: 1,
        children: vec![],
    };
    let events = [
        RequestEvent::Accepted {
            request_id: "r".into(),
            session: "s".into(),
            position: 1,
        },
        RequestEvent::Started {
            request_id: "r".into(),
        },
        RequestEvent::Planned {
            tasks: vec![("t1".into(), "a".into())],
        },
        RequestEvent::TaskQueued {
            task_id: "t1".into(),
        },
        RequestEvent::TaskStarted {
            task_id: "t1".into(),
            attempt: 2,
            pid: 7,
            resumed: Some("s".into()),
        },
        RequestEvent::TaskProgress {
            task_id: "t1".into(),
            text: "x".into(),
            tools: vec!["Bash".into()],
        },
        RequestEvent::TaskApiRetry {
            task_id: "t1".into(),
            status: Some(529),
            attempt: 1,
        },
        RequestEvent::TaskFinished {
            task_id: "t1".into(),
            attempt: 1,
            reason: "api_error(529)".into(),
            retryable: true,
            cost_usd: 0.1,
            detail: Some("API Error: 529".into()),
            hint: None,
        },
        RequestEvent::Lagged { dropped: 7 },
        RequestEvent::Finished(summary()),
    ];
    let mut responses: Vec<Response> = events.into_iter().map(Response::Event).collect();
    responses.extend([
        Response::Welcome(Welcome {
            protocol_version: 1,
            server_version: "0.1.0".into(),
        }),
        Response::Error(ErrorReply {
            kind: ErrorKind::NotFound,
            message: "no".into(),
        }),
        Response::Accepted(Accepted {
            request_id: "r".into(),
        }),
        Response::Finished(summary()),
        Response::Status(ServiceStatus {
            version: "0.1.0".into(),
            pid: 1,
            uptime_secs: 2.5,
            root: sup.clone(),
            sessions_supervisor: Some(sup),
            sessions: vec![],
            max_concurrent_tasks: 8,
            running_tasks: 0,
        }),
        Response::Sessions(SessionList {
            sessions: vec![SessionSummary {
                name: "main".into(),
                created_at: 1,
                requests: 2,
                last_activity: Some(3),
            }],
        }),
        Response::History(HistoryReply {
            session: "main".into(),
            requests: vec![record()],
            older: true,
            clipped: vec![ClippedText {
                request_id: "r-1".into(),
                part: TextPart::Answer,
                total_bytes: 9,
            }],
        }),
        Response::Pruned(smith::store::PruneReport {
            requests: 3,
            bytes_freed: 4096,
        }),
        Response::Text(TextChunk {
            part: TextPart::Prompt,
            offset: 0,
            total_bytes: 3,
            text: "abc".into(),
        }),
        Response::Show(ShowReply {
            clipped: vec![],
            detail: RequestDetail {
                request: record(),
                tasks: vec![TaskRecord {
                    request_id: "r-1".into(),
                    idx: 0,
                    kind: TaskKind::Work,
                    id: "t1".into(),
                    name: "a".into(),
                    instruction: "i".into(),
                    status: TaskStatus::Failed,
                    exit_reason: Some("crashed".into()),
                    attempts: 3,
                    output: None,
                    cost_usd: 0.0,
                    claude_session_id: Some("s".into()),
                }],
                attempts: vec![AttemptRecord {
                    request_id: "r-1".into(),
                    pid: Some(9),
                    process_start_time: Some(1),
                    ..AttemptRecord::default()
                }],
            },
        }),
        Response::Done(Done {
            message: "ok".into(),
        }),
        Response::Health(HealthReply {
            version: "0.1.0".into(),
            uptime_secs: 1.0,
            pid: 2,
            warnings: vec!["agent.program \"claude\" is not found".into()],
        }),
    ]);
    for r in responses {
        round_trip(r).await;
    }
}

fn started() -> Daemon {
    let mut d = Daemon::new("");
    d.start();
    d
}

fn closed(s: &mut UnixStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn garbage_bytes_get_an_error_and_a_closed_connection() {
    let d = started();
    let mut s = connect(&d.socket());
    s.write_all(&[0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x00])
        .unwrap();
    match read_response(&mut s) {
        Some(Response::Error(e)) => {
            assert_eq!(e.kind, ErrorKind::BadRequest);
            assert!(e.message.contains("bad handshake"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(closed(&mut s));
    d.assert_serving();
}

#[test]
fn an_oversized_length_is_refused_before_allocating() {
    let d = started();
    let mut s = connect(&d.socket());
    s.write_all(&u32::MAX.to_be_bytes()).unwrap();
    match read_response(&mut s) {
        Some(Response::Error(e)) => {
            assert!(e.message.contains("exceeds the limit"), "{}", e.message)
        }
        other => panic!("{other:?}"),
    }
    assert!(closed(&mut s));
    d.assert_serving();
}

#[test]
fn a_truncated_frame_closes_only_that_connection() {
    let d = started();
    let mut s = connect(&d.socket());
    s.write_all(&[0, 0, 0, 100, 1, 2, 3]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    match read_response(&mut s) {
        Some(Response::Error(e)) => {
            assert!(e.message.contains("middle of a frame"), "{}", e.message)
        }
        None => {}
        other => panic!("{other:?}"),
    }
    d.assert_serving();
}

#[test]
fn a_wrong_protocol_version_gets_a_clear_error() {
    let d = started();
    let mut s = connect(&d.socket());
    let hello = encode(&Hello {
        protocol_version: PROTOCOL_VERSION + 41,
        client_version: "9.9.9".into(),
        traceparent: None,
    })
    .unwrap();
    s.write_all(&hello).unwrap();
    match read_response(&mut s) {
        Some(Response::Error(e)) => {
            assert_eq!(e.kind, ErrorKind::Version);
            assert!(
                e.message
                    .contains(&format!("protocol version {PROTOCOL_VERSION}"))
                    && e.message.contains("9.9.9"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(closed(&mut s));
    d.assert_serving();
}

#[test]
fn a_silent_client_is_disconnected_after_the_handshake_timeout() {
    let d = started();
    let mut s = connect(&d.socket());
    let t0 = std::time::Instant::now();
    match read_response(&mut s) {
        Some(Response::Error(e)) => {
            assert!(e.message.contains("no handshake in time"), "{}", e.message)
        }
        other => panic!("{other:?}"),
    }
    assert!(closed(&mut s));
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    d.assert_serving();
}

#[test]
fn many_clients_at_once_are_all_served() {
    let d = started();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let socket = d.socket();
            std::thread::spawn(move || {
                std::process::Command::new(support::daemon::smith_bin())
                    .args(["health"])
                    .env("SMITH_SOCKET", socket)
                    .output()
                    .unwrap()
                    .status
                    .code()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Some(0));
    }
}

#[test]
fn a_client_of_another_uid_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !nix::unistd::getuid().is_root() {
        eprintln!("not root: cannot arrange a client of another uid; skipped");
        return;
    }
    let d = started();
    // Open the path so that only the uid check stands in the way.
    for dir in [
        d.root().to_path_buf(),
        d.socket().parent().unwrap().to_path_buf(),
    ] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(d.socket(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut ancestors = support::daemon::smith_bin();
    while ancestors.pop() {
        if let Ok(meta) = std::fs::metadata(&ancestors)
            && meta.permissions().mode() & 0o001 == 0
        {
            eprintln!(
                "{} is not reachable by other users; skipped",
                ancestors.display()
            );
            return;
        }
    }
    let out = std::process::Command::new(support::daemon::smith_bin())
        .arg("health")
        .env("SMITH_SOCKET", d.socket())
        .current_dir("/")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let msg = stderr(&out);
    assert!(msg.contains("smithd serves only uid 0"), "{msg}");
    assert!(
        d.log().contains("refused a client of another user"),
        "{}",
        d.log()
    );
    d.assert_serving();
}
