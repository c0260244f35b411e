//! Which Session actors are live, by name, and which are busy — kept by the Sessions themselves
//! (a Session registers when it starts, says when it becomes busy or idle, and leaves when it
//! stops), so that finding a Session, bringing back a retired one, capping how many are live and
//! waiting for all of them to be idle are events, never scans with sleeps.
//!
//! The map is behind a plain mutex held only for a lookup or an update, never across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ractor::ActorRef;
use tokio::sync::watch;

use super::message::SessionMsg;

/// Where a Session stands.
#[derive(Clone)]
pub enum Presence {
    /// Not running and not known to be coming back (never started, or the supervisor stopped).
    Absent,
    /// Someone is starting it.
    Starting,
    /// Running.
    Live(ActorRef<SessionMsg>),
    /// Idle and stopping; it starts again on demand once it has stopped.
    Retiring,
    /// It crashed; its supervisor restarts it.
    Restarting,
    /// It stopped after being idle; it starts again on demand.
    Retired,
}

struct Entry {
    presence: watch::Sender<Presence>,
    /// Since when it has nothing to do (`None`: busy, or not live).
    idle_since: Option<Instant>,
    /// Callers holding a [`Lease`] on it: it does not retire under them.
    users: usize,
}

impl Entry {
    fn new() -> Self {
        Self {
            presence: watch::Sender::new(Presence::Absent),
            idle_since: None,
            users: 0,
        }
    }
}

/// A caller's hold on a live Session while it talks to it: the Session does not retire
/// meanwhile, so no message to it is lost to a retirement.
pub struct Lease {
    registry: Registry,
    name: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(e) = self.registry.lock().get_mut(&self.name) {
            e.users = e.users.saturating_sub(1);
        }
    }
}

/// What [`Registry::claim`] found.
pub struct Claim {
    /// Where the Session stood.
    pub presence: Presence,
    /// The caller is to start it.
    pub claimed: bool,
    /// Wakes when its presence changes.
    pub changes: watch::Receiver<Presence>,
    /// Held while the caller talks to the live Session.
    pub lease: Option<Lease>,
}

/// The live Sessions of a service.
#[derive(Clone)]
pub struct Registry {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    busy: watch::Sender<usize>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
            busy: watch::Sender::new(0),
        }
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn recount(&self, entries: &HashMap<String, Entry>) {
        let busy = entries
            .values()
            .filter(|e| matches!(*e.presence.borrow(), Presence::Live(_)) && e.idle_since.is_none())
            .count();
        self.busy.send_replace(busy);
    }

    /// Where `name` stands, and a receiver that wakes when that changes. A live one comes with
    /// a [`Lease`]; an absent or retired one is claimed for the caller to start (`claimed`), so
    /// that only one caller starts it.
    pub fn claim(&self, name: &str) -> Claim {
        let mut entries = self.lock();
        let entry = entries.entry(name.to_string()).or_insert_with(Entry::new);
        let presence = entry.presence.borrow().clone();
        let claimed = matches!(presence, Presence::Absent | Presence::Retired);
        if claimed {
            entry.presence.send_replace(Presence::Starting);
        }
        let lease = matches!(presence, Presence::Live(_)).then(|| {
            entry.users += 1;
            Lease {
                registry: self.clone(),
                name: name.to_string(),
            }
        });
        Claim {
            changes: entry.presence.subscribe(),
            presence,
            claimed,
            lease,
        }
    }

    /// A lease on `name`, which the caller just started.
    pub fn lease(&self, name: &str) -> Lease {
        if let Some(e) = self.lock().get_mut(name) {
            e.users += 1;
        }
        Lease {
            registry: self.clone(),
            name: name.to_string(),
        }
    }

    /// `name` asks to retire: granted (it becomes `Retiring`) only while it is live, idle and
    /// nobody holds a lease on it.
    pub fn try_retire(&self, name: &str) -> bool {
        let mut entries = self.lock();
        let Some(e) = entries.get_mut(name) else {
            return false;
        };
        let ok = matches!(*e.presence.borrow(), Presence::Live(_))
            && e.idle_since.is_some()
            && e.users == 0;
        if ok {
            e.idle_since = None;
            e.presence.send_replace(Presence::Retiring);
            self.recount(&entries);
        }
        ok
    }

    /// A receiver that wakes when `name`'s presence changes (nothing claimed).
    pub fn watch(&self, name: &str) -> watch::Receiver<Presence> {
        let mut entries = self.lock();
        let entry = entries.entry(name.to_string()).or_insert_with(Entry::new);
        entry.presence.subscribe()
    }

    /// A start the caller claimed failed: the next caller tries again.
    pub fn unclaim(&self, name: &str) {
        if let Some(e) = self.lock().get(name) {
            e.presence.send_if_modified(|p| {
                let starting = matches!(p, Presence::Starting);
                if starting {
                    *p = Presence::Absent;
                }
                starting
            });
        }
    }

    /// `name` runs as `actor` (called by the start of its actor, also by supervisor restarts).
    pub fn live(&self, name: &str, actor: ActorRef<SessionMsg>) {
        let mut entries = self.lock();
        let entry = entries.entry(name.to_string()).or_insert_with(Entry::new);
        entry.idle_since = Some(Instant::now());
        entry.presence.send_replace(Presence::Live(actor));
        self.recount(&entries);
    }

    /// `name` stopped: `retired` after being idle, else it crashed or its supervisor stopped.
    pub fn left(&self, name: &str, retired: bool) {
        let mut entries = self.lock();
        if let Some(e) = entries.get_mut(name) {
            e.idle_since = None;
            e.presence.send_replace(if retired {
                Presence::Retired
            } else {
                Presence::Restarting
            });
        }
        self.recount(&entries);
    }

    /// The supervisor of the Sessions stopped: none comes back by itself.
    pub fn clear(&self) {
        let mut entries = self.lock();
        for e in entries.values_mut() {
            e.idle_since = None;
            e.presence.send_replace(Presence::Absent);
        }
        self.recount(&entries);
    }

    /// `name` has work (a running or queued request) or has none.
    pub fn set_busy(&self, name: &str, busy: bool) {
        let mut entries = self.lock();
        if let Some(e) = entries.get_mut(name) {
            match (busy, e.idle_since) {
                (true, Some(_)) => e.idle_since = None,
                (false, None) => e.idle_since = Some(Instant::now()),
                _ => return,
            }
        }
        self.recount(&entries);
    }

    /// The live Sessions.
    pub fn live_sessions(&self) -> Vec<(String, ActorRef<SessionMsg>)> {
        self.lock()
            .iter()
            .filter_map(|(name, e)| match &*e.presence.borrow() {
                Presence::Live(a) => Some((name.clone(), a.clone())),
                _ => None,
            })
            .collect()
    }

    /// How many Sessions are live or starting.
    pub fn live_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|e| {
                matches!(
                    *e.presence.borrow(),
                    Presence::Live(_) | Presence::Starting | Presence::Retiring
                )
            })
            .count()
    }

    /// The live Session idle the longest (other than `except`, and nobody's lease), if any.
    pub fn longest_idle(&self, except: &str) -> Option<(String, ActorRef<SessionMsg>)> {
        self.lock()
            .iter()
            .filter(|(name, e)| name.as_str() != except && e.users == 0)
            .filter_map(|(name, e)| match (&*e.presence.borrow(), e.idle_since) {
                (Presence::Live(a), Some(since)) => Some((since, name.clone(), a.clone())),
                _ => None,
            })
            .min_by_key(|(since, ..)| *since)
            .map(|(_, name, a)| (name, a))
    }

    /// Resolves once no live Session has work.
    pub async fn all_idle(&self) {
        let mut busy = self.busy.subscribe();
        let _ = busy.wait_for(|n| *n == 0).await;
    }

    /// How many live Sessions have work.
    pub fn busy_count(&self) -> usize {
        *self.busy.borrow()
    }
}
