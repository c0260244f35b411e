//! smithd as a child subreaper: a worker's tools may start processes in a new session whose
//! parent then exits; with `PR_SET_CHILD_SUBREAPER` such orphans are re-parented to smithd instead
//! of init, so smithd sees them exit and can find them. Orphans smithd adopts are reaped by pid
//! (`waitid(P_PID)`), never with `waitpid(-1)`: tokio owns and reaps the workers it spawned, so
//! those pids (the leaders) are registered and left to it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

use super::proc_info;

/// Pids of worker processes tokio spawned and reaps.
static LEADERS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// How long SIGCHLDs are gathered before adopted orphans are looked at.
pub const REAP_COALESCE: Duration = Duration::from_millis(50);

fn leaders() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    LEADERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Makes this process a child subreaper (Linux).
pub fn become_subreaper() -> std::io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)?;
    SUBREAPER.store(true, Ordering::Relaxed);
    Ok(())
}

/// Whether [`become_subreaper`] made this process a child subreaper.
pub fn is_subreaper() -> bool {
    SUBREAPER.load(Ordering::Relaxed)
}

/// A worker tokio spawned (and reaps), registered from right after its spawn until its attempt
/// is over (tokio has reaped it then, or will from its orphan queue if the attempt was dropped).
#[derive(Debug)]
pub struct LeaderGuard(u32);

impl LeaderGuard {
    /// Registers `pid`.
    pub fn register(pid: u32) -> Self {
        leaders().insert(pid);
        Self(pid)
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        leaders().remove(&self.0);
    }
}

/// Reaps `pid` if it is an exited child of this process that tokio does not own. Returns whether
/// it was reaped.
pub fn reap(pid: u32) -> bool {
    if leaders().contains(&pid) {
        return false;
    }
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
    matches!(
        waitid(Id::Pid(Pid::from_raw(pid as i32)), flags),
        Ok(status) if status != WaitStatus::StillAlive
    )
}

/// Children of this process that tokio does not own (orphans it adopted); `None` when the
/// kernel does not list children.
pub fn adopted() -> Option<Vec<u32>> {
    let children = proc_info::own_children()?;
    let leaders = leaders();
    Some(
        children
            .into_iter()
            .filter(|pid| !leaders.contains(pid))
            .collect(),
    )
}

/// Exited adopted orphans now.
fn adopted_zombies() -> BTreeSet<u32> {
    adopted()
        .unwrap_or_default()
        .into_iter()
        .filter(|&pid| proc_info::stat(pid).is_some_and(|s| s.is_zombie()))
        .collect()
}

/// Reaps adopted orphans when children exit, until aborted. Exits come in bursts (a fan-out
/// ends hundreds of workers, each a SIGCHLD): one look at the children per burst, at most every
/// [`REAP_COALESCE`]. A zombie is reaped only when it was already one at the previous look and is
/// still not a registered worker: a worker that exits before its spawner registered its pid
/// (microseconds) is never taken from tokio.
pub async fn reap_adopted_forever() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut sigchld) = signal(SignalKind::child()) else {
        tracing::warn!("cannot listen for SIGCHLD; adopted orphans are reaped only when stopped");
        return;
    };
    let mut seen = BTreeSet::new();
    loop {
        let now = adopted_zombies();
        let reaped = now.intersection(&seen).filter(|&&pid| reap(pid)).count();
        if reaped > 0 {
            tracing::debug!(reaped, "reaped adopted orphans");
        }
        // Zombies seen for the first time get a second look after the next pause.
        let pending = now.len() > reaped;
        seen = now;
        if pending {
            tokio::time::sleep(REAP_COALESCE).await;
            continue;
        }
        if sigchld.recv().await.is_none() {
            return;
        }
        tokio::time::sleep(REAP_COALESCE).await;
    }
}
