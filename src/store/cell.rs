//! Where the current store is found: the root tree restarts the Store actor (a new handle each
//! time), so what outlives it — the service's shared state, the approvals desk — holds this cell
//! and reads the handle when it writes.

use std::sync::{Arc, RwLock};

use super::actor::StoreHandle;

/// The current store (none before it started).
#[derive(Clone, Default)]
pub struct StoreCell(Arc<RwLock<Option<StoreHandle>>>);

impl StoreCell {
    /// The current store.
    pub fn get(&self) -> Option<StoreHandle> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Publishes the store (started or restarted).
    pub fn set(&self, store: StoreHandle) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(store);
    }
}
