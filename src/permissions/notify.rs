//! `permissions.notify_command`: the operator's command, run when a tool call starts waiting for
//! a person (a desktop notification, a chat message), with the approval as JSON on its stdin. It
//! runs in a process group of its own, is killed with it after [`NOTIFY_TIMEOUT`] or when it is
//! done, and is always reaped; a failure is logged, never held against the call.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::io::AsyncWriteExt;

use crate::process_group::{GroupGuard, ProcessGroup};
use crate::protocol::ApprovalInfo;

/// How long the command may run.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `command` for `info` in a task of its own.
pub fn notify(command: &str, info: &ApprovalInfo) {
    let command = command.to_string();
    let json = serde_json::json!({
        "id": info.id,
        "session": info.session,
        "request_id": info.request_id,
        "task_id": info.task_id,
        "attempt": info.attempt,
        "tool": info.tool,
        "summary": info.summary,
        "input": info.input,
        "asked_at_ms": info.asked_at_ms,
        "expires_at_ms": info.expires_at_ms,
        "approve": format!("smith approve {}", info.id),
        "deny": format!("smith deny {}", info.id),
    });
    let id = info.id.clone();
    tokio::spawn(async move {
        if let Err(why) = run(&command, json.to_string()).await {
            tracing::warn!(approval = %id, command = %command, %why, "permissions.notify_command failed");
        }
    });
}

async fn run(command: &str, input: String) -> Result<(), String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    let group = ProcessGroup::new();
    if let Some(pid) = child.id() {
        group.set(pid);
    }
    let _guard = GroupGuard(group.clone());
    let mut stdin = child.stdin.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let run = async {
        // A command that does not read its stdin is not an error.
        let _ = stdin.write_all(input.as_bytes()).await;
        drop(stdin);
        let mut err = Vec::new();
        let (status, _) = tokio::join!(child.wait(), async {
            use tokio::io::AsyncReadExt;
            let _ = (&mut stderr).take(4096).read_to_end(&mut err).await;
        });
        (status, err)
    };
    let (status, err) = tokio::time::timeout(NOTIFY_TIMEOUT, run)
        .await
        .map_err(|_| format!("still running after {NOTIFY_TIMEOUT:?}; killed"))?;
    group.signal(Signal::SIGKILL);
    group.clear();
    let status = status.map_err(|e| format!("cannot wait for it: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&err).trim()
        ))
    }
}
