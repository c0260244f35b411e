//! `fake-claude`: a scripted stand-in for the `claude` CLI, for tests and the offline demo.
//!
//! It speaks the same stream-json protocol as `claude -p --input-format stream-json
//! --output-format stream-json --verbose` (same JSON shapes as the captured fixtures) and starts
//! in milliseconds. It reads one user message from stdin and behaves as directives in that
//! message (or in `FAKE_CLAUDE_SCRIPT`) tell it; several may be combined:
//!
//! | directive | behaviour |
//! |---|---|
//! | (none) | answer `ECHO: <message>` |
//! | `[[answer:TEXT]]` | answer TEXT |
//! | `[[sleep:MS]]` | wait MS before answering (an interrupt ends the turn) |
//! | `[[slow:MS]]` | stream five assistant messages MS apart (an interrupt ends the turn) |
//! | `[[crash-after-init]]` | print init, then exit 3 without a result |
//! | `[[fail-first:NAME]]` | crash after init unless `$FAKE_CLAUDE_STATE_DIR/NAME` exists; creates it |
//! | `[[throttle-first:NAME]]` | unless `$FAKE_CLAUDE_STATE_DIR/NAME` exists (then it is created): an `api_retry` of a 429 (100 ms), the CLI's synthetic message and an `api_error(429)` result, exit 1 — the API throttled it once |
//! | `[[exit-without-result]]` | print init and an assistant message, then exit 0 |
//! | `[[hang]]` | print init, ignore SIGTERM and interrupts, print nothing more, never exit |
//! | `[[hang-after-result]]` | answer, then ignore stdin closing and SIGTERM: never exit |
//! | `[[garbage]]` | print a line that is not JSON, then answer |
//! | `[[huge:BYTES]]` | print one assistant line of BYTES bytes, then answer |
//! | `[[grandchild]]` | first start `sleep 1000` (it stays in this process group); report `GRANDCHILD <pid>` |
//! | `[[api-error:STATUS]]` | two api_retry lines, then an API error result with that status, exit 1 |
//! | `[[max-turns]]` | an `error_max_turns` result, exit 1 |
//! | `[[cost:USD]]` | report `total_cost_usd` USD |
//! | `[[env]]` | answer with its environment as a JSON object |
//! | `[[args]]` | answer with its arguments as a JSON array |
//! | `[[append:PATH=TEXT]]` | right after init, append the line TEXT to PATH (relative to its cwd; created if missing), like a Write tool call; several may be given |
//! | `[[ask:COMMAND]]` | a Bash call that needs a permission: with `--permission-prompt-tool stdio` a `can_use_tool` control request, answered by the host (allowed: it runs); without, refused headless (`permission_denied`); answer `ALLOWED: …` or `DENIED: …`; several are asked in order |
//! | `[[sh:COMMAND]]` | right after init, run `sh -c COMMAND` like the CLI's Bash tool (in a session of its own; `tool_use` and `tool_result` lines), wait; answer with its exit status and output; several run in order |
//! | `[[deltas:N]]` | answer N pieces (`d0 d1 …`); with `--include-partial-messages`, one `text_delta` each |
//! | `[[rate:N]]` | the answer's pieces are written N a second (with or without the flag, as a model writes them) |
//! | `[[text:TEXT]]` | answer TEXT, control characters allowed (`\e` is ESC, `\a` BEL) |
//! | `[[stderr:TEXT]]` | write TEXT to stderr |
//! | `[[replay:PATH]]` | print the lines of PATH (a captured CLI output) instead, then exit |
//! | `[[exit:CODE]]` | with replay: the exit code (default 0) |
//! | `[[plan:NAME=INSTRUCTION;…]]` | with `--json-schema`: the structured output is that plan |
//!
//! With `--include-partial-messages` every answer is streamed first as `stream_event` lines (word by
//! word, or `[[deltas:N]]`), like the CLI's.
//!
//! `FAKE_CLAUDE_STARTUP_MS=N`: sleep N ms first, before reading stdin (the CLI's start-up).
//! `FAKE_CLAUDE_CRASH_ON=TEXT` in the environment: crash after init when the message contains TEXT.
//! `FAKE_CLAUDE_STAMP=FILE`: append `start <unix ns>` first thing, and `exit <unix ns>` before a
//! crash (benchmarks measure spawn and restart latency with it).
//!
//! | `[[sleep-first:MS]]` | like sleep, but not when resuming |
//!
//! Directives in a smith context slice count only after its `## Current request` heading (the
//! session history before it is quoted, not obeyed). Like the CLI, it remembers a session: the first message of a session, when it has directives, is kept
//! in `$FAKE_CLAUDE_STATE_DIR/session-ID.txt`, and with `--resume ID` the directives of that first
//! message apply again (so a task that crashes keeps crashing after a resume). With `--resume ID`
//! it answers `RESUMED ID: <message>`. With `CLAUDE_CONFIG_DIR` set, it keeps the session as the
//! CLI does, in `$CLAUDE_CONFIG_DIR/projects/<cwd, non-alphanumerics as ->/ID.jsonl` (found by
//! id in any project dir) with a directory `ID/` beside it (`subagents/kept.txt`), and `--resume
//! ID` of a session it does not have ends with "No conversation found with session ID: ID", exit
//! 1; one whose directory is missing answers `RESUMED ID WITHOUT ITS FILES: …`.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

#[path = "fake_claude_stream.rs"]
mod stream;

struct Script {
    directives: Vec<(String, String)>,
    message: String,
}

impl Script {
    fn has(&self, name: &str) -> bool {
        self.directives.iter().any(|(n, _)| n == name)
    }
    fn arg(&self, name: &str) -> Option<&str> {
        self.directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.as_str())
    }
}

fn parse_directives(text: &str) -> (Vec<(String, String)>, String) {
    let mut directives = Vec::new();
    let mut rest = String::new();
    let mut s = text;
    while let Some(start) = s.find("[[") {
        rest.push_str(&s[..start]);
        let Some(end) = s[start..].find("]]") else {
            break;
        };
        let inner = &s[start + 2..start + end];
        let (name, arg) = inner.split_once(':').unwrap_or((inner, ""));
        directives.push((name.trim().to_string(), arg.trim().to_string()));
        s = &s[start + end + 2..];
    }
    rest.push_str(s);
    (directives, rest.trim().to_string())
}

/// Runs `command` as the CLI runs a Bash tool call: `sh -c` in a new session (so it leaves this
/// process group), stdin closed; returns `EXIT <code>` and its output.
fn run_tool_command(command: &str) -> String {
    use std::os::unix::process::CommandExt;
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", command]).stdin(std::process::Stdio::null());
    // SAFETY: setsid(2) in the forked child before exec is async-signal-safe and touches no memory.
    unsafe {
        sh.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    match sh.output() {
        Ok(out) => format!(
            "EXIT {}\n{}{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("cannot run sh: {e}"),
    }
}

fn emit(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn ignore_sigterm() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: installing SIG_IGN runs no handler code; nothing else in this process relies on SIGTERM.
    unsafe {
        let _ = signal(Signal::SIGTERM, SigHandler::SigIgn);
    }
}

fn usage() -> Value {
    json!({"input_tokens": 120, "output_tokens": 8, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 40})
}

fn assistant(session: &str, text: &str) -> Value {
    json!({
        "type": "assistant",
        "message": {"id": "msg_fake", "type": "message", "role": "assistant", "model": "fake-model",
            "content": [{"type": "text", "text": text}], "stop_reason": null, "usage": usage()},
        "parent_tool_use_id": null, "session_id": session,
    })
}

fn result(session: &str, subtype: &str, is_error: bool, text: Option<&str>, extra: Value) -> Value {
    let mut v = json!({
        "type": "result", "subtype": subtype, "is_error": is_error, "duration_ms": 5,
        "num_turns": 1, "result": text, "session_id": session, "total_cost_usd": 0.0,
        "usage": usage(), "terminal_reason": if is_error { "api_error" } else { "completed" },
        "api_error_status": null, "uuid": "fake-result",
    });
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in extra {
            obj.insert(k.clone(), x.clone());
        }
    }
    v
}

/// What further stdin lines said.
enum Input {
    Interrupt(String),
    Control(Value),
    Eof,
}

/// A Bash tool call that needs a permission, like the CLI's: with `--permission-prompt-tool
/// stdio` a `can_use_tool` control request, then the host's answer decides (allowed: the command
/// runs); without it, refused headless with a `permission_denied` line. The tool's result.
fn ask_permission(
    command: &str,
    n: usize,
    session: &str,
    prompt_tool: bool,
    rx: &mpsc::Receiver<Input>,
) -> String {
    let id = format!("toolu_fake_ask_{n}");
    let request_id = format!("req-fake-ask-{n}");
    let result = |output: &str| {
        emit(
            json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": output}]},
            "session_id": session}),
        );
    };
    let input = json!({"command": command, "description": "fake tool call"});
    emit(
        json!({"type": "assistant", "message": {"role": "assistant", "model": "fake-model",
        "content": [{"type": "tool_use", "id": id, "name": "Bash", "input": input}]},
        "session_id": session}),
    );
    if !prompt_tool {
        let message = format!("{command} needs approval (fake)");
        emit(
            json!({"type": "system", "subtype": "permission_denied", "tool_name": "Bash",
            "tool_use_id": id, "message": message, "session_id": session}),
        );
        result(&message);
        return format!("DENIED: {message}");
    }
    emit(
        json!({"type": "control_request", "request_id": request_id, "request": {
        "subtype": "can_use_tool", "tool_name": "Bash", "input": input, "tool_use_id": id,
        "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": command}],
            "behavior": "allow", "destination": "localSettings"}]}}),
    );
    loop {
        match rx.recv() {
            Ok(Input::Control(v)) if v["response"]["request_id"] == request_id.as_str() => {
                let answer = &v["response"]["response"];
                let output = if answer["behavior"] == "allow" {
                    format!("ALLOWED: {}", run_tool_command(command))
                } else {
                    format!("DENIED: {}", answer["message"].as_str().unwrap_or(""))
                };
                result(&output);
                return output;
            }
            Ok(Input::Eof) | Err(_) => return "DENIED: no answer before stdin closed".into(),
            Ok(_) => {}
        }
    }
}

/// How the CLI ends a turn the API refused: its synthetic message and an error result with the
/// status.
fn api_error_end(session: &str, status: u16, text: &str) {
    let mut synthetic = assistant(session, text);
    synthetic["message"]["model"] = json!("<synthetic>");
    emit(synthetic);
    emit(result(
        session,
        "success",
        true,
        Some(text),
        json!({"api_error_status": status, "terminal_reason": "api_error"}),
    ));
}

fn stamp(what: &str) {
    if let Some(path) = std::env::var_os("FAKE_CLAUDE_STAMP") {
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{what} {ns}");
        }
    }
}

fn main() {
    stamp("start");
    // The CLI's start-up, before it reads its input (what a warm worker has done already).
    if let Some(ms) = std::env::var("FAKE_CLAUDE_STARTUP_MS")
        .ok()
        .and_then(|m| m.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let resumed = flag("--resume");
    let session = resumed
        .clone()
        .or_else(|| flag("--session-id"))
        .unwrap_or_else(|| "00000000-0000-4000-8000-000000000000".into());

    let stdin = std::io::stdin();
    let mut first = String::new();
    if stdin.lock().read_line(&mut first).unwrap_or(0) == 0 {
        eprintln!("fake-claude: no input on stdin");
        std::process::exit(1);
    }
    let parsed: Value = match serde_json::from_str(first.trim()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("Error parsing streaming input line: {e}");
            std::process::exit(1);
        }
    };
    let content = &parsed["message"]["content"];
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let script_env = std::env::var("FAKE_CLAUDE_SCRIPT").unwrap_or_default();
    // Directives count only in the current request, not in the session history before it.
    let current = text
        .rfind("## Current request")
        .map_or(text.as_str(), |i| &text[i..]);
    let (_, message) = parse_directives(&text);
    let (mut directives, _) = parse_directives(current);
    directives.extend(parse_directives(&script_env).0);
    let state_dir = std::env::var("FAKE_CLAUDE_STATE_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let mut memory = std::path::Path::new(&state_dir).join(format!("session-{session}.txt"));
    // The session's directory is not where its transcript is (a resume on another host that
    // fetched only the transcript).
    let mut files_missing = false;
    // Like the CLI, with CLAUDE_CONFIG_DIR: the session is a transcript under
    // projects/<cwd's dir>/, found by id in any project dir, and one to resume must be there.
    if let Ok(config) = std::env::var("CLAUDE_CONFIG_DIR") {
        let projects = std::path::Path::new(&config).join("projects");
        let name = format!("{session}.jsonl");
        let found = std::fs::read_dir(&projects)
            .into_iter()
            .flatten()
            .flatten()
            .map(|d| d.path().join(&name))
            .find(|p| p.is_file());
        let cwd: String = std::env::current_dir()
            .unwrap_or_default()
            .display()
            .to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        memory = match (found, &resumed) {
            (Some(p), _) => p,
            (None, Some(id)) => {
                eprintln!("No conversation found with session ID: {id}");
                std::process::exit(1);
            }
            (None, None) => {
                // And, like the CLI, a directory of the same name beside it, with a file in it.
                let dir = projects.join(&cwd).join(&session);
                let _ = std::fs::create_dir_all(dir.join("subagents"));
                let _ = std::fs::write(dir.join("subagents").join("kept.txt"), "kept");
                projects.join(cwd).join(name)
            }
        };
        files_missing = !memory
            .with_extension("")
            .join("subagents")
            .join("kept.txt")
            .is_file();
    }
    if resumed.is_some() {
        if let Ok(first) = std::fs::read_to_string(&memory) {
            directives.extend(
                parse_directives(&first).0.into_iter().filter(|(n, _)| {
                    n != "sleep-first" && n != "fail-first" && n != "throttle-first"
                }),
            );
        }
    } else if !directives.is_empty() || std::env::var_os("CLAUDE_CONFIG_DIR").is_some() {
        // Only what a resume needs to obey again is remembered (a transcript is always kept).
        let _ = std::fs::write(&memory, current);
    }
    let script = Script {
        directives,
        message,
    };

    // Further stdin lines: interrupts, then EOF.
    let (tx, rx) = mpsc::channel::<Input>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let input = if v["type"] == "control_request" && v["request"]["subtype"] == "interrupt"
            {
                Input::Interrupt(v["request_id"].as_str().unwrap_or("").to_string())
            } else if v["type"] == "control_response" {
                Input::Control(v)
            } else {
                continue;
            };
            if tx.send(input).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::Eof);
    });

    if let Some(path) = script.arg("replay") {
        let captured = std::fs::read_to_string(path).expect("replay file");
        for line in captured.lines() {
            println!("{line}");
        }
        let _ = std::io::stdout().flush();
        std::process::exit(script.arg("exit").and_then(|c| c.parse().ok()).unwrap_or(0));
    }
    if let Some(text) = script.arg("stderr") {
        eprintln!("{text}");
    }
    if script.has("hang") || script.has("hang-after-result") {
        ignore_sigterm();
    }
    let grandchild = if script.has("grandchild") {
        // Deliberately never waited for: it is the grandchild that must not outlive the group.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new("sleep")
            .arg("1000")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn sleep");
        Some(child.id())
    } else {
        None
    };

    emit(json!({
        "type": "system", "subtype": "init", "cwd": std::env::current_dir().ok(),
        "session_id": session, "tools": ["Bash", "Read"], "mcp_servers": [],
        "model": flag("--model").unwrap_or_else(|| "fake-model".into()),
        "permissionMode": flag("--permission-mode").unwrap_or_else(|| "default".into()),
        "claude_code_version": "fake", "uuid": "fake-init",
    }));
    if let Some(pid) = grandchild {
        emit(assistant(&session, &format!("GRANDCHILD {pid}")));
    }

    // Like the CLI's Write/Edit tools: files changed in the working directory, right after init.
    // (A task's name repeats the first words of its instruction: each distinct one once.)
    let mut appends: Vec<&String> = Vec::new();
    for (_, arg) in script.directives.iter().filter(|(n, _)| n == "append") {
        if appends.contains(&arg) {
            continue;
        }
        appends.push(arg);
        let (path, text) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("append directive: open the file");
        writeln!(file, "{text}").expect("append directive: write");
    }
    let prompt_tool = flag("--permission-prompt-tool").as_deref() == Some("stdio");
    let asks: Vec<String> = script
        .directives
        .iter()
        .filter(|(name, _)| name == "ask")
        .enumerate()
        .map(|(n, (_, command))| ask_permission(command, n, &session, prompt_tool, &rx))
        .collect();
    let commands: Vec<&String> = script
        .directives
        .iter()
        .filter(|(name, _)| name == "sh")
        .map(|(_, command)| command)
        .collect();
    let ran: Vec<String> = commands
        .iter()
        .enumerate()
        .map(|(n, command)| {
            stream::bash_call(&session, &format!("toolu_fake_sh_{n}"), command, || {
                let output = run_tool_command(command);
                let failed = !output.starts_with("EXIT 0\n");
                (output, failed)
            })
        })
        .collect();
    let tool_output = (!ran.is_empty())
        .then(|| ran.join("\n"))
        .or_else(|| (!asks.is_empty()).then(|| asks.join("\n")));

    if script.has("hang") {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    if script.has("crash-after-init") {
        eprintln!("fake-claude: crashing on purpose");
        stamp("exit");
        std::process::exit(3);
    }
    if let Ok(needle) = std::env::var("FAKE_CLAUDE_CRASH_ON")
        && !needle.is_empty()
        && text.contains(&needle)
    {
        eprintln!("fake-claude: crashing on {needle:?}");
        std::process::exit(3);
    }
    if let Some(name) = script.arg("throttle-first") {
        let marker = std::path::Path::new(&state_dir).join(name);
        if !marker.exists() {
            let _ = std::fs::write(&marker, b"throttled once");
            emit(
                json!({"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 1,
                "retry_delay_ms": 100, "error_status": 429, "error": "rate_limit",
                "session_id": session}),
            );
            api_error_end(&session, 429, "API Error: Request rejected (429) (fake)");
            std::process::exit(1);
        }
    }
    if let Some(name) = script.arg("fail-first") {
        let marker = std::path::Path::new(&state_dir).join(name);
        if !marker.exists() {
            let _ = std::fs::write(&marker, b"failed once");
            eprintln!("fake-claude: failing the first attempt of {name}");
            std::process::exit(3);
        }
    }
    if script.has("exit-without-result") {
        emit(assistant(&session, "partial work"));
        std::process::exit(0);
    }
    if script.has("garbage") {
        println!("this line is not JSON at all");
        let _ = std::io::stdout().flush();
    }
    if let Some(bytes) = script.arg("huge").and_then(|b| b.parse::<usize>().ok()) {
        emit(assistant(&session, &"x".repeat(bytes)));
    }

    let cost: f64 = script
        .arg("cost")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0.0);
    let wait_ms = |name: &str| script.arg(name).and_then(|m| m.parse::<u64>().ok());

    // Waits `ms`, unless an interrupt comes first (then the turn ends aborted).
    let interrupted = |ms: u64| -> bool {
        match rx.recv_timeout(Duration::from_millis(ms)) {
            Ok(Input::Interrupt(id)) => {
                emit(
                    json!({"type": "control_response", "response": {"subtype": "success", "request_id": id, "response": {}}}),
                );
                emit(
                    json!({"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "[Request interrupted by user]"}]}, "session_id": session}),
                );
                emit(result(
                    &session,
                    "error_during_execution",
                    true,
                    None,
                    json!({"terminal_reason": "aborted_streaming", "total_cost_usd": cost}),
                ));
                true
            }
            Ok(Input::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(ms));
                false
            }
            Ok(Input::Control(_)) | Err(mpsc::RecvTimeoutError::Timeout) => false,
        }
    };
    let mut aborted = false;
    if let Some(ms) = wait_ms("sleep") {
        aborted = interrupted(ms);
    }
    if let Some(ms) = wait_ms("sleep-first")
        && !aborted
    {
        aborted = interrupted(ms);
    }
    if let Some(ms) = wait_ms("slow")
        && !aborted
    {
        for i in 1..=5 {
            emit(assistant(&session, &format!("chunk {i}")));
            if interrupted(ms) {
                aborted = true;
                break;
            }
        }
    }

    let mut exit_code = 0;
    if !aborted {
        let deltas = script.arg("deltas").and_then(|n| n.parse::<usize>().ok());
        let answer = if let Some(n) = deltas {
            stream::pieces("", Some(n)).concat()
        } else if let Some(output) = &tool_output {
            output.clone()
        } else if script.has("env") {
            serde_json::to_string(&std::env::vars().collect::<std::collections::BTreeMap<_, _>>())
                .unwrap()
        } else if script.has("args") {
            serde_json::to_string(&args[1..]).unwrap()
        } else if let Some(a) = script.arg("answer") {
            a.to_string()
        } else if let Some(t) = script.arg("text") {
            t.replace("\\e", "\x1b").replace("\\a", "\x07")
        } else if let Some(id) = &resumed
            && files_missing
        {
            format!("RESUMED {id} WITHOUT ITS FILES: {}", script.message)
        } else if let Some(id) = &resumed {
            format!("RESUMED {id}: {}", script.message)
        } else {
            format!("ECHO: {}", script.message)
        };
        if let Some(status) = script.arg("api-error").and_then(|s| s.parse::<u16>().ok()) {
            for attempt in 1..=2 {
                emit(
                    json!({"type": "system", "subtype": "api_retry", "attempt": attempt, "max_retries": 2,
                    "retry_delay_ms": 500 * attempt, "error_status": status, "error": "server_error",
                    "session_id": session}),
                );
            }
            api_error_end(&session, status, &format!("API Error: {status} (fake)"));
            exit_code = 1;
        } else if script.has("max-turns") {
            emit(result(
                &session,
                "error_max_turns",
                true,
                None,
                json!({"terminal_reason": "max_turns", "total_cost_usd": cost, "errors": ["Reached maximum number of turns (1)"]}),
            ));
            exit_code = 1;
        } else {
            let mut extra = json!({"total_cost_usd": cost});
            if flag("--json-schema").is_some() {
                let tasks: Vec<Value> = script
                    .arg("plan")
                    .unwrap_or("")
                    .split(';')
                    .filter_map(|item| item.split_once('='))
                    .map(|(name, instruction)| {
                        json!({"name": name.trim(), "instruction": instruction.trim()})
                    })
                    .collect();
                extra["structured_output"] = json!({ "tasks": tasks });
            }
            let partial = args.iter().any(|a| a == "--include-partial-messages");
            let rate = script.arg("rate").and_then(|r| r.parse::<u64>().ok());
            let pieces = stream::pieces(&answer, deltas);
            if partial {
                stream::before_answer(&session, &pieces, rate);
            } else {
                // The model takes as long to write it when the CLI prints only the whole message.
                let started = std::time::Instant::now();
                for i in 0..pieces.len() {
                    stream::pace(started, i, rate);
                }
            }
            emit(assistant(&session, &answer));
            if partial {
                stream::after_answer(&session);
            }
            emit(result(&session, "success", false, Some(&answer), extra));
        }
    }

    if script.has("hang-after-result") {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    // Like the CLI: stay for further turns until stdin closes.
    while let Ok(Input::Interrupt(_)) = rx.recv() {}
    std::process::exit(exit_code);
}
