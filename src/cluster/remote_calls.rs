//! The tool calls of a remote attempt, as the control plane decides them: a node relays each
//! `can_use_tool` request of its CLI (`NodeEvent::ToolAsked`), this side decides it exactly as
//! for a local attempt — what a person allowed for the session, the policy, then a person through
//! the approvals desk — reports the decision here, and sends the answer to the node on the
//! attempt's control subject, as a request that the node acks (sent again until it does, for as
//! long as the lease). A control plane that reads an adopted attempt's events from the first
//! holds the requests it reads until it has caught up, and asks only about those the node never
//! got an answer to (`NodeEvent::ToolAnswered`).

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::wire::{Control, control_subject};
use crate::agent::{Answered, AttemptEvent, ToolCalls};

/// How long an answer waits for the node's ack before it is sent again.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// The tool calls of one remote attempt.
pub(super) struct RemoteCalls {
    /// What decides them (`None`: this control plane does not decide tool calls — an adopted
    /// attempt whose node asks all the same is refused).
    calls: Option<ToolCalls>,
    client: Option<async_nats::Client>,
    key: String,
    lease: Duration,
    /// Events up to this stream sequence were stored before this side began to read them.
    replay_to: u64,
    /// Requests read while catching up, not answered yet: `(request id, request)`.
    held: Vec<(String, Value)>,
}

impl RemoteCalls {
    /// The calls of attempt `key`, decided by `calls`, answered through `client`; events up to
    /// `replay_to` are a replay.
    pub fn new(
        calls: Option<ToolCalls>,
        client: Option<async_nats::Client>,
        key: &str,
        lease: Duration,
        replay_to: u64,
    ) -> Self {
        Self {
            calls,
            client,
            key: key.to_string(),
            lease,
            replay_to,
            held: Vec::new(),
        }
    }

    /// The node asked about `request` (event `seq`).
    pub fn asked(
        &mut self,
        seq: u64,
        request: Value,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
    ) {
        if seq < self.replay_to {
            let id = request["request_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.held.push((id, request));
            return;
        }
        self.decide(&request, on_event);
    }

    /// The node got the answer to `request_id`.
    pub fn answered(&mut self, request_id: &str) {
        self.held.retain(|(id, _)| id != request_id);
    }

    /// Event `seq` was read: once caught up, what was held and not answered is decided.
    pub fn read(&mut self, seq: u64, on_event: &mut (dyn FnMut(AttemptEvent) + Send)) {
        if seq < self.replay_to || self.held.is_empty() {
            return;
        }
        for (_, request) in std::mem::take(&mut self.held) {
            self.decide(&request, on_event);
        }
    }

    fn decide(&mut self, request: &Value, on_event: &mut (dyn FnMut(AttemptEvent) + Send)) {
        let answer = match &mut self.calls {
            Some(calls) => calls.request(request),
            None => ToolCalls::refused(
                request,
                "smith decides no tool calls here any more ([permissions] mode is not \"stdio\")",
            ),
        };
        if let Some(answer) = answer {
            self.answer(answer, on_event);
        }
    }

    /// Calls wait for a person.
    pub fn waiting(&self) -> bool {
        self.calls.as_ref().is_some_and(ToolCalls::waiting)
    }

    /// The next call a person (or the clock) decided; pending forever when none waits.
    pub async fn next(&mut self) -> Answered {
        match &mut self.calls {
            Some(calls) => calls.next().await,
            None => std::future::pending().await,
        }
    }

    /// Reports `answer`'s decision here and sends the answer to the node.
    pub fn answer(
        &mut self,
        mut answer: Answered,
        on_event: &mut (dyn FnMut(AttemptEvent) + Send),
    ) {
        if let Some(decision) = answer.decision.take() {
            on_event(AttemptEvent::ToolDecided(decision));
        }
        let Some(client) = self.client.clone() else {
            tracing::warn!(attempt = %self.key, "not connected: a tool call's answer cannot be sent");
            return;
        };
        let payload = bytes::Bytes::from(
            serde_json::to_vec(&Control::Answer(Box::new(answer))).expect("an answer serializes"),
        );
        let (subject, key) = (control_subject(&self.key), self.key.clone());
        let until = Instant::now() + self.lease;
        tokio::spawn(async move {
            loop {
                let asked = client.request(subject.clone(), payload.clone());
                match tokio::time::timeout(ACK_WAIT, asked).await {
                    Ok(Ok(_)) => return,
                    _ if Instant::now() > until => {
                        tracing::warn!(attempt = %key, "the node never acked a tool call's answer");
                        return;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
    }

    /// The attempt ends (`why`): what waits for a person is withdrawn.
    pub fn end(&mut self, why: &str) {
        if let Some(calls) = &mut self.calls {
            calls.end(why);
        }
    }
}
