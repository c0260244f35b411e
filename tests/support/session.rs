//! A harness for session tests: a store in a temp dir, the Sessions supervisor, the stand-in
//! agent, and `ask` that submits a request and collects its events to the end.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smith::agent::AgentConfig;
use smith::protocol::{Event, RequestSummary};
use smith::session::event_queue::EVENT_QUEUE_CAPACITY;
use smith::session::{
    EventStream, RequestEvent, RequestSpec, SessionConfig, SessionDeps, Sessions, event_queue,
};
use smith::store::{RequestDetail, StoreHandle, TaskStatus, queries};
use smith::workspace::{WorkspaceSettings, Workspaces};

use super::agent::stand_in_config;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: StoreHandle,
    pub sessions: Sessions,
    pub deps: SessionDeps,
}

/// Quick restarts for tests.
pub fn test_session_config() -> SessionConfig {
    let mut c = SessionConfig::default();
    c.supervision.backoff_min = Duration::from_millis(50);
    c.supervision.backoff_max = Duration::from_millis(200);
    c.supervision.backoff_jitter = 0.0;
    c.supervision.backoff_reset_after = Duration::from_secs(60);
    c.supervision.session_max_restarts = 5;
    c
}

impl Harness {
    pub async fn new(tweak: impl FnOnce(&mut SessionConfig, &mut AgentConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_session_config();
        let mut agent = stand_in_config(dir.path());
        tweak(&mut config, &mut agent);
        Self::open(dir, config, agent).await
    }

    pub async fn open(dir: tempfile::TempDir, config: SessionConfig, agent: AgentConfig) -> Self {
        let (store, _) = StoreHandle::open(&dir.path().join("smith.db"))
            .await
            .unwrap();
        let deps = SessionDeps {
            store: store.clone(),
            agent: Arc::new(agent),
            permits: smith::governor::Slots::new(config.limits.max_concurrent_tasks),
            config: Arc::new(config),
            workspaces: Arc::new(Workspaces::new(
                WorkspaceSettings::default(),
                dir.path().join("worktrees"),
            )),
            approvals: None,
            governor: None,
            ledger: Arc::new(smith::spend::Ledger::without_ceilings()),
            warm: None,
            remote: None,
        };
        let sessions = Sessions::start(deps.clone(), None).await.unwrap();
        Self {
            dir,
            store,
            sessions,
            deps,
        }
    }

    pub fn cwd(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn spec(&self, prompt: &str, tasks: &[&str]) -> RequestSpec {
        RequestSpec {
            session: "main".into(),
            prompt: prompt.into(),
            tasks: tasks.iter().map(|t| (*t).into()).collect(),
            cwd: self.cwd(),
            ..RequestSpec::default()
        }
    }

    /// Submits and returns the receiver of its events.
    pub async fn submit(&self, spec: RequestSpec) -> (String, EventStream) {
        let (tx, rx) = event_queue(EVENT_QUEUE_CAPACITY);
        let id = self.sessions.submit(spec, Some(tx)).await.expect("submit");
        (id, rx)
    }

    /// Resumes an interrupted request and waits for its end.
    pub async fn resume(&self, id: &str) -> (RequestSummary, Vec<RequestEvent>) {
        let (tx, rx) = event_queue(EVENT_QUEUE_CAPACITY);
        self.sessions.resume(id, Some(tx)).await.expect("resume");
        finish(rx).await
    }

    /// A request as the store has it.
    pub async fn detail(&self, id: &str) -> RequestDetail {
        let id = id.to_string();
        self.store
            .call(move |c| queries::request_detail(c, &id))
            .await
            .expect("the request is stored")
    }

    /// Submits and waits for the end.
    pub async fn ask(&self, spec: RequestSpec) -> (RequestSummary, Vec<RequestEvent>) {
        let (_, rx) = self.submit(spec).await;
        finish(rx).await
    }
}

/// Reads events until task `task_id` has started (its process runs).
pub async fn until_started(rx: &mut EventStream, task_id: &str) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the task starts within 60 s")
            .expect("events until it starts");
        if matches!(&e, RequestEvent::Progress(Event::TaskStarted { task_id: t, .. }) if t == task_id)
        {
            return;
        }
    }
}

/// The id of the first task that starts.
pub async fn first_started(rx: &mut EventStream) -> String {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("a task starts within 60 s")
            .expect("events until one starts");
        if let RequestEvent::Progress(Event::TaskStarted { task_id, .. }) = e {
            return task_id;
        }
    }
}

/// Collects events until `Finished`.
pub async fn finish(mut rx: EventStream) -> (RequestSummary, Vec<RequestEvent>) {
    let mut events = Vec::new();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("the request ends within 60 s")
            .expect("events until Finished");
        if let RequestEvent::Finished(summary) = &e {
            let summary = summary.clone();
            events.push(e);
            return (summary, events);
        }
        events.push(e);
    }
}

/// Pids of all TaskStarted events.
pub fn started_pids(events: &[RequestEvent]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            RequestEvent::Progress(Event::TaskStarted { pid, .. }) => Some(*pid),
            _ => None,
        })
        .collect()
}

/// Each task's attempts, in order.
pub fn attempts(summary: &RequestSummary) -> Vec<u32> {
    summary.tasks.iter().map(|t| t.attempts).collect()
}

/// Each task's status, in order.
pub fn statuses(summary: &RequestSummary) -> Vec<TaskStatus> {
    summary.tasks.iter().map(|t| t.status).collect()
}
