//! Worker nodes with the real CLI 2.1.332 (against the fake Messages API): each node with a
//! Claude config of its own, as on another host. A node killed while its worker waits for the API
//! loses the attempt; the task is restarted on the other node, which fetches the session's
//! transcript from the cluster and resumes it — the API sees the earlier turn. A node's CLI asks
//! the control plane about a tool call (`permissions.mode = "stdio"` there), a person approves it
//! there, and the call runs on the node.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::approvals::{first_waiting, json_of, summary_of_child};
use crate::support::daemon::{Daemon, output_of, stderr};
use crate::support::eventually_sync;
use crate::support::fake_api::{FakeApi, Fault};
use crate::support::nats::{NatsServer, free_port, nats_server};
use crate::support::real_cli::{real_cli, real_cli_config};
use crate::support::worker_node::WorkerNode;

/// Worker node `name` for `d`'s work dir, running the real `cli` against the API at `api_url`
/// with a Claude config of its own.
fn real_cli_node(
    name: &str,
    d: &Daemon,
    nats: &NatsServer,
    cli: &Path,
    api_url: &str,
) -> WorkerNode {
    let work = d.work();
    let keys = "capacity = 1\nnode_heartbeat = \"300ms\"\n";
    WorkerNode::start_with(name, &nats.url(), keys, |dir| {
        let mut vars = real_cli_config(cli, dir, api_url).env;
        vars.insert("IS_SANDBOX".into(), "1".into());
        // A call that gets no answer is not retried before the test is done with it (the
        // node is killed while its worker waits; 10 s would be a race on a loaded machine).
        vars.insert("API_TIMEOUT_MS".into(), "600000".into());
        let env: String = vars.iter().map(|(k, v)| format!("{k} = {v:?}\n")).collect();
        format!(
            "[agent]\nprogram = {:?}\nroots = [{:?}]\ninterrupt_grace = \"2s\"\nterm_grace = \"1s\"\n\n[agent.env]\n{env}",
            cli.display().to_string(),
            work.display().to_string()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_lost_with_its_node_resumes_its_conversation_on_the_other_node() {
    let Some(cli) = real_cli() else { return };
    let Some(bin) = nats_server() else { return };
    let api = std::sync::Arc::new(FakeApi::start().await);
    // The first call hangs: the worker waits for the API when its node is killed.
    api.fail_next(Fault::Hang, 1);
    let url = api.url();
    let seen = api.clone();
    let (v, show, nodes) = tokio::task::spawn_blocking(move || {
        let api = seen;
        let nats = NatsServer::start(&bin, free_port(), true, &[]);
        let mut d = Daemon::new(&format!(
            "[cluster]\nnats_url = {:?}\nplacement = \"remote\"\nlease = \"2s\"\nnode_heartbeat = \"300ms\"\n",
            nats.url()
        ));
        d.start();
        let node = |name: &str| real_cli_node(name, &d, &nats, &cli, &url);
        let mut nodes = [node("host-a"), node("host-b")];
        eventually_sync(Duration::from_secs(20), || {
            let s = json_of(&d, &["status", "--json"]);
            (s["cluster"]["nodes"].as_array().map_or(0, |n| n.len()) == 2).then_some(())
        })
        .expect("both nodes up");
        let child = d.smith_child(&["ask", "--json", "the secret word is banana"]);
        // The worker started and sent its call (which hangs): its node is killed.
        let running = eventually_sync(Duration::from_secs(30), || {
            let s = json_of(&d, &["status", "--json"]);
            s["cluster"]["nodes"]
                .as_array()?
                .iter()
                .find(|n| n["running"] == 1)
                .and_then(|n| n["name"].as_str().map(String::from))
                .filter(|_| api.requests().len() == 1)
        })
        .expect("a node runs the worker and its call reached the API");
        // Its transcript, with the turn, is in the cluster (the node keeps it as it grows).
        eventually_sync(Duration::from_secs(20), || {
            (!nats.transcripts_with("the secret word is banana").is_empty()).then_some(())
        })
        .expect("the node put the session's transcript with its turn");
        let victim = nodes.iter().position(|n| n.name == running).unwrap();
        nodes[victim].kill9();
        let out = output_of(child);
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stderr(&out), d.log()));
        let show = json_of(&d, &["show", "--json", v["request_id"].as_str().unwrap()]);
        let other = nodes[1 - victim].name.clone();
        (v, show, (running, other))
    })
    .await
    .unwrap();
    assert_eq!(v["status"], "succeeded", "{v}");
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{show}");
    assert_eq!(attempts[0]["exit_reason"], "node_lost", "{show}");
    assert_eq!(attempts[0]["node"], nodes.0.as_str());
    assert_eq!(attempts[1]["node"], nodes.1.as_str());
    assert_eq!(
        attempts[1]["resumed_from"],
        attempts[0]["claude_session_id"]
    );
    // The resumed call, made on the other host, carries the earlier turn.
    let last = api.requests().pop().unwrap();
    let transcript = last["messages"].to_string();
    assert!(
        transcript.contains("the secret word is banana"),
        "{transcript}"
    );
    assert!(transcript.contains("Your previous attempt"), "{transcript}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_cli_asks_the_control_plane_and_a_persons_approval_lets_the_call_run() {
    let Some(cli) = real_cli() else { return };
    let Some(bin) = nats_server() else { return };
    let api = FakeApi::start().await;
    let url = api.url();
    let (v, show, asked) = tokio::task::spawn_blocking(move || {
        let nats = NatsServer::start(&bin, free_port(), true, &[]);
        let mut d = Daemon::new(&format!(
            "[cluster]\nnats_url = {:?}\nplacement = \"remote\"\nlease = \"2s\"\nnode_heartbeat = \"300ms\"\n\n[permissions]\nmode = \"stdio\"\n",
            nats.url()
        ));
        d.start();
        let _node = real_cli_node("host-a", &d, &nats, &cli, &url);
        eventually_sync(Duration::from_secs(20), || {
            let s = json_of(&d, &["status", "--json"]);
            (s["cluster"]["nodes"].as_array().map_or(0, |n| n.len()) == 1).then_some(())
        })
        .expect("the node is up");
        let child = d.smith_child(&["ask", "--json", "make it [[tool:bash touch made-on-node.txt]]"]);
        let asked = first_waiting(&d, Duration::from_secs(60));
        assert!(!d.work().join("made-on-node.txt").exists());
        json_of(&d, &["approve", "--json", asked["id"].as_str().unwrap()]);
        let v = summary_of_child(child);
        assert!(d.work().join("made-on-node.txt").exists(), "{v}");
        let show = json_of(&d, &["show", "--json", v["request_id"].as_str().unwrap()]);
        (v, show, asked)
    })
    .await
    .unwrap();
    assert_eq!(v["status"], "succeeded", "{v}");
    assert_eq!(asked["tool"], "Bash", "{asked}");
    assert_eq!(asked["summary"], "touch made-on-node.txt", "{asked}");
    assert_eq!(show["attempts"][0]["node"], "host-a", "{show}");
    assert_eq!(show["decisions"][0]["decided_by"], "person", "{show}");
    assert_eq!(v["tasks"][0]["denials"], serde_json::json!([]), "{v}");
}
