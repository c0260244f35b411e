//! [`Sessions`]: a dynamic supervisor (one_for_one) of Session actors by name. A Session is
//! started on first use; a crashed one is restarted and reloads its context from the store.

use std::time::Duration;

use ractor::{Actor, ActorCell, ActorRef, rpc::CallResult};

use crate::store::queries;
use crate::supervisor::{
    Backoff, ChildSpec, ChildStart, Restart, Shutdown, Strategy, SupervisorError, SupervisorFlags,
    SupervisorRef, SupervisorSpec,
};

use super::actor::{SessionActor, SessionDeps, SessionMsg};
use super::error::SessionError;
use super::event_queue::EventSink;
use super::request::RequestSpec;
use super::validate::check_session_name;
use crate::protocol::SessionStatus;

/// How long a session may take to answer a status query.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The sessions of a service.
#[derive(Clone)]
pub struct Sessions {
    sup: SupervisorRef,
    deps: SessionDeps,
}

impl Sessions {
    /// Starts the Sessions supervisor (linked to `parent` when given).
    pub async fn start(
        deps: SessionDeps,
        parent: Option<ActorCell>,
    ) -> Result<Self, SupervisorError> {
        let spec = SupervisorSpec::new("sessions").flags(SupervisorFlags {
            strategy: Strategy::OneForOne,
            max_restarts: deps.config.supervision.session_max_restarts.max(1),
            period: Duration::from_secs(60),
            backoff: Backoff {
                min: Duration::from_millis(100),
                max: Duration::from_secs(5),
                jitter: 0.2,
                reset_after: Duration::from_secs(60),
            },
            ..SupervisorFlags::default()
        });
        let (sup, _) = match parent {
            Some(p) => SupervisorRef::start_linked(spec, p).await?,
            None => SupervisorRef::start(spec).await?,
        };
        Ok(Self { sup, deps })
    }

    /// The supervisor (for the status tree and shutdown).
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.sup
    }

    fn child_spec(&self, name: &str) -> ChildSpec {
        let deps = self.deps.clone();
        let session = name.to_string();
        // A Session stops its request runs (each within the tasks' stop budget) before it exits.
        let grace = deps.agent.stop_budget() * 2 + Duration::from_secs(5);
        ChildSpec::new(name, move |sup: ActorCell| {
            let args = (session.clone(), deps.clone());
            async move {
                let (actor, _) = Actor::spawn_linked(None, SessionActor, args, sup).await?;
                Ok(ChildStart::Started(actor.get_cell()))
            }
        })
        .restart(Restart::Permanent)
        .shutdown(Shutdown::Timeout(grace))
    }

    /// The Session named `name`, started if it does not run yet.
    pub async fn session(&self, name: &str) -> Result<ActorRef<SessionMsg>, SessionError> {
        check_session_name(name)?;
        let unreachable = |reason: String| SessionError::Unreachable {
            session: name.to_string(),
            reason,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let children = self
                .sup
                .which_children()
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            match children.into_iter().find(|c| c.id.0 == name) {
                Some(child) => {
                    if let Some(cell) = child.cell {
                        return Ok(ActorRef::from(cell));
                    }
                    // Restarting after a crash: wait for it.
                }
                None => match self.sup.start_child(self.child_spec(name)).await {
                    Ok(Some(cell)) => return Ok(ActorRef::from(cell)),
                    Ok(None) => {}
                    Err(SupervisorError::DuplicateChild { .. }) => {}
                    Err(e) => return Err(unreachable(e.to_string())),
                },
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(unreachable(
                    "it is restarting and did not come back in 10 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Submits a request; returns its id once it is committed.
    pub async fn submit(
        &self,
        spec: RequestSpec,
        events: Option<EventSink>,
    ) -> Result<String, SessionError> {
        // A request that cannot run never creates a Session.
        let spec = super::validate::validate(spec, &self.deps.config)?;
        let session = self.session(&spec.session).await?;
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
    ) -> Result<(String, ActorRef<SessionMsg>), SessionError> {
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

    /// Cancels a queued or running request.
    pub async fn cancel(&self, request_id: &str) -> Result<(), SessionError> {
        let (name, session) = self.owner(request_id).await?;
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
        let (name, session) = self.owner(request_id).await?;
        let request_id = request_id.to_string();
        call(&name, &session, |reply| SessionMsg::Resume {
            request_id,
            events,
            reply,
        })
        .await?
    }

    /// Status of every running Session.
    pub async fn status(&self) -> Vec<SessionStatus> {
        let Ok(children) = self.sup.which_children().await else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for child in children {
            let Some(cell) = child.cell else { continue };
            let actor: ActorRef<SessionMsg> = ActorRef::from(cell);
            if let Ok(CallResult::Success(s)) =
                actor.call(SessionMsg::Status, Some(STATUS_TIMEOUT)).await
            {
                out.push(s);
            }
        }
        out
    }

    /// smithd is stopping: every running and queued request becomes `interrupted`. Returns when
    /// every Session has begun stopping its runs.
    pub async fn interrupt_all(&self) {
        let Ok(children) = self.sup.which_children().await else {
            return;
        };
        for child in children {
            if let Some(cell) = child.cell {
                let actor: ActorRef<SessionMsg> = ActorRef::from(cell);
                let _ = actor
                    .call(SessionMsg::Interrupt, Some(STATUS_TIMEOUT))
                    .await;
            }
        }
    }

    /// Whether any Session runs or queues a request.
    pub async fn busy(&self) -> bool {
        self.status()
            .await
            .iter()
            .any(|s| s.current.is_some() || !s.queued.is_empty())
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
