//! Durable state in SQLite: sessions, requests, tasks, attempts and merged answers.
//!
//! - [`schema`]: the versioned schema and its migrations;
//! - [`queries`]: one function per state change or read, each one transaction;
//! - [`records`]: the records as the rest of smith sees them;
//! - [`retention`]: pruning what is not kept, and giving the space back;
//! - `actor`: the Store actor that owns the connection, and [`StoreHandle`] to talk to it;
//!   `cell`: where the current handle is found ([`StoreCell`]).
//!
//! The database runs in WAL mode with foreign keys on. Every state change is committed before the
//! caller's future resolves, so nothing is acknowledged that is not on disk.

pub(crate) mod actor;
mod cell;
pub(crate) mod error;
pub mod queries;
pub mod records;
pub mod retention;
pub mod schema;
mod settings;

pub use actor::{StoreHandle, open_database};
pub use cell::StoreCell;
pub use error::StoreError;
pub use records::{
    AttemptRecord, OrphanCandidate, RequestDetail, RequestRecord, RequestStatus, SessionSummary,
    TaskStatus, Turn,
};
pub use retention::{PruneReport, Retention};
pub use settings::StoreSettings;
