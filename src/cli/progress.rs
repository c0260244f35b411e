//! Live progress of one request on stderr: a line per task, redrawn in place on a terminal
//! (state, attempt, elapsed, cost, the tool call it runs), plain lines otherwise; and the text
//! of the task `--follow` names as its worker writes it.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use crate::protocol::{Event, OutcomeReason, RequestSummary};

use super::followed::Followed;
use super::render::{human_secs, short};
use super::task_row::{RowState, TaskRow};

/// Progress of one request on stderr: a live line per task on a terminal, plain lines otherwise.
pub struct Progress {
    live: bool,
    tasks: BTreeMap<String, TaskRow>,
    order: Vec<String>,
    drawn: usize,
    started: Instant,
    /// A prompt is open below the last note: no redraw.
    held: bool,
    /// The task whose text is shown (`--follow`).
    followed: Option<Followed>,
    /// Off a terminal: the followed text last written did not end its line.
    mid_line: bool,
}

impl Progress {
    /// `live` redraws lines in place (stderr is a terminal); `follow` names the task whose
    /// text is shown.
    pub fn new(live: bool, follow: Option<String>) -> Self {
        Self {
            live,
            tasks: BTreeMap::new(),
            order: Vec::new(),
            drawn: 0,
            started: Instant::now(),
            held: false,
            followed: follow.map(Followed::new),
            mid_line: false,
        }
    }

    /// Whether `task_id` is the followed task.
    fn follows(&self, task_id: &str) -> bool {
        let name = self.tasks.get(task_id).map_or("", |r| r.name.as_str());
        self.followed.as_ref().is_some_and(|f| f.is(task_id, name))
    }

    /// The followed task's text: written as it comes off a terminal; on one, its complete
    /// lines above the live lines.
    fn followed_text(&mut self, text: &str) {
        let Some(f) = self.followed.as_mut() else {
            return;
        };
        if !self.live {
            eprint!("{text}");
            self.mid_line = !text.ends_with('\n');
            return;
        }
        if let Some(done) = f.push(text) {
            self.note(&done, self.held);
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
            calls: Vec::new(),
        })
    }

    fn plain(&mut self, line: String) {
        if !self.live {
            if std::mem::take(&mut self.mid_line) {
                eprintln!();
            }
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
            Event::TaskText { task_id, text, .. } => {
                if self.follows(task_id) {
                    if let Some(f) = self.followed.as_mut() {
                        f.streamed = true;
                    }
                    self.followed_text(text);
                }
            }
            Event::TaskTool {
                task_id, activity, ..
            } => {
                let row = self.row(task_id);
                let a = activity;
                match a.duration_ms {
                    None => {
                        row.calls.push((
                            a.call_id.clone(),
                            a.tool.clone(),
                            a.input.clone(),
                            Instant::now(),
                        ));
                        self.plain(format!(
                            "[{task_id}] ▸ {}: {}",
                            a.tool,
                            short(&a.input, 100)
                        ));
                    }
                    Some(ms) => {
                        row.calls.retain(|(id, ..)| id != &a.call_id);
                        let how = match &a.error {
                            Some(e) => format!("failed: {}", short(e, 100)),
                            None => "done".into(),
                        };
                        self.plain(format!(
                            "[{task_id}]   {} {how} in {}",
                            a.tool,
                            human_secs(ms as f64 / 1000.0)
                        ));
                    }
                }
            }
            Event::TaskProgress {
                task_id,
                text,
                tools,
            } => {
                if self.follows(task_id)
                    && !text.is_empty()
                    && self.followed.as_ref().is_some_and(|f| !f.streamed)
                {
                    self.followed_text(&format!("{text}\n"));
                }
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
                row.calls.clear();
                if self.follows(task_id)
                    && let Some(rest) = self.followed.as_mut().and_then(Followed::flush)
                {
                    self.followed_text(&rest);
                }
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
                // Which tool calls still run is not known any more.
                for row in self.tasks.values_mut() {
                    row.calls.clear();
                }
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
                "\x1b[2K  {id:<4} {:<28} {:<16} attempt {:<2} {:>8}  ${:.4}{}",
                short(&row.name, 28),
                short(&row.state.to_string(), 16),
                row.attempt,
                human_secs(
                    row.took
                        .unwrap_or_else(|| row.since.elapsed())
                        .as_secs_f64()
                ),
                row.cost,
                row.activity()
            );
        }
        self.drawn = self.order.len();
        if let Some(partial) = self.followed.as_ref().and_then(Followed::partial) {
            let task = self.followed.as_ref().map_or("", |f| f.task.as_str());
            let _ = writeln!(err, "\x1b[2K  {task} ✎ {partial}");
            self.drawn += 1;
        }
        // Lines drawn before and not now (a finished partial line) go.
        let _ = write!(err, "\x1b[J");
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
