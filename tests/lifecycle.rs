//! smithd's life: graceful shutdown leaves no child; `kill -9` mid-request, then a restart:
//! history intact, the request interrupted, its orphans swept, `smith resume` completes it; a
//! second smithd on the same data dir is refused; a stale socket does not block a start;
//! `--check-config` and the configuration's layers.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use support::agent::pid_alive;
use support::daemon::{Daemon, run_bounded, smithd_bin, stderr, stdout};

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// Waits until the request runs `n` worker processes; returns their pids.
fn wait_for_workers(d: &Daemon, n: usize) -> Vec<u32> {
    for _ in 0..500 {
        let pids = d.worker_pids();
        if pids.len() >= n {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{n} workers did not start:\n{}", d.log());
}

#[test]
fn a_graceful_shutdown_interrupts_running_requests_and_leaves_no_child() {
    let mut d = Daemon::new("");
    d.start();
    let out = d.smith(&[
        "ask",
        "--detach",
        "q",
        "--task",
        "a [[sleep:60000]]",
        "--task",
        "b [[sleep:60000]]",
    ]);
    let id = stdout(&out).trim().to_string();
    let pids = wait_for_workers(&d, 2);
    d.signal(Signal::SIGTERM);
    let status = d.wait(Duration::from_secs(20)).expect("smithd exits");
    assert!(status.success(), "{status}:\n{}", d.log());
    for pid in pids {
        assert!(!pid_alive(pid), "worker {pid} outlived smithd");
    }
    assert!(d.worker_pids().is_empty());
    assert!(!d.socket().exists(), "socket removed");
    assert!(
        d.log().contains("interrupting running requests"),
        "{}",
        d.log()
    );

    // The request is interrupted, and resumable after a restart.
    d.start();
    let show = json(&d.smith(&["show", &id, "--json"]));
    assert_eq!(show["request"]["status"], "interrupted");
}

#[test]
fn a_second_signal_skips_the_grace() {
    let mut d = Daemon::new("");
    d.env
        .push(("SMITH_SERVICE__SHUTDOWN_GRACE".into(), "60s".into()));
    d.start();
    d.smith(&["ask", "--detach", "slow [[sleep:60000]]"]);
    wait_for_workers(&d, 1);
    let t0 = std::time::Instant::now();
    d.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    d.signal(Signal::SIGINT);
    let status = d.wait(Duration::from_secs(20)).expect("smithd exits");
    assert!(status.success());
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "did not wait the 60 s grace: {:?}",
        t0.elapsed()
    );
    assert!(d.worker_pids().is_empty());
}

#[test]
fn after_kill_9_a_restart_sweeps_orphans_and_resume_completes_the_request() {
    let mut d = Daemon::new("");
    d.start();
    d.smith(&["ask", "an earlier turn"]);
    let out = d.smith(&[
        "ask",
        "--detach",
        "job",
        "--task",
        "quick",
        "--task",
        "slow [[sleep-first:60000]]",
    ]);
    let id = stdout(&out).trim().to_string();
    let mut done = false;
    for _ in 0..500 {
        let show = json(&d.smith(&["show", &id, "--json"]));
        let tasks = show["tasks"].as_array().cloned().unwrap_or_default();
        if tasks.len() == 2 && tasks[0]["status"] == "succeeded" && tasks[1]["status"] == "running"
        {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(done, "quick finished and slow runs:\n{}", d.log());
    let orphans = wait_for_workers(&d, 1);

    d.signal(Signal::SIGKILL);
    d.wait(Duration::from_secs(10)).expect("killed");
    for pid in &orphans {
        assert!(
            pid_alive(*pid),
            "the orphan {pid} outlives a kill -9 of smithd (until the sweep)"
        );
    }
    assert!(d.socket().exists(), "a stale socket is left behind");

    d.start();
    for pid in &orphans {
        assert!(!pid_alive(*pid), "the restart swept orphan {pid}");
    }
    assert!(
        d.log()
            .contains("swept processes recorded by a previous smithd"),
        "{}",
        d.log()
    );
    let show = json(&d.smith(&["show", &id, "--json"]));
    assert_eq!(show["request"]["status"], "interrupted");
    let history = json(&d.smith(&["history", "main", "--json"]));
    assert_eq!(history.as_array().unwrap().len(), 2, "history intact");
    assert_eq!(history[0]["status"], "succeeded");

    let resumed = d.smith(&["resume", &id, "--json"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let summary = json(&resumed);
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(
        summary["tasks"][0]["attempts"], 1,
        "the finished task was kept"
    );
    assert_eq!(
        summary["tasks"][1]["attempts"], 2,
        "the unfinished one ran again"
    );
    let answer = summary["answer"].as_str().unwrap();
    assert!(
        answer.contains("## 1. quick")
            && answer.contains("## 2. slow")
            && answer.contains("RESUMED"),
        "{answer}"
    );
}

#[test]
fn after_kill_9_a_resumed_isolated_task_continues_in_the_same_worktree() {
    let mut d = Daemon::with_worktrees("");
    let repo = support::git::repo(&d, &[]);
    d.start();
    let (id, said) = support::git::ask_isolated_detached(
        &d,
        &repo,
        "slow [[append:k.txt=line]] [[sleep-first:60000]]",
    );
    assert!(said.contains("isolated:"), "{said}");
    let orphans = wait_for_workers(&d, 1);
    let show = json(&d.smith(&["show", &id, "--json"]));
    let branch = show["tasks"][0]["branch"].as_str().unwrap().to_string();
    assert_eq!(
        branch,
        format!("smith/{id}/t1"),
        "recorded before the worker started"
    );
    let worktree = d.worktrees().join(&id).join("t1");
    let written = (0..500).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        worktree.join("k.txt").exists()
    });
    assert!(written, "the worker writes in its worktree:\n{}", d.log());

    d.signal(Signal::SIGKILL);
    d.wait(Duration::from_secs(10)).expect("killed");
    d.start();
    for pid in &orphans {
        assert!(!pid_alive(*pid), "the restart swept orphan {pid}");
    }
    let listed = json(&d.smith(&["workspaces", "--json"]));
    assert_eq!(
        listed["workspaces"][0]["path"],
        worktree.display().to_string(),
        "{listed}"
    );

    let resumed = d.smith(&["resume", &id, "--json"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let summary = json(&resumed);
    assert_eq!(summary["tasks"][0]["attempts"], 2, "{summary}");
    // The same worktree: the first attempt's uncommitted line is still there, the resumed
    // attempt added its own, and both are committed on the branch.
    let log = support::git::git(&repo, &["show", &format!("{branch}:k.txt")]);
    assert_eq!(log, "line\nline\n");
    assert_eq!(
        support::git::git(&repo, &["worktree", "list", "--porcelain"])
            .lines()
            .filter(|l| l.starts_with("worktree ") && l.contains(&id))
            .count(),
        1,
        "one worktree for the task"
    );
}

#[test]
fn a_second_smithd_on_the_same_data_dir_is_refused() {
    let mut d = Daemon::new("");
    d.start();
    let out = run_bounded(
        std::process::Command::new(smithd_bin())
            .arg("--config")
            .arg(d.config_path()),
    );
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr(&out);
    assert!(
        msg.contains(&format!(
            "another smithd (pid {}) is already running on data directory",
            d.pid()
        )),
        "{msg}"
    );
    assert_eq!(
        d.smith(&["health"]).status.code(),
        Some(0),
        "the first one still serves"
    );
}

#[test]
fn a_stale_socket_does_not_block_a_start() {
    let mut d = Daemon::new("");
    std::fs::create_dir_all(d.socket().parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(d.socket()).unwrap());
    assert!(d.socket().exists());
    d.start();
    assert_eq!(d.smith(&["health"]).status.code(), Some(0));
    assert!(d.log().contains("removing a stale socket"), "{}", d.log());
}

#[test]
fn smith_shutdown_stops_smithd() {
    let mut d = Daemon::new("");
    d.start();
    let out = d.smith(&["shutdown"]);
    assert_eq!(out.status.code(), Some(0));
    let status = d.wait(Duration::from_secs(20)).expect("smithd exits");
    assert!(status.success());
}

fn check_config(d: &Daemon, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(smithd_bin());
    c.arg("--config")
        .arg(d.config_path())
        .arg("--check-config")
        .env_remove("SMITH_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn check_config_prints_the_effective_configuration_with_its_layers() {
    let d = Daemon::new("[limits]\nmax_concurrent_tasks = 3\n");
    let out = check_config(&d, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let effective: toml::Table = stdout(&out).parse().unwrap();
    assert_eq!(
        effective["limits"]["max_concurrent_tasks"].as_integer(),
        Some(3),
        "from the file"
    );
    assert_eq!(
        effective["limits"]["max_tasks_per_request"].as_integer(),
        Some(16),
        "a default"
    );
    assert_eq!(effective["service"]["shutdown_grace"].as_str(), Some("2s"));

    let out = check_config(&d, &[("SMITH_LIMITS__MAX_CONCURRENT_TASKS", "7")]);
    let effective: toml::Table = stdout(&out).parse().unwrap();
    assert_eq!(
        effective["limits"]["max_concurrent_tasks"].as_integer(),
        Some(7),
        "the environment wins"
    );

    let out = check_config(&d, &[("SMITH_LIMITS__MAX_CONCURENT_TASKS", "7")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("max_concurent_tasks"),
        "{}",
        stderr(&out)
    );

    std::fs::write(d.config_path(), "[agent]\ntimeout = \"whenever\"\n").unwrap();
    let out = check_config(&d, &[]);
    assert_eq!(out.status.code(), Some(2));
    let msg = stderr(&out);
    assert!(
        msg.contains("agent.timeout") && msg.contains("smith.toml"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "{msg}");
}

#[test]
fn the_documented_default_config_file_is_the_built_in_default() {
    let documented = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/smith.toml");
    let text = std::fs::read_to_string(&documented).unwrap();
    let file: toml::Table = text.parse().unwrap();
    let defaults: toml::Table = toml::Table::try_from(smith::config::Config::default()).unwrap();
    // Every documented key exists, and every key is documented, with the default value
    // (paths that depend on the machine are documented as comments).
    for (section, keys) in &defaults {
        let keys = keys.as_table().unwrap();
        let doc = file
            .get(section)
            .and_then(|s| s.as_table())
            .unwrap_or_else(|| panic!("[{section}] missing"));
        for (k, v) in keys {
            let machine_dependent = matches!(
                (section.as_str(), k.as_str()),
                ("service", "data_dir") | ("service", "socket") | ("agent", "roots")
            );
            if machine_dependent {
                assert!(
                    text.contains(&format!("# {k} = ")),
                    "{section}.{k} documented as a comment"
                );
                continue;
            }
            assert_eq!(doc.get(k), Some(v), "{section}.{k} in config/smith.toml");
        }
        for k in doc.keys() {
            assert!(
                keys.contains_key(k),
                "config/smith.toml documents an unknown key {section}.{k}"
            );
        }
    }
    assert!(text.contains("# tools = "), "agent.tools documented");
}

/// The guard every test's commands run under: a process still running after its limit is killed
/// and the test fails, saying so (instead of hanging the suite).
#[test]
#[should_panic(expected = "still running after 1s (killed)")]
fn a_command_still_running_after_its_limit_fails_its_test_and_is_killed() {
    let child = std::process::Command::new("sleep")
        .arg("600")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    support::daemon::output_within(child, Duration::from_secs(1), "sleep 600");
}
