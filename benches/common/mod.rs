//! The baseline both benchmark targets share: a bare tokio loop spawning the stand-in agent.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smith::agent::event::user_message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// The median of `v`.
pub fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The number in the environment variable `name`, else `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Concurrency of the fan-out benchmarks.
pub const CONCURRENCY: usize = 32;

/// The release build of fake-claude.
pub fn stand_in() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-claude"))
}

/// One bare spawn: write the prompt, close stdin, read stdout to EOF, wait.
pub async fn bare_one(cwd: &Path, i: usize) {
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
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn the stand-in");
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(format!("{}\n", user_message(&format!("task {i}"))).as_bytes())
        .await
        .expect("write the prompt");
    drop(stdin);
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_end(&mut out)
        .await
        .expect("read stdout");
    child.wait().await.expect("reap");
    assert!(
        out.windows(8).any(|w| w == b"\"result\""),
        "the stand-in answered"
    );
}

/// `n` bare spawns at [`CONCURRENCY`]; the wall time.
pub async fn bare_loop(n: usize, cwd: &Path) -> Duration {
    let sem = Arc::new(Semaphore::new(CONCURRENCY));
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("open semaphore");
        let cwd = cwd.to_path_buf();
        handles.push(tokio::spawn(async move {
            bare_one(&cwd, i).await;
            drop(permit);
        }));
    }
    for h in handles {
        h.await.expect("bare spawn");
    }
    t0.elapsed()
}

/// Submits `spec` to `sessions` and follows it to its summary; the wall time and the summary.
pub async fn run_request(
    sessions: &smith::session::Sessions,
    spec: smith::session::RequestSpec,
) -> (Duration, smith::protocol::RequestSummary) {
    use smith::session::{RequestEvent, event_queue};
    let (tx, mut rx) = event_queue(smith::session::event_queue::EVENT_QUEUE_CAPACITY);
    let t0 = Instant::now();
    sessions
        .submit(spec, Some(tx))
        .await
        .expect("the request is accepted");
    let summary = loop {
        if let Some(RequestEvent::Finished(s)) = rx.recv().await {
            break s;
        }
    };
    let took = t0.elapsed();
    assert_eq!(
        summary.status,
        smith::protocol::RequestStatus::Succeeded,
        "{:?}",
        summary.reason
    );
    (took, summary)
}

/// The stand-in agent with `dir` as its root and state directory.
pub fn stand_in_agent(dir: &Path) -> smith::agent::AgentConfig {
    smith::agent::AgentConfig {
        program: stand_in(),
        roots: vec![dir.to_path_buf()],
        env: [(
            "FAKE_CLAUDE_STATE_DIR".to_string(),
            dir.display().to_string(),
        )]
        .into(),
        ..smith::agent::AgentConfig::default()
    }
}

/// Sessions running the stand-in agent with `dir` as its root, data and state directory,
/// `permits` processes at a time; `agent` adjusts the agent settings. Tool calls smith decides
/// are recorded by an approvals desk of their own, as in smithd.
pub async fn stand_in_sessions(
    dir: &Path,
    config: smith::session::SessionConfig,
    permits: usize,
    agent: impl FnOnce(&mut smith::agent::AgentConfig),
) -> smith::session::Sessions {
    let mut settings = stand_in_agent(dir);
    agent(&mut settings);
    sessions_with(dir, config, permits, settings, 0).await.0
}

/// Sessions running `settings`'s agent with `dir` as their data directory, `permits` processes
/// at a time and a pool of `warm` warm workers (returned too, when there is one).
pub async fn sessions_with(
    dir: &Path,
    config: smith::session::SessionConfig,
    permits: usize,
    settings: smith::agent::AgentConfig,
    warm: usize,
) -> (
    smith::session::Sessions,
    Option<Arc<smith::agent::WarmPool>>,
) {
    sessions_on(dir, config, permits, settings, warm, None).await
}

/// [`sessions_with`] whose attempts may run on worker nodes (`remote`).
pub async fn sessions_on(
    dir: &Path,
    config: smith::session::SessionConfig,
    permits: usize,
    settings: smith::agent::AgentConfig,
    warm: usize,
    remote: Option<Arc<dyn smith::agent::Nodes>>,
) -> (
    smith::session::Sessions,
    Option<Arc<smith::agent::WarmPool>>,
) {
    let (store, _) = smith::store::StoreHandle::open(&dir.join("bench.db"))
        .await
        .expect("the bench database opens");
    let slots = smith::governor::Slots::new(permits);
    let cell = smith::store::StoreCell::default();
    cell.set(store.clone());
    let approvals = smith::permissions::Approvals::new(Default::default(), cell, Vec::new());
    let pool = (warm > 0)
        .then(|| smith::agent::WarmPool::new(warm, Duration::from_secs(300), slots.clone()));
    let deps = smith::session::SessionDeps {
        store,
        agent: Arc::new(settings),
        permits: slots.clone(),
        config: Arc::new(config),
        workspaces: Arc::new(smith::workspace::Workspaces::new(
            Default::default(),
            dir.join("worktrees"),
        )),
        approvals: Some(approvals),
        governor: Some(smith::governor::Governor::new(Default::default(), slots)),
        ledger: Arc::new(smith::spend::Ledger::without_ceilings()),
        warm: pool.clone(),
        remote,
    };
    let sessions = smith::session::Sessions::start(deps, None)
        .await
        .expect("the sessions start");
    (sessions, pool)
}
