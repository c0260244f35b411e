//! The single-instance lock: an exclusive `flock` on `<data dir>/smithd.lock`. The kernel drops it
//! when smithd dies, however it dies, so a stale lock never blocks the next start.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Held while smithd runs.
pub struct InstanceLock {
    _lock: Flock<File>,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another smithd holds it.
    #[error("another smithd (pid {pid}) is already running on data directory {dir}")]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// The pid written by the holder.
        pid: String,
    },
    /// The lock file cannot be used.
    #[error("cannot use lock file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl InstanceLock {
    /// Takes the lock of `data_dir` (without waiting) and writes our pid into it.
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        let path = data_dir.join("smithd.lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, _)) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(LockError::Held {
                    dir: data_dir.to_path_buf(),
                    pid: pid.trim().to_string(),
                });
            }
        };
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        writeln!(lock, "{}", std::process::id()).map_err(io)?;
        lock.flush().map_err(io)?;
        Ok(Self { _lock: lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_with_the_holders_pid() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let first = InstanceLock::acquire(dir).unwrap();
        let err = InstanceLock::acquire(dir).err().expect("held");
        let msg = err.to_string();
        assert!(
            msg.contains(&std::process::id().to_string()) && msg.contains("already running"),
            "{msg}"
        );
        drop(first);
        assert!(InstanceLock::acquire(dir).is_ok(), "released on drop");
    }
}
