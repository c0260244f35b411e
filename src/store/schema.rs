//! The schema and its migrations. `PRAGMA user_version` holds the version; each migration runs in
//! its own transaction. A database newer than [`LATEST`] is refused, never touched.

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1: sessions, requests (with their answer inline), tasks, attempts.
    r#"
    CREATE TABLE sessions (
        name        TEXT PRIMARY KEY,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE requests (
        id          TEXT PRIMARY KEY,
        session     TEXT NOT NULL REFERENCES sessions(name),
        seq         INTEGER NOT NULL,
        prompt      TEXT NOT NULL,
        spec_json   TEXT NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        answer      TEXT,
        cost_usd    REAL NOT NULL DEFAULT 0,
        created_at  INTEGER NOT NULL,
        started_at  INTEGER,
        finished_at INTEGER,
        UNIQUE (session, seq)
    );
    CREATE INDEX requests_by_status ON requests(status);
    CREATE TABLE tasks (
        request_id  TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        idx         INTEGER NOT NULL,
        id          TEXT NOT NULL,
        name        TEXT NOT NULL,
        instruction TEXT NOT NULL,
        status      TEXT NOT NULL,
        exit_reason TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        output      TEXT,
        cost_usd    REAL NOT NULL DEFAULT 0,
        claude_session_id TEXT,
        PRIMARY KEY (request_id, idx)
    );
    CREATE TABLE attempts (
        request_id  TEXT NOT NULL,
        task_idx    INTEGER NOT NULL,
        attempt     INTEGER NOT NULL,
        pid         INTEGER,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        exit_reason TEXT,
        exit_code   INTEGER,
        exit_signal INTEGER,
        stderr_tail TEXT,
        claude_session_id TEXT,
        input_tokens  INTEGER,
        output_tokens INTEGER,
        cost_usd    REAL,
        detail      TEXT,
        PRIMARY KEY (request_id, task_idx, attempt),
        FOREIGN KEY (request_id, task_idx) REFERENCES tasks(request_id, idx) ON DELETE CASCADE
    );
    "#,
    // v2: process start times (to recognise a pid after a crash), cache tokens, resume source;
    // task kinds (the planner and the synthesizer are recorded too); merged answers move to a
    // table of their own with their merge mode.
    r#"
    ALTER TABLE attempts ADD COLUMN process_start_time INTEGER;
    ALTER TABLE attempts ADD COLUMN cache_read_tokens INTEGER;
    ALTER TABLE attempts ADD COLUMN cache_creation_tokens INTEGER;
    ALTER TABLE attempts ADD COLUMN resumed_from TEXT;
    ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'work';
    CREATE INDEX attempts_unfinished ON attempts(finished_at) WHERE finished_at IS NULL;
    CREATE TABLE merged_answers (
        request_id  TEXT PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
        mode        TEXT NOT NULL,
        text        TEXT NOT NULL,
        note        TEXT,
        created_at  INTEGER NOT NULL
    );
    INSERT INTO merged_answers (request_id, mode, text, note, created_at)
        SELECT id, 'deterministic', answer, NULL, COALESCE(finished_at, created_at)
        FROM requests WHERE answer IS NOT NULL;
    ALTER TABLE requests DROP COLUMN answer;
    "#,
    // v3: input_tokens is the whole input (GenAI conventions): uncached input plus cache reads
    // plus cache writes, which are also kept apart. Rows written before held only the uncached
    // part; they are brought to the same meaning.
    r#"
    UPDATE attempts
       SET input_tokens = input_tokens + COALESCE(cache_read_tokens, 0)
                                       + COALESCE(cache_creation_tokens, 0)
     WHERE input_tokens IS NOT NULL;
    "#,
    // v4: isolated tasks' worktrees, recorded before their workers start.
    r#"
    CREATE TABLE workspaces (
        request_id  TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        task_idx    INTEGER NOT NULL,
        repo        TEXT NOT NULL,
        path        TEXT NOT NULL,
        branch      TEXT NOT NULL,
        base        TEXT NOT NULL,
        rel         TEXT NOT NULL,
        state       TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        changes     TEXT,
        PRIMARY KEY (request_id, task_idx)
    );
    CREATE INDEX workspaces_by_state ON workspaces(state);
    "#,
    // v5: tool calls the CLI refused in a task's last attempt (JSON list).
    r#"
    ALTER TABLE tasks ADD COLUMN denials TEXT;
    "#,
    // v6: how each tool call of a worker was decided (`permissions.mode = "stdio"`), the ones
    // that wait for a person (decided_at NULL), and what a person allowed for a whole session.
    r#"
    CREATE TABLE approvals (
        id           TEXT PRIMARY KEY,
        request_id   TEXT NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        session      TEXT NOT NULL,
        task_id      TEXT NOT NULL,
        attempt      INTEGER NOT NULL,
        tool         TEXT NOT NULL,
        summary      TEXT NOT NULL,
        input        TEXT NOT NULL,
        suggestions  TEXT,
        asked_at     INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        decided_at   INTEGER,
        verdict      TEXT,
        decided_by   TEXT,
        who          TEXT,
        message      TEXT,
        always       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX approvals_by_request ON approvals(request_id, asked_at);
    CREATE INDEX approvals_waiting ON approvals(decided_at) WHERE decided_at IS NULL;
    CREATE TABLE session_grants (
        session      TEXT NOT NULL REFERENCES sessions(name) ON DELETE CASCADE,
        tool         TEXT NOT NULL,
        input        TEXT NOT NULL,
        approval_id  TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (session, tool, input)
    );
    "#,
    // v7: what `smith usage` reports by: the model an attempt ran, and whether with `--bare`.
    r#"
    ALTER TABLE attempts ADD COLUMN model TEXT;
    ALTER TABLE attempts ADD COLUMN bare INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX attempts_by_start ON attempts(started_at);
    "#,
    // v8: the day (`limits.budget_time_zone`) each attempt's cost was charged to, so that the
    // daily ceiling and `smith usage --by day` count the same days; earlier attempts get their
    // UTC day (the only zone before).
    r#"
    ALTER TABLE attempts ADD COLUMN day TEXT;
    UPDATE attempts SET day = strftime('%Y-%m-%d', COALESCE(finished_at, started_at) / 1000, 'unixepoch');
    CREATE INDEX attempts_by_day ON attempts(day);
    "#,
    // v9: workers' tool calls (`smith show --tools`), a bounded number per attempt.
    r#"
    CREATE TABLE tool_calls (
        request_id  TEXT NOT NULL,
        task_idx    INTEGER NOT NULL,
        attempt     INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        call_id     TEXT NOT NULL,
        tool        TEXT NOT NULL,
        input       TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        duration_ms INTEGER,
        error       TEXT,
        PRIMARY KEY (request_id, task_idx, attempt, seq),
        FOREIGN KEY (request_id) REFERENCES requests(id) ON DELETE CASCADE
    );
    "#,
    // v10: whether an attempt started on a warm worker (`agent.warm_pool`).
    r#"
    ALTER TABLE attempts ADD COLUMN warm INTEGER NOT NULL DEFAULT 0;
    "#,
    // v11: the worker node an attempt ran on (NULL: the control plane's host) and its tag (a
    // restarted control plane finds the events of a remote attempt by it).
    r#"
    ALTER TABLE attempts ADD COLUMN node TEXT;
    ALTER TABLE attempts ADD COLUMN tag TEXT;
    "#,
    // v12: where a remote attempt's outcome was read (the events stream's sequence), stored
    // with the outcome: an outcome is applied once.
    r#"
    ALTER TABLE attempts ADD COLUMN event_seq INTEGER;
    "#,
];

/// The newest schema version this build knows.
pub const LATEST: u32 = MIGRATIONS.len() as u32;

/// Reads the schema version (0 for a new, empty database).
pub fn version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
        .map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Brings the database to version `target` (≤ [`LATEST`]). Returns the version found before.
pub fn migrate_to(conn: &mut Connection, path: &Path, target: u32) -> Result<u32, StoreError> {
    let found = version(conn, path)?;
    if found > LATEST {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: LATEST,
        });
    }
    for v in found..target.min(LATEST) {
        let migration = |source| StoreError::Migration {
            path: path.to_path_buf(),
            version: v + 1,
            source,
        };
        let tx = conn.transaction().map_err(migration)?;
        tx.execute_batch(MIGRATIONS[v as usize])
            .map_err(migration)?;
        tx.pragma_update(None, "user_version", v + 1)
            .map_err(migration)?;
        tx.commit().map_err(migration)?;
        tracing::info!(path = %path.display(), version = v + 1, "database migrated");
    }
    Ok(found)
}

/// Brings the database to [`LATEST`].
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<u32, StoreError> {
    migrate_to(conn, path, LATEST)
}
