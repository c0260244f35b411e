//! The control socket's place on disk: its directory is created 0700 when smithd makes it and
//! refused when it belongs to another user or others may write to it (never chmod-ed: it may be
//! shared); a leftover socket is removed only if it is a socket nobody answers on — any other file
//! at that path is left alone and named in the error.

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;

/// What is wrong with the socket's place.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket cannot be created.
    #[error("cannot listen on {path}: {reason}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Prepares the socket's directory and removes a stale socket. A socket that still answers
/// belongs to a live smithd (the instance lock normally catches that first).
pub async fn prepare_socket(path: &Path) -> Result<(), ControlError> {
    let bind_err = |reason: String| ControlError::Bind {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_dir(dir).map_err(bind_err)?;
    }
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(bind_err(format!("cannot inspect it: {e}"))),
        Ok(m) => m,
    };
    if !meta.file_type().is_socket() {
        return Err(bind_err(
            "a file that is not a socket is in the way; move it or choose another service.socket"
                .into(),
        ));
    }
    if meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(bind_err(format!(
            "the socket there belongs to uid {}; choose another service.socket",
            meta.uid()
        )));
    }
    if UnixStream::connect(path).await.is_ok() {
        return Err(bind_err("another smithd answers on this socket".into()));
    }
    tracing::info!(socket = %path.display(), "removing a stale socket");
    std::fs::remove_file(path).map_err(|e| bind_err(format!("cannot remove the stale socket: {e}")))
}

/// Creates `dir` (0700, parents as needed) or checks the one that is there.
fn check_dir(dir: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display())),
        Err(e) => Err(format!("cannot inspect {}: {e}", dir.display())),
        Ok(_) => {
            // Follow a symlinked directory, then judge what it points to.
            let meta = std::fs::metadata(dir)
                .map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
            let me = nix::unistd::getuid().as_raw();
            let mode = meta.mode() & 0o7777;
            if !meta.is_dir() {
                Err(format!("{} is not a directory", dir.display()))
            } else if mode & 0o1000 != 0 {
                // Sticky (like /tmp): nobody else can remove or rename what smithd puts there.
                Ok(())
            } else if meta.uid() != me {
                Err(format!(
                    "its directory {} belongs to uid {}, not to smithd's uid {me}; choose a directory of your own for service.socket",
                    dir.display(),
                    meta.uid()
                ))
            } else if mode & 0o022 != 0 {
                Err(format!(
                    "its directory {} is writable by others (mode {mode:o}), who could replace the socket; use a directory only you can write (e.g. mode 0700)",
                    dir.display()
                ))
            } else {
                Ok(())
            }
        }
    }
}
