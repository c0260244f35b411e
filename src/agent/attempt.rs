//! One attempt: spawn `claude` in its own process group, feed it the prompt as stream-json,
//! read and type its output, enforce the watchdogs, stop it (interrupt → SIGTERM → SIGKILL to the
//! group), always reap it, and classify how it ended.
//!
//! [`run_attempt`] is an async function meant to run in a task of its own (the task actor never
//! awaits it inside a handler). Dropping its future kills the process group.

use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::attempt_tag;
use super::clocks::{Clocks, after};
use super::command::SessionArg;
use super::denial::Denials;
use super::event::{interrupt_request, user_message};
use super::launch::{AttemptSpec, LaunchSpec};
use super::line_reader::{Line, LineReader};
use super::live::Live;
pub use super::observed::AttemptEvent;
use super::observed::{LineVerdict, Observed, handle_line};
use super::outcome::{ExitStatus, Outcome, OutcomeReason, StopCause, classify};
use super::proc_info::process_start_time;
use super::reaper;
use super::stderr_tail::StderrTail;
use super::tool_calls::{Answered, Calls, Decider};
use super::transcript::Transcript;
use super::warm_pool::WarmProcess;
use crate::process_group::{GroupGuard, ProcessGroup};
use crate::protocol::StopReason;

/// How long to wait for the rest of stdout and stderr once the process exited (a leaked
/// grandchild holding the pipes open was killed with the group, so this is only a bound).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

/// Where the stop sequence stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopStage {
    Running,
    /// Interrupt sent; SIGTERM at the deadline.
    Interrupting,
    /// SIGTERM sent; SIGKILL at the deadline.
    Terminating,
    /// SIGKILL sent; waiting for the kernel.
    Killed,
}

/// Runs one attempt to its end and returns its outcome. `on_event` sees progress as it happens;
/// `control` carries stop requests (a closed channel counts as a cancel). `group` is shared with
/// the owner so that it can kill the process group from its own `Drop`.
pub async fn run_attempt(
    spec: AttemptSpec,
    mut on_event: impl FnMut(AttemptEvent) + Send,
    mut control: mpsc::UnboundedReceiver<StopReason>,
    group: Arc<ProcessGroup>,
) -> Outcome {
    match LaunchSpec::new(&spec) {
        Ok(launch) => {
            let decider = Decider::Here(None);
            run_launch(launch, None, &mut on_event, &mut control, group, decider).await
        }
        Err(err) => Outcome::bare(OutcomeReason::SpawnFailed, err.to_string()),
    }
}

/// Runs one attempt from its launch spec (see [`run_attempt`]), on `warm` when a warm process
/// of its profile is given (its clocks start now, when it gets its task); `decider` decides the
/// tool calls the CLI asks smith about.
pub async fn run_launch(
    launch: LaunchSpec,
    warm: Option<WarmProcess>,
    on_event: &mut (dyn FnMut(AttemptEvent) + Send),
    control: &mut mpsc::UnboundedReceiver<StopReason>,
    group: Arc<ProcessGroup>,
    decider: Decider,
) -> Outcome {
    let started = Instant::now();
    let config = launch.watchdogs;
    let (mut child, _leader, leader_start) = match warm {
        Some(w) => (w.child, w.leader, w.start_time),
        None => match launch.command().spawn() {
            Ok(child) => {
                let pid = child.id().expect("a child that was just spawned has a pid");
                (
                    child,
                    reaper::LeaderGuard::register(pid),
                    process_start_time(pid),
                )
            }
            Err(err) => {
                let detail = format!("cannot start {}: {err}", launch.program.display());
                return Outcome::bare(OutcomeReason::SpawnFailed, detail);
            }
        },
    };
    let Some(pid) = child.id() else {
        return Outcome::bare(OutcomeReason::SpawnFailed, "the warm worker had exited");
    };
    group.set(pid);
    let _guard = GroupGuard(group.clone());
    on_event(AttemptEvent::Spawned {
        pid,
        start_time: leader_start,
        node: None,
    });
    tracing::debug!(pid, program = %launch.program.display(), session = launch.session.id(), "claude process spawned");

    let mut stdin_tx = Some(spawn_stdin_writer(&mut child, pid));
    send_line(&mut stdin_tx, user_message(&launch.stdin.first_message));
    let mut lines = spawn_stdout_reader(&mut child, config.max_line_bytes);
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr_task = tokio::spawn(StderrTail::drain(stderr, config.stderr_tail_bytes));

    let mut calls = Calls::new(&launch, decider);
    let mut seen = Observed {
        init_seen: false,
        denials: Denials::default(),
        tools_running: Default::default(),
        model: None,
        answered: false,
        throttled: false,
        claude_session_id: match &launch.session {
            SessionArg::Resume(id) => Some(id.clone()),
            SessionArg::New(_) => None,
        },
        result: None,
        cause: None,
        detail: None,
        live: Live::new(launch.transcript.clone().and_then(Transcript::open)),
    };
    let mut clocks = Clocks::new(started, config);
    let mut linger_deadline: Option<Instant> = None;
    let mut stage = StopStage::Running;
    let mut stage_deadline: Option<Instant> = None;
    let mut control_open = true;
    let mut stdout_open = true;
    let far = || after(Duration::from_secs(365 * 24 * 3600));

    let status = loop {
        // A stop decided in this iteration, applied below.
        let mut stop: Option<StopCause> = None;
        tokio::select! {
            status = child.wait() => break status,
            line = lines.recv(), if stdout_open => match line {
                None => stdout_open = false,
                Some(line) => {
                    let verdict = handle_line(line, &mut seen, on_event);
                    clocks.output(seen.tool_running());
                    match verdict {
                        LineVerdict::Continue => {}
                        LineVerdict::ResultSeen => {
                            // The turn is over: close stdin so the CLI exits, and watch that it does.
                            stdin_tx = None;
                            linger_deadline.get_or_insert(after(config.result_grace));
                        }
                        LineVerdict::ProtocolError(detail) => {
                            seen.detail.get_or_insert(detail);
                            stop = Some(StopCause::Protocol);
                        }
                        LineVerdict::Control(request) => {
                            if let Some(answer) = calls.as_mut().and_then(|c| c.request(&request)) {
                                answer_call(answer, &mut seen, &mut stdin_tx, on_event);
                            }
                        }
                    }
                }
            },
            _ = sleep_until(seen.live.flush_at().unwrap_or_else(far)), if seen.live.flush_at().is_some() => {
                seen.live.flush(on_event);
            },
            ctl = control.recv(), if control_open => match ctl {
                Some(reason) => stop = Some(StopCause::from(reason)),
                None => {
                    control_open = false;
                    stop = Some(StopCause::Cancelled);
                }
            },
            answer = async { calls.as_mut().expect("guarded").next().await }, if calls.as_ref().is_some_and(Calls::waiting) => {
                answer_call(answer, &mut seen, &mut stdin_tx, on_event);
            },
            _ = sleep_until(clocks.wall().unwrap_or_else(far)), if stage == StopStage::Running && clocks.wall().is_some() => {
                seen.detail.get_or_insert(format!("wall-clock timeout of {:?} exceeded", config.timeout));
                stop = Some(StopCause::Timeout);
            },
            _ = sleep_until(clocks.idle().unwrap_or_else(far)), if stage == StopStage::Running && seen.result.is_none() && clocks.idle().is_some() => {
                let limit = clocks.idle_limit(seen.tool_running());
                seen.detail.get_or_insert(if seen.tool_running() {
                    format!("no output for {limit:?} while a tool call ran (agent.tool_timeout)")
                } else {
                    format!("no output for {limit:?}")
                });
                stop = Some(StopCause::Idle);
            },
            _ = sleep_until(linger_deadline.unwrap_or_else(far)), if stage == StopStage::Running && linger_deadline.is_some() => {
                seen.detail.get_or_insert(format!("no exit within {:?} of its result", config.result_grace));
                stop = Some(StopCause::ResultLinger);
            },
            _ = sleep_until(stage_deadline.unwrap_or_else(far)), if stage_deadline.is_some() => {
                match stage {
                    StopStage::Interrupting => {
                        tracing::debug!(pid, "no exit after interrupt; SIGTERM to the group");
                        group.signal(Signal::SIGTERM);
                        stage = StopStage::Terminating;
                        stage_deadline = Some(after(config.term_grace));
                    }
                    StopStage::Terminating => {
                        tracing::debug!(pid, "no exit after SIGTERM; SIGKILL to the group");
                        group.signal(Signal::SIGKILL);
                        stage = StopStage::Killed;
                        stage_deadline = None;
                    }
                    StopStage::Running | StopStage::Killed => stage_deadline = None,
                }
            },
        }
        // A call waiting for a person stops both clocks.
        clocks.pause(
            calls.as_ref().is_some_and(Calls::waiting),
            seen.tool_running(),
        );
        if let Some(cause) = stop
            && stage == StopStage::Running
        {
            seen.cause.get_or_insert(cause);
            // What waits for a person is withdrawn: the worker will not run it.
            if let Some(calls) = calls.as_mut() {
                calls.end(cause.describe());
            }
            // A graceful interrupt lets the CLI end the turn and save the session (for --resume);
            // a hung or garbled process gets SIGTERM straight away.
            let interrupt = matches!(
                cause,
                StopCause::Cancelled | StopCause::Budget | StopCause::Timeout
            ) && seen.result.is_none()
                && stdin_tx.is_some();
            if interrupt {
                tracing::debug!(pid, ?cause, "interrupting claude");
                send_line(&mut stdin_tx, interrupt_request(&format!("smith-{pid}")));
                stage = StopStage::Interrupting;
                stage_deadline = Some(after(config.interrupt_grace));
            } else {
                tracing::debug!(pid, ?cause, "terminating claude");
                stdin_tx = None;
                group.signal(Signal::SIGTERM);
                stage = StopStage::Terminating;
                stage_deadline = Some(after(config.term_grace));
            }
        }
    };

    // The leader is reaped; whatever else is left in its group goes now, then every process that
    // carries the attempt's tag (tools start commands in sessions of their own).
    group.signal(Signal::SIGKILL);
    if let Some(tag) = &launch.tag {
        attempt_tag::stop_tagged(tag.as_str(), leader_start, config.term_grace).await;
    }
    drop(stdin_tx);
    let drain_until = after(DRAIN_AFTER_EXIT);
    while stdout_open {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => {
                    if let LineVerdict::ProtocolError(detail) = handle_line(line, &mut seen, on_event) {
                        seen.detail.get_or_insert(detail);
                        seen.cause.get_or_insert(StopCause::Protocol);
                    }
                }
                None => stdout_open = false,
            },
            _ = sleep_until(drain_until) => break,
        }
    }
    let stderr_tail = match tokio::time::timeout_at(drain_until, stderr_task).await {
        Ok(Ok(tail)) => tail,
        _ => String::new(),
    };
    group.clear();
    seen.live.finish(on_event);

    let exit = match status {
        Ok(status) => Some(ExitStatus {
            code: status.code(),
            signal: status.signal(),
        }),
        Err(err) => {
            seen.detail
                .get_or_insert(format!("cannot wait for the process: {err}"));
            None
        }
    };
    let reason = classify(seen.result.as_ref(), seen.cause);
    let result = seen.result.as_ref();
    let detail = seen.detail.or_else(|| match reason {
        OutcomeReason::Crashed => Some(match exit {
            Some(exit) => format!("claude ended without a successful result ({exit})"),
            None => "claude ended without a successful result".into(),
        }),
        _ => None,
    });
    let outcome = Outcome {
        reason,
        retryable: reason.is_retryable(),
        result: result.and_then(|r| r.result.clone()),
        structured_output: result.and_then(|r| r.structured_output.clone()),
        claude_session_id: result
            .and_then(|r| r.session_id.clone())
            .or(seen.claude_session_id),
        usage: result.and_then(|r| r.usage.clone()).unwrap_or_default(),
        cost_usd: result.map(|r| r.total_cost_usd).unwrap_or(0.0),
        duration: started.elapsed(),
        exit,
        stderr_tail,
        detail,
        changes: None,
        model: seen.model,
        denials: seen.denials.into_vec(),
        budget_day: None,
        receipt: None,
    };
    tracing::debug!(pid, reason = %outcome.reason, exit = ?outcome.exit, "claude attempt ended");
    outcome
}

/// Writes a decided tool call's answer to the worker; a refusal is reported like the CLI's
/// own, the decision as an event.
fn answer_call(
    answer: Answered,
    seen: &mut Observed,
    stdin_tx: &mut Option<mpsc::UnboundedSender<String>>,
    on_event: &mut (dyn FnMut(AttemptEvent) + Send),
) {
    if let Some((tool_use_id, denial)) = answer.denial {
        seen.denials.refused(&tool_use_id, denial);
    }
    send_line(stdin_tx, answer.line);
    if let Some(decision) = answer.decision {
        on_event(AttemptEvent::ToolDecided(decision));
    }
}

/// Writes lines to the child's stdin from a task of its own (a child that does not read cannot
/// block the attempt). Dropping the sender closes stdin after the pending lines.
fn spawn_stdin_writer(child: &mut Child, pid: u32) -> mpsc::UnboundedSender<String> {
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(mut line) = rx.recv().await {
            line.push('\n');
            if let Err(err) = stdin.write_all(line.as_bytes()).await {
                tracing::debug!(pid, %err, "claude stdin closed");
                break;
            }
            let _ = stdin.flush().await;
        }
    });
    tx
}

fn send_line(stdin: &mut Option<mpsc::UnboundedSender<String>>, line: String) {
    if let Some(tx) = stdin {
        let _ = tx.send(line);
    }
}

/// Reads stdout lines in a task of its own (line reading is not cancel-safe) into a channel.
fn spawn_stdout_reader(
    child: &mut Child,
    max_line_bytes: usize,
) -> mpsc::Receiver<std::io::Result<Line>> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut reader = LineReader::new(BufReader::new(stdout), max_line_bytes);
        loop {
            let item = reader.next().await.transpose();
            let Some(item) = item else { break };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    rx
}
