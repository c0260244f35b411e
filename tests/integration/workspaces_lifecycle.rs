//! A workspace's life around its tasks, in real repositories: a directory that is not a
//! repository (or a workspace dir outside the roots) is refused before anything starts,
//! `workspace.setup` runs once per worktree, expiry and reconcile remove exactly what smith made,
//! the operations are spans and the worktrees metrics, and an interrupted request keeps its
//! worktrees.

use std::time::Duration;

use crate::support::daemon::{Daemon, stderr, stdout};
use crate::support::eventually_sync;

use crate::support::git::{
    ask_isolated, ask_isolated_detached, git, json, repo, says, smith_branches, started,
    started_in_repo,
};

#[test]
fn outside_a_repository_an_isolated_request_is_refused_before_anything_starts() {
    let mut d = started("");
    let out = d.smith(&["ask", "--isolate", "worktree", "do it"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("needs a git repository") && err.contains("--isolate none"),
        "{err}"
    );
    let history = d.smith(&["history", "main", "--json"]);
    assert!(
        stderr(&history).contains("has no requests"),
        "{}",
        stdout(&history)
    );
    // A repository without a commit has nothing to cut from.
    let empty = d.work().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    git(&empty, &["init", "--quiet"]);
    let out = d.smith(&[
        "ask",
        "--isolate",
        "worktree",
        "--cwd",
        empty.to_str().unwrap(),
        "x",
    ]);
    says(stderr(&out), "has no commit yet");
    d.stop_in_process().unwrap();
}

#[test]
fn a_workspace_dir_outside_the_roots_is_refused_at_start_and_per_request() {
    let mut d = Daemon::new("");
    d.start_in_process();
    let health = d.smith(&["health"]);
    says(stdout(&health), "workspace.dir");
    let repo = repo(&d, &[]);
    let out = d.smith(&[
        "ask",
        "--isolate",
        "worktree",
        "--cwd",
        repo.to_str().unwrap(),
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    says(stderr(&out), "not inside agent.roots");
    d.stop_in_process().unwrap();
}

#[test]
fn setup_runs_once_per_worktree_and_its_failure_is_a_clear_task_failure() {
    let mut d = Daemon::with_worktrees(
        // What the setup leaves in the background goes when it ends (and does not hold it up).
        "copy = [\".env\", \"absent\"]\nsetup = \"test -f .env && echo ran >> setup.log && (sleep 1000 &)\"",
    );
    d.start_in_process();
    let repo = repo(&d, &[(".gitignore", ".env\nsetup.log\n")]);
    std::fs::write(repo.join(".env"), "SECRET=1\n").unwrap();
    let (summary, _) = ask_isolated(
        &d,
        &repo,
        &["x [[append:out.txt=x]] [[fail-first:setup-once]]"],
    );
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let id = summary["request_id"].as_str().unwrap();
    let wt = d.worktrees().join(id).join("t1");
    assert_eq!(
        std::fs::read_to_string(wt.join(".env")).unwrap(),
        "SECRET=1\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("setup.log")).unwrap(),
        "ran\n",
        "once, not per attempt"
    );
    // The copied file is not the task's change.
    let files = &summary["tasks"][0]["changes"]["files"];
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(
        d.worker_pids(),
        Vec::<u32>::new(),
        "no process outlives the setup"
    );
    d.stop_in_process().unwrap();

    let mut d = started("setup = \"echo broken >&2; exit 3\"");
    let repo = self::repo(&d, &[]);
    let (summary, _) = ask_isolated(&d, &repo, &["x"]);
    assert_eq!(summary["status"], "failed", "{summary}");
    let t = &summary["tasks"][0];
    assert_eq!(t["exit_reason"], "workspace_failed", "{t}");
    let detail = t["detail"].as_str().unwrap();
    assert!(
        detail.contains("workspace.setup") && detail.contains("broken"),
        "{detail}"
    );
    assert!(
        t["hint"].as_str().unwrap().contains("workspace.setup"),
        "{t}"
    );
    d.stop_in_process().unwrap();

    // A setup that runs long is stopped like an attempt: cancel ends it, its group goes.
    let mut d = started("setup = \"sleep 1000\"");
    let repo = self::repo(&d, &[]);
    let (id, _) = ask_isolated_detached(&d, &repo, "x");
    let setup = eventually_sync(Duration::from_secs(10), || d.worker_pids().first().copied());
    assert!(setup.is_some(), "the setup runs in the worktree");
    assert_eq!(d.smith(&["cancel", &id]).status.code(), Some(0));
    let ended = eventually_sync(Duration::from_secs(10), || {
        let show = json(&d.smith(&["show", &id, "--json"]));
        (show["request"]["status"] == "cancelled").then_some(show)
    });
    assert!(ended.is_some(), "the request ends cancelled");
    assert_eq!(
        d.worker_pids(),
        Vec::<u32>::new(),
        "the setup's group is gone"
    );
    d.stop_in_process().unwrap();
}

#[test]
fn expiry_and_reconcile_remove_exactly_what_smith_made() {
    let mut d = Daemon::with_worktrees("keep_for = \"0s\"\nreconcile_every = \"300ms\"");
    let repo = repo(&d, &[]);
    // What is not smith's: a worktree and a branch of the user's, a branch that only looks
    // like smith's, a directory of someone else's in the worktree dir.
    let mine = d.work().join("mine");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "feature",
            mine.to_str().unwrap(),
        ],
    );
    git(&repo, &["branch", "smith/feature/t1"]);
    std::fs::create_dir_all(d.worktrees().join("notes")).unwrap();
    // An orphan of smith's (its request unknown, e.g. pruned): a worktree in smith's layout.
    let orphan = d.worktrees().join("r-0123456789ab").join("t1");
    git(
        &repo,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "smith/r-0123456789ab/t1",
            orphan.to_str().unwrap(),
        ],
    );

    d.start_in_process();
    let (summary, _) = ask_isolated(&d, &repo, &["x [[append:x.txt=x]]"]);
    let id = summary["request_id"].as_str().unwrap().to_string();
    let own = d.worktrees().join(&id).join("t1");
    let gone = eventually_sync(Duration::from_secs(20), || {
        (!own.exists()
            && !orphan.exists()
            && smith_branches(&repo) == vec!["smith/feature/t1".to_string()])
        .then_some(())
    });
    assert!(
        gone.is_some(),
        "expired and orphaned worktrees removed: {:?}",
        smith_branches(&repo)
    );
    assert!(mine.join(".git").exists(), "the user's worktree stays");
    assert!(
        d.worktrees().join("notes").exists(),
        "a directory not in smith's layout stays"
    );
    let branches = git(&repo, &["branch", "--format=%(refname:short)"]);
    assert!(
        branches.contains("feature") && branches.contains("smith/feature/t1"),
        "{branches}"
    );
    let worktrees = git(&repo, &["worktree", "list", "--porcelain"]);
    assert!(
        !worktrees.contains(&id) && !worktrees.contains("r-0123456789ab"),
        "{worktrees}"
    );
    // The record follows the removal (committed right after it).
    let listed = eventually_sync(Duration::from_secs(10), || {
        let listed = json(&d.smith(&["workspaces", "--json"]));
        listed["workspaces"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(())
    });
    assert!(
        listed.is_some(),
        "{}",
        stdout(&d.smith(&["workspaces", "--json"]))
    );
    d.stop_in_process().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_operations_are_spans_under_the_request_and_worktrees_are_metrics() {
    use crate::support::otlp::{Receiver, attr, hex};
    use crate::support::prometheus::{prometheus_addr, scrape};
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint.clone();
    let (d, scraped) = tokio::task::spawn_blocking(move || {
        let mut d = Daemon::with_worktrees("");
        d.extra_config
            .push_str("\n[telemetry]\nprometheus_listen = \"127.0.0.1:0\"\n");
        d.write_config(&d.agent_section());
        d.env = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
        ];
        d.start();
        let repo = repo(&d, &[]);
        let (summary, _) = ask_isolated(&d, &repo, &["x [[append:x.txt=x]]"]);
        let scraped = scrape(&prometheus_addr(&d));
        let id = summary["request_id"].as_str().unwrap().to_string();
        assert_eq!(d.smith(&["apply", &id]).status.code(), Some(0));
        assert_eq!(d.smith(&["shutdown"]).status.code(), Some(0));
        d.wait(Duration::from_secs(20)).expect("smithd stops");
        (d, scraped)
    })
    .await
    .unwrap();
    assert!(
        scraped
            .lines()
            .any(|l| l.starts_with("smith_workspaces_alive{") && l.ends_with(" 1")),
        "{scraped}\n{}",
        d.log()
    );
    let spans = eventually_sync(Duration::from_secs(10), || {
        let spans = receiver.spans();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        [
            "workspace.create",
            "workspace.commit",
            "workspace.apply",
            "smith.request",
        ]
        .iter()
        .all(|n| names.contains(n))
        .then_some(spans)
    })
    .expect("the workspace spans arrive");
    let find = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let request = find("smith.request");
    for name in ["workspace.create", "workspace.commit"] {
        let s = find(name);
        assert_eq!(
            hex(&s.trace_id),
            hex(&request.trace_id),
            "{name} is in the request's trace"
        );
        assert!(!s.parent_span_id.is_empty(), "{name} has a parent");
    }
    let create = find("workspace.create");
    assert_eq!(
        attr(&create.attributes, "smith.workspace.created").as_deref(),
        Some("true")
    );
    assert!(
        attr(&create.attributes, "smith.workspace.branch")
            .unwrap()
            .starts_with("smith/r-")
    );
    let commit = find("workspace.commit");
    assert_eq!(
        attr(&commit.attributes, "smith.workspace.files").as_deref(),
        Some("1")
    );
    let apply = find("workspace.apply");
    assert_eq!(
        attr(&apply.attributes, "smith.request.id"),
        attr(&request.attributes, "smith.request.id")
    );
}

#[test]
fn an_interrupted_request_keeps_its_worktrees_and_a_resume_after_discard_makes_them_anew() {
    let (mut d, repo) = started_in_repo("reconcile_every = \"200ms\"", &[]);
    let (id, _) = ask_isolated_detached(
        &d,
        &repo,
        "long job [[append:r.txt=x]] [[sleep-first:60000]]",
    );
    let wt = d.worktrees().join(&id).join("t1");
    assert!(
        eventually_sync(Duration::from_secs(10), || wt
            .join("r.txt")
            .exists()
            .then_some(()))
        .is_some(),
        "the worker writes in its worktree"
    );
    // A graceful stop interrupts it (after service.shutdown_grace); it stays resumable.
    d.stop_in_process().unwrap();
    d.start_in_process();
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        wt.join("r.txt").exists(),
        "an interrupted request's worktree is not expired"
    );
    let show = json(&d.smith(&["show", &id, "--json"]));
    assert_eq!(show["request"]["status"], "interrupted", "{show}");

    assert_eq!(d.smith(&["discard", &id]).status.code(), Some(0));
    assert!(!wt.exists(), "discarded");
    let resumed = json(&d.smith(&["resume", &id, "--json"]));
    assert_eq!(resumed["status"], "succeeded", "{resumed}");
    // Made anew from the base, and active again: the reconcile passes leave it alone.
    std::thread::sleep(Duration::from_millis(600));
    let log = git(&repo, &["show", &format!("smith/{id}/t1:r.txt")]);
    assert_eq!(log, "x\n");
    let listed = json(&d.smith(&["workspaces", "--json"]));
    assert_eq!(listed["workspaces"][0]["state"], "active", "{listed}");
    d.stop_in_process().unwrap();
}
