//! The Session actor: the "main REPL session". It only dispatches: each message goes to the
//! [`SessionState`](super::state::SessionState), which holds the context, the queue and the
//! running request (a state machine, `run.rs`), and then lets the run move on.
//!
//! A request runs in phases (plan → tasks → synthesize), each under a supervisor of its own
//! linked to the Session, with every task significant and `auto_shutdown = all_significant`: the
//! phase ends when its supervisor ends — all tasks done, or intensity exceeded (escalation).
//! Task reports come straight from the attempts; the supervisor's end is turned into a message
//! queued behind them, so a phase ends only after all its reports. Escalation inside a request
//! never stops the Session.

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::protocol::StopReason;
use crate::supervisor::ExitReason;

use super::message::{SessionDeps, SessionMsg};
use super::registry::Registry;
use super::state::SessionState;

/// The Session actor (its arguments: name and deps).
pub struct SessionActor;

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = (String, SessionDeps, Registry);

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        (name, deps, registry): (String, SessionDeps, Registry),
    ) -> Result<SessionState, ActorProcessingErr> {
        Ok(SessionState::load(name, deps, registry).await?)
    }

    async fn post_start(
        &self,
        myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        state.became_idle(&myself);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        msg: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Submit {
                spec,
                events,
                reply,
            } => {
                let _ = reply.send(state.submit(*spec, events).await);
            }
            SessionMsg::Resume {
                request_id,
                events,
                reply,
            } => {
                let _ = reply.send(state.resume(&request_id, events).await);
            }
            SessionMsg::Watch {
                request_id,
                events,
                reply,
            } => {
                let _ = reply.send(state.watch(request_id.as_deref(), events));
                return Ok(());
            }
            SessionMsg::Cancel { request_id, reply } => {
                let _ = reply.send(state.cancel(&request_id, StopReason::Cancelled).await);
            }
            SessionMsg::Interrupt(reply) => {
                state.interrupt_all().await;
                let _ = reply.send(());
            }
            SessionMsg::Status(reply) => {
                let _ = reply.send(state.status());
                return Ok(());
            }
            SessionMsg::Task { phase, event } => state.on_task_event(phase, event),
            SessionMsg::CeilingReached => state.on_ceiling_reached(),
            SessionMsg::PhaseEnded { phase, reason } => state.on_phase_ended(phase, reason),
            SessionMsg::Retire => {
                state.retire(&myself, None);
                return Ok(());
            }
            SessionMsg::IdleCheck(n) => {
                state.retire(&myself, Some(n));
                return Ok(());
            }
        }
        state.advance(&myself).await;
        state.report_activity(&myself);
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SessionMsg>,
        event: SupervisionEvent,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        let (Some(reason), Some(cell)) = (ExitReason::from_event(&event), event.actor_cell())
        else {
            return Ok(());
        };
        if let Some(phase) = state.phase_of(cell.get_id()) {
            // Supervision events overtake messages: queue the end behind the phase's reports.
            let _ = myself.cast(SessionMsg::PhaseEnded { phase, reason });
        }
        Ok(())
    }
}
