//! The `[telemetry]` section of the configuration (and how logs are written, `service.log_format`).

use serde::{Deserialize, Serialize};

use crate::settings::Invalid;

/// Logs as lines for people or as JSON objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per event.
    Json,
}

/// `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// OTLP endpoint (empty: no export; `OTEL_EXPORTER_OTLP_ENDPOINT` also enables it).
    pub otlp_endpoint: String,
    /// `grpc` or `http/protobuf`.
    pub otlp_protocol: String,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Address of a Prometheus scrape endpoint (empty: off).
    pub prometheus_listen: String,
    /// Record prompt and answer text in span attributes.
    pub record_content: bool,
    /// Turn on Claude Code's own telemetry in each process, exporting to the same endpoint.
    pub claude_code_telemetry: bool,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            otlp_protocol: "grpc".into(),
            service_name: "smithd".into(),
            prometheus_listen: String::new(),
            record_content: false,
            claude_code_telemetry: false,
        }
    }
}

impl TelemetrySettings {
    /// The OTLP endpoint to use: the config's, else `OTEL_EXPORTER_OTLP_ENDPOINT` (or a
    /// signal-specific one), else none.
    pub fn otlp_endpoint(&self) -> Option<String> {
        if !self.otlp_endpoint.is_empty() {
            return Some(self.otlp_endpoint.clone());
        }
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    }

    /// The environment that turns on Claude Code's own telemetry (`claude_code_telemetry`),
    /// exporting to the same endpoint. Empty when off.
    pub fn claude_code_env(&self) -> Vec<(String, String)> {
        if !self.claude_code_telemetry {
            return Vec::new();
        }
        let mut env = vec![
            ("CLAUDE_CODE_ENABLE_TELEMETRY".to_string(), "1".to_string()),
            ("OTEL_METRICS_EXPORTER".to_string(), "otlp".to_string()),
            ("OTEL_LOGS_EXPORTER".to_string(), "otlp".to_string()),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL".to_string(),
                self.otlp_protocol.clone(),
            ),
        ];
        if let Some(e) = self.otlp_endpoint() {
            env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), e));
        }
        env
    }

    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        if !matches!(self.otlp_protocol.as_str(), "grpc" | "http/protobuf") {
            return Err(Invalid::new(
                "telemetry.otlp_protocol",
                format!(
                    "{:?} must be \"grpc\" or \"http/protobuf\"",
                    self.otlp_protocol
                ),
            ));
        }
        Ok(())
    }
}
