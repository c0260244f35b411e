//! What the parts of the service share: the configuration, the current Store and Sessions
//! (replaced when the root supervisor restarts them), the process cap, and the shutdown switch.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::governor::Slots;
use crate::permissions::Approvals;
use crate::session::Sessions;
use crate::spend::{Ledger, Restored};
use crate::store::{StoreCell, StoreHandle};
use crate::supervisor::SupervisorRef;

use super::shutdown::ShutdownLevel;

/// How the service runs in the process that runs it.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The service shares its process with other code (an application, or a test, that embeds
    /// it and starts `smith` itself): it serves clients that are children of the process, and
    /// neither becomes a child subreaper, nor reaps children it did not start, nor sweeps every
    /// tagged process of the process when it stops (only its attempts'). smithd leaves it
    /// off: below smithd are only its workers and what they leave behind, which it never takes
    /// requests from and reaps. Workers are refused by their attempt tag either way.
    pub embedded: bool,
    /// The wall clock the budget's days are read from (a test moves it across midnight).
    pub clock: Clock,
}

/// Shared by the root tree's children and the connection handlers.
pub struct ServiceShared {
    /// The effective configuration.
    pub config: Config,
    /// When smithd started.
    pub started: Instant,
    /// The live `claude` processes' slots (`limits.max_concurrent_tasks`, adapted by the
    /// governor, in turn across sessions).
    pub permits: Arc<Slots>,
    /// Flip to stop the service (a `shutdown` request does).
    pub shutdown: watch::Sender<ShutdownLevel>,
    /// Problems found at start that will make requests fail (shown by `smith health`).
    pub warnings: Vec<String>,
    /// How the service runs in its process.
    pub options: RunOptions,
    /// Isolated tasks' worktrees.
    pub workspaces: Arc<crate::workspace::Workspaces>,
    /// Tool calls waiting for a person.
    pub approvals: Arc<Approvals>,
    /// The gate every attempt passes.
    pub governor: Arc<crate::governor::Governor>,
    /// What sessions and days spent, against their ceilings.
    pub ledger: Arc<Ledger>,
    /// Warm workers (`agent.warm_pool > 0`).
    pub warm: Option<Arc<crate::agent::WarmPool>>,
    /// The connection to NATS (`cluster.nats_url`).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// The worker nodes on it.
    pub remote: Option<Arc<crate::cluster::Remote>>,
    store: StoreCell,
    sessions: RwLock<Option<Sessions>>,
    root: RwLock<Option<SupervisorRef>>,
}

/// What the configuration promises that the machine cannot keep: a `claude` that is not there.
fn startup_warnings(config: &Config) -> Vec<String> {
    let program = &config.agent.program;
    let path = config
        .agent
        .env
        .get("PATH")
        .map(std::ffi::OsString::from)
        .or_else(|| std::env::var_os("PATH"));
    match crate::agent::command::find_program(program, path.as_deref()) {
        Some(_) => Vec::new(),
        None => vec![format!(
            "agent.program {:?} is not found{}: every worker would fail to start; install Claude Code (npm install -g @anthropic-ai/claude-code) or set agent.program to the claude executable",
            program.display().to_string(),
            if program.components().count() > 1 {
                ""
            } else {
                " on PATH"
            }
        )],
    }
}

impl ServiceShared {
    /// Shared state for `config`.
    pub fn new(
        config: Config,
        shutdown: watch::Sender<ShutdownLevel>,
        options: RunOptions,
        grants: Vec<(String, String, String)>,
        spent: Restored,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> Arc<Self> {
        let mut warnings = startup_warnings(&config);
        let (workspaces, problem) = super::workspaces::open(&config);
        warnings.extend(problem);
        let store = StoreCell::default();
        let permits = Slots::new(config.limits.max_concurrent_tasks);
        let approvals = Approvals::new(config.permissions.clone(), store.clone(), grants);
        let ledger = Ledger::new(config.limits.ceilings(), options.clock.clone(), spent);
        // At most as many warm workers as processes may run.
        let warm_size = config
            .agent
            .warm_pool
            .min(config.limits.max_concurrent_tasks);
        let warm = (warm_size > 0).then(|| {
            crate::agent::WarmPool::new(warm_size, config.agent.warm_idle, permits.clone())
        });
        let remote = cluster
            .as_ref()
            .map(|c| crate::cluster::Remote::start(c.clone(), &config.cluster));
        Arc::new(Self {
            cluster,
            remote,
            warm,
            ledger: Arc::new(ledger),
            approvals,
            governor: crate::governor::Governor::new(config.governor.clone(), permits.clone()),
            permits,
            warnings,
            workspaces: Arc::new(workspaces),
            config,
            started: Instant::now(),
            shutdown,
            options,
            store,
            sessions: RwLock::new(None),
            root: RwLock::new(None),
        })
    }

    /// The current store.
    pub fn store(&self) -> Option<StoreHandle> {
        self.store.get()
    }

    /// Publishes the store (started or restarted).
    pub fn set_store(&self, store: StoreHandle) {
        self.store.set(store);
    }

    /// The current sessions.
    pub fn sessions(&self) -> Option<Sessions> {
        self.sessions.read().expect("sessions lock").clone()
    }

    /// Publishes the sessions (started or restarted).
    pub fn set_sessions(&self, sessions: Sessions) {
        *self.sessions.write().expect("sessions lock") = Some(sessions);
    }

    /// The root supervisor.
    pub fn root(&self) -> Option<SupervisorRef> {
        self.root.read().expect("root lock").clone()
    }

    /// Publishes the root supervisor.
    pub fn set_root(&self, root: SupervisorRef) {
        *self.root.write().expect("root lock") = Some(root);
    }

    /// The cluster as clients see it.
    pub fn cluster_status(&self) -> crate::protocol::ClusterStatus {
        let mut status = self
            .cluster
            .as_ref()
            .map_or_else(Default::default, |c| c.status());
        if let Some(remote) = &self.remote {
            status.nodes = remote.nodes();
        }
        status
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
