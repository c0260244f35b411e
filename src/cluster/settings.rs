//! `[cluster]`: where the NATS server is and how smithd authenticates to it. An empty `nats_url`
//! is a single machine — exactly smith without a cluster.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::{Invalid, check_durations, duration, empty_is_none};

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// `nats://host:4222` (several, comma-separated); empty: a single machine.
    #[serde(with = "empty_is_none")]
    pub nats_url: Option<String>,
    /// User name (with `password`).
    #[serde(with = "empty_is_none")]
    pub user: Option<String>,
    /// Password (with `user`).
    #[serde(with = "empty_is_none")]
    pub password: Option<String>,
    /// A file holding an nkey seed.
    #[serde(with = "empty_is_none")]
    pub nkey_file: Option<String>,
    /// A NATS credentials file (JWT and seed).
    #[serde(with = "empty_is_none")]
    pub creds_file: Option<String>,
    /// Require TLS.
    pub tls: bool,
    /// CA certificates that sign the server's (PEM).
    #[serde(with = "empty_is_none")]
    pub tls_ca_file: Option<String>,
    /// This node's certificate and key, for servers that verify clients (PEM).
    #[serde(with = "empty_is_none")]
    pub tls_cert_file: Option<String>,
    /// The key of `tls_cert_file`.
    #[serde(with = "empty_is_none")]
    pub tls_key_file: Option<String>,
    /// This node's name (empty: the host name).
    #[serde(with = "empty_is_none")]
    pub node_name: Option<String>,
    /// How long one connection attempt may take.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            nats_url: None,
            user: None,
            password: None,
            nkey_file: None,
            creds_file: None,
            tls: false,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            node_name: None,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl ClusterSettings {
    /// Values that do not go together, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        check_durations(
            &[("cluster.connect_timeout", self.connect_timeout)],
            &["cluster.connect_timeout"],
        )?;
        if self.user.is_some() != self.password.is_some() {
            return Err(Invalid::new(
                "cluster.user",
                "user and password go together: set both, or neither",
            ));
        }
        let ways = [
            self.user.is_some(),
            self.nkey_file.is_some(),
            self.creds_file.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() > 1 {
            return Err(Invalid::new(
                "cluster.creds_file",
                "one way to authenticate: user and password, nkey_file, or creds_file",
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(Invalid::new(
                "cluster.tls_cert_file",
                "tls_cert_file and tls_key_file go together",
            ));
        }
        Ok(())
    }

    /// This node's name: `node_name`, else the host name.
    pub fn node(&self) -> String {
        self.node_name.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "smithd".into())
        })
    }

    /// A file path of a key.
    pub fn path(value: &Option<String>) -> Option<PathBuf> {
        value.as_ref().map(PathBuf::from)
    }
}
