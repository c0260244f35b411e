//! Logging (and, when configured, OpenTelemetry export): `tracing` to stderr, human or JSON,
//! filtered by `RUST_LOG` or `service.log_level`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter is not valid.
    #[error("invalid log filter {filter:?}: {reason}")]
    Filter {
        /// The filter.
        filter: String,
        /// Why.
        reason: String,
    },
    /// A subscriber was already installed.
    #[error("logging is already set up: {0}")]
    Init(String),
}

/// Installs the global subscriber: stderr, `human` or `json`, `RUST_LOG` over `level`.
pub fn init_logging(format: &str, level: &str) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => f,
        _ => level.to_string(),
    };
    let env_filter = EnvFilter::try_new(&filter).map_err(|e| TelemetryError::Filter {
        filter: filter.clone(),
        reason: e.to_string(),
    })?;
    let registry = tracing_subscriber::registry().with(env_filter);
    let result = if format == "json" {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
    result.map_err(|e| TelemetryError::Init(e.to_string()))
}
