//! The shutdown switch passed into [`super::run`]: the first request stops smithd gracefully
//! (running requests get `service.shutdown_grace` to finish), a second one hurries it (no grace).

use tokio::sync::watch;

/// How urgently smithd should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ShutdownLevel {
    /// Keep running.
    Run,
    /// Stop accepting, let running requests finish within the grace, then interrupt them.
    Graceful,
    /// Interrupt running requests now.
    Immediate,
}

/// Creates the switch: the sender goes to whoever triggers (signal handler, tests), the receiver
/// into [`super::run`].
pub fn channel() -> (watch::Sender<ShutdownLevel>, watch::Receiver<ShutdownLevel>) {
    watch::channel(ShutdownLevel::Run)
}

/// Raises the level to at least `level` (never lowers it).
pub fn raise(tx: &watch::Sender<ShutdownLevel>, level: ShutdownLevel) {
    tx.send_if_modified(|current| {
        if level > *current {
            *current = level;
            true
        } else {
            false
        }
    });
}

/// Waits until the level is at least `level`. Returns at once if the sender is gone.
pub async fn reached(rx: &mut watch::Receiver<ShutdownLevel>, level: ShutdownLevel) {
    let _ = rx.wait_for(|l| *l >= level).await;
}
