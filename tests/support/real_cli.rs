//! The real Claude Code CLI for tests: `@anthropic-ai/claude-code@2.1.332`, installed by npm into
//! `target/claude-cli/` by `.ci/run` (never by the tests), run offline against the fake API.
//!
//! If it is not installed, the tests fail saying how to install it. They are skipped only when
//! `SMITH_SKIP_REAL_CLI=1` is set explicitly.

use std::path::{Path, PathBuf};

pub use super::real_cli_env::{cli_path, real_cli_config};

/// The pinned version.
pub const CLI_VERSION: &str = "2.1.332";

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
