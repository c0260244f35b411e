//! smithd's Prometheus endpoint as a scraper sees it.

use std::io::{Read, Write};

use super::daemon::Daemon;

/// The endpoint's address, from smithd's log.
pub fn prometheus_addr(d: &Daemon) -> String {
    let log = d.log();
    let line = log
        .lines()
        .find(|l| l.contains("serving Prometheus metrics"))
        .unwrap_or_else(|| panic!("no Prometheus endpoint in the log:\n{log}"));
    line.split("addr=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The body of `GET /metrics` (empty when the endpoint closed the connection at once).
pub fn scrape(addr: &str) -> String {
    get(addr)
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// Whether `GET /metrics` answers 200 OK.
pub fn serves(addr: &str) -> bool {
    get(addr).starts_with("HTTP/1.1 200 OK")
}

/// The whole response to `GET /metrics`.
fn get(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Every PromQL expression of the Grafana dashboard, in panel order.
pub fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(e)) = m.get("expr") {
                    out.push(e.clone());
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("observability/grafana/dashboards/smith.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    walk(&dashboard, &mut out);
    out
}

/// Starts `d` (with `[telemetry] prometheus_listen`) and makes it produce every metric the
/// dashboard queries: a fan-out with tool calls (one fails) and text, a queued task (one process
/// slot), a restart, an escalation, a throttle, a budget warning, a detached request.
pub fn exercise(d: &mut Daemon) {
    // One process slot: the second task queues.
    d.env
        .push(("SMITH_LIMITS__MAX_CONCURRENT_TASKS".into(), "1".into()));
    // The first task's cost is over 80 % of the day's ceiling: a budget warning.
    d.env
        .push(("SMITH_LIMITS__DAILY_BUDGET_USD".into(), "0.012".into()));
    d.start();
    d.smith(&[
        "ask",
        "q",
        "--task",
        "a [[cost:0.01]] [[sh:echo tool]] [[sh:exit 2]]",
        "--task",
        "b [[fail-first:b]]",
    ]);
    d.smith(&[
        "ask",
        "--max-restarts",
        "0",
        "q",
        "--task",
        "x [[crash-after-init]]",
    ]);
    // A throttle: the governor closes its gate, halves the cap, the task waits and goes on.
    d.smith(&["ask", "throttled [[throttle-first:g]]"]);
    d.smith(&["ask", "--detach", "slow [[sleep:300]]"]);
    d.smith(&["ask", "queued behind it"]);
}
