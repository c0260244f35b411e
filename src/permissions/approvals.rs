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

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::{broadcast, oneshot};

use super::notify::notify;
use super::settings::{PermissionSettings, Unattended};
use crate::protocol::{
    ApprovalEvent, ApprovalInfo, DecideRequest, DecidedBy, ToolDecision, Verdict,
};
use crate::store::records::now_ms;
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

/// The attempt a tool call belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    /// Session.
    pub session: String,
    /// Request.
    pub request_id: String,
    /// Task (`t1`, …).
    pub task_id: String,
    /// Attempt.
    pub attempt: u32,
}

/// A tool call as the attempt read it.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// The tool.
    pub tool: &'a str,
    /// Its input.
    pub input: &'a Value,
    /// What it wants to do, readably and whole (sanitized).
    pub summary: String,
    /// The CLI's `permission_suggestions`, shown only.
    pub suggestions: Option<&'a Value>,
}

/// A session's "always": this tool with exactly this input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Grant {
    session: String,
    tool: String,
    input: String,
}

struct Pending {
    info: ApprovalInfo,
    input: String,
    since: Instant,
    reply: oneshot::Sender<ToolDecision>,
}

#[derive(Default)]
struct State {
    pending: HashMap<String, Pending>,
    grants: HashSet<Grant>,
    attached: HashMap<String, usize>,
    closing: Option<String>,
}

/// The service's tool calls that wait for a person (see the module doc).
pub struct Approvals {
    settings: PermissionSettings,
    store: StoreCell,
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

    fn lock(&self) -> MutexGuard<'_, State> {
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
        AttemptApprovals {
            desk: self.clone(),
            who,
            ending: Arc::new(Mutex::new(None)),
        }
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
    fn end_now(&self, id: &str, by: DecidedBy, why: String) -> bool {
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
    fn register(&self, info: ApprovalInfo, input: String) -> oneshot::Receiver<ToolDecision> {
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
fn count(d: &ToolDecision) {
    let m = metrics();
    let attrs = metrics::decision(d.verdict.as_str(), d.decided_by.as_str());
    m.tool_decisions.add(1, &attrs);
    if d.decided_by != DecidedBy::Rule && d.decided_by != DecidedBy::Remembered {
        m.approval_wait
            .record(d.waited_ms as f64 / 1000.0, &attrs[1..]);
    }
}

fn decision_of(
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

/// The desk as one attempt uses it.
#[derive(Clone)]
pub struct AttemptApprovals {
    desk: Arc<Approvals>,
    who: Asker,
    /// Why the attempt ended, once it did (what its waiting calls are withdrawn with).
    ending: Arc<Mutex<Option<String>>>,
}

impl AttemptApprovals {
    /// A person allowed exactly this call for the session.
    pub fn remembered(&self, tool: &str, input: &Value) -> bool {
        let grant = Grant {
            session: self.who.session.clone(),
            tool: tool.to_string(),
            input: input.to_string(),
        };
        self.desk.lock().grants.contains(&grant)
    }

    fn info(&self, call: &Call<'_>) -> ApprovalInfo {
        let asked = now_ms();
        let timeout = self.desk.settings.ask_timeout.as_millis() as i64;
        ApprovalInfo {
            id: new_id(),
            session: self.who.session.clone(),
            request_id: self.who.request_id.clone(),
            task_id: self.who.task_id.clone(),
            attempt: self.who.attempt,
            tool: call.tool.to_string(),
            summary: call.summary.clone(),
            input: crate::sanitize::lines(
                &serde_json::to_string_pretty(call.input).unwrap_or_default(),
            ),
            suggestions: call
                .suggestions
                .filter(|s| !s.is_null())
                .map(|s| crate::sanitize::lines(&s.to_string())),
            asked_at_ms: asked,
            expires_at_ms: asked.saturating_add(timeout),
        }
    }

    /// Records a call decided at once (by rule, remembered, unattended, or while smithd stops).
    pub fn record(
        &self,
        call: &Call<'_>,
        verdict: Verdict,
        decided_by: DecidedBy,
        who: String,
        message: Option<String>,
    ) -> ToolDecision {
        let info = self.info(call);
        let decision = decision_of(
            &info,
            verdict,
            decided_by,
            who,
            message,
            false,
            Duration::ZERO,
        );
        if let Some(store) = self.desk.store.get() {
            let d = decision.clone();
            store.send("recording a tool decision", move |c| {
                queries::insert_approval(c, &info, Some(&d))
            });
        }
        count(&decision);
        decision
    }

    /// Asks a person: the approval's id and its decision to come. Dropping the future before
    /// it is decided withdraws the approval (see [`Self::end`]).
    pub fn ask(&self, call: &Call<'_>) -> (String, BoxFuture<'static, ToolDecision>) {
        let info = self.info(call);
        let id = info.id.clone();
        let closing = self.desk.lock().closing.clone();
        let attached = self.desk.lock().attached.contains_key(&info.request_id);
        let at_once = match closing {
            Some(why) => Some((DecidedBy::Withdrawn, "smithd".to_string(), why)),
            None if !attached && self.desk.settings.unattended == Unattended::Deny => Some((
                DecidedBy::Unattended,
                String::new(),
                format!(
                    "needs a person's approval and nobody is attached to request {} (permissions.unattended = \"deny\")",
                    info.request_id
                ),
            )),
            None => None,
        };
        if let Some((by, who, why)) = at_once {
            let decision = self.record(call, Verdict::Deny, by, who, Some(why));
            return (id, futures::future::ready(decision).boxed());
        }
        let input = call.input.to_string();
        let desk = self.desk.clone();
        let ending = self.ending.clone();
        let timeout = desk.settings.ask_timeout;
        let waiting = async move {
            let mut guard = Withdraw {
                desk: desk.clone(),
                info: info.clone(),
                ending,
                armed: true,
            };
            let stored = match desk.store.get() {
                Some(store) => {
                    let i = info.clone();
                    store
                        .call(move |c| queries::insert_approval(c, &i, None))
                        .await
                        .map_err(|e| e.to_string())
                }
                None => Err("the store is not running".into()),
            };
            if let Err(why) = stored {
                guard.armed = false;
                tracing::error!(approval = %info.id, %why, "cannot record an approval; the call is denied");
                let message =
                    format!("needs a person's approval, and it could not be recorded ({why})");
                let d = decision_of(
                    &info,
                    Verdict::Deny,
                    DecidedBy::Withdrawn,
                    "smithd".into(),
                    Some(message),
                    false,
                    Duration::ZERO,
                );
                count(&d);
                return d;
            }
            let id = info.id.clone();
            let mut rx = desk.register(info, input);
            let decision = tokio::select! {
                d = &mut rx => d.ok(),
                _ = tokio::time::sleep(timeout) => {
                    desk.end_now(&id, DecidedBy::Timeout, format!(
                        "nobody answered within {} (permissions.ask_timeout), so it was denied",
                        humantime::format_duration(timeout)
                    ));
                    rx.await.ok()
                }
            };
            guard.armed = false;
            decision.unwrap_or_else(|| unreachable_decision(&id))
        };
        (id, waiting.boxed())
    }

    /// The attempt ends (`why`): what it still waits for is withdrawn, denied, recorded why.
    pub fn end(&self, why: &str) {
        *self.ending.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
        let ids: Vec<String> = self
            .desk
            .lock()
            .pending
            .values()
            .filter(|p| {
                p.info.request_id == self.who.request_id
                    && p.info.task_id == self.who.task_id
                    && p.info.attempt == self.who.attempt
            })
            .map(|p| p.info.id.clone())
            .collect();
        for id in ids {
            self.desk
                .end_now(&id, DecidedBy::Withdrawn, format!("withdrawn: {why}"));
        }
    }
}

/// A decision that cannot be missing (every pending approval is ended by one path that sends
/// it); should it be, the call is denied rather than left hanging.
fn unreachable_decision(id: &str) -> ToolDecision {
    tracing::error!(approval = %id, "an approval ended without a decision (a bug in smith)");
    ToolDecision {
        id: id.to_string(),
        task_id: String::new(),
        attempt: 0,
        tool: String::new(),
        summary: String::new(),
        verdict: Verdict::Deny,
        decided_by: DecidedBy::Withdrawn,
        who: "smithd".into(),
        message: Some("the approval ended without a decision".into()),
        always: false,
        waited_ms: 0,
    }
}

/// Withdraws a waiting approval whose future is dropped undecided (also one recorded but not
/// yet waiting).
struct Withdraw {
    desk: Arc<Approvals>,
    info: ApprovalInfo,
    ending: Arc<Mutex<Option<String>>>,
    armed: bool,
}

impl Drop for Withdraw {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let why = self
            .ending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| "its attempt ended".into());
        let why = format!("withdrawn: {why}");
        if !self
            .desk
            .end_now(&self.info.id, DecidedBy::Withdrawn, why.clone())
            && let Some(store) = self.desk.store.get()
        {
            let d = decision_of(
                &self.info,
                Verdict::Deny,
                DecidedBy::Withdrawn,
                "smithd".into(),
                Some(why),
                false,
                Duration::ZERO,
            );
            store.send("recording an approval's end", move |c| {
                queries::decide_approval(c, &d).map(|_| ())
            });
        }
    }
}

/// A new approval id: `a-` and 8 hex digits (short enough to type).
fn new_id() -> String {
    format!("a-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desk(settings: PermissionSettings) -> Arc<Approvals> {
        Approvals::new(
            settings,
            StoreCell::default(),
            vec![("main".into(), "Bash".into(), r#"{"command":"ls"}"#.into())],
        )
    }

    fn asker(session: &str) -> Asker {
        Asker {
            session: session.into(),
            request_id: "r-1".into(),
            task_id: "t1".into(),
            attempt: 1,
        }
    }

    fn call(input: &Value) -> Call<'_> {
        Call {
            tool: "Bash",
            input,
            summary: "ls".into(),
            suggestions: None,
        }
    }

    #[tokio::test]
    async fn a_call_that_cannot_be_recorded_is_denied_and_never_waits() {
        let desk = desk(PermissionSettings::default());
        let input = serde_json::json!({"command": "make"});
        let (id, decided) = desk.for_attempt(asker("main")).ask(&call(&input));
        let d = decided.await;
        assert_eq!((d.id.as_str(), d.verdict), (id.as_str(), Verdict::Deny));
        assert!(d.message.unwrap().contains("could not be recorded"));
        assert!(desk.pending(None).is_empty());
    }

    #[tokio::test]
    async fn unattended_deny_and_a_closing_desk_decide_at_once() {
        let settings = PermissionSettings {
            unattended: Unattended::Deny,
            ..PermissionSettings::default()
        };
        let desk = desk(settings);
        let input = serde_json::json!({"command": "make"});
        let d = desk.for_attempt(asker("main")).ask(&call(&input)).1.await;
        assert_eq!(d.decided_by, DecidedBy::Unattended);
        // Attached: it would wait (and, with no store, is denied as unrecorded instead).
        let attached = desk.attach("r-1");
        let d = desk.for_attempt(asker("main")).ask(&call(&input)).1.await;
        assert_eq!(d.decided_by, DecidedBy::Withdrawn);
        drop(attached);
        desk.close("smithd is shutting down");
        let d = desk.for_attempt(asker("main")).ask(&call(&input)).1.await;
        assert_eq!(d.message.as_deref(), Some("smithd is shutting down"));
    }

    #[test]
    fn always_holds_for_exactly_that_call_in_that_session() {
        let desk = desk(PermissionSettings::default());
        let main = desk.for_attempt(asker("main"));
        assert!(main.remembered("Bash", &serde_json::json!({"command": "ls"})));
        assert!(!main.remembered("Bash", &serde_json::json!({"command": "ls -a"})));
        assert!(!main.remembered("Edit", &serde_json::json!({"command": "ls"})));
        let other = desk.for_attempt(asker("other"));
        assert!(!other.remembered("Bash", &serde_json::json!({"command": "ls"})));
    }
}
