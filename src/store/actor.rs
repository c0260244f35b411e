//! The Store actor owns the SQLite connection. Each request runs on tokio's blocking pool (never
//! on an async worker), one at a time in arrival order, and its result — committed — is what
//! the caller receives: a state change is durable before anyone hears of it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::StoreError;
use super::schema;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Messages of the store actor.
pub enum StoreMsg {
    /// Run a job on the connection.
    Run(Job),
}

/// The store actor.
pub struct Store;

/// The store actor's state: the connection.
pub struct StoreState {
    conn: Arc<Mutex<Connection>>,
}

impl Actor for Store {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = Connection;

    async fn pre_start(
        &self,
        _myself: ActorRef<StoreMsg>,
        conn: Connection,
    ) -> Result<StoreState, ActorProcessingErr> {
        Ok(StoreState {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<StoreMsg>,
        msg: StoreMsg,
        state: &mut StoreState,
    ) -> Result<(), ActorProcessingErr> {
        let StoreMsg::Run(job) = msg;
        let conn = state.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            job(&mut conn);
        })
        .await?;
        Ok(())
    }
}

/// Opens (creating if needed) the database at `path`: WAL, foreign keys on, migrated to the
/// latest schema. A newer or corrupt database is an error, never modified.
pub fn open_database(path: &Path) -> Result<Connection, StoreError> {
    let open = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(open)?;
    // Reading the version is the first real access: a file that is not a database fails here.
    schema::version(&conn, path)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(corrupt)?;
    // WAL with synchronous=NORMAL survives a crash of smithd (kill -9) without losing a commit;
    // only a power loss may drop the last transactions.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(corrupt)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(corrupt)?;
    schema::migrate(&mut conn, path)?;
    Ok(conn)
}

/// A handle to the store actor.
#[derive(Clone)]
pub struct StoreHandle {
    actor: ActorRef<StoreMsg>,
    path: Arc<PathBuf>,
}

impl StoreHandle {
    /// Opens the database and starts the store actor.
    pub async fn open(path: &Path) -> Result<(Self, JoinHandle<()>), StoreError> {
        let owned = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || open_database(&owned))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))??;
        let (actor, handle) = Actor::spawn(None, Store, conn)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok((
            Self {
                actor,
                path: Arc::new(path.to_path_buf()),
            },
            handle,
        ))
    }

    /// Wraps a running store actor.
    pub fn from_actor(actor: ActorRef<StoreMsg>, path: &Path) -> Self {
        Self {
            actor,
            path: Arc::new(path.to_path_buf()),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The actor (to supervise or stop it).
    pub fn actor(&self) -> &ActorRef<StoreMsg> {
        &self.actor
    }

    /// Runs `f` on the connection (on the blocking pool) and returns its result once it is
    /// committed.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        self.actor
            .send_message(StoreMsg::Run(job))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the store stopped before answering".into()))?
    }
}
