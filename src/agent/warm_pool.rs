//! Warm workers (`agent.warm_pool`): `claude` processes started ahead of need from the
//! spawn-fixed part of a launch spec (its [`WarmProfile`]), waiting for their first stream-json
//! message, so that an attempt of that profile skips the CLI's start-up. Pools are kept per
//! profile where demand is (a profile is remembered when an attempt of it asks), refilled in the
//! background only with a free process slot that nobody waits for, bounded in total. A warm
//! process holds a process slot (it counts toward the cap, not the API admission: it makes no
//! API call while idle) and is evicted when an attempt waits for a slot; it is recycled after
//! `agent.warm_idle`; one that exits or prints while idle is discarded (never handed over in an
//! unknown state); all are killed when the pool closes. Each carries a tag of its own (`warm`
//! in the request part), which the next start of smithd sweeps after a crash.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::Signal;
use opentelemetry::KeyValue;
use tokio::io::AsyncReadExt;
use tokio::process::Child;
use tokio::sync::{oneshot, watch};

use super::attempt_tag::AttemptTag;
use super::launch::LaunchSpec;
use super::proc_info::process_start_time;
use super::reaper::LeaderGuard;
use super::warm_profile::{ColdReason, WarmProfile};
use crate::governor::{Slot, Slots};
use crate::process_group::{GroupGuard, ProcessGroup};
use crate::telemetry::metrics::metrics;

/// The request part of a warm process's tag.
pub const WARM: &str = "warm";

/// A warm process handed to an attempt: running, its pipes unread, waiting for its message.
pub struct WarmProcess {
    /// The process (stdin, stdout and stderr in place).
    pub child: Child,
    /// Its pid (= its process group).
    pub pid: u32,
    /// Its start time in clock ticks since boot.
    pub start_time: Option<u64>,
    /// The Claude session it was started with.
    pub session_id: String,
    /// Its tag (what it starts carries it too).
    pub tag: AttemptTag,
    /// Keeps the reaper off it.
    pub leader: LeaderGuard,
    /// Its `warm_worker` span: the process's own telemetry joined its trace (it was started
    /// before any attempt's), so an attempt links to it.
    pub span: tracing::Span,
}

/// An idle warm process, as the pool lists it.
struct Idle {
    id: u64,
    take: oneshot::Sender<oneshot::Sender<WarmProcess>>,
}

#[derive(Default)]
struct State {
    idle: HashMap<WarmProfile, VecDeque<Idle>>,
    /// A launch spec of each profile asked for (what refills start from).
    demand: HashMap<WarmProfile, LaunchSpec>,
    /// Warm processes idle or starting.
    warm: usize,
}

/// The pool.
pub struct WarmPool {
    size: usize,
    idle_for: Duration,
    slots: Arc<Slots>,
    state: Mutex<State>,
    next: AtomicU64,
    closed: watch::Sender<bool>,
}

impl WarmPool {
    /// A pool of at most `size` warm processes, each recycled after `idle_for`.
    pub fn new(size: usize, idle_for: Duration, slots: Arc<Slots>) -> Arc<Self> {
        Arc::new(Self {
            size,
            idle_for,
            slots,
            state: Mutex::new(State::default()),
            next: AtomicU64::new(1),
            closed: watch::Sender::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A warm process for `launch`, or why it starts cold. Either way its profile is
    /// remembered and refilled.
    pub async fn take(self: &Arc<Self>, launch: &LaunchSpec) -> Result<WarmProcess, ColdReason> {
        let profile = WarmProfile::of(launch);
        let taken = match &profile {
            Err(reason) => Err(*reason),
            Ok(profile) => {
                self.lock()
                    .demand
                    .entry(profile.clone())
                    .or_insert_with(|| launch.clone());
                self.take_idle(profile).await
            }
        };
        let m = metrics();
        match &taken {
            Ok(_) => m.warm_hits.add(1, &[]),
            Err(reason) => m
                .warm_misses
                .add(1, &[KeyValue::new("smith.warm.miss", reason.as_str())]),
        }
        if let Ok(profile) = profile {
            self.refill(&profile);
        }
        taken
    }

    /// A warm worker for the attempt of `launch`, if one of its profile is idle: the attempt
    /// then runs as the worker's Claude session and `tag` (what stops the attempt's processes),
    /// and its `span` links to the worker's (a process already running cannot join the
    /// attempt's trace; the caller records `smith.warm` and the session on it).
    pub async fn adopt(
        self: &Arc<Self>,
        launch: &mut LaunchSpec,
        tag: &std::sync::Mutex<Option<AttemptTag>>,
        span: &tracing::Span,
    ) -> Option<WarmProcess> {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let w = self.take(launch).await.ok()?;
        launch.session = super::command::SessionArg::New(w.session_id.clone());
        launch.tag = Some(w.tag.clone());
        *tag.lock().unwrap_or_else(|p| p.into_inner()) = Some(w.tag.clone());
        span.add_link(w.span.context().span().span_context().clone());
        Some(w)
    }

    async fn take_idle(&self, profile: &WarmProfile) -> Result<WarmProcess, ColdReason> {
        loop {
            let Some(idle) = self
                .lock()
                .idle
                .get_mut(profile)
                .and_then(VecDeque::pop_front)
            else {
                return Err(ColdReason::Empty);
            };
            let (tx, rx) = oneshot::channel();
            if idle.take.send(tx).is_err() {
                continue;
            }
            // A keeper that found its process gone meanwhile drops the sender: try the next.
            if let Ok(process) = rx.await {
                return Ok(process);
            }
        }
    }

    /// Starts warm processes of `profile` while the pool has room and a slot is free that no
    /// attempt waits for.
    fn refill(self: &Arc<Self>, profile: &WarmProfile) {
        if *self.closed.borrow() {
            return;
        }
        loop {
            let template = {
                let mut state = self.lock();
                if state.warm >= self.size {
                    return;
                }
                let Some(template) = state.demand.get(profile).cloned() else {
                    return;
                };
                let Some(slot) = self.slots.try_acquire() else {
                    return;
                };
                state.warm += 1;
                (template, slot)
            };
            let (template, slot) = template;
            let pool = self.clone();
            let profile = profile.clone();
            tokio::spawn(async move { pool.keep(profile, template, slot).await });
        }
    }

    /// A slot was given back: every profile asked for is refilled where there is room.
    pub fn replenish(self: &Arc<Self>) {
        let profiles: Vec<WarmProfile> = self.lock().demand.keys().cloned().collect();
        for profile in profiles {
            self.refill(&profile);
        }
    }

    /// Kills every warm process (and starts none any more).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Warm processes idle now.
    pub fn idle(&self) -> usize {
        self.lock().idle.values().map(VecDeque::len).sum()
    }

    /// One warm process: started, then kept until it is taken or discarded.
    async fn keep(self: Arc<Self>, profile: WarmProfile, template: LaunchSpec, slot: Slot) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let tag = AttemptTag::new(WARM, &format!("w{id}"), 0);
        let span = tracing::info_span!(
            target: "smith::agent",
            parent: None,
            "warm_worker",
            otel.kind = "internal",
            smith.warm.id = id,
        );
        let mut launch = profile.warm_launch(&template, &tag);
        if let Some(vars) = crate::telemetry::trace_env(&span) {
            launch.env.extend(vars);
        }
        let mut child = match launch.command().spawn() {
            Ok(child) => child,
            Err(e) => {
                tracing::warn!(program = %launch.program.display(), error = %e, "cannot start a warm worker");
                self.lock().warm -= 1;
                return;
            }
        };
        let pid = child.id().expect("a child that was just spawned has a pid");
        let leader = LeaderGuard::register(pid);
        let group = ProcessGroup::new();
        group.set(pid);
        let guard = GroupGuard(group.clone());
        let start_time = process_start_time(pid);
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (take_tx, mut take_rx) = oneshot::channel();
        {
            let mut state = self.lock();
            state
                .idle
                .entry(profile.clone())
                .or_default()
                .push_back(Idle { id, take: take_tx });
        }
        metrics().warm_size.add(1, &[]);
        tracing::debug!(pid, id, "warm worker started");
        let closed = until_closed(self.closed.subscribe());
        tokio::pin!(closed);
        let expires = tokio::time::sleep(self.idle_for);
        tokio::pin!(expires);
        let mut out = [0u8; 1];
        let mut err = [0u8; 4096];
        let why = loop {
            tokio::select! {
                asked = &mut take_rx => {
                    let Ok(reply) = asked else { break "unlisted" };
                    metrics().warm_size.add(-1, &[]);
                    child.stdout = Some(stdout);
                    child.stderr = Some(stderr);
                    // The attempt owns the group from here; it has a slot of its own.
                    group.clear();
                    drop(guard);
                    drop(slot);
                    self.lock().warm -= 1;
                    let process = WarmProcess {
                        child,
                        pid,
                        start_time,
                        session_id: launch.session.id().to_string(),
                        tag,
                        leader,
                        span,
                    };
                    if let Err(mut unused) = reply.send(process) {
                        // The attempt went away first: nobody will use it.
                        let _ = unused.child.start_kill();
                        let _ = unused.child.wait().await;
                    }
                    return;
                }
                // Its exit closes its output (`Child::wait` would close its stdin: not here).
                n = stdout.read(&mut out) => break match n {
                    Ok(0) | Err(_) => "exited while idle",
                    Ok(_) => "printed before it had a task",
                },
                n = stderr.read(&mut err) => if matches!(n, Ok(0) | Err(_)) {
                    break "closed its error output";
                },
                _ = &mut expires => break "idle for agent.warm_idle",
                _ = self.slots.wanted() => if self.slots.waiting() > 0 {
                    break "its slot is wanted by an attempt";
                },
                _ = &mut closed => break "the pool closed",
            }
        };
        {
            let mut state = self.lock();
            if let Some(q) = state.idle.get_mut(&profile) {
                q.retain(|i| i.id != id);
            }
            state.warm -= 1;
        }
        metrics().warm_size.add(-1, &[]);
        group.signal(Signal::SIGKILL);
        let _ = child.wait().await;
        group.clear();
        drop(leader);
        drop(slot);
        tracing::debug!(pid, id, why, "warm worker discarded");
        // Recycled or gone: its place is taken again while demand lasts.
        if why != "the pool closed" && why != "its slot is wanted by an attempt" {
            self.refill(&profile);
        }
    }
}

/// Resolves once the pool is closed.
async fn until_closed(mut closed: watch::Receiver<bool>) {
    loop {
        if *closed.borrow_and_update() {
            return;
        }
        if closed.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
