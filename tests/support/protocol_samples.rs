//! One sample of every message of the control protocol (every Request, Response and Event
//! variant, every TextPart), for the round-trip and golden-bytes tests. Adding a variant
//! without a sample fails to compile (`request_name`, `response_name`, `event_name`).

use std::path::PathBuf;
use std::time::Duration;

use smith::protocol::*;

pub fn hello() -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        client_version: "0.1.0".into(),
        traceparent: Some("00-aa-bb-01".into()),
    }
}

fn request_name(r: &Request) -> &'static str {
    match r {
        Request::Ask(_) => "ask",
        Request::Status(_) => "status",
        Request::Sessions(_) => "sessions",
        Request::History(_) => "history",
        Request::Show(_) => "show",
        Request::Cancel(_) => "cancel",
        Request::Resume(_) => "resume",
        Request::Health(_) => "health",
        Request::Shutdown(_) => "shutdown",
        Request::Text(_) => "text",
        Request::Prune(_) => "prune",
        Request::Diff(_) => "diff",
        Request::Apply(_) => "apply",
        Request::Discard(_) => "discard",
        Request::Workspaces(_) => "workspaces",
        Request::Approvals(_) => "approvals",
        Request::Decide(_) => "decide",
        Request::Usage(_) => "usage",
        Request::Watch(_) => "watch",
        Request::Logs(_) => "logs",
    }
}

fn response_name(r: &Response) -> String {
    match r {
        Response::Welcome(_) => "welcome".into(),
        Response::Error(_) => "error".into(),
        Response::Event(e) => format!("event.{}", event_name(e)),
        Response::Accepted(_) => "accepted".into(),
        Response::Finished(_) => "finished".into(),
        Response::Status(_) => "status".into(),
        Response::Sessions(_) => "sessions".into(),
        Response::History(_) => "history".into(),
        Response::Show(_) => "show".into(),
        Response::Text(t) => format!("text.{:?}", t.part).to_lowercase(),
        Response::Pruned(_) => "pruned".into(),
        Response::Done(_) => "done".into(),
        Response::Health(_) => "health".into(),
        Response::Diff(_) => "diff".into(),
        Response::Applied(_) => "applied".into(),
        Response::Workspaces(_) => "workspaces".into(),
        Response::Approvals(_) => "approvals".into(),
        Response::Decided(_) => "decided".into(),
        Response::Usage(_) => "usage".into(),
        Response::Logs(_) => "logs".into(),
    }
}

fn event_name(e: &Event) -> &'static str {
    match e {
        Event::Accepted { .. } => "accepted",
        Event::Started { .. } => "started",
        Event::Planned { .. } => "planned",
        Event::TaskQueued { .. } => "task_queued",
        Event::TaskStarted { .. } => "task_started",
        Event::TaskProgress { .. } => "task_progress",
        Event::TaskText { .. } => "task_text",
        Event::TaskTool { .. } => "task_tool",
        Event::TaskApiRetry { .. } => "task_api_retry",
        Event::TaskThrottled { .. } => "task_throttled",
        Event::TaskFinished { .. } => "task_finished",
        Event::Approval(ApprovalEvent::Waiting(_)) => "approval_waiting",
        Event::Approval(ApprovalEvent::Decided(_)) => "approval_decided",
        Event::Lagged { .. } => "lagged",
    }
}

pub fn requests() -> Vec<(&'static str, Request)> {
    let spec = AskSpec {
        session: "main".into(),
        prompt: "p".into(),
        tasks: vec![
            "a".into(),
            TaskInput {
                name: Some("b".into()),
                instruction: "do b".into(),
            },
        ],
        plan: false,
        synthesize: true,
        strategy: Some(Strategy::RestForOne),
        restart: Some(Restart::Temporary),
        max_restarts: Some(2),
        within: Some(Duration::from_secs(60)),
        timeout: Some(Duration::from_millis(1500)),
        budget_usd: Some(1.5),
        cwd: PathBuf::from("/tmp"),
        model: Some("sonnet".into()),
        isolate: Some(Isolation::Worktree),
        bare: Some(true),
    };
    [
        Request::Ask(Ask { spec, detach: true }),
        Request::Status(StatusQuery {}),
        Request::Sessions(SessionsQuery {}),
        Request::History(HistoryQuery {
            session: "main".into(),
            before: Some(7),
            limit: 20,
        }),
        Request::Show(ShowQuery {
            request_id: "r-1".into(),
        }),
        Request::Cancel(CancelRequest {
            request_id: "r-1".into(),
        }),
        Request::Resume(ResumeRequest {
            request_id: "r-1".into(),
            detach: false,
        }),
        Request::Health(HealthQuery {}),
        Request::Shutdown(ShutdownRequest {}),
        Request::Text(TextQuery {
            request_id: "r-1".into(),
            part: TextPart::TaskOutput(2),
            offset: 5,
        }),
        Request::Prune(PruneRequest {}),
        Request::Diff(DiffQuery {
            request_id: "r-1".into(),
            task: Some("t2".into()),
            stat: true,
        }),
        Request::Apply(WorkspaceOp {
            request_id: "r-1".into(),
            tasks: vec!["t1".into(), "t3".into()],
        }),
        Request::Discard(WorkspaceOp {
            request_id: "r-1".into(),
            tasks: vec![],
        }),
        Request::Workspaces(WorkspacesQuery {}),
        Request::Approvals(ApprovalsQuery { watch: true }),
        Request::Watch(WatchQuery {
            request_id: Some("r-1".into()),
            session: "main".into(),
        }),
        Request::Logs(LogsQuery {
            request_id: "r-1".into(),
            task: "t1".into(),
            attempt: Some(2),
            raw: true,
        }),
        Request::Usage(UsageQuery {
            by: UsageBy::Model,
            since: Some("2026-11-26".into()),
        }),
        Request::Decide(DecideRequest {
            id: "a-1f2e3d4c".into(),
            verdict: Verdict::Deny,
            always: false,
            message: Some("not that".into()),
            by: "alice".into(),
        }),
    ]
    .into_iter()
    .map(|r| (request_name(&r), r))
    .collect()
}

pub fn summary() -> RequestSummary {
    RequestSummary {
        request_id: "r-1".into(),
        session: "main".into(),
        status: RequestStatus::Degraded,
        reason: Some("budget_exceeded".into()),
        answer: "## 1. a\n\nA".into(),
        cost_usd: 0.5,
        tasks: vec![TaskSummary {
            id: "t1".into(),
            name: "a".into(),
            status: TaskStatus::Succeeded,
            attempts: 2,
            exit_reason: Some(TaskEnd::Attempt(OutcomeReason::Completed)),
            cost_usd: 0.5,
            output: Some("A".into()),
            detail: None,
            hint: Some("h".into()),
            branch: Some("smith/r-1/t1".into()),
            changes: Some(changes()),
            denials: vec![ToolDenial {
                tool: "Bash".into(),
                input: "touch x".into(),
                message: "needs approval".into(),
            }],
        }],
    }
}

pub fn request_info() -> RequestInfo {
    RequestInfo {
        id: "r-1".into(),
        session: "main".into(),
        seq: 1,
        prompt: "p".into(),
        status: RequestStatus::Succeeded,
        reason: None,
        answer: Some("a".into()),
        answer_mode: Some("deterministic".into()),
        answer_note: None,
        cost_usd: 0.25,
        created_at: 1,
        started_at: Some(2),
        finished_at: Some(3),
    }
}

fn supervisor() -> SupervisorStatus {
    SupervisorStatus {
        id: "service".into(),
        strategy: Strategy::RestForOne,
        state: SupervisorState::Restarting,
        restarts_in_window: 1,
        total_restarts: 2,
        children: vec![ChildStatus {
            id: "sessions".into(),
            state: ChildState::Running,
            restart: Restart::Permanent,
            kind: ChildKind::Supervisor,
            dynamic: false,
            restarts: 1,
            last_exit: Some("panicked".into()),
            uptime_secs: Some(1.5),
        }],
    }
}

fn changes() -> ChangeSummary {
    ChangeSummary {
        files: vec![
            FileChange {
                path: "src/a.rs".into(),
                added: Some(3),
                removed: Some(1),
            },
            FileChange {
                path: "logo.png".into(),
                added: None,
                removed: None,
            },
        ],
    }
}

fn workspace_responses() -> Vec<Response> {
    vec![
        Response::Diff(DiffReply {
            request_id: "r-1".into(),
            tasks: vec![TaskDiff {
                task_id: "t1".into(),
                branch: "smith/r-1/t1".into(),
                changes: changes(),
                diff: "diff --git a/src/a.rs b/src/a.rs".into(),
            }],
        }),
        Response::Applied(ApplyReply {
            request_id: "r-1".into(),
            repo: "/src/app".into(),
            tasks: vec![
                TaskApplyReport {
                    task_id: "t1".into(),
                    branch: "smith/r-1/t1".into(),
                    result: TaskApply::Merged {
                        commit: "abc".into(),
                    },
                },
                TaskApplyReport {
                    task_id: "t2".into(),
                    branch: "smith/r-1/t2".into(),
                    result: TaskApply::Conflict {
                        files: vec!["src/a.rs".into()],
                        command: "git merge smith/r-1/t2".into(),
                    },
                },
                TaskApplyReport {
                    task_id: "t3".into(),
                    branch: "smith/r-1/t3".into(),
                    result: TaskApply::Dirty {
                        files: vec!["b".into()],
                    },
                },
                TaskApplyReport {
                    task_id: "t4".into(),
                    branch: "smith/r-1/t4".into(),
                    result: TaskApply::Skipped,
                },
            ],
        }),
        Response::Approvals(ApprovalList {
            pending: vec![approval()],
        }),
        Response::Decided(decision()),
        Response::Logs(LogsReply {
            task_id: "t1".into(),
            attempt: 2,
            attempts: 2,
            entries: vec![
                LogEntry::Started {
                    model: Some("m".into()),
                    claude_session_id: "s".into(),
                },
                LogEntry::Text("hi".into()),
                LogEntry::ToolCall {
                    tool: "Bash".into(),
                    input: "ls".into(),
                },
                LogEntry::ToolResult {
                    output: "a".into(),
                    is_error: false,
                },
                LogEntry::ApiRetry {
                    status: Some(529),
                    attempt: 1,
                },
                LogEntry::Denied {
                    tool: "Write".into(),
                    message: "no".into(),
                },
                LogEntry::Result {
                    subtype: "success".into(),
                    is_error: false,
                    text: Some("done".into()),
                    cost_usd: 0.5,
                },
                LogEntry::Cut { lines_dropped: 3 },
            ],
            raw: vec!["{}".into()],
        }),
        Response::Usage(UsageReport {
            by: UsageBy::Session,
            rows: vec![UsageRow {
                key: "main".into(),
                cost_usd: 0.25,
                input_tokens: 25_203,
                cache_read_tokens: 24_000,
                cache_creation_tokens: 1_200,
                output_tokens: 3,
                requests: 1,
                attempts: 2,
                bare_attempts: 1,
            }],
            total: UsageRow {
                key: "total".into(),
                cost_usd: 0.25,
                ..UsageRow::default()
            },
            time_zone: "Europe/Paris".into(),
        }),
        Response::Workspaces(WorkspaceList {
            workspaces: vec![WorkspaceInfo {
                request_id: "r-1".into(),
                task_id: "t1".into(),
                repo: "/src/app".into(),
                path: "/d/worktrees/r-1/t1".into(),
                branch: "smith/r-1/t1".into(),
                base: "abc".into(),
                state: WorkspaceState::Active,
                created_ms: 5,
                disk_bytes: 4096,
                changes: Some(changes()),
                present: true,
            }],
        }),
    ]
}

fn approval() -> ApprovalInfo {
    ApprovalInfo {
        id: "a-1f2e3d4c".into(),
        session: "main".into(),
        request_id: "r-1".into(),
        task_id: "t2".into(),
        attempt: 1,
        tool: "Bash".into(),
        summary: "touch x".into(),
        input: "{\"command\": \"touch x\"}".into(),
        suggestions: Some("[]".into()),
        asked_at_ms: 5,
        expires_at_ms: 600_005,
    }
}

fn decision() -> ToolDecision {
    ToolDecision {
        id: "a-1f2e3d4c".into(),
        task_id: "t2".into(),
        attempt: 1,
        tool: "Bash".into(),
        summary: "touch x".into(),
        verdict: Verdict::Allow,
        decided_by: DecidedBy::Person,
        who: "alice (uid 1000)".into(),
        message: None,
        always: true,
        waited_ms: 1200,
    }
}

fn activity() -> ToolActivity {
    ToolActivity {
        call_id: "toolu_1".into(),
        tool: "Bash".into(),
        input: "cargo test".into(),
        started_ms: 7,
        duration_ms: Some(41_000),
        error: Some("2 tests failed".into()),
    }
}

fn events() -> Vec<Event> {
    vec![
        Event::Accepted {
            request_id: "r".into(),
            session: "s".into(),
            position: 1,
            worktrees: Some(WorktreeBase {
                repo: "/src/app".into(),
                branch: Some("main".into()),
                commit: "abc".into(),
                dirty: true,
            }),
        },
        Event::Started {
            request_id: "r".into(),
        },
        Event::Planned {
            tasks: vec![TaskRef {
                id: "t1".into(),
                name: "a".into(),
            }],
        },
        Event::TaskQueued {
            task_id: "t1".into(),
        },
        Event::TaskStarted {
            task_id: "t1".into(),
            attempt: 2,
            pid: 7,
            resumed: Some("s".into()),
        },
        Event::TaskProgress {
            task_id: "t1".into(),
            text: "x".into(),
            tools: vec!["Bash".into()],
        },
        Event::TaskText {
            task_id: "t1".into(),
            attempt: 2,
            text: "Hello, wor".into(),
        },
        Event::TaskTool {
            task_id: "t1".into(),
            attempt: 2,
            activity: activity(),
        },
        Event::TaskApiRetry {
            task_id: "t1".into(),
            status: Some(529),
            attempt: 1,
        },
        Event::TaskFinished {
            task_id: "t1".into(),
            attempt: 1,
            reason: OutcomeReason::ApiError(Some(529)),
            retryable: true,
            cost_usd: 0.1,
            detail: Some("API Error: 529".into()),
            hint: None,
        },
        Event::Approval(ApprovalEvent::Waiting(approval())),
        Event::Approval(ApprovalEvent::Decided(decision())),
        Event::TaskThrottled {
            task_id: "t3".into(),
            until_ms: Some(1_800_000_000_000),
            cause: "429 from r-1/t3".into(),
        },
        Event::Lagged { dropped: 7 },
    ]
}

pub fn responses() -> Vec<(String, Response)> {
    let mut responses: Vec<Response> = events().into_iter().map(Response::Event).collect();
    responses.extend([
        Response::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            server_version: "0.1.0".into(),
        }),
        Response::Error(ErrorReply {
            kind: ErrorKind::OverBudget,
            message: "the daily budget is spent".into(),
        }),
        Response::Accepted(Accepted {
            request_id: "r".into(),
            worktrees: None,
        }),
        Response::Finished(summary()),
        Response::Status(Box::new(ServiceStatus {
            version: "0.1.0".into(),
            pid: 1,
            uptime_secs: 2.5,
            root: supervisor(),
            sessions_supervisor: Some(supervisor()),
            sessions: vec![SessionStatus {
                name: "main".into(),
                turns: 3,
                queued: vec!["r-2".into()],
                current: Some(RunStatus {
                    request_id: "r-1".into(),
                    phase: RunPhase::Synthesizing,
                    strategy: Strategy::OneForAll,
                    started_ms: 5,
                    cost_usd: 0.5,
                    tasks: vec![TaskLine {
                        id: "t1".into(),
                        name: "a".into(),
                        status: TaskStatus::Running,
                        attempt: 2,
                        restarts: 1,
                        pid: Some(9),
                        node: Some("node-a".into()),
                        uptime_secs: Some(0.5),
                        tools: vec![activity()],
                        cost_usd: 0.1,
                        exit_reason: Some(TaskEnd::GaveUp(OutcomeReason::Crashed)),
                    }],
                }),
            }],
            max_concurrent_tasks: 8,
            running_tasks: 1,
            approvals: vec![approval()],
            governor: GovernorStatus {
                state: "closed".into(),
                until_ms: Some(9),
                cause: Some("529 from r-1/t2".into()),
                waiting: 3,
                throttles: 4,
                cap: 2,
                queued: vec![SessionQueue {
                    session: "big".into(),
                    waiting: 5,
                }],
            },
            spend: SpendStatus {
                day: "2026-11-26".into(),
                time_zone: "UTC".into(),
                day_spent_usd: 4.5,
                daily_budget_usd: Some(5.0),
                session_budget_usd: None,
                warnings: vec![CeilingUse {
                    ceiling: Ceiling::Day,
                    session: None,
                    spent_usd: 4.5,
                    budget_usd: 5.0,
                }],
            },
            warm_workers: 2,
            cluster: ClusterStatus {
                state: ClusterState::Down,
                url: Some("nats://127.0.0.1:4222".into()),
                node: Some("n1".into()),
                server_version: Some("2.9.10".into()),
                since_ms: Some(5),
                error: Some("connection refused".into()),
                nodes: vec![NodeStatus {
                    name: "n2".into(),
                    state: NodeState::Lost,
                    capacity: 4,
                    running: 1,
                    version: "0.1.0".into(),
                    roots: vec!["/work".into()],
                    last_seen_ms: 7,
                }],
            },
        })),
        Response::Sessions(SessionList {
            sessions: vec![SessionInfo {
                name: "main".into(),
                created_at: 1,
                requests: 2,
                last_activity: Some(3),
            }],
        }),
        Response::History(HistoryReply {
            session: "main".into(),
            requests: vec![request_info()],
            older: true,
            clipped: vec![ClippedText {
                request_id: "r-1".into(),
                part: TextPart::Answer,
                total_bytes: 9,
            }],
        }),
        Response::Show(ShowReply {
            request: request_info(),
            tasks: vec![TaskInfo {
                idx: 0,
                kind: TaskKind::Work,
                id: "t1".into(),
                name: "a".into(),
                instruction: "i".into(),
                status: TaskStatus::Failed,
                exit_reason: Some(TaskEnd::NotStarted(Some(StopReason::BudgetExceeded))),
                attempts: 3,
                output: None,
                cost_usd: 0.0,
                claude_session_id: Some("s".into()),
                branch: None,
                changes: None,
                denials: vec![],
            }],
            attempts: vec![AttemptInfo {
                warm: true,
                node: Some("n1".into()),
                task_idx: 0,
                attempt: 3,
                pid: Some(9),
                started_at: 10,
                finished_at: Some(11),
                exit_reason: Some(OutcomeReason::Crashed),
                exit_code: None,
                exit_signal: Some(9),
                stderr_tail: Some("boom".into()),
                claude_session_id: Some("s".into()),
                resumed_from: Some("s0".into()),
                input_tokens: Some(100),
                output_tokens: Some(5),
                cache_read_tokens: Some(50),
                cache_creation_tokens: Some(10),
                cost_usd: Some(0.01),
                detail: Some("killed".into()),
                hint: Some("h".into()),
            }],
            decisions: vec![decision()],
            tools: vec![ToolCall {
                task_id: "t2".into(),
                attempt: 1,
                activity: activity(),
            }],
            clipped: vec![ClippedText {
                request_id: "r-1".into(),
                part: TextPart::TaskInstruction(0),
                total_bytes: 70_000,
            }],
        }),
        Response::Pruned(Pruned {
            requests: 3,
            bytes_freed: 4096,
        }),
        Response::Done(Done {
            message: "ok".into(),
        }),
        Response::Health(HealthReply {
            version: "0.1.0".into(),
            uptime_secs: 1.0,
            pid: 2,
            warnings: vec!["agent.program \"claude\" is not found".into()],
            cluster: ClusterStatus::default(),
        }),
    ]);
    for part in [
        TextPart::Prompt,
        TextPart::Answer,
        TextPart::TaskInstruction(1),
        TextPart::TaskOutput(2),
    ] {
        responses.push(Response::Text(TextChunk {
            part,
            offset: 0,
            total_bytes: 3,
            text: "abc".into(),
        }));
    }
    responses.extend(workspace_responses());
    responses
        .into_iter()
        .map(|r| (response_name(&r), r))
        .collect()
}
