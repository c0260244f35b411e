//! Containment with the stand-in agent: a process a worker's tool starts in a session of its own
//! dies with its request, on cancel, on SIGTERM of smithd and after `kill -9 smithd` + restart; a
//! group whose leader is gone is still swept; a worker cannot drive smithd through the socket;
//! files workers create keep the user's umask while smithd's own are private; no HOME and no
//! roots is a clear error.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use crate::support::background::{self, ask_in_background, gone_within, kill_if_alive};
use crate::support::daemon::{Daemon, smith_bin, stderr, stdout};
use nix::sys::signal::Signal;

fn started() -> Daemon {
    let mut d = Daemon::new("");
    d.start();
    d
}

/// The stand-in runs a command like the CLI's Bash tool.
fn sh(command: &str) -> String {
    format!("[[sh:{command}]]")
}

#[test]
fn a_background_process_in_its_own_session_dies_with_its_request() {
    let d = started();
    background::dies_with_its_request(&d, sh);
    assert!(
        d.log()
            .contains("stopping a process an attempt left behind")
    );
}

#[test]
fn a_background_process_dies_when_its_request_is_cancelled() {
    background::dies_on_cancel(&started(), sh, Duration::from_secs(10));
}

#[test]
fn a_background_process_dies_when_smithd_stops() {
    background::dies_when_smithd_stops(&mut started(), sh);
}

#[test]
fn after_kill_9_the_next_smithd_stops_what_a_worker_left_running() {
    let mut d = started();
    background::swept_after_kill_9(&mut d, sh, Duration::from_secs(10));
    assert!(
        d.log()
            .contains("swept processes recorded by a previous smithd")
    );
}

#[test]
fn a_group_whose_leader_is_gone_is_swept_for_its_members() {
    let mut d = started();
    let mut client = ask_in_background(&d, "[[grandchild]] [[sleep:60000]]");
    // The worker reports its grandchild (a `sleep 1000` in its group).
    let grandchild = crate::support::eventually_sync(Duration::from_secs(20), || {
        d.worker_pids().into_iter().find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
    })
    .expect("the grandchild runs");
    let leader = d
        .worker_pids()
        .into_iter()
        .find(|&p| p != grandchild)
        .expect("the worker runs");
    d.signal(Signal::SIGKILL);
    d.wait(Duration::from_secs(10)).expect("smithd died");
    let _ = client.wait();
    // The leader dies too; its group lives on in the grandchild.
    kill_if_alive(leader);
    assert!(gone_within(leader, Duration::from_secs(5)));
    assert!(!gone_within(grandchild, Duration::from_millis(100)));
    d.start();
    let gone = gone_within(grandchild, Duration::from_secs(10));
    kill_if_alive(grandchild);
    assert!(
        gone,
        "a member of a recorded group survived the sweep:\n{}",
        d.log()
    );
}

#[test]
fn a_worker_cannot_drive_smithd_through_the_socket() {
    let d = started();
    let smith = smith_bin();
    let prompt = format!(
        "[[sh:{} --socket {} health; echo RUNTIME=$XDG_RUNTIME_DIR]]",
        smith.display(),
        d.socket().display()
    );
    let out = d.smith(&["ask", "--json", &prompt]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let answer = v["answer"].as_str().unwrap();
    assert!(
        answer.contains("takes no requests from its own workers"),
        "{answer}"
    );
    // Its runtime directory is its own, not the one that holds smithd's socket.
    let runtime = answer
        .lines()
        .find_map(|l| l.strip_prefix("RUNTIME="))
        .unwrap_or_default();
    assert!(runtime.ends_with("worker-run"), "{answer}");
    assert!(!d.socket().starts_with(runtime));
    assert!(d.log().contains("refused a client started by a worker"));
}

#[test]
fn workers_keep_the_users_umask_while_smithds_files_are_private() {
    let mut d = Daemon::new("");
    // smithd started from a shell with the usual umask.
    let previous = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    d.start();
    nix::sys::stat::umask(previous);
    let out = d.smith(&[
        "ask",
        "[[sh:touch made-by-a-worker && stat -c %a made-by-a-worker]]",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mode = std::fs::metadata(d.work().join("made-by-a-worker"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o644, "a worker's file follows the user's umask");
    let data = d.root().join("data");
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let db = std::fs::metadata(data.join("smith.db"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(db, 0o600, "the database holds prompts and answers");
    let socket = std::fs::metadata(d.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(socket, 0o600);

    // agent.umask overrides what workers get.
    let mut d = Daemon::new("");
    d.env.push(("SMITH_AGENT__UMASK".into(), "077".into()));
    d.start();
    let out = d.smith(&["ask", "[[sh:touch private-file]]"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mode = std::fs::metadata(d.work().join("private-file"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

/// `smithd --check-config` with `config` and no HOME.
fn check_config_without_home(config: &std::path::Path) -> std::process::Output {
    Command::new(crate::support::daemon::smithd_bin())
        .args(["--check-config", "--config"])
        .arg(config)
        .env_remove("HOME")
        .output()
        .unwrap()
}

#[test]
fn no_home_and_no_roots_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("smith.toml");
    std::fs::write(
        &config,
        format!(
            "[service]\ndata_dir = {:?}\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    let out = check_config_without_home(&config);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("agent.roots") && err.contains("HOME is not set"),
        "{err}"
    );
    // With roots named, it is fine.
    std::fs::write(
        &config,
        format!(
            "[service]\ndata_dir = {:?}\n[agent]\nroots = [{:?}]\n",
            dir.path().join("data").display().to_string(),
            dir.path().display().to_string()
        ),
    )
    .unwrap();
    let out = check_config_without_home(&config);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
