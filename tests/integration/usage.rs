//! `smith usage` with the stand-in agent: the ledger's totals equal the sum of the attempts'
//! results (cache tokens included, from a real capture with the usage of an agent turn), grouped
//! by session, model and day, `--since` filters, and `--bare` reaches the worker's command line
//! and the report.

use crate::support::approvals::json_of;
use crate::support::daemon::{Daemon, stderr};

#[test]
fn usage_totals_are_the_sum_of_the_results_by_session_model_and_day() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let replay = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/derived/success_with_cache_tokens.jsonl");
    let a = json_of(
        &d,
        &["ask", "--json", &format!("[[replay:{}]]", replay.display())],
    );
    let b = json_of(
        &d,
        &[
            "ask",
            "--json",
            "--session",
            "other",
            "--bare",
            "two [[cost:0.25]] [[args]]",
        ],
    );
    let args = b["tasks"][0]["output"].as_str().unwrap();
    assert!(
        args.contains("\"--bare\""),
        "--bare reaches the worker: {args}"
    );

    // The sum of what `smith show` recorded for each attempt.
    let mut cost = 0.0;
    let (mut input, mut cache_read, mut output, mut attempts) = (0, 0, 0, 0);
    for v in [&a, &b] {
        let show = json_of(&d, &["show", "--json", v["request_id"].as_str().unwrap()]);
        for at in show["attempts"].as_array().unwrap() {
            cost += at["cost_usd"].as_f64().unwrap_or(0.0);
            input += at["input_tokens"].as_u64().unwrap_or(0);
            cache_read += at["cache_read_tokens"].as_u64().unwrap_or(0);
            output += at["output_tokens"].as_u64().unwrap_or(0);
            attempts += 1;
        }
    }
    let by_session = json_of(&d, &["usage", "--by", "session", "--json"]);
    let total = &by_session["total"];
    assert!(
        (total["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
        "{by_session}"
    );
    assert_eq!(total["input_tokens"], input, "{by_session}");
    assert_eq!(total["cache_read_tokens"], cache_read);
    assert!(
        cache_read >= 24_000,
        "the capture's cache reads are counted: {by_session}"
    );
    assert_eq!(total["output_tokens"], output);
    assert_eq!(total["attempts"], attempts);
    assert_eq!(total["requests"], 2);
    assert_eq!(total["bare_attempts"], 1);
    let rows = by_session["rows"].as_array().unwrap();
    let keys: Vec<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["main", "other"]);
    assert_eq!(rows[1]["bare_attempts"], 1);
    assert!((rows[1]["cost_usd"].as_f64().unwrap() - 0.25).abs() < 1e-9);
    let row_sum: f64 = rows.iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    assert!((row_sum - cost).abs() < 1e-9);

    let by_model = json_of(&d, &["usage", "--by", "model", "--json"]);
    assert!(
        by_model["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == "fake-model"),
        "{by_model}"
    );
    let by_day = json_of(&d, &["usage", "--json"]);
    assert_eq!(by_day["rows"].as_array().unwrap().len(), 1, "{by_day}");
    let later = json_of(&d, &["usage", "--since", "2100-01-01", "--json"]);
    assert_eq!(later["rows"], serde_json::json!([]));
    assert_eq!(later["total"]["attempts"], 0);

    let text = d.smith(&["usage", "--by", "session"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains("other") && text.contains("(1 bare)") && text.contains("total"),
        "{text}"
    );
    let bad = d.smith(&["usage", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(stderr(&bad).contains("YYYY-MM-DD"), "{}", stderr(&bad));
    d.stop_in_process().unwrap();
}

/// The real CLI 2.1.332 runs a `--bare` worker (API-key auth, as the fake API takes), and the
/// report counts it.
#[test]
fn a_bare_worker_of_the_real_cli_answers_and_is_counted() {
    use crate::support::fake_api::FakeApi;
    use crate::support::real_cli::{configure_daemon, real_cli};
    let Some(cli) = real_cli() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let mut d = Daemon::new("");
    configure_daemon(&d, &cli, &api.url(), "", &[]);
    d.start();
    let v = json_of(&d, &["ask", "--json", "--bare", "hello bare"]);
    assert_eq!(v["status"], "succeeded", "{v}\n{}", d.log());
    let usage = json_of(&d, &["usage", "--json"]);
    assert_eq!(usage["total"]["bare_attempts"], 1, "{usage}");
    assert!(
        usage["total"]["input_tokens"].as_u64().unwrap() > 0,
        "{usage}"
    );
    drop(api);
}
