//! [`SupervisorRef`]: the typed handle through which everything else talks to a supervisor.

use std::time::Duration;

use ractor::{Actor, ActorCell, ActorRef, rpc::CallResult};
use tokio::task::JoinHandle;

use super::actor::{Supervisor, SupervisorMsg};
use super::child_spec::{ChildId, ChildKind, ChildSpec, ChildStart, Shutdown};
use super::error::SupervisorError;
use super::exit_reason::REASON_SHUTDOWN;
use super::flags::SupervisorSpec;
use super::status::{ChildCounts, ChildInfo, SupervisorStatus};

/// A handle to a running supervisor.
#[derive(Clone)]
pub struct SupervisorRef {
    id: String,
    actor: ActorRef<SupervisorMsg>,
}

impl SupervisorRef {
    /// Starts a top-level supervisor: validates the spec and starts its static children in
    /// order. If one fails to start, those already started are stopped and the error returned.
    pub async fn start(spec: SupervisorSpec) -> Result<(Self, JoinHandle<()>), SupervisorError> {
        let id = spec.id.clone();
        let (actor, handle) = Actor::spawn(None, Supervisor, spec)
            .await
            .map_err(|e| spawn_error(&id, e))?;
        Ok((Self { id, actor }, handle))
    }

    /// Starts a supervisor linked to `parent` (which receives its exit as a supervision event).
    pub async fn start_linked(
        spec: SupervisorSpec,
        parent: ActorCell,
    ) -> Result<(Self, JoinHandle<()>), SupervisorError> {
        let id = spec.id.clone();
        let (actor, handle) = Actor::spawn_linked(None, Supervisor, spec, parent)
            .await
            .map_err(|e| spawn_error(&id, e))?;
        Ok((Self { id, actor }, handle))
    }

    /// A child spec that runs a supervisor built by `make_spec` under another supervisor
    /// (kind supervisor, shutdown infinity, permanent).
    pub fn child_spec(
        id: impl Into<ChildId>,
        make_spec: impl Fn() -> SupervisorSpec + Send + Sync + 'static,
    ) -> ChildSpec {
        let make_spec = std::sync::Arc::new(make_spec);
        ChildSpec::new(id, move |parent| {
            let make_spec = make_spec.clone();
            async move {
                let (sup, _) = SupervisorRef::start_linked(make_spec(), parent).await?;
                Ok(ChildStart::Started(sup.cell()))
            }
        })
        .kind(ChildKind::Supervisor)
        .shutdown(Shutdown::Infinity)
    }

    /// Wraps an actor known to be a supervisor.
    pub fn from_actor(id: impl Into<String>, actor: ActorRef<SupervisorMsg>) -> Self {
        Self {
            id: id.into(),
            actor,
        }
    }

    /// The supervisor's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The underlying actor cell (to link to it or wait for it).
    pub fn cell(&self) -> ActorCell {
        self.actor.get_cell()
    }

    /// Adds and starts a dynamic child. `Ok(None)` when it declined to start.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<Option<ActorCell>, SupervisorError> {
        self.call(|reply| SupervisorMsg::StartChild(spec, reply))
            .await?
    }

    /// Stops a child by its shutdown; dynamic and temporary children are forgotten.
    pub async fn terminate_child(&self, id: impl Into<ChildId>) -> Result<(), SupervisorError> {
        let id = id.into();
        self.call(|reply| SupervisorMsg::TerminateChild(id, reply))
            .await?
    }

    /// The children in start order, with their running actor if any.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.call(SupervisorMsg::WhichChildren).await
    }

    /// Counts of specs, running children, workers and supervisors.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.call(SupervisorMsg::CountChildren).await
    }

    /// A status snapshot.
    pub async fn status(&self) -> Result<SupervisorStatus, SupervisorError> {
        self.call(SupervisorMsg::Status).await
    }

    /// Stops the supervisor gracefully: its children stop in reverse start order, each within
    /// its shutdown. Waits at most `timeout` (forever when `None`).
    pub async fn stop(&self, timeout: Option<Duration>) -> Result<(), SupervisorError> {
        self.actor
            .stop_and_wait(Some(REASON_SHUTDOWN.to_string()), timeout)
            .await
            .map_err(|e| self.unreachable(e))
    }

    async fn call<T: Send + 'static>(
        &self,
        msg: impl FnOnce(ractor::RpcReplyPort<T>) -> SupervisorMsg,
    ) -> Result<T, SupervisorError> {
        match self.actor.call(msg, None).await {
            Ok(CallResult::Success(v)) => Ok(v),
            Ok(CallResult::Timeout) => Err(self.unreachable("timed out")),
            Ok(CallResult::SenderError) => Err(self.unreachable("it stopped before answering")),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> SupervisorError {
        SupervisorError::Unreachable {
            supervisor: self.id.clone(),
            reason: reason.to_string(),
        }
    }
}

fn spawn_error(id: &str, e: ractor::SpawnErr) -> SupervisorError {
    let reason = match e {
        ractor::SpawnErr::StartupFailed(inner) => inner.to_string(),
        other => other.to_string(),
    };
    SupervisorError::Spawn {
        supervisor: id.to_string(),
        reason,
    }
}
