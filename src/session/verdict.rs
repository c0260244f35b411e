//! How a request's tasks end and what the request's end is, as pure rules: [`settle`] decides a
//! task's final status and reason when its phase ends; [`verdict`] decides the request's status
//! and the sentence that says why, from its tasks, its synthesizer and how it was stopped.

use crate::protocol::{OutcomeReason, RequestStatus, StopReason, TaskEnd, TaskStatus};
use crate::task::Task;

/// What happened to a request run from outside its tasks, as its phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunStop {
    /// The user cancelled it or smithd interrupted it.
    pub stop: Option<StopReason>,
    /// Why its gate is closed (the stop, or the budget), if it is.
    pub gate: Option<StopReason>,
    /// A phase supervisor exceeded its restart intensity.
    pub escalated: bool,
}

/// Settles a task's final status at the end of its phase: its result if it has one, else why
/// it has none (its last attempt, the restart intensity, the stop, or never started).
pub fn settle(task: &mut Task, run: RunStop) {
    task.running = None;
    if task.output.is_some() {
        task.status = TaskStatus::Succeeded;
        return;
    }
    let interrupted = run.stop == Some(StopReason::Interrupted);
    task.status = match task.end {
        None | Some(TaskEnd::NotStarted(_)) => {
            task.end = Some(TaskEnd::NotStarted(run.gate));
            if interrupted {
                TaskStatus::Interrupted
            } else {
                TaskStatus::Skipped
            }
        }
        Some(TaskEnd::Attempt(OutcomeReason::Cancelled)) => match run.stop {
            Some(StopReason::Cancelled) => TaskStatus::Cancelled,
            Some(StopReason::Interrupted) => TaskStatus::Interrupted,
            // Stopped by its supervisor giving up, not by anyone's request.
            _ => {
                if run.escalated {
                    task.end = Some(TaskEnd::Escalated);
                }
                TaskStatus::Failed
            }
        },
        Some(TaskEnd::Attempt(reason)) => {
            if run.escalated && reason.is_retryable() {
                task.end = Some(TaskEnd::GaveUp(reason));
            }
            if interrupted && reason.is_retryable() {
                TaskStatus::Interrupted
            } else {
                TaskStatus::Failed
            }
        }
        Some(TaskEnd::GaveUp(_) | TaskEnd::Escalated) => TaskStatus::Failed,
    };
}

/// A request's status and the reason it ended so (none when it simply succeeded).
pub fn verdict(
    run: RunStop,
    tasks: &[Task],
    synthesizer: Option<&Task>,
    notes: &[String],
) -> (RequestStatus, Option<String>) {
    let total = tasks.len();
    let ok = tasks.iter().filter(|t| t.succeeded()).count();
    let synth_failed = synthesizer.is_some_and(|s| !s.succeeded());
    let status = match run.stop {
        Some(StopReason::Cancelled) => RequestStatus::Cancelled,
        Some(StopReason::Interrupted) => RequestStatus::Interrupted,
        _ if total > 0 && ok == total && !synth_failed => RequestStatus::Succeeded,
        _ if ok > 0 => RequestStatus::Degraded,
        _ => RequestStatus::Failed,
    };
    let mut reasons: Vec<String> = Vec::new();
    match run.stop {
        Some(StopReason::Cancelled) => reasons.push("cancelled by the user".into()),
        Some(StopReason::Interrupted) => reasons.push("smithd stopped while it ran".into()),
        _ => {}
    }
    if run.gate == Some(StopReason::BudgetExceeded) {
        reasons.push(StopReason::BudgetExceeded.to_string());
    }
    if run.escalated {
        reasons.push("restart intensity exceeded".into());
    }
    if status != RequestStatus::Succeeded
        && reasons.is_empty()
        && let Some(failed) = tasks.iter().find(|t| !t.succeeded())
    {
        reasons.push(match failed.end {
            Some(end) => format!("task {} {end}", failed.name),
            None => format!("task {} failed", failed.name),
        });
    }
    reasons.extend(notes.iter().cloned());
    if let Some(s) = synthesizer.filter(|s| !s.succeeded()) {
        let why = s.end.map_or_else(|| "no result".into(), |e| e.to_string());
        reasons.push(format!(
            "synthesis failed ({why}); the answer is the per-task merge"
        ));
    }
    (status, (!reasons.is_empty()).then(|| reasons.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskId;

    fn task(n: u32, end: Option<TaskEnd>, output: Option<&str>) -> Task {
        let mut t = Task::new(TaskId::Work(n), format!("task{n}"), "do it");
        t.end = end;
        t.output = output.map(str::to_string);
        t.status = TaskStatus::Running;
        t
    }

    fn attempt(r: OutcomeReason) -> Option<TaskEnd> {
        Some(TaskEnd::Attempt(r))
    }

    const NONE: RunStop = RunStop {
        stop: None,
        gate: None,
        escalated: false,
    };

    fn settled(mut t: Task, run: RunStop) -> (TaskStatus, Option<TaskEnd>) {
        settle(&mut t, run);
        (t.status, t.end)
    }

    #[test]
    fn settle_covers_every_way_a_task_ends() {
        use OutcomeReason::*;
        let cancelled = RunStop {
            stop: Some(StopReason::Cancelled),
            gate: Some(StopReason::Cancelled),
            escalated: false,
        };
        let interrupted = RunStop {
            stop: Some(StopReason::Interrupted),
            gate: Some(StopReason::Interrupted),
            escalated: false,
        };
        let escalated = RunStop {
            escalated: true,
            ..NONE
        };
        let budget = RunStop {
            gate: Some(StopReason::BudgetExceeded),
            ..NONE
        };
        let cases = [
            // A result wins over whatever came after it.
            (
                task(0, attempt(Crashed), Some("A")),
                escalated,
                TaskStatus::Succeeded,
                attempt(Crashed),
            ),
            (
                task(0, None, None),
                NONE,
                TaskStatus::Skipped,
                Some(TaskEnd::NotStarted(None)),
            ),
            (
                task(0, None, None),
                budget,
                TaskStatus::Skipped,
                Some(TaskEnd::NotStarted(Some(StopReason::BudgetExceeded))),
            ),
            (
                task(0, None, None),
                interrupted,
                TaskStatus::Interrupted,
                Some(TaskEnd::NotStarted(Some(StopReason::Interrupted))),
            ),
            (
                task(0, attempt(Cancelled), None),
                cancelled,
                TaskStatus::Cancelled,
                attempt(Cancelled),
            ),
            (
                task(0, attempt(Cancelled), None),
                interrupted,
                TaskStatus::Interrupted,
                attempt(Cancelled),
            ),
            (
                task(0, attempt(Cancelled), None),
                escalated,
                TaskStatus::Failed,
                Some(TaskEnd::Escalated),
            ),
            (
                task(0, attempt(Cancelled), None),
                NONE,
                TaskStatus::Failed,
                attempt(Cancelled),
            ),
            (
                task(0, attempt(Crashed), None),
                escalated,
                TaskStatus::Failed,
                Some(TaskEnd::GaveUp(Crashed)),
            ),
            (
                task(0, attempt(ApiError(Some(401))), None),
                escalated,
                TaskStatus::Failed,
                attempt(ApiError(Some(401))),
            ),
            (
                task(0, attempt(Hung), None),
                interrupted,
                TaskStatus::Interrupted,
                attempt(Hung),
            ),
            (
                task(0, attempt(MaxTurns), None),
                interrupted,
                TaskStatus::Failed,
                attempt(MaxTurns),
            ),
            (
                task(0, attempt(BudgetExceeded), None),
                budget,
                TaskStatus::Failed,
                attempt(BudgetExceeded),
            ),
        ];
        for (i, (t, run, status, end)) in cases.into_iter().enumerate() {
            assert_eq!(settled(t, run), (status, end), "case {i}");
        }
    }

    fn done(n: u32) -> Task {
        let mut t = task(n, attempt(OutcomeReason::Completed), Some("ok"));
        t.status = TaskStatus::Succeeded;
        t
    }

    fn failed(n: u32, r: OutcomeReason) -> Task {
        let mut t = task(n, attempt(r), None);
        t.status = TaskStatus::Failed;
        t
    }

    #[test]
    fn the_verdict_follows_the_tasks_and_the_stop() {
        let all = [done(0), done(1)];
        assert_eq!(
            verdict(NONE, &all, None, &[]),
            (RequestStatus::Succeeded, None)
        );
        let some = [done(0), failed(1, OutcomeReason::Crashed)];
        assert_eq!(
            verdict(NONE, &some, None, &[]),
            (RequestStatus::Degraded, Some("task task1 crashed".into()))
        );
        let none = [failed(0, OutcomeReason::ApiError(Some(401)))];
        assert_eq!(
            verdict(NONE, &none, None, &[]),
            (
                RequestStatus::Failed,
                Some("task task0 api_error(401)".into())
            )
        );
        assert_eq!(verdict(NONE, &[], None, &[]).0, RequestStatus::Failed);
        let cancelled = RunStop {
            stop: Some(StopReason::Cancelled),
            gate: Some(StopReason::Cancelled),
            escalated: false,
        };
        assert_eq!(
            verdict(cancelled, &all, None, &[]),
            (
                RequestStatus::Cancelled,
                Some("cancelled by the user".into())
            )
        );
        let interrupted = RunStop {
            stop: Some(StopReason::Interrupted),
            ..NONE
        };
        assert_eq!(
            verdict(interrupted, &some, None, &[]),
            (
                RequestStatus::Interrupted,
                Some("smithd stopped while it ran".into())
            )
        );
        let budget_and_escalation = RunStop {
            gate: Some(StopReason::BudgetExceeded),
            escalated: true,
            ..NONE
        };
        assert_eq!(
            verdict(budget_and_escalation, &some, None, &["a note".into()]),
            (
                RequestStatus::Degraded,
                Some("budget_exceeded; restart intensity exceeded; a note".into())
            )
        );
    }

    #[test]
    fn a_failed_synthesis_degrades_a_request_whose_tasks_all_succeeded() {
        let all = [done(0), done(1)];
        let mut synth = Task::new(TaskId::Synthesizer, "synthesize", "write");
        synth.end = attempt(OutcomeReason::Timeout);
        synth.status = TaskStatus::Failed;
        assert_eq!(
            verdict(NONE, &all, Some(&synth), &[]),
            (
                RequestStatus::Degraded,
                Some("synthesis failed (timeout); the answer is the per-task merge".into())
            )
        );
        let mut ok = synth.clone();
        ok.status = TaskStatus::Succeeded;
        ok.output = Some("answer".into());
        assert_eq!(
            verdict(NONE, &all, Some(&ok), &[]),
            (RequestStatus::Succeeded, None)
        );
    }
}
