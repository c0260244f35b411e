//! Token usage as the CLI reports it.

use serde::{Deserialize, Serialize};

/// Token usage as the CLI reports it (on `assistant` messages and on `result`). For Anthropic,
/// `input_tokens` is only the uncached part of the input: the whole input is
/// [`Usage::total_input`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens neither read from nor written to the prompt cache.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
}

impl Usage {
    /// The whole input, as the GenAI conventions count it: uncached input plus cache reads plus
    /// cache writes.
    pub fn total_input(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_input_tokens)
            .saturating_add(self.cache_creation_input_tokens)
    }
}
