//! smithd as a service: the root supervision tree, the control server, startup recovery and the
//! ordered shutdown.
//!
//! ```text
//! Service (root supervisor, rest_for_one)
//! ├── store     the Store actor (SQLite)
//! ├── sessions  the Sessions supervisor → Session → request run → task actors → claude
//! └── control   the control server (Unix socket)
//! ```
//!
//! The control server's parts: `socket` (its place on disk), `control` (listener and accept
//! loop), `client_slots` (who holds a slot, who gives it up), `connection` (one client: peer,
//! handshake, bounded reads and writes), `handler` (one request), `stream` (a running request's
//! events and approvals to its client), `approvals` (list, follow and decide tool calls waiting
//! for a person), `bounded_reply` (replies that fit).
//!
//! Startup: lock the data directory, migrate the database, sweep processes recorded as running
//! by a previous instance (pid and start time checked), mark in-flight requests interrupted, deny
//! the approvals that were left waiting, then
//! start the tree and listen. Shutdown (the switch passed to [`run`]): stop accepting, let running
//! requests finish within `service.shutdown_grace` (a second signal: at once; what waits for a
//! person is denied at once, since nobody can approve it any more), interrupt the rest
//! (they stay resumable), stop the tree in reverse order, flush the database, remove the socket.

mod approvals;
mod background;
mod bounded_reply;
mod client_slots;
mod connection;
pub(crate) mod control;
mod handler;
pub(crate) mod lock;
mod logs;
mod private_dir;
mod serve;
pub(crate) mod shared;
pub mod shutdown;
pub(crate) mod socket;
mod stream;
pub(crate) mod sweep;
mod wire;
mod workspaces;

use private_dir::private_dir;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell};
use tokio::sync::watch;

use crate::agent::{attempt_tag, reaper};
use crate::config::Config;
use crate::session::{SessionDeps, Sessions};
use crate::spend::Restored;
use crate::store::{StoreHandle, open_database, queries};
use crate::supervisor::{
    Backoff, ChildKind, ChildSpec, ChildStart, Restart, Shutdown, Strategy, SupervisorFlags,
    SupervisorRef, SupervisorSpec,
};

use control::ControlServer;
use lock::InstanceLock;
pub use shared::RunOptions;
use shared::ServiceShared;
pub use shutdown::ShutdownLevel;

/// Why smithd could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The data directory cannot be used.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// Another instance runs.
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    /// The database cannot be used.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The socket cannot be used.
    #[error(transparent)]
    Control(#[from] socket::ControlError),
    /// The tree did not start.
    #[error("cannot start the service: {0}")]
    Start(String),
    /// The configured cluster cannot be used.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

fn store_spec(shared: Arc<ServiceShared>) -> ChildSpec {
    ChildSpec::new("store", move |sup: ActorCell| {
        let shared = shared.clone();
        async move {
            let path = shared.config.service.database();
            let conn = tokio::task::spawn_blocking({
                let path = path.clone();
                move || open_database(&path)
            })
            .await??;
            let (actor, _) =
                Actor::spawn_linked(None, crate::store::actor::Store, (conn, path.clone()), sup)
                    .await?;
            shared.set_store(StoreHandle::from_actor(actor.clone(), &path));
            Ok(ChildStart::Started(actor.get_cell()))
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_secs(10)))
}

fn sessions_spec(shared: Arc<ServiceShared>) -> ChildSpec {
    ChildSpec::new("sessions", move |sup: ActorCell| {
        let shared = shared.clone();
        async move {
            let store = shared.store().ok_or("the store is not running")?;
            let deps = SessionDeps {
                store,
                agent: Arc::new(shared.config.worker_agent()),
                config: Arc::new(shared.config.session_config()),
                permits: shared.permits.clone(),
                workspaces: shared.workspaces.clone(),
                approvals: Some(shared.approvals.clone()),
                governor: shared
                    .config
                    .governor
                    .enabled
                    .then(|| shared.governor.clone()),
                ledger: shared.ledger.clone(),
                warm: shared.warm.clone(),
                remote: shared
                    .remote
                    .clone()
                    .map(|r| r as Arc<dyn crate::agent::Nodes>),
            };
            let sessions = Sessions::start(deps, Some(sup)).await?;
            let cell = sessions.supervisor().cell();
            shared.set_sessions(sessions);
            Ok(ChildStart::Started(cell))
        }
    })
    .restart(Restart::Permanent)
    .kind(ChildKind::Supervisor)
    .shutdown(Shutdown::Infinity)
}

fn control_spec(shared: Arc<ServiceShared>) -> ChildSpec {
    ChildSpec::new("control", move |sup: ActorCell| {
        let shared = shared.clone();
        async move {
            let (actor, _) = Actor::spawn_linked(None, ControlServer, shared, sup).await?;
            Ok(ChildStart::Started(actor.get_cell()))
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
}

/// Runs smithd until `shutdown` says stop (or a client asks). Returns when everything is stopped.
pub async fn run(
    config: Config,
    shutdown: watch::Receiver<ShutdownLevel>,
) -> Result<(), ServiceError> {
    run_with(config, shutdown, RunOptions::default()).await
}

/// [`run`], embedded in a process as `options` say.
pub async fn run_with(
    config: Config,
    mut shutdown: watch::Receiver<ShutdownLevel>,
    options: RunOptions,
) -> Result<(), ServiceError> {
    let data_dir = config.service.data_dir.clone();
    let dir_err = |reason: String| ServiceError::DataDir {
        path: data_dir.clone(),
        reason,
    };
    // smithd's own files hold prompts and answers: the data directory is its own, 0700 (files are
    // created under the umask the binary sets, 077).
    private_dir(&data_dir).map_err(dir_err)?;
    let lock = InstanceLock::acquire(&data_dir)?;

    // Recovery before anything runs: migrate, sweep orphans, interrupt what was in flight.
    let db = config.service.database();
    let retention = config.retention();
    let zone = config.limits.budget_time_zone.clone();
    let today = zone.day_of(options.clock.now_ms());
    let (in_flight, remote, orphans, grants, spent) = tokio::task::spawn_blocking(move || {
        let mut conn = open_database(&db)?;
        let pruned = retention.prune_now(&conn)?;
        if pruned.requests > 0 {
            tracing::info!(
                requests = pruned.requests,
                bytes_freed = pruned.bytes_freed,
                "pruned at startup"
            );
        }
        let in_flight: HashMap<String, i64> =
            queries::in_flight_requests(&conn)?.into_iter().collect();
        let denied = queries::resolve_waiting(&conn)?;
        if denied > 0 {
            tracing::warn!(
                approvals = denied,
                "denied the tool calls a previous smithd left waiting for a person"
            );
        }
        let spent = Restored {
            day: Some(today),
            day_spent: queries::spent_on_day(&conn, &today.to_string())?,
            sessions: queries::spent_by_session(&conn)?,
        };
        Ok::<_, crate::store::StoreError>((
            in_flight,
            queries::remote_in_flight(&conn)?,
            queries::interrupt_in_flight(&mut conn, None)?,
            queries::load_grants(&conn)?,
            spent,
        ))
    })
    .await
    .map_err(|e| ServiceError::Start(e.to_string()))??;
    if !orphans.is_empty() || !in_flight.is_empty() {
        let grace = config.agent.term_grace;
        let report = sweep::sweep_orphans(&orphans, &in_flight, grace).await;
        tracing::warn!(
            killed = report.killed.len(),
            gone = report.gone,
            reused = report.reused,
            tagged = report.tagged,
            "swept processes recorded by a previous smithd"
        );
    }
    // The cluster: refused credentials, an old server or one without JetStream stop smithd here;
    // a server that is not there yet does not (local attempts run meanwhile).
    let cluster = crate::cluster::Cluster::connect(&config.cluster).await?;
    // Warm workers a killed smithd left idle belong to no request: they go (by their tag).
    if !options.embedded {
        let warm = attempt_tag::find(
            |t| attempt_tag::request_of(t) == Some(crate::agent::warm_pool::WARM),
            None,
        );
        if !warm.is_empty() {
            tracing::warn!(
                processes = warm.len(),
                "stopping the warm workers a previous smithd left"
            );
            attempt_tag::stop(&warm, config.agent.term_grace).await;
        }
    }
    // Tools may start processes that leave the worker's session and group: as a subreaper
    // smithd adopts them when their parent exits (and reaps them by pid). Embedded, the process
    // is not the service's alone: its children are its owner's to reap.
    if !options.embedded
        && let Err(e) = reaper::become_subreaper()
    {
        tracing::warn!(error = %e, "cannot become a child subreaper; processes that leave a worker are found by their tag only");
    }
    let reaping = (!options.embedded).then(|| tokio::spawn(reaper::reap_adopted_forever()));
    private_dir(&config.service.worker_runtime_dir()).map_err(dir_err)?;

    // The shutdown switch is shared so that a client's `shutdown` request can flip it too.
    let (switch, mut level) = shutdown::channel();
    let forward = {
        let switch = switch.clone();
        tokio::spawn(async move {
            while shutdown.changed().await.is_ok() {
                let l = *shutdown.borrow();
                shutdown::raise(&switch, l);
            }
        })
    };
    let embedded = options.embedded;
    let shared = ServiceShared::new(config, switch, options, grants, spent, cluster);
    for warning in &shared.warnings {
        tracing::warn!("{warning}");
    }
    socket::prepare_socket(&shared.config.service.socket).await?;
    let spec = SupervisorSpec::new("service")
        .flags(SupervisorFlags {
            strategy: Strategy::RestForOne,
            max_restarts: 3,
            period: Duration::from_secs(60),
            backoff: Backoff::quick(),
            ..SupervisorFlags::default()
        })
        .observer(crate::telemetry::metrics::escalation_counter())
        .child(store_spec(shared.clone()))
        .child(sessions_spec(shared.clone()))
        .child(control_spec(shared.clone()));
    let (root, root_done) = SupervisorRef::start(spec)
        .await
        .map_err(|e| ServiceError::Start(e.to_string()))?;
    shared.set_root(root.clone());
    let pruning = tokio::spawn(background::prune_periodically(shared.clone()));
    let reconciling = tokio::spawn(workspaces::reconcile_periodically(shared.clone()));
    let ceilings = tokio::spawn(background::stop_at_ceilings(shared.clone()));
    if !remote.is_empty() {
        tokio::spawn(background::carry_on_remote(shared.clone(), remote));
    }
    tracing::info!(pid = std::process::id(), data_dir = %data_dir.display(),
        socket = %shared.config.service.socket.display(), version = env!("CARGO_PKG_VERSION"), "smithd started");

    // Run until asked to stop — or until the tree gives up on its own.
    let mut root_done = root_done;
    tokio::select! {
        _ = shutdown::reached(&mut level, ShutdownLevel::Graceful) => {}
        _ = &mut root_done => {
            tracing::error!("the service tree stopped on its own (restart intensity exceeded)");
        }
    }
    stop(&shared, &root, &mut level).await;
    let _ = tokio::time::timeout(Duration::from_secs(30), root_done).await;
    // Whatever carries a tag of this smithd has outlived its attempt: it goes too. (Embedded,
    // the tag's instance is the process's, shared with whatever else runs in it: each attempt's
    // own stop and the Drop guards are the nets then.)
    if !embedded {
        let grace = shared.config.agent.term_grace;
        let left = attempt_tag::find(attempt_tag::is_ours, None);
        attempt_tag::stop(&left, grace).await;
    }
    if let Some(r) = reaping {
        r.abort();
    }
    pruning.abort();
    reconciling.abort();
    ceilings.abort();
    forward.abort();
    let _ = std::fs::remove_file(&shared.config.service.socket);
    drop(lock);
    tracing::info!("smithd stopped");
    Ok(())
}

/// The ordered stop: no new connections; running requests finish within the grace (or not at
/// all when hurried); the rest are interrupted; then the tree stops in reverse order (sessions,
/// then the store, which flushes).
async fn stop(
    shared: &Arc<ServiceShared>,
    root: &SupervisorRef,
    level: &mut watch::Receiver<ShutdownLevel>,
) {
    tracing::info!("shutting down: no new requests");
    let _ = root.terminate_child("control").await;
    // Nobody can approve anything any more: what waits for a person is denied now (the workers
    // go on without it), and so is what asks from now on.
    shared.approvals.close("smithd is shutting down");
    // No warm worker is started any more, and the idle ones go.
    if let Some(pool) = &shared.warm {
        pool.close();
    }
    if let Some(sessions) = shared.sessions() {
        let grace = shared.config.service.shutdown_grace;
        if sessions.busy() > 0 {
            tracing::info!(grace = ?grace, sessions = sessions.busy(), "waiting for running requests to finish");
            tokio::select! {
                _ = sessions.all_idle() => {}
                _ = tokio::time::sleep(grace) => {}
                _ = shutdown::reached(level, ShutdownLevel::Immediate) => {}
            }
        }
        if sessions.busy() > 0 {
            tracing::info!("interrupting running requests (they stay resumable)");
            sessions.interrupt_all().await;
            let budget = shared.config.agent.stop_budget() * 2 + Duration::from_secs(5);
            if tokio::time::timeout(budget, sessions.all_idle())
                .await
                .is_err()
            {
                tracing::warn!(
                    sessions = sessions.busy(),
                    "sessions still busy after the stop budget; the tree stops them"
                );
            }
        }
    }
    if let Err(e) = root.stop(Some(Duration::from_secs(60))).await {
        tracing::error!(error = %e, "the service tree did not stop in time");
    }
}
