//! The orphan sweep at startup. A previous smithd that was killed (`kill -9`, OOM, power cut)
//! may have left workers and what their tools started. Stopped, each logged:
//! - recorded process groups: the leader when the pid still names the same process (its start
//!   time; pids are reused), and the group's remaining members when the leader is gone (a pid
//!   that is still some process's group id cannot be reused, and members must have started after
//!   the recorded leader);
//! - every process carrying the attempt tag of a request that was in flight, whatever session or
//!   group it moved to, started after the request was created.

use std::collections::HashMap;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::agent::attempt_tag;
use crate::agent::proc_info::{self, process_start_time};
use crate::store::OrphanCandidate;

/// What the sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Groups killed (by their recorded leader's pid).
    pub killed: Vec<u32>,
    /// Already gone.
    pub gone: usize,
    /// The pid now names another process: left alone.
    pub reused: usize,
    /// Tagged processes stopped.
    pub tagged: usize,
}

/// Members of group `pgid` that started at or after `since`.
fn members(pgid: u32, since: u64) -> Vec<u32> {
    proc_info::all_pids()
        .into_iter()
        .filter_map(proc_info::stat)
        .filter(|s| s.pgrp == pgid && s.start_time >= since && !s.is_zombie())
        .map(|s| s.pid)
        .collect()
}

/// Kills the process groups of `candidates` that are still the recorded processes (or what is
/// left of them), then stops every process tagged with one of `in_flight` (request id → created
/// at, Unix ms); waits until they are gone.
pub async fn sweep_orphans(
    candidates: &[OrphanCandidate],
    in_flight: &HashMap<String, i64>,
    grace: Duration,
) -> SweepReport {
    let mut report = SweepReport::default();
    for c in candidates {
        let now = process_start_time(c.pid);
        // With the leader gone, what is left of its group (one scan of /proc).
        let left = match (now, c.process_start_time) {
            (None, Some(recorded)) => members(c.pid, recorded),
            _ => Vec::new(),
        };
        match (now, c.process_start_time) {
            (Some(now), Some(recorded)) if now == recorded => {
                tracing::warn!(pid = c.pid, request = %c.request_id, attempt = c.attempt,
                    "killing the process group of an orphaned claude process");
                let _ = killpg(Pid::from_raw(c.pid as i32), Signal::SIGKILL);
                report.killed.push(c.pid);
            }
            (None, Some(_)) if !left.is_empty() => {
                tracing::warn!(pgid = c.pid, members = ?left, request = %c.request_id, attempt = c.attempt,
                    "killing what is left of an orphaned process group (its leader is gone)");
                let _ = killpg(Pid::from_raw(c.pid as i32), Signal::SIGKILL);
                report.killed.push(c.pid);
            }
            (None, _) => report.gone += 1,
            _ => {
                tracing::info!(
                    pid = c.pid,
                    "recorded pid now belongs to another process; left alone"
                );
                report.reused += 1;
            }
        }
    }
    for pid in &report.killed {
        for _ in 0..100 {
            if members(*pid, 0).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    if !in_flight.is_empty() {
        let tagged = attempt_tag::find(
            // A worker node's processes (one may run on this host) are its node's to stop.
            |tag| {
                attempt_tag::node_of(tag).is_none()
                    && attempt_tag::request_of(tag).is_some_and(|r| in_flight.contains_key(r))
            },
            None,
        );
        // Only processes started after their request was created (a second of slack for the
        // clock's granularity).
        let tagged: Vec<_> = tagged
            .into_iter()
            .filter(|t| {
                let created = attempt_tag::request_of(&t.tag).and_then(|r| in_flight.get(r));
                match (created, proc_info::started_unix_ms(&t.stat)) {
                    (Some(created), Some(started)) => started + 1000 >= *created,
                    _ => false,
                }
            })
            .collect();
        report.tagged = tagged.len();
        attempt_tag::stop(&tagged, grace).await;
    }
    report
}
