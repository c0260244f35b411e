//! `smithd worker` processes for the cluster tests: each with a config of its own (the stand-in
//! agent, the control plane's work dir as its root, a Claude config dir of its own, a
//! `[cluster]` naming it), its log in its own dir; stopped (SIGTERM, then SIGKILL) and reaped
//! when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::daemon::{Daemon, smithd_bin, wait_for_exit};

/// A running worker node.
pub struct WorkerNode {
    /// Its name.
    pub name: String,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl WorkerNode {
    /// Starts node `name` for `d`'s work dir on `nats_url`; `cluster` adds `[cluster]` keys
    /// (e.g. `capacity = 2`).
    pub fn start(d: &Daemon, name: &str, nats_url: &str, cluster: &str) -> Self {
        // A Claude config of its own, as on another host.
        Self::start_with(name, nats_url, cluster, |dir| {
            format!(
                "{}CLAUDE_CONFIG_DIR = {:?}\n",
                d.agent_section(),
                dir.join("claude").display().to_string()
            )
        })
    }

    /// Starts node `name` whose `[agent]` section (with its `[agent.env]`) `agent` writes,
    /// given the node's own dir.
    pub fn start_with(
        name: &str,
        nats_url: &str,
        cluster: &str,
        agent: impl FnOnce(&Path) -> String,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[service]\ndata_dir = {:?}\nlog_level = \"info,smith=debug\"\n\n{}\n[cluster]\nnats_url = {nats_url:?}\nnode_name = {name:?}\n{cluster}\n",
            dir.path().join("data").display().to_string(),
            agent(dir.path()),
        );
        std::fs::write(dir.path().join("node.toml"), config).unwrap();
        let mut node = Self {
            name: name.into(),
            child: None,
            dir,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("node.log"))
            .unwrap();
        let child = Command::new(smithd_bin())
            .arg("--config")
            .arg(self.dir.path().join("node.toml"))
            .arg("worker")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start smithd worker");
        self.child = Some(child);
    }

    /// Starts it again (after it was killed), with its config and data dir.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    /// Its dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its workers' Claude config dir.
    pub fn claude_config(&self) -> std::path::PathBuf {
        self.dir.path().join("claude")
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `signal` to the node process (not its workers).
    pub fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.pid() as i32), signal);
    }

    /// `kill -9`, reaped.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_for_exit(&mut self.child, timeout)
    }
}

impl Drop for WorkerNode {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal(Signal::SIGCONT);
            self.signal(Signal::SIGTERM);
            if self.wait(Duration::from_secs(15)).is_none() {
                self.kill9();
            }
        }
        if std::thread::panicking() {
            eprintln!("--- node {} log ---\n{}", self.name, self.log());
        }
    }
}
