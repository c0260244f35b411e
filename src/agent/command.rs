//! The parts of a worker's launch spec: the `claude` argument vector (never a shell string),
//! the rebuilt environment, the checked working directory, and finding the program.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::config::AgentConfig;
use super::error::AgentError;

/// Every call that would need a permission is asked of smith, on stdout.
pub(crate) const ASK_SMITH: [&str; 2] = ["--permission-prompt-tool", "stdio"];

/// Which Claude session an attempt runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionArg {
    /// A fresh session with this id (`--session-id`).
    New(String),
    /// Continue this session (`--resume`).
    Resume(String),
}

impl SessionArg {
    /// A fresh session with a random id.
    pub fn fresh() -> Self {
        SessionArg::New(uuid::Uuid::new_v4().to_string())
    }

    /// The session id either way.
    pub fn id(&self) -> &str {
        match self {
            SessionArg::New(id) | SessionArg::Resume(id) => id,
        }
    }
}

/// Per-task choices (they override the config where both exist).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskOptions {
    /// Working directory (checked against `roots`).
    pub cwd: PathBuf,
    /// `--model`.
    pub model: Option<String>,
    /// `--max-budget-usd`: what is left of the request's budget.
    pub max_budget_usd: Option<f64>,
    /// `--json-schema` (a JSON Schema document).
    pub json_schema: Option<String>,
    /// Extra environment (e.g. `TRACEPARENT`), set last.
    pub env: Vec<(String, String)>,
    /// `--tools` instead of `agent.tools` (e.g. read-only tools for the planner of an isolated
    /// request).
    pub tools: Option<Vec<String>>,
    /// `--disallowedTools` (e.g. the CLI's own worktree tools for a worker in a worktree).
    pub disallowed_tools: Vec<String>,
    /// The task's own worktree (what the `workspace-write` preset lets it edit).
    pub worktree: Option<PathBuf>,
    /// `--bare`.
    pub bare: bool,
}

/// The argument vector (without the program).
pub fn build_args(config: &AgentConfig, task: &TaskOptions, session: &SessionArg) -> Vec<String> {
    let mut args: Vec<String> = [
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
    ]
    .map(String::from)
    .to_vec();
    let mut flag = |name: &str, value: String| {
        args.push(name.to_string());
        args.push(value);
    };
    match session {
        SessionArg::New(id) => flag("--session-id", id.clone()),
        SessionArg::Resume(id) => flag("--resume", id.clone()),
    }
    if let Some(model) = task.model.as_ref().or(config.model.as_ref()) {
        flag("--model", model.clone());
    }
    if let Some(n) = config.max_turns {
        flag("--max-turns", n.to_string());
    }
    if let Some(mode) = &config.permission_mode {
        flag("--permission-mode", mode.clone());
    }
    if config.permissions.is_some() {
        flag(ASK_SMITH[0], ASK_SMITH[1].into());
    }
    if !config.allowed_tools.is_empty() {
        flag("--allowedTools", config.allowed_tools.join(","));
    }
    if let Some(tools) = task.tools.as_ref().or(config.tools.as_ref()) {
        flag("--tools", tools.join(","));
    }
    if !task.disallowed_tools.is_empty() {
        flag("--disallowedTools", task.disallowed_tools.join(","));
    }
    if let Some(s) = &config.append_system_prompt {
        flag("--append-system-prompt", s.clone());
    }
    if let Some(usd) = task.max_budget_usd {
        flag("--max-budget-usd", format!("{usd:.6}"));
    }
    if let Some(schema) = &task.json_schema {
        flag("--json-schema", schema.clone());
    }
    if task.bare {
        args.push("--bare".into());
    }
    if config.partial_messages {
        args.push("--include-partial-messages".into());
    }
    args.extend(config.extra_args.iter().cloned());
    args
}

/// Whether an inherited variable belongs to a surrounding Claude Code (never passed on).
pub fn is_claude_internal(name: &str) -> bool {
    name == "CLAUDECODE" || name.starts_with("CLAUDE_CODE_")
}

fn allowlisted(allowlist: &[String], name: &str) -> bool {
    allowlist
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => pattern == name,
        })
}

/// The complete environment of the process: the allowlisted part of `inherited` (without
/// `CLAUDECODE`/`CLAUDE_CODE_*`), then the configured variables, then the task's.
pub fn build_env(
    config: &AgentConfig,
    task: &TaskOptions,
    inherited: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = inherited
        .into_iter()
        .filter(|(k, _)| !is_claude_internal(k) && allowlisted(&config.env_allowlist, k))
        .collect();
    env.extend(config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.extend(task.env.iter().cloned());
    env
}

/// Where `program` would be found: itself when it names a path, else the first executable file of
/// that name in `path` (a PATH value). `None` when there is none.
pub fn find_program(program: &Path, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.components().count() > 1 {
        return runnable(program).then(|| program.to_path_buf());
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(program))
        .find(|candidate| runnable(candidate))
}

/// Resolves `cwd` and checks that it lies inside one of `roots` (both canonicalized, so `..`
/// and symlinks cannot escape).
pub fn check_cwd(roots: &[PathBuf], cwd: &Path) -> Result<PathBuf, AgentError> {
    let resolved = cwd.canonicalize().map_err(|source| AgentError::Cwd {
        cwd: cwd.to_path_buf(),
        reason: source.to_string(),
    })?;
    if !resolved.is_dir() {
        return Err(AgentError::Cwd {
            cwd: cwd.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let inside = roots.iter().any(|root| {
        root.canonicalize()
            .map(|root| resolved.starts_with(root))
            .unwrap_or(false)
    });
    if inside {
        Ok(resolved)
    } else {
        Err(AgentError::CwdOutsideRoots {
            cwd: resolved,
            roots: roots.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn minimal_command_line_is_exact() {
        let args = build_args(
            &AgentConfig::default(),
            &TaskOptions::default(),
            &SessionArg::New("11111111-2222-3333-4444-555555555555".into()),
        );
        assert_eq!(
            strs(&args),
            [
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--session-id",
                "11111111-2222-3333-4444-555555555555",
                "--include-partial-messages",
            ]
        );
        let quiet = AgentConfig {
            partial_messages: false,
            ..AgentConfig::default()
        };
        let args = build_args(
            &quiet,
            &TaskOptions::default(),
            &SessionArg::New("s".into()),
        );
        assert!(!args.iter().any(|a| a == "--include-partial-messages"));
    }

    #[test]
    fn full_command_line_is_exact_and_the_task_model_wins() {
        let config = AgentConfig {
            model: Some("sonnet".into()),
            max_turns: Some(3),
            permission_mode: Some("default".into()),
            allowed_tools: vec!["Bash(git *)".into(), "Read".into()],
            tools: Some(vec!["Bash".into(), "Read".into()]),
            append_system_prompt: Some("Be brief.".into()),
            extra_args: vec!["--strict-mcp-config".into()],
            permissions: Some(Default::default()),
            ..AgentConfig::default()
        };
        let task = TaskOptions {
            model: Some("opus".into()),
            max_budget_usd: Some(0.25),
            json_schema: Some(r#"{"type":"object"}"#.into()),
            disallowed_tools: vec!["EnterWorktree".into(), "ExitWorktree".into()],
            ..TaskOptions::default()
        };
        let args = build_args(&config, &task, &SessionArg::Resume("abc".into()));
        assert_eq!(
            strs(&args),
            [
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--resume",
                "abc",
                "--model",
                "opus",
                "--max-turns",
                "3",
                "--permission-mode",
                "default",
                "--permission-prompt-tool",
                "stdio",
                "--allowedTools",
                "Bash(git *),Read",
                "--tools",
                "Bash,Read",
                "--disallowedTools",
                "EnterWorktree,ExitWorktree",
                "--append-system-prompt",
                "Be brief.",
                "--max-budget-usd",
                "0.250000",
                "--json-schema",
                r#"{"type":"object"}"#,
                "--include-partial-messages",
                "--strict-mcp-config",
            ]
        );
    }

    #[test]
    fn no_tools_passes_an_empty_tools_argument() {
        let config = AgentConfig {
            tools: Some(vec![]),
            ..AgentConfig::default()
        };
        let args = build_args(
            &config,
            &TaskOptions::default(),
            &SessionArg::New("s".into()),
        );
        let i = args.iter().position(|a| a == "--tools").unwrap();
        assert_eq!(args[i + 1], "");
    }

    #[test]
    fn env_is_rebuilt_from_the_allowlist_without_claude_internals() {
        let config = AgentConfig {
            env: BTreeMap::from([
                ("CLAUDE_CODE_MAX_RETRIES".into(), "2".into()),
                ("HOME".into(), "/srv/smith".into()),
            ]),
            ..AgentConfig::default()
        };
        let task = TaskOptions {
            env: vec![("TRACEPARENT".into(), "00-abc-def-01".into())],
            ..TaskOptions::default()
        };
        let inherited = [
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("LC_ALL", "C.UTF-8"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9"),
            ("CLAUDECODE", "1"),
            ("CLAUDE_CODE_ENTRYPOINT", "cli"),
            ("AWS_SECRET_ACCESS_KEY", "nope"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let env = build_env(&config, &task, inherited);
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "ANTHROPIC_BASE_URL",
                "CLAUDE_CODE_MAX_RETRIES",
                "HOME",
                "LC_ALL",
                "PATH",
                "TRACEPARENT"
            ]
        );
        assert_eq!(env["HOME"], "/srv/smith", "configured wins over inherited");
    }

    #[test]
    fn cwd_must_lie_inside_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let inside = base.join("root/project");
        let outside = base.join("elsewhere");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let roots = vec![base.join("root")];
        assert!(check_cwd(&roots, &inside).is_ok());
        let escape = inside.join("../../elsewhere");
        let err = check_cwd(&roots, &escape).unwrap_err();
        assert!(
            err.to_string().contains("outside the configured roots"),
            "{err}"
        );
        assert!(check_cwd(&roots, &base.join("root/missing")).is_err());
        assert!(check_cwd(&[], &inside).is_err(), "no roots, no directory");
    }
}
