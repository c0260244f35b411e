//! What a supervisor does when a child exits on its own: restart it (and the bystanders its
//! strategy names) after its backoff, or let it go by its restart type; escalate when the
//! restart intensity is exceeded; shut down when its significant children are done.

use std::time::Duration;

use ractor::ActorRef;
use tokio::time::Instant;

use super::actor::{SupervisorMsg, SupervisorRunState};
use super::child::terminate;
use super::child_spec::{ChildId, ChildStart, Restart};
use super::exit_reason::{ExitReason, REASON_ESCALATED, REASON_SHUTDOWN};
use super::flags::AutoShutdown;
use super::observer::SupervisorEvent;
use super::status::ChildState;
use super::strategy::Strategy;

impl SupervisorRunState {
    pub(super) fn observe(&self, event: SupervisorEvent) {
        if let Some(o) = &self.observer {
            let _ = o.send(event);
        }
    }

    pub(super) fn index_of(&self, id: &ChildId) -> Option<usize> {
        self.children.iter().position(|c| &c.spec.id == id)
    }

    /// A child exited on its own: restart it (and bystanders) or let it go.
    pub(super) async fn child_exited(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        idx: usize,
        reason: ExitReason,
    ) {
        let child = &mut self.children[idx];
        child.cell = None;
        child.started_at = None;
        child.last_exit = Some(reason.clone());
        let child_id = child.spec.id.clone();

        if !child.spec.restart.should_restart(&reason) {
            tracing::debug!(supervisor = %self.id, child = %child_id, reason = %reason,
                restart = child.spec.restart.as_str(), "child exited; not restarted");
            let significant = child.spec.significant;
            if child.spec.restart == Restart::Temporary {
                self.children.remove(idx);
            } else {
                child.state = ChildState::Terminated;
            }
            if significant {
                self.maybe_auto_shutdown(myself, &child_id).await;
            }
            return;
        }

        let now = Instant::now();
        self.total_restarts += 1;
        if self.intensity.record(now) {
            self.escalate(myself, &child_id, &reason).await;
            return;
        }

        // Terminate the bystanders this strategy restarts with the failed child, in reverse order.
        let affected = self.flags.strategy.affected(self.children.len(), idx);
        let mut pending: Vec<ChildId> = Vec::new();
        for j in affected.clone().rev() {
            if j == idx {
                continue;
            }
            let bystander = &mut self.children[j];
            if let Some(cell) = bystander.cell.take() {
                let killed = terminate(&cell, bystander.spec.shutdown).await;
                bystander.last_exit = Some(if killed {
                    ExitReason::Killed
                } else {
                    ExitReason::Shutdown(None)
                });
                bystander.started_at = None;
                tracing::debug!(supervisor = %self.id, child = %bystander.spec.id, cause = %child_id,
                    strategy = %self.flags.strategy, killed, "bystander terminated for restart");
            }
            bystander.state = ChildState::Restarting;
            pending.push(bystander.spec.id.clone());
        }
        // Temporary bystanders are removed, never restarted.
        let removed: Vec<ChildId> = self
            .children
            .iter()
            .filter(|c| c.spec.restart == Restart::Temporary && pending.contains(&c.spec.id))
            .map(|c| c.spec.id.clone())
            .collect();
        self.children
            .retain(|c| !(c.spec.restart == Restart::Temporary && pending.contains(&c.spec.id)));
        for id in &removed {
            tracing::debug!(supervisor = %self.id, child = %id, "temporary bystander removed");
        }
        pending.retain(|id| !removed.contains(id));
        pending.push(child_id.clone());

        let Some(idx) = self.index_of(&child_id) else {
            return;
        };
        let failed = &mut self.children[idx];
        failed.state = ChildState::Restarting;
        let (n, delay) = failed
            .backoff
            .next(&self.flags.backoff, now, rand::random::<f64>());
        let due = now + delay;
        for c in self.children.iter_mut() {
            if pending.contains(&c.spec.id) {
                c.due = Some(due);
            }
        }
        tracing::warn!(
            supervisor = %self.id,
            child = %child_id,
            reason = %reason,
            attempt = n + 1,
            delay_ms = delay.as_millis() as u64,
            strategy = %self.flags.strategy,
            restarting = pending.len(),
            "restarting child"
        );
        self.observe(SupervisorEvent::Restarting {
            child: child_id.clone(),
            reason: reason.to_string(),
            attempt: n + 1,
            delay,
            restarting: pending.len(),
        });
        schedule_restart(myself, delay);
    }

    /// Starts, in start order, every child whose restart is due.
    pub(super) async fn restart_due(&mut self, myself: &ActorRef<SupervisorMsg>) {
        if self.shutting_down {
            return;
        }
        let now = Instant::now();
        let mut i = 0;
        while i < self.children.len() {
            let child = &mut self.children[i];
            if child.state != ChildState::Restarting || child.due.is_none_or(|due| due > now) {
                i += 1;
                continue;
            }
            match (child.spec.start)(myself.get_cell()).await {
                Ok(ChildStart::Started(cell)) => {
                    child.running(cell);
                    child.restarts += 1;
                    tracing::info!(supervisor = %self.id, child = %child.spec.id,
                        restarts = child.restarts, "child restarted");
                }
                Ok(ChildStart::Ignore) => {
                    tracing::info!(supervisor = %self.id, child = %child.spec.id,
                        "child declined to restart");
                    child.due = None;
                    let (id, significant) = (child.spec.id.clone(), child.spec.significant);
                    if child.spec.restart == Restart::Temporary {
                        self.children.remove(i);
                    } else {
                        child.state = ChildState::Terminated;
                        i += 1;
                    }
                    // Declining is the end of that child, as if it had exited on its own.
                    if significant {
                        self.maybe_auto_shutdown(myself, &id).await;
                        if self.shutting_down {
                            return;
                        }
                    }
                    continue;
                }
                Err(err) => {
                    let child_id = child.spec.id.clone();
                    let reason = ExitReason::Failed(format!("start failed: {err}"));
                    child.last_exit = Some(reason.clone());
                    self.total_restarts += 1;
                    if self.intensity.record(now) {
                        self.escalate(myself, &child_id, &reason).await;
                        return;
                    }
                    let child = &mut self.children[i];
                    let (n, delay) =
                        child
                            .backoff
                            .next(&self.flags.backoff, now, rand::random::<f64>());
                    let due = now + delay;
                    child.due = Some(due);
                    // Keep start order: children after it that wait with it wait for it.
                    if self.flags.strategy != Strategy::OneForOne {
                        for later in self.children[i + 1..].iter_mut() {
                            if later.state == ChildState::Restarting {
                                later.due = later.due.max(Some(due));
                            }
                        }
                    }
                    tracing::warn!(supervisor = %self.id, child = %child_id, reason = %reason,
                        attempt = n + 1, delay_ms = delay.as_millis() as u64,
                        "restart failed; retrying");
                    self.observe(SupervisorEvent::RestartFailed {
                        child: child_id,
                        reason: reason.to_string(),
                        delay,
                    });
                    schedule_restart(myself, delay);
                }
            }
            i += 1;
        }
    }

    /// Intensity exceeded: stop every child in order and exit with an abnormal reason.
    pub(super) async fn escalate(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        child: &ChildId,
        reason: &ExitReason,
    ) {
        let why = format!(
            "{REASON_ESCALATED}: supervisor {} exceeded {} restarts within {:?} (last: child {child}, {reason})",
            self.id, self.flags.max_restarts, self.flags.period
        );
        tracing::error!(
            supervisor = %self.id,
            child = %child,
            reason = %reason,
            max_restarts = self.flags.max_restarts,
            period_ms = self.flags.period.as_millis() as u64,
            "restart intensity exceeded; escalating"
        );
        self.observe(SupervisorEvent::Escalated {
            child: child.clone(),
            reason: reason.to_string(),
        });
        self.shutting_down = true;
        self.shutdown_all().await;
        myself.stop(Some(why));
    }

    /// A significant child exited on its own and will not restart: maybe stop the supervisor.
    pub(super) async fn maybe_auto_shutdown(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        child: &ChildId,
    ) {
        let stop = match self.flags.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|c| c.spec.significant && c.state != ChildState::Terminated),
        };
        if stop {
            tracing::info!(supervisor = %self.id, child = %child,
                mode = ?self.flags.auto_shutdown, "significant child exited; auto shutdown");
            self.shutting_down = true;
            self.shutdown_all().await;
            myself.stop(Some(format!(
                "{REASON_SHUTDOWN}: auto_shutdown after significant child {child} exited"
            )));
        }
    }
}

/// Sends `RestartDue` to the supervisor after `delay` (at once when zero), so the supervisor stays
/// responsive while it waits.
pub(super) fn schedule_restart(myself: &ActorRef<SupervisorMsg>, delay: Duration) {
    if delay.is_zero() {
        let _ = myself.cast(SupervisorMsg::RestartDue);
    } else {
        let target = myself.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = target.cast(SupervisorMsg::RestartDue);
        });
    }
}
