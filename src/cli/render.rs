//! How `smith` shows things: the status tree, tables, JSON (a request in full is
//! `request_detail`).

use crate::protocol::{RequestInfo, ServiceStatus, SessionInfo, SupervisorStatus};

/// Seconds as `1h02m`, `3m05s`, `4.2s`.
pub fn human_secs(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// The wall clock in Unix milliseconds.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The first line of `text`, at most `max` characters (marked when cut).
pub(super) fn short(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        format!(
            "{}…",
            line.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    } else {
        line.to_string()
    }
}

fn supervisor_line(s: &SupervisorStatus) -> String {
    format!(
        "{} ({}) {}, {} restart(s)",
        s.id, s.strategy, s.state, s.total_restarts
    )
}

/// A Unix time in milliseconds as `HH:MM:SS UTC`.
pub fn clock_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The cluster on one line (`None`: a single machine).
pub fn cluster_line(c: &crate::protocol::ClusterStatus) -> Option<String> {
    use crate::protocol::ClusterState;
    let url = c.url.as_deref().unwrap_or("?");
    let node = c.node.as_deref().unwrap_or("?");
    match c.state {
        ClusterState::Disabled => None,
        ClusterState::Connected => Some(format!(
            "cluster: node {node} connected to {url} (nats-server {})\n",
            c.server_version.as_deref().unwrap_or("?")
        )),
        ClusterState::Down => Some(format!(
            "cluster: DOWN — {url} cannot be reached{}{}; local attempts only, reconnecting\n",
            c.since_ms
                .map(|ms| format!(" since {}", clock_utc(ms)))
                .unwrap_or_default(),
            c.error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )),
    }
}

/// The governor's gate on one line.
fn governor_line(g: &crate::protocol::GovernorStatus) -> String {
    let state = match (g.state.as_str(), g.until_ms) {
        ("closed", Some(ms)) => format!("closed until {}", clock_utc(ms)),
        ("probing", _) => "probing (one attempt tries the API)".to_string(),
        (state, _) => state.to_string(),
    };
    let cause = g
        .cause
        .as_ref()
        .filter(|_| g.state != "open")
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let queued = if g.queued.is_empty() {
        String::new()
    } else {
        let by: Vec<String> = g
            .queued
            .iter()
            .map(|q| format!("{} {}", q.session, q.waiting))
            .collect();
        format!("; waiting for a process slot: {}", by.join(", "))
    };
    format!(
        "rate limit gate {state}{cause}, {} waiting, {} throttle(s) seen; process cap {}{queued}\n",
        g.waiting, g.throttles, g.cap
    )
}

pub fn status_tree(s: &ServiceStatus) -> String {
    let warm = if s.warm_workers > 0 {
        format!(" ({} warm, idle)", s.warm_workers)
    } else {
        String::new()
    };
    let mut out = format!(
        "smithd {}  pid {}  up {}  processes {}/{}{warm}\n{}\n",
        s.version,
        s.pid,
        human_secs(s.uptime_secs),
        s.running_tasks,
        s.max_concurrent_tasks,
        supervisor_line(&s.root)
    );
    out.push_str(&governor_line(&s.governor));
    out.push_str(&super::usage::spend_lines(&s.spend));
    if let Some(line) = cluster_line(&s.cluster) {
        out.push_str(&line);
        out.push_str(&super::nodes::node_lines(&s.cluster, now_ms()));
    }
    let n = s.root.children.len();
    for (i, child) in s.root.children.iter().enumerate() {
        let last = i + 1 == n;
        let (branch, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        out.push_str(&format!(
            "{branch}{:<10} {:<10} restarts {}{}\n",
            child.id,
            child.state,
            child.restarts,
            child
                .last_exit
                .as_ref()
                .map(|e| format!("  last exit: {e}"))
                .unwrap_or_default()
        ));
        if child.id == "sessions" {
            let ns = s.sessions.len();
            for (j, session) in s.sessions.iter().enumerate() {
                let slast = j + 1 == ns;
                let (sb, si) = if slast {
                    ("└── ", "    ")
                } else {
                    ("├── ", "│   ")
                };
                let restarts = s
                    .sessions_supervisor
                    .as_ref()
                    .and_then(|sup| sup.children.iter().find(|c| c.id == session.name))
                    .map_or(0, |c| c.restarts);
                let state = if session.current.is_some() {
                    "busy"
                } else {
                    "idle"
                };
                let queued = if session.queued.is_empty() {
                    String::new()
                } else {
                    format!(", {} queued", session.queued.len())
                };
                out.push_str(&format!(
                    "{indent}{sb}session {:<12} {state}, {} turn(s) of context, restarts {restarts}{queued}\n",
                    session.name, session.turns
                ));
                if let Some(run) = &session.current {
                    let now_ms = now_ms();
                    out.push_str(&format!(
                        "{indent}{si}└── {} {} ({}) {}  ${:.4}\n",
                        run.request_id,
                        run.phase,
                        run.strategy,
                        human_secs((now_ms - run.started_ms) as f64 / 1000.0),
                        run.cost_usd
                    ));
                    let nt = run.tasks.len();
                    for (k, t) in run.tasks.iter().enumerate() {
                        let tb = if k + 1 == nt {
                            "└── "
                        } else {
                            "├── "
                        };
                        let pid = match (t.pid, &t.node) {
                            (Some(p), Some(node)) => format!("pid {p} on {node}"),
                            (Some(p), None) => format!("pid {p}"),
                            (None, _) => "-".into(),
                        };
                        let up = t.uptime_secs.map(human_secs).unwrap_or_default();
                        let tool = t.tools.last().map_or_else(String::new, |a| {
                            let secs = (now_ms - a.started_ms).max(0) as f64 / 1000.0;
                            super::task_row::tool_running(&a.tool, &a.input, secs)
                        });
                        out.push_str(&format!(
                            "{indent}{si}    {tb}{:<4} {:<24} {:<11} attempt {:<2} restarts {:<2} {:<10} {:>7}  ${:.4}{}{tool}\n",
                            t.id,
                            short(&t.name, 24),
                            t.status,
                            t.attempt,
                            t.restarts,
                            pid,
                            up,
                            t.cost_usd,
                            t.exit_reason.as_ref().map(|r| format!("  ({r})")).unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    if !s.approvals.is_empty() {
        out.push_str(&format!(
            "\n{} tool call(s) waiting for a person:\n",
            s.approvals.len()
        ));
        for a in &s.approvals {
            out.push_str(&super::approvals::waiting_block(a));
        }
    }
    out
}

/// Sessions as a table.
pub fn sessions_table(sessions: &[SessionInfo]) -> String {
    let mut out = format!("{:<20} {:>8}  {}\n", "SESSION", "REQUESTS", "LAST ACTIVITY");
    for s in sessions {
        let last = s
            .last_activity
            .map(|ms| format!("{} ago", human_secs((now_ms() - ms) as f64 / 1000.0)))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!("{:<20} {:>8}  {}\n", s.name, s.requests, last));
    }
    out
}

/// A session's requests as a table.
pub fn history_table(requests: &[RequestInfo]) -> String {
    let mut out = format!(
        "{:<4} {:<16} {:<12} {:>9}  {}\n",
        "#", "REQUEST", "STATUS", "COST", "PROMPT"
    );
    for r in requests {
        out.push_str(&format!(
            "{:<4} {:<16} {:<12} {:>9}  {}\n",
            r.seq,
            r.id,
            r.status,
            format!("${:.4}", r.cost_usd),
            short(&r.prompt, 60)
        ));
    }
    out
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("responses serialize to JSON")
    );
}
