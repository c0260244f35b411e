//! smith's metrics, created from the global meter provider (a no-op one when export is off).
//! Names and attributes are listed in observability/README.md.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, UpDownCounter};

use super::semconv::*;

/// Histogram boundaries for task durations, in seconds (a turn takes ~1 s, a task minutes).
pub const DURATION_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
/// Histogram boundaries for token counts.
pub const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
];

/// The instruments.
pub struct Metrics {
    /// `smith.tasks.active`: live `claude` processes.
    pub tasks_active: UpDownCounter<i64>,
    /// `smith.tasks.queued`: attempts waiting for a process slot.
    pub tasks_queued: UpDownCounter<i64>,
    /// `smith.task.duration` (s), by `smith.exit_reason`.
    pub task_duration: Histogram<f64>,
    /// `smith.task.attempts`, by `smith.exit_reason`.
    pub task_attempts: Counter<u64>,
    /// `smith.task.restarts`, by the `smith.exit_reason` that caused them.
    pub task_restarts: Counter<u64>,
    /// `smith.supervisor.escalations`.
    pub escalations: Counter<u64>,
    /// `smith.requests`, by `smith.request.status`.
    pub requests: Counter<u64>,
    /// `gen_ai.client.token.usage`, by `gen_ai.token.type`.
    pub token_usage: Histogram<u64>,
    /// `smith.cost.usd`.
    pub cost_usd: Counter<f64>,
    /// `smith.workspaces.alive`: task worktrees on disk.
    pub workspaces_alive: Gauge<u64>,
    /// `smith.workspaces.disk` (By): what they take on disk (measured by each reconcile pass).
    pub workspaces_disk: Gauge<u64>,
    /// `smith.approvals.pending`: tool calls waiting for a person.
    pub approvals_pending: UpDownCounter<i64>,
    /// `smith.tool.decisions`, by `smith.verdict` and `smith.decided_by`.
    pub tool_decisions: Counter<u64>,
    /// `smith.approval.wait` (s): how long a call waited for its decision, by `smith.decided_by`.
    pub approval_wait: Histogram<f64>,
    /// `smith.governor.throttles`, by `http.response.status_code`.
    pub governor_throttles: Counter<u64>,
    /// `smith.governor.closed`: 1 while the gate is closed or probing, 0 when open.
    pub governor_closed: Gauge<u64>,
    /// `smith.governor.waiting`: attempts waiting at the gate.
    pub governor_waiting: UpDownCounter<i64>,
    /// `smith.governor.cap`: live processes allowed now (halved by throttles, grown back).
    pub governor_cap: Gauge<u64>,
    /// `smith.budget.used` (1): the share of a ceiling spent, recorded at 80 % and at 100 %, by
    /// `smith.budget.ceiling` (and `smith.session` for a session's).
    pub budget_used: Gauge<f64>,
    /// `smith.budget.warnings`: ceilings 80 % spent, and reached, by `smith.budget.ceiling`.
    pub budget_warnings: Counter<u64>,
    /// `smith.tool.calls`: workers' tool calls that ended, by `gen_ai.tool.name` and
    /// `smith.tool.outcome` (`ok`, `error`).
    pub tool_calls: Counter<u64>,
    /// `smith.tool.duration` (s): how long a worker's tool call ran, by `gen_ai.tool.name`.
    pub tool_duration: Histogram<f64>,
    /// `smith.live.text`: characters of workers' text streamed to clients as it was written.
    pub live_text: Counter<u64>,
    /// `smith.warm.hits`: attempts that started on a warm worker.
    pub warm_hits: Counter<u64>,
    /// `smith.warm.misses`: attempts that started cold, by `smith.warm.miss` (why).
    pub warm_misses: Counter<u64>,
    /// `smith.warm.size`: warm workers idle now.
    pub warm_size: UpDownCounter<i64>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The instruments (created on first use: set the global meter provider before).
pub fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("smith");
        Metrics {
            tasks_active: meter
                .i64_up_down_counter("smith.tasks.active")
                .with_description("Live claude processes")
                .with_unit("{process}")
                .build(),
            tasks_queued: meter
                .i64_up_down_counter("smith.tasks.queued")
                .with_description(
                    "Attempts waiting for a process slot (limits.max_concurrent_tasks)",
                )
                .with_unit("{attempt}")
                .build(),
            task_duration: meter
                .f64_histogram("smith.task.duration")
                .with_description("Wall time of an attempt, by exit reason")
                .with_unit("s")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            task_attempts: meter
                .u64_counter("smith.task.attempts")
                .with_description("Attempts ended, by exit reason")
                .with_unit("{attempt}")
                .build(),
            task_restarts: meter
                .u64_counter("smith.task.restarts")
                .with_description("Restarts of tasks, by the exit reason that caused them")
                .with_unit("{restart}")
                .build(),
            escalations: meter
                .u64_counter("smith.supervisor.escalations")
                .with_description("Supervisors that exceeded their restart intensity")
                .with_unit("{escalation}")
                .build(),
            requests: meter
                .u64_counter("smith.requests")
                .with_description("Requests ended, by status")
                .with_unit("{request}")
                .build(),
            token_usage: meter
                .u64_histogram("gen_ai.client.token.usage")
                .with_description("Tokens used per attempt, by token type")
                .with_unit("{token}")
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build(),
            cost_usd: meter
                .f64_counter("smith.cost.usd")
                .with_description("Cost reported by the CLI, in USD")
                .build(),
            workspaces_alive: meter
                .u64_gauge("smith.workspaces.alive")
                .with_description("Task worktrees on disk (workspace.dir)")
                .with_unit("{worktree}")
                .build(),
            workspaces_disk: meter
                .u64_gauge("smith.workspaces.disk")
                .with_description(
                    "Bytes the task worktrees take on disk, measured by each reconcile pass",
                )
                .with_unit("By")
                .build(),
            approvals_pending: meter
                .i64_up_down_counter("smith.approvals.pending")
                .with_description("Tool calls of workers waiting for a person's decision")
                .with_unit("{approval}")
                .build(),
            tool_decisions: meter
                .u64_counter("smith.tool.decisions")
                .with_description("Tool calls decided by smith, by verdict and by who decided")
                .with_unit("{decision}")
                .build(),
            approval_wait: meter
                .f64_histogram("smith.approval.wait")
                .with_description("How long a tool call waited for its decision, by who decided")
                .with_unit("s")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            governor_throttles: meter
                .u64_counter("smith.governor.throttles")
                .with_description("Throttle signals from workers (429, 529, rejected rate limit)")
                .with_unit("{throttle}")
                .build(),
            governor_closed: meter
                .u64_gauge("smith.governor.closed")
                .with_description("1 while the governor's gate is closed for every attempt")
                .build(),
            governor_cap: meter
                .u64_gauge("smith.governor.cap")
                .with_description("Live claude processes allowed now: limits.max_concurrent_tasks, halved by throttles and grown back by successes")
                .with_unit("{process}")
                .build(),
            budget_used: meter
                .f64_gauge("smith.budget.used")
                .with_description("Share of a spending ceiling spent (limits.session_budget_usd, limits.daily_budget_usd), recorded when it crosses 80 % and 100 %")
                .with_unit("1")
                .build(),
            budget_warnings: meter
                .u64_counter("smith.budget.warnings")
                .with_description("Spending ceilings that crossed 80 %, then 100 %, by ceiling")
                .with_unit("{warning}")
                .build(),
            tool_calls: meter
                .u64_counter("smith.tool.calls")
                .with_description("Workers' tool calls that ended, by tool and outcome")
                .with_unit("{call}")
                .build(),
            tool_duration: meter
                .f64_histogram("smith.tool.duration")
                .with_description("How long a worker's tool call ran, by tool")
                .with_unit("s")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            live_text: meter
                .u64_counter("smith.live.text")
                .with_description("Characters of workers' text streamed live (partial messages)")
                .with_unit("{char}")
                .build(),
            warm_hits: meter
                .u64_counter("smith.warm.hits")
                .with_description("Attempts that started on a warm worker (agent.warm_pool)")
                .with_unit("{attempt}")
                .build(),
            warm_misses: meter
                .u64_counter("smith.warm.misses")
                .with_description("Attempts that started cold, by why (no pool, none idle, resume, json_schema, budget, worktree)")
                .with_unit("{attempt}")
                .build(),
            warm_size: meter
                .i64_up_down_counter("smith.warm.size")
                .with_description("Warm workers idle now")
                .with_unit("{process}")
                .build(),
            governor_waiting: meter
                .i64_up_down_counter("smith.governor.waiting")
                .with_description("Attempts waiting at the governor's gate")
                .with_unit("{attempt}")
                .build(),
        }
    })
}

/// `smith.exit_reason = reason`.
pub fn reason(reason: &str) -> [KeyValue; 1] {
    [KeyValue::new(SMITH_EXIT_REASON, reason.to_string())]
}

/// A tool decision's attributes.
pub fn decision(verdict: &'static str, decided_by: &'static str) -> [KeyValue; 2] {
    [
        KeyValue::new(SMITH_VERDICT, verdict),
        KeyValue::new(SMITH_DECIDED_BY, decided_by),
    ]
}

/// A tool call's attributes (`outcome`: `ok` or `error`; none for its duration).
pub fn tool(name: &str, outcome: Option<&'static str>) -> Vec<KeyValue> {
    let mut attrs = vec![KeyValue::new(GEN_AI_TOOL_NAME, name.to_string())];
    if let Some(o) = outcome {
        attrs.push(KeyValue::new("smith.tool.outcome", o));
    }
    attrs
}

/// Token usage attributes.
pub fn token_type(kind: &'static str) -> [KeyValue; 3] {
    [
        KeyValue::new(GEN_AI_TOKEN_TYPE, kind),
        KeyValue::new(GEN_AI_OPERATION_NAME, "invoke_agent"),
        KeyValue::new(GEN_AI_PROVIDER_NAME, ANTHROPIC),
    ]
}

/// An observer for a supervisor that counts its escalations (`smith.supervisor.escalations`),
/// for the supervisors whose decisions go nowhere else (the service's own).
pub fn escalation_counter() -> crate::supervisor::SupervisorObserver {
    let (observer, mut events) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if matches!(event, crate::supervisor::SupervisorEvent::Escalated { .. }) {
                metrics().escalations.add(1, &[]);
            }
        }
    });
    observer
}
