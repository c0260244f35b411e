//! The `[service]` section of the configuration: where smithd keeps its state, its control
//! socket (which `smith` finds through it too) and the deadlines it holds clients to, how it
//! logs, how long it lets requests finish.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::paths::{default_data_dir, default_socket};
use crate::protocol::MAX_FRAME_BYTES;
use crate::settings::{Invalid, check_durations, check_min, duration};
use crate::telemetry::LogFormat;

/// `[service]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// Where the database and the lock live.
    pub data_dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// On SIGTERM/SIGINT, how long running requests may finish before they are interrupted.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// Logs as lines for people or JSON.
    pub log_format: LogFormat,
    /// A tracing filter (`info`, `smith=debug`, …); `RUST_LOG` wins when set.
    pub log_level: String,
    /// A client must say hello within this.
    #[serde(with = "duration")]
    pub handshake_timeout: Duration,
    /// A connection silent this long between requests is closed.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Once a frame began, all of it must arrive within this.
    #[serde(with = "duration")]
    pub frame_timeout: Duration,
    /// A client must take each reply within this, or it is disconnected.
    #[serde(with = "duration")]
    pub write_timeout: Duration,
    /// Largest control frame accepted.
    pub max_frame_bytes: usize,
    /// Connections served at once.
    pub max_clients: usize,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            socket: default_socket(),
            shutdown_grace: Duration::from_secs(30),
            log_format: LogFormat::Human,
            log_level: "info".into(),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_frame_bytes: 16 * 1024 * 1024,
            max_clients: 256,
        }
    }
}

impl ServiceSettings {
    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("smith.db")
    }

    /// Attempts' transcripts: `<data_dir>/transcripts/<request>/<task>-<attempt>.jsonl`.
    pub fn transcripts_dir(&self) -> PathBuf {
        self.data_dir.join("transcripts")
    }

    /// `XDG_RUNTIME_DIR` of every worker: `<data_dir>/worker-run`, apart from smithd's socket.
    pub fn worker_runtime_dir(&self) -> PathBuf {
        self.data_dir.join("worker-run")
    }

    /// Values out of range, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[
                ("service.shutdown_grace", self.shutdown_grace),
                ("service.handshake_timeout", self.handshake_timeout),
                ("service.idle_timeout", self.idle_timeout),
                ("service.frame_timeout", self.frame_timeout),
                ("service.write_timeout", self.write_timeout),
            ],
            &[
                "service.handshake_timeout",
                "service.idle_timeout",
                "service.frame_timeout",
                "service.write_timeout",
            ],
        )?;
        if !(4096..=MAX_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return Err(Invalid::new(
                "service.max_frame_bytes",
                format!("must be between 4096 and {MAX_FRAME_BYTES} (the protocol's ceiling)"),
            ));
        }
        check_min("service.max_clients", self.max_clients, 1)
    }
}
