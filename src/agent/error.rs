//! Errors of the agent module.

use std::path::PathBuf;

/// What can go wrong before a `claude` process runs.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The working directory cannot be used.
    #[error("working directory {cwd}: {reason}")]
    Cwd {
        /// The directory asked for.
        cwd: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The working directory is not under any configured root.
    #[error("working directory {cwd} is outside the configured roots {roots:?} (agent.roots)")]
    CwdOutsideRoots {
        /// The resolved directory.
        cwd: PathBuf,
        /// The configured roots.
        roots: Vec<PathBuf>,
    },
}
