//! Fan-out throughput: 1,000 tasks of the stand-in agent at concurrency 32 through the whole
//! smith path (session → request supervisor → task actors → process → parse → merge → store),
//! against a bare tokio loop that spawns the same program 1,000 times at concurrency 32 and reads
//! its output — measured in the same run, reported as a ratio.
//!
//! `cargo bench --bench fanout` (SMITH_BENCH_TASKS overrides the 1,000).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smith::agent::AgentConfig;
use smith::agent::event::user_message;
use smith::session::{RequestEvent, RequestSpec, SessionConfig, SessionDeps, Sessions};
use smith::store::{RequestStatus, StoreHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};

const CONCURRENCY: usize = 32;

fn stand_in() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-claude"))
}

/// The baseline: spawn, write the prompt, close stdin, read stdout to EOF, wait.
async fn bare_loop(n: usize, cwd: &Path) -> Duration {
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let cwd = cwd.to_path_buf();
        handles.push(tokio::spawn(async move {
            let mut child = tokio::process::Command::new(stand_in())
                .args([
                    "-p",
                    "--input-format",
                    "stream-json",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                ])
                .current_dir(cwd)
                .env("FAKE_CLAUDE_STATE_DIR", std::env::temp_dir())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("spawn the stand-in");
            let mut stdin = child.stdin.take().unwrap();
            stdin
                .write_all(format!("{}\n", user_message(&format!("task {i}"))).as_bytes())
                .await
                .unwrap();
            drop(stdin);
            let mut out = Vec::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut out)
                .await
                .unwrap();
            child.wait().await.unwrap();
            drop(permit);
            assert!(out.windows(8).any(|w| w == b"\"result\""));
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    t0.elapsed()
}

/// The smith path: one request with `n` tasks on one session.
async fn smith_path(n: usize, dir: &Path) -> Duration {
    let mut config = SessionConfig::default();
    config.limits.max_concurrent_tasks = CONCURRENCY;
    config.limits.max_tasks_per_request = n;
    let agent = AgentConfig {
        program: stand_in(),
        roots: vec![dir.to_path_buf()],
        env: [(
            "FAKE_CLAUDE_STATE_DIR".to_string(),
            dir.display().to_string(),
        )]
        .into(),
        ..AgentConfig::default()
    };
    let (store, _) = StoreHandle::open(&dir.join("bench.db")).await.unwrap();
    let deps = SessionDeps {
        store,
        agent: Arc::new(agent),
        permits: Arc::new(Semaphore::new(CONCURRENCY)),
        config: Arc::new(config),
    };
    let sessions = Sessions::start(deps, None).await.unwrap();
    let spec = RequestSpec {
        session: "bench".into(),
        prompt: "fan out".into(),
        tasks: (0..n).map(|i| format!("task {i}")).collect(),
        cwd: dir.to_path_buf(),
        ..RequestSpec::default()
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t0 = Instant::now();
    sessions.submit(spec, Some(tx)).await.unwrap();
    let summary = loop {
        if let Some(RequestEvent::Finished(s)) = rx.recv().await {
            break s;
        }
    };
    let took = t0.elapsed();
    assert_eq!(
        summary.status,
        RequestStatus::Succeeded,
        "{:?}",
        summary.reason
    );
    assert_eq!(summary.tasks.len(), n);
    sessions.supervisor().stop(None).await.unwrap();
    took
}

fn main() {
    let n: usize = std::env::var("SMITH_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
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
