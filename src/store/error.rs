//! Errors of the store.

use std::path::PathBuf;

/// What can go wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be opened as a database.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The file is not a (healthy) SQLite database.
    #[error("database {path} is corrupt or not a smith database: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// Written by a newer smith.
    #[error(
        "database {path} has schema version {found}, newer than this smith supports ({supported}); \
         upgrade smith or use another data directory"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },
    /// A migration failed (the transaction was rolled back).
    #[error("migrating database {path} to schema version {version} failed: {source}")]
    Migration {
        /// The file.
        path: PathBuf,
        /// The version being applied.
        version: u32,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("database error while {action}: {source}")]
    Query {
        /// What smith was doing.
        action: &'static str,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A record does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// Kind of record.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The store actor is gone.
    #[error("the store is not running: {0}")]
    Unavailable(String),
}

/// Adds the action to a rusqlite error.
pub trait QueryContext<T> {
    /// Names what was being done.
    fn ctx(self, action: &'static str) -> Result<T, StoreError>;
}

impl<T> QueryContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, action: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query { action, source })
    }
}
