//! What deciding a tool call by rule adds to it: one-task requests whose worker runs one Bash
//! call, with `permissions.mode = "cli"` (the call runs at once: the baseline) and with `"stdio"`
//! (the worker asks smith on stdout, an allow rule decides, the decision is recorded, the answer
//! goes back on stdin, then the call runs), alternated in the same run. Reports the p50 of each and the difference
//! (target <= 1 ms).
//!
//! `cargo bench --features stand-in --bench permissions` (SMITH_BENCH_ROUNDS: 200 of each).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use smith::permissions::Policy;
use smith::session::{RequestSpec, SessionConfig, Sessions};

mod common;

use common::{env_or, p50, run_request, stand_in_sessions};

async fn sessions(root: &Path, name: &str, policy: Option<Policy>) -> Sessions {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    stand_in_sessions(&dir, SessionConfig::default(), 4, |agent| {
        agent.roots = vec![root.to_path_buf()];
        agent.permissions = policy.map(Arc::new);
    })
    .await
}

async fn one(sessions: &Sessions, cwd: &Path, prompt: &str) -> Duration {
    let spec = RequestSpec {
        session: "bench".into(),
        prompt: prompt.into(),
        cwd: cwd.to_path_buf(),
        ..RequestSpec::default()
    };
    let (took, summary) = run_request(sessions, spec).await;
    let output = summary.tasks[0].output.as_deref().unwrap_or("");
    assert!(output.contains("EXIT 0"), "the call ran: {output}");
    took
}

fn main() {
    let rounds = env_or("SMITH_BENCH_ROUNDS", 200);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let policy = Policy {
            allow: vec!["Bash(true)".parse().unwrap()],
            ..Policy::default()
        };
        let cli = sessions(&root, "cli", None).await;
        let stdio = sessions(&root, "stdio", Some(policy)).await;
        one(&cli, &root, "run [[sh:true]]").await;
        one(&stdio, &root, "run [[ask:true]]").await;
        let (mut direct, mut decided) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            direct.push(one(&cli, &root, "run [[sh:true]]").await);
            decided.push(one(&stdio, &root, "run [[ask:true]]").await);
        }
        let (a, b) = (p50(direct), p50(decided));
        println!(
            "permissions, {rounds} one-call requests each: p50 cli {:.2} ms, p50 stdio (decided by rule) {:.2} ms, added {:.2} ms per call (target <= 1 ms)",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            (b.as_secs_f64() - a.as_secs_f64()) * 1e3
        );
        cli.supervisor().stop(None).await.unwrap();
        stdio.supervisor().stop(None).await.unwrap();
    });
}
