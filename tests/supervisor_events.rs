//! Every restart, backoff delay and escalation of a supervisor is a structured `tracing` event.
//! Alone in its test binary because it installs the global subscriber.

mod support;

use std::sync::Arc;
use std::time::Duration;

use smith::supervisor::{Backoff, Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec};
use support::actors::{Log, WorkerMsg, next_exit, probe, tell, worker};
use support::eventually;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn restarts_and_escalations_are_structured_tracing_events() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    // Global, in a test binary of its own: a thread-local default misses callsites whose
    // interest other tests' threads cached first.
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let log = Log::default();
    let (parent, mut exits) = probe().await;
    let spec = SupervisorSpec::new("traced")
        .flags(SupervisorFlags {
            strategy: Strategy::OneForOne,
            max_restarts: 1,
            period: Duration::from_secs(5),
            backoff: Backoff {
                min: Duration::from_millis(20),
                max: Duration::from_millis(20),
                jitter: 0.0,
                reset_after: Duration::from_secs(60),
            },
            ..SupervisorFlags::default()
        })
        .child(worker("a", &log));
    let (sup, _) = SupervisorRef::start_linked(spec, parent).await.unwrap();
    tell(&sup, "a", WorkerMsg::Crash).await;
    assert!(eventually(WAIT, || async { log.starts("a") == 2 }).await);
    tell(&sup, "a", WorkerMsg::Crash).await;
    next_exit(&mut exits).await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let restart = text
        .lines()
        .find(|l| l.contains("restarting child"))
        .unwrap_or_else(|| panic!("no restart event in:\n{text}"));
    for field in [
        "supervisor=traced",
        "child=a",
        "reason=failed: a crashed on purpose",
        "attempt=1",
        "delay_ms=20",
    ] {
        assert!(restart.contains(field), "{field} missing in {restart}");
    }
    let escalation = text
        .lines()
        .find(|l| l.contains("restart intensity exceeded"))
        .unwrap_or_else(|| panic!("no escalation event in:\n{text}"));
    for field in ["supervisor=traced", "child=a", "max_restarts=1", "reason="] {
        assert!(
            escalation.contains(field),
            "{field} missing in {escalation}"
        );
    }
    assert!(text.contains("child restarted"), "{text}");
}
