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
