//! The OTP suite's helpers: a supervisor's flags and spec of test workers, its children's
//! current incarnations, and waiting until they were restarted.

use std::time::Duration;

use ractor::ActorCell;
use smith::supervisor::{Backoff, Strategy, SupervisorFlags, SupervisorRef, SupervisorSpec};

use super::actors::{Log, cell_of, worker};
use super::eventually;

/// How long a test waits for a supervisor to act.
pub const WAIT: Duration = Duration::from_secs(10);

/// One-for-… flags with an intensity of 3 in 5 s and no backoff.
pub fn flags(strategy: Strategy) -> SupervisorFlags {
    SupervisorFlags {
        strategy,
        max_restarts: 3,
        period: Duration::from_secs(5),
        backoff: Backoff::none(),
        ..SupervisorFlags::default()
    }
}

/// A supervisor of `strategy` with a test worker per name.
pub fn spec(strategy: Strategy, log: &Log, names: &[&str]) -> SupervisorSpec {
    let mut spec = SupervisorSpec::new(format!("test-{strategy}")).flags(flags(strategy));
    for n in names {
        spec = spec.child(worker(n, log));
    }
    spec
}

/// The named children's current incarnations.
pub async fn cells(sup: &SupervisorRef, names: &[&str]) -> Vec<Option<ActorCell>> {
    let mut out = Vec::new();
    for n in names {
        out.push(cell_of(sup, n).await);
    }
    out
}

/// The same incarnation.
pub fn same(a: &Option<ActorCell>, b: &Option<ActorCell>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.get_id() == b.get_id(),
        _ => false,
    }
}

/// Waits until every named child runs an incarnation different from `before`.
pub async fn wait_restarted(sup: &SupervisorRef, names: &[&str], before: &[Option<ActorCell>]) {
    let ok = eventually(WAIT, || async {
        let now = cells(sup, names).await;
        now.iter()
            .zip(before)
            .all(|(n, b)| n.is_some() && !same(n, b))
    })
    .await;
    assert!(ok, "children {names:?} were not all restarted");
}

// ---------------------------------------------------------------- strategies: basic restart
