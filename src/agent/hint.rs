//! What a person should do about a failed attempt: the one source of hints that `smith ask`,
//! `smith show` (and the REPL later) print under a failure's reason.

use super::outcome::{Outcome, OutcomeReason};

/// The first line of a failure's detail, at most 300 characters.
pub fn first_line(detail: &str) -> String {
    let line = detail.trim().lines().next().unwrap_or("").trim();
    match line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// For an attempt that did not complete: the first line of why, and a hint where one helps
/// (nothing for one that completed).
pub fn explain(outcome: &Outcome) -> (Option<String>, Option<String>) {
    if outcome.reason == OutcomeReason::Completed {
        return (None, None);
    }
    let why = outcome.detail.as_deref().unwrap_or_default();
    let detail = Some(first_line(why)).filter(|d| !d.is_empty());
    (detail, hint(outcome.reason, why).map(str::to_string))
}

/// A hint for an attempt that ended with `reason` and `detail`, where one helps.
pub fn hint(reason: OutcomeReason, detail: &str) -> Option<&'static str> {
    match reason {
        OutcomeReason::SpawnFailed if detail.contains("outside the configured roots") => Some(
            "run smith ask from a directory inside agent.roots, pass --cwd DIR, or add the directory to agent.roots in smithd's config",
        ),
        OutcomeReason::SpawnFailed if detail.contains("could not be recorded") => Some(
            "smithd's database is locked or full: free the disk or stop what holds the database, then `smith resume` the request",
        ),
        OutcomeReason::SpawnFailed if detail.contains("cannot start") => Some(
            "install Claude Code (npm install -g @anthropic-ai/claude-code) where smithd runs, or set agent.program to the claude executable",
        ),
        OutcomeReason::WorkspaceFailed if detail.contains("workspace.setup") => Some(
            "fix the command in workspace.setup (it runs in each new worktree before the worker), then `smith resume` the request",
        ),
        OutcomeReason::WorkspaceFailed => Some(
            "see the git error above; `smith workspaces` lists what exists, `smith discard` removes a request's worktrees",
        ),
        OutcomeReason::ApiError(Some(401 | 403)) => Some(
            "the API refused the credentials: check ANTHROPIC_API_KEY, or run `claude login`, as the user smithd runs as",
        ),
        OutcomeReason::RateLimited => Some(
            "the API account is throttled (`smith status` shows the gate and until when): resume the request later, or let tasks wait longer with governor.max_wait",
        ),
        OutcomeReason::BudgetExceeded => Some(
            "the request's budget is spent: give it more with smith ask --budget USD (default: limits.max_budget_usd)",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_common_failure_has_its_hint() {
        let missing = "cannot start claude: No such file or directory (os error 2)";
        assert!(
            hint(OutcomeReason::SpawnFailed, missing)
                .unwrap()
                .contains("agent.program")
        );
        let roots =
            "working directory /srv is outside the configured roots [\"/home/me\"] (agent.roots)";
        assert!(
            hint(OutcomeReason::SpawnFailed, roots)
                .unwrap()
                .contains("--cwd")
        );
        assert!(
            hint(OutcomeReason::ApiError(Some(401)), "")
                .unwrap()
                .contains("ANTHROPIC_API_KEY")
        );
        assert!(
            hint(OutcomeReason::BudgetExceeded, "")
                .unwrap()
                .contains("--budget")
        );
        assert_eq!(hint(OutcomeReason::Crashed, "exit 3"), None);
        assert_eq!(first_line("  one\ntwo"), "one");
    }
}
