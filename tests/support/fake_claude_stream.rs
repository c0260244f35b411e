//! How the stand-in shows its work like the CLI: a Bash call as a `tool_use` line and a
//! `tool_result` line paired by id; with `--include-partial-messages`, an answer as the
//! `stream_event` lines of its SSE stream (`message_start`, `content_block_start`, one
//! `text_delta` per piece, `content_block_stop`) before its `assistant` line, then
//! `message_delta` and `message_stop` (the shapes of `partial_messages.jsonl`).

use serde_json::{Value, json};

use super::emit;

fn stream_event(session: &str, event: Value) -> Value {
    json!({"type": "stream_event", "event": event, "session_id": session,
        "parent_tool_use_id": null, "uuid": "fake-stream"})
}

/// The answer cut into the pieces its deltas carry: `n` pieces when asked for (`[[deltas:N]]`),
/// else word by word.
pub fn pieces(answer: &str, n: Option<usize>) -> Vec<String> {
    match n {
        Some(n) => (0..n).map(|i| format!("d{i} ")).collect(),
        None => answer.split_inclusive(' ').map(str::to_string).collect(),
    }
}

/// The model writes `rate` pieces a second (`[[rate:N]]`; none: at once), whether or not the
/// CLI prints them: waits until `piece` is due.
pub fn pace(started: std::time::Instant, piece: usize, rate: Option<u64>) {
    if let Some(rate) = rate.filter(|r| *r > 0) {
        let due = started + std::time::Duration::from_micros(piece as u64 * 1_000_000 / rate);
        let now = std::time::Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// The stream events before the assistant line of `pieces`, written at `rate` pieces a second.
pub fn before_answer(session: &str, pieces: &[String], rate: Option<u64>) {
    let started = std::time::Instant::now();
    emit(stream_event(
        session,
        json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
            "role": "assistant", "model": "fake-model", "content": []}}),
    ));
    emit(stream_event(
        session,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    for (i, piece) in pieces.iter().enumerate() {
        pace(started, i, rate);
        emit(stream_event(
            session,
            json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
}

/// The stream events after the assistant line.
pub fn after_answer(session: &str) {
    emit(stream_event(
        session,
        json!({"type": "content_block_stop", "index": 0}),
    ));
    emit(stream_event(
        session,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 8}}),
    ));
    emit(stream_event(session, json!({"type": "message_stop"})));
}

/// A Bash tool call: its `tool_use` line, then (after `run`) its `tool_result` line, an error
/// when the command failed. Returns what `run` returned.
pub fn bash_call(
    session: &str,
    id: &str,
    command: &str,
    run: impl FnOnce() -> (String, bool),
) -> String {
    emit(
        json!({"type": "assistant", "message": {"id": "msg_fake_tool", "role": "assistant",
        "model": "fake-model", "content": [{"type": "tool_use", "id": id, "name": "Bash",
        "input": {"command": command, "description": "fake tool call"}}]},
        "parent_tool_use_id": null, "session_id": session}),
    );
    let (output, failed) = run();
    emit(
        json!({"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": id, "content": output, "is_error": failed}]},
        "parent_tool_use_id": null, "session_id": session}),
    );
    output
}
