//! `smith repl` on a pseudo-terminal (rexpect): the prompt, an ask with its live line and its
//! answer, `/status` (typed, and completed with Tab), an approval answered inline, Ctrl-C cancelling a running request after a
//! confirmation, Ctrl-D leaving, the history kept across runs; and over a pipe, one ask per line.

use std::path::Path;
use std::process::{Command, Stdio};

use rexpect::reader::Options;
use rexpect::session::{PtySession, spawn_with_options};

use crate::support::daemon::{Daemon, smith_bin, stderr, stdout};

const ASKS: &str = "[permissions]\nmode = \"stdio\"\npreset = \"workspace-write\"\n";

fn repl(d: &Daemon, history: &Path) -> PtySession {
    let mut cmd = Command::new(smith_bin());
    cmd.args(["repl", "--history"])
        .arg(history)
        .env("SMITH_SOCKET", d.socket())
        .env("TERM", "xterm")
        .current_dir(d.work());
    let options = Options::new()
        .timeout_ms(Some(20_000))
        .strip_ansi_escape_codes(true);
    spawn_with_options(cmd, options).expect("smith repl starts on a pty")
}

#[test]
fn a_person_asks_approves_cancels_and_leaves_and_the_history_stays() {
    let mut d = Daemon::new(ASKS);
    d.start_in_process();
    let history = d.root().join("state/repl_history");
    let mut p = repl(&d, &history);
    p.exp_string("/help lists the commands").unwrap();
    p.exp_string("main> ").unwrap();

    // An ask: its live line, then its answer.
    p.send_line("hello from the pty").unwrap();
    p.exp_string("completed").unwrap();
    p.exp_string("ECHO:").unwrap();
    p.exp_string("hello from the pty").unwrap();
    p.exp_string("main> ").unwrap();

    p.send_line("/status").unwrap();
    p.exp_string("rate limit gate open").unwrap();
    p.exp_string("main> ").unwrap();
    // Tab completes a command's name.
    p.send("/stat\t").unwrap();
    p.flush().unwrap();
    p.exp_string("/status").unwrap();
    p.send_line("").unwrap();
    p.exp_string("rate limit gate open").unwrap();
    p.exp_string("main> ").unwrap();

    // A worker asks for a tool call: the question inline, answered here.
    p.send_line("[[ask:touch made-here]]").unwrap();
    p.exp_string("allow once [y]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("ALLOWED").unwrap();
    p.exp_string("main> ").unwrap();
    assert!(d.work().join("made-here").exists());

    // Ctrl-C while a request runs: asked first, then cancelled.
    p.send_line("[[sleep:30000]] long one").unwrap();
    p.exp_string("running").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("cancel r-").unwrap();
    p.send_line("y").unwrap();
    p.exp_string("cancelled").unwrap();
    p.exp_string("main> ").unwrap();

    // Ctrl-D leaves.
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();

    // The history is there in the next run: the up arrow brings the last entry back.
    let mut p = repl(&d, &history);
    p.exp_string("main> ").unwrap();
    p.send("\x1b[A").unwrap();
    p.flush().unwrap();
    p.exp_string("[[sleep:30000]] long one").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("main> ").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    // `smith` alone on a terminal is the REPL too.
    let mut cmd = Command::new(smith_bin());
    cmd.env("SMITH_SOCKET", d.socket())
        .env("XDG_STATE_HOME", d.root().join("state-alone"))
        .env("TERM", "xterm");
    let mut alone = spawn_with_options(cmd, Options::new().timeout_ms(Some(20_000))).unwrap();
    alone.exp_string("main> ").unwrap();
    alone.send_control('d').unwrap();
    alone.exp_eof().unwrap();
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(
        saved.contains("hello from the pty") && saved.contains("/status"),
        "{saved}"
    );
    assert!(
        !saved.lines().any(|l| l == "y"),
        "answers are not history: {saved}"
    );
    d.stop_in_process().unwrap();
}

#[test]
fn over_a_pipe_each_line_is_an_ask_with_plain_output() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let out = d.smith_with_stdin(
        &["repl", "--session", "scripted"],
        b"first question\n\n/plan\n/plan\nsecond \\\nquestion\n/nonsense\n/tasks\nalpha\nbeta\n\nfan out\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answers = stdout(&out);
    assert!(
        answers.contains("## Current request\nfirst question"),
        "{answers}"
    );
    // A line ending with a backslash goes on on the next: one ask of two lines.
    assert!(
        answers.contains("## Current request\nsecond \nquestion"),
        "{answers}"
    );
    assert!(!answers.contains('\x1b'), "plain output: {answers:?}");
    assert!(
        stderr(&out).contains("no command /nonsense"),
        "{}",
        stderr(&out)
    );
    let history = d.smith(&["history", "scripted", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&history)).unwrap();
    let requests = v.as_array().unwrap();
    assert_eq!(requests.len(), 3, "three asks: {v}");
    // `/tasks` gave the last one its tasks.
    let last = requests[2]["id"].as_str().unwrap();
    let show: serde_json::Value =
        serde_json::from_str(&stdout(&d.smith(&["show", "--json", last]))).unwrap();
    let names: Vec<&str> = show["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["instruction"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta"], "{show}");
    // `smith` alone over a pipe is not the REPL: it says how it is used.
    let alone = Command::new(smith_bin())
        .env("SMITH_SOCKET", d.socket())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(64));
    d.stop_in_process().unwrap();
}
