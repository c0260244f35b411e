//! The attempt's side of smith deciding tool calls (`permissions.mode = "stdio"`): each
//! `can_use_tool` request of the CLI is decided — what a person allowed for the session, then the
//! policy (deny, ask, allow rules, preset), then a person through the service's approvals desk —
//! and answered with the `control_response` the CLI expects. Calls that wait for a person wait
//! here, several at once, while the attempt's loop goes on reading.

use std::path::PathBuf;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use futures::{FutureExt, future::BoxFuture};

use super::denial::{describe, summarize};
use super::launch::LaunchSpec;
use crate::permissions::{AttemptApprovals, Call, Decision, Policy, ToolCall, ToolRequest};
use crate::protocol::{DecidedBy, ToolDecision, ToolDenial, Verdict};

/// A decided call: the line for the worker's stdin, and what to report.
#[derive(Debug)]
pub(super) struct Answered {
    /// The `control_response` line.
    pub line: String,
    /// The tool_use it refused, and how it is reported (none when allowed).
    pub denial: Option<(String, ToolDenial)>,
    /// How it was decided (none when no desk records decisions).
    pub decision: Option<ToolDecision>,
}

/// The tool calls of one attempt.
pub(super) struct ToolCalls {
    policy: Arc<Policy>,
    cwd: PathBuf,
    worktree: Option<PathBuf>,
    desk: Option<AttemptApprovals>,
    waiting: FuturesUnordered<BoxFuture<'static, (ToolRequest, ToolDecision)>>,
}

impl ToolCalls {
    /// The tool calls of `launch`, when smith decides them; `desk` asks people.
    pub fn new(launch: &LaunchSpec, desk: Option<AttemptApprovals>) -> Option<Self> {
        Some(Self {
            policy: launch.stdin.permissions.clone()?,
            cwd: launch.cwd.clone(),
            worktree: launch.stdin.worktree.clone(),
            desk,
            waiting: FuturesUnordered::new(),
        })
    }

    /// Calls wait for a person.
    pub fn waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// A control request of the CLI: decided now, or waiting (`None`; also for requests that
    /// are not `can_use_tool`).
    pub fn request(&mut self, request: &serde_json::Value) -> Option<Answered> {
        let req = ToolRequest::parse(request)?;
        let call = Call {
            tool: &req.tool,
            input: &req.input,
            summary: describe(&req.tool, &req.input),
            suggestions: req.suggestions.as_ref(),
        };
        let record = |verdict, by, who: String, message: Option<String>| {
            self.desk
                .as_ref()
                .map(|d| d.record(&call, verdict, by, who, message))
        };
        if let Some(desk) = &self.desk
            && desk.remembered(&req.tool, &req.input)
        {
            tracing::debug!(tool = %req.tool, "tool call allowed: a person allowed it for the session");
            let who = "a person, for the session".to_string();
            let decision = record(Verdict::Allow, DecidedBy::Remembered, who, None);
            return Some(answered(&req, Verdict::Allow, None, decision));
        }
        let tool_call = ToolCall {
            tool: &req.tool,
            input: &req.input,
            cwd: &self.cwd,
        };
        match self.policy.decide(&tool_call, self.worktree.as_deref()) {
            Decision::Allow { by } => {
                tracing::debug!(tool = %req.tool, %by, "tool call allowed");
                let decision = record(Verdict::Allow, DecidedBy::Rule, by, None);
                Some(answered(&req, Verdict::Allow, None, decision))
            }
            Decision::Deny { by } => {
                let message = format!("refused by smith's [permissions] {by}");
                let decision = record(Verdict::Deny, DecidedBy::Rule, by, Some(message.clone()));
                Some(answered(&req, Verdict::Deny, Some(message), decision))
            }
            Decision::Ask { why } => match &self.desk {
                Some(desk) => {
                    let (id, decided) = desk.ask(&call);
                    tracing::debug!(tool = %req.tool, approval = %id, %why, "tool call asked of a person");
                    let req = req.clone();
                    self.waiting.push(decided.map(move |d| (req, d)).boxed());
                    None
                }
                None => {
                    let message = format!(
                        "needs a person's approval ({why}), and nobody can be asked here: allow it with a [permissions] allow rule"
                    );
                    Some(answered(&req, Verdict::Deny, Some(message), None))
                }
            },
        }
    }

    /// The next call a person (or the clock) decided; pending forever when none waits.
    pub async fn next(&mut self) -> Answered {
        match self.waiting.next().await {
            Some((req, d)) => {
                let message = (d.verdict == Verdict::Deny).then(|| {
                    d.message
                        .clone()
                        .unwrap_or_else(|| "denied by a person".into())
                });
                answered(&req, d.verdict, message, Some(d))
            }
            None => std::future::pending().await,
        }
    }

    /// The attempt ends (`why`): what waits is withdrawn and recorded so.
    pub fn end(&mut self, why: &str) {
        if let Some(desk) = &self.desk
            && self.waiting()
        {
            desk.end(why);
        }
        self.waiting.clear();
    }
}

fn answered(
    req: &ToolRequest,
    verdict: Verdict,
    message: Option<String>,
    decision: Option<ToolDecision>,
) -> Answered {
    match verdict {
        Verdict::Allow => Answered {
            line: req.allow(),
            denial: None,
            decision,
        },
        Verdict::Deny => {
            let message = message.unwrap_or_default();
            let denial = ToolDenial {
                tool: req.tool.clone(),
                input: summarize(&req.tool, &req.input),
                message: message.clone(),
            };
            Answered {
                line: req.deny(&message),
                denial: Some((req.tool_use_id.clone(), denial)),
                decision,
            }
        }
    }
}
