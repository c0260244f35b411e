//! Tool calls that wait for a person — the service's one owner of them. A call no rule decides
//! is recorded (committed first), then waits: every client attached to its request hears of it,
//! so does every `smith approvals --watch`, and `permissions.notify_command` runs. It ends in
//! exactly one way, recorded with who decided and how long it waited: a person allows it (once,
//! or for the rest of the session: "always" remembers that tool with exactly that input) or
//! denies it with a message; nobody answers within `permissions.ask_timeout`; nobody is attached
//! and `permissions.unattended = "deny"`; or its attempt ends first (cancel, timeout, restart,
//! shutdown). A restart of smithd denies what was left waiting
//! ([`crate::store::queries::resolve_waiting`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, oneshot};

use super::attempt_approvals::{Asker, AttemptApprovals};
use super::notify::notify;
use super::settings::PermissionSettings;
use crate::protocol::{
    ApprovalEvent, ApprovalInfo, DecideRequest, DecidedBy, ToolDecision, Verdict,
};
use crate::store::{StoreCell, queries};
use crate::telemetry::metrics::{self, metrics};

/// Events kept for a watcher that reads slowly (it is sent the list again when it lags).
const EVENTS: usize = 256;

/// Why a person's decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// Nothing waits under that id.
    #[error(
        "no approval {0} is waiting (decided already, or never asked): `smith approvals` lists what waits"
    )]
    NotWaiting(String),
    /// The decision could not be committed; the call still waits.
    #[error("the decision on {id} could not be recorded, so it was not taken ({why}); try again")]
    NotRecorded {
        /// The approval.
        id: String,
        /// The store's error.
        why: String,
    },
}

/// A session's "always": this tool with exactly this input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Grant {
    pub session: String,
    pub tool: String,
    pub input: String,
}

pub(super) struct Pending {
    pub info: ApprovalInfo,
    input: String,
    since: Instant,
    reply: oneshot::Sender<ToolDecision>,
}

#[derive(Default)]
pub(super) struct State {
    pub pending: HashMap<String, Pending>,
    pub grants: HashSet<Grant>,
    pub attached: HashMap<String, usize>,
    pub closing: Option<String>,
}

/// The service's tool calls that wait for a person (see the module doc).
pub struct Approvals {
    pub(super) settings: PermissionSettings,
    pub(super) store: StoreCell,
    state: Mutex<State>,
    events: broadcast::Sender<(String, ApprovalEvent)>,
}

impl Approvals {
    /// The desk of a service with `settings`, writing through `store`, remembering `grants`
    /// ((session, tool, input) read from the store at start).
    pub fn new(
        settings: PermissionSettings,
        store: StoreCell,
        grants: Vec<(String, String, String)>,
    ) -> Arc<Self> {
        let grants = grants
            .into_iter()
            .map(|(session, tool, input)| Grant {
                session,
                tool,
                input,
            })
            .collect();
        Arc::new(Self {
            settings,
            store,
            state: Mutex::new(State {
                grants,
                ..State::default()
            }),
            events: broadcast::channel(EVENTS).0,
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What waits (of `request_id`, or of every request), oldest first.
    pub fn pending(&self, request_id: Option<&str>) -> Vec<ApprovalInfo> {
        let mut list: Vec<ApprovalInfo> = self
            .lock()
            .pending
            .values()
            .filter(|p| request_id.is_none_or(|r| p.info.request_id == r))
            .map(|p| p.info.clone())
            .collect();
        list.sort_by(|a, b| (a.asked_at_ms, &a.id).cmp(&(b.asked_at_ms, &b.id)));
        list
    }

    /// Approvals that start and stop waiting, with their request's id, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<(String, ApprovalEvent)> {
        self.events.subscribe()
    }

    /// A client streams `request_id`: it counts as attached while the guard lives.
    pub fn attach(self: &Arc<Self>, request_id: &str) -> Attachment {
        *self
            .lock()
            .attached
            .entry(request_id.to_string())
            .or_default() += 1;
        Attachment {
            desk: self.clone(),
            request_id: request_id.to_string(),
        }
    }

    /// The desk's handle for one attempt.
    pub fn for_attempt(self: &Arc<Self>, who: Asker) -> AttemptApprovals {
        AttemptApprovals::new(self.clone(), who)
    }

    /// A person's decision (`who`: as smithd knows the client); answered once it is committed.
    pub async fn decide(
        &self,
        request: DecideRequest,
        who: String,
    ) -> Result<ToolDecision, ApprovalError> {
        let id = request.id.clone();
        let pending = self
            .lock()
            .pending
            .remove(&id)
            .ok_or_else(|| ApprovalError::NotWaiting(id.clone()))?;
        let always = request.always && request.verdict == Verdict::Allow;
        let message = match request.verdict {
            Verdict::Allow => None,
            Verdict::Deny => Some(
                request
                    .message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| format!("denied by {who}")),
            ),
        };
        let decision = decision_of(
            &pending.info,
            request.verdict,
            DecidedBy::Person,
            who,
            message,
            always,
            pending.since.elapsed(),
        );
        let grant = always.then(|| Grant {
            session: pending.info.session.clone(),
            tool: pending.info.tool.clone(),
            input: pending.input.clone(),
        });
        let committed = match self.store.get() {
            Some(store) => {
                let (d, g) = (decision.clone(), grant.clone());
                store
                    .call(move |c| {
                        queries::decide_approval(c, &d)?;
                        if let Some(g) = g {
                            queries::insert_grant(c, &g.session, &g.tool, &g.input, &d.id)?;
                        }
                        Ok(())
                    })
                    .await
                    .map_err(|e| e.to_string())
            }
            None => Err("the store is not running".to_string()),
        };
        if let Err(why) = committed {
            self.lock().pending.insert(id.clone(), pending);
            return Err(ApprovalError::NotRecorded { id, why });
        }
        if let Some(grant) = grant {
            self.lock().grants.insert(grant);
        }
        self.settle(pending, decision.clone());
        Ok(decision)
    }

    /// smithd stops: what waits is denied, and what asks from now on too.
    pub fn close(&self, why: &str) {
        let ids: Vec<String> = {
            let mut state = self.lock();
            state.closing = Some(why.to_string());
            state.pending.keys().cloned().collect()
        };
        for id in ids {
            self.end_now(&id, DecidedBy::Withdrawn, why.to_string());
        }
    }

    /// Ends a waiting approval now (not by a person): denied, recorded, its attempt told;
    /// `false` when it was not waiting.
    pub(super) fn end_now(&self, id: &str, by: DecidedBy, why: String) -> bool {
        let Some(pending) = self.lock().pending.remove(id) else {
            return false;
        };
        let who = match by {
            DecidedBy::Timeout | DecidedBy::Withdrawn => "smithd".to_string(),
            _ => String::new(),
        };
        let decision = decision_of(
            &pending.info,
            Verdict::Deny,
            by,
            who,
            Some(why),
            false,
            pending.since.elapsed(),
        );
        if let Some(store) = self.store.get() {
            let d = decision.clone();
            store.send("recording an approval's end", move |c| {
                queries::decide_approval(c, &d).map(|_| ())
            });
        }
        self.settle(pending, decision);
        true
    }

    /// Tells the attempt, the listeners and the metrics that `pending` is decided.
    fn settle(&self, pending: Pending, decision: ToolDecision) {
        let m = metrics();
        m.approvals_pending.add(-1, &[]);
        count(&decision);
        let _ = pending.reply.send(decision.clone());
        let _ = self.events.send((
            pending.info.request_id.clone(),
            ApprovalEvent::Decided(decision),
        ));
    }

    /// Starts waiting: listeners hear of it, the notify command runs.
    pub(super) fn register(
        &self,
        info: ApprovalInfo,
        input: String,
    ) -> oneshot::Receiver<ToolDecision> {
        let (reply, rx) = oneshot::channel();
        self.lock().pending.insert(
            info.id.clone(),
            Pending {
                info: info.clone(),
                input,
                since: Instant::now(),
                reply,
            },
        );
        metrics().approvals_pending.add(1, &[]);
        tracing::info!(approval = %info.id, request = %info.request_id, task = %info.task_id,
            tool = %info.tool, call = %info.summary, "a tool call waits for a person: `smith approve {}` or `smith deny {}`", info.id, info.id);
        if let Some(command) = &self.settings.notify_command {
            notify(command, &info);
        }
        let _ = self
            .events
            .send((info.request_id.clone(), ApprovalEvent::Waiting(info)));
        rx
    }
}

/// Counts a decision (`smith.tool.decisions`, `smith.approval.wait`).
pub(super) fn count(d: &ToolDecision) {
    let m = metrics();
    let attrs = metrics::decision(d.verdict.as_str(), d.decided_by.as_str());
    m.tool_decisions.add(1, &attrs);
    if d.decided_by != DecidedBy::Rule && d.decided_by != DecidedBy::Remembered {
        m.approval_wait
            .record(d.waited_ms as f64 / 1000.0, &attrs[1..]);
    }
}

pub(super) fn decision_of(
    info: &ApprovalInfo,
    verdict: Verdict,
    decided_by: DecidedBy,
    who: String,
    message: Option<String>,
    always: bool,
    waited: Duration,
) -> ToolDecision {
    ToolDecision {
        id: info.id.clone(),
        task_id: info.task_id.clone(),
        attempt: info.attempt,
        tool: info.tool.clone(),
        summary: info.summary.clone(),
        verdict,
        decided_by,
        who,
        message,
        always,
        waited_ms: waited.as_millis() as u64,
    }
}

/// A client attached to a request (see [`Approvals::attach`]).
pub struct Attachment {
    desk: Arc<Approvals>,
    request_id: String,
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let mut state = self.desk.lock();
        if let Some(n) = state.attached.get_mut(&self.request_id) {
            *n -= 1;
            if *n == 0 {
                state.attached.remove(&self.request_id);
            }
        }
    }
}
