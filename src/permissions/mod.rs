//! Permissions: with `permissions.mode = "stdio"` workers run with `--permission-prompt-tool
//! stdio`, and every `can_use_tool` control request the CLI sends is decided by smith — what a
//! person allowed for the session ("always"), the `[permissions]` deny, ask and allow rules, the
//! preset, and otherwise a person — and answered on the worker's stdin with the
//! `control_response` the CLI expects. Every decision is recorded; every refusal is reported
//! like the CLI's own.
//!
//! - `rule`: the rule syntax and matching (Bash operators cannot fool an allow rule);
//! - `policy`: the order of decision and the presets; `settings`: `[permissions]`;
//! - `approvals`: the calls that wait for a person ([`Approvals`], the service's one owner);
//!   `attempt_approvals`: the desk as one attempt uses it;
//!   `notify`: `permissions.notify_command`.

mod approvals;
mod attempt_approvals;
mod notify;
mod policy;
mod rule;
mod settings;

use serde_json::{Value, json};

pub use approvals::{ApprovalError, Approvals, Attachment};
pub use attempt_approvals::{Asker, AttemptApprovals, Call};
pub use policy::{Decision, Policy, Preset};
pub use rule::{Rule, ToolCall};
pub use settings::{PermissionMode, PermissionSettings, Unattended};

/// A `can_use_tool` control request of the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    /// The control request's id (the response names it).
    pub request_id: String,
    /// The tool.
    pub tool: String,
    /// Its input.
    pub input: Value,
    /// The tool_use it belongs to.
    pub tool_use_id: String,
    /// The CLI's `permission_suggestions` (shown to a person, never saved as rules).
    pub suggestions: Option<Value>,
}

impl ToolRequest {
    /// The request in `control_request`, if it is a `can_use_tool` one.
    pub fn parse(control_request: &Value) -> Option<Self> {
        let request_id = control_request.get("request_id")?.as_str()?;
        let body = control_request.get("request")?;
        if body.get("subtype")?.as_str()? != "can_use_tool" {
            return None;
        }
        let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("");
        Some(Self {
            request_id: request_id.to_string(),
            tool: field("tool_name").to_string(),
            input: body.get("input").cloned().unwrap_or(Value::Null),
            tool_use_id: field("tool_use_id").to_string(),
            suggestions: body.get("permission_suggestions").cloned(),
        })
    }

    /// The `control_response` line that allows it (with its input unchanged).
    pub fn allow(&self) -> String {
        self.respond(json!({"behavior": "allow", "updatedInput": self.input}))
    }

    /// The `control_response` line that refuses it; the worker gets `message` as the tool's
    /// result.
    pub fn deny(&self, message: &str) -> String {
        self.respond(json!({"behavior": "deny", "message": message}))
    }

    fn respond(&self, decision: Value) -> String {
        json!({
            "type": "control_response",
            "response": {"subtype": "success", "request_id": self.request_id, "response": decision},
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_the_control_response_the_cli_expects() {
        let request = json!({"type": "control_request", "request_id": "r1", "request": {
            "subtype": "can_use_tool", "tool_name": "Bash", "tool_use_id": "toolu_1",
            "permission_suggestions": [{"type": "addRules"}],
            "input": {"command": "touch a.txt", "description": "d"}}});
        let call = ToolRequest::parse(&request).unwrap();
        assert_eq!(call.tool, "Bash");
        assert_eq!(call.tool_use_id, "toolu_1");
        assert!(call.suggestions.is_some());
        let v: Value = serde_json::from_str(&call.allow()).unwrap();
        assert_eq!(v["type"], "control_response");
        assert_eq!(v["response"]["request_id"], "r1");
        assert_eq!(v["response"]["response"]["behavior"], "allow");
        assert_eq!(
            v["response"]["response"]["updatedInput"]["command"],
            "touch a.txt"
        );
        let v: Value = serde_json::from_str(&call.deny("no")).unwrap();
        assert_eq!(v["response"]["response"]["behavior"], "deny");
        assert_eq!(v["response"]["response"]["message"], "no");
        // Other control requests are not this module's.
        let other = json!({"request_id": "r3", "request": {"subtype": "interrupt"}});
        assert!(ToolRequest::parse(&other).is_none());
    }
}
