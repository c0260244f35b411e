//! The process slots every attempt takes (`limits.max_concurrent_tasks`): handed out in turn
//! across sessions when there are fewer than attempts (one session's 16-task fan-out does not
//! starve another session's one-task request), under a cap that adapts to the API account — halved
//! at each throttle, grown back by one after as many successes as the cap is wide (AIMD), never
//! above the limit, never below one.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::telemetry::metrics::metrics;

struct Waiter {
    id: u64,
    granted: oneshot::Sender<()>,
}

struct State {
    max: usize,
    cap: usize,
    in_use: usize,
    successes: usize,
    next_id: u64,
    /// Waiters per session, oldest first.
    queues: BTreeMap<String, VecDeque<Waiter>>,
    /// Sessions with waiters, in the order they take their turns.
    turns: VecDeque<String>,
}

/// The slots (see the module doc).
pub struct Slots {
    state: Mutex<State>,
    /// Told each time an attempt starts waiting (a warm worker holding a slot gives it up).
    wanted: tokio::sync::Notify,
}

/// One slot, given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.in_use -= 1;
        grant(&mut state);
    }
}

/// What `smith status` shows of the slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotsView {
    /// The limit (`limits.max_concurrent_tasks`).
    pub max: usize,
    /// The cap now (≤ max; lower after throttles).
    pub cap: usize,
    /// Slots in use.
    pub in_use: usize,
    /// Attempts waiting for a slot, by session.
    pub queued: Vec<(String, usize)>,
}

/// Hands free slots to waiters, one session after another.
fn grant(state: &mut State) {
    while state.in_use < state.cap {
        let Some(session) = state.turns.pop_front() else {
            return;
        };
        let queue = state
            .queues
            .get_mut(&session)
            .expect("a session in turn has waiters");
        let waiter = queue.pop_front().expect("a session in turn has waiters");
        if queue.is_empty() {
            state.queues.remove(&session);
        } else {
            state.turns.push_back(session);
        }
        // A waiter that left is skipped (its Drop found it gone from the queue only if it had
        // already been granted).
        if waiter.granted.send(()).is_ok() {
            state.in_use += 1;
        }
    }
}

impl Slots {
    /// `max` slots, all open.
    pub fn new(max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            state: Mutex::new(State {
                max,
                cap: max,
                in_use: 0,
                successes: 0,
                next_id: 0,
                queues: BTreeMap::new(),
                turns: VecDeque::new(),
            }),
            wanted: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot now, if one is free and nobody waits.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        let mut state = self.lock();
        (state.in_use < state.cap && state.turns.is_empty()).then(|| {
            state.in_use += 1;
            Slot {
                slots: self.clone(),
            }
        })
    }

    /// A slot for an attempt of `session`, in its session's turn.
    pub async fn acquire(self: &Arc<Self>, session: &str) -> Slot {
        if let Some(slot) = self.try_acquire() {
            return slot;
        }
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut state = self.lock();
            let id = state.next_id;
            state.next_id += 1;
            let queue = state.queues.entry(session.to_string()).or_default();
            queue.push_back(Waiter { id, granted: tx });
            if queue.len() == 1 {
                state.turns.push_back(session.to_string());
            }
            grant(&mut state);
            id
        };
        self.wanted.notify_one();
        let mut waiting = Waiting {
            slots: self.clone(),
            session: session.to_string(),
            id,
            rx: Some(rx),
        };
        let rx = waiting.rx.as_mut().expect("set above");
        let _ = rx.await;
        waiting.rx = None;
        Slot {
            slots: self.clone(),
        }
    }

    /// Resolves when an attempt starts waiting for a slot (one listener per waiter).
    pub async fn wanted(&self) {
        self.wanted.notified().await
    }

    /// Attempts waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.lock().queues.values().map(VecDeque::len).sum()
    }

    /// A throttle: the cap is halved (what runs goes on; fewer start).
    pub fn throttled(&self) {
        let mut state = self.lock();
        state.cap = (state.cap / 2).max(1);
        state.successes = 0;
        metrics().governor_cap.record(state.cap as u64, &[]);
    }

    /// An attempt reached the API: after as many as the cap is wide, it grows by one.
    pub fn succeeded(&self) {
        let mut state = self.lock();
        if state.cap >= state.max {
            return;
        }
        state.successes += 1;
        if state.successes >= state.cap {
            state.successes = 0;
            state.cap += 1;
            metrics().governor_cap.record(state.cap as u64, &[]);
            grant(&mut state);
        }
    }

    /// Where the slots stand.
    pub fn view(&self) -> SlotsView {
        let state = self.lock();
        SlotsView {
            max: state.max,
            cap: state.cap,
            in_use: state.in_use,
            queued: state
                .queues
                .iter()
                .map(|(s, q)| (s.clone(), q.len()))
                .collect(),
        }
    }
}

/// A waiter's place in its queue: leaving before its grant removes it; a grant it never took is
/// given back.
struct Waiting {
    slots: Arc<Slots>,
    session: String,
    id: u64,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        let mut state = self.slots.lock();
        if rx.try_recv().is_ok() {
            state.in_use -= 1;
            grant(&mut state);
            return;
        }
        if let Some(queue) = state.queues.get_mut(&self.session) {
            queue.retain(|w| w.id != self.id);
            if queue.is_empty() {
                state.queues.remove(&self.session);
                state.turns.retain(|s| s != &self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sessions_take_turns_at_the_cap() {
        let slots = Slots::new(2);
        let a = slots.acquire("big").await;
        let b = slots.acquire("big").await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (i, session) in ["big", "big", "big", "small"].into_iter().enumerate() {
            let (slots, order) = (slots.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let slot = slots.acquire(session).await;
                order.lock().unwrap().push(format!("{session}{i}"));
                tokio::task::yield_now().await;
                drop(slot);
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(
            slots.view().queued,
            [("big".to_string(), 3), ("small".to_string(), 1)]
        );
        drop(a);
        drop(b);
        for w in waiters {
            w.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(
            order[..2],
            ["big0", "small3"],
            "small does not wait for big's whole queue"
        );
        assert_eq!(slots.view().in_use, 0);
    }

    #[tokio::test]
    async fn the_cap_halves_on_a_throttle_and_grows_back_with_successes() {
        let slots = Slots::new(8);
        slots.throttled();
        assert_eq!(slots.view().cap, 4);
        slots.throttled();
        slots.throttled();
        slots.throttled();
        assert_eq!(slots.view().cap, 1, "never below one");
        let held: Vec<Slot> = vec![slots.try_acquire().unwrap()];
        assert!(slots.try_acquire().is_none(), "at the cap");
        slots.succeeded();
        assert_eq!(slots.view().cap, 2, "one success per slot of the cap");
        for _ in 0..2 {
            slots.succeeded();
        }
        assert_eq!(slots.view().cap, 3);
        for _ in 0..100 {
            slots.succeeded();
        }
        assert_eq!(slots.view().cap, 8, "never above the limit");
        drop(held);
    }

    #[tokio::test]
    async fn a_waiter_that_leaves_gives_its_place_or_its_grant_back() {
        let slots = Slots::new(1);
        let first = slots.try_acquire().unwrap();
        let waiting = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.acquire("s").await })
        };
        tokio::task::yield_now().await;
        waiting.abort();
        let _ = waiting.await;
        assert!(slots.view().queued.is_empty());
        drop(first);
        assert_eq!(slots.view().in_use, 0);
        assert!(slots.try_acquire().is_some());
    }
}
