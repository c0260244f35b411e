//! The approvals desk as one attempt uses it ([`AttemptApprovals`]): what a person allowed for the
//! session, a call decided at once (by rule, remembered, unattended) recorded, a call asked of a
//! person (its id now, its decision to come), and what waits withdrawn when the attempt ends —
//! explicitly with why, or by the guard when its future is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;

use super::approvals::{Approvals, Grant, count, decision_of};
use super::settings::Unattended;
use crate::protocol::{ApprovalInfo, DecidedBy, ToolDecision, Verdict};
use crate::store::queries;
use crate::store::records::now_ms;

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

/// The desk as one attempt uses it.
#[derive(Clone)]
pub struct AttemptApprovals {
    desk: Arc<Approvals>,
    who: Asker,
    /// Why the attempt ended, once it did (what its waiting calls are withdrawn with).
    ending: Arc<Mutex<Option<String>>>,
}

impl AttemptApprovals {
    pub(super) fn new(desk: Arc<Approvals>, who: Asker) -> Self {
        Self {
            desk,
            who,
            ending: Arc::new(Mutex::new(None)),
        }
    }

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
        let (closing, attached) = {
            let state = self.desk.lock();
            let attached = state.attached.contains_key(&info.request_id);
            (state.closing.clone(), attached)
        };
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
    use crate::permissions::PermissionSettings;
    use crate::store::StoreCell;

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
