//! The Store actor owns the SQLite connection, on a thread of its own (blocking work never runs
//! on an async worker). Jobs run in arrival order; the thread takes every job waiting and runs
//! them in one transaction, so a burst of progress records costs one commit. A caller of
//! [`StoreHandle::call`] gets its result only after that commit: a state change is durable
//! before anyone hears of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::error::StoreError;
use super::schema;

/// What runs after the batch's commit: delivers a job's result, or the commit's failure.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A job: runs on the connection inside the batch's transaction (or, given `None`, learns that
/// no transaction could begin and touches nothing), returns its reply.
type Job = Box<dyn FnOnce(Option<&mut Connection>) -> Reply + Send>;

/// How long a statement waits for a lock another process holds, per try.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// Tries to begin a batch's transaction before its jobs are failed.
const BEGIN_TRIES: u32 = 3;

/// Messages of the store actor.
pub enum StoreMsg {
    /// Run a job on the connection.
    Run(Job),
}

/// The store actor.
pub struct Store;

/// The store actor's state: the queue of the database thread, and the thread.
pub struct StoreState {
    jobs: Option<std_mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Actor for Store {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = (Connection, PathBuf);

    async fn pre_start(
        &self,
        _myself: ActorRef<StoreMsg>,
        (conn, path): (Connection, PathBuf),
    ) -> Result<StoreState, ActorProcessingErr> {
        let (tx, rx) = std_mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("smith-store".into())
            .spawn(move || run_jobs(conn, rx, &path))?;
        Ok(StoreState {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<StoreMsg>,
        state: &mut StoreState,
    ) -> Result<(), ActorProcessingErr> {
        // A graceful stop flushes: the thread finishes every queued job, then ends.
        state.jobs = None;
        if let Some(thread) = state.thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .ok();
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<StoreMsg>,
        msg: StoreMsg,
        state: &mut StoreState,
    ) -> Result<(), ActorProcessingErr> {
        let StoreMsg::Run(job) = msg;
        state
            .jobs
            .as_ref()
            .ok_or("the store is stopping")?
            .send(job)
            .map_err(|_| "the database thread stopped")?;
        Ok(())
    }
}

/// The database thread: batches of waiting jobs, one transaction each. Ends when the actor (the
/// only sender) is gone and the queue is empty.
fn run_jobs(mut conn: Connection, rx: std_mpsc::Receiver<Job>, path: &Path) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 256 {
                break;
            }
        }
        // Another process may hold the database (busy_timeout waits for it, per try); a batch that
        // cannot begin is not run at all, and every job hears why.
        let mut begun = conn.execute_batch("BEGIN IMMEDIATE");
        for _ in 1..BEGIN_TRIES {
            if begun.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            begun = conn.execute_batch("BEGIN IMMEDIATE");
        }
        if let Err(source) = begun {
            tracing::error!(path = %path.display(), error = %source, jobs = batch.len(), "cannot begin a transaction; the batch is not written");
            let failure = StoreError::Query {
                action: "beginning a transaction",
                source,
            };
            for job in batch {
                job(None)(Some(&failure));
            }
            continue;
        }
        let replies: Vec<Reply> = batch.into_iter().map(|job| job(Some(&mut conn))).collect();
        let failure = conn.execute_batch("COMMIT").err().map(|source| {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(path = %path.display(), error = %source, "database commit failed");
            StoreError::Query {
                action: "committing",
                source,
            }
        });
        for reply in replies {
            reply(failure.as_ref());
        }
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
    // The database holds prompts and answers: created 0600 whatever the umask (SQLite gives its
    // journal and WAL files the database file's permissions).
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("cannot create {}: {e}", path.display())),
                ),
            })?;
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
    // Reading the version is the first real access: a file that is not a database fails here.
    schema::version(&conn, path)?;
    // Before any table exists, a new database takes incremental vacuum for free.
    if schema::version(&conn, path)? == 0 {
        super::retention::ensure_incremental_vacuum(&conn)?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(corrupt)?;
    // WAL with synchronous=NORMAL survives a crash of smithd (kill -9) without losing a commit;
    // only a power loss may drop the last transactions.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(corrupt)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(corrupt)?;
    conn.set_prepared_statement_cache_capacity(64);
    schema::migrate(&mut conn, path)?;
    // After the migration, which refuses a newer database: that one is never modified.
    if super::retention::ensure_incremental_vacuum(&conn)? {
        tracing::info!(path = %path.display(), "database switched to incremental vacuum");
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
    }
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
        let (actor, handle) = Actor::spawn(None, Store, (conn, path.to_path_buf()))
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

    /// Wraps a running store actor (started by a supervisor).
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

    /// Queues `f` without waiting for it: for records nobody is told about (progress of an
    /// attempt). Jobs run in order, so a later [`call`](Self::call) returns only after this one
    /// is committed. Failures are logged with `action`.
    pub fn send<F>(&self, action: &'static str, f: F)
    where
        F: FnOnce(&mut Connection) -> Result<(), StoreError> + Send + 'static,
    {
        self.send_then(action, f, |()| {});
    }

    /// Queues `f` like [`send`](Self::send); `then` gets its result once it is committed (on
    /// the store's thread: it must not block). Failures are logged with `action`, and `then`
    /// is not called.
    pub fn send_then<T, F, G>(&self, action: &'static str, f: F, then: G)
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        G: FnOnce(T) + Send + 'static,
    {
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(StoreError::Unavailable("no transaction could begin".into())),
            };
            Box::new(
                move |commit_failure: Option<&StoreError>| match (result, commit_failure) {
                    (Ok(value), None) => then(value),
                    (Err(e), _) => tracing::error!(error = %e, action, "database write failed"),
                    (Ok(_), Some(e)) => {
                        tracing::error!(error = %e, action, "database write failed")
                    }
                },
            )
        });
        if let Err(e) = self.actor.send_message(StoreMsg::Run(job)) {
            tracing::error!(error = %e, action, "the store is not running");
        }
    }

    /// Runs `f` on the connection and returns its result once it is committed.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(StoreError::Unavailable(
                    "the database is locked or failing".into(),
                )),
            };
            Box::new(move |commit_failure: Option<&StoreError>| {
                let result = match commit_failure {
                    Some(e) => Err(StoreError::Unavailable(e.to_string())),
                    None => result,
                };
                let _ = tx.send(result);
            })
        });
        self.actor
            .send_message(StoreMsg::Run(job))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the store stopped before answering".into()))?
    }
}
