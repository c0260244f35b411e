//! Typed stream-json events of `claude -p --output-format stream-json --verbose`.
//!
//! One JSON object per line. The types smith acts on are parsed into structs; everything else
//! (unknown types, unknown subtypes, unknown fields) is kept as raw JSON and ignored — the CLI
//! changes often, so nothing unknown is ever fatal. Only a line that is not a JSON object is a
//! protocol error.

use serde::Deserialize;
use serde_json::Value;

pub use super::rate_limit_event::{RateLimitEvent, RateLimitStatus};

pub use super::denial::{PermissionDenial, PermissionDenied};
pub use super::usage::Usage;

/// `{"type":"system","subtype":"init"}`: the process is ready and has a Claude session id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Init {
    /// The Claude session id (what `--resume` takes).
    pub session_id: String,
    /// The model in use.
    #[serde(default)]
    pub model: Option<String>,
    /// Working directory.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Tools available.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Permission mode.
    #[serde(default, rename = "permissionMode")]
    pub permission_mode: Option<String>,
    /// CLI version.
    #[serde(default)]
    pub claude_code_version: Option<String>,
}

/// `{"type":"system","subtype":"api_retry"}`: the CLI retries a failed API call.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ApiRetry {
    /// 1-based retry number.
    #[serde(default)]
    pub attempt: u32,
    /// The CLI's retry limit.
    #[serde(default)]
    pub max_retries: u32,
    /// Delay before this retry.
    #[serde(default)]
    pub retry_delay_ms: u64,
    /// HTTP status of the failure, when there was one.
    #[serde(default)]
    pub error_status: Option<u16>,
    /// Error label.
    #[serde(default)]
    pub error: Option<String>,
}

/// A content block of an assistant or user message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A tool call.
    ToolUse {
        /// Tool call id.
        #[serde(default)]
        id: String,
        /// Tool name.
        name: String,
        /// Tool input.
        #[serde(default)]
        input: Value,
    },
    /// A tool's result (in user messages).
    ToolResult {
        /// The call it answers.
        #[serde(default)]
        tool_use_id: String,
        /// Whether the tool failed.
        #[serde(default)]
        is_error: Option<bool>,
        /// What it returned: a string, or text blocks.
        #[serde(default)]
        content: Value,
    },
    /// Anything else (thinking, images, …).
    #[serde(other)]
    Other,
}

/// The `message` of an `assistant` or `user` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Message {
    /// Message id.
    #[serde(default)]
    pub id: Option<String>,
    /// Model (`<synthetic>` for messages the CLI made up after an API error).
    #[serde(default)]
    pub model: Option<String>,
    /// Content blocks; a plain string content becomes one text block.
    #[serde(default, deserialize_with = "content_blocks")]
    pub content: Vec<ContentBlock>,
    /// Usage of this API call.
    #[serde(default)]
    pub usage: Option<Usage>,
}

impl Message {
    /// Concatenated text blocks.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for block in &self.content {
            if let ContentBlock::Text { text } = block {
                out.push_str(text);
            }
        }
        out
    }

    /// Names of the tools called in this message.
    pub fn tool_uses(&self) -> Vec<String> {
        self.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolUse { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect()
    }
}

fn content_blocks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ContentBlock>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::String(text) => vec![ContentBlock::Text { text }],
        Value::Array(items) => items
            .into_iter()
            .map(|item| serde_json::from_value(item).unwrap_or(ContentBlock::Other))
            .collect(),
        _ => Vec::new(),
    })
}

/// `{"type":"assistant"}` or `{"type":"user"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Turn {
    /// The message.
    pub message: Message,
    /// Set when the message belongs to a sub-agent's tool call.
    #[serde(default)]
    pub parent_tool_use_id: Option<String>,
    /// Claude session id.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// `{"type":"control_response"}`: the answer to a `control_request` (e.g. interrupt).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ControlResponse {
    /// The response body (`subtype`, `request_id`, …).
    #[serde(default)]
    pub response: Value,
}

impl ControlResponse {
    /// The id of the request this answers.
    pub fn request_id(&self) -> Option<&str> {
        self.response.get("request_id").and_then(Value::as_str)
    }
}

/// `{"type":"result"}`: the end of a turn.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResultEvent {
    /// `success`, `error_max_turns`, `error_during_execution`, … (API errors say `success`).
    #[serde(default)]
    pub subtype: String,
    /// Whether the turn failed.
    #[serde(default)]
    pub is_error: bool,
    /// HTTP status of an API failure.
    #[serde(default)]
    pub api_error_status: Option<u16>,
    /// `completed`, `max_turns`, `api_error`, `aborted_streaming`, …
    #[serde(default)]
    pub terminal_reason: Option<String>,
    /// The answer text (or the error text).
    #[serde(default)]
    pub result: Option<String>,
    /// Claude session id.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Cost of the whole process so far, in USD.
    #[serde(default)]
    pub total_cost_usd: f64,
    /// Usage of the turn.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Number of model turns.
    #[serde(default)]
    pub num_turns: u32,
    /// Wall time of the turn.
    #[serde(default)]
    pub duration_ms: u64,
    /// Error details.
    #[serde(default)]
    pub errors: Vec<String>,
    /// With `--json-schema`: the structured answer.
    #[serde(default)]
    pub structured_output: Option<Value>,
    /// Tool calls the CLI refused during the turn.
    #[serde(default)]
    pub permission_denials: Vec<PermissionDenial>,
}

/// One line of stream-json output.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// `system/init`.
    Init(Init),
    /// `system/api_retry`.
    ApiRetry(ApiRetry),
    /// `rate_limit_event`: the account's rate-limit state.
    RateLimit(RateLimitEvent),
    /// `system/status` (with `--include-partial-messages`).
    Status(Value),
    /// `system/permission_denied`.
    PermissionDenied(PermissionDenied),
    /// `assistant`.
    Assistant(Turn),
    /// `user` (tool results, interrupt notes).
    User(Turn),
    /// `stream_event`: a raw SSE event (with `--include-partial-messages`).
    Stream(Value),
    /// `control_response`.
    ControlResponse(ControlResponse),
    /// `control_request`: the CLI asks the host (e.g. `can_use_tool` with
    /// `--permission-prompt-tool stdio`).
    ControlRequest(Value),
    /// `result`.
    Result(Box<ResultEvent>),
    /// Any other type, subtype or shape: kept, ignored.
    Unknown(Value),
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparseable stream-json line ({reason}): {excerpt}")]
pub struct ParseError {
    /// What was wrong.
    pub reason: String,
    /// The start of the line.
    pub excerpt: String,
}

impl StreamEvent {
    /// Parses one line. Only a line that is not a JSON object is an error; a known type whose
    /// fields do not match is kept as [`StreamEvent::Unknown`].
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_str(line).map_err(|e| ParseError {
            reason: e.to_string(),
            excerpt: excerpt(line),
        })?;
        if !value.is_object() {
            return Err(ParseError {
                reason: "not a JSON object".into(),
                excerpt: excerpt(line),
            });
        }
        Ok(Self::from_value(value))
    }

    /// Types a parsed JSON object.
    pub fn from_value(value: Value) -> Self {
        let ty = value.get("type").and_then(Value::as_str).unwrap_or("");
        let subtype = value.get("subtype").and_then(Value::as_str).unwrap_or("");
        let typed = match (ty, subtype) {
            ("system", "init") => typed(&value).map(StreamEvent::Init),
            ("system", "api_retry") => typed(&value).map(StreamEvent::ApiRetry),
            ("rate_limit_event", _) => {
                RateLimitEvent::from_value(&value).map(StreamEvent::RateLimit)
            }
            ("system", "status") => return StreamEvent::Status(value),
            ("system", "permission_denied") => typed(&value).map(StreamEvent::PermissionDenied),
            ("assistant", _) => typed(&value).map(StreamEvent::Assistant),
            ("user", _) => typed(&value).map(StreamEvent::User),
            ("stream_event", _) => return StreamEvent::Stream(value),
            ("control_response", _) => typed(&value).map(StreamEvent::ControlResponse),
            ("control_request", _) => return StreamEvent::ControlRequest(value),
            ("result", _) => typed(&value).map(|r| StreamEvent::Result(Box::new(r))),
            _ => None,
        };
        typed.unwrap_or(StreamEvent::Unknown(value))
    }

    /// The `type` label (for logs).
    pub fn kind(&self) -> &'static str {
        match self {
            StreamEvent::Init(_) => "system/init",
            StreamEvent::ApiRetry(_) => "system/api_retry",
            StreamEvent::RateLimit(_) => "rate_limit_event",
            StreamEvent::Status(_) => "system/status",
            StreamEvent::PermissionDenied(_) => "system/permission_denied",
            StreamEvent::Assistant(_) => "assistant",
            StreamEvent::User(_) => "user",
            StreamEvent::Stream(_) => "stream_event",
            StreamEvent::ControlResponse(_) => "control_response",
            StreamEvent::ControlRequest(_) => "control_request",
            StreamEvent::Result(_) => "result",
            StreamEvent::Unknown(_) => "unknown",
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> Option<T> {
    T::deserialize(value).ok()
}

fn excerpt(line: &str) -> String {
    line[..line.floor_char_boundary(120)].to_string()
}

/// The stream-json user message carrying `text` (one line, without the newline).
pub fn user_message(text: &str) -> String {
    serde_json::json!({
        "type": "user",
        "message": { "role": "user", "content": text },
    })
    .to_string()
}

/// The stream-json interrupt request with id `request_id` (one line, without the newline).
pub fn interrupt_request(request_id: &str) -> String {
    serde_json::json!({
        "type": "control_request",
        "request_id": request_id,
        "request": { "subtype": "interrupt" },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_type_and_fields_are_kept_not_fatal() {
        let e = StreamEvent::parse(r#"{"type":"telepathy","x":1}"#).unwrap();
        assert!(matches!(e, StreamEvent::Unknown(_)));
        let e = StreamEvent::parse(
            r#"{"type":"system","subtype":"init","session_id":"s","new_field":[1]}"#,
        )
        .unwrap();
        assert!(matches!(e, StreamEvent::Init(ref i) if i.session_id == "s"));
        let e = StreamEvent::parse(r#"{"type":"system","subtype":"hooks"}"#).unwrap();
        assert!(matches!(e, StreamEvent::Unknown(_)));
    }

    #[test]
    fn known_type_with_wrong_shape_is_unknown() {
        let e = StreamEvent::parse(r#"{"type":"system","subtype":"init"}"#).unwrap();
        assert!(
            matches!(e, StreamEvent::Unknown(_)),
            "init without session_id"
        );
    }

    #[test]
    fn non_objects_are_protocol_errors() {
        assert!(StreamEvent::parse("hello").is_err());
        assert!(StreamEvent::parse("[1,2]").is_err());
        assert!(StreamEvent::parse(r#"{"type":"#).is_err());
    }

    #[test]
    fn string_content_is_one_text_block() {
        let e = StreamEvent::parse(r#"{"type":"user","message":{"role":"user","content":"hi"}}"#)
            .unwrap();
        let StreamEvent::User(t) = e else { panic!() };
        assert_eq!(t.message.text(), "hi");
    }

    #[test]
    fn messages_written_to_stdin_are_single_json_lines() {
        let m = user_message("a\nb \"q\"");
        assert!(!m.contains('\n'));
        let v: Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["message"]["content"], "a\nb \"q\"");
        let i: Value = serde_json::from_str(&interrupt_request("r1")).unwrap();
        assert_eq!(i["request"]["subtype"], "interrupt");
        assert_eq!(i["request_id"], "r1");
    }
}
