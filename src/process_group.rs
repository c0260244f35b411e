//! A child's process group: signalled as a whole, and killed when its guard drops (ractor skips
//! `post_stop` on panic or kill, so cleanup cannot rely on it). Workers and workspace setups run
//! in one.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The process group of the current attempt (none between attempts).
#[derive(Debug, Default)]
pub struct ProcessGroup {
    pgid: AtomicI32,
}

impl ProcessGroup {
    /// A handle with no group yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records the group of a child spawned with `process_group(0)` (its pgid is its pid).
    pub fn set(&self, pid: u32) {
        self.pgid.store(pid as i32, Ordering::SeqCst);
    }

    /// Forgets the group (after it was killed and the leader reaped).
    pub fn clear(&self) {
        self.pgid.store(0, Ordering::SeqCst);
    }

    /// The group id, if any.
    pub fn pgid(&self) -> Option<i32> {
        match self.pgid.load(Ordering::SeqCst) {
            0 => None,
            pgid => Some(pgid),
        }
    }

    /// Sends `signal` to every process of the group. Returns false when there is no group or
    /// no process left in it.
    pub fn signal(&self, signal: Signal) -> bool {
        let Some(pgid) = self.pgid() else {
            return false;
        };
        match killpg(Pid::from_raw(pgid), signal) {
            Ok(()) => true,
            Err(Errno::ESRCH) => false,
            Err(err) => {
                tracing::warn!(pgid, %signal, %err, "cannot signal process group");
                false
            }
        }
    }
}

/// Kills the group with SIGKILL when dropped.
#[derive(Debug)]
pub struct GroupGuard(pub Arc<ProcessGroup>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.0.signal(Signal::SIGKILL) {
            tracing::debug!(pgid = ?self.0.pgid(), "process group killed on drop");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_group_no_signal() {
        let g = ProcessGroup::new();
        assert!(!g.signal(Signal::SIGKILL));
        assert_eq!(g.pgid(), None);
    }
}
