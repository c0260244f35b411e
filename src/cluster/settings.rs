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
    /// Where the control plane runs attempts: on this host, on worker nodes, or either.
    pub placement: Placement,
    /// A worker node's slots: attempts it runs at once (0: `limits.max_concurrent_tasks`).
    pub capacity: u32,
    /// A remote attempt's lease: a node that has not been heard of for this long has lost the
    /// attempt (`node_lost`, restarted); a node cut off from NATS for half of it stops the
    /// attempt's process.
    #[serde(with = "duration")]
    pub lease: Duration,
    /// How often a worker node says it is alive (its entry in the nodes bucket); three missed
    /// in a row and the control plane counts it lost.
    #[serde(with = "duration")]
    pub node_heartbeat: Duration,
    /// How long a remote attempt may wait for a node to take it before the control plane takes
    /// it back (`node_lost`, restarted under the request's strategy).
    #[serde(with = "duration")]
    pub start_timeout: Duration,
}

/// Where attempts run (`cluster.placement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// On this host only.
    Local,
    /// On worker nodes only (an attempt waits for a free node slot).
    Remote,
    /// On a worker node when one has a free slot, else on this host.
    #[default]
    Any,
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
            placement: Placement::Any,
            capacity: 0,
            lease: Duration::from_secs(10),
            node_heartbeat: Duration::from_secs(2),
            start_timeout: Duration::from_secs(30),
        }
    }
}

impl ClusterSettings {
    /// Values that do not go together, by key.
    pub fn check(&self) -> Result<(), Invalid> {
        let keys = [
            ("cluster.connect_timeout", self.connect_timeout),
            ("cluster.lease", self.lease),
            ("cluster.node_heartbeat", self.node_heartbeat),
            ("cluster.start_timeout", self.start_timeout),
        ];
        check_durations(&keys, &keys.map(|(k, _)| k))?;
        if self.lease < Duration::from_millis(400) {
            return Err(Invalid::new(
                "cluster.lease",
                "at least 400ms: a node renews it four times per lease",
            ));
        }
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
