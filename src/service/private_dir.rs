//! smithd's own directories: created 0700, refused when shared.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` 0700 (parents as needed) or makes the existing one 0700: only smithd's own
/// directories (data, workers' runtime) go through here, never a shared one.
pub(crate) fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot inspect it: {e}"))?;
    let shared = meta.mode() & 0o1000 != 0 || meta.uid() != nix::unistd::getuid().as_raw();
    if shared {
        return Err(format!(
            "{} is not smithd's own directory (another owner, or sticky like /tmp): choose one for smithd alone",
            dir.display()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        tracing::info!(dir = %dir.display(), "making smithd's directory private (0700)");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private (0700): {e}", dir.display()))?;
    }
    // Databases written before smithd set its umask may be readable by others.
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let private = entry.metadata().is_ok_and(|m| m.mode() & 0o077 == 0);
        if entry.file_name().to_string_lossy().starts_with("smith.db") && !private {
            let _ = std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(())
}
