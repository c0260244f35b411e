//! The operator kit exercised for real: `promtool check config` passes on observability/'s
//! Prometheus config, and a real Prometheus (Debian's `prometheus`, which `.ci/run` installs)
//! scraping smithd during a fan-out with tool calls answers every PromQL query of the Grafana
//! dashboard with data, through its HTTP API.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::daemon::Daemon;
use crate::support::eventually_sync;
use crate::support::prometheus::{dashboard_exprs, exercise, prometheus_addr};

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A Prometheus server that is killed (and reaped) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `GET path` on `addr`; the body.
fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The result of an instant query (`None`: Prometheus did not answer it).
fn query(addr: &str, expr: &str) -> Option<Vec<Value>> {
    let body = get(addr, &format!("/api/v1/query?query={}", encode(expr)))?;
    let v: Value = serde_json::from_str(&body).ok()?;
    (v["status"] == "success").then(|| v["data"]["result"].as_array().cloned().unwrap_or_default())
}

fn start_prometheus(bin: &Path, dir: &Path, target: &str) -> (Server, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: smithd\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let server = Server(child);
    eventually_sync(Duration::from_secs(30), || {
        get(&addr, "/-/ready").filter(|b| b.contains("Ready"))
    })
    .expect("prometheus is ready");
    (server, addr)
}

#[test]
fn prometheus_scraping_smithd_answers_every_dashboard_query_with_data() {
    let (Some(prometheus), Some(promtool)) = (on_path("prometheus"), on_path("promtool")) else {
        match std::env::var("SMITH_PROMETHEUS_UNAVAILABLE") {
            Ok(why) => {
                println!("SKIPPED: Prometheus cannot be installed on this machine ({why})");
                return;
            }
            Err(_) => panic!(
                "prometheus and promtool are not installed: apt-get install prometheus \
                 (bash .ci/run does); SMITH_PROMETHEUS_UNAVAILABLE=<why> skips this test"
            ),
        }
    };
    let kit = Path::new(env!("CARGO_MANIFEST_DIR")).join("observability/prometheus.yml");
    let checked = Command::new(&promtool)
        .args(["check", "config"])
        .arg(&kit)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "promtool check config: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // Prometheus scrapes smithd's endpoint (a port chosen here) while the work below runs.
    let target = format!("127.0.0.1:{}", free_port());
    let mut d = Daemon::new(&format!("[telemetry]\nprometheus_listen = \"{target}\"\n"));
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start_prometheus(&prometheus, dir.path(), &target);
    exercise(&mut d);
    assert_eq!(prometheus_addr(&d), target);
    eventually_sync(Duration::from_secs(20), || {
        query(&addr, "up{job=\"smithd\"} == 1").filter(|r| !r.is_empty())
    })
    .expect("prometheus scrapes smithd");

    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 20, "{exprs:?}");
    // Each answers once Prometheus has scraped what the work produced (rates need two samples).
    let missing = eventually_sync(Duration::from_secs(60), || {
        let missing: Vec<&String> = exprs
            .iter()
            .filter(|e| query(&addr, e).is_none_or(|r| r.is_empty()))
            .collect();
        missing.is_empty().then_some(())
    });
    if missing.is_none() {
        let empty: Vec<String> = exprs
            .iter()
            .filter(|e| query(&addr, e).is_none_or(|r| r.is_empty()))
            .cloned()
            .collect();
        panic!(
            "these dashboard queries return no data: {empty:#?}\n{}",
            d.log()
        );
    }
}
