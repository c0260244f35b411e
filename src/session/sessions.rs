//! [`Sessions`]: a dynamic supervisor (one_for_one) of Session actors by name. A Session is
//! started on first use, retires after `limits.session_idle_timeout` without work and comes back
//! (its context reloaded from the store) on demand; a crashed one is restarted. At most
//! `limits.max_live_sessions` are live: the one idle the longest makes room for a new one.
//! Finding a Session and waiting for all of them to be idle follow the [`Registry`]'s events.

use std::time::Duration;

use ractor::{Actor, ActorCell, ActorRef, rpc::CallResult};

use crate::protocol::SessionStatus;
use crate::store::queries;
use crate::supervisor::{
    Backoff, ChildSpec, ChildStart, Restart, Shutdown, Strategy, SupervisorError, SupervisorFlags,
    SupervisorRef, SupervisorSpec,
};

use crate::protocol::Isolation;
use crate::workspace::Checkout;

use super::actor::SessionActor;
use super::error::SessionError;
use super::event_queue::EventSink;
use super::message::{SessionDeps, SessionMsg};
use super::registry::{Claim, Lease, Presence, Registry};
use super::request::RequestSpec;
use super::validate::{check_session_name, validate};

/// How long a session may take to answer a status or interrupt query.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a Session that is (re)starting or retiring.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The sessions of a service.
#[derive(Clone)]
pub struct Sessions {
    sup: SupervisorRef,
    deps: SessionDeps,
    registry: Registry,
}

impl Sessions {
    /// Starts the Sessions supervisor (linked to `parent` when given).
    pub async fn start(
        deps: SessionDeps,
        parent: Option<ActorCell>,
    ) -> Result<Self, SupervisorError> {
        let spec = SupervisorSpec::new("sessions")
            .flags(SupervisorFlags {
                strategy: Strategy::OneForOne,
                max_restarts: deps.config.supervision.session_max_restarts.max(1),
                period: Duration::from_secs(60),
                backoff: Backoff::quick(),
                ..SupervisorFlags::default()
            })
            .observer(crate::telemetry::metrics::escalation_counter());
        let (sup, done) = match parent {
            Some(p) => SupervisorRef::start_linked(spec, p).await?,
            None => SupervisorRef::start(spec).await?,
        };
        let registry = Registry::default();
        // Once the supervisor is gone, no Session comes back by itself.
        let r = registry.clone();
        tokio::spawn(async move {
            let _ = done.await;
            r.clear();
        });
        Ok(Self {
            sup,
            deps,
            registry,
        })
    }

    /// The supervisor (for the status tree and shutdown).
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.sup
    }

    fn child_spec(&self, name: &str) -> ChildSpec {
        let deps = self.deps.clone();
        let registry = self.registry.clone();
        let session = name.to_string();
        // A Session stops its request runs (each within the tasks' stop budget) before it exits.
        let grace = deps.agent.stop_budget() * 2 + Duration::from_secs(5);
        ChildSpec::new(name, move |sup: ActorCell| {
            let args = (session.clone(), deps.clone(), registry.clone());
            let (name, registry) = (session.clone(), registry.clone());
            async move {
                let (actor, _) = Actor::spawn_linked(None, SessionActor, args, sup).await?;
                registry.live(&name, actor.clone());
                Ok(ChildStart::Started(actor.get_cell()))
            }
        })
        // A retired Session exits normally and is not restarted; a crashed one is.
        .restart(Restart::Transient)
        .shutdown(Shutdown::Timeout(grace))
    }

    /// The Session named `name`, started (or brought back) if it does not run, with a lease
    /// that keeps it from retiring while the caller talks to it.
    pub async fn session(&self, name: &str) -> Result<(ActorRef<SessionMsg>, Lease), SessionError> {
        check_session_name(name)?;
        let unreachable = |reason: &str| SessionError::Unreachable {
            session: name.to_string(),
            reason: reason.into(),
        };
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let Claim {
                presence,
                claimed,
                mut changes,
                lease,
            } = self.registry.claim(name);
            match (presence, lease) {
                (Presence::Live(actor), Some(lease)) => return Ok((actor, lease)),
                (presence, _) if claimed => {
                    let retired = matches!(presence, Presence::Retired);
                    return match self.start_session(name, retired).await {
                        Ok(actor) => Ok((actor, self.registry.lease(name))),
                        Err(e) => {
                            self.registry.unclaim(name);
                            Err(e)
                        }
                    };
                }
                _ => {
                    // Starting (by another caller), restarting (by the supervisor) or retiring.
                    if tokio::time::timeout_at(deadline, changes.changed())
                        .await
                        .is_err()
                    {
                        return Err(unreachable(
                            "it is restarting and did not come back in 10 s",
                        ));
                    }
                }
            }
        }
    }

    async fn start_session(
        &self,
        name: &str,
        retired: bool,
    ) -> Result<ActorRef<SessionMsg>, SessionError> {
        let unreachable = |reason: String| SessionError::Unreachable {
            session: name.to_string(),
            reason,
        };
        self.make_room(name).await?;
        if retired {
            // A retired Session stays in the supervisor as terminated: forget it first.
            let _ = self.sup.terminate_child(name).await;
        }
        match self.sup.start_child(self.child_spec(name)).await {
            Ok(Some(cell)) => Ok(ActorRef::from(cell)),
            Ok(None) => Err(unreachable("it declined to start".into())),
            Err(e) => Err(unreachable(e.to_string())),
        }
    }

    /// Keeps live Sessions within `limits.max_live_sessions` by retiring the one idle the
    /// longest; when every one has work, the new one is refused.
    async fn make_room(&self, name: &str) -> Result<(), SessionError> {
        let limit = self.deps.config.limits.max_live_sessions;
        while self.registry.live_count() > limit {
            let Some((idle, actor)) = self.registry.longest_idle(name) else {
                return Err(SessionError::TooManySessions { limit });
            };
            let mut changes = self.registry.watch(&idle);
            let _ = actor.cast(SessionMsg::Retire);
            let gone = tokio::time::timeout(
                START_TIMEOUT,
                changes.wait_for(|p| !matches!(p, Presence::Live(_))),
            )
            .await;
            if gone.is_err() {
                return Err(SessionError::TooManySessions { limit });
            }
        }
        Ok(())
    }

    /// Submits a request; returns its id once it is committed.
    pub async fn submit(
        &self,
        spec: RequestSpec,
        events: Option<EventSink>,
    ) -> Result<String, SessionError> {
        // A request that cannot run never creates a Session.
        let mut spec = validate(spec, &self.deps.config)?;
        if let Some(spent) = self.deps.ledger.reached(&spec.session) {
            return Err(SessionError::OverBudget(spent));
        }
        let isolation = spec.isolate.unwrap_or(self.deps.agent.isolation);
        spec.isolate = Some(isolation);
        if isolation == Isolation::Worktree {
            if let Some(why) = self.deps.workspaces.unusable() {
                return Err(SessionError::Invalid(why.to_string()));
            }
            spec.checkout = Some(Checkout::inspect(&spec.cwd).await?);
        }
        let (session, _lease) = self.session(&spec.session).await?;
        let name = spec.session.clone();
        call(&name, &session, |reply| SessionMsg::Submit {
            spec: Box::new(spec),
            events,
            reply,
        })
        .await?
    }

    async fn owner(
        &self,
        request_id: &str,
    ) -> Result<(String, (ActorRef<SessionMsg>, Lease)), SessionError> {
        let id = request_id.to_string();
        let session = self
            .deps
            .store
            .call(move |c| queries::request_session(c, &id))
            .await?
            .ok_or_else(|| SessionError::NotFound(request_id.to_string()))?;
        let actor = self.session(&session).await?;
        Ok((session, actor))
    }

    /// Attaches `events` to a running or queued request: `request_id`, or else the one that
    /// runs (or waits first) in `session`. The id it attached to.
    pub async fn watch(
        &self,
        request_id: Option<&str>,
        session: &str,
        events: EventSink,
    ) -> Result<String, SessionError> {
        let (name, (actor, _lease)) = match request_id {
            Some(id) => self.owner(id).await?,
            None => (session.to_string(), self.session(session).await?),
        };
        let request_id = request_id.map(str::to_string);
        call(&name, &actor, |reply| SessionMsg::Watch {
            request_id,
            events,
            reply,
        })
        .await?
    }

    /// Cancels a queued or running request.
    pub async fn cancel(&self, request_id: &str) -> Result<(), SessionError> {
        let (name, (session, _lease)) = self.owner(request_id).await?;
        let request_id = request_id.to_string();
        call(&name, &session, |reply| SessionMsg::Cancel {
            request_id,
            reply,
        })
        .await?
    }

    /// Continues an interrupted request.
    pub async fn resume(
        &self,
        request_id: &str,
        events: Option<EventSink>,
    ) -> Result<(), SessionError> {
        let (name, (session, _lease)) = self.owner(request_id).await?;
        if let Some(spent) = self.deps.ledger.reached(&name) {
            return Err(SessionError::OverBudget(spent));
        }
        let request_id = request_id.to_string();
        call(&name, &session, |reply| SessionMsg::Resume {
            request_id,
            events,
            reply,
        })
        .await?
    }

    /// A spending ceiling was reached: every live Session hears it (a busy one is live), and
    /// stops its running request if that is under the ceiling.
    pub fn ceiling_reached(&self) {
        for (_, actor) in self.registry.live_sessions() {
            let _ = actor.cast(SessionMsg::CeilingReached);
        }
    }

    /// Status of every live Session (one that does not answer in time is left out, and logged).
    pub async fn status(&self) -> Vec<SessionStatus> {
        let mut out = Vec::new();
        for (name, actor) in self.registry.live_sessions() {
            match actor.call(SessionMsg::Status, Some(ANSWER_TIMEOUT)).await {
                Ok(CallResult::Success(s)) => out.push(s),
                _ => tracing::warn!(session = %name, "a session did not answer a status query"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// smithd is stopping: every running and queued request becomes `interrupted`. Returns when
    /// every Session has begun stopping its runs.
    pub async fn interrupt_all(&self) {
        for (name, actor) in self.registry.live_sessions() {
            if !matches!(
                actor
                    .call(SessionMsg::Interrupt, Some(ANSWER_TIMEOUT))
                    .await,
                Ok(CallResult::Success(()))
            ) {
                tracing::warn!(session = %name, "a session did not take the interrupt; it is stopped with the tree");
            }
        }
    }

    /// How many Sessions have a running or queued request.
    pub fn busy(&self) -> usize {
        self.registry.busy_count()
    }

    /// Resolves once no Session has a running or queued request.
    pub async fn all_idle(&self) {
        self.registry.all_idle().await
    }
}

async fn call<T: Send + 'static>(
    session: &str,
    actor: &ActorRef<SessionMsg>,
    msg: impl FnOnce(ractor::RpcReplyPort<T>) -> SessionMsg,
) -> Result<T, SessionError> {
    match actor.call(msg, None).await {
        Ok(CallResult::Success(v)) => Ok(v),
        Ok(_) => Err(SessionError::Unreachable {
            session: session.to_string(),
            reason: "it stopped before answering".into(),
        }),
        Err(e) => Err(SessionError::Unreachable {
            session: session.to_string(),
            reason: e.to_string(),
        }),
    }
}
