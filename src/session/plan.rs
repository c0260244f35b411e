//! What a request's work tasks are: its explicit tasks, the whole request as one task, or (plan
//! mode) what a planner task with `--json-schema` split it into.

use serde::Deserialize;
use serde_json::Value;

use crate::protocol::TaskInput;
use crate::task::{Task, TaskId};

/// The JSON Schema the planner's answer must follow.
pub const PLAN_SCHEMA: &str = r#"{"type":"object","properties":{"tasks":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"instruction":{"type":"string"}},"required":["instruction"]}}},"required":["tasks"]}"#;

/// One planned task.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlannedTask {
    /// Short name (defaults to "task N").
    #[serde(default)]
    pub name: String,
    /// What to do.
    pub instruction: String,
}

#[derive(Deserialize)]
struct Plan {
    tasks: Vec<PlannedTask>,
}

/// The planner's prompt.
pub fn planner_prompt(request: &str, max_tasks: usize) -> String {
    format!(
        "[smith] You are the planner of a smith session. Split the request below into at most \
         {max_tasks} independent sub-tasks that separate workers can do in parallel, each with a \
         short name and a self-contained instruction. Do not do the work yourself. Answer only \
         through the structured output.\n\n## Request\n{}\n",
        request.trim()
    )
}

/// Reads the plan from the planner's structured output (or, failing that, its result text).
/// Empty instructions are dropped; at most `max_tasks` are kept. Returns the tasks and whether
/// some were cut.
pub fn parse_plan(
    structured: Option<&Value>,
    text: Option<&str>,
    max_tasks: usize,
) -> Result<(Vec<PlannedTask>, bool), String> {
    let plan: Plan = match (structured, text) {
        (Some(v), _) => serde_json::from_value(v.clone()).map_err(|e| format!("bad plan: {e}"))?,
        (None, Some(t)) => serde_json::from_str(t.trim()).map_err(|e| format!("bad plan: {e}"))?,
        (None, None) => return Err("the planner returned no plan".into()),
    };
    let mut tasks: Vec<PlannedTask> = plan
        .tasks
        .into_iter()
        .filter(|t| !t.instruction.trim().is_empty())
        .collect();
    if tasks.is_empty() {
        return Err("the planner returned no tasks".into());
    }
    let cut = tasks.len() > max_tasks;
    tasks.truncate(max_tasks);
    for (i, t) in tasks.iter_mut().enumerate() {
        if t.name.trim().is_empty() {
            t.name = format!("task {}", i + 1);
        }
    }
    Ok((tasks, cut))
}

/// The work tasks of a request without a plan: its explicit tasks in order, or the whole
/// request as one task.
pub fn explicit_tasks(prompt: &str, tasks: &[TaskInput]) -> Vec<Task> {
    if tasks.is_empty() {
        return vec![Task::new(TaskId::Work(0), "request", prompt)];
    }
    tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let name = task_name(task.name.as_deref().unwrap_or(&task.instruction));
            Task::new(TaskId::Work(i as u32), name, task.instruction.clone())
        })
        .collect()
}

/// The work tasks of a plan, in order.
pub fn planned_tasks(plan: Vec<PlannedTask>) -> Vec<Task> {
    plan.into_iter()
        .enumerate()
        .map(|(i, t)| Task::new(TaskId::Work(i as u32), t.name, t.instruction))
        .collect()
}

/// A task's short name: the first words of its instruction, at most 60 characters.
fn task_name(instruction: &str) -> String {
    let words = instruction
        .split_whitespace()
        .take(6)
        .collect::<Vec<_>>()
        .join(" ");
    match words.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &words[..at]),
        None => words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plan_is_read_named_and_bounded() {
        let v = json!({"tasks": [
            {"name": "a", "instruction": "do a"},
            {"instruction": "do b"},
            {"name": "empty", "instruction": "  "},
            {"name": "c", "instruction": "do c"},
        ]});
        let (tasks, cut) = parse_plan(Some(&v), None, 2).unwrap();
        assert!(cut);
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[1].name, "task 2");
        let (tasks, cut) = parse_plan(Some(&v), None, 10).unwrap();
        assert!(!cut);
        assert_eq!(tasks.len(), 3);
    }

    #[test]
    fn bad_or_empty_plans_are_errors() {
        assert!(parse_plan(None, None, 3).is_err());
        assert!(parse_plan(Some(&json!({"tasks": []})), None, 3).is_err());
        assert!(parse_plan(None, Some("not json"), 3).is_err());
        assert!(parse_plan(None, Some(r#"{"tasks":[{"instruction":"x"}]}"#), 3).is_ok());
        serde_json::from_str::<Value>(PLAN_SCHEMA).expect("the schema is JSON");
    }

    #[test]
    fn a_plan_of_exactly_the_limit_is_not_cut() {
        let v = json!({"tasks": [{"instruction": "a"}, {"instruction": "b"}]});
        let (tasks, cut) = parse_plan(Some(&v), None, 2).unwrap();
        assert_eq!((tasks.len(), cut), (2, false));
    }

    #[test]
    fn the_planner_is_told_the_request_and_the_limit() {
        let p = planner_prompt("  build the thing \n", 7);
        assert!(p.contains("at most 7 independent sub-tasks"), "{p}");
        assert!(p.ends_with("## Request\nbuild the thing\n"), "{p}");
    }

    #[test]
    fn explicit_tasks_are_named_and_numbered_and_no_task_is_the_request() {
        let inputs = [
            TaskInput::from("write the unit tests for the parser module please now"),
            TaskInput {
                name: Some("lint".into()),
                instruction: "fix the lint".into(),
            },
        ];
        let tasks = explicit_tasks("the prompt", &inputs);
        let got: Vec<(TaskId, &str, &str)> = tasks
            .iter()
            .map(|t| (t.id, t.name.as_str(), t.instruction.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    TaskId::Work(0),
                    "write the unit tests for the",
                    "write the unit tests for the parser module please now"
                ),
                (TaskId::Work(1), "lint", "fix the lint"),
            ]
        );
        let one = explicit_tasks("the prompt", &[]);
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].id, one[0].name.as_str(), one[0].instruction.as_str()),
            (TaskId::Work(0), "request", "the prompt")
        );
        let long = "w".repeat(70);
        assert_eq!(task_name(&long), format!("{}…", "w".repeat(60)));
    }

    #[test]
    fn planned_tasks_keep_the_plan_order() {
        let planned = vec![
            PlannedTask {
                name: "a".into(),
                instruction: "do a".into(),
            },
            PlannedTask {
                name: "b".into(),
                instruction: "do b".into(),
            },
        ];
        let tasks = planned_tasks(planned);
        assert_eq!(
            tasks
                .iter()
                .map(|t| (t.id, t.name.as_str()))
                .collect::<Vec<_>>(),
            [(TaskId::Work(0), "a"), (TaskId::Work(1), "b")]
        );
    }
}
