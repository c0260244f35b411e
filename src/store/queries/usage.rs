//! The ledger read back: each attempt's cost and tokens (committed when it ends), grouped by day,
//! session or model for `smith usage`; what each session and a day spent, for the ceilings.

use std::collections::HashMap;

use rusqlite::{Connection, Row, params};

use crate::protocol::{UsageBy, UsageRow};
use crate::store::error::{QueryContext, StoreError};

fn usage_row(r: &Row<'_>) -> rusqlite::Result<UsageRow> {
    let n = |i: usize| {
        r.get::<_, Option<i64>>(i)
            .map(|v| v.unwrap_or(0).max(0) as u64)
    };
    Ok(UsageRow {
        key: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
        cost_usd: r.get::<_, Option<f64>>(1)?.unwrap_or(0.0),
        input_tokens: n(2)?,
        cache_read_tokens: n(3)?,
        cache_creation_tokens: n(4)?,
        output_tokens: n(5)?,
        requests: n(6)?,
        attempts: n(7)?,
        bare_attempts: n(8)?,
    })
}

/// An attempt's day: the one its cost was charged to; the UTC day of its start while it runs.
const DAY: &str = "COALESCE(a.day, strftime('%Y-%m-%d', a.started_at / 1000, 'unixepoch'))";

/// Cost and tokens of the attempts charged on or after the day `since` (`YYYY-MM-DD`), grouped
/// `by`, and their total.
pub fn usage(
    conn: &Connection,
    by: UsageBy,
    since: Option<&str>,
) -> Result<(Vec<UsageRow>, UsageRow), StoreError> {
    let key = match by {
        UsageBy::Day => DAY,
        UsageBy::Session => "r.session",
        UsageBy::Model => "COALESCE(a.model, 'unknown')",
    };
    let sums = "SUM(a.cost_usd), SUM(a.input_tokens), SUM(a.cache_read_tokens),
                SUM(a.cache_creation_tokens), SUM(a.output_tokens), COUNT(DISTINCT a.request_id),
                COUNT(*), SUM(a.bare)";
    let from = format!("FROM attempts a JOIN requests r ON r.id = a.request_id WHERE {DAY} >= ?1");
    let since = since.unwrap_or("");
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {key}, {sums} {from} GROUP BY 1 ORDER BY 1"
        ))
        .ctx("preparing the usage report")?;
    let rows = stmt
        .query_map(params![since], usage_row)
        .ctx("reading the usage report")?
        .collect::<Result<Vec<_>, _>>()
        .ctx("reading the usage report")?;
    let mut total = conn
        .query_row(
            &format!("SELECT 'total', {sums} {from}"),
            params![since],
            usage_row,
        )
        .ctx("reading the usage total")?;
    total.key = "total".into();
    Ok((rows, total))
}

/// What each session spent (the attempts the store keeps).
pub fn spent_by_session(conn: &Connection) -> Result<HashMap<String, f64>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT r.session, SUM(a.cost_usd) FROM attempts a JOIN requests r ON r.id = a.request_id
             WHERE a.cost_usd > 0 GROUP BY r.session",
        )
        .ctx("preparing the spend by session")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))
        .ctx("reading the spend by session")?
        .collect::<Result<HashMap<_, _>, _>>()
        .ctx("reading the spend by session")?;
    Ok(rows)
}

/// What all sessions spent on `day` (`YYYY-MM-DD`).
pub fn spent_on_day(conn: &Connection, day: &str) -> Result<f64, StoreError> {
    conn.query_row(
        "SELECT COALESCE(SUM(cost_usd), 0.0) FROM attempts WHERE day = ?1",
        params![day],
        |r| r.get::<_, f64>(0),
    )
    .ctx("reading the day's spend")
}
