//! Where the pinned real CLI is installed and how it runs offline against the fake API — a leaf
//! (no other support module), shared by the tests and the benchmarks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use smith::agent::AgentConfig;

pub fn install_dir() -> PathBuf {
    std::env::var_os("SMITH_CLAUDE_CLI_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/claude-cli"))
}

/// Path of the installed executable (whether or not it exists).
pub fn cli_path() -> PathBuf {
    install_dir().join("node_modules/@anthropic-ai/claude-code-linux-x64/claude")
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
