//! Merging task results into one answer: deterministic (a section per task, in task order, failed
//! tasks named with their reason and attempts) or synthesized by one more task.

use crate::protocol::TaskStatus;
use crate::task::Task;

/// The deterministic merge, with what isolated tasks changed at the end. A request of one
/// successful task answers with its output alone.
pub fn deterministic(tasks: &[Task], request_id: &str) -> String {
    with_appendix(sections(tasks), tasks, request_id)
}

/// `answer` followed by what every answer of the request carries after it: the isolated tasks'
/// changes and the tool calls the CLI refused.
pub fn with_appendix(mut answer: String, tasks: &[Task], request_id: &str) -> String {
    let parts = [changes_section(tasks, request_id), refusals_section(tasks)];
    for part in parts.into_iter().flatten() {
        if !answer.is_empty() {
            answer.truncate(answer.trim_end().len());
            answer.push_str("\n\n");
        }
        answer.push_str(&part);
    }
    answer
}

/// The tool calls the CLI refused, per task (`None` when there were none): a worker's answer
/// may be worse for them, and nobody would know.
pub fn refusals_section(tasks: &[Task]) -> Option<String> {
    let refused: Vec<&Task> = tasks.iter().filter(|t| !t.denials.is_empty()).collect();
    if refused.is_empty() {
        return None;
    }
    let mut out = String::from(
        "## Refused tool calls\n\nThe CLI refused these calls (nothing allowed them), so the answers above may lack what they would have done. Allow them with agent.allowed_tools or agent.permission_mode in smithd's config.\n",
    );
    for t in refused {
        for d in &t.denials {
            let why = d.message.lines().next().unwrap_or("").trim();
            let why = if why.is_empty() {
                "refused".to_string()
            } else {
                why.to_string()
            };
            out.push_str(&format!(
                "\n- {} could not run {} `{}`: {why}",
                t.id, d.tool, d.input
            ));
        }
    }
    Some(out)
}

/// What each isolated task changed on its branch, and how to review and merge it (`None` when
/// the request was not isolated).
pub fn changes_section(tasks: &[Task], request_id: &str) -> Option<String> {
    let isolated: Vec<&Task> = tasks.iter().filter(|t| t.workspace.is_some()).collect();
    if isolated.is_empty() {
        return None;
    }
    let mut out = format!(
        "## Changes\n\nEach task worked in its own worktree; nothing is in your checkout yet. Review with `smith diff {request_id}`, merge with `smith apply {request_id}`, or throw away with `smith discard {request_id}`.\n"
    );
    for t in isolated {
        let branch = t.branch().unwrap_or_default();
        let line = match t.changes() {
            None => "no commit (it did not run to the end of an attempt)".to_string(),
            Some(c) if c.files.is_empty() => "changed nothing".to_string(),
            Some(c) => {
                let files: Vec<&str> = c.files.iter().map(|f| f.path.as_str()).take(10).collect();
                let more = if c.files.len() > 10 { ", …" } else { "" };
                format!("{}: {}{more}", c.line(), files.join(", "))
            }
        };
        out.push_str(&format!("\n- {} {} (`{branch}`): {line}", t.id, t.name));
    }
    Some(out)
}

/// A section per task, in task order (one successful task: its output alone).
fn sections(tasks: &[Task]) -> String {
    if let [only] = tasks
        && only.status == TaskStatus::Succeeded
    {
        return only.output.as_deref().unwrap_or("").trim().to_string();
    }
    let mut out = String::new();
    for (i, t) in tasks.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        match t.status {
            TaskStatus::Succeeded => {
                out.push_str(&format!(
                    "## {}. {}\n\n{}",
                    i + 1,
                    t.name,
                    t.output.as_deref().unwrap_or("").trim()
                ));
            }
            status => {
                let reason = t
                    .end
                    .map_or_else(|| "no result".to_string(), |e| e.to_string());
                let attempts = match t.attempts {
                    0 => "never started".to_string(),
                    1 => "after 1 attempt".to_string(),
                    n => format!("after {n} attempts"),
                };
                out.push_str(&format!(
                    "## {}. {} — {status} ({reason}, {attempts})\n\n_No result from this task; the answer above and below does not cover it._",
                    i + 1,
                    t.name
                ));
            }
        }
    }
    out
}

/// The prompt of the synthesis task (with the isolated tasks' change summaries).
pub fn synthesis_prompt(request: &str, tasks: &[Task], request_id: &str) -> String {
    format!(
        "[smith] Several workers each did part of the request below. Write the final answer to \
         the request from their results: combine, remove repetition, resolve conflicts, and say \
         plainly what is missing where a worker failed.\n\n## Request\n{}\n\n## Worker results\n\n{}\n",
        request.trim(),
        deterministic(tasks, request_id)
    )
}

/// `text` cut to at most `max` bytes (at a character boundary) with a note naming `key`, the
/// limit that cut it.
pub fn cut_to(mut text: String, max: usize, key: &str) -> String {
    if text.len() <= max {
        return text;
    }
    let total = text.len();
    let at = text.floor_char_boundary(max);
    text.truncate(at);
    text.push_str(&format!(
        "\n\n[smith: cut at {at} of {total} bytes ({key})]"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::{OutcomeReason, TaskEnd};
    use crate::task::TaskId;

    fn ok(n: u32, name: &str, output: &str) -> Task {
        let mut t = Task::new(TaskId::Work(n), name, "do it");
        t.status = TaskStatus::Succeeded;
        t.output = Some(output.into());
        t.end = Some(TaskEnd::Attempt(OutcomeReason::Completed));
        t.attempts = 1;
        t
    }

    #[test]
    fn one_task_answers_with_its_output() {
        assert_eq!(
            deterministic(&[ok(0, "only", " the answer \n")], "r-1"),
            "the answer"
        );
    }

    #[test]
    fn sections_in_task_order_with_failures_named() {
        let mut failed = Task::new(TaskId::Work(1), "b", "do b");
        failed.status = TaskStatus::Failed;
        failed.end = Some(TaskEnd::Attempt(OutcomeReason::ApiError(Some(500))));
        failed.attempts = 4;
        let merged = deterministic(&[ok(0, "a", "A"), failed, ok(2, "c", "C")], "r-1");
        assert_eq!(
            merged,
            "## 1. a\n\nA\n\n## 2. b — failed (api_error(500), after 4 attempts)\n\n_No result from this task; the answer above and below does not cover it._\n\n## 3. c\n\nC"
        );
    }

    #[test]
    fn synthesis_prompt_carries_request_and_results() {
        let p = synthesis_prompt("the question", &[ok(0, "a", "A1"), ok(1, "b", "B1")], "r-1");
        assert!(p.contains("the question") && p.contains("A1") && p.contains("## 2. b"));
    }

    #[test]
    fn refused_calls_are_listed_after_the_answer() {
        let mut t = ok(1, "b", "B");
        t.denials = vec![crate::protocol::ToolDenial {
            tool: "Bash".into(),
            input: "touch x".into(),
            message: "touch in '/r/x' needs approval.\nmore".into(),
        }];
        let merged = deterministic(&[ok(0, "a", "A"), t], "r-1");
        assert!(
            merged.ends_with("- t2 could not run Bash `touch x`: touch in '/r/x' needs approval."),
            "{merged}"
        );
        assert!(
            merged.contains("## 2. b\n\nB\n\n## Refused tool calls"),
            "{merged}"
        );
        assert_eq!(refusals_section(&[ok(0, "a", "A")]), None);
    }

    #[test]
    fn text_is_cut_only_past_the_limit_with_a_note_naming_it() {
        assert_eq!(cut_to("abcd".into(), 4, "k"), "abcd");
        assert_eq!(
            cut_to("abcdef".into(), 4, "limits.x"),
            "abcd\n\n[smith: cut at 4 of 6 bytes (limits.x)]"
        );
        // At a character boundary: "é" is two bytes.
        assert_eq!(
            cut_to("aéé".into(), 4, "k"),
            "aé\n\n[smith: cut at 3 of 5 bytes (k)]"
        );
    }
}
