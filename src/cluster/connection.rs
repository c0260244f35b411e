//! The control plane's connection to NATS: made at start with the configured credentials; a
//! server that refuses them, is older than 2.9 or runs without JetStream stops smithd with one
//! line saying what to do; a server that cannot be reached is not fatal — smithd runs local
//! attempts only, says the cluster is down (`smith status`, `smith health`) and keeps trying,
//! and so it does when the connection drops later.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{ConnectErrorKind, ConnectOptions, Event};
use tokio::sync::watch;

use super::settings::ClusterSettings;
use crate::protocol::{ClusterState, ClusterStatus};

/// The oldest server smith works with (Debian 12 ships 2.9.10).
pub const REQUIRED: (u64, u64) = (2, 9);

/// Why smithd cannot use the configured cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The server refused the credentials.
    #[error(
        "nats-server at {url} refused smithd's credentials ({why}): check cluster.user / cluster.password, cluster.nkey_file or cluster.creds_file"
    )]
    Refused {
        /// The server.
        url: String,
        /// What it said.
        why: String,
    },
    /// The TLS setup failed, or a file of the credentials cannot be read.
    #[error(
        "cannot connect to nats-server at {url}: {why} (check the cluster.tls_* and credential files)"
    )]
    Setup {
        /// The server.
        url: String,
        /// Why.
        why: String,
    },
    /// The URL is not one.
    #[error("cluster.nats_url {url:?} is not a NATS URL (nats://host:4222): {why}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The server is too old.
    #[error(
        "nats-server at {url} is version {found}; smith needs 2.9 or later (Debian 12's nats-server 2.9.10 will do)"
    )]
    Version {
        /// The server.
        url: String,
        /// Its version.
        found: String,
    },
    /// The server runs without JetStream.
    #[error("nats-server at {url} runs without JetStream: start it with -js (nats-server -js)")]
    NoJetStream {
        /// The server.
        url: String,
    },
}

/// The connection.
pub struct Cluster {
    url: String,
    node: String,
    state: watch::Sender<ClusterStatus>,
    client: Mutex<Option<async_nats::Client>>,
}

impl Cluster {
    /// Connects as `settings` say (`None`: no cluster configured). A server that cannot be
    /// reached is retried in the background; one that refuses smithd is an error.
    pub async fn connect(settings: &ClusterSettings) -> Result<Option<Arc<Self>>, ClusterError> {
        let Some(url) = settings.nats_url.clone() else {
            return Ok(None);
        };
        let node = settings.node();
        let cluster = Arc::new(Self {
            state: watch::Sender::new(ClusterStatus {
                state: ClusterState::Down,
                url: Some(url.clone()),
                node: Some(node.clone()),
                ..ClusterStatus::default()
            }),
            url,
            node,
            client: Mutex::new(None),
        });
        match cluster.try_connect(settings).await {
            Ok(()) => {}
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Unreachable(why)) => {
                tracing::warn!(url = %cluster.url, error = %why, "nats-server cannot be reached: running local attempts only; trying again");
                cluster.down(&why);
                let retry = cluster.clone();
                let settings = settings.clone();
                tokio::spawn(async move { retry.keep_trying(settings).await });
            }
        }
        Ok(Some(cluster))
    }

    /// The cluster as `smith status` shows it.
    pub fn status(&self) -> ClusterStatus {
        self.state.borrow().clone()
    }

    async fn keep_trying(self: Arc<Self>, settings: ClusterSettings) {
        let mut wait = Duration::from_millis(500);
        loop {
            tokio::time::sleep(wait).await;
            match self.try_connect(&settings).await {
                Ok(()) => return,
                Err(Attempt::Fatal(e)) => {
                    tracing::error!(error = %e, "the cluster cannot be used; running local attempts only");
                    self.down(&e.to_string());
                    return;
                }
                Err(Attempt::Unreachable(why)) => {
                    self.down(&why);
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    fn down(&self, why: &str) {
        let since = crate::store::records::now_ms();
        self.state.send_modify(|s| {
            if s.state != ClusterState::Down || s.since_ms.is_none() {
                s.since_ms = Some(since);
            }
            s.state = ClusterState::Down;
            s.error = Some(why.to_string());
        });
    }

    async fn try_connect(self: &Arc<Self>, settings: &ClusterSettings) -> Result<(), Attempt> {
        let options = self.options(settings).await?;
        let client = match options.connect(self.url.as_str()).await {
            Ok(c) => c,
            Err(e) => return Err(classify(&self.url, e)),
        };
        let info = client.server_info();
        if !version_ok(&info.version) {
            return Err(Attempt::Fatal(ClusterError::Version {
                url: self.url.clone(),
                found: info.version,
            }));
        }
        if !info.jetstream {
            return Err(Attempt::Fatal(ClusterError::NoJetStream {
                url: self.url.clone(),
            }));
        }
        tracing::info!(url = %self.url, server = %info.version, node = %self.node, "connected to nats-server");
        *self.client.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
        self.state.send_modify(|s| {
            s.state = ClusterState::Connected;
            s.server_version = Some(info.version.clone());
            s.since_ms = Some(crate::store::records::now_ms());
            s.error = None;
        });
        Ok(())
    }

    /// The client, once connected (it reconnects by itself after that).
    pub fn client(&self) -> Option<async_nats::Client> {
        self.client
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The client, once the first connection is made.
    pub async fn wait_client(&self) -> async_nats::Client {
        let mut changes = self.state.subscribe();
        loop {
            if let Some(c) = self.client() {
                return c;
            }
            if changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Whether the connection is up now.
    pub fn is_connected(&self) -> bool {
        self.state.borrow().state == ClusterState::Connected
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    async fn options(self: &Arc<Self>, s: &ClusterSettings) -> Result<ConnectOptions, Attempt> {
        let setup = |why: String| {
            Attempt::Fatal(ClusterError::Setup {
                url: self.url.clone(),
                why,
            })
        };
        let mut o = match &s.creds_file {
            Some(path) => ConnectOptions::new()
                .credentials_file(path)
                .await
                .map_err(|e| setup(format!("cluster.creds_file {path}: {e}")))?,
            None => ConnectOptions::new(),
        };
        if let (Some(user), Some(password)) = (&s.user, &s.password) {
            o = o.user_and_password(user.clone(), password.clone());
        }
        if let Some(path) = &s.nkey_file {
            let seed = std::fs::read_to_string(path)
                .map_err(|e| setup(format!("cluster.nkey_file {path}: {e}")))?;
            o = o.nkey(seed.trim().to_string());
        }
        if s.tls {
            o = o.require_tls(true);
        }
        if let Some(ca) = ClusterSettings::path(&s.tls_ca_file) {
            o = o.add_root_certificates(ca);
        }
        if let (Some(cert), Some(key)) = (
            ClusterSettings::path(&s.tls_cert_file),
            ClusterSettings::path(&s.tls_key_file),
        ) {
            o = o.add_client_certificate(cert, key);
        }
        let me = Arc::downgrade(self);
        Ok(o.name(format!("smithd {}", self.node))
            .connection_timeout(s.connect_timeout)
            .event_callback(move |event| {
                let me = me.clone();
                async move {
                    let Some(cluster) = me.upgrade() else {
                        return;
                    };
                    match event {
                        Event::Disconnected => {
                            tracing::warn!(url = %cluster.url, "lost nats-server: running local attempts only; reconnecting");
                            cluster.down("disconnected");
                        }
                        // The first connection is said by `try_connect`.
                        Event::Connected if !cluster.is_connected() => {
                            tracing::info!(url = %cluster.url, "reconnected to nats-server");
                            cluster.state.send_modify(|s| {
                                s.state = ClusterState::Connected;
                                s.since_ms = Some(crate::store::records::now_ms());
                                s.error = None;
                            });
                        }
                        _ => {}
                    }
                }
            }))
    }
}

/// One connection attempt's failure.
enum Attempt {
    /// Trying again will not help.
    Fatal(ClusterError),
    /// The server is not there (yet).
    Unreachable(String),
}

fn classify(url: &str, e: async_nats::ConnectError) -> Attempt {
    let why = e.to_string();
    match e.kind() {
        ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
            Attempt::Fatal(ClusterError::Refused {
                url: url.to_string(),
                why,
            })
        }
        ConnectErrorKind::ServerParse => Attempt::Fatal(ClusterError::Url {
            url: url.to_string(),
            why,
        }),
        ConnectErrorKind::Tls => Attempt::Fatal(ClusterError::Setup {
            url: url.to_string(),
            why,
        }),
        _ => Attempt::Unreachable(why),
    }
}

/// Whether a server's version (`2.9.10`, `2.10.0-beta`) is at least [`REQUIRED`].
pub fn version_ok(version: &str) -> bool {
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= REQUIRED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_from_2_9_on_will_do() {
        assert!(version_ok("2.9.10"));
        assert!(version_ok("2.10.0-beta.1"));
        assert!(version_ok("3.0.0"));
        assert!(!version_ok("2.8.4"));
        assert!(!version_ok("garbage"));
    }
}
