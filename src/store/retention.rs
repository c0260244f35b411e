//! Retention: finished requests older than an age, or beyond the newest N of their session, are
//! deleted with their tasks, attempts and answers, and the pages they held are given back to the
//! file system (the database runs with `auto_vacuum = INCREMENTAL`), and their attempts'
//! transcripts with them. Queued and running requests are never pruned.

use std::time::Duration;

use rusqlite::{Connection, params};

use super::error::{QueryContext, StoreError};

/// What to keep.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retention {
    /// Where attempts' transcripts are, one directory per request (`None`: none kept).
    pub transcripts: Option<std::path::PathBuf>,
    /// Finished requests older than this go (`None`: any age).
    pub max_age: Option<Duration>,
    /// Of each session, only the newest this many requests stay (`None`: any number).
    pub max_requests_per_session: Option<u64>,
}

/// What a prune did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Requests deleted (with their tasks, attempts and answers).
    pub requests: u64,
    /// Bytes given back to the file system.
    pub bytes_freed: u64,
}

fn pragma_i64(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .ctx("reading the database's size")
}

impl Retention {
    /// Applies this retention now and gives the space back.
    pub fn prune_now(&self, conn: &Connection) -> Result<PruneReport, StoreError> {
        prune(conn, self, super::records::now_ms())
    }
}

/// Deletes what `retention` does not keep (as of `now_ms`), then gives the freed pages back.
pub fn prune(
    conn: &Connection,
    retention: &Retention,
    now_ms: i64,
) -> Result<PruneReport, StoreError> {
    let cutoff = retention
        .max_age
        .map(|age| now_ms.saturating_sub(age.as_millis().min(i64::MAX as u128) as i64));
    let keep = retention
        .max_requests_per_session
        .map(|n| n.min(i64::MAX as u64) as i64);
    let requests = conn
        .execute(
            "DELETE FROM requests
              WHERE status NOT IN ('queued', 'running')
                AND ((?1 IS NOT NULL AND COALESCE(finished_at, created_at) < ?1)
                  OR (?2 IS NOT NULL AND seq <= (SELECT r.seq FROM requests r
                                                  WHERE r.session = requests.session
                                                  ORDER BY r.seq DESC LIMIT 1 OFFSET ?2)))",
            params![cutoff, keep],
        )
        .ctx("pruning requests")? as u64;
    if let Some(dir) = &retention.transcripts {
        remove_orphan_transcripts(conn, dir)?;
    }
    let page = pragma_i64(conn, "page_size")?;
    let before = pragma_i64(conn, "page_count")?;
    // Stepped to completion: each step of this pragma frees one page.
    let mut vacuum = conn
        .prepare("PRAGMA incremental_vacuum")
        .ctx("giving freed pages back")?;
    let mut steps = vacuum.query([]).ctx("giving freed pages back")?;
    while steps.next().ctx("giving freed pages back")?.is_some() {}
    let after = pragma_i64(conn, "page_count")?;
    Ok(PruneReport {
        requests,
        bytes_freed: ((before - after).max(0) * page) as u64,
    })
}

/// Removes the transcript directories of requests the database no longer has (pruned now, or
/// before a crash between the two). A directory that cannot be removed is left for the next
/// prune (logged).
fn remove_orphan_transcripts(conn: &Connection, dir: &std::path::Path) -> Result<(), StoreError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut known = conn
        .prepare_cached("SELECT 1 FROM requests WHERE id = ?1")
        .ctx("preparing the transcript check")?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || known.exists(params![name]).ctx("checking a transcript")? {
            continue;
        }
        if let Err(e) = std::fs::remove_dir_all(entry.path()) {
            tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a pruned request's transcripts");
        }
    }
    Ok(())
}

/// Makes sure the database gives freed pages back on request (`auto_vacuum = INCREMENTAL`). A new
/// database takes the setting before its first table; one created before needs a full `VACUUM`
/// to switch, which SQLite does only outside WAL mode: that runs once, here, outside any
/// transaction, and leaves the journal mode to the caller.
pub fn ensure_incremental_vacuum(conn: &Connection) -> Result<bool, StoreError> {
    if pragma_i64(conn, "auto_vacuum")? == 2 {
        return Ok(false);
    }
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")
        .ctx("asking for incremental vacuum")?;
    if pragma_i64(conn, "page_count")? == 0 {
        return Ok(false);
    }
    conn.execute_batch("PRAGMA journal_mode = DELETE; VACUUM;")
        .ctx("switching the database to incremental vacuum")?;
    Ok(true)
}
