//! `permissions.mode = "stdio"` with the stand-in agent (its `[[ask:COMMAND]]` asks like the CLI
//! does): a rule allows the call and it runs, a deny rule refuses it and the worker hears why,
//! a call no rule decides is refused saying nobody can approve it yet, and in `cli` mode the
//! CLI's own headless refusal is reported. The real CLI is exercised in `real_cli_permissions`.

use crate::support::daemon::{Daemon, stderr, stdout};

fn ask(permissions: &str, prompt: &str) -> (Daemon, serde_json::Value) {
    let mut d = Daemon::new(permissions);
    d.start_in_process();
    let out = d.smith(&["ask", "--json", prompt]);
    let v = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (d, v)
}

#[test]
fn an_allowed_call_runs_and_a_denied_one_is_refused_with_the_rule_named() {
    let (mut d, v) = ask(
        "[permissions]\nmode = \"stdio\"\nallow = [\"Bash(touch*)\"]\n",
        "make it [[ask:touch allowed.txt]]",
    );
    assert!(d.work().join("allowed.txt").exists(), "{v}");
    assert!(
        v["tasks"][0]["output"]
            .as_str()
            .unwrap()
            .starts_with("ALLOWED: EXIT 0"),
        "{v}"
    );
    assert_eq!(v["tasks"][0]["denials"], serde_json::json!([]));
    d.stop_in_process().unwrap();

    let (mut d, v) = ask(
        "[permissions]\nmode = \"stdio\"\nallow = [\"Bash\"]\ndeny = [\"Bash(touch*)\"]\n",
        "make it [[ask:touch denied.txt]]",
    );
    assert!(!d.work().join("denied.txt").exists());
    let output = v["tasks"][0]["output"].as_str().unwrap();
    assert!(
        output.contains("DENIED: refused by smith's [permissions] deny rule Bash(touch*)"),
        "{v}"
    );
    let denials = v["tasks"][0]["denials"].as_array().unwrap();
    assert_eq!(denials.len(), 1, "{v}");
    assert_eq!(denials[0]["input"], "touch denied.txt");
    d.stop_in_process().unwrap();
}

#[test]
fn a_call_no_rule_decides_is_refused_and_cli_mode_reports_the_clis_refusal() {
    let (mut d, v) = ask(
        "[permissions]\nmode = \"stdio\"\npreset = \"workspace-write\"\n",
        "make it [[ask:touch asked.txt]]",
    );
    assert!(!d.work().join("asked.txt").exists());
    let message = v["tasks"][0]["denials"][0]["message"].as_str().unwrap();
    assert!(message.contains("needs a person's approval"), "{v}");
    d.stop_in_process().unwrap();

    let (mut d, v) = ask("", "make it [[ask:touch headless.txt]]");
    assert!(!d.work().join("headless.txt").exists());
    let denial = &v["tasks"][0]["denials"][0];
    assert_eq!(denial["tool"], "Bash");
    assert!(
        denial["message"]
            .as_str()
            .unwrap()
            .contains("needs approval (fake)"),
        "{v}"
    );
    assert!(
        v["answer"]
            .as_str()
            .unwrap()
            .contains("## Refused tool calls")
    );
    d.stop_in_process().unwrap();
}
