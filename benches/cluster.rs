//! What running attempts on worker nodes costs, against running them on this host, in the same
//! run: a real nats-server 2.9 (JetStream, a temp store, a free loopback port) and two
//! `smithd worker` processes on this machine.
//!
//! - dispatch: one-task requests of the stand-in, alternately on a node (`placement =
//!   "remote"`) and local; the difference of the p50s is what remote dispatch adds to an attempt
//!   (target: <= 5 ms over loopback);
//! - fan-out: one request of 1,000 tasks over the two nodes (16 slots each) against the same on
//!   this host (32 slots); reported as a ratio.
//!
//! Skipped (with the reason) without nats-server (`apt install nats-server`).
//! `cargo bench --features stand-in --bench cluster` (SMITH_BENCH_ROUNDS: 30 dispatches;
//! SMITH_BENCH_TASKS: 1,000).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smith::cluster::{Cluster, ClusterSettings, Placement, Remote};
use smith::session::{RequestSpec, SessionConfig, Sessions};

mod common;

#[path = "../tests/support/nats.rs"]
#[allow(dead_code)]
mod nats;

use common::{env_or, p50, run_request, sessions_on, stand_in, stand_in_agent};

const NODE_SLOTS: u32 = 16;

/// A child process killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_node(dir: &Path, name: &str, url: &str) -> Reaped {
    let config = format!(
        "[service]\ndata_dir = {:?}\nlog_level = \"warn\"\n\n[agent]\nprogram = {:?}\nroots = [{:?}]\n\n[agent.env]\nFAKE_CLAUDE_STATE_DIR = {:?}\n\n[cluster]\nnats_url = {url:?}\nnode_name = {name:?}\ncapacity = {NODE_SLOTS}\nnode_heartbeat = \"500ms\"\n",
        dir.join(name).display().to_string(),
        stand_in().display().to_string(),
        dir.display().to_string(),
        dir.display().to_string(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    Reaped(
        Command::new(env!("CARGO_BIN_EXE_smithd"))
            .arg("--config")
            .arg(&path)
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("smithd worker starts"),
    )
}

async fn sessions(
    dir: &Path,
    permits: usize,
    remote: Option<Arc<dyn smith::agent::Nodes>>,
) -> Sessions {
    let mut config = SessionConfig::default();
    config.limits.max_concurrent_tasks = permits;
    config.limits.max_tasks_per_request = 1000.max(env_or("SMITH_BENCH_TASKS", 1000));
    let data = dir.join(if remote.is_some() { "cp" } else { "local" });
    std::fs::create_dir_all(&data).unwrap();
    sessions_on(&data, config, permits, stand_in_agent(dir), 0, remote)
        .await
        .0
}

fn spec(dir: &Path, tasks: usize) -> RequestSpec {
    RequestSpec {
        session: "bench".into(),
        prompt: "bench".into(),
        tasks: (0..tasks).map(|i| format!("task {i}").into()).collect(),
        cwd: dir.to_path_buf(),
        ..RequestSpec::default()
    }
}

fn main() {
    let Some(bin) = nats::installed() else {
        println!("cluster: SKIPPED — nats-server is not installed (apt install nats-server)");
        return;
    };
    let rounds = env_or("SMITH_BENCH_ROUNDS", 30);
    let tasks = env_or("SMITH_BENCH_TASKS", 1000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().canonicalize().unwrap();
        let server = nats::NatsServer::start(&bin, nats::free_port(), true, &[]);
        let url = server.url();
        let _nodes = [
            start_node(&work, "node-a", &url),
            start_node(&work, "node-b", &url),
        ];
        let settings = ClusterSettings {
            nats_url: Some(url),
            node_name: Some("cp".into()),
            placement: Placement::Remote,
            node_heartbeat: Duration::from_millis(500),
            ..ClusterSettings::default()
        };
        let cluster = Cluster::connect(&settings)
            .await
            .expect("the control plane connects")
            .expect("a cluster is configured");
        let remote = Remote::start(cluster, &settings);
        let deadline = Instant::now() + Duration::from_secs(20);
        while remote.nodes().len() < 2 {
            assert!(Instant::now() < deadline, "the nodes never came up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let on_nodes = sessions(&work, 2 * NODE_SLOTS as usize, Some(remote as Arc<dyn smith::agent::Nodes>)).await;
        let here = sessions(&work, 2 * NODE_SLOTS as usize, None).await;

        // Dispatch: one task at a time, alternated (after a warm-up of each).
        run_request(&on_nodes, spec(&work, 1)).await;
        run_request(&here, spec(&work, 1)).await;
        let (mut remote_times, mut local_times) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            remote_times.push(run_request(&on_nodes, spec(&work, 1)).await.0);
            local_times.push(run_request(&here, spec(&work, 1)).await.0);
        }
        let (r, l) = (p50(remote_times), p50(local_times));
        let added = r.as_secs_f64() - l.as_secs_f64();
        println!(
            "dispatch: one-task request p50 {:.1} ms on a node vs {:.1} ms here: remote dispatch adds {:.1} ms (target <= 5 ms)",
            r.as_secs_f64() * 1e3,
            l.as_secs_f64() * 1e3,
            added * 1e3
        );

        // Fan-out: the whole request, over both nodes and here.
        let (remote_took, summary) = run_request(&on_nodes, spec(&work, tasks)).await;
        assert_eq!(summary.tasks.len(), tasks);
        let (local_took, _) = run_request(&here, spec(&work, tasks)).await;
        println!(
            "fan-out: {tasks} tasks over two nodes ({NODE_SLOTS} slots each) {:.2} s vs here (32 slots) {:.2} s: {:.2}x",
            remote_took.as_secs_f64(),
            local_took.as_secs_f64(),
            remote_took.as_secs_f64() / local_took.as_secs_f64()
        );
        on_nodes.supervisor().stop(None).await.unwrap();
        here.supervisor().stop(None).await.unwrap();
    });
}
