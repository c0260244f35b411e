//! What a start of smithd (or of a Session) finds left by one that stopped: requests that were
//! queued or running become `interrupted`, their open attempts closed, their processes listed
//! for the sweep.

use rusqlite::{Connection, params};

use super::exec;
use crate::store::error::{QueryContext, StoreError};
use crate::store::records::{OrphanCandidate, now_ms};

/// Marks requests of `session` (or of every session when `None`) that were queued or running
/// as `interrupted`, their running tasks too, and closes their unfinished attempts. Returns the
/// processes those attempts recorded, so that the caller can sweep them.
pub fn interrupt_in_flight(
    conn: &mut Connection,
    session: Option<&str>,
) -> Result<Vec<OrphanCandidate>, StoreError> {
    let tx = conn.savepoint().ctx("starting a transaction")?;
    let now = now_ms();
    let candidates: Vec<OrphanCandidate> = {
        let mut stmt = tx
            .prepare(
                "SELECT a.request_id, a.task_idx, a.attempt, a.pid, a.process_start_time
                 FROM attempts a JOIN requests r ON r.id = a.request_id
                 WHERE a.finished_at IS NULL AND a.pid IS NOT NULL AND a.node IS NULL
                   AND (?1 IS NULL OR r.session = ?1)",
            )
            .ctx("preparing the orphan query")?;
        stmt.query_map(params![session], |r| {
            Ok(OrphanCandidate {
                request_id: r.get(0)?,
                task_idx: r.get(1)?,
                attempt: r.get(2)?,
                pid: r.get(3)?,
                process_start_time: r.get::<_, Option<i64>>(4)?.map(|t| t as u64),
            })
        })
        .ctx("reading unfinished attempts")?
        .collect::<Result<_, _>>()
        .ctx("reading unfinished attempts")?
    };
    let scope = "(SELECT id FROM requests WHERE status IN ('queued', 'running')
                  AND (?1 IS NULL OR session = ?1))";
    exec(
        &tx,
        &format!(
            "UPDATE attempts SET finished_at = ?2, exit_reason = 'interrupted'
             WHERE finished_at IS NULL AND request_id IN {scope}"
        ),
        params![session, now],
        "closing unfinished attempts",
    )?;
    exec(
        &tx,
        &format!(
            "UPDATE tasks SET status = 'interrupted'
             WHERE status IN ('running', 'pending') AND request_id IN {scope}"
        ),
        params![session],
        "interrupting tasks",
    )?;
    exec(
        &tx,
        "UPDATE requests SET status = 'interrupted', reason = 'smithd stopped while it ran',
                finished_at = ?2
         WHERE status IN ('queued', 'running') AND (?1 IS NULL OR session = ?1)",
        params![session, now],
        "interrupting requests",
    )?;
    tx.commit().ctx("committing the interruption")?;
    Ok(candidates)
}

/// Requests with an attempt that was still running on a worker node (the nodes keep running
/// them: a restart follows them instead of starting them again).
pub fn remote_in_flight(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT a.request_id FROM attempts a JOIN requests r ON r.id = a.request_id
             WHERE a.finished_at IS NULL AND a.node IS NOT NULL AND a.tag IS NOT NULL
               AND r.status IN ('queued', 'running')
             ORDER BY r.created_at",
        )
        .ctx("preparing the remote attempts query")?;
    let rows = stmt
        .query_map([], |r| r.get(0))
        .ctx("reading remote attempts")?
        .collect::<Result<_, _>>()
        .ctx("reading remote attempts")?;
    Ok(rows)
}

/// Requests queued or running (the ones a restart interrupts), with when they were created.
pub fn in_flight_requests(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT id, created_at FROM requests WHERE status IN ('queued', 'running')")
        .ctx("preparing the in-flight query")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx("reading in-flight requests")?
        .collect::<Result<_, _>>()
        .ctx("reading in-flight requests")?;
    Ok(rows)
}

/// Marks a request `interrupted` (resumable) whose end could not be recorded.
pub fn mark_interrupted(conn: &Connection, id: &str) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE requests SET status = 'interrupted',
                reason = 'its end could not be committed', finished_at = ?2
         WHERE id = ?1 AND status IN ('queued', 'running')",
        params![id, now_ms()],
        "marking a request interrupted",
    )?;
    Ok(())
}
