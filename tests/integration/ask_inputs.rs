//! `smith ask` the Unix way: the prompt from stdin (`-`, or no argument with stdin not a
//! terminal), tasks from a file (plain lines, JSON, YAML; errors naming the line), and a failed
//! task's reason with a hint (missing program, directory outside the roots), in the live output
//! and in `--json`; `smith health` warns about a program that is not there.

use std::process::Output;

use crate::support::daemon::{Daemon, stderr, stdout};

fn started() -> Daemon {
    let mut d = Daemon::new("");
    d.start_in_process();
    d
}

fn answer(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn a_long_prompt_comes_from_stdin() {
    let d = started();
    // 500 KB: more than one argument may hold (128 KB).
    let spec = format!("review this spec {}", "s".repeat(500_000));
    let out = d.smith_with_stdin(&["ask", "--json"], spec.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        answer(&out)["answer"]
            .as_str()
            .unwrap()
            .contains("review this spec")
    );
    let out = d.smith_with_stdin(&["ask", "--json", "-"], b"from a dash");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        answer(&out)["answer"]
            .as_str()
            .unwrap()
            .contains("from a dash")
    );
    // Larger than smithd takes: the limit is named.
    let huge = "h".repeat(3 << 20);
    let out = d.smith_with_stdin(&["ask"], huge.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("limits.max_request_bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn tasks_come_from_a_file_in_three_formats() {
    let d = started();
    let cases = [
        ("plan.txt", "write the tests\n\nfix the lint\n"),
        (
            "plan.json",
            r#"["write the tests", {"name": "lint", "instruction": "fix the lint"}]"#,
        ),
        (
            "plan.yaml",
            "- write the tests\n- name: lint\n  instruction: fix the lint\n",
        ),
    ];
    for (file, text) in cases {
        std::fs::write(d.work().join(file), text).unwrap();
        let out = d.smith(&["ask", "--json", "the plan", "--tasks-file", file]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        let v = answer(&out);
        let tasks = v["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 2, "{file}: {v:#}");
        assert_eq!(tasks[0]["name"], "write the tests");
        let second = if file == "plan.txt" {
            "fix the lint"
        } else {
            "lint"
        };
        assert_eq!(tasks[1]["name"], second, "{file}");
    }
    // `-`: the tasks from stdin, the prompt as an argument.
    let out = d.smith_with_stdin(&["ask", "--json", "p", "--tasks-file", "-"], b"one\ntwo\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(answer(&out)["tasks"].as_array().unwrap().len(), 2);
}

#[test]
fn a_bad_tasks_file_names_the_line_and_stdin_cannot_serve_twice() {
    let d = started();
    std::fs::write(d.work().join("bad.json"), "[\"a\",\n {\"name\": \"x\"}]").unwrap();
    let out = d.smith(&["ask", "p", "--tasks-file", "bad.json"]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(err.contains("bad.json") && err.contains("line 2"), "{err}");
    std::fs::write(d.work().join("bad.yaml"), "- a\n- name: [x\n").unwrap();
    let out = d.smith(&["ask", "p", "--tasks-file", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("bad.yaml") && stderr(&out).contains("line"));
    let out = d.smith(&["ask", "p", "--tasks-file", "missing.txt"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("missing.txt"));
    let out = d.smith_with_stdin(&["ask", "-", "--tasks-file", "-"], b"x");
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("not both"), "{}", stderr(&out));
}

#[test]
fn a_missing_program_is_named_with_a_hint_in_ask_json_and_health() {
    let mut d = Daemon::new("");
    d.env
        .push(("SMITH_AGENT__PROGRAM".into(), "/nonexistent/claude".into()));
    d.start();
    let health = stdout(&d.smith(&["health"]));
    assert!(
        health.contains("warning: agent.program") && health.contains("not found"),
        "{health}"
    );
    assert!(d.log().contains("is not found"));
    let out = d.smith(&["ask", "hello"]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("cannot start /nonexistent/claude"), "{text}");
    assert!(
        text.contains("hint:") && text.contains("agent.program"),
        "{text}"
    );
    let out = d.smith(&["ask", "--json", "hello"]);
    let v = answer(&out);
    let task = &v["tasks"][0];
    assert!(
        task["detail"].as_str().unwrap().contains("cannot start"),
        "{v:#}"
    );
    assert!(
        task["hint"].as_str().unwrap().contains("agent.program"),
        "{v:#}"
    );
    let show = stdout(&d.smith(&["show", v["request_id"].as_str().unwrap()]));
    assert!(show.contains("hint:"), "{show}");
}

#[test]
fn a_directory_outside_the_roots_is_named_with_a_hint() {
    let d = started();
    let outside = tempfile::tempdir().unwrap();
    let out = d.smith(&["ask", "--cwd", outside.path().to_str().unwrap(), "hello"]);
    assert_eq!(out.status.code(), Some(1));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("outside the configured roots"), "{text}");
    assert!(
        text.contains("agent.roots") && text.contains("--cwd"),
        "{text}"
    );
}
