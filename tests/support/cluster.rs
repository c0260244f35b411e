//! A cluster for the tests: a real nats-server 2.9 (JetStream, temp store), a control plane
//! process and two `smithd worker` processes, and how the tests look at them.

use std::time::Duration;

use serde_json::Value;

use super::approvals::json_of;
use super::daemon::Daemon;
use super::eventually_sync;
use super::nats::{NatsServer, free_port, nats_server};
use super::worker_node::WorkerNode;

/// nats-server, a control plane and two worker nodes (dropped in reverse: nodes first).
pub struct Cluster {
    /// The worker nodes (`node-a`, `node-b`).
    pub nodes: Vec<WorkerNode>,
    /// The control plane.
    pub d: Daemon,
    /// The server.
    pub nats: NatsServer,
}

/// nats-server, a control plane with `placement` and two nodes of `capacity` slots each, a lease
/// of 2 s (`None` when nats-server is not installed: `nats_server()` says so).
pub fn cluster(placement: &str, capacity: u32) -> Option<Cluster> {
    cluster_with(placement, capacity, "2s")
}

/// The same with `lease`.
pub fn cluster_with(placement: &str, capacity: u32, lease: &str) -> Option<Cluster> {
    cluster_configured(placement, capacity, lease, "")
}

/// The same, with `extra` sections in the control plane's config.
pub fn cluster_configured(
    placement: &str,
    capacity: u32,
    lease: &str,
    extra: &str,
) -> Option<Cluster> {
    let bin = nats_server()?;
    let nats = NatsServer::start(&bin, free_port(), true, &[]);
    let mut d = Daemon::new(&format!(
        "[cluster]\nnats_url = {:?}\nnode_name = \"cp\"\nplacement = {placement:?}\nlease = {lease:?}\nnode_heartbeat = \"300ms\"\nstart_timeout = \"10s\"\n\n[telemetry]\nprometheus_listen = \"127.0.0.1:0\"\n\n{extra}",
        nats.url()
    ));
    d.start();
    let keys = format!("capacity = {capacity}\nnode_heartbeat = \"300ms\"\n");
    let nodes = vec![
        WorkerNode::start(&d, "node-a", &nats.url(), &keys),
        WorkerNode::start(&d, "node-b", &nats.url(), &keys),
    ];
    let c = Cluster { nodes, d, nats };
    c.until_nodes_up(2);
    Some(c)
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- control plane log ---\n{}", self.d.log());
        }
    }
}

impl Cluster {
    /// The name of the node that runs one attempt, once one does.
    pub fn busy_node(&self) -> String {
        eventually_sync(Duration::from_secs(10), || {
            self.nodes_status()
                .into_iter()
                .find(|n| n["running"] == 1)
                .and_then(|n| n["name"].as_str().map(String::from))
        })
        .expect("a node runs the attempt")
    }

    /// The nodes, as `smith status --json` lists them.
    pub fn nodes_status(&self) -> Vec<Value> {
        json_of(&self.d, &["status", "--json"])["cluster"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn until_nodes_up(&self, n: usize) {
        eventually_sync(Duration::from_secs(20), || {
            let up = self
                .nodes_status()
                .iter()
                .filter(|n| n["state"] == "up")
                .count();
            (up >= n).then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "{n} nodes never came up: {:?}\n{}",
                self.nodes_status(),
                self.nodes.iter().map(|n| n.log()).collect::<String>()
            )
        });
    }

    pub fn show(&self, v: &Value) -> Value {
        json_of(
            &self.d,
            &["show", "--json", v["request_id"].as_str().unwrap()],
        )
    }
}

/// The processes in `d`'s work dir whose command line `is` accepts.
pub fn pids_of(d: &Daemon, is: impl Fn(&str) -> bool) -> Vec<u32> {
    d.worker_pids()
        .into_iter()
        .filter(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| is(&c)))
        .collect()
}

/// The stand-in workers running in `d`'s work dir (not the `smith` clients there).
pub fn claude_pids(d: &Daemon) -> Vec<u32> {
    pids_of(d, |c| c.contains("fake-claude"))
}

/// The `sleep` processes (the stand-in's grandchildren) in `d`'s work dir.
pub fn sleep_pids(d: &Daemon) -> Vec<u32> {
    pids_of(d, |c| c.starts_with("sleep"))
}

/// The nodes a request's attempts ran on (`smith show --json`), sorted.
pub fn nodes_of(show: &Value) -> Vec<String> {
    let mut nodes: Vec<String> = show["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["node"].as_str().map(String::from))
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

impl Cluster {
    /// Waits until every attempt's outcome is acknowledged: the events stream is empty, and each
    /// attempt of `d`'s database has the stream sequence its outcome was read at.
    pub fn until_outcomes_acknowledged(&self) {
        let events = eventually_sync(Duration::from_secs(10), || {
            (self.nats.stream_messages("SMITH_EVENTS") == 0).then_some(())
        });
        assert!(
            events.is_some(),
            "events are left in the stream: {}",
            self.nats.stream_messages("SMITH_EVENTS")
        );
        let db = rusqlite::Connection::open(self.d.root().join("data").join("smith.db")).unwrap();
        let without: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM attempts WHERE event_seq IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(without, 0, "attempts without their outcome's sequence");
    }
}
