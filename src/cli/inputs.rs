//! What `smith ask` sends, the Unix way: the prompt from an argument or from stdin (`-`, or no
//! argument with stdin not a terminal), tasks from `--task` and from a tasks file (`--tasks-file
//! FILE`, `-` for stdin): plain text (one task per non-empty line), JSON or YAML (a list of strings
//! or of `{name, instruction}`). Errors name the file and the line or the entry.

use std::io::{IsTerminal, Read};
use std::path::Path;

use serde::Deserialize;

use crate::protocol::MAX_FRAME_BYTES;
use crate::protocol::TaskInput;

/// What is wrong with the inputs.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Reading failed.
    #[error("cannot read {what}: {reason}")]
    Read {
        /// stdin or the file.
        what: String,
        /// Why.
        reason: String,
    },
    /// More than any request can carry.
    #[error(
        "{what} holds more than {max} bytes, more than a request can carry; smithd's limit (limits.max_request_bytes) is lower still: put long material in a file under the working directory and point the request at it"
    )]
    TooLarge {
        /// stdin or the file.
        what: String,
        /// The bound.
        max: usize,
    },
    /// The tasks file is not what it should be.
    #[error("{file}: {reason}")]
    Tasks {
        /// The file (or stdin).
        file: String,
        /// Where and what.
        reason: String,
    },
    /// Both want stdin.
    #[error(
        "stdin can carry the prompt or the tasks file, not both: give the prompt as an argument or the tasks as a file"
    )]
    StdinTwice,
}

fn read_bounded(mut from: impl Read, what: &str) -> Result<String, InputError> {
    let mut buf = Vec::new();
    from.by_ref()
        .take(MAX_FRAME_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| InputError::Read {
            what: what.into(),
            reason: e.to_string(),
        })?;
    if buf.len() > MAX_FRAME_BYTES {
        return Err(InputError::TooLarge {
            what: what.into(),
            max: MAX_FRAME_BYTES,
        });
    }
    String::from_utf8(buf).map_err(|e| InputError::Read {
        what: what.into(),
        reason: format!("not UTF-8 text ({e})"),
    })
}

/// Whether the prompt comes from stdin: `-`, or no prompt argument while stdin is not a terminal
/// (and not needed for the tasks file).
fn prompt_from_stdin(prompt: Option<&str>, tasks_file: Option<&Path>) -> bool {
    match prompt {
        Some("-") => true,
        Some(_) => false,
        None => tasks_file != Some(Path::new("-")) && !std::io::stdin().is_terminal(),
    }
}

/// The prompt and the tasks of `smith ask`.
pub fn ask_inputs(
    prompt: Option<String>,
    tasks: Vec<String>,
    tasks_file: Option<&Path>,
) -> Result<(String, Vec<TaskInput>), InputError> {
    let from_stdin = prompt_from_stdin(prompt.as_deref(), tasks_file);
    if from_stdin && tasks_file == Some(Path::new("-")) {
        return Err(InputError::StdinTwice);
    }
    let prompt = if from_stdin {
        read_bounded(std::io::stdin().lock(), "stdin")?
    } else {
        prompt.unwrap_or_default()
    };
    let mut all: Vec<TaskInput> = tasks.into_iter().map(TaskInput::from).collect();
    if let Some(file) = tasks_file {
        let (name, text) = if file == Path::new("-") {
            (
                "stdin".to_string(),
                read_bounded(std::io::stdin().lock(), "stdin")?,
            )
        } else {
            let name = file.display().to_string();
            let f = std::fs::File::open(file).map_err(|e| InputError::Read {
                what: name.clone(),
                reason: e.to_string(),
            })?;
            let text = read_bounded(f, &name)?;
            (name, text)
        };
        all.extend(parse_tasks(&name, &text)?);
    }
    Ok((prompt.trim().to_string(), all))
}

/// One entry of a JSON or YAML tasks file.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Text(String),
    Task {
        name: Option<String>,
        instruction: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
    Lines,
}

fn format_of(file: &str, text: &str) -> Format {
    let lower = file.to_ascii_lowercase();
    let start = text.trim_start();
    if lower.ends_with(".json") || start.starts_with('[') {
        Format::Json
    } else if lower.ends_with(".yaml")
        || lower.ends_with(".yml")
        || start.starts_with("- ")
        || start.starts_with("---")
    {
        Format::Yaml
    } else {
        Format::Lines
    }
}

/// Tasks from a tasks file's text (`file` names it in errors).
pub fn parse_tasks(file: &str, text: &str) -> Result<Vec<TaskInput>, InputError> {
    let bad = |reason: String| InputError::Tasks {
        file: file.to_string(),
        reason,
    };
    let entries: Vec<Entry> = match format_of(file, text) {
        Format::Lines => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| Entry::Text(l.to_string()))
            .collect(),
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let inner = e.inner();
                bad(format!(
                    "line {}, column {}: {} (at {}); expected a JSON list of strings or of {{\"name\", \"instruction\"}}",
                    inner.line(),
                    inner.column(),
                    inner,
                    e.path()
                ))
            })?
        }
        Format::Yaml => serde_yaml::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            bad(format!(
                "{at}{e}; expected a YAML list of strings or of {{name, instruction}}"
            ))
        })?,
    };
    let mut tasks = Vec::with_capacity(entries.len());
    for (n, entry) in entries.into_iter().enumerate() {
        let task = match entry {
            Entry::Text(instruction) => TaskInput {
                name: None,
                instruction,
            },
            Entry::Task { name, instruction } => TaskInput { name, instruction },
        };
        if task.instruction.trim().is_empty() {
            return Err(bad(format!("entry {} has an empty instruction", n + 1)));
        }
        tasks.push(task);
    }
    if tasks.is_empty() {
        return Err(bad("holds no tasks".into()));
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_and_yaml_lists_become_tasks() {
        let plain = parse_tasks("plan.txt", "write the tests\n\n  fix the lint \n").unwrap();
        assert_eq!(plain, vec!["write the tests".into(), "fix the lint".into()]);
        let json = parse_tasks(
            "plan.json",
            r#"["a", {"name": "lint", "instruction": "fix the lint"}]"#,
        )
        .unwrap();
        assert_eq!(json[1].name.as_deref(), Some("lint"));
        let yaml = parse_tasks(
            "plan.yaml",
            "- a\n- name: lint\n  instruction: fix the lint\n",
        )
        .unwrap();
        assert_eq!(yaml, json);
    }

    #[test]
    fn errors_name_the_line_or_the_entry() {
        let err = parse_tasks("plan.json", "[\"a\",\n {\"name\": \"x\"}]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("plan.json") && err.contains("line 2"), "{err}");
        let err = parse_tasks("plan.yaml", "- a\n- name: [oops\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("plan.yaml") && err.contains("line"), "{err}");
        let err = parse_tasks("plan.json", r#"["a", ""]"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 2"), "{err}");
        let err = parse_tasks("empty.txt", "\n \n").unwrap_err().to_string();
        assert!(err.contains("no tasks"), "{err}");
    }
}
