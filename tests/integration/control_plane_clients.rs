//! The control plane under hostile or careless local clients: frames that stall half-way,
//! clients that never speak or stop reading, replies larger than a client accepts (pages, clipped
//! texts), a huge `--timeout`, a socket path that holds something else or a directory of another
//! user — smithd never stalls for others and answers `health` afterwards.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::support::daemon::{Daemon, run_bounded, stderr, stdout};
use crate::support::wire::{closed, handshaken, read_response, send};
use smith::protocol::{Ask, AskSpec, ErrorKind, Request, Response};

#[test]
fn a_frame_that_begins_and_stalls_is_closed_at_the_frame_deadline() {
    // The default frame_timeout (10s) would work too; a short one keeps the test fast.
    let mut d = Daemon::new("");
    d.env
        .push(("SMITH_SERVICE__FRAME_TIMEOUT".into(), "300ms".into()));
    d.start();
    let mut s = handshaken(&d.socket());
    // Announce 1 MiB, send a little, stall (the idle limit is 5 minutes).
    s.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
    s.write_all(&[0u8; 100]).unwrap();
    let t0 = Instant::now();
    match read_response(&mut s) {
        Some(Response::Error(e)) => {
            assert!(e.message.contains("did not complete"), "{}", e.message)
        }
        other => panic!("{other:?}"),
    }
    assert!(closed(&mut s));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    d.assert_serving();
}

#[test]
fn idle_clients_give_their_slots_to_health_and_status() {
    let mut d = Daemon::new("");
    d.env
        .push(("SMITH_SERVICE__MAX_CLIENTS".into(), "4".into()));
    d.start();
    // An attacker keeps every slot held by silent clients (after the handshake, so the handshake
    // deadline does not free them), refilling after each eviction.
    let mut idle: Vec<_> = Vec::new();
    for round in 0..3 {
        while idle.len() < 4 + round {
            idle.push(handshaken(&d.socket()));
        }
        d.assert_serving();
    }
    assert_eq!(d.smith(&["status"]).status.code(), Some(0));
    // The longest waiting ones were told why they were closed.
    let mut made_room = 0;
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Some(Response::Error(e)) = read_response(s) {
            assert_eq!(e.kind, ErrorKind::Busy);
            assert!(e.message.contains("idle"), "{}", e.message);
            made_room += 1;
        }
    }
    assert!(
        made_room >= 3,
        "only {made_room} idle connections were closed for room"
    );
    // The oldest went first.
    assert!(closed(&mut idle[0]));
}

#[test]
fn a_client_that_stops_reading_loses_its_connection_not_smithd_its_slots() {
    let mut d = Daemon::new("");
    d.env
        .push(("SMITH_SERVICE__MAX_CLIENTS".into(), "2".into()));
    d.env
        .push(("SMITH_SERVICE__WRITE_TIMEOUT".into(), "300ms".into()));
    d.start();
    // A request with a large answer (the stand-in echoes its prompt).
    let big = "x".repeat(3 << 19);
    let out = d.smith(&["ask", "--session", "big", &big[..100]]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut bigs = Vec::new();
    for _ in 0..2 {
        let mut s = handshaken(&d.socket());
        send(
            &mut s,
            &Request::Ask(Ask {
                spec: AskSpec {
                    session: "big".into(),
                    prompt: big.clone(),
                    cwd: d.work(),
                    ..AskSpec::default()
                },
                detach: false,
            }),
        );
        bigs.push(s);
        // Let smithd take the whole request before another client comes (a connection still
        // sending its frame is one that may be closed to make room).
        let t0 = Instant::now();
        while d.log().matches("request accepted").count() < 1 + bigs.len()
            && t0.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Neither reads its multi-megabyte reply: each is disconnected at the write deadline, and
    // the slots come back.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if d.smith(&["health"]).status.success() && d.log().matches("connection ended").count() >= 2
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        d.log().matches("connection ended").count() >= 2,
        "the stalled clients were not disconnected:\n{}",
        d.log()
    );
    d.assert_serving();
    // Their requests finished anyway (the client went away, not the request).
    let history = stdout(&d.smith(&["history", "big"]));
    assert_eq!(history.matches("succeeded").count(), 3, "{history}");
}

#[test]
fn history_comes_in_pages_and_show_clips_long_texts_with_a_way_to_the_whole() {
    let mut d = Daemon::new("");
    d.start();
    for n in 0..3 {
        let out = d.smith(&["ask", "--session", "pages", &format!("question {n}")]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let page = stdout(&d.smith(&["history", "pages", "--limit", "2"]));
    assert!(
        page.contains("question 1") && page.contains("question 2"),
        "{page}"
    );
    assert!(!page.contains("question 0"), "{page}");
    assert!(page.contains("--before 2"), "{page}");
    let older = stdout(&d.smith(&["history", "pages", "--limit", "2", "--before", "2"]));
    assert!(
        older.contains("question 0") && !older.contains("question 1"),
        "{older}"
    );

    // An answer of 100 KB: clipped and marked in `show`, whole with --full.
    let long = format!("start {} end", "y".repeat(100_000));
    let out = d.smith(&["ask", "--session", "long", "--json", &long]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = stdout(&d.smith(&["show", &id]));
    assert!(
        shown.contains("clipped") && shown.contains("--full"),
        "{}",
        &shown[..500]
    );
    // Prompt and answer, 100 KB each, are shown clipped to 64 KiB each.
    assert!(shown.len() < 2 * 66_000, "{}", shown.len());
    let full = stdout(&d.smith(&["show", &id, "--full", "--json"]));
    let full: serde_json::Value = serde_json::from_str(&full).unwrap();
    let answer = full["request"]["answer"].as_str().unwrap();
    assert!(
        answer.contains(&long),
        "the whole answer ({} bytes)",
        answer.len()
    );
    assert_eq!(full["clipped"].as_array().unwrap().len(), 0);
}

#[test]
fn a_timeout_beyond_any_sensible_bound_is_refused_and_creates_no_session() {
    let mut d = Daemon::new("");
    d.start();
    for _ in 0..5 {
        let out = d.smith(&[
            "ask",
            "--session",
            "absurd",
            "--timeout",
            "30000000years",
            "hi",
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("--timeout") && err.contains("longest duration"),
            "{err}"
        );
        let out = d.smith(&["ask", "--session", "bad name!", "hi"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    let status = stdout(&d.smith(&["status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["sessions"].as_array().unwrap().len(),
        0,
        "{status:#}"
    );
    assert_eq!(
        status["sessions_supervisor"]["children"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "{status:#}"
    );
}

#[test]
fn only_a_dead_socket_is_removed_and_a_shared_directory_is_never_chmod_ed() {
    // A regular file at the socket path stays, and smithd says why it cannot start.
    let mut d = Daemon::new("");
    std::fs::create_dir_all(d.socket().parent().unwrap()).unwrap();
    std::fs::set_permissions(
        d.socket().parent().unwrap(),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::fs::write(d.socket(), "precious").unwrap();
    let status = start_expecting_failure(&mut d);
    assert!(status.contains("not a socket"), "{status}");
    assert_eq!(std::fs::read_to_string(d.socket()).unwrap(), "precious");

    // A directory others may write to is refused, and left as it was.
    let mut d = Daemon::new("");
    let dir = d.socket().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let status = start_expecting_failure(&mut d);
    assert!(status.contains("writable by others"), "{status}");
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o777);

    // A stale socket (nobody answers) is removed and smithd starts.
    let mut d = Daemon::new("");
    std::fs::create_dir_all(d.socket().parent().unwrap()).unwrap();
    std::fs::set_permissions(
        d.socket().parent().unwrap(),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    drop(std::os::unix::net::UnixListener::bind(d.socket()).unwrap());
    d.start();
    d.assert_serving();
}

#[test]
fn a_socket_directory_of_another_user_is_refused() {
    let mut d = Daemon::new("");
    let dir = d.socket().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let me = nix::unistd::getuid().as_raw();
    let other = if me == 0 { 65534 } else { 0 };
    if me == 0 {
        std::os::unix::fs::chown(&dir, Some(other), None).unwrap();
    } else {
        // Not root: a directory we do not own is one root owns.
        d.env.push((
            "SMITH_SERVICE__SOCKET".into(),
            "/usr/share/smith-test.sock".into(),
        ));
    }
    let status = start_expecting_failure(&mut d);
    assert!(
        status.contains(&format!("belongs to uid {other}")),
        "{status}"
    );
}

/// Starts smithd where it must refuse to start; returns its log.
fn start_expecting_failure(d: &mut Daemon) -> String {
    let out = run_bounded(
        std::process::Command::new(crate::support::daemon::smithd_bin())
            .arg("--config")
            .arg(d.config_path())
            .env_remove("RUST_LOG")
            .envs(d.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null()),
    );
    assert!(!out.status.success(), "smithd started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
