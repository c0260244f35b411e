//! What a request must be before a session takes it: a valid session name, a prompt or tasks
//! within the limits, sane options (defaults applied); and a stored request read back for a
//! resume.

use crate::settings::MAX_DURATION;
use crate::supervisor::Restart;

use super::config::SessionConfig;
use super::error::SessionError;
use super::request::RequestSpec;

/// A request's stored options. Requests stored before tasks had names hold them as plain strings.
pub(super) fn stored_spec(json: &str) -> Result<RequestSpec, SessionError> {
    let unreadable =
        |e: serde_json::Error| SessionError::Invalid(format!("stored request cannot be read: {e}"));
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(unreadable)?;
    if let Some(tasks) = value.get_mut("tasks").and_then(|t| t.as_array_mut()) {
        for t in tasks.iter_mut() {
            if let Some(text) = t.as_str() {
                *t = serde_json::json!({ "name": null, "instruction": text });
            }
        }
    }
    serde_json::from_value(value).map_err(unreadable)
}

/// Applies defaults and checks a request.
pub fn validate(
    mut spec: RequestSpec,
    config: &SessionConfig,
) -> Result<RequestSpec, SessionError> {
    let invalid = |m: String| Err(SessionError::Invalid(m));
    check_session_name(&spec.session)?;
    spec.prompt = spec.prompt.trim().to_string();
    spec.tasks.retain(|t| !t.instruction.trim().is_empty());
    if spec.prompt.is_empty() && spec.tasks.is_empty() {
        return invalid("a request needs a prompt or at least one task".into());
    }
    if spec.prompt.is_empty() {
        spec.prompt = spec
            .tasks
            .iter()
            .map(|t| t.instruction.as_str())
            .collect::<Vec<_>>()
            .join("\n");
    }
    if spec.plan && !spec.tasks.is_empty() {
        return invalid("--plan and --task exclude each other: the planner makes the tasks".into());
    }
    let bytes = spec.prompt.len()
        + spec
            .tasks
            .iter()
            .map(|t| t.instruction.len() + t.name.as_ref().map_or(0, String::len))
            .sum::<usize>();
    let max_bytes = config.limits.max_request_bytes;
    if bytes > max_bytes {
        return invalid(format!(
            "the request has {bytes} bytes of prompt and tasks, more than limits.max_request_bytes ({max_bytes}): put long material in a file under the working directory and point the request at it"
        ));
    }
    let max = config.limits.max_tasks_per_request;
    if spec.tasks.len() > max {
        return invalid(format!(
            "{} tasks exceed limits.max_tasks_per_request ({max})",
            spec.tasks.len()
        ));
    }
    if spec.restart == Some(Restart::Permanent) {
        return invalid(
            "tasks finish, so a permanent task would be restarted after it succeeded; use transient (the default) or temporary".into(),
        );
    }
    if let Some(b) = spec.budget_usd
        && !(b.is_finite() && b > 0.0)
    {
        return invalid(format!("budget must be a positive number of USD, got {b}"));
    }
    for (flag, d) in [("--timeout", spec.timeout), ("--within", spec.within)] {
        match d {
            Some(d) if d.is_zero() => return invalid(format!("{flag} must be longer than zero")),
            Some(d) if d > MAX_DURATION => {
                return invalid(format!(
                    "{flag} {} is longer than the longest duration smith accepts ({})",
                    humantime::format_duration(d),
                    humantime::format_duration(MAX_DURATION)
                ));
            }
            _ => {}
        }
    }
    if !spec.cwd.is_absolute() {
        return invalid(format!(
            "working directory {} must be absolute",
            spec.cwd.display()
        ));
    }
    Ok(spec)
}

/// Session names: 1-64 of `[A-Za-z0-9._-]`; anything else is a clear error.
pub fn check_session_name(name: &str) -> Result<(), SessionError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(SessionError::Invalid(format!(
            "session name {name:?} must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )))
    }
}
