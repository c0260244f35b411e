//! The attempt's side of smith deciding tool calls (`permissions.mode = "stdio"`): each
//! `can_use_tool` request of the CLI is decided — what a person allowed for the session, then the
//! policy (deny, ask, allow rules, preset), then a person through the service's approvals desk —
//! and answered with the `control_response` the CLI expects. Calls that wait for a person wait
//! here, several at once, while the attempt's loop goes on reading. On a worker node the calls are
//! relayed to the control plane instead ([`Relay`]), which decides them with a [`ToolCalls`] of
//! its own: who decides is the attempt's [`Decider`].

use std::path::PathBuf;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use futures::{FutureExt, future::BoxFuture};
use serde::{Deserialize, Serialize};

use super::denial::{describe, summarize};
use super::launch::LaunchSpec;
use super::relayed_calls::Relay;
use crate::permissions::{AttemptApprovals, Call, Decision, Policy, ToolCall, ToolRequest};
use crate::protocol::{DecidedBy, ToolDecision, ToolDenial, Verdict};

/// A decided call: the line for the worker's stdin, and what to report (what a control plane
/// sends a worker node: the decision is reported where it was made).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answered {
    /// The control request it answers.
    pub request_id: String,
    /// The `control_response` line.
    pub line: String,
    /// The tool_use it refused, and how it is reported (none when allowed).
    pub denial: Option<(String, ToolDenial)>,
    /// How it was decided (none when no desk records decisions).
    #[serde(skip)]
    pub decision: Option<ToolDecision>,
}

/// Who decides an attempt's tool calls, when the CLI asks smith (`--permission-prompt-tool
/// stdio`).
pub enum Decider {
    /// smith on this host, by the launch spec's policy, then people through the desk (none:
    /// what needs a person is refused).
    Here(Option<AttemptApprovals>),
    /// The control plane, through a relay (a worker node's attempt).
    Relay(Relay),
}

/// The tool calls of one attempt, as its loop sees them: decided here or relayed.
pub(super) enum Calls {
    Here(ToolCalls),
    Relayed(Relay),
}

impl Calls {
    /// The calls of `launch` decided by `decider` (`None`: the CLI decides them itself).
    pub fn new(launch: &LaunchSpec, decider: Decider) -> Option<Self> {
        match decider {
            Decider::Here(desk) => ToolCalls::new(launch, desk).map(Self::Here),
            Decider::Relay(relay) => Some(Self::Relayed(relay)),
        }
    }

    /// Calls wait for an answer.
    pub fn waiting(&self) -> bool {
        match self {
            Self::Here(c) => c.waiting(),
            Self::Relayed(r) => r.waiting(),
        }
    }

    /// A control request of the CLI: answered now, or waiting (`None`).
    pub fn request(&mut self, request: &serde_json::Value) -> Option<Answered> {
        match self {
            Self::Here(c) => c.request(request),
            Self::Relayed(r) => r.request(request),
        }
    }

    /// The next answer; pending forever when none waits.
    pub async fn next(&mut self) -> Answered {
        match self {
            Self::Here(c) => c.next().await,
            Self::Relayed(r) => r.next().await,
        }
    }

    /// The attempt ends (`why`): what waits is withdrawn.
    pub fn end(&mut self, why: &str) {
        match self {
            Self::Here(c) => c.end(why),
            Self::Relayed(r) => r.end(),
        }
    }
}

/// The tool calls of one attempt, decided by smith.
pub struct ToolCalls {
    policy: Arc<Policy>,
    cwd: PathBuf,
    worktree: Option<PathBuf>,
    desk: Option<AttemptApprovals>,
    waiting: FuturesUnordered<BoxFuture<'static, (ToolRequest, ToolDecision)>>,
}

impl ToolCalls {
    /// The tool calls of `launch`, when smith decides them; `desk` asks people.
    pub fn new(launch: &LaunchSpec, desk: Option<AttemptApprovals>) -> Option<Self> {
        let policy = launch.stdin.permissions.clone()?;
        let worktree = launch.stdin.worktree.clone();
        Some(Self::deciding(policy, launch.cwd.clone(), worktree, desk))
    }

    /// The tool calls of an attempt in `cwd` (its worktree: `worktree`) decided by `policy`,
    /// then people through `desk`.
    pub fn deciding(
        policy: Arc<Policy>,
        cwd: PathBuf,
        worktree: Option<PathBuf>,
        desk: Option<AttemptApprovals>,
    ) -> Self {
        Self {
            policy,
            cwd,
            worktree,
            desk,
            waiting: FuturesUnordered::new(),
        }
    }

    /// Calls wait for a person.
    pub fn waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// `control_request` refused with `message`, decided by nobody (`None`: not a
    /// `can_use_tool` request).
    pub fn refused(control_request: &serde_json::Value, message: &str) -> Option<Answered> {
        let req = ToolRequest::parse(control_request)?;
        Some(answered(&req, Verdict::Deny, Some(message.into()), None))
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
            request_id: req.request_id.clone(),
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
                request_id: req.request_id.clone(),
                line: req.deny(&message),
                denial: Some((req.tool_use_id.clone(), denial)),
                decision,
            }
        }
    }
}
