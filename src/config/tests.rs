//! The configuration's layers, errors that name key and origin, and the documented file.

use std::time::Duration;

use super::*;
use crate::supervisor::Strategy;

fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let source = file.map(|text| {
        let p = dir.path().join("smith.toml");
        std::fs::write(&p, text).unwrap();
        ConfigSource::Explicit(p)
    });
    Config::load(
        source,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn defaults_load_and_round_trip_through_toml() {
    let c = load(None, &[]).unwrap();
    assert_eq!(c.limits.max_concurrent_tasks, 8);
    let again: Config = toml::from_str(&c.to_toml()).unwrap();
    assert_eq!(again, c);
}

#[test]
fn the_file_overrides_defaults_and_the_environment_overrides_the_file() {
    let c = load(
        Some("[limits]\nmax_concurrent_tasks = 3\n[agent]\ntimeout = \"90s\"\n"),
        &[
            ("SMITH_LIMITS__MAX_CONCURRENT_TASKS", "5"),
            ("SMITH_SOCKET", "/x"),
        ],
    )
    .unwrap();
    assert_eq!(c.limits.max_concurrent_tasks, 5);
    assert_eq!(c.agent.timeout, Duration::from_secs(90));
    let c = load(None, &[("SMITH_SUPERVISION__STRATEGY", "rest_for_one")]).unwrap();
    assert_eq!(c.supervision.strategy, Strategy::RestForOne);
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let e = load(Some("[limits]\nmax_concurent_tasks = 3\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("max_concurent_tasks") && e.contains("smith.toml"),
        "{e}"
    );
    let e = load(Some("[agent]\ntimeout = \"soon\"\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("agent.timeout") && e.contains("not a duration"),
        "{e}"
    );
    let e = load(None, &[("SMITH_LIMITS__MAX_CONCURRENT_TASKS", "0")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("limits.max_concurrent_tasks")
            && e.contains("SMITH_LIMITS__MAX_CONCURRENT_TASKS"),
        "{e}"
    );
    let e = load(Some("[nope]\nx = 1\n"), &[]).unwrap_err().to_string();
    assert!(e.contains("`nope`") && e.contains("unknown section"), "{e}");
    let e = load(None, &[("SMITH_SUPERVISION__STRATEGY", "all_for_none")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("supervision.strategy"), "{e}");
    let e = load(Some("not toml ["), &[]).unwrap_err().to_string();
    assert!(e.contains("not valid TOML"), "{e}");
}

#[test]
fn claude_code_telemetry_is_passed_through_only_when_asked() {
    let c = load(None, &[]).unwrap();
    assert!(c.telemetry.claude_code_env().is_empty());
    assert!(c.session_config().task_env.is_empty());
    let c = load(
        Some("[telemetry]\nclaude_code_telemetry = true\notlp_endpoint = \"http://collector:4317\"\n"),
        &[],
    )
    .unwrap();
    let env: std::collections::BTreeMap<_, _> = c.session_config().task_env.into_iter().collect();
    assert_eq!(env["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
    assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://collector:4317");
    assert_eq!(env["OTEL_METRICS_EXPORTER"], "otlp");
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
}

#[test]
fn an_explicit_missing_file_is_an_error_but_a_missing_default_is_not() {
    let e = Config::load(
        Some(ConfigSource::Explicit("/nonexistent/smith.toml".into())),
        [],
    )
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/smith.toml"));
    assert!(
        Config::load(
            Some(ConfigSource::Default("/nonexistent/smith.toml".into())),
            []
        )
        .is_ok()
    );
}

#[test]
fn the_config_file_of_before_the_sections_moved_loads_unchanged() {
    // config/smith.toml as it was when the sections moved to their modules: every key keeps
    // its name and meaning.
    let c = load(
        Some(include_str!(
            "../../tests/fixtures/config/smith-2026-11-26.toml"
        )),
        &[],
    )
    .unwrap();
    let defaults = load(None, &[]).unwrap();
    assert_eq!(c, defaults, "the documented values are the defaults");
    assert_eq!(c.agent.model, None, "model = \"\" means the CLI's default");
    assert_eq!(c.agent.max_turns, None);
    assert_eq!(c.limits.max_budget_usd, None, "0.0 means unlimited");
    assert_eq!(c.supervision.backoff().min, Duration::from_millis(500));
    let e = load(Some("[agent]\numask = \"999\"\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("agent.umask") && e.contains("octal"), "{e}");
    let c = load(Some("[agent]\numask = \"027\"\n"), &[]).unwrap();
    assert_eq!(c.agent.umask, Some(0o027));
    let e = load(Some("[limits]\nmax_budget_usd = -1.0\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("limits.max_budget_usd"), "{e}");
}

#[test]
fn the_budget_time_zone_is_an_iana_name_checked_when_read() {
    let c = load(
        Some("[limits]\nbudget_time_zone = \"Europe/Paris\"\ndaily_budget_usd = 20.0\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.limits.budget_time_zone.name(), "Europe/Paris");
    assert_eq!(c.limits.ceilings().daily_usd, Some(20.0));
    assert_eq!(c.limits.ceilings().session_usd, None, "0 by default: none");
    let e = load(
        Some("[limits]\nbudget_time_zone = \"Europe/Pariss\"\n"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("limits.budget_time_zone") && e.contains("Europe/Pariss") && e.contains("IANA"),
        "{e}"
    );
    let e = load(
        None,
        &[("SMITH_LIMITS__BUDGET_TIME_ZONE", "Nowhere/Atlantis")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("SMITH_LIMITS__BUDGET_TIME_ZONE"), "{e}");
    let c = load(None, &[("SMITH_LIMITS__BUDGET_TIME_ZONE", "Asia/Kolkata")]).unwrap();
    assert_eq!(c.limits.budget_time_zone.name(), "Asia/Kolkata");
}

#[test]
fn isolation_by_default_needs_a_workspace_dir_workers_may_run_in() {
    let e = load(
        Some("[agent]\nisolation = \"worktree\"\nroots = [\"/srv/code\"]\n[workspace]\ndir = \"/var/smith/worktrees\"\n"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("workspace.dir") && e.contains("agent.roots"),
        "{e}"
    );
    let c = load(
        Some("[agent]\nisolation = \"worktree\"\nroots = [\"/srv/code\"]\n[workspace]\ndir = \"/srv/code/.worktrees\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.workspace_dir(), PathBuf::from("/srv/code/.worktrees"));
    let e = load(Some("[workspace]\ncopy = [\"../outside\"]\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("workspace.copy"), "{e}");
    let e = load(Some("[agent]\nisolation = \"sandbox\"\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("agent.isolation") && e.contains("worktree"),
        "{e}"
    );
}

#[test]
fn permission_rules_are_checked_and_stdio_mode_gives_workers_the_policy() {
    let e = load(Some("[permissions]\nallow = [\"Bash(git status*\"]\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("permissions.allow") && e.contains("')'"), "{e}");
    let c = load(None, &[]).unwrap();
    assert!(
        c.worker_agent().permissions.is_none(),
        "cli mode: the CLI decides"
    );
    let c = load(
        Some("[permissions]\nmode = \"stdio\"\npreset = \"workspace-write\"\nallow = [\"Bash(cargo test*)\"]\n"),
        &[],
    )
    .unwrap();
    let policy = c
        .worker_agent()
        .permissions
        .expect("stdio mode: smith decides");
    assert_eq!(policy.allow.len(), 1);
    assert_eq!(policy.preset, crate::permissions::Preset::WorkspaceWrite);
}
