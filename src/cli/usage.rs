//! `smith usage`: what the workers cost — by day, session or model, since a day — and how a
//! `--since` day is read.

use crate::protocol::{Request, Response, UsageBy, UsageQuery, UsageReport, UsageRow};

use super::args::UsageArgs;
use super::client::{Client, ClientError, unexpected};
use super::render::print_json;

/// Days from 1970-01-01 to `y-m-d` (proleptic Gregorian; H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` as the Unix milliseconds of its start (UTC).
pub fn day_start_ms(day: &str) -> Result<i64, String> {
    let bad = || format!("--since {day:?}: expected a day as YYYY-MM-DD, e.g. 2026-11-01");
    let parts: Vec<&str> = day.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1970..=9999).contains(&y) || !(1..=days_in_month).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400_000)
}

fn line(r: &UsageRow) -> String {
    format!(
        "{:<24} ${:>10.4}  in {:>11} (cache read {:>10}, write {:>9})  out {:>9}  requests {:>5}  attempts {:>5}{}",
        r.key,
        r.cost_usd,
        r.input_tokens,
        r.cache_read_tokens,
        r.cache_creation_tokens,
        r.output_tokens,
        r.requests,
        r.attempts,
        if r.bare_attempts > 0 {
            format!(" ({} bare)", r.bare_attempts)
        } else {
            String::new()
        }
    )
}

/// The report as text: a line per group, then the total.
pub fn table(u: &UsageReport) -> String {
    let mut out = String::new();
    for r in &u.rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    if u.rows.is_empty() {
        out.push_str("no attempts in that time\n");
    }
    out.push_str(&line(&u.total));
    out.push('\n');
    out
}

/// `smith usage`.
pub async fn usage(client: &mut Client, args: UsageArgs) -> Result<(), ClientError> {
    let since_ms = match &args.since {
        Some(day) => Some(day_start_ms(day).map_err(ClientError::Input)?),
        None => None,
    };
    let query = Request::Usage(UsageQuery {
        by: args.by.unwrap_or(UsageBy::Day),
        since_ms,
    });
    match client.call(&query).await? {
        Response::Usage(u) => {
            if args.json {
                print_json(&u);
            } else {
                print!("{}", table(&u));
            }
            Ok(())
        }
        other => Err(unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_as_their_utc_start_and_nonsense_is_refused() {
        assert_eq!(day_start_ms("1970-01-01"), Ok(0));
        assert_eq!(day_start_ms("2026-11-26"), Ok(1_795_651_200_000));
        assert_eq!(day_start_ms("2024-02-29"), Ok(1_709_164_800_000));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "26-11-2026",
            "yesterday",
            "2026-11",
        ] {
            assert!(day_start_ms(bad).is_err(), "{bad}");
        }
    }
}
