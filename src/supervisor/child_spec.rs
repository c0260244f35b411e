//! Child specifications: how a supervisor starts, restarts and stops one child.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorCell, ActorProcessingErr};
use serde::{Deserialize, Serialize};

use super::exit_reason::ExitReason;

/// Identifies a child within its supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChildId(pub String);

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ChildId {
    fn from(s: &str) -> Self {
        ChildId(s.to_string())
    }
}

impl From<String> for ChildId {
    fn from(s: String) -> Self {
        ChildId(s)
    }
}

/// When a child is restarted after it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted.
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit.
    Transient,
    /// Never restarted, not even as a bystander of one_for_all / rest_for_one (it is removed).
    Temporary,
}

impl Restart {
    /// Whether a child of this type that exited with `reason` on its own is restarted.
    pub fn should_restart(self, reason: &ExitReason) -> bool {
        match self {
            Restart::Permanent => true,
            Restart::Transient => reason.is_abnormal(),
            Restart::Temporary => false,
        }
    }

    /// The snake_case name used in config and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Permanent => "permanent",
            Restart::Transient => "transient",
            Restart::Temporary => "temporary",
        }
    }
}

impl std::str::FromStr for Restart {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "permanent" => Ok(Restart::Permanent),
            "transient" => Ok(Restart::Transient),
            "temporary" => Ok(Restart::Temporary),
            other => Err(format!(
                "unknown restart type {other:?} (expected permanent, transient or temporary)"
            )),
        }
    }
}

/// How a supervisor stops a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shutdown {
    /// Kill at once.
    BrutalKill,
    /// Ask to stop, wait this long, then kill.
    Timeout(Duration),
    /// Ask to stop and wait as long as it takes (for child supervisors).
    Infinity,
}

impl Default for Shutdown {
    /// OTP's default for workers: 5 s.
    fn default() -> Self {
        Shutdown::Timeout(Duration::from_secs(5))
    }
}

/// Worker or supervisor, as OTP's `count_children` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// A leaf actor.
    #[default]
    Worker,
    /// A supervisor of its own children.
    Supervisor,
}

/// What a start function produced.
#[derive(Debug)]
pub enum ChildStart {
    /// The child runs; it must be linked to the supervisor cell it was given.
    Started(ActorCell),
    /// The child declined to start (OTP's `ignore`): not running, not an error.
    Ignore,
}

/// Future returned by a start function.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<ChildStart, ActorProcessingErr>> + Send>>;

/// Starts (and restarts) a child linked to the supervisor cell it is given.
pub type StartFn = Arc<dyn Fn(ActorCell) -> StartFuture + Send + Sync>;

/// Everything a supervisor needs to run one child.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique within the supervisor.
    pub id: ChildId,
    /// Called at first start and at every restart.
    pub start: StartFn,
    /// When to restart.
    pub restart: Restart,
    /// How to stop.
    pub shutdown: Shutdown,
    /// A significant child's own exit can stop the supervisor (see `AutoShutdown`).
    pub significant: bool,
    /// Worker or supervisor.
    pub kind: ChildKind,
}

impl ChildSpec {
    /// A permanent worker with a 5 s shutdown timeout, started by `start`, which must link the
    /// child to the supervisor cell it receives (e.g. with `Actor::spawn_linked`).
    pub fn new<F, Fut>(id: impl Into<ChildId>, start: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ChildStart, ActorProcessingErr>> + Send + 'static,
    {
        Self {
            id: id.into(),
            start: Arc::new(move |sup| Box::pin(start(sup))),
            restart: Restart::Permanent,
            shutdown: Shutdown::default(),
            significant: false,
            kind: ChildKind::Worker,
        }
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets the shutdown.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child significant (it cannot be permanent).
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Sets the kind (worker or supervisor).
    pub fn kind(mut self, kind: ChildKind) -> Self {
        self.kind = kind;
        self
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("significant", &self.significant)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_matrix_follows_otp() {
        let normal = ExitReason::Normal;
        let shutdown = ExitReason::Shutdown(None);
        let abnormal = ExitReason::Failed("boom".into());
        let cases = [
            (Restart::Permanent, [true, true, true]),
            (Restart::Transient, [false, false, true]),
            (Restart::Temporary, [false, false, false]),
        ];
        for (restart, expected) in cases {
            let got = [&normal, &shutdown, &abnormal].map(|r| restart.should_restart(r));
            assert_eq!(got, expected, "{restart:?}");
        }
    }
}
