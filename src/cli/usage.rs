//! `smith usage`: what the workers cost — by day, session or model, since a day — and how a
//! `--since` day is read; the spend lines of `smith status` (today, the ceilings, warnings).

use crate::protocol::{
    Ceiling, Request, Response, SpendStatus, UsageBy, UsageQuery, UsageReport, UsageRow,
};

use super::args::UsageArgs;
use super::client::{Client, ClientError, unexpected};
use super::render::print_json;

/// A `--since` day, checked: `YYYY-MM-DD`, a real date.
pub fn check_day(day: &str) -> Result<String, String> {
    crate::spend::Day::parse(day)
        .map(|d| d.to_string())
        .map_err(|_| format!("--since {day:?}: expected a day as YYYY-MM-DD, e.g. 2026-11-01"))
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

/// Spending against the ceilings, for `smith status`: today, then each ceiling 80 % spent or more.
pub fn spend_lines(s: &SpendStatus) -> String {
    let ceilings = match (s.daily_budget_usd, s.session_budget_usd) {
        (None, None) => "; no daily or session ceiling".to_string(),
        (day, session) => {
            let day = day.map(|d| format!(" of ${d:.2} daily budget"));
            let session = session.map(|b| format!("sessions up to ${b:.2} each"));
            let sep = if day.is_some() && session.is_some() {
                "; "
            } else {
                ", "
            };
            format!(
                "{}{}",
                day.unwrap_or_default(),
                session.map(|s| format!("{sep}{s}")).unwrap_or_default()
            )
        }
    };
    let mut out = format!(
        "spend today ({}, {}) ${:.4}{ceilings}
",
        s.day, s.time_zone, s.day_spent_usd
    );
    for w in &s.warnings {
        let what = match (w.ceiling, &w.session) {
            (Ceiling::Day, _) => "the daily budget".to_string(),
            (Ceiling::Session, Some(name)) => format!("session {name}'s budget"),
            (Ceiling::Session, None) => "a session's budget".to_string(),
        };
        let share = 100.0 * w.spent_usd / w.budget_usd;
        let state = if share >= 100.0 {
            "reached: nothing new starts under it"
        } else {
            "warning"
        };
        out.push_str(&format!(
            "  ! {what}: ${:.4} of ${:.2} ({share:.0} %) — {state}\n",
            w.spent_usd, w.budget_usd
        ));
    }
    out
}

/// `smith usage`.
pub async fn usage(client: &mut Client, args: UsageArgs) -> Result<(), ClientError> {
    let since = match &args.since {
        Some(day) => Some(check_day(day).map_err(ClientError::Input)?),
        None => None,
    };
    let by = args.by.unwrap_or(UsageBy::Day);
    let query = Request::Usage(UsageQuery { by, since });
    match client.call(&query).await? {
        Response::Usage(u) => {
            if args.json {
                print_json(&u);
            } else {
                if by == UsageBy::Day {
                    println!("days in {}", u.time_zone);
                }
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
    fn status_shows_today_the_ceilings_and_what_is_near_them() {
        let mut s = SpendStatus {
            day: "2026-11-26".into(),
            time_zone: "Europe/Paris".into(),
            day_spent_usd: 4.5,
            ..SpendStatus::default()
        };
        assert_eq!(
            spend_lines(&s),
            "spend today (2026-11-26, Europe/Paris) $4.5000; no daily or session ceiling\n"
        );
        s.daily_budget_usd = Some(5.0);
        s.session_budget_usd = Some(2.0);
        s.warnings = vec![
            crate::protocol::CeilingUse {
                ceiling: Ceiling::Day,
                session: None,
                spent_usd: 4.5,
                budget_usd: 5.0,
            },
            crate::protocol::CeilingUse {
                ceiling: Ceiling::Session,
                session: Some("main".into()),
                spent_usd: 2.1,
                budget_usd: 2.0,
            },
        ];
        let text = spend_lines(&s);
        assert!(text.starts_with("spend today (2026-11-26, Europe/Paris) $4.5000 of $5.00 daily budget; sessions up to $2.00 each\n"), "{text}");
        assert!(
            text.contains("the daily budget: $4.5000 of $5.00 (90 %) — warning"),
            "{text}"
        );
        assert!(
            text.contains("session main's budget: $2.1000 of $2.00 (105 %) — reached"),
            "{text}"
        );
    }

    #[test]
    fn days_are_checked_and_nonsense_is_refused() {
        for good in ["1970-01-01", "2026-11-26", "2024-02-29"] {
            assert_eq!(check_day(good).as_deref(), Ok(good));
        }
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "26-11-2026",
            "yesterday",
            "2026-11",
            "2026-1-011",
        ] {
            assert!(check_day(bad).is_err(), "{bad}");
        }
    }
}
