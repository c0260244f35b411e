//! What warm workers (`agent.warm_pool`) take off a task's critical path: one-task requests,
//! time from the request to the worker's first output (its answer, as the live view sees it) and
//! to the summary, with a pool of one warm worker against without, alternated in the same run;
//! each warm request starts once the pool is warm again. Run with the stand-in (its start-up
//! simulated: `FAKE_CLAUDE_STARTUP_MS`, default 700) and with the real CLI 2.1.332 against the
//! fake Messages API when it is installed (`target/claude-cli`; skipped with the reason
//! otherwise). Target with the real CLI: <= 0.5x the cold figure.
//!
//! `cargo bench --features stand-in --bench warm` (SMITH_BENCH_ROUNDS: 10 of each).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smith::agent::{AgentConfig, WarmPool};
use smith::protocol::Event;
use smith::session::{RequestEvent, RequestSpec, SessionConfig, Sessions, event_queue};

mod common;

#[path = "../tests/support/fake_api.rs"]
#[allow(dead_code)]
mod fake_api;
#[path = "../tests/support/real_cli_env.rs"]
#[allow(dead_code)]
mod real_cli_env;

use common::{env_or, p50, sessions_with, stand_in};

/// Request → first output, and request → summary.
async fn one(sessions: &Sessions, cwd: &Path, prompt: &str) -> (Duration, Duration) {
    let spec = RequestSpec {
        session: "bench".into(),
        prompt: prompt.into(),
        cwd: cwd.to_path_buf(),
        ..RequestSpec::default()
    };
    let (tx, mut rx) = event_queue(smith::session::event_queue::EVENT_QUEUE_CAPACITY);
    let t0 = Instant::now();
    sessions.submit(spec, Some(tx)).await.expect("accepted");
    let mut first = None;
    loop {
        match rx.recv().await {
            Some(RequestEvent::Progress(Event::TaskText { .. } | Event::TaskProgress { .. })) => {
                first.get_or_insert_with(|| t0.elapsed());
            }
            Some(RequestEvent::Finished(s)) => {
                assert_eq!(
                    s.status,
                    smith::protocol::RequestStatus::Succeeded,
                    "{:?}",
                    s.reason
                );
                let all = t0.elapsed();
                return (first.unwrap_or(all), all);
            }
            Some(_) => {}
            None => panic!("no summary"),
        }
    }
}

/// Waits until the pool has a warm worker idle.
async fn warm(pool: &Arc<WarmPool>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while pool.idle() == 0 {
        assert!(Instant::now() < deadline, "the pool never got warm");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn compare(what: &str, root: &Path, settings: AgentConfig, rounds: usize) {
    let dir = |name: &str| {
        let d = root.join(format!("{what}-{name}"));
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let (cold, _) = sessions_with(
        &dir("cold"),
        SessionConfig::default(),
        4,
        settings.clone(),
        0,
    )
    .await;
    let (hot, pool) = sessions_with(&dir("warm"), SessionConfig::default(), 4, settings, 1).await;
    let pool = pool.expect("a pool");
    one(&cold, root, "warm-up").await;
    one(&hot, root, "warm-up").await;
    let (mut cf, mut ca, mut wf, mut wa) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let (f, a) = one(&cold, root, &format!("question {i}")).await;
        cf.push(f);
        ca.push(a);
        warm(&pool).await;
        let (f, a) = one(&hot, root, &format!("question {i}")).await;
        wf.push(f);
        wa.push(a);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (cf, ca, wf, wa) = (p50(cf), p50(ca), p50(wf), p50(wa));
    println!(
        "warm, {what}, {rounds} one-task requests each: to first output p50 cold {:.0} ms, warm {:.0} ms: {:.2}x; to the summary cold {:.0} ms, warm {:.0} ms: {:.2}x (target with the real CLI <= 0.5x)",
        ms(cf),
        ms(wf),
        wf.as_secs_f64() / cf.as_secs_f64(),
        ms(ca),
        ms(wa),
        wa.as_secs_f64() / ca.as_secs_f64()
    );
    pool.close();
    cold.supervisor().stop(None).await.unwrap();
    hot.supervisor().stop(None).await.unwrap();
}

/// The real CLI, when installed.
fn real_cli() -> Result<PathBuf, String> {
    let cli = real_cli_env::cli_path();
    cli.exists().then_some(cli.clone()).ok_or_else(|| {
        format!(
            "the Claude CLI 2.1.332 is not installed at {}",
            cli.display()
        )
    })
}

fn main() {
    let rounds = env_or("SMITH_BENCH_ROUNDS", 10);
    let startup = env_or("FAKE_CLAUDE_STARTUP_MS", 700);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let stand_in = AgentConfig {
            program: stand_in(),
            roots: vec![root.clone()],
            env: [
                (
                    "FAKE_CLAUDE_STATE_DIR".to_string(),
                    root.display().to_string(),
                ),
                ("FAKE_CLAUDE_STARTUP_MS".to_string(), startup.to_string()),
            ]
            .into(),
            ..AgentConfig::default()
        };
        compare(
            &format!("stand-in starting in {startup} ms"),
            &root,
            stand_in,
            rounds,
        )
        .await;
        match real_cli() {
            Err(why) => println!("warm, real CLI: skipped: {why} (bash .ci/run installs it)"),
            Ok(cli) => {
                let api = fake_api::FakeApi::start().await;
                let real = real_cli_env::real_cli_config(&cli, &root, &api.url());
                compare("real CLI 2.1.332", &root, real, rounds).await;
                drop(api);
            }
        }
    });
}
