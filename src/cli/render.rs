//! How `smith` shows things: live progress of a request, the status tree, tables.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use crate::protocol::{
    ClippedText, Event, OutcomeReason, RequestInfo, RequestSummary, ServiceStatus, SessionInfo,
    ShowReply, SupervisorStatus, TextPart,
};

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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn short(text: &str, max: usize) -> String {
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

/// Where a task stands on its live line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RowState {
    Pending,
    Queued,
    Running,
    Restarted,
    Ended(OutcomeReason),
}

impl std::fmt::Display for RowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowState::Pending => f.write_str("pending"),
            RowState::Queued => f.write_str("queued"),
            RowState::Running => f.write_str("running"),
            RowState::Restarted => f.write_str("restarted"),
            RowState::Ended(reason) => write!(f, "{reason}"),
        }
    }
}

struct TaskRow {
    name: String,
    state: RowState,
    attempt: u32,
    since: Instant,
    /// Set when its attempt ended: the elapsed time stops.
    took: Option<std::time::Duration>,
    cost: f64,
}

/// Progress of one request on stderr: a live line per task on a terminal, plain lines otherwise.
pub struct Progress {
    live: bool,
    tasks: BTreeMap<String, TaskRow>,
    order: Vec<String>,
    drawn: usize,
    started: Instant,
}

impl Progress {
    /// `live` redraws lines in place (stderr is a terminal).
    pub fn new(live: bool) -> Self {
        Self {
            live,
            tasks: BTreeMap::new(),
            order: Vec::new(),
            drawn: 0,
            started: Instant::now(),
        }
    }

    fn row(&mut self, id: &str) -> &mut TaskRow {
        if !self.tasks.contains_key(id) {
            self.order.push(id.to_string());
        }
        self.tasks.entry(id.to_string()).or_insert_with(|| TaskRow {
            name: id.to_string(),
            state: RowState::Pending,
            attempt: 0,
            since: Instant::now(),
            took: None,
            cost: 0.0,
        })
    }

    fn plain(&self, line: String) {
        if !self.live {
            eprintln!("{line}");
        }
    }

    /// Takes one event.
    pub fn event(&mut self, event: &Event) {
        match event {
            Event::Accepted {
                request_id,
                session,
                position,
            } => {
                let queue = if *position > 0 {
                    format!(" ({position} ahead)")
                } else {
                    String::new()
                };
                // Shown in both modes: it is printed once, before the live lines start.
                eprintln!("accepted {request_id} in session {session}{queue}");
            }
            Event::Started { request_id } => self.plain(format!("started {request_id}")),
            Event::Planned { tasks } => {
                for t in tasks {
                    self.row(&t.id).name = t.name.clone();
                }
                self.plain(format!(
                    "{} task(s): {}",
                    tasks.len(),
                    tasks
                        .iter()
                        .map(|t| format!("{} {}", t.id, short(&t.name, 30)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Event::TaskQueued { task_id } => {
                self.row(task_id).state = RowState::Queued;
                self.plain(format!("[{task_id}] waiting for a process slot"));
            }
            Event::TaskStarted {
                task_id,
                attempt,
                pid,
                resumed,
            } => {
                let row = self.row(task_id);
                row.state = if *attempt > 1 {
                    RowState::Restarted
                } else {
                    RowState::Running
                };
                row.attempt = *attempt;
                row.since = Instant::now();
                row.took = None;
                let how = if *attempt > 1 { "restarted" } else { "started" };
                let resume = resumed
                    .as_ref()
                    .map(|r| format!(", resuming {}", short(r, 8)))
                    .unwrap_or_default();
                self.plain(format!(
                    "[{task_id}] {how}: attempt {attempt}, pid {pid}{resume}"
                ));
            }
            Event::TaskProgress {
                task_id,
                text,
                tools,
            } => {
                if !tools.is_empty() {
                    self.plain(format!("[{task_id}] uses {}", tools.join(", ")));
                } else if !text.is_empty() {
                    self.plain(format!("[{task_id}] {}", short(text, 100)));
                }
            }
            Event::TaskApiRetry {
                task_id,
                status,
                attempt,
            } => {
                let status = status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no status".into());
                self.plain(format!(
                    "[{task_id}] API error {status}; the CLI retries ({attempt})"
                ));
            }
            Event::TaskFinished {
                task_id,
                attempt,
                reason,
                retryable,
                cost_usd,
                detail,
                hint,
            } => {
                let row = self.row(task_id);
                row.state = RowState::Ended(*reason);
                row.cost += cost_usd;
                row.took = Some(row.since.elapsed());
                let next = if *reason == OutcomeReason::Completed {
                    String::new()
                } else if *retryable {
                    " (retryable)".into()
                } else {
                    " (not retried)".into()
                };
                let why = detail
                    .as_ref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                self.plain(format!(
                    "[{task_id}] attempt {attempt} ended {reason}{next}, ${cost_usd:.4}{why}"
                ));
                if let Some(hint) = hint {
                    self.plain(format!("[{task_id}]   hint: {hint}"));
                }
            }
            Event::Lagged { dropped } => {
                self.plain(format!(
                    "({dropped} progress events skipped: this terminal read too slowly)"
                ));
            }
        }
        self.redraw();
    }

    /// Redraws the live lines (also called on a timer so elapsed times move).
    pub fn redraw(&mut self) {
        if !self.live {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.drawn > 0 {
            let _ = write!(err, "\x1b[{}A", self.drawn);
        }
        for id in &self.order {
            let row = &self.tasks[id];
            let _ = writeln!(
                err,
                "\x1b[2K  {id:<4} {:<28} {:<16} attempt {:<2} {:>8}  ${:.4}",
                short(&row.name, 28),
                short(&row.state.to_string(), 16),
                row.attempt,
                human_secs(
                    row.took
                        .unwrap_or_else(|| row.since.elapsed())
                        .as_secs_f64()
                ),
                row.cost
            );
        }
        self.drawn = self.order.len();
        let _ = err.flush();
    }

    /// The closing line on stderr.
    pub fn finish(&mut self, summary: &RequestSummary) {
        self.redraw();
        let restarts: u32 = summary
            .tasks
            .iter()
            .map(|t| t.attempts.saturating_sub(1))
            .sum();
        let mut line = format!(
            "{} {} in {}, ${:.4}, {} task(s), {} restart(s)",
            summary.request_id,
            summary.status,
            human_secs(self.started.elapsed().as_secs_f64()),
            summary.cost_usd,
            summary.tasks.len(),
            restarts
        );
        if let Some(r) = &summary.reason {
            line.push_str(&format!(": {r}"));
        }
        eprintln!("{line}");
    }
}

fn supervisor_line(s: &SupervisorStatus) -> String {
    format!(
        "{} ({}) {}, {} restart(s)",
        s.id, s.strategy, s.state, s.total_restarts
    )
}

/// The status tree as text.
pub fn status_tree(s: &ServiceStatus) -> String {
    let mut out = format!(
        "smithd {}  pid {}  up {}  processes {}/{}\n{}\n",
        s.version,
        s.pid,
        human_secs(s.uptime_secs),
        s.running_tasks,
        s.max_concurrent_tasks,
        supervisor_line(&s.root)
    );
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
                        let pid = t
                            .pid
                            .map(|p| format!("pid {p}"))
                            .unwrap_or_else(|| "-".into());
                        let up = t.uptime_secs.map(human_secs).unwrap_or_default();
                        out.push_str(&format!(
                            "{indent}{si}    {tb}{:<4} {:<24} {:<11} attempt {:<2} restarts {:<2} {:<10} {:>7}  ${:.4}{}\n",
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

/// The mark of a text the reply carries only in part.
fn clip_mark(clipped: &[ClippedText], part: TextPart) -> String {
    match clipped.iter().find(|c| c.part == part) {
        Some(c) => format!(
            " […clipped; {} bytes in all: `smith show {} --full`]",
            c.total_bytes, c.request_id
        ),
        None => String::new(),
    }
}

/// One request; texts listed in its `clipped` are marked.
pub fn request_detail(d: &ShowReply) -> String {
    let clipped = &d.clipped;
    let r = &d.request;
    let mut out = format!(
        "request {}  session {} #{}\nstatus  {}{}\ncost    ${:.4}\nprompt  {}{}\n\ntasks:\n",
        r.id,
        r.session,
        r.seq,
        r.status,
        r.reason
            .as_ref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default(),
        r.cost_usd,
        r.prompt.trim(),
        clip_mark(clipped, TextPart::Prompt)
    );
    for t in &d.tasks {
        out.push_str(&format!(
            "  {} [{}] {}  {}  attempts {}  ${:.4}{}\n",
            t.id,
            t.kind,
            short(&t.name, 40),
            t.status,
            t.attempts,
            t.cost_usd,
            t.exit_reason
                .as_ref()
                .map(|e| format!("  last: {e}"))
                .unwrap_or_default()
        ));
        for a in d.attempts.iter().filter(|a| a.task_idx == t.idx) {
            let exit = match (a.exit_code, a.exit_signal) {
                (Some(c), _) => format!("exit {c}"),
                (None, Some(s)) => format!("signal {s}"),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "      attempt {}  pid {}  {}  {}{}{}\n",
                a.attempt,
                a.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                a.exit_reason
                    .map_or_else(|| "running".to_string(), |r| r.to_string()),
                exit,
                a.resumed_from
                    .as_ref()
                    .map(|s| format!("  resumed {}", short(s, 8)))
                    .unwrap_or_default(),
                a.detail
                    .as_ref()
                    .map(|s| format!("  ({})", short(s, 80)))
                    .unwrap_or_default()
            ));
            if let Some(hint) = &a.hint {
                out.push_str(&format!("        hint: {hint}\n"));
            }
            if let Some(tail) = a.stderr_tail.as_ref().filter(|t| !t.trim().is_empty()) {
                out.push_str(&format!(
                    "        stderr: {}\n",
                    short(tail.trim().lines().last().unwrap_or(""), 100)
                ));
            }
        }
        if let Some(o) = &t.output {
            out.push_str(&format!(
                "      output: {}{}\n",
                short(o, 100),
                clip_mark(clipped, TextPart::TaskOutput(t.idx))
            ));
        }
    }
    if let Some(a) = &r.answer {
        out.push_str(&format!(
            "\nanswer ({}):\n{}{}\n",
            r.answer_mode.as_deref().unwrap_or("-"),
            a.trim(),
            clip_mark(clipped, TextPart::Answer)
        ));
    }
    out
}
