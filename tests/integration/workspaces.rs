//! Workspaces with the stand-in agent in real repositories: isolated tasks get worktrees and
//! branches, their changes are committed and summarised, `diff` / `apply` / `discard` /
//! `workspaces` work on them, a conflict or a dirty checkout stops `apply` with nothing
//! half-applied, a restart continues in the same worktree, expiry and reconcile remove exactly
//! what smith made, and a directory that is not a repository is refused before anything starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::daemon::{Daemon, stderr, stdout};
use crate::support::eventually_sync;
use crate::support::git::{ask_isolated, ask_isolated_detached, git, repo, summary_of};

/// A daemon whose workers may run in worktrees, started in this process.
fn started(workspace: &str) -> Daemon {
    let mut d = Daemon::with_worktrees(workspace);
    d.start_in_process();
    d
}

/// [`started`], and a repository with `files` committed.
fn started_in_repo(workspace: &str, files: &[(&str, &str)]) -> (Daemon, PathBuf) {
    let d = started(workspace);
    let repo = repo(&d, files);
    (d, repo)
}

/// `text` contains `needle` (the text is shown when it does not).
#[track_caller]
fn says(text: String, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}

fn json(out: &std::process::Output) -> serde_json::Value {
    summary_of(out)
}

fn smith_branches(repo: &Path) -> Vec<String> {
    git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/smith/",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

fn clean(repo: &Path) -> bool {
    git(repo, &["status", "--porcelain"]).trim().is_empty()
        && !repo.join(".git/MERGE_HEAD").exists()
}

#[test]
fn three_tasks_get_three_branches_and_apply_brings_all_of_them_in() {
    let (mut d, repo) = started_in_repo("", &[("src/lib.rs", "fn a() {}\n")]);
    let (summary, err) = ask_isolated(
        &d,
        &repo.join("src"),
        &[
            "write a [[append:a.txt=alpha]]",
            "write b [[append:b.txt=beta]] [[args]]",
            "write c [[append:c.txt=gamma]]",
        ],
    );
    assert_eq!(summary["status"], "succeeded", "{summary}");
    assert!(
        err.contains("isolated: each task in a worktree cut from main"),
        "{err}"
    );
    let id = summary["request_id"].as_str().unwrap().to_string();
    let tasks = summary["tasks"].as_array().unwrap();
    for (i, name) in ["a.txt", "b.txt", "c.txt"].iter().enumerate() {
        let t = &tasks[i];
        assert_eq!(t["branch"], format!("smith/{id}/t{}", i + 1));
        let files = t["changes"]["files"].as_array().unwrap();
        assert_eq!(files.len(), 1, "{t}");
        // The worker's cwd was the same relative path (src/) inside its worktree.
        assert_eq!(files[0]["path"], format!("src/{name}"));
        assert_eq!(files[0]["added"], 1);
    }
    // Workers in a worktree may not leave it.
    let args = tasks[1]["output"].as_str().unwrap();
    assert!(
        args.contains("--disallowedTools") && args.contains("EnterWorktree,ExitWorktree"),
        "{args}"
    );
    assert!(
        summary["answer"]
            .as_str()
            .unwrap()
            .contains(&format!("smith apply {id}"))
    );
    assert_eq!(smith_branches(&repo).len(), 3);
    assert!(clean(&repo), "the checkout is untouched while tasks run");

    // Commits are smith's, independent of the user's identity.
    let author = git(
        &repo,
        &[
            "log",
            "-1",
            "--format=%an <%ae>|%s",
            &format!("smith/{id}/t1"),
        ],
    );
    assert!(
        author.starts_with("smith <smith@localhost>|smith: t1"),
        "{author}"
    );

    let diff = json(&d.smith(&["diff", &id, "--json"]));
    let diffs = diff["tasks"].as_array().unwrap();
    assert_eq!(diffs.len(), 3);
    assert!(
        diffs[1]["diff"].as_str().unwrap().contains("+beta"),
        "{diff}"
    );
    let stat = d.smith(&["diff", &id, "t3", "--stat"]);
    says(stdout(&stat), "src/c.txt  +1 −0");

    let listed = json(&d.smith(&["workspaces", "--json"]));
    assert_eq!(listed["workspaces"].as_array().unwrap().len(), 3);
    let paths: Vec<PathBuf> = listed["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| PathBuf::from(w["path"].as_str().unwrap()))
        .collect();
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with(d.worktrees()) && p.exists())
    );

    let show = stdout(&d.smith(&["show", &id]));
    assert!(
        show.contains(&format!("worktree branch smith/{id}/t1: 1 file, +1 −0"))
            && show.contains("src/a.txt  +1 −0"),
        "{show}"
    );

    let applied = d.smith(&["apply", &id]);
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}{}",
        stdout(&applied),
        stderr(&applied)
    );
    for (name, text) in [("a.txt", "alpha"), ("b.txt", "beta"), ("c.txt", "gamma")] {
        assert_eq!(
            std::fs::read_to_string(repo.join("src").join(name)).unwrap(),
            format!("{text}\n")
        );
    }
    assert!(clean(&repo));
    assert!(smith_branches(&repo).is_empty(), "branches removed");
    assert!(paths.iter().all(|p| !p.exists()), "worktrees removed");
    let listed = json(&d.smith(&["workspaces", "--json"]));
    assert!(listed["workspaces"].as_array().unwrap().is_empty());
    // Applied once: naming it again says so.
    let again = d.smith(&["apply", &id, "t1"]);
    assert_ne!(again.status.code(), Some(0));
    says(stderr(&again), "already applied");
    d.stop_in_process().unwrap();
}

#[test]
fn a_conflict_stops_apply_with_the_checkout_clean_and_the_branch_kept() {
    let (mut d, repo) = started_in_repo("", &[]);
    let (summary, _) = ask_isolated(
        &d,
        &repo,
        &[
            "one [[append:same.txt=from t1]]",
            "two [[append:same.txt=from t2]]",
        ],
    );
    assert_eq!(summary["status"], "succeeded", "{summary}");
    let id = summary["request_id"].as_str().unwrap().to_string();
    let out = d.smith(&["apply", &id, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reply = json(&out);
    assert!(reply["tasks"][0]["result"]["Merged"].is_object(), "{reply}");
    let conflict = &reply["tasks"][1]["result"]["Conflict"];
    assert_eq!(
        conflict["files"],
        serde_json::json!(["same.txt"]),
        "{reply}"
    );
    assert!(
        conflict["command"]
            .as_str()
            .unwrap()
            .contains(&format!("merge smith/{id}/t2"))
    );
    assert!(clean(&repo), "nothing half-applied");
    assert_eq!(
        std::fs::read_to_string(repo.join("same.txt")).unwrap(),
        "from t1\n"
    );
    assert_eq!(
        smith_branches(&repo),
        vec![format!("smith/{id}/t2")],
        "t2's branch is kept"
    );
    // The text says the same.
    let text = d.smith(&["apply", &id]);
    says(stdout(&text), "t2: conflict in same.txt");
    d.stop_in_process().unwrap();
}

#[test]
fn a_dirty_checkout_that_would_be_touched_is_refused() {
    let (mut d, repo) = started_in_repo("", &[("notes.txt", "base\n")]);
    let (summary, _) = ask_isolated(&d, &repo, &["note [[append:notes.txt=more]]"]);
    let id = summary["request_id"].as_str().unwrap().to_string();
    std::fs::write(repo.join("notes.txt"), "my own edit\n").unwrap();
    let out = d.smith(&["apply", &id]);
    assert_eq!(out.status.code(), Some(1));
    says(
        stdout(&out),
        "refused: uncommitted changes in the checkout to notes.txt",
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("notes.txt")).unwrap(),
        "my own edit\n"
    );
    // A merge of the user's in progress: smith does not merge into it (nor abort it).
    let head = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(repo.join(".git/MERGE_HEAD"), head).unwrap();
    let out = d.smith(&["apply", &id]);
    assert_eq!(out.status.code(), Some(1));
    says(stderr(&out), "has a merge in progress");
    assert!(
        repo.join(".git/MERGE_HEAD").exists(),
        "the user's merge is left alone"
    );
    std::fs::remove_file(repo.join(".git/MERGE_HEAD")).unwrap();
    // Discard throws the branch and worktree away.
    let out = d.smith(&["discard", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(smith_branches(&repo).is_empty());
    d.stop_in_process().unwrap();
}

#[test]
fn a_crashed_task_restarts_in_the_same_worktree_with_its_change_still_there() {
    let (mut d, repo) = started_in_repo("", &[]);
    let (summary, _) = ask_isolated(
        &d,
        &repo,
        &["work [[append:log.txt=attempt]] [[fail-first:crash-once]]"],
    );
    assert_eq!(summary["status"], "succeeded", "{summary}");
    assert_eq!(summary["tasks"][0]["attempts"], 2, "{summary}");
    let id = summary["request_id"].as_str().unwrap();
    // Each attempt appended once, in the same worktree: the first attempt's line survived.
    let log = git(&repo, &["show", &format!("smith/{id}/t1:log.txt")]);
    assert_eq!(log, "attempt\nattempt\n");
    d.stop_in_process().unwrap();
}

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
