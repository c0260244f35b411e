//! Real git repositories for the workspace tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::daemon::{Daemon, stderr, stdout};

/// `git ARGS` in `dir` (a test identity, no user config); its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository under the work dir with `files` committed on `main`.
pub fn repo(d: &Daemon, files: &[(&str, &str)]) -> PathBuf {
    let repo = d.work().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(repo.join("README"), "hello\n").unwrap();
    for (path, text) in files {
        let path = repo.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "base"]);
    repo
}

/// The JSON document `smith … --json` printed.
pub fn summary_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// `smith ask --isolate worktree --json` in `repo` with these tasks; the summary.
pub fn ask_isolated(d: &Daemon, repo: &Path, tasks: &[&str]) -> (serde_json::Value, String) {
    let mut args = vec![
        "ask",
        "--json",
        "--isolate",
        "worktree",
        "--cwd",
        repo.to_str().unwrap(),
        "change things",
    ];
    for t in tasks {
        args.extend(["--task", t]);
    }
    let out = d.smith(&args);
    (summary_of(&out), stderr(&out))
}

/// `smith ask --detach --isolate worktree` in `repo`; the request id and what it said on stderr.
pub fn ask_isolated_detached(d: &Daemon, repo: &Path, prompt: &str) -> (String, String) {
    let out = d.smith(&[
        "ask",
        "--detach",
        "--isolate",
        "worktree",
        "--cwd",
        repo.to_str().unwrap(),
        prompt,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (stdout(&out).trim().to_string(), stderr(&out))
}

/// A daemon whose workers may run in worktrees, started in this process.
pub fn started(workspace: &str) -> Daemon {
    let mut d = Daemon::with_worktrees(workspace);
    d.start_in_process();
    d
}

/// [`started`], and a repository with `files` committed.
pub fn started_in_repo(workspace: &str, files: &[(&str, &str)]) -> (Daemon, PathBuf) {
    let d = started(workspace);
    let repo = repo(&d, files);
    (d, repo)
}

/// `text` contains `needle` (the text is shown when it does not).
#[track_caller]
pub fn says(text: String, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}

/// A `smith --json` output as JSON.
pub fn json(out: &std::process::Output) -> serde_json::Value {
    summary_of(out)
}

/// The branches smith made in `repo`.
pub fn smith_branches(repo: &Path) -> Vec<String> {
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

/// `repo`'s checkout is clean, no merge under way.
pub fn clean(repo: &Path) -> bool {
    git(repo, &["status", "--porcelain"]).trim().is_empty()
        && !repo.join(".git/MERGE_HEAD").exists()
}
