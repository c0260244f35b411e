//! What the service does on its own while it runs: the retention on its schedule, and the
//! sessions told when a spending ceiling is reached.

use std::sync::Arc;

use super::shared::ServiceShared;

/// Applies the retention every `store.prune_every` (a schedule, not a poll: nothing else tells
/// when requests become old).
pub(super) async fn prune_periodically(shared: Arc<ServiceShared>) {
    let every = shared.config.store.prune_every;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(store) = shared.store() else {
            continue;
        };
        let retention = shared.config.retention();
        match store.call(move |c| retention.prune_now(c)).await {
            Ok(r) if r.requests > 0 => {
                tracing::info!(requests = r.requests, bytes_freed = r.bytes_freed, "pruned")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed; trying again later"),
        }
    }
}

/// Tells the sessions each time a spending ceiling is reached (their running requests under it
/// stop).
pub(super) async fn stop_at_ceilings(shared: Arc<ServiceShared>) {
    let mut reached = shared.ledger.subscribe();
    while reached.changed().await.is_ok() {
        if let Some(sessions) = shared.sessions() {
            sessions.ceiling_reached();
        }
    }
}
