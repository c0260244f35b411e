//! Where smithd's records meet the protocol: what the store and the supervisors hold, converted
//! to what clients read. Internal fields (the stored spec, process start times) stay inside.

use crate::agent::hint;
use crate::protocol::{self, AttemptInfo, RequestInfo, SessionInfo, ShowReply};
use crate::store::{AttemptRecord, PruneReport, RequestDetail, RequestRecord, SessionSummary};
use crate::supervisor::{ChildKind, ChildState, ChildStatus, SupervisorState, SupervisorStatus};

impl From<RequestRecord> for RequestInfo {
    fn from(r: RequestRecord) -> Self {
        RequestInfo {
            id: r.id,
            session: r.session,
            seq: r.seq,
            prompt: r.prompt,
            status: r.status,
            reason: r.reason,
            answer: r.answer,
            answer_mode: r.answer_mode,
            answer_note: r.answer_note,
            cost_usd: r.cost_usd,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

impl From<AttemptRecord> for AttemptInfo {
    fn from(a: AttemptRecord) -> Self {
        let hint = a
            .exit_reason
            .and_then(|r| hint::hint(r, a.detail.as_deref().unwrap_or("")))
            .map(str::to_string);
        AttemptInfo {
            warm: a.warm,
            node: a.node.clone().filter(|n| !n.is_empty()),
            task_idx: a.task.index(),
            attempt: a.attempt,
            pid: a.pid,
            started_at: a.started_at,
            finished_at: a.finished_at,
            exit_reason: a.exit_reason,
            exit_code: a.exit_code,
            exit_signal: a.exit_signal,
            stderr_tail: a.stderr_tail,
            claude_session_id: a.claude_session_id,
            resumed_from: a.resumed_from,
            input_tokens: a.input_tokens,
            output_tokens: a.output_tokens,
            cache_read_tokens: a.cache_read_tokens,
            cache_creation_tokens: a.cache_creation_tokens,
            cost_usd: a.cost_usd,
            detail: a.detail,
            hint,
        }
    }
}

impl From<RequestDetail> for ShowReply {
    fn from(d: RequestDetail) -> Self {
        ShowReply {
            request: d.request.into(),
            tasks: d.tasks.iter().map(|t| t.info()).collect(),
            attempts: d.attempts.into_iter().map(Into::into).collect(),
            decisions: d.decisions,
            tools: d.tools,
            clipped: Vec::new(),
        }
    }
}

impl From<(crate::governor::GateView, crate::governor::SlotsView)> for protocol::GovernorStatus {
    fn from((g, s): (crate::governor::GateView, crate::governor::SlotsView)) -> Self {
        protocol::GovernorStatus {
            state: g.state.to_string(),
            until_ms: g.until_ms,
            cause: g.cause,
            waiting: g.waiting,
            throttles: g.throttles,
            cap: s.cap as u64,
            queued: s
                .queued
                .into_iter()
                .map(|(session, waiting)| protocol::SessionQueue {
                    session,
                    waiting: waiting as u64,
                })
                .collect(),
        }
    }
}

impl From<SessionSummary> for SessionInfo {
    fn from(s: SessionSummary) -> Self {
        SessionInfo {
            name: s.name,
            created_at: s.created_at,
            requests: s.requests,
            last_activity: s.last_activity,
        }
    }
}

impl From<PruneReport> for protocol::Pruned {
    fn from(r: PruneReport) -> Self {
        protocol::Pruned {
            requests: r.requests,
            bytes_freed: r.bytes_freed,
        }
    }
}

impl From<SupervisorStatus> for protocol::SupervisorStatus {
    fn from(s: SupervisorStatus) -> Self {
        protocol::SupervisorStatus {
            id: s.id,
            strategy: s.strategy.into(),
            state: match s.state {
                SupervisorState::Running => protocol::SupervisorState::Running,
                SupervisorState::Restarting => protocol::SupervisorState::Restarting,
                SupervisorState::ShuttingDown => protocol::SupervisorState::ShuttingDown,
            },
            restarts_in_window: s.restarts_in_window as u64,
            total_restarts: s.total_restarts,
            children: s.children.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ChildStatus> for protocol::ChildStatus {
    fn from(c: ChildStatus) -> Self {
        protocol::ChildStatus {
            id: c.id.0,
            state: match c.state {
                ChildState::Running => protocol::ChildState::Running,
                ChildState::Restarting => protocol::ChildState::Restarting,
                ChildState::Terminated => protocol::ChildState::Terminated,
            },
            restart: c.restart.into(),
            kind: match c.kind {
                ChildKind::Worker => protocol::ChildKind::Worker,
                ChildKind::Supervisor => protocol::ChildKind::Supervisor,
            },
            dynamic: c.dynamic,
            restarts: c.restarts,
            last_exit: c.last_exit,
            uptime_secs: c.uptime_secs,
        }
    }
}
