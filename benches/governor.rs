//! What the governor adds to an attempt's start when its gate is open and a slot is free: a bare
//! semaphore permit (the baseline: what an attempt took before the governor) and the governor's
//! admission followed by its fair, adaptive process slot, alternated in the same run. Reports the p50 of each and the
//! difference (target <= 50 µs).
//!
//! `cargo bench --features stand-in --bench governor` (SMITH_BENCH_ROUNDS: 100,000 of each).

use std::sync::Arc;
use std::time::{Duration, Instant};

use smith::governor::{Governor, Slots};
use tokio::sync::Semaphore;

mod common;

use common::{env_or, p50};

fn main() {
    let rounds = env_or("SMITH_BENCH_ROUNDS", 100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let permits = Arc::new(Semaphore::new(8));
        let slots = Slots::new(8);
        let governor = Governor::new(Default::default(), slots.clone());
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let (mut slot, mut admitted) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            let permit = permits.clone().acquire_owned().await.unwrap();
            slot.push(t.elapsed());
            drop(permit);

            let t = Instant::now();
            let admission = governor.admit(far, |_| {}).await.unwrap();
            let slot = slots.acquire("bench").await;
            admitted.push(t.elapsed());
            drop((admission, slot));
        }
        let (a, b) = (p50(slot), p50(admitted));
        println!(
            "governor, {rounds} admissions at an open gate: p50 bare permit {:.2} µs, p50 admit + slot {:.2} µs, added {:.2} µs per attempt (target <= 50 µs)",
            a.as_secs_f64() * 1e6,
            b.as_secs_f64() * 1e6,
            (b.as_secs_f64() - a.as_secs_f64()) * 1e6
        );
    });
}
