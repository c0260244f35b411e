//! The ledger read back: each attempt's cost and tokens (committed when it ends), grouped by day,
//! session or model for `smith usage`.

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

/// Cost and tokens of the attempts started at or after `since_ms`, grouped `by`, and their total.
pub fn usage(
    conn: &Connection,
    by: UsageBy,
    since_ms: Option<i64>,
) -> Result<(Vec<UsageRow>, UsageRow), StoreError> {
    let key = match by {
        UsageBy::Day => "strftime('%Y-%m-%d', a.started_at / 1000, 'unixepoch')",
        UsageBy::Session => "r.session",
        UsageBy::Model => "COALESCE(a.model, 'unknown')",
    };
    let sums = "SUM(a.cost_usd), SUM(a.input_tokens), SUM(a.cache_read_tokens),
                SUM(a.cache_creation_tokens), SUM(a.output_tokens), COUNT(DISTINCT a.request_id),
                COUNT(*), SUM(a.bare)";
    let from = "FROM attempts a JOIN requests r ON r.id = a.request_id WHERE a.started_at >= ?1";
    let since = since_ms.unwrap_or(i64::MIN);
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
