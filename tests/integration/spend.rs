//! Spending ceilings with the stand-in agent (`[[cost:USD]]`): a session's and the day's refuse
//! what would start past them (naming the ceiling) and stop what runs under them; each attempt's
//! `--max-budget-usd` is the least of what is left; the day is the budget time zone's, on a clock
//! the test moves across midnight; the ledger survives `kill -9 smithd`.

use std::time::Duration;

use serde_json::Value;
use smith::clock::Clock;

use crate::support::approvals::json_of;
use crate::support::daemon::{Daemon, stderr, stdout};
use crate::support::eventually_sync;

/// `--max-budget-usd`'s value in a worker's arguments (`[[args]]`).
fn max_budget(answer: &Value) -> f64 {
    let args: Vec<String> =
        serde_json::from_str(answer["tasks"][0]["output"].as_str().unwrap()).unwrap();
    let i = args
        .iter()
        .position(|a| a == "--max-budget-usd")
        .expect("--max-budget-usd given");
    args[i + 1].parse().unwrap()
}

/// `smith ask` that smithd refuses: exit 1, its one line.
fn refused(d: &Daemon, args: &[&str]) -> String {
    let out = d.smith(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

/// A request's record once it has ended.
fn ended(d: &Daemon, id: &str) -> Value {
    eventually_sync(Duration::from_secs(20), || {
        let v = json_of(d, &["show", "--json", id]);
        (!matches!(v["request"]["status"].as_str(), Some("queued" | "running"))).then_some(v)
    })
    .unwrap_or_else(|| panic!("request {id} did not end:\n{}", d.log()))
}

#[test]
fn a_session_ceiling_bounds_each_attempt_then_refuses_naming_itself() {
    let mut d = Daemon::new("[limits]\nsession_budget_usd = 0.5\n");
    d.start_in_process();
    let first = json_of(&d, &["ask", "--json", "one [[cost:0.3]] [[args]]"]);
    assert_eq!(first["status"], "succeeded", "{first}");
    assert!(
        (max_budget(&first) - 0.5).abs() < 1e-6,
        "all of the session's budget is left"
    );
    // A request's own budget larger than what the session has left: the least is given.
    let second = json_of(
        &d,
        &[
            "ask",
            "--json",
            "--budget",
            "5",
            "two [[cost:0.3]] [[args]]",
        ],
    );
    assert!((max_budget(&second) - 0.2).abs() < 1e-6, "{second}");

    let line = refused(&d, &["ask", "three"]);
    assert!(
        line.contains("session main's budget is spent")
            && line.contains("limits.session_budget_usd")
            && line.contains("--session"),
        "{line}"
    );
    assert_eq!(line.trim().lines().count(), 1, "{line}");
    // Another session has its own.
    let other = json_of(&d, &["ask", "--json", "--session", "other", "four"]);
    assert_eq!(other["status"], "succeeded");

    let status = json_of(&d, &["status", "--json"]);
    let warnings = status["spend"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{status}");
    assert_eq!(warnings[0]["session"], "main");
    let text = stdout(&d.smith(&["status"]));
    assert!(
        text.contains("session main's budget") && text.contains("reached"),
        "{text}"
    );
    d.stop_in_process().unwrap();
}

#[test]
fn the_daily_ceiling_stops_running_requests_of_every_session() {
    let mut d = Daemon::new("[limits]\ndaily_budget_usd = 1.0\n");
    d.start_in_process();
    let out = d.smith(&["ask", "--detach", "--session", "long", "[[sleep:60000]]"]);
    let long = stdout(&out).trim().to_string();
    assert!(long.starts_with("r-"), "{long}: {}", stderr(&out));
    eventually_sync(Duration::from_secs(10), || {
        let v = json_of(&d, &["show", "--json", &long]);
        (v["tasks"][0]["status"] == "running").then_some(())
    })
    .expect("the long request runs");

    // Another session spends past the day's ceiling: 80 % is warned, then the ceiling is reached.
    let spend = json_of(&d, &["ask", "--json", "spend [[cost:1.5]]"]);
    assert_eq!(
        spend["status"], "succeeded",
        "it was within the ceiling when it started"
    );
    let stopped = ended(&d, &long);
    let reason = stopped["request"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("budget_exceeded")
            && reason.contains("daily budget")
            && reason.contains("limits.daily_budget_usd"),
        "{stopped}"
    );
    assert_eq!(
        stopped["tasks"][0]["exit_reason"], "budget_exceeded",
        "{stopped}"
    );

    let line = refused(&d, &["ask", "--session", "fresh", "more"]);
    assert!(
        line.contains("the daily budget") && line.contains("midnight"),
        "{line}"
    );
    let status = json_of(&d, &["status", "--json"]);
    assert!((status["spend"]["day_spent_usd"].as_f64().unwrap() - 1.5).abs() < 1e-9);
    d.stop_in_process().unwrap();
}

#[test]
fn reaching_the_session_ceiling_stops_its_tasks_and_what_waits_behind_them() {
    let mut d = Daemon::new("[limits]\nsession_budget_usd = 0.5\n");
    d.start_in_process();
    let detach = |args: &[&str]| {
        let out = d.smith(&[&["ask", "--detach"][..], args].concat());
        let id = stdout(&out).trim().to_string();
        assert!(id.starts_with("r-"), "{id}: {}", stderr(&out));
        id
    };
    let running = detach(&[
        "fan-out",
        "--task",
        "spender [[sleep:300]] [[cost:0.6]]",
        "--task",
        "long [[sleep:60000]]",
    ]);
    let queued = detach(&["behind it"]);
    let stopped = ended(&d, &running);
    let reason = stopped["request"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("budget_exceeded") && reason.contains("session main's budget"),
        "{stopped}"
    );
    let long = &stopped["tasks"][1];
    assert_eq!(long["exit_reason"], "budget_exceeded", "{stopped}");
    let never = ended(&d, &queued);
    assert!(
        never["request"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("limits.session_budget_usd"),
        "{never}"
    );
    assert_eq!(
        never["attempts"],
        serde_json::json!([]),
        "nothing of it started"
    );
    d.stop_in_process().unwrap();
}

/// 2026-11-26 23:30 UTC: 15:30 in Los Angeles.
const NOV_26_2330_UTC: i64 = 1_795_735_800_000;
const HOUR_MS: i64 = 3_600_000;

#[test]
fn the_day_starts_again_at_midnight_in_the_budget_time_zone() {
    let mut d = Daemon::new(
        "[limits]\ndaily_budget_usd = 0.5\nbudget_time_zone = \"America/Los_Angeles\"\n",
    );
    d.clock = Clock::manual(NOV_26_2330_UTC);
    d.start_in_process();
    json_of(&d, &["ask", "--json", "[[cost:0.6]]"]);
    assert!(refused(&d, &["ask", "x"]).contains("2026-11-26 (America/Los_Angeles)"));
    // Midnight in UTC is not midnight in Los Angeles.
    d.clock.set_ms(NOV_26_2330_UTC + HOUR_MS);
    refused(&d, &["ask", "x"]);
    // 08:30 UTC on the 27th is 00:30 there: a new day.
    d.clock.set_ms(NOV_26_2330_UTC + 9 * HOUR_MS);
    let v = json_of(&d, &["ask", "--json", "[[cost:0.1]]"]);
    assert_eq!(v["status"], "succeeded");
    let status = json_of(&d, &["status", "--json"]);
    assert_eq!(status["spend"]["day"], "2026-11-27");
    assert_eq!(status["spend"]["time_zone"], "America/Los_Angeles");
    assert!((status["spend"]["day_spent_usd"].as_f64().unwrap() - 0.1).abs() < 1e-9);

    // The report's days are the ledger's.
    let usage = json_of(&d, &["usage", "--json"]);
    let days: Vec<(&str, f64)> = usage["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["cost_usd"].as_f64().unwrap()))
        .collect();
    assert_eq!(days.len(), 2, "{usage}");
    assert_eq!((days[0].0, days[1].0), ("2026-11-26", "2026-11-27"));
    assert!((days[0].1 - 0.6).abs() < 1e-9 && (days[1].1 - 0.1).abs() < 1e-9);
    assert_eq!(usage["time_zone"], "America/Los_Angeles");
    let since = json_of(&d, &["usage", "--json", "--since", "2026-11-27"]);
    assert_eq!(since["total"]["attempts"], 1, "{since}");
    d.stop_in_process().unwrap();
}

#[test]
fn the_ledger_survives_kill_9() {
    let mut d = Daemon::new("[limits]\nsession_budget_usd = 1.0\ndaily_budget_usd = 5.0\n");
    d.start();
    json_of(&d, &["ask", "--json", "[[cost:0.7]]"]);
    json_of(&d, &["ask", "--json", "--session", "b", "[[cost:0.4]]"]);
    let before = json_of(&d, &["usage", "--by", "session", "--json"]);
    d.signal(nix::sys::signal::Signal::SIGKILL);
    d.wait(Duration::from_secs(10)).expect("smithd died");
    d.start();
    let after = json_of(&d, &["usage", "--by", "session", "--json"]);
    assert_eq!(before, after, "the ledger is what was committed");
    let status = json_of(&d, &["status", "--json"]);
    assert!(
        (status["spend"]["day_spent_usd"].as_f64().unwrap() - 1.1).abs() < 1e-9,
        "{status}"
    );
    // What is left of session main's 1.0 after 0.7 bounds its next attempt, as before the kill.
    let v = json_of(&d, &["ask", "--json", "[[cost:0.4]] [[args]]"]);
    assert!((max_budget(&v) - 0.3).abs() < 1e-6, "{v}");
    assert!(refused(&d, &["ask", "again"]).contains("session main's budget"));
}
