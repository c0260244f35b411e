//! A smithd started by a test in a temp dir (stand-in agent by default) — as a process of its
//! own (`start`: signals, kill -9 and logs are the point) or in this process (`start_in_process`:
//! `service::run` on a runtime thread, no binary) — `smith` commands against it, and cleanup on
//! Drop: a graceful stop, then SIGKILL, and no process left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::agent::{fake_claude, pid_alive};

pub fn smithd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_smithd"))
}

pub fn smith_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_smith"))
}

/// smithd running in this process.
struct InProcess {
    shutdown: tokio::sync::watch::Sender<smith::service::ShutdownLevel>,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    in_process: Option<InProcess>,
    pub extra_config: String,
    /// Extra environment of smithd (e.g. `SMITH_SERVICE__SHUTDOWN_GRACE`).
    pub env: Vec<(String, String)>,
    /// The wall clock of an in-process smithd (the budget's days).
    pub clock: smith::clock::Clock,
}

impl Daemon {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }
    pub fn socket(&self) -> PathBuf {
        self.root().join("run/smithd.sock")
    }
    pub fn config_path(&self) -> PathBuf {
        self.root().join("smith.toml")
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root().join("smithd.log")).unwrap_or_default()
    }

    /// A config with the stand-in agent; `extra` is appended (TOML sections).
    pub fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let d = Self {
            dir,
            child: None,
            in_process: None,
            extra_config: extra.to_string(),
            env: Vec::new(),
            clock: smith::clock::Clock::system(),
        };
        d.write_config(&d.agent_section());
        d
    }

    /// The `[agent]` section of [`Daemon::new`]: the stand-in agent, the work dir as the root.
    pub fn agent_section(&self) -> String {
        format!(
            "[agent]\nprogram = {:?}\nroots = [{:?}]\ninterrupt_grace = \"300ms\"\nterm_grace = \"300ms\"\n\n[agent.env]\nFAKE_CLAUDE_STATE_DIR = {:?}\n",
            fake_claude().display().to_string(),
            self.work().display().to_string(),
            self.work().display().to_string()
        )
    }

    /// Where [`Daemon::with_worktrees`] puts the worktrees: inside the roots, outside any repo.
    pub fn worktrees(&self) -> PathBuf {
        self.work().join(".smith-worktrees")
    }

    /// A daemon whose workers may run in worktrees (`workspace.dir` inside the roots);
    /// `workspace` adds keys to `[workspace]`.
    pub fn with_worktrees(workspace: &str) -> Self {
        let mut d = Self::new("");
        d.extra_config = format!(
            "[workspace]\ndir = {:?}\n{workspace}\n",
            d.worktrees().display().to_string()
        );
        d.write_config(&d.agent_section());
        d
    }

    /// Writes the config: `[service]` for this dir, `agent` as given, then the extra sections.
    pub fn write_config(&self, agent: &str) {
        let service = format!(
            "[service]\ndata_dir = {:?}\nsocket = {:?}\nshutdown_grace = \"2s\"\nhandshake_timeout = \"1s\"\nlog_level = \"info,smith=debug\"\n\n",
            self.root().join("data").display().to_string(),
            self.socket().display().to_string()
        );
        let mut extra = self.extra_config.clone();
        // A `[supervision]` etc. in extra must not repeat [service]/[agent].
        if !extra.is_empty() {
            extra.insert(0, '\n');
        }
        std::fs::write(self.config_path(), format!("{service}{agent}{extra}")).unwrap();
    }

    /// Starts smithd and waits until it answers.
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root().join("smithd.log"))
            .unwrap();
        let child = Command::new(smithd_bin())
            .arg("--config")
            .arg(self.config_path())
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start smithd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.smith(&["health"]).status.success() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("smithd exited early with {status}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("smithd did not answer within 20 s:\n{}", self.log());
    }

    /// Runs smithd in this process: `service::run` on a runtime thread of its own, with the same
    /// config, socket and work dir as [`Daemon::start`] (its log is this test's output).
    pub fn start_in_process(&mut self) {
        use smith::config::{Config, ConfigSource};
        use smith::service::RunOptions;
        let config = Config::load(
            Some(ConfigSource::Explicit(self.config_path())),
            self.env.clone(),
        )
        .expect("the test's config loads");
        let (shutdown, level) = smith::service::shutdown::channel();
        let clock = self.clock.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            let options = RunOptions {
                embedded: true,
                clock,
            };
            runtime
                .block_on(smith::service::run_with(config, level, options))
                .map_err(|e| e.to_string())
        });
        self.in_process = Some(InProcess { shutdown, thread });
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.smith(&["health"]).status.success() {
                return;
            }
            if self
                .in_process
                .as_ref()
                .is_some_and(|p| p.thread.is_finished())
            {
                let run = self.in_process.take().unwrap().thread.join();
                panic!("smithd stopped early: {run:?}");
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        panic!("smithd did not answer within 20 s");
    }

    /// Stops an in-process smithd gracefully; returns how `service::run` ended.
    pub fn stop_in_process(&mut self) -> Result<(), String> {
        let p = self.in_process.take().expect("running in this process");
        smith::service::shutdown::raise(&p.shutdown, smith::service::ShutdownLevel::Graceful);
        p.thread.join().expect("the service thread does not panic")
    }

    pub fn pid(&self) -> u32 {
        if self.in_process.is_some() {
            return std::process::id();
        }
        self.child.as_ref().expect("running").id()
    }

    /// Runs `smith ARGS` against this daemon with `input` on its stdin (written by a thread of
    /// its own, so a large input cannot block on a full pipe).
    pub fn smith_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(smith_bin())
            .args(args)
            .env("SMITH_SOCKET", self.socket())
            .current_dir(self.work())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = output_within(child, CLIENT_LIMIT, &format!("smith {}", args.join(" ")));
        writer.join().unwrap();
        out
    }

    /// Runs `smith ARGS` against this daemon, in the work directory.
    /// A command still running after [`CLIENT_LIMIT`] fails the test.
    pub fn smith(&self, args: &[&str]) -> Output {
        let child = Command::new(smith_bin())
            .args(args)
            .env("SMITH_SOCKET", self.socket())
            .current_dir(self.work())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run smith");
        output_within(child, CLIENT_LIMIT, &format!("smith {}", args.join(" ")))
    }

    /// Starts `smith ARGS` in the background (stdout and stderr piped), in the work directory.
    pub fn smith_child(&self, args: &[&str]) -> Child {
        Command::new(smith_bin())
            .args(args)
            .env("SMITH_SOCKET", self.socket())
            .current_dir(self.work())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start smith")
    }

    /// Asserts that smithd still answers `smith health`.
    pub fn assert_serving(&self) {
        let out = self.smith(&["health"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "smithd stopped serving: {}",
            stderr(&out)
        );
    }

    /// Sends a signal to smithd.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), signal);
    }

    /// Waits for smithd to exit (up to `timeout`); returns its status.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_for_exit(&mut self.child, timeout)
    }

    /// Processes whose cwd is in this daemon's work dir (the workers, in worktrees too), by pid.
    pub fn worker_pids(&self) -> Vec<u32> {
        let work = self.work().canonicalize().unwrap_or_else(|_| self.work());
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(&work))
                && pid_alive(pid)
            {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.in_process.is_some() {
            let _ = self.stop_in_process();
        }
        if self.child.is_some() {
            self.signal(nix::sys::signal::Signal::SIGTERM);
            if self.wait(Duration::from_secs(15)).is_none()
                && let Some(mut c) = self.child.take()
            {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let log = self.log();
        if std::thread::panicking() && !log.is_empty() {
            // A failing test shows what its smithd said last.
            let tail: Vec<&str> = log.lines().rev().take(400).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!(
                "--- smithd log (last {} lines) ---\n{}",
                tail.len(),
                tail.join("\n")
            );
        }
        // Nothing a test started may outlive it.
        for pid in self.worker_pids() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Waits up to `timeout` for `child` to exit; its status, with `child` taken (reaped).
pub fn wait_for_exit(
    child: &mut Option<Child>,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.as_mut()?.try_wait() {
            *child = None;
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// How long a test waits for any one `smith` command: far beyond what a test's command takes,
/// so a command that hangs fails its test (killed, with what it printed) instead of stalling the
/// whole suite (`cargo test` has no per-test time limit).
pub const CLIENT_LIMIT: Duration = Duration::from_secs(240);

/// Waits for `child` to end and collects its output, for at most `limit`: a child still running
/// then is killed and the test fails, naming `what` and showing what it printed.
pub fn output_within(child: Child, limit: Duration, what: &str) -> Output {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("collect the child's output"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            // What it printed (unless something it started still holds its pipes).
            let out = rx
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(Result::ok);
            panic!(
                "`{what}` still running after {limit:?} (killed)\nstdout: {}\nstderr: {}",
                out.as_ref().map(stdout).unwrap_or_default(),
                out.as_ref().map(stderr).unwrap_or_default()
            )
        }
    }
}

/// Runs `cmd` (stdout and stderr piped) and collects its output within [`CLIENT_LIMIT`]: for a
/// process expected to end by itself (e.g. a smithd that must refuse to start).
pub fn run_bounded(cmd: &mut Command) -> Output {
    let what = format!("{:?}", cmd.get_program());
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    output_within(child, CLIENT_LIMIT, &what)
}

/// The output of a `smith` command started in the background ([`Daemon::smith_child`]), within
/// [`CLIENT_LIMIT`].
pub fn output_of(child: Child) -> Output {
    output_within(child, CLIENT_LIMIT, "smith (in the background)")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
