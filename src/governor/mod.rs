//! The governor: one API account, many workers. Every attempt of every session passes its gate;
//! a throttle seen by any worker (a 429 or 529, an `api_retry` of one, a `rate_limit_event` that
//! is `rejected`) closes it for all — until the advertised reset, or for a growing backoff and
//! then one probe at a time — and a throttled attempt waits there and starts again (resuming its
//! Claude session) without its task failing, so the supervisor and the request's restart
//! intensity never see it. Past `governor.max_wait` a task's attempt ends `rate_limited`. The
//! process cap halves with each throttle and grows back with successes; sessions take turns at it.
//!
//! - `gate`: the gate itself (pure); `slots`: the process slots, in turn across sessions under a
//!   cap that adapts to throttles; `governor`: the service's one ([`Governor`]); `settings`:
//!   `[governor]`.
//!
//! A leaf: it imports only the settings helpers and the metrics.

mod gate;
#[allow(clippy::module_inception)]
mod governor;
mod settings;
mod slots;

pub use gate::{Admit, Backoffs, Gate, GateState, Throttle};
pub use governor::{Admission, GateView, Governor, Waiting};
pub use settings::GovernorSettings;
pub use slots::{Slot, Slots, SlotsView};
