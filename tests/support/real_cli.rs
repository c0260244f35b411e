//! The real Claude Code CLI for tests: `@anthropic-ai/claude-code@2.1.332`, installed by npm into
//! `target/claude-cli/` by `.ci/run` (never by the tests), run offline against the fake API.
//!
//! If it is not installed, the tests fail saying how to install it. They are skipped only when
//! `SMITH_SKIP_REAL_CLI=1` is set explicitly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use smith::agent::AgentConfig;

/// The pinned version.
pub const CLI_VERSION: &str = "2.1.332";

fn install_dir() -> PathBuf {
    std::env::var_os("SMITH_CLAUDE_CLI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/claude-cli"))
}

/// Path of the installed executable (whether or not it exists).
pub fn cli_path() -> PathBuf {
    install_dir().join("node_modules/@anthropic-ai/claude-code-linux-x64/claude")
}

/// The real CLI (installed by `.ci/run`); `None` only when `SMITH_SKIP_REAL_CLI=1`.
pub fn real_cli() -> Option<PathBuf> {
    if std::env::var("SMITH_SKIP_REAL_CLI").as_deref() == Ok("1") {
        println!("SMITH_SKIP_REAL_CLI=1: this real-CLI test is skipped");
        return None;
    }
    let path = cli_path();
    assert!(
        path.exists(),
        "the Claude CLI {CLI_VERSION} is not installed at {}: run `bash .ci/run` once, or \
         `npm install --prefix target/claude-cli @anthropic-ai/claude-code@{CLI_VERSION}` \
         (SMITH_SKIP_REAL_CLI=1 skips the real-CLI tests)",
        path.display()
    );
    Some(path)
}

/// A config running the real CLI in `root` against the fake API at `api_url`: everything it
/// writes stays under `root`, retries are few and quick.
pub fn real_cli_config(cli: &Path, root: &Path, api_url: &str) -> AgentConfig {
    let home = root.join("home");
    let tmp = root.join("tmp");
    let run = root.join("run");
    for d in [&home, &tmp, &run] {
        std::fs::create_dir_all(d).unwrap();
    }
    let env = [
        ("ANTHROPIC_BASE_URL", api_url.to_string()),
        ("ANTHROPIC_API_KEY", "dummy".into()),
        ("HOME", home.display().to_string()),
        (
            "CLAUDE_CONFIG_DIR",
            home.join(".claude").display().to_string(),
        ),
        ("DISABLE_TELEMETRY", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("TMPDIR", tmp.display().to_string()),
        ("CLAUDE_CODE_TMPDIR", tmp.display().to_string()),
        ("XDG_RUNTIME_DIR", run.display().to_string()),
        ("CLAUDE_CODE_MAX_RETRIES", "1".into()),
        ("API_TIMEOUT_MS", "10000".into()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into_iter()
    .collect();
    AgentConfig {
        program: cli.to_path_buf(),
        roots: vec![root.to_path_buf()],
        env,
        timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(30),
        result_grace: Duration::from_secs(5),
        interrupt_grace: Duration::from_secs(3),
        term_grace: Duration::from_secs(2),
        ..AgentConfig::default()
    }
}

/// Configures `d` to run the real CLI against the fake API at `api_url`, with `agent_extra`
/// lines added to `[agent]` and `env_extra` to `[agent.env]`.
pub fn configure_daemon(
    d: &super::daemon::Daemon,
    cli: &Path,
    api_url: &str,
    agent_extra: &str,
    env_extra: &[(&str, &str)],
) {
    let mut vars = real_cli_config(cli, &d.work(), api_url).env;
    for (k, v) in env_extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let mut env = String::new();
    for (k, v) in &vars {
        env.push_str(&format!("{k} = {v:?}\n"));
    }
    d.write_config(&format!(
        "[agent]\nprogram = {:?}\nroots = [{:?}]\ninterrupt_grace = \"2s\"\nterm_grace = \"1s\"\n{agent_extra}\n\n[agent.env]\n{env}",
        cli.display().to_string(),
        d.work().display().to_string()
    ));
}
