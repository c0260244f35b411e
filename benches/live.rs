//! What the live view costs a request: one-task requests whose stand-in worker writes its answer
//! as 10,000 text deltas at 10,000 a second (as a model streams: it takes as long to write with or
//! without the flag; the flag only changes what the CLI prints), run with
//! `agent.partial_messages = false` (the baseline: the worker prints only the complete message)
//! and `true` (it prints 10,000 `stream_event` lines too; smith reads and types each, coalesces
//! the text every 100 ms and hands it to the listening client), alternated in the same run,
//! transcripts kept in both. Reports the p50 of each and the ratio (target <= 1.03); then the same
//! unpaced (all deltas at once: what handling one delta costs, producer included).
//!
//! `cargo bench --features stand-in --bench live` (SMITH_BENCH_ROUNDS: 10 of each;
//! SMITH_BENCH_DELTAS: 10000; SMITH_BENCH_RATE: 10000 a second).

use std::path::Path;
use std::time::Duration;

use smith::protocol::Event;
use smith::session::{RequestEvent, RequestSpec, SessionConfig, Sessions, event_queue};

mod common;

use common::{env_or, p50, stand_in_sessions};

async fn sessions(root: &Path, name: &str, partial: bool) -> Sessions {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    stand_in_sessions(&dir, SessionConfig::default(), 4, |agent| {
        agent.roots = vec![root.to_path_buf()];
        agent.partial_messages = partial;
        agent.transcripts = Some((dir.join("transcripts"), 4 * 1024 * 1024));
    })
    .await
}

/// One request, followed to its end by a listener that reads every event; its wall time and
/// the text events it heard.
async fn one(sessions: &Sessions, cwd: &Path, deltas: usize, rate: usize) -> (Duration, usize) {
    let pace = if rate > 0 {
        format!(" [[rate:{rate}]]")
    } else {
        String::new()
    };
    let spec = RequestSpec {
        session: "bench".into(),
        prompt: format!("[[deltas:{deltas}]]{pace}"),
        cwd: cwd.to_path_buf(),
        ..RequestSpec::default()
    };
    let (tx, mut rx) = event_queue(smith::session::event_queue::EVENT_QUEUE_CAPACITY);
    let t0 = std::time::Instant::now();
    sessions.submit(spec, Some(tx)).await.expect("accepted");
    let mut texts = 0;
    loop {
        match rx.recv().await {
            Some(RequestEvent::Progress(Event::TaskText { .. })) => texts += 1,
            Some(RequestEvent::Finished(s)) => {
                assert_eq!(s.status, smith::protocol::RequestStatus::Succeeded);
                let answer = s.tasks[0].output.as_deref().unwrap_or("");
                assert!(answer.starts_with("d0 d1"), "{answer:.40}");
                break;
            }
            Some(_) => {}
            None => panic!("the request's events ended without a summary"),
        }
    }
    (t0.elapsed(), texts)
}

/// p50 of `rounds` alternated requests without and with partial messages.
async fn compare(
    quiet: &Sessions,
    live: &Sessions,
    root: &Path,
    rounds: usize,
    deltas: usize,
    rate: usize,
) -> (Duration, Duration, usize) {
    one(quiet, root, deltas, rate).await;
    let (_, texts) = one(live, root, deltas, rate).await;
    assert!(texts > 0, "the live run hears text");
    let (mut base, mut with) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        base.push(one(quiet, root, deltas, rate).await.0);
        with.push(one(live, root, deltas, rate).await.0);
    }
    (p50(base), p50(with), texts)
}

fn main() {
    let rounds = env_or("SMITH_BENCH_ROUNDS", 10);
    let deltas = env_or("SMITH_BENCH_DELTAS", 10_000);
    let rate = env_or("SMITH_BENCH_RATE", 10_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let quiet = sessions(&root, "quiet", false).await;
        let live = sessions(&root, "live", true).await;
        let (a, b, texts) = compare(&quiet, &live, &root, rounds, deltas, rate).await;
        println!(
            "live, {rounds} requests of {deltas} deltas at {rate}/s each: p50 without partial messages {:.1} ms, with {:.1} ms ({texts} text events to the client): {:.3}x (target <= 1.03)",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            b.as_secs_f64() / a.as_secs_f64()
        );
        let (a, b, _) = compare(&quiet, &live, &root, rounds, deltas, 0).await;
        println!(
            "live, unpaced (all {deltas} deltas at once): p50 {:.2} ms vs {:.2} ms: {:.2} µs per delta, the stand-in's writing included",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            (b.as_secs_f64() - a.as_secs_f64()) * 1e6 / deltas as f64
        );
        quiet.supervisor().stop(None).await.unwrap();
        live.supervisor().stop(None).await.unwrap();
    });
}
