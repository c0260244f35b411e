//! smith's own overhead against the physical limit, each measured against a baseline in the same
//! run on the same machine, reported as a ratio. `cargo bench --features stand-in --bench overhead [-- NAME…]` with
//! NAME among: fanout latency client restart cancel control memory parser.
//!
//! The workers are fake-claude (the stand-in agent, release build); smithd is the real binary,
//! driven over its control socket.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smith::agent::StreamEvent;
use smith::agent::event::user_message;
use smith::cli::client::Client;
use smith::protocol::{Ask, AskSpec, Event, Request, RequestSummary, Response, StatusQuery};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

use common::{CONCURRENCY, bare_loop, bare_one};

fn bin(name: &str) -> PathBuf {
    match name {
        "smithd" => PathBuf::from(env!("CARGO_BIN_EXE_smithd")),
        "smith" => PathBuf::from(env!("CARGO_BIN_EXE_smith")),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_fake-claude")),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A smithd in a temp dir with the stand-in agent.
struct Daemon {
    dir: tempfile::TempDir,
    child: Child,
}

impl Daemon {
    fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let config = format!(
            "[service]\ndata_dir = {data:?}\nsocket = {sock:?}\nlog_level = \"warn\"\n\n[agent]\nprogram = {prog:?}\nroots = [{work:?}]\n\n[agent.env]\nFAKE_CLAUDE_STATE_DIR = {work:?}\n{extra}\n",
            data = dir.path().join("data").display().to_string(),
            sock = dir.path().join("smithd.sock").display().to_string(),
            prog = bin("fake-claude").display().to_string(),
            work = work.display().to_string(),
        );
        std::fs::write(dir.path().join("smith.toml"), config).unwrap();
        let child = Command::new(bin("smithd"))
            .arg("--config")
            .arg(dir.path().join("smith.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Self { dir, child };
        for _ in 0..500 {
            if std::os::unix::net::UnixStream::connect(d.socket()).is_ok() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("smithd did not start");
    }
    fn socket(&self) -> PathBuf {
        self.dir.path().join("smithd.sock")
    }
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }
    fn spec(&self, prompt: &str, tasks: Vec<String>) -> AskSpec {
        AskSpec {
            session: "bench".into(),
            prompt: prompt.into(),
            tasks: tasks.into_iter().map(Into::into).collect(),
            cwd: self.work(),
            ..AskSpec::default()
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Sends `spec` and waits for its summary.
async fn ask(socket: &Path, spec: AskSpec) -> RequestSummary {
    let mut c = Client::connect(socket, None).await.unwrap();
    c.send(&Request::Ask(Ask {
        spec,
        detach: false,
    }))
    .await
    .unwrap();
    loop {
        if let Response::Finished(s) = c.recv().await.unwrap() {
            return s;
        }
    }
}

fn report(name: &str, smith: f64, baseline: f64, unit: &str, target: &str) {
    println!(
        "{name:<28} smith {smith:>10.3} {unit:<5} baseline {baseline:>10.3} {unit:<5} ratio {:>6.3}   target {target}",
        smith / baseline
    );
}

async fn fanout() {
    let n = common::env_or("SMITH_BENCH_TASKS", 1000);
    let d = Daemon::start(&format!(
        "[limits]\nmax_concurrent_tasks = {CONCURRENCY}\nmax_tasks_per_request = {n}\n"
    ));
    let work = d.work();
    bare_loop(CONCURRENCY, &work).await;
    let (mut bare, mut smith) = (Vec::new(), Vec::new());
    for round in 0..5 {
        bare.push(bare_loop(n, &work).await);
        // A session per round: each task's slice holds the request, not earlier fan-outs.
        let mut spec = d.spec("fan out", (0..n).map(|i| format!("task {i}")).collect());
        spec.session = format!("fanout{round}");
        let t0 = Instant::now();
        let s = ask(&d.socket(), spec).await;
        smith.push(t0.elapsed());
        assert_eq!(s.tasks.len(), n);
    }
    bare.sort();
    smith.sort();
    report(
        &format!("1 fanout {n}@{CONCURRENCY} (median of 5)"),
        ms(smith[2]),
        ms(bare[2]),
        "ms",
        "ratio <= 1.10",
    );
}

async fn latency() {
    let d = Daemon::start("");
    let work = d.work();
    let n = 200;
    let mut bare = Vec::new();
    let mut smith = Vec::new();
    for i in 0..20 {
        bare_one(&work, i).await;
        ask(&d.socket(), d.spec(&format!("warm {i}"), vec![])).await;
    }
    for i in 0..n {
        let t0 = Instant::now();
        bare_one(&work, i).await;
        bare.push(t0.elapsed());
        let t0 = Instant::now();
        ask(&d.socket(), d.spec(&format!("one task {i}"), vec![])).await;
        smith.push(t0.elapsed());
    }
    bare.sort();
    smith.sort();
    let (b50, s50) = (percentile(&bare, 0.5), percentile(&smith, 0.5));
    report(
        "2 per-task latency p50",
        ms(s50),
        ms(b50),
        "ms",
        "overhead <= 1.5 ms",
    );
    report(
        "2 per-task latency p99",
        ms(percentile(&smith, 0.99)),
        ms(percentile(&bare, 0.99)),
        "ms",
        "-",
    );
    println!("{:<28} overhead p50 {:.3} ms", "", ms(s50) - ms(b50));
}

fn read_stamps(path: &Path) -> Vec<(String, u128)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

async fn client() {
    // smithd's workers write their start stamps to one file.
    let stamps = tempfile::tempdir().unwrap();
    let file = stamps.path().join("stamps");
    let d = Daemon::start(&format!(
        "FAKE_CLAUDE_STAMP = {:?}\n",
        file.display().to_string()
    ));
    let mut smith = Vec::new();
    let mut bare = Vec::new();
    let bare_file = stamps.path().join("bare");
    for i in 0..40 {
        let t0 = now_ns();
        let mut c = Command::new(bin("fake-claude"))
            .env("FAKE_CLAUDE_STAMP", &bare_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{}\n", user_message("x")).as_bytes())
            .unwrap();
        c.wait().unwrap();
        let start = read_stamps(&bare_file).last().unwrap().1;
        bare.push(Duration::from_nanos((start - t0) as u64));

        let seen = read_stamps(&file).len();
        let t0 = now_ns();
        let out = Command::new(bin("smith"))
            .args(["ask", &format!("client start {i}")])
            .env("SMITH_SOCKET", d.socket())
            .current_dir(d.work())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stamps = read_stamps(&file);
        let start = stamps[seen..].iter().find(|(k, _)| k == "start").unwrap().1;
        smith.push(Duration::from_nanos((start - t0) as u64));
    }
    bare.sort();
    smith.sort();
    report(
        "3 client start -> worker p50",
        ms(percentile(&smith, 0.5)),
        ms(percentile(&bare, 0.5)),
        "ms",
        "<= 10 ms",
    );
}

async fn restart() {
    let stamps = tempfile::tempdir().unwrap();
    let file = stamps.path().join("stamps");
    let d = Daemon::start(&format!(
        "FAKE_CLAUDE_STAMP = {:?}\n\n[supervision]\nbackoff_min = \"0s\"\nbackoff_max = \"0s\"\nbackoff_jitter = 0.0\nmax_restarts = 1000\n",
        file.display().to_string()
    ));
    // 30 crashes in a row (the stand-in remembers its directive across --resume).
    let mut spec = d.spec("restart", vec!["crash [[crash-after-init]]".into()]);
    spec.max_restarts = Some(30);
    ask(&d.socket(), spec).await;
    let s = read_stamps(&file);
    let mut smith = Vec::new();
    for w in s.windows(2) {
        if w[0].0 == "exit" && w[1].0 == "start" {
            smith.push(Duration::from_nanos((w[1].1 - w[0].1) as u64));
        }
    }
    // Baseline: a bare loop that respawns the moment the child exits.
    let bare_file = stamps.path().join("bare");
    for _ in 0..31 {
        let mut c = tokio::process::Command::new(bin("fake-claude"))
            .env("FAKE_CLAUDE_STAMP", &bare_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = c.stdin.take().unwrap();
        stdin
            .write_all(format!("{}\n", user_message("[[crash-after-init]]")).as_bytes())
            .await
            .unwrap();
        let mut out = Vec::new();
        c.stdout
            .take()
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        c.wait().await.unwrap();
    }
    let b = read_stamps(&bare_file);
    let mut bare = Vec::new();
    for w in b.windows(2) {
        if w[0].0 == "exit" && w[1].0 == "start" {
            bare.push(Duration::from_nanos((w[1].1 - w[0].1) as u64));
        }
    }
    smith.sort();
    bare.sort();
    assert!(smith.len() >= 20, "{} restarts measured", smith.len());
    report(
        "4 restart crash->running p50",
        ms(percentile(&smith, 0.5)),
        ms(percentile(&bare, 0.5)),
        "ms",
        "<= 5 ms",
    );
}

fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rfind(')')
            .and_then(|i| s[i + 2..].chars().next())
            .is_some_and(|c| c == 'Z')
    })
}

async fn cancel() {
    let d = Daemon::start("");
    let grace = Duration::from_secs(2); // agent.interrupt_grace + agent.term_grace (defaults)
    let mut smith = Vec::new();
    let mut bare = Vec::new();
    for i in 0..5 {
        let mut c = Client::connect(&d.socket(), None).await.unwrap();
        c.send(&Request::Ask(Ask {
            spec: d.spec(&format!("hang {i} [[hang]]"), vec![]),
            detach: false,
        }))
        .await
        .unwrap();
        let (id, pid) = loop {
            if let Response::Event(Event::TaskStarted { pid, .. }) = c.recv().await.unwrap() {
                let id = status_request_id(&d.socket()).await;
                break (id, pid);
            }
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t0 = Instant::now();
        let out = Command::new(bin("smith"))
            .args(["cancel", &id])
            .env("SMITH_SOCKET", d.socket())
            .output()
            .unwrap();
        assert!(out.status.success());
        while !gone(pid) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        smith.push(t0.elapsed());
        while !matches!(c.recv().await, Ok(Response::Finished(_)) | Err(_)) {}

        // Baseline: SIGKILL to the group of a hung stand-in, until it is gone.
        let mut h = tokio::process::Command::new(bin("fake-claude"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        h.stdin
            .as_mut()
            .unwrap()
            .write_all(format!("{}\n", user_message("[[hang]]")).as_bytes())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let hp = h.id().unwrap();
        let t0 = Instant::now();
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(hp as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        h.wait().await.unwrap();
        bare.push(t0.elapsed());
    }
    smith.sort();
    bare.sort();
    report(
        "5 cancel hung worker p50",
        ms(percentile(&smith, 0.5)),
        ms(percentile(&bare, 0.5)),
        "ms",
        "<= grace + 50 ms",
    );
    println!(
        "{:<28} grace {} ms; over grace by {:.1} ms",
        "",
        grace.as_millis(),
        ms(percentile(&smith, 0.5)) - ms(grace)
    );
}

async fn status_request_id(socket: &Path) -> String {
    let mut c = Client::connect(socket, None).await.unwrap();
    match c.call(&Request::Status(StatusQuery {})).await.unwrap() {
        Response::Status(s) => s
            .sessions
            .iter()
            .find_map(|s| s.current.as_ref().map(|r| r.request_id.clone()))
            .unwrap(),
        other => panic!("{other:?}"),
    }
}

async fn control() {
    let d = Daemon::start("[limits]\nmax_concurrent_tasks = 32\n");
    let n = 500;
    let mut smith = Vec::new();
    let mut bare = Vec::new();
    // Baseline: connect + one small write + one small read on a Unix socket echo server.
    let echo_path = d.dir.path().join("echo.sock");
    let listener = tokio::net::UnixListener::bind(&echo_path).unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 64];
                while let Ok(n) = s.read(&mut b).await {
                    if n == 0 || s.write_all(&b[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    for _ in 0..n {
        let t0 = Instant::now();
        let mut s = tokio::net::UnixStream::connect(&echo_path).await.unwrap();
        s.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.unwrap();
        bare.push(t0.elapsed());
        let t0 = Instant::now();
        let mut c = Client::connect(&d.socket(), None).await.unwrap();
        let r = c.call(&Request::Status(StatusQuery {})).await.unwrap();
        assert!(matches!(r, Response::Status(_)));
        smith.push(t0.elapsed());
    }
    smith.sort();
    bare.sort();
    report(
        "6 status round trip p50",
        ms(percentile(&smith, 0.5)),
        ms(percentile(&bare, 0.5)),
        "ms",
        "<= 1 ms",
    );
    // 100 clients asking at once, each in its own session.
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for i in 0..100 {
        let socket = d.socket();
        let mut spec = d.spec(&format!("client {i}"), vec![]);
        spec.session = format!("c{i}");
        handles.push(tokio::spawn(async move { ask(&socket, spec).await }));
    }
    let mut served = 0;
    for h in handles {
        if h.await.unwrap().status == smith::store::RequestStatus::Succeeded {
            served += 1;
        }
    }
    println!(
        "{:<28} 100 concurrent clients: {served}/100 served in {:.0} ms",
        "6 concurrent clients",
        ms(t0.elapsed())
    );
}

async fn memory() {
    let d = Daemon::start("[limits]\nmax_concurrent_tasks = 32\nmax_tasks_per_request = 1000\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = d.rss_kib();
    // During an 8-task fan-out.
    let socket = d.socket();
    let spec = d.spec(
        "eight",
        (0..8).map(|i| format!("t{i} [[sleep:500]]")).collect(),
    );
    let h = tokio::spawn(async move { ask(&socket, spec).await });
    let mut peak = 0;
    while !h.is_finished() {
        peak = peak.max(d.rss_kib());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    h.await.unwrap();
    report(
        "7 RSS during 8-task fan-out",
        peak as f64 / 1024.0,
        idle as f64 / 1024.0,
        "MiB",
        "<= 24 MiB",
    );
    // 10 rounds of 1,000 tasks, then 100 idle sessions.
    let mut rounds = Vec::new();
    for r in 0..10 {
        // Same session every round: its context stays bounded by context.turns/max_chars.
        let spec = d.spec(
            &format!("round {r}"),
            (0..1000)
                .map(|i| format!("task {i} [[answer:done {i}]]"))
                .collect(),
        );
        ask(&d.socket(), spec).await;
        rounds.push(d.rss_kib());
    }
    for i in 0..100 {
        let mut spec = d.spec("hello", vec![]);
        spec.session = format!("idle{i}");
        ask(&d.socket(), spec).await;
    }
    let end = d.rss_kib();
    println!(
        "{:<28} RSS per 1,000-task round (MiB): {}",
        "7 memory rounds",
        rounds
            .iter()
            .map(|r| format!("{:.1}", *r as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(" ")
    );
    report(
        "7 RSS after 10k tasks+100 sess",
        end as f64 / 1024.0,
        idle as f64 / 1024.0,
        "MiB",
        "<= 64 MiB, flat across rounds",
    );
    // Amplification: the largest request the default limits take (a 2 MiB prompt and tasks)
    // fanned out to 16 workers that each answer with their whole slice, three times.
    let mut amp_peak = 0;
    for r in 0..3 {
        let socket = d.socket();
        let mut spec = d.spec(
            &format!("{r} {}", "p".repeat(2 * 1024 * 1024 - 4096)),
            (0..16).map(|i| format!("part {i}")).collect(),
        );
        spec.session = "amplified".into();
        let h = tokio::spawn(async move { ask(&socket, spec).await });
        while !h.is_finished() {
            amp_peak = amp_peak.max(d.rss_kib());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        h.await.unwrap();
    }
    // smithd gives the memory back a second after the last summary went out.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = d.rss_kib();
    println!(
        "{:<28} peak {:.1} MiB during three 2 MiB x 16-task requests",
        "7 amplification",
        amp_peak as f64 / 1024.0
    );
    report(
        "7 RSS after amplification",
        after as f64 / 1024.0,
        idle as f64 / 1024.0,
        "MiB",
        "<= 64 MiB",
    );
}

fn parser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-cli-2.1.332");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
    }
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let rounds = 300;
    let run = |f: &dyn Fn(&str) -> bool| {
        let t0 = Instant::now();
        let mut ok = 0usize;
        for _ in 0..rounds {
            for l in &lines {
                ok += usize::from(f(l));
            }
        }
        assert_eq!(ok, rounds * lines.len());
        t0.elapsed()
    };
    let smith = run(&|l| StreamEvent::parse(l).is_ok());
    let bare = run(&|l| serde_json::from_str::<serde_json::Value>(l).is_ok());
    let events = (rounds * lines.len()) as f64;
    let mb = (rounds * bytes) as f64 / 1e6;
    println!(
        "{:<28} smith {:>10.0} ev/s {:>7.1} MB/s   serde_json::Value {:>10.0} ev/s {:>7.1} MB/s   ratio (time) {:.3}",
        "8 parser",
        events / smith.as_secs_f64(),
        mb / smith.as_secs_f64(),
        events / bare.as_secs_f64(),
        mb / bare.as_secs_f64(),
        smith.as_secs_f64() / bare.as_secs_f64()
    );
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let on = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let _ = std::io::stdout().flush();
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "smith overhead benchmarks ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    rt.block_on(async {
        if on("fanout") {
            fanout().await;
        }
        if on("latency") {
            latency().await;
        }
        if on("client") {
            client().await;
        }
        if on("restart") {
            restart().await;
        }
        if on("cancel") {
            cancel().await;
        }
        if on("control") {
            control().await;
        }
        if on("memory") {
            memory().await;
        }
    });
    if on("parser") {
        parser();
    }
}
