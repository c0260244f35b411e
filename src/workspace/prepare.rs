//! What a new worktree gets before its worker starts: the untracked things it lacks copied in
//! (`workspace.copy`, reflinked where the file system can) and `workspace.setup` run in it — once:
//! a marker in the worktree's private git directory says it is done, so a restart or a resume
//! does not do it again, and a setup that failed is tried again by the next attempt.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::AsyncReadExt;

use super::error::WorkspaceError;
use super::settings::WorkspaceSettings;
use super::worktree::Worktree;
use crate::process_group::{GroupGuard, ProcessGroup};

/// How much of a failed setup's output is kept.
const OUTPUT_TAIL: usize = 2000;

/// Copies and sets up `wt` unless that was done; `env` is added to the setup's environment (the
/// attempt's tag, so that whatever the setup leaves running is stopped with the attempt).
pub(super) async fn make_ready(
    settings: &WorkspaceSettings,
    wt: &Worktree,
    env: &[(String, String)],
) -> Result<(), WorkspaceError> {
    let marker = wt.ready_marker().await?;
    if marker.exists() {
        return Ok(());
    }
    for path in &settings.copy {
        copy_in(wt, path).await?;
    }
    if let Some(command) = &settings.setup {
        setup(command, wt, settings.setup_timeout, env).await?;
    }
    std::fs::write(&marker, b"ready\n").map_err(|source| WorkspaceError::Io {
        what: "marking the worktree ready",
        path: marker,
        source,
    })
}

/// `cp -a --reflink=auto -T <checkout>/<path> <worktree>/<path>` (skipped when the checkout has
/// no such path).
async fn copy_in(wt: &Worktree, path: &std::path::Path) -> Result<(), WorkspaceError> {
    let from = wt.repo.join(path);
    if std::fs::symlink_metadata(&from).is_err() {
        tracing::debug!(path = %from.display(), "workspace.copy: not in the checkout, skipped");
        return Ok(());
    }
    let to = wt.path.join(path);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|source| WorkspaceError::Io {
            what: "creating",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let out = tokio::process::Command::new("cp")
        .args(["-a", "--reflink=auto", "-T"])
        .arg(&from)
        .arg(&to)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| WorkspaceError::Copy {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(WorkspaceError::Copy {
            path: path.to_path_buf(),
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Runs `sh -c command` at the worker's cwd in a process group of its own; the group is killed
/// when it runs longer than `timeout`, when it is done, and when this is dropped. Fails with the
/// end of its output.
async fn setup(
    command: &str,
    wt: &Worktree,
    timeout: Duration,
    env: &[(String, String)],
) -> Result<(), WorkspaceError> {
    let cwd = wt.cwd();
    let failed = |status: String, output: String| WorkspaceError::Setup {
        command: command.to_string(),
        cwd: cwd.clone(),
        status,
        output,
    };
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&cwd)
        .env_remove("CLAUDECODE")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed("could not start".into(), e.to_string()))?;
    // The group goes however this ends (finished, timed out, or dropped: the attempt stopped).
    let group = ProcessGroup::new();
    if let Some(pid) = child.id() {
        group.set(pid);
    }
    let _guard = GroupGuard(group.clone());
    // Killed once, then forgotten: a group id used again later is never signalled.
    let kill = || {
        group.signal(Signal::SIGKILL);
        group.clear();
    };
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    // When the setup's shell ends, its group goes too (what it started in the background would
    // hold the pipes open): then the output is drained.
    let run = async {
        let leader = async {
            let status = child.wait().await;
            kill();
            status
        };
        let reads =
            async { tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err)) };
        tokio::join!(leader, reads).0
    };
    let status = tokio::time::timeout(timeout, run).await;
    let tail = |out: &[u8], err: &[u8]| {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(out),
            String::from_utf8_lossy(err)
        );
        let text = text.trim();
        let start = text
            .char_indices()
            .rev()
            .nth(OUTPUT_TAIL)
            .map_or(0, |(i, _)| i);
        text[start..].to_string()
    };
    match status {
        Err(_) => {
            kill();
            let _ = child.wait().await;
            Err(failed(
                format!(
                    "killed after workspace.setup_timeout {}",
                    humantime::format_duration(timeout)
                ),
                tail(&out, &err),
            ))
        }
        Ok(Err(e)) => {
            kill();
            Err(failed("could not wait for it".into(), e.to_string()))
        }
        Ok(Ok(status)) => {
            if status.success() {
                Ok(())
            } else {
                Err(failed(status.to_string(), tail(&out, &err)))
            }
        }
    }
}
