//! A fake Anthropic Messages API on 127.0.0.1 so the real `claude` CLI runs offline in tests.
//!
//! `POST /v1/messages` answers with server-sent events when the request says `"stream": true`
//! and with one JSON message otherwise (the CLI's fallback after a failed stream). Every request
//! body is logged. What it answers:
//! - a `tool_result` in the last user message → `ECHO-TOOL-RESULT: <result text>`;
//! - `[[tool:bash COMMAND]]` in the prompt → a `Bash` tool_use running COMMAND;
//! - a request offering the `StructuredOutput` tool (`--json-schema`) → a tool_use of it with the
//!   configured object;
//! - otherwise `ECHO: <prompt>` (the prompt is the last text block of the last user message).
//!
//! Throttling: [`FakeApi::throttle_for`] answers every call 429 (with a retry-after) for a while.
//!
//! Faults: queued with [`FakeApi::fail_next`] (taken by the next calls), or in the prompt:
//! `[[api:STATUS]]` (always), `[[api-once:STATUS:KEY]]` (the first call with KEY only),
//! `[[api-slow:MS]]` (stream ten pieces MS apart).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A failure the fake API can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An HTTP error status with an Anthropic error body.
    Status(u16),
    /// HTTP 200 with a body that is neither SSE nor JSON.
    Malformed,
    /// Accept the request and never answer.
    Hang,
    /// Start the stream, then drop the connection.
    DropMidStream,
}

#[derive(Default)]
struct Shared {
    log: Vec<Value>,
    faults: VecDeque<Fault>,
    once_seen: HashSet<String>,
    structured: Option<Value>,
    /// Everyone gets 429 until then, with `retry-after: throttle_retry_after`.
    throttle_until: Option<std::time::Instant>,
    throttle_retry_after: u64,
    /// Calls answered 429 by the throttle.
    throttled: usize,
}

/// A running fake API; stops when dropped.
pub struct FakeApi {
    addr: std::net::SocketAddr,
    shared: Arc<Mutex<Shared>>,
    server: JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeApi {
    /// Binds 127.0.0.1:0 and serves.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake api");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        let server = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(handle_connection(sock, state.clone()));
            }
        });
        Self {
            addr,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `n` calls fail with `fault`.
    pub fn fail_next(&self, fault: Fault, n: usize) {
        let mut s = self.shared.lock().unwrap();
        s.faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Every call for `window` from now is answered 429 with `retry-after: retry_after` (the
    /// account is throttled for everyone).
    pub fn throttle_for(&self, window: Duration, retry_after: u64) {
        let mut s = self.shared.lock().unwrap();
        s.throttle_until = Some(std::time::Instant::now() + window);
        s.throttle_retry_after = retry_after;
    }

    /// Calls the throttle answered 429.
    pub fn throttled_calls(&self) -> usize {
        self.shared.lock().unwrap().throttled
    }

    /// The object returned through the StructuredOutput tool.
    pub fn set_structured(&self, value: Value) {
        self.shared.lock().unwrap().structured = Some(value);
    }

    /// Bodies of all `/v1/messages` calls so far.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.lock().unwrap().log.clone()
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

async fn read_request(sock: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let mut content_length = 0usize;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                content_length = v.parse().unwrap_or(0);
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = buf[head_end..].to_vec();
    if chunked {
        // Read until the terminating chunk, then decode.
        while !body.windows(5).any(|w| w == b"0\r\n\r\n") {
            let mut chunk = [0u8; 8192];
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body = decode_chunked(&body);
    } else {
        while body.len() < content_length {
            let mut chunk = vec![0u8; content_length - body.len()];
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(Request { method, path, body })
}

fn decode_chunked(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..i]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = i + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// The prompt: the last text block of the last user message.
fn prompt_of(body: &Value) -> String {
    let Some(last_user) = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
    else {
        return String::new();
    };
    match &last_user["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .rev()
            .find_map(|b| {
                (b["type"] == "text").then(|| b["text"].as_str().unwrap_or("").to_string())
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn tool_result_of(body: &Value) -> Option<String> {
    let last = body["messages"].as_array()?.last()?;
    let blocks = last["content"].as_array()?;
    blocks
        .iter()
        .find(|b| b["type"] == "tool_result")
        .map(|b| match &b["content"] {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            other => other.to_string(),
        })
}

fn directive<'a>(prompt: &'a str, name: &str) -> Option<&'a str> {
    let start = prompt.find(&format!("[[{name}"))?;
    let rest = &prompt[start + 2 + name.len()..];
    let end = rest.find("]]")?;
    Some(rest[..end].trim_start_matches(':').trim())
}

/// What to answer.
enum Answer {
    Text(String),
    ToolUse { name: String, input: Value },
}

async fn handle_connection(mut sock: TcpStream, shared: Arc<Mutex<Shared>>) {
    let Some(req) = read_request(&mut sock).await else {
        return;
    };
    if req.method != "POST"
        || !req.path.starts_with("/v1/messages")
        || req.path.starts_with("/v1/messages/")
    {
        let body = json!({"type": "error", "error": {"type": "not_found_error", "message": format!("{} {} (fake)", req.method, req.path)}});
        respond_json(&mut sock, 404, &body).await;
        return;
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => {
            respond_json(&mut sock, 400, &error_body(400)).await;
            return;
        }
    };
    let prompt = prompt_of(&body);
    let throttled = {
        let mut s = shared.lock().unwrap();
        let on = s
            .throttle_until
            .is_some_and(|until| std::time::Instant::now() < until);
        if on {
            s.throttled += 1;
        }
        on.then_some(s.throttle_retry_after)
    };
    if let Some(retry_after) = throttled {
        respond(&mut sock, 429, &error_body(429), retry_after).await;
        return;
    }
    let fault = {
        let mut s = shared.lock().unwrap();
        s.log.push(body.clone());
        let queued = s.faults.pop_front();
        let once = directive(&prompt, "api-once").and_then(|arg| {
            let (status, key) = arg.split_once(':')?;
            s.once_seen
                .insert(key.to_string())
                .then(|| status.parse().ok())
                .flatten()
        });
        queued
            .or(once.map(Fault::Status))
            .or(directive(&prompt, "api")
                .and_then(|s| s.parse().ok())
                .map(Fault::Status))
    };
    match fault {
        Some(Fault::Status(status)) => {
            respond_json(&mut sock, status, &error_body(status)).await;
            return;
        }
        Some(Fault::Malformed) => {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot json!")
                .await;
            return;
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        Some(Fault::DropMidStream) | None => {}
    }
    let offers_structured = body["tools"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["name"] == "StructuredOutput"));
    let answer = if let Some(result) = tool_result_of(&body) {
        Answer::Text(format!("ECHO-TOOL-RESULT: {}", result.trim()))
    } else if let Some(cmd) = directive(&prompt, "tool").and_then(|a| a.strip_prefix("bash ")) {
        Answer::ToolUse {
            name: "Bash".into(),
            input: json!({"command": cmd, "description": "fake tool call"}),
        }
    } else if offers_structured {
        let value = shared
            .lock()
            .unwrap()
            .structured
            .clone()
            .unwrap_or(json!({}));
        Answer::ToolUse {
            name: "StructuredOutput".into(),
            input: value,
        }
    } else {
        Answer::Text(format!("ECHO: {}", prompt.trim()))
    };
    let model = body["model"].as_str().unwrap_or("claude-fake").to_string();
    let slow = directive(&prompt, "api-slow").and_then(|ms| ms.parse::<u64>().ok());
    if body["stream"] == true {
        stream(
            &mut sock,
            &model,
            &answer,
            slow,
            fault == Some(Fault::DropMidStream),
        )
        .await;
    } else {
        respond_json(&mut sock, 200, &message_json(&model, &answer)).await;
    }
}

fn error_body(status: u16) -> Value {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": format!("{kind} {status} (fake)")}})
}

fn usage() -> Value {
    json!({"input_tokens": 2561, "output_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
}

fn content_of(answer: &Answer) -> (Value, &'static str) {
    match answer {
        Answer::Text(text) => (json!([{"type": "text", "text": text}]), "end_turn"),
        Answer::ToolUse { name, input } => (
            json!([{"type": "tool_use", "id": format!("toolu_fake_{}", uuid::Uuid::new_v4().simple()), "name": name, "input": input}]),
            "tool_use",
        ),
    }
}

fn message_json(model: &str, answer: &Answer) -> Value {
    let (content, stop) = content_of(answer);
    json!({"id": format!("msg_fake_{}", uuid::Uuid::new_v4().simple()), "type": "message", "role": "assistant",
        "model": model, "content": content, "stop_reason": stop, "stop_sequence": null, "usage": usage()})
}

async fn respond_json(sock: &mut TcpStream, status: u16, body: &Value) {
    respond(sock, status, body, 0).await
}

/// A JSON reply; a 429 carries `retry-after: retry_after`.
async fn respond(sock: &mut TcpStream, status: u16, body: &Value, retry_after: u64) {
    let body = body.to_string();
    let extra = if status == 429 {
        format!("retry-after: {retry_after}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_fake\r\n{extra}connection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body.as_bytes()).await;
    let _ = sock.shutdown().await;
}

async fn stream(
    sock: &mut TcpStream,
    model: &str,
    answer: &Answer,
    slow: Option<u64>,
    drop_mid: bool,
) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nrequest-id: req_fake\r\nconnection: close\r\n\r\n";
    if sock.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let id = format!("msg_fake_{}", uuid::Uuid::new_v4().simple());
    let mut events = vec![(
        "message_start",
        json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 2561, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
    )];
    let (_, stop) = content_of(answer);
    match answer {
        Answer::Text(text) => {
            events.push(("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
            let pieces = if slow.is_some() { 10 } else { 1 };
            let chars: Vec<char> = text.chars().collect();
            let size = chars.len().div_ceil(pieces).max(1);
            for piece in chars.chunks(size) {
                let piece: String = piece.iter().collect();
                events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})));
            }
        }
        Answer::ToolUse { name, input } => {
            events.push(("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": format!("toolu_fake_{}", uuid::Uuid::new_v4().simple()), "name": name, "input": {}}})));
            events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": input.to_string()}})));
        }
    }
    events.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 12}})));
    events.push(("message_stop", json!({"type": "message_stop"})));
    for (i, (name, data)) in events.iter().enumerate() {
        if drop_mid && i == 2 {
            return; // the socket drops with the function
        }
        let frame = format!("event: {name}\ndata: {data}\n\n");
        if sock.write_all(frame.as_bytes()).await.is_err() {
            return;
        }
        let _ = sock.flush().await;
        if let Some(ms) = slow
            && *name == "content_block_delta"
        {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
    let _ = sock.shutdown().await;
}
