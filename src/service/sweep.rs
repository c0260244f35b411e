//! The orphan sweep at startup: processes an earlier smithd recorded as running are killed as a
//! group — but only after checking that the pid still names the same process (its start time),
//! because pids are reused.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::agent::process_group::process_start_time;
use crate::store::OrphanCandidate;

/// What the sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Groups killed.
    pub killed: Vec<u32>,
    /// Already gone.
    pub gone: usize,
    /// The pid now names another process: left alone.
    pub reused: usize,
}

/// Kills the process groups of `candidates` that are still the recorded processes, and waits
/// (up to a second each) until they are gone.
pub async fn sweep_orphans(candidates: &[OrphanCandidate]) -> SweepReport {
    let mut report = SweepReport::default();
    for c in candidates {
        let now = process_start_time(c.pid);
        match (now, c.process_start_time) {
            (None, _) => report.gone += 1,
            (Some(now), Some(recorded)) if now == recorded => {
                tracing::warn!(pid = c.pid, request = %c.request_id, attempt = c.attempt,
                    "killing the process group of an orphaned claude process");
                let _ = killpg(Pid::from_raw(c.pid as i32), Signal::SIGKILL);
                report.killed.push(c.pid);
            }
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
            if process_start_time(*pid).is_none() || is_zombie(*pid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    report
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s[i + 2..].chars().next()))
        .is_some_and(|state| state == 'Z')
}
