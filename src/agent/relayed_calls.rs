//! Tool calls a worker node's attempt does not decide: each `can_use_tool` request of the CLI
//! goes out as it is ([`Relay::new`]'s `asks`), and the answers the control plane decided come
//! back (`answers`) to be written to the CLI. While one waits, the attempt's clocks stand still,
//! as for a call that waits for a person here. An answer to nothing asked (a repeat, a stale
//! one) is ignored.

use std::collections::HashSet;

use serde_json::Value;
use tokio::sync::mpsc;

use super::tool_calls::Answered;
use crate::permissions::ToolRequest;

/// The relayed calls of one attempt.
pub struct Relay {
    asks: mpsc::UnboundedSender<Value>,
    answers: mpsc::UnboundedReceiver<Answered>,
    /// The control requests asked and not answered yet.
    pending: HashSet<String>,
}

impl Relay {
    /// Requests go to `asks`, answers come from `answers`.
    pub fn new(
        asks: mpsc::UnboundedSender<Value>,
        answers: mpsc::UnboundedReceiver<Answered>,
    ) -> Self {
        Self {
            asks,
            answers,
            pending: HashSet::new(),
        }
    }

    /// Calls wait for an answer.
    pub(super) fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A control request of the CLI: a `can_use_tool` one is passed on (its answer comes
    /// later); anything else is not smith's to answer.
    pub(super) fn request(&mut self, request: &Value) -> Option<Answered> {
        let req = ToolRequest::parse(request)?;
        if self.pending.insert(req.request_id.clone()) {
            let _ = self.asks.send(request.clone());
        }
        None
    }

    /// The next answer to something asked; pending forever when nothing waits (or nobody
    /// answers any more).
    pub(super) async fn next(&mut self) -> Answered {
        loop {
            match self.answers.recv().await {
                Some(a) if self.pending.remove(&a.request_id) => return a,
                Some(a) => {
                    tracing::debug!(request = %a.request_id, "an answer to nothing asked, ignored")
                }
                None => return std::future::pending().await,
            }
        }
    }

    /// The attempt ends: nothing waits any more (the control plane withdraws its side).
    pub(super) fn end(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ask(id: &str) -> Value {
        json!({"type": "control_request", "request_id": id, "request": {
            "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "ls"}, "tool_use_id": "t"}})
    }

    fn answer(id: &str) -> Answered {
        Answered {
            request_id: id.into(),
            line: format!("answer {id}"),
            denial: None,
            decision: None,
        }
    }

    #[tokio::test]
    async fn requests_go_out_once_and_only_their_answers_come_back() {
        let (asks_tx, mut asks) = mpsc::unbounded_channel();
        let (answers, answers_rx) = mpsc::unbounded_channel();
        let mut relay = Relay::new(asks_tx, answers_rx);
        let other = json!({"type": "control_request", "request_id": "x", "request": {"subtype": "interrupt"}});
        assert!(relay.request(&other).is_none());
        assert!(!relay.waiting(), "only can_use_tool is relayed");
        assert!(relay.request(&ask("r1")).is_none());
        assert!(relay.request(&ask("r1")).is_none());
        assert!(relay.waiting());
        assert_eq!(asks.recv().await.unwrap()["request_id"], "r1");
        assert!(asks.try_recv().is_err(), "asked once");
        answers.send(answer("stale")).unwrap();
        answers.send(answer("r1")).unwrap();
        answers.send(answer("r1")).unwrap();
        assert_eq!(relay.next().await.request_id, "r1");
        assert!(!relay.waiting());
        relay.request(&ask("r2"));
        relay.end();
        assert!(!relay.waiting());
        let next = tokio::time::timeout(std::time::Duration::from_millis(50), relay.next()).await;
        assert!(next.is_err(), "the repeated answer to r1 is ignored");
    }
}
