//! What isolation adds to a task: one-task requests through the whole smith path in a
//! repository of 1,000 files, with `--isolate none` (the baseline) and `--isolate worktree`
//! (a worktree and branch cut per task, a commit and a change summary after it), alternated in
//! the same run. Reports the p50 of each, the added time per task (target <= 150 ms p50) and the
//! ratio.
//!
//! `cargo bench --features stand-in --bench workspace` (SMITH_BENCH_FILES overrides the 1,000,
//! SMITH_BENCH_ROUNDS the 15 requests of each kind).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use smith::protocol::Isolation;
use smith::session::{RequestSpec, SessionConfig, Sessions};

mod common;

use common::{env_or, p50, run_request, stand_in_sessions};

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

/// A repository of `files` files (1 KiB each, 50 per directory), committed.
fn make_repo(dir: &Path, files: usize) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    for i in 0..files {
        let sub = dir.join(format!("src/m{:03}", i / 50));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i:04}.rs")), "// x\n".repeat(200)).unwrap();
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "-m", "base"]);
}

async fn sessions(root: &Path) -> Sessions {
    stand_in_sessions(root, SessionConfig::default(), 8, |_| {}).await
}

/// One request with one task that writes a file; its wall time.
async fn one(sessions: &Sessions, repo: &Path, isolate: Isolation, i: usize) -> Duration {
    let spec = RequestSpec {
        session: "bench".into(),
        prompt: format!("change {i} [[append:out{i}.txt=x]]"),
        cwd: repo.to_path_buf(),
        isolate: Some(isolate),
        ..RequestSpec::default()
    };
    let (took, summary) = run_request(sessions, spec).await;
    if isolate == Isolation::Worktree {
        let changes = summary.tasks[0].changes.as_ref().expect("a change summary");
        assert_eq!(changes.files.len(), 1, "{changes:?}");
    }
    took
}

fn main() {
    let (files, rounds) = (
        env_or("SMITH_BENCH_FILES", 1000),
        env_or("SMITH_BENCH_ROUNDS", 15),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let repo = root.join("repo");
        make_repo(&repo, files);
        let sessions = sessions(&root).await;
        // Warm up the page cache, the binary and git.
        one(&sessions, &repo, Isolation::None, 0).await;
        one(&sessions, &repo, Isolation::Worktree, 0).await;
        let (mut plain, mut isolated) = (Vec::new(), Vec::new());
        for i in 1..=rounds {
            plain.push(one(&sessions, &repo, Isolation::None, i).await);
            isolated.push(one(&sessions, &repo, Isolation::Worktree, i).await);
        }
        let (p, w) = (p50(plain), p50(isolated));
        println!(
            "workspace {files} files, {rounds} one-task requests each: p50 none {:.1} ms, p50 worktree {:.1} ms, added {:.1} ms per task (target <= 150 ms), ratio {:.2}",
            p.as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3,
            (w.as_secs_f64() - p.as_secs_f64()) * 1e3,
            w.as_secs_f64() / p.as_secs_f64()
        );
        sessions.supervisor().stop(None).await.unwrap();
    });
}
