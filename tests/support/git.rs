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
