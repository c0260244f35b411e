//! Fan-out throughput: 1,000 tasks of the stand-in agent at concurrency 32 through the whole
//! smith path (session → request supervisor → task actors → process → parse → merge → store),
//! against a bare tokio loop that spawns the same program 1,000 times at concurrency 32 and reads
//! its output — measured in the same run, reported as a ratio.
//!
//! `cargo bench --features stand-in --bench fanout` (SMITH_BENCH_TASKS overrides the 1,000).

use std::path::Path;
use std::time::Duration;

use smith::session::{RequestSpec, SessionConfig};

mod common;

use common::{CONCURRENCY, bare_loop, run_request, stand_in_sessions};

/// The smith path: one request with `n` tasks on one session.
async fn smith_path(n: usize, dir: &Path) -> Duration {
    let mut config = SessionConfig::default();
    config.limits.max_concurrent_tasks = CONCURRENCY;
    config.limits.max_tasks_per_request = n;
    let sessions = stand_in_sessions(dir, config, CONCURRENCY, |_| {}).await;
    let spec = RequestSpec {
        session: "bench".into(),
        prompt: "fan out".into(),
        tasks: (0..n).map(|i| format!("task {i}").into()).collect(),
        cwd: dir.to_path_buf(),
        ..RequestSpec::default()
    };
    let (took, summary) = run_request(&sessions, spec).await;
    assert_eq!(summary.tasks.len(), n);
    sessions.supervisor().stop(None).await.unwrap();
    took
}

fn main() {
    let n = common::env_or("SMITH_BENCH_TASKS", 1000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        // Warm up the page cache and the binary.
        bare_loop(CONCURRENCY, dir.path()).await;
        let mut bare = Vec::new();
        let mut smith = Vec::new();
        if std::env::var("SMITH_BENCH_ONLY").as_deref() == Ok("bare") {
            let b = bare_loop(n, dir.path()).await;
            println!("bare only: {:.1} ms", b.as_secs_f64() * 1e3);
            return;
        }
        if std::env::var("SMITH_BENCH_ONLY").as_deref() == Ok("smith") {
            let d = tempfile::tempdir().unwrap();
            let s = smith_path(n, d.path()).await;
            println!("smith only: {:.1} ms", s.as_secs_f64() * 1e3);
            return;
        }
        for round in 0..3 {
            let b = bare_loop(n, dir.path()).await;
            let d = tempfile::tempdir().unwrap();
            let s = smith_path(n, d.path()).await;
            println!(
                "fanout round {round}: bare {:>8.1} ms ({:.0} tasks/s), smith {:>8.1} ms ({:.0} tasks/s), ratio {:.3}",
                b.as_secs_f64() * 1e3,
                n as f64 / b.as_secs_f64(),
                s.as_secs_f64() * 1e3,
                n as f64 / s.as_secs_f64(),
                s.as_secs_f64() / b.as_secs_f64()
            );
            bare.push(b);
            smith.push(s);
        }
        bare.sort();
        smith.sort();
        let (b, s) = (bare[1], smith[1]);
        println!(
            "fanout {n} tasks @ {CONCURRENCY}: median bare {:.1} ms, median smith {:.1} ms, ratio {:.3} (target <= 1.15)",
            b.as_secs_f64() * 1e3,
            s.as_secs_f64() * 1e3,
            s.as_secs_f64() / b.as_secs_f64()
        );
    });
}
