//! Merging task results into one answer: deterministic (a section per task, in task order, failed
//! tasks named with their reason and attempts) or synthesized by one more task.

use crate::store::TaskStatus;

/// A task's result as the merge sees it.
#[derive(Debug, Clone)]
pub struct MergeInput<'a> {
    /// Name.
    pub name: &'a str,
    /// Status.
    pub status: TaskStatus,
    /// Result text.
    pub output: Option<&'a str>,
    /// Outcome class of its last attempt.
    pub reason: Option<&'a str>,
    /// Attempts started.
    pub attempts: u32,
}

/// The deterministic merge. A request of one successful task answers with its output alone.
pub fn deterministic(tasks: &[MergeInput<'_>]) -> String {
    if let [only] = tasks
        && only.status == TaskStatus::Succeeded
    {
        return only.output.unwrap_or("").trim().to_string();
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
                    t.output.unwrap_or("").trim()
                ));
            }
            status => {
                let reason = t.reason.unwrap_or("no result");
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

/// The prompt of the synthesis task.
pub fn synthesis_prompt(request: &str, tasks: &[MergeInput<'_>]) -> String {
    format!(
        "[smith] Several workers each did part of the request below. Write the final answer to \
         the request from their results: combine, remove repetition, resolve conflicts, and say \
         plainly what is missing where a worker failed.\n\n## Request\n{}\n\n## Worker results\n\n{}\n",
        request.trim(),
        deterministic(tasks)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<'a>(name: &'a str, output: &'a str) -> MergeInput<'a> {
        MergeInput {
            name,
            status: TaskStatus::Succeeded,
            output: Some(output),
            reason: Some("completed"),
            attempts: 1,
        }
    }

    #[test]
    fn one_task_answers_with_its_output() {
        assert_eq!(deterministic(&[ok("only", " the answer \n")]), "the answer");
    }

    #[test]
    fn sections_in_task_order_with_failures_named() {
        let failed = MergeInput {
            name: "b",
            status: TaskStatus::Failed,
            output: None,
            reason: Some("api_error(500)"),
            attempts: 4,
        };
        let merged = deterministic(&[ok("a", "A"), failed, ok("c", "C")]);
        assert_eq!(
            merged,
            "## 1. a\n\nA\n\n## 2. b — failed (api_error(500), after 4 attempts)\n\n_No result from this task; the answer above and below does not cover it._\n\n## 3. c\n\nC"
        );
    }

    #[test]
    fn synthesis_prompt_carries_request_and_results() {
        let p = synthesis_prompt("the question", &[ok("a", "A1"), ok("b", "B1")]);
        assert!(p.contains("the question") && p.contains("A1") && p.contains("## 2. b"));
    }
}
