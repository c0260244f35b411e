//! Live progress of one request on stderr: a line per task, redrawn in place on a terminal
//! (state, attempt, elapsed, cost), plain lines otherwise.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use crate::protocol::{Event, OutcomeReason, RequestSummary};

use super::render::{human_secs, short};

/// Where a task stands on its live line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RowState {
    Pending,
    Queued,
    Running,
    Restarted,
    Throttled,
    Ended(OutcomeReason),
}

impl std::fmt::Display for RowState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowState::Pending => f.write_str("pending"),
            RowState::Queued => f.write_str("queued"),
            RowState::Running => f.write_str("running"),
            RowState::Restarted => f.write_str("restarted"),
            RowState::Throttled => f.write_str("rate limited"),
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
    /// A prompt is open below the last note: no redraw.
    held: bool,
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
            held: false,
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
                worktrees,
            } => {
                let queue = if *position > 0 {
                    format!(" ({position} ahead)")
                } else {
                    String::new()
                };
                // Shown in both modes: it is printed once, before the live lines start.
                eprintln!("accepted {request_id} in session {session}{queue}");
                if let Some(base) = worktrees {
                    eprintln!("{}", super::workspaces::accepted_note(base));
                }
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
            Event::TaskThrottled {
                task_id,
                until_ms,
                cause,
            } => {
                self.row(task_id).state = RowState::Throttled;
                let until = until_ms.map_or_else(
                    || "a probe attempt gets through".to_string(),
                    super::render::clock_utc,
                );
                self.plain(format!(
                    "[{task_id}] waiting for the rate limit until {until} ({cause})"
                ));
            }
            // Shown through `note` by the caller (it may prompt).
            Event::Approval(_) => {}
            Event::Lagged { dropped } => {
                self.plain(format!(
                    "({dropped} progress events skipped: this terminal read too slowly)"
                ));
            }
        }
        self.redraw();
    }

    /// Prints `text` above the live lines (an approval, a prompt); with `hold`, the live lines
    /// stay away until a note without it (a prompt waits for typing below its text).
    pub fn note(&mut self, text: &str, hold: bool) {
        self.held = hold;
        if text.is_empty() {
            if !hold {
                self.redraw();
            }
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.live && self.drawn > 0 {
            let _ = write!(err, "\x1b[{}A\x1b[J", self.drawn);
            self.drawn = 0;
        }
        let _ = write!(err, "{text}");
        let _ = err.flush();
        drop(err);
        if !hold {
            self.redraw();
        }
    }

    /// Redraws the live lines (also called on a timer so elapsed times move).
    pub fn redraw(&mut self) {
        if !self.live || self.held {
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
