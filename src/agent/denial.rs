//! Tool calls the CLI refused on its own: headless, a call that nothing allowed is refused (a
//! `system/permission_denied` line, an error tool result, and an entry in the result's
//! `permission_denials`). An attempt collects them so that they reach the task's result and the
//! merged answer, never lost in a worker's worse answer.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::protocol::ToolDenial;

/// One entry of a result's `permission_denials`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PermissionDenial {
    /// The tool.
    #[serde(default)]
    pub tool_name: String,
    /// The call's id.
    #[serde(default)]
    pub tool_use_id: String,
    /// Its input.
    #[serde(default)]
    pub tool_input: Value,
}

/// `{"type":"system","subtype":"permission_denied"}`: headless, the CLI refused a tool call that
/// nothing allowed (an error tool result follows).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PermissionDenied {
    /// The tool.
    #[serde(default)]
    pub tool_name: String,
    /// The call's id.
    #[serde(default)]
    pub tool_use_id: String,
    /// Why.
    #[serde(default)]
    pub message: String,
}

/// At most this many refusals are kept per attempt (a worker that loops on a refused call).
const MAX_DENIALS: usize = 50;
/// At most this many tool calls are remembered to name a refused call's input.
const MAX_CALLS: usize = 1000;
/// A refused call's input is shown up to this many characters, then cut with a mark.
const INPUT_CHARS: usize = 300;

/// The refusals of one attempt, and the tool calls they refer to.
#[derive(Debug, Default)]
pub struct Denials {
    calls: HashMap<String, (String, Value)>,
    found: Vec<(String, ToolDenial)>,
}

impl Denials {
    /// A tool call the worker made (from an `assistant` line).
    pub fn called(&mut self, id: &str, tool: &str, input: &Value) {
        if self.calls.len() < MAX_CALLS {
            self.calls
                .insert(id.to_string(), (tool.to_string(), input.clone()));
        }
    }

    /// A `system/permission_denied` line.
    pub fn denied(&mut self, d: PermissionDenied) {
        let input = self.calls.get(&d.tool_use_id).map(|(_, input)| input);
        let denial = ToolDenial {
            input: input.map_or_else(String::new, |i| summarize(&d.tool_name, i)),
            tool: d.tool_name,
            message: d.message.trim().to_string(),
        };
        self.push(d.tool_use_id, denial);
    }

    /// A call smith's policy refused (`tool_use_id` from the CLI's request).
    pub fn refused(&mut self, tool_use_id: &str, denial: ToolDenial) {
        self.push(tool_use_id.to_string(), denial);
    }

    /// The result's `permission_denials` (those no line reported already).
    pub fn listed(&mut self, denials: &[PermissionDenial]) {
        for d in denials {
            if self.found.iter().any(|(id, _)| id == &d.tool_use_id) {
                continue;
            }
            let denial = ToolDenial {
                tool: d.tool_name.clone(),
                input: summarize(&d.tool_name, &d.tool_input),
                message: String::new(),
            };
            self.push(d.tool_use_id.clone(), denial);
        }
    }

    fn push(&mut self, id: String, denial: ToolDenial) {
        if self.found.len() < MAX_DENIALS {
            self.found.push((id, denial));
        }
    }

    /// What was refused, in order.
    pub fn into_vec(self) -> Vec<ToolDenial> {
        self.found.into_iter().map(|(_, d)| d).collect()
    }
}

/// A tool's input as a person reads it: a Bash command, the path of a file tool, a URL, else
/// compact JSON — control characters replaced, a long one cut with a mark.
pub fn summarize(tool: &str, input: &Value) -> String {
    let clean = describe(tool, input);
    match clean.char_indices().nth(INPUT_CHARS) {
        Some((at, _)) => format!(
            "{}… [cut at {INPUT_CHARS} of {} characters]",
            &clean[..at],
            clean.chars().count()
        ),
        None => clean,
    }
}

/// [`summarize`], whole: what a person deciding the call reads.
pub fn describe(tool: &str, input: &Value) -> String {
    let field = |name: &str| input.get(name).and_then(Value::as_str).map(str::to_string);
    let text = match tool {
        "Bash" => field("command"),
        "Edit" | "Write" | "Read" | "MultiEdit" => field("file_path"),
        "NotebookEdit" => field("notebook_path"),
        "WebFetch" => field("url"),
        _ => None,
    }
    .unwrap_or_else(|| input.to_string());
    crate::sanitize::one_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refusal_names_the_call_and_the_result_adds_only_new_ones() {
        let mut d = Denials::default();
        d.called(
            "a",
            "Bash",
            &json!({"command": "touch x\ny", "description": "d"}),
        );
        d.denied(PermissionDenied {
            tool_name: "Bash".into(),
            tool_use_id: "a".into(),
            message: " needs approval ".into(),
        });
        d.listed(&[
            PermissionDenial {
                tool_name: "Bash".into(),
                tool_use_id: "a".into(),
                tool_input: json!({"command": "touch x"}),
            },
            PermissionDenial {
                tool_name: "Write".into(),
                tool_use_id: "b".into(),
                tool_input: json!({"file_path": "/r/a.txt", "content": "x"}),
            },
        ]);
        let all = d.into_vec();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0],
            ToolDenial {
                tool: "Bash".into(),
                input: "touch x⏎y".into(),
                message: "needs approval".into()
            }
        );
        assert_eq!(all[1].input, "/r/a.txt");
        assert_eq!(all[1].message, "");
    }

    #[test]
    fn inputs_are_shown_readably_and_a_long_one_is_cut_with_a_mark() {
        assert_eq!(
            summarize("WebFetch", &json!({"url": "https://x.test"})),
            "https://x.test"
        );
        assert_eq!(
            summarize("Glob", &json!({"pattern": "*.rs"})),
            r#"{"pattern":"*.rs"}"#
        );
        assert_eq!(
            summarize("Bash", &json!({"command": "echo \u{1b}[31mred"})),
            "echo  [31mred"
        );
        let long = summarize("Bash", &json!({"command": "x".repeat(400)}));
        assert!(long.starts_with(&"x".repeat(300)));
        assert!(long.ends_with("… [cut at 300 of 400 characters]"), "{long}");
    }
}
