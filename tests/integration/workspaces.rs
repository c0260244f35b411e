//! Workspaces with the stand-in agent in real repositories: isolated tasks get worktrees and
//! branches, their changes are committed and summarised, `diff` / `apply` / `discard` /
//! `workspaces` work on them, a conflict or a dirty checkout stops `apply` with nothing
//! half-applied, a restart continues in the same worktree. (`workspaces_lifecycle`: refusals,
//! setup, expiry and reconcile, spans and metrics, interrupted requests.)

use std::path::PathBuf;

use crate::support::daemon::{stderr, stdout};

use crate::support::git::{ask_isolated, clean, git, json, says, smith_branches, started_in_repo};

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
