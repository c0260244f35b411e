//! The control plane's view of the worker nodes: each node's last heartbeat from the nodes
//! bucket (watched), timed by the control plane's own clock on the arrival of each new
//! revision (2.9 has no per-key expiry events: a node three heartbeats late is lost), and the
//! remote attempts in flight against the nodes' slots. A remote attempt holds a
//! [`RemoteSlot`] from before its dispatch to its end; the nodes enforce their own capacity
//! (they fetch only with a free slot), the directory keeps the control plane from dispatching
//! more than the nodes that have an attempt's directory can take: an attempt in flight counts
//! against every node that could run it — exact for nodes with disjoint roots or the same roots,
//! cautious (maybe fewer dispatched than could be) when roots overlap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::wire::NodeInfo;
use crate::protocol::{NodeState, NodeStatus};

/// One node as last heard of.
struct Seen {
    info: NodeInfo,
    at: Instant,
}

/// The remote attempts in flight: each one's working directory, by a number of its own.
#[derive(Default)]
struct Inflight {
    next: u64,
    cwds: BTreeMap<u64, PathBuf>,
}

/// The nodes, and the remote attempts in flight.
pub struct Directory {
    nodes: Mutex<BTreeMap<String, Seen>>,
    inflight: Mutex<Inflight>,
    changed: Notify,
    heartbeat: Duration,
}

impl Directory {
    /// A directory of nodes that put their heartbeat every `heartbeat`.
    pub fn new(heartbeat: Duration) -> Arc<Self> {
        Arc::new(Self {
            nodes: Mutex::new(BTreeMap::new()),
            inflight: Mutex::new(Inflight::default()),
            changed: Notify::new(),
            heartbeat,
        })
    }

    fn state(&self, seen: &Seen) -> NodeState {
        if seen.info.stopping {
            NodeState::Stopped
        } else if seen.at.elapsed() > self.heartbeat * 3 {
            NodeState::Lost
        } else {
            NodeState::Up
        }
    }

    /// A heartbeat came (a new revision of the node's entry); `stale`: it is an old one (the
    /// bucket keeps a dead node's last entry a while), so the node counts as lost at once.
    pub fn heard(&self, info: NodeInfo, stale: bool) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let name = info.name.clone();
        let was = nodes.get(&name).map(|s| self.state(s));
        let now = Instant::now();
        let at = match stale {
            true => now
                .checked_sub(self.heartbeat * 3 + Duration::from_millis(1))
                .unwrap_or(now),
            false => now,
        };
        let seen = Seen { info, at };
        let now = self.state(&seen);
        if was != Some(now) {
            match (was, now) {
                (Some(NodeState::Lost), NodeState::Up) => {
                    tracing::info!(node = %name, "worker node is back")
                }
                (_, NodeState::Up) => {
                    tracing::info!(node = %name, capacity = seen.info.capacity, "worker node joined")
                }
                (_, NodeState::Stopped) => tracing::info!(node = %name, "worker node stopped"),
                _ => {}
            }
        }
        nodes.insert(name, seen);
        drop(nodes);
        self.changed.notify_waiters();
    }

    /// Whether `s` is a live node that has `cwd`.
    fn serves(&self, s: &Seen, cwd: &Path) -> bool {
        self.state(s) == NodeState::Up && s.info.roots.iter().any(|r| cwd.starts_with(r))
    }

    /// Whether a live node has `cwd` at all.
    pub fn has(&self, cwd: &Path) -> bool {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes.values().any(|s| self.serves(s, cwd))
    }

    /// A slot on the nodes for an attempt in `cwd`, when one is free now: the live nodes that
    /// have `cwd` have more slots than the attempts in flight that they could run.
    pub fn try_reserve(self: &Arc<Self>, cwd: &Path) -> Option<RemoteSlot> {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        let serving: Vec<&Seen> = nodes.values().filter(|s| self.serves(s, cwd)).collect();
        let slots: u32 = serving.iter().map(|s| s.info.capacity).sum();
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        let used = inflight
            .cwds
            .values()
            .filter(|c| serving.iter().any(|s| self.serves(s, c)))
            .count();
        (slots as usize > used).then(|| self.hold(&mut inflight, cwd))
    }

    /// A slot for an attempt in `cwd` that runs on a node already, free or not.
    pub fn claim(self: &Arc<Self>, cwd: &Path) -> RemoteSlot {
        let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        self.hold(&mut inflight, cwd)
    }

    fn hold(self: &Arc<Self>, inflight: &mut Inflight, cwd: &Path) -> RemoteSlot {
        inflight.next += 1;
        inflight.cwds.insert(inflight.next, cwd.to_path_buf());
        RemoteSlot(self.clone(), inflight.next)
    }

    /// A slot on the nodes for an attempt in `cwd`, when one is free (a node joins, an attempt
    /// ends, a heartbeat comes).
    pub async fn reserve(self: &Arc<Self>, cwd: &Path) -> RemoteSlot {
        loop {
            let changed = self.changed.notified();
            if let Some(slot) = self.try_reserve(cwd) {
                return slot;
            }
            // Nodes also turn lost with time alone.
            let _ = tokio::time::timeout(self.heartbeat, changed).await;
        }
    }

    /// The nodes as `smith status` shows them.
    pub fn statuses(&self) -> Vec<NodeStatus> {
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        nodes
            .values()
            .map(|s| NodeStatus {
                name: s.info.name.clone(),
                state: self.state(s),
                capacity: s.info.capacity,
                running: s.info.running,
                version: s.info.version.clone(),
                roots: s
                    .info
                    .roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect(),
                last_seen_ms: s.info.seen_ms,
            })
            .collect()
    }

    /// Reports the nodes as metrics each time they are collected: `smith.cluster.nodes` by
    /// `smith.node.state`, `smith.cluster.node.running` and `smith.cluster.node.capacity` by
    /// `smith.node`.
    pub fn observe(self: &Arc<Self>) {
        use opentelemetry::KeyValue;
        let meter = opentelemetry::global::meter("smith");
        let me = Arc::downgrade(self);
        meter
            .u64_observable_gauge("smith.cluster.nodes")
            .with_description("Worker nodes the control plane knows, by state (up, lost, stopped)")
            .with_unit("{node}")
            .with_callback(move |o| {
                let Some(d) = me.upgrade() else { return };
                let nodes = d.statuses();
                for state in [NodeState::Up, NodeState::Lost, NodeState::Stopped] {
                    let n = nodes.iter().filter(|s| s.state == state).count();
                    o.observe(
                        n as u64,
                        &[KeyValue::new("smith.node.state", state.as_str())],
                    );
                }
            })
            .build();
        for (name, what, running) in [
            (
                "smith.cluster.node.running",
                "Attempts a worker node runs, as its last heartbeat says",
                true,
            ),
            (
                "smith.cluster.node.capacity",
                "A worker node's slots (cluster.capacity there)",
                false,
            ),
        ] {
            let me = Arc::downgrade(self);
            meter
                .u64_observable_gauge(name)
                .with_description(what)
                .with_unit("{attempt}")
                .with_callback(move |o| {
                    let Some(d) = me.upgrade() else { return };
                    for s in d.statuses().iter().filter(|s| s.state == NodeState::Up) {
                        let v = if running { s.running } else { s.capacity };
                        o.observe(v as u64, &[KeyValue::new("smith.node", s.name.clone())]);
                    }
                })
                .build();
        }
    }

    /// Follows the nodes bucket until the process ends (watching again after an error).
    pub async fn follow(self: Arc<Self>, kv: async_nats::jetstream::kv::Store) {
        loop {
            match kv.watch_all().await {
                Ok(mut entries) => {
                    while let Some(entry) = entries.next().await {
                        let Ok(entry) = entry else { break };
                        // An entry put more than a minute ago (by the server's clock) is a
                        // dead node's last word, not a heartbeat (clocks a little apart do not
                        // matter at that scale).
                        let age =
                            crate::store::records::now_ms() / 1000 - entry.created.unix_timestamp();
                        match serde_json::from_slice::<NodeInfo>(&entry.value) {
                            Ok(info) => self.heard(info, age > 60),
                            Err(e) => {
                                tracing::debug!(key = %entry.key, error = %e, "an unreadable node entry")
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot watch the nodes bucket"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// A remote attempt's claim on the nodes' slots, given back when dropped.
pub struct RemoteSlot(Arc<Directory>, u64);

impl Drop for RemoteSlot {
    fn drop(&mut self) {
        let mut inflight = self.0.inflight.lock().unwrap_or_else(|p| p.into_inner());
        inflight.cwds.remove(&self.1);
        drop(inflight);
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, capacity: u32, root: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            capacity,
            running: 0,
            version: "0".into(),
            roots: vec![root.into()],
            started_ms: 0,
            seen_ms: 0,
            stopping: false,
        }
    }

    impl Directory {
        fn heard_now(&self, info: NodeInfo) {
            self.heard(info, false);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_old_entry_is_a_lost_node_at_once() {
        tokio::time::advance(Duration::from_secs(10)).await;
        let d = Directory::new(Duration::from_secs(1));
        d.heard(node("gone", 4, "/w"), true);
        assert_eq!(d.statuses()[0].state, NodeState::Lost);
        assert!(d.try_reserve(Path::new("/w")).is_none());
        d.heard(node("gone", 4, "/w"), false);
        assert_eq!(d.statuses()[0].state, NodeState::Up);
    }

    #[tokio::test(start_paused = true)]
    async fn slots_are_the_live_nodes_that_have_the_directory() {
        let d = Directory::new(Duration::from_secs(1));
        assert!(d.try_reserve(Path::new("/w/a")).is_none());
        d.heard_now(node("n1", 1, "/w"));
        d.heard_now(node("n2", 1, "/other"));
        let a = d.try_reserve(Path::new("/w/a")).expect("n1 has a slot");
        assert!(d.try_reserve(Path::new("/w/b")).is_none(), "n1 is full");
        assert!(d.has(Path::new("/other/x")));
        drop(a);
        let b = d.try_reserve(Path::new("/w/b")).expect("given back");
        // Three heartbeats missed: lost, its slots gone.
        tokio::time::advance(Duration::from_secs(4)).await;
        drop(b);
        assert!(d.try_reserve(Path::new("/w/a")).is_none());
        let s = d.statuses();
        assert_eq!(s[0].state, NodeState::Lost);
        d.heard_now(NodeInfo {
            stopping: true,
            ..node("n2", 1, "/other")
        });
        assert_eq!(d.statuses()[1].state, NodeState::Stopped);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_in_flight_counts_against_the_nodes_that_could_run_it() {
        let d = Directory::new(Duration::from_secs(1));
        d.heard_now(node("a", 1, "/a"));
        d.heard_now(node("b", 1, "/b"));
        let _b = d.try_reserve(Path::new("/b/x")).expect("b has a slot");
        let _a = d.try_reserve(Path::new("/a/x")).expect("a's slot is free");
        assert!(d.try_reserve(Path::new("/a/y")).is_none(), "a is full");
        // An adopted attempt counts too, until it ends.
        let adopted = d.claim(Path::new("/b/w"));
        d.heard_now(node("b2", 1, "/b"));
        assert!(
            d.try_reserve(Path::new("/b/y")).is_none(),
            "b2's slot is the adopted one's"
        );
        drop(adopted);
        let _b2 = d.try_reserve(Path::new("/b/y")).expect("given back");
        // Overlapping roots: counted against every node that could run it (never more
        // dispatched than the nodes can take, maybe fewer).
        d.heard_now(NodeInfo {
            roots: vec!["/a".into(), "/b".into()],
            ..node("ab", 3, "/a")
        });
        // a and ab: 4 slots; in flight that they could run: /a/x, /b/x, /b/y.
        let _ab = d.try_reserve(Path::new("/a/y")).expect("ab has slots");
        assert!(
            d.try_reserve(Path::new("/a/z")).is_none(),
            "4 slots, 4 in flight"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_attempt_gets_the_slot_given_back() {
        let d = Directory::new(Duration::from_secs(1));
        d.heard_now(node("n1", 1, "/w"));
        let held = d.try_reserve(Path::new("/w")).unwrap();
        let waiter = {
            let d = d.clone();
            tokio::spawn(async move { d.reserve(Path::new("/w")).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // The node keeps beating while the attempt runs.
        d.heard_now(node("n1", 1, "/w"));
        drop(held);
        let _slot = waiter.await.unwrap();
    }
}
