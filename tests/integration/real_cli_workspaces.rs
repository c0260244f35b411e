//! Workspaces with the real CLI 2.1.332 against the fake Messages API: workers whose Bash tool
//! calls write files (bypassPermissions, as root only with IS_SANDBOX=1) each write into their
//! own worktree; the branches carry exactly their files; `apply` brings all of them in. The
//! planner and the synthesizer of an isolated request are offered read-only tools only, and
//! workers are denied the CLI's own worktree tools.

use crate::support::daemon::{Daemon, stderr, stdout};
use crate::support::fake_api::FakeApi;
use crate::support::git::{ask_isolated, git, repo, summary_of};
use crate::support::real_cli::{configure_daemon, real_cli};

fn json(out: &std::process::Output) -> serde_json::Value {
    summary_of(out)
}

/// smithd running the real CLI against `api` with tool calls allowed (bypassPermissions: as
/// root only with IS_SANDBOX=1), its worktrees inside the roots.
fn daemon(cli: &std::path::Path, api: &FakeApi) -> Daemon {
    let mut d = Daemon::with_worktrees("");
    configure_daemon(
        &d,
        cli,
        &api.url(),
        "permission_mode = \"bypassPermissions\"",
        &[("IS_SANDBOX", "1")],
    );
    d.start();
    d
}

/// The tool names offered in one Messages API request.
fn offered(request: &serde_json::Value) -> Vec<String> {
    request["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn real_workers_write_into_their_own_worktrees_and_apply_merges_all_three() {
    let Some(cli) = real_cli() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    let d = daemon(&cli, &api);
    let repo = repo(&d, &[]);
    let (summary, err) = ask_isolated(
        &d,
        &repo,
        &[
            "first [[tool:bash echo one > one.txt]]",
            "second [[tool:bash echo two > two.txt]]",
            "third [[tool:bash echo three > three.txt]]",
        ],
    );
    assert_eq!(
        summary["status"],
        "succeeded",
        "{summary}\n{err}\n{}",
        d.log()
    );
    let id = summary["request_id"].as_str().unwrap().to_string();
    for (i, file) in ["one.txt", "two.txt", "three.txt"].iter().enumerate() {
        let t = &summary["tasks"][i];
        assert_eq!(t["status"], "succeeded", "{t}");
        let files: Vec<&str> = t["changes"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(files, [*file], "{t}");
    }
    assert!(
        git(&repo, &["status", "--porcelain"]).trim().is_empty(),
        "the checkout is untouched"
    );
    // Workers were not offered the CLI's own worktree tools.
    for request in api.requests() {
        let tools = offered(&request);
        assert!(
            !tools
                .iter()
                .any(|t| t == "EnterWorktree" || t == "ExitWorktree"),
            "{tools:?}"
        );
    }
    let applied = d.smith(&["apply", &id]);
    assert_eq!(applied.status.code(), Some(0), "{}", stdout(&applied));
    for (file, text) in [
        ("one.txt", "one"),
        ("two.txt", "two"),
        ("three.txt", "three"),
    ] {
        assert_eq!(
            std::fs::read_to_string(repo.join(file)).unwrap(),
            format!("{text}\n")
        );
    }
    assert!(
        git(&repo, &["branch", "--list", "smith/*"])
            .trim()
            .is_empty()
    );
}

#[test]
fn the_planner_and_synthesizer_of_an_isolated_request_get_read_only_tools() {
    let Some(cli) = real_cli() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt.block_on(FakeApi::start());
    api.set_structured(serde_json::json!({"tasks": [
        {"name": "api", "instruction": "write the api [[tool:bash echo api > api.txt]]"},
        {"name": "docs", "instruction": "write the docs"},
    ]}));
    let d = daemon(&cli, &api);
    let repo = repo(&d, &[]);
    let out = d.smith(&[
        "ask",
        "--json",
        "--isolate",
        "worktree",
        "--plan",
        "--synthesize",
        "--cwd",
        repo.to_str().unwrap(),
        "build the service",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), d.log());
    let summary = json(&out);
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let answer = summary["answer"].as_str().unwrap();
    assert!(
        answer.contains("## Changes") && answer.contains("api.txt"),
        "{answer}"
    );
    let requests = api.requests();
    let planner = requests
        .iter()
        .find(|r| offered(r).iter().any(|t| t == "StructuredOutput"))
        .expect("the planner's request");
    let tools = offered(planner);
    assert!(
        tools.iter().any(|t| t == "Read") && tools.iter().any(|t| t == "StructuredOutput"),
        "{tools:?}"
    );
    for writer in ["Bash", "Write", "Edit", "NotebookEdit", "MultiEdit"] {
        assert!(
            !tools.iter().any(|t| t == writer),
            "the planner reads only: {tools:?}"
        );
    }
    // A worker (in its worktree) may still edit and run commands.
    assert!(
        requests
            .iter()
            .any(|r| offered(r).iter().any(|t| t == "Bash")),
        "workers keep their tools"
    );
    assert!(git(&repo, &["status", "--porcelain"]).trim().is_empty());
}
