//! The control plane's connection to a real nats-server 2.9 (Debian's; JetStream on): it
//! connects and reports the server, keeps running local attempts while the server is down and
//! reconnects when it is back, starts when the server is not there yet; refused credentials and a
//! server without JetStream stop smithd at start with one line saying what to do.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::approvals::json_of;
use crate::support::daemon::{Daemon, run_bounded, smithd_bin};
use crate::support::eventually_sync;
use crate::support::nats::{NatsServer, free_port, nats_server};

fn cluster(d: &Daemon) -> Value {
    json_of(d, &["status", "--json"])["cluster"].clone()
}

fn until_state(d: &Daemon, state: &str) -> Value {
    eventually_sync(Duration::from_secs(20), || {
        let c = cluster(d);
        (c["state"] == state).then_some(c)
    })
    .unwrap_or_else(|| panic!("the cluster never became {state}: {}", cluster(d)))
}

#[test]
fn connects_runs_local_attempts_while_the_server_is_down_and_reconnects() {
    let Some(bin) = nats_server() else { return };
    let port = free_port();
    let nats = NatsServer::start(&bin, port, true, &[]);
    let mut d = Daemon::new(&format!(
        "[cluster]\nnats_url = {:?}\nnode_name = \"cp-1\"\n",
        nats.url()
    ));
    d.start_in_process();
    let c = until_state(&d, "connected");
    assert_eq!(c["server_version"], "2.9.10", "{c}");
    assert_eq!(c["node"], "cp-1");
    let text = String::from_utf8_lossy(&d.smith(&["status"]).stdout).to_string();
    assert!(
        text.contains("cluster: node cp-1 connected to nats://127.0.0.1"),
        "{text}"
    );

    drop(nats);
    let c = until_state(&d, "down");
    assert!(c["since_ms"].is_i64(), "{c}");
    let health = String::from_utf8_lossy(&d.smith(&["health"]).stdout).to_string();
    assert!(health.contains("cluster: DOWN"), "{health}");
    // Local attempts go on.
    let v = json_of(&d, &["ask", "--json", "while the server is down"]);
    assert_eq!(v["status"], "succeeded");

    let _nats = NatsServer::start(&bin, port, true, &[]);
    until_state(&d, "connected");
    d.stop_in_process().unwrap();
}

#[test]
fn a_server_not_there_at_start_is_waited_for() {
    let Some(bin) = nats_server() else { return };
    let port = free_port();
    let mut d = Daemon::new(&format!(
        "[cluster]\nnats_url = \"nats://127.0.0.1:{port}\"\nconnect_timeout = \"1s\"\n"
    ));
    d.start_in_process();
    let c = until_state(&d, "down");
    assert!(c["error"].is_string(), "{c}");
    let _nats = NatsServer::start(&bin, port, true, &[]);
    until_state(&d, "connected");
    d.stop_in_process().unwrap();
}

/// smithd with `cluster` as its `[cluster]`, run as a process: how it ended and its stderr.
fn smithd_exits(cluster: &str) -> (Option<i32>, String) {
    let d = Daemon::new(&format!("[cluster]\n{cluster}"));
    let out = run_bounded(
        Command::new(smithd_bin())
            .arg("--config")
            .arg(d.config_path())
            .stdin(Stdio::null()),
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn refused_credentials_and_a_server_without_jetstream_stop_smithd_with_one_line() {
    let Some(bin) = nats_server() else { return };
    let secured = NatsServer::start(
        &bin,
        free_port(),
        true,
        &["--user", "smith", "--pass", "right"],
    );
    let (code, err) = smithd_exits(&format!(
        "nats_url = {:?}\nuser = \"smith\"\npassword = \"wrong\"\n",
        secured.url()
    ));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("refused smithd's credentials") && err.contains("cluster.user"),
        "{err}"
    );
    let plain = NatsServer::start(&bin, free_port(), false, &[]);
    let (code, err) = smithd_exits(&format!("nats_url = {:?}\n", plain.url()));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("without JetStream") && err.contains("-js"),
        "{err}"
    );
    // A half-given credential is a config error naming the key.
    let (code, err) = smithd_exits("nats_url = \"nats://127.0.0.1:1\"\nuser = \"smith\"\n");
    assert_ne!(code, Some(0));
    assert!(err.contains("cluster.user"), "{err}");
}
