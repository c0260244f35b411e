//! Helpers for tests that run the stand-in agent (`fake-claude`) or the real CLI.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smith::agent::{
    AgentConfig, AttemptEvent, AttemptSpec, Outcome, ProcessGroup, SessionArg, TaskOptions,
    run_attempt,
};
use smith::protocol::StopReason;
use tokio::sync::mpsc;

/// The compiled stand-in agent.
pub fn fake_claude() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fake-claude"))
}

/// A config running the stand-in inside `root`, with short watchdogs.
pub fn stand_in_config(root: &Path) -> AgentConfig {
    AgentConfig {
        program: fake_claude(),
        roots: vec![root.to_path_buf()],
        timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(10),
        result_grace: Duration::from_secs(2),
        interrupt_grace: Duration::from_millis(500),
        term_grace: Duration::from_millis(500),
        env: [(
            "FAKE_CLAUDE_STATE_DIR".to_string(),
            root.display().to_string(),
        )]
        .into(),
        ..AgentConfig::default()
    }
}

/// Everything one attempt produced.
pub struct Run {
    /// The fresh Claude session id the attempt was started with.
    pub session: String,
    pub outcome: Outcome,
    pub events: Vec<AttemptEvent>,
}

impl Run {
    pub fn pid(&self) -> u32 {
        self.events
            .iter()
            .find_map(|e| match e {
                AttemptEvent::Spawned { pid, .. } => Some(*pid),
                _ => None,
            })
            .expect("a Spawned event")
    }

    pub fn texts(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                AttemptEvent::Progress { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Runs one attempt of `message` in `cwd`; `on_event` may return a control to send.
pub async fn run_with(
    config: AgentConfig,
    cwd: &Path,
    message: &str,
    mut on_event: impl FnMut(&AttemptEvent) -> Option<StopReason> + Send,
) -> Run {
    let events = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = events.clone();
    let session = SessionArg::fresh();
    let session_id = session.id().to_string();
    let spec = AttemptSpec {
        config: Arc::new(config),
        task: TaskOptions {
            cwd: cwd.to_path_buf(),
            ..TaskOptions::default()
        },
        session,
        message: message.to_string(),
        tag: Some(smith::agent::attempt_tag::AttemptTag::new(
            &format!("r-{}", uuid::Uuid::new_v4().simple()),
            "t1",
            1,
        )),
        transcript: None,
    };
    let outcome = run_attempt(
        spec,
        move |e| {
            if let Some(ctl) = on_event(&e) {
                let _ = tx.send(ctl);
            }
            sink.lock().unwrap().push(e);
        },
        rx,
        ProcessGroup::new(),
    )
    .await;
    let events = events.lock().unwrap().clone();
    Run {
        session: session_id,
        outcome,
        events,
    }
}

/// Runs one attempt with no control.
pub async fn run(config: AgentConfig, cwd: &Path, message: &str) -> Run {
    run_with(config, cwd, message, |_| None).await
}

/// Whether `pid` is a live (not zombie) process.
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 2..].chars().next())
                .unwrap_or('X');
            !matches!(state, 'Z' | 'X')
        }
        Err(_) => false,
    }
}

/// Waits until `pid` is gone.
pub async fn gone(pid: u32) -> bool {
    super::eventually(Duration::from_secs(5), || async move { !pid_alive(pid) }).await
}
