//! Git operations that write to one repository, one at a time: parallel tasks finish at the
//! same moment, and two commits or worktree changes at once would race for the repository's
//! locks (`index.lock`, `worktrees/`, refs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// One lock per repository (by its top level).
#[derive(Debug, Default)]
pub struct RepoLocks {
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

impl RepoLocks {
    /// Waits until nothing else writes to `repo`; holds it until the guard is dropped.
    pub async fn lock(&self, repo: &Path) -> OwnedMutexGuard<()> {
        let lock = self
            .locks
            .lock()
            .expect("repo locks")
            .entry(repo.to_path_buf())
            .or_default()
            .clone();
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_writer_per_repository_others_in_parallel() {
        let locks = RepoLocks::default();
        let a = locks.lock(Path::new("/r/a")).await;
        // Another repository is not held up.
        let _b = locks.lock(Path::new("/r/b")).await;
        let mut second = Box::pin(locks.lock(Path::new("/r/a")));
        assert!(futures::poll!(&mut second).is_pending());
        drop(a);
        assert!(futures::poll!(&mut second).is_ready());
    }
}
