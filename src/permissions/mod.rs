//! Permissions: with `permissions.mode = "stdio"` workers run with `--permission-prompt-tool
//! stdio`, and every `can_use_tool` control request the CLI sends is decided by smith — the
//! `[permissions]` deny, ask and allow rules, then the preset — and answered on the worker's stdin
//! with the `control_response` the CLI expects. A call that a person would have to decide is
//! refused for now, with a message saying so (approvals by a person come next); every refusal is
//! reported like the CLI's own.
//!
//! - `rule`: the rule syntax and matching (Bash operators cannot fool an allow rule);
//! - `policy`: the order of decision and the presets; `settings`: `[permissions]`.

mod policy;
mod rule;
mod settings;

use std::path::Path;

use serde_json::{Value, json};

pub use policy::{Decision, Policy, Preset};
pub use rule::{Rule, ToolCall};
pub use settings::{PermissionMode, PermissionSettings};

use crate::protocol::ToolDenial;

/// A `can_use_tool` control request decided: the `control_response` line to write to the
/// worker's stdin, and the refusal to report when it was refused.
pub fn answer(
    policy: &Policy,
    request: &Value,
    cwd: &Path,
    worktree: Option<&Path>,
    summarize: impl Fn(&str, &Value) -> String,
) -> Option<(String, Option<ToolDenial>)> {
    let request_id = request.get("request_id")?.as_str()?;
    let body = request.get("request")?;
    if body.get("subtype")?.as_str()? != "can_use_tool" {
        return None;
    }
    let tool = body.get("tool_name").and_then(Value::as_str).unwrap_or("");
    let null = Value::Null;
    let input = body.get("input").unwrap_or(&null);
    let call = ToolCall { tool, input, cwd };
    let refused = |message: String| {
        let denial = ToolDenial {
            tool: tool.to_string(),
            input: summarize(tool, input),
            message: message.clone(),
        };
        (
            json!({"behavior": "deny", "message": message}),
            Some(denial),
        )
    };
    let (decision, denial) = match policy.decide(&call, worktree) {
        Decision::Allow { by } => {
            tracing::debug!(tool, %by, "tool call allowed");
            (json!({"behavior": "allow", "updatedInput": input}), None)
        }
        Decision::Deny { by } => refused(format!("refused by smith's [permissions] {by}")),
        Decision::Ask { why } => refused(format!(
            "needs a person's approval ({why}), and smith does not ask people yet: allow it with a [permissions] allow rule in smithd's config"
        )),
    };
    let line = json!({
        "type": "control_response",
        "response": {"subtype": "success", "request_id": request_id, "response": decision},
    })
    .to_string();
    Some((line, denial))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_the_control_response_the_cli_expects() {
        let policy = Policy {
            allow: vec!["Bash(touch*)".parse().unwrap()],
            ..Policy::default()
        };
        let request = json!({"type": "control_request", "request_id": "r1", "request": {
            "subtype": "can_use_tool", "tool_name": "Bash",
            "input": {"command": "touch a.txt", "description": "d"}}});
        let show = |_: &str, i: &Value| i["command"].as_str().unwrap_or("").to_string();
        let (line, denial) = answer(&policy, &request, Path::new("/r"), None, show).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["response"]["request_id"], "r1");
        assert_eq!(v["response"]["response"]["behavior"], "allow");
        assert_eq!(
            v["response"]["response"]["updatedInput"]["command"],
            "touch a.txt"
        );
        assert_eq!(denial, None);

        let request = json!({"type": "control_request", "request_id": "r2", "request": {
            "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "rm x"}}});
        let (line, denial) = answer(&policy, &request, Path::new("/r"), None, show).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["response"]["response"]["behavior"], "deny");
        assert!(
            v["response"]["response"]["message"]
                .as_str()
                .unwrap()
                .contains("allow rule")
        );
        assert_eq!(denial.unwrap().input, "rm x");
        // Other control requests are not this module's.
        let other = json!({"request_id": "r3", "request": {"subtype": "interrupt"}});
        assert!(answer(&policy, &other, Path::new("/r"), None, show).is_none());
    }
}
