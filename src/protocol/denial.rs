//! A tool call the CLI refused on its own (headless, nothing allowed it): what clients see of it,
//! so that a worker's silently worse answer is never the only trace.

use serde::{Deserialize, Serialize};

/// One refused tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolDenial {
    /// The tool (`Bash`, `Edit`, …).
    pub tool: String,
    /// What it was asked to do, readably (a Bash command, a file path; control characters
    /// replaced, a long one cut with a mark).
    pub input: String,
    /// Why, as the CLI said it (empty when it only listed the call in its result).
    pub message: String,
}
