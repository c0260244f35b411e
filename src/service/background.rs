//! What the service does on its own while it runs: the retention on its schedule, the sessions
//! told when a spending ceiling is reached, and, at start, the requests with attempts still on
//! worker nodes carried on.

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

/// Requests a killed smithd left with attempts running on worker nodes carry on: resumed at
/// start, each such attempt followed where it runs (its outcome, reached meanwhile or later, is
/// applied; it is not started again). Without a cluster now they stay interrupted (a resume
/// starts them again).
pub(super) async fn carry_on_remote(shared: Arc<ServiceShared>, requests: Vec<String>) {
    let Some(sessions) = shared.sessions() else {
        return;
    };
    if shared.remote.is_none() {
        tracing::warn!(requests = ?requests, "requests had attempts on worker nodes, but no cluster is configured now: they stay interrupted (smith resume starts them again)");
        return;
    }
    for id in requests {
        match sessions.resume(&id, None).await {
            Ok(()) => {
                tracing::info!(request = %id, "request with attempts on worker nodes carries on")
            }
            Err(e) => {
                tracing::warn!(request = %id, error = %e, "cannot carry on a request with attempts on worker nodes")
            }
        }
    }
}
