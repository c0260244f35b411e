//! Deciding a tool call by policy: the `[permissions]` rules — deny, then ask, then allow — then
//! the preset, then the default (ask).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rule::{Rule, ToolCall, normalize};

/// Tools that only read.
const READING_TOOLS: &[&str] = &["Read", "Grep", "Glob", "LS", "NotebookRead"];
/// Tools that write files (their input names the file).
const WRITING_TOOLS: &[&str] = &["Edit", "Write", "MultiEdit", "NotebookEdit"];

/// What is allowed when no rule says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Nothing: every call no rule allows is asked.
    #[default]
    None,
    /// Reading tools (Read, Grep, Glob, LS).
    ReadOnly,
    /// Reading tools, and Edit/Write/MultiEdit/NotebookEdit of files inside the task's own
    /// worktree (resolved: symlinks and `..` cannot leave it; never `.git`); Bash only through
    /// rules.
    WorkspaceWrite,
}

/// How a tool call is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// It runs.
    Allow {
        /// The rule or preset that allowed it.
        by: String,
    },
    /// It is refused.
    Deny {
        /// The rule that refused it.
        by: String,
    },
    /// A person decides (or nobody, when nobody can).
    Ask {
        /// Why no rule decided it.
        why: String,
    },
}

/// The `[permissions]` rules and preset, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allow rules.
    pub allow: Vec<Rule>,
    /// Deny rules (win over everything).
    pub deny: Vec<Rule>,
    /// Ask rules (win over allow rules).
    pub ask: Vec<Rule>,
    /// The preset.
    pub preset: Preset,
}

impl Policy {
    /// Decides `call` of a worker whose own worktree (if any) is `worktree`.
    pub fn decide(&self, call: &ToolCall<'_>, worktree: Option<&Path>) -> Decision {
        if let Some(rule) = self.deny.iter().find(|r| r.names(call)) {
            return Decision::Deny {
                by: format!("deny rule {rule}"),
            };
        }
        if let Some(rule) = self.ask.iter().find(|r| r.names(call)) {
            return Decision::Ask {
                why: format!("ask rule {rule}"),
            };
        }
        if let Some(rule) = self.allow.iter().find(|r| r.allows(call, &self.allow)) {
            return Decision::Allow {
                by: format!("allow rule {rule}"),
            };
        }
        let reading = READING_TOOLS.contains(&call.tool);
        match self.preset {
            Preset::ReadOnly | Preset::WorkspaceWrite if reading => {
                return Decision::Allow {
                    by: format!("preset {}", self.preset.name()),
                };
            }
            Preset::WorkspaceWrite
                if WRITING_TOOLS.contains(&call.tool)
                    && worktree.is_some_and(|w| writes_inside(call, w)) =>
            {
                return Decision::Allow {
                    by: "preset workspace-write (inside the task's worktree)".into(),
                };
            }
            _ => {}
        }
        Decision::Ask {
            why: "no rule or preset allows it".into(),
        }
    }
}

impl Preset {
    /// As written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Preset::None => "none",
            Preset::ReadOnly => "read-only",
            Preset::WorkspaceWrite => "workspace-write",
        }
    }
}

/// The file a writing call names lies inside `worktree`, resolved on the file system (the part
/// that exists) and lexically (the part that does not yet).
fn writes_inside(call: &ToolCall<'_>, worktree: &Path) -> bool {
    let field = |name: &str| call.input.get(name).and_then(Value::as_str);
    let Some(path) = field("file_path").or_else(|| field("notebook_path")) else {
        return false;
    };
    let Ok(root) = worktree.canonicalize() else {
        return false;
    };
    // Never git's own files: a worktree's `.git` names the repository smith commits to.
    resolve(&normalize(&call.cwd.join(path))).is_some_and(|p| {
        p.strip_prefix(&root)
            .is_ok_and(|rel| !rel.components().any(|c| c.as_os_str() == ".git"))
    })
}

/// `path` with its longest existing ancestor canonicalized (symlinks resolved) and the rest
/// appended.
fn resolve(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name()?.to_owned());
        existing = existing.parent()?.to_path_buf();
    }
    let mut resolved = existing.canonicalize().ok()?;
    for part in rest.into_iter().rev() {
        resolved.push(part);
    }
    Some(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(allow: &[&str], deny: &[&str], ask: &[&str], preset: Preset) -> Policy {
        let parse = |v: &[&str]| v.iter().map(|t| t.parse().unwrap()).collect();
        Policy {
            allow: parse(allow),
            deny: parse(deny),
            ask: parse(ask),
            preset,
        }
    }

    #[test]
    fn deny_wins_then_ask_then_allow_then_the_preset_then_ask() {
        let p = policy(
            &["Bash(git*)"],
            &["Bash(git push*)"],
            &["Bash(git commit*)"],
            Preset::ReadOnly,
        );
        let cwd = Path::new("/r");
        let decide = |tool: &str, input: Value| {
            p.decide(
                &ToolCall {
                    tool,
                    input: &input,
                    cwd,
                },
                None,
            )
        };
        assert!(matches!(
            decide("Bash", json!({"command": "git push"})),
            Decision::Deny { .. }
        ));
        assert!(matches!(
            decide("Bash", json!({"command": "git commit -m x"})),
            Decision::Ask { .. }
        ));
        assert!(matches!(
            decide("Bash", json!({"command": "git status"})),
            Decision::Allow { .. }
        ));
        assert!(matches!(
            decide("Read", json!({"file_path": "/etc/hosts"})),
            Decision::Allow { .. }
        ));
        assert!(matches!(
            decide("Edit", json!({"file_path": "a"})),
            Decision::Ask { .. }
        ));
        assert!(matches!(
            decide("Bash", json!({"command": "ls"})),
            Decision::Ask { .. }
        ));
    }

    #[test]
    fn workspace_write_allows_edits_inside_the_worktree_only() {
        let dir = tempfile::tempdir().unwrap();
        let wt = dir.path().join("wt");
        std::fs::create_dir_all(wt.join("src")).unwrap();
        std::os::unix::fs::symlink("/etc", wt.join("etc-link")).unwrap();
        let p = policy(&[], &[], &[], Preset::WorkspaceWrite);
        let decide = |path: &str| {
            let input = json!({"file_path": path});
            p.decide(
                &ToolCall {
                    tool: "Write",
                    input: &input,
                    cwd: &wt,
                },
                Some(&wt),
            )
        };
        for inside in ["src/new.rs", "new/deep/file.txt"] {
            assert!(matches!(decide(inside), Decision::Allow { .. }), "{inside}");
        }
        for outside in [
            "../outside.txt",
            "etc-link/passwd",
            "/tmp/x",
            ".git",
            "sub/.git/config",
        ] {
            assert!(matches!(decide(outside), Decision::Ask { .. }), "{outside}");
        }
        // Without a worktree of its own, a task's edits are asked.
        let input = json!({"file_path": "src/a.rs"});
        let d = p.decide(
            &ToolCall {
                tool: "Edit",
                input: &input,
                cwd: &wt,
            },
            None,
        );
        assert!(matches!(d, Decision::Ask { .. }));
    }
}
