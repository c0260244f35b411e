//! smithd as a child subreaper: a worker's tools may start processes in a new session whose
//! parent then exits; with `PR_SET_CHILD_SUBREAPER` such orphans are re-parented to smithd instead
//! of init, so smithd sees them exit and can find them. Orphans smithd adopts are reaped by pid
//! (`waitid(P_PID)`), never with `waitpid(-1)`: tokio owns and reaps the workers it spawned, so
//! those pids (the leaders) are registered and left to it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

use super::proc_info;

/// Pids of worker processes tokio spawned and reaps. Held while spawning, so that the reaper
/// never mistakes a worker that exited at once for an adopted orphan.
static LEADERS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn leaders() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    LEADERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes this process a child subreaper (Linux).
pub fn become_subreaper() -> std::io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)
}

/// Spawns a worker with `spawn` and registers its pid as one tokio reaps.
pub fn spawn_leader<T>(
    spawn: impl FnOnce() -> std::io::Result<T>,
    pid_of: impl FnOnce(&T) -> Option<u32>,
) -> std::io::Result<T> {
    let mut leaders = leaders();
    let child = spawn()?;
    if let Some(pid) = pid_of(&child) {
        leaders.insert(pid);
    }
    Ok(child)
}

/// Unregisters a worker when its attempt is over (tokio has reaped it, or will from its orphan
/// queue if the attempt was dropped; reaping it here first is harmless then).
#[derive(Debug)]
pub struct LeaderGuard(pub u32);

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        leaders().remove(&self.0);
    }
}

/// Reaps `pid` if it is an exited child of this process that tokio does not own. Returns whether
/// it was reaped.
pub fn reap(pid: u32) -> bool {
    let leaders = leaders();
    if leaders.contains(&pid) {
        return false;
    }
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
    matches!(
        waitid(Id::Pid(Pid::from_raw(pid as i32)), flags),
        Ok(status) if status != nix::sys::wait::WaitStatus::StillAlive
    )
}

/// Reaps every adopted orphan that has exited. Returns how many.
pub fn reap_adopted() -> usize {
    proc_info::own_children()
        .into_iter()
        .filter(|&pid| proc_info::stat(pid).is_some_and(|s| s.is_zombie()))
        .filter(|&pid| reap(pid))
        .count()
}

/// Reaps adopted orphans whenever a child exits, until aborted.
pub async fn reap_adopted_forever() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut sigchld) = signal(SignalKind::child()) else {
        tracing::warn!("cannot listen for SIGCHLD; adopted orphans are reaped only when stopped");
        return;
    };
    loop {
        let n = reap_adopted();
        if n > 0 {
            tracing::debug!(reaped = n, "reaped adopted orphans");
        }
        if sigchld.recv().await.is_none() {
            return;
        }
    }
}
