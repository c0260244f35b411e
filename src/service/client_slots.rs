//! Who holds the control server's client slots. A connection is either *waiting* for its client
//! (handshake, between requests, in the middle of a frame) or *busy* (smithd is answering or
//! streaming a request). When every slot is taken, a new client takes the slot of the connection
//! that has waited longest; only when all are busy is it told to come back. So silent or stalled
//! clients cost a slot for as long as nobody else needs it, never lock others out, and `health`
//! or `status` always get through while slots are merely held by idle clients.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

#[derive(Debug)]
struct Entry {
    /// Since when it waits for its client (`None`: busy).
    waiting_since: Option<Instant>,
    evict: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    evictions: u64,
}

/// The table of slots.
#[derive(Debug)]
pub struct ClientSlots {
    table: Mutex<Table>,
    max: usize,
}

/// One connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct ClientSlot {
    slots: Arc<ClientSlots>,
    id: u64,
    evict: Arc<Notify>,
}

impl ClientSlots {
    /// At most `max` connections.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            table: Mutex::new(Table::default()),
            max: max.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a new connection (waiting from now on), taking the one that has waited longest
    /// when all are held; `None` when every connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<ClientSlot> {
        let mut table = self.lock();
        if table.entries.len() >= self.max {
            let oldest = table
                .entries
                .iter()
                .filter_map(|(id, e)| e.waiting_since.map(|since| (since, *id)))
                .min()
                .map(|(_, id)| id)?;
            if let Some(entry) = table.entries.remove(&oldest) {
                entry.evict.notify_one();
                table.evictions += 1;
                tracing::debug!(
                    connection = oldest,
                    "client slots full: closing the connection that waited longest"
                );
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let evict = Arc::new(Notify::new());
        table.entries.insert(
            id,
            Entry {
                waiting_since: Some(Instant::now()),
                evict: evict.clone(),
            },
        );
        Some(ClientSlot {
            slots: self.clone(),
            id,
            evict,
        })
    }

    /// Connections held now.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.lock().entries.len()
    }

    /// Connections closed so far to make room.
    #[cfg(test)]
    pub fn evictions(&self) -> u64 {
        self.lock().evictions
    }
}

impl ClientSlot {
    fn set(&self, waiting: bool) {
        if let Some(e) = self.slots.lock().entries.get_mut(&self.id) {
            e.waiting_since = waiting.then(Instant::now);
        }
    }

    /// The connection now waits for its client (and may be closed to make room).
    pub fn waiting(&self) {
        self.set(true);
    }

    /// smithd is answering (the connection is not closed to make room).
    pub fn busy(&self) {
        self.set(false);
    }

    /// Resolves once another client took this slot.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.slots.lock().entries.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_longest_waiting_connection_makes_room_and_busy_ones_are_kept() {
        let slots = ClientSlots::new(3);
        let a = slots.admit().unwrap();
        let b = slots.admit().unwrap();
        let c = slots.admit().unwrap();
        b.busy();
        // a waited longest: the fourth client takes its slot.
        let d = slots.admit().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), a.evicted())
            .await
            .expect("a was told to close");
        assert_eq!(slots.held(), 3);
        c.busy();
        d.busy();
        // Everyone is busy: a fifth client is refused.
        assert!(slots.admit().is_none());
        drop(b);
        assert!(slots.admit().is_some());
        assert_eq!(slots.evictions(), 1);
    }
}
