//! What a warm worker is started from: the spawn-fixed part of a launch spec — program, flags
//! (model, permission mode and prompt tool, tools, partial messages, …), working directory,
//! environment, umask — without what belongs to one attempt: its Claude session id (a warm
//! process chooses its own at its spawn), its tag (a warm process carries a tag of its own) and
//! its trace context (a process already running cannot be given the attempt's `TRACEPARENT`).
//! What is per attempt *and* fixed at spawn makes an attempt start cold: a `--resume`, a
//! `--json-schema`, a per-attempt `--max-budget-usd`, a worktree as its working directory.

use super::attempt_tag::{AttemptTag, TAG_VAR};
use super::command::SessionArg;
use super::launch::LaunchSpec;

/// Why an attempt starts cold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColdReason {
    /// No pool (`agent.warm_pool = 0`).
    Off,
    /// No warm process of its profile was idle.
    Empty,
    /// It resumes a Claude session (`--resume`).
    Resume,
    /// It has a `--json-schema` (planners).
    JsonSchema,
    /// Its `--max-budget-usd` is its own (a request with a budget or a ceiling).
    Budget,
    /// It runs in its own worktree (isolated tasks).
    Worktree,
}

impl ColdReason {
    /// The metric's attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            ColdReason::Off => "off",
            ColdReason::Empty => "empty",
            ColdReason::Resume => "resume",
            ColdReason::JsonSchema => "json_schema",
            ColdReason::Budget => "budget",
            ColdReason::Worktree => "worktree",
        }
    }
}

/// Variables of one attempt, never part of a profile.
const PER_ATTEMPT_ENV: &[&str] = &[TAG_VAR, "TRACEPARENT", "TRACESTATE"];

/// The spawn-fixed part of a launch spec: equal profiles can use each other's warm processes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WarmProfile {
    template: ProfileKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProfileKey {
    program: std::path::PathBuf,
    /// The arguments without `--session-id ID`.
    args: Vec<String>,
    /// The environment without the per-attempt variables.
    env: Vec<(String, String)>,
    cwd: std::path::PathBuf,
    umask: Option<u32>,
}

impl WarmProfile {
    /// The profile of `launch`, or why it must start cold.
    pub fn of(launch: &LaunchSpec) -> Result<Self, ColdReason> {
        if matches!(launch.session, SessionArg::Resume(_)) {
            return Err(ColdReason::Resume);
        }
        if launch.stdin.worktree.is_some() {
            return Err(ColdReason::Worktree);
        }
        for (flag, reason) in [
            ("--json-schema", ColdReason::JsonSchema),
            ("--max-budget-usd", ColdReason::Budget),
            ("--resume", ColdReason::Resume),
        ] {
            if launch.args.iter().any(|a| a == flag) {
                return Err(reason);
            }
        }
        Ok(Self {
            template: ProfileKey {
                program: launch.program.clone(),
                args: without_session(&launch.args),
                env: launch
                    .env
                    .iter()
                    .filter(|(k, _)| !PER_ATTEMPT_ENV.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                cwd: launch.cwd.clone(),
                umask: launch.umask,
            },
        })
    }

    /// The launch spec of a warm process of this profile: `launch` (of the same profile) with a
    /// fresh Claude session and `tag`, without the attempt's trace context.
    pub fn warm_launch(&self, launch: &LaunchSpec, tag: &AttemptTag) -> LaunchSpec {
        let session = SessionArg::fresh();
        let mut warm = launch.clone();
        warm.args = with_session(&self.template.args, session.id());
        warm.env = self.template.env.iter().cloned().collect();
        warm.env.insert(TAG_VAR.into(), tag.as_str().into());
        warm.session = session;
        warm.tag = Some(tag.clone());
        warm
    }
}

fn without_session(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--session-id" {
            skip = true;
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// `args` with `--session-id ID` where the session flags go (right after the fixed stream flags).
fn with_session(args: &[String], id: &str) -> Vec<String> {
    let at = args
        .iter()
        .position(|a| a == "--verbose")
        .map_or(0, |i| i + 1);
    let mut out = args.to_vec();
    out.splice(at..at, ["--session-id".to_string(), id.to_string()]);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::agent::command::TaskOptions;
    use crate::agent::config::AgentConfig;
    use crate::agent::launch::AttemptSpec;

    fn launch(task: TaskOptions, session: SessionArg, attempt: u32) -> LaunchSpec {
        let dir = std::env::temp_dir();
        let config = AgentConfig {
            roots: vec![dir.clone()],
            ..AgentConfig::default()
        };
        let spec = AttemptSpec {
            config: Arc::new(config),
            task: TaskOptions {
                cwd: dir,
                env: vec![("TRACEPARENT".into(), format!("00-{attempt}"))],
                ..task
            },
            session,
            message: "m".into(),
            tag: Some(AttemptTag::new("r-1", "t1", attempt)),
            transcript: None,
        };
        LaunchSpec::new(&spec).unwrap()
    }

    #[test]
    fn attempts_of_one_profile_share_it_whatever_their_session_tag_and_trace() {
        let a = launch(TaskOptions::default(), SessionArg::fresh(), 1);
        let b = launch(TaskOptions::default(), SessionArg::fresh(), 2);
        assert_eq!(WarmProfile::of(&a), WarmProfile::of(&b));
        let other = launch(
            TaskOptions {
                model: Some("opus".into()),
                ..TaskOptions::default()
            },
            SessionArg::fresh(),
            1,
        );
        assert_ne!(
            WarmProfile::of(&a),
            WarmProfile::of(&other),
            "another model"
        );
    }

    #[test]
    fn what_is_fixed_at_spawn_for_one_attempt_starts_it_cold() {
        let resume = launch(TaskOptions::default(), SessionArg::Resume("s".into()), 1);
        assert_eq!(WarmProfile::of(&resume), Err(ColdReason::Resume));
        let schema = TaskOptions {
            json_schema: Some("{}".into()),
            ..TaskOptions::default()
        };
        let schema = launch(schema, SessionArg::fresh(), 1);
        assert_eq!(WarmProfile::of(&schema), Err(ColdReason::JsonSchema));
        let budget = TaskOptions {
            max_budget_usd: Some(1.0),
            ..TaskOptions::default()
        };
        let budget = launch(budget, SessionArg::fresh(), 1);
        assert_eq!(WarmProfile::of(&budget), Err(ColdReason::Budget));
        let mut isolated = launch(TaskOptions::default(), SessionArg::fresh(), 1);
        isolated.stdin.worktree = Some("/w".into());
        assert_eq!(WarmProfile::of(&isolated), Err(ColdReason::Worktree));
    }

    #[test]
    fn a_warm_launch_has_its_own_session_and_tag_and_no_trace() {
        let a = launch(TaskOptions::default(), SessionArg::fresh(), 1);
        let profile = WarmProfile::of(&a).unwrap();
        let tag = AttemptTag::new("warm", "w1", 0);
        let warm = profile.warm_launch(&a, &tag);
        assert_ne!(warm.session.id(), a.session.id());
        let i = warm.args.iter().position(|x| x == "--session-id").unwrap();
        assert_eq!(warm.args[i + 1], warm.session.id());
        assert_eq!(
            warm.env.get(TAG_VAR).map(String::as_str),
            Some(tag.as_str())
        );
        assert!(!warm.env.contains_key("TRACEPARENT"));
        assert_eq!(
            WarmProfile::of(&warm),
            Ok(profile),
            "a warm launch is of its profile"
        );
    }
}
