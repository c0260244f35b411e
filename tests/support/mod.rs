//! Shared helpers for integration tests: `eventually`, small test actors for the supervisor.

#![allow(dead_code)]

#[cfg(not(feature = "stand-in"))]
compile_error!("the tests run the stand-in agent: cargo test --features stand-in");

pub mod actors;
pub mod agent;
pub mod approvals;
pub mod background;
pub mod cluster;
pub mod daemon;
pub mod fake_api;
pub mod git;
pub mod nats;
pub mod otlp;
pub mod prometheus;
pub mod protocol_samples;
pub mod real_cli;
pub mod real_cli_env;
pub mod session;
pub mod supervision;
pub mod traced;
pub mod wire;
pub mod worker_node;

use std::future::Future;
use std::time::Duration;

/// Polls `cond` until it returns true or `timeout` passes (works with tokio's paused clock).
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls `find` (blocking) until it returns something or `timeout` passes.
pub fn eventually_sync<T>(timeout: Duration, mut find: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = find() {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
