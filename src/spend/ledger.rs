//! The service's one account of what each session and each day spent, against their ceilings
//! (`limits.session_budget_usd`, `limits.daily_budget_usd`). Restored from the store at start
//! (the attempts' costs, committed as each attempt ends), charged as attempts end; it says what
//! is left for an attempt's `--max-budget-usd`, refuses what would start past a ceiling, warns at
//! 80 % and tells its listeners when a ceiling is newly reached (running requests stop then).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use opentelemetry::KeyValue;
use tokio::sync::watch;

use super::spent::Spent;
use super::zone::{BudgetZone, Day};
use crate::clock::Clock;
use crate::protocol::{Ceiling, CeilingUse, SpendStatus};
use crate::telemetry::metrics::metrics;
use crate::telemetry::semconv::{SMITH_BUDGET_CEILING, SMITH_SESSION};

/// Share of a ceiling spent from which it is warned about.
pub const WARN_AT: f64 = 0.8;

/// The ceilings and the calendar they count days in.
#[derive(Debug, Clone, Default)]
pub struct Ceilings {
    /// What one session may spend (USD).
    pub session_usd: Option<f64>,
    /// What all sessions may spend in a day (USD).
    pub daily_usd: Option<f64>,
    /// Whose calendar days.
    pub zone: BudgetZone,
}

/// What the store says was spent, read at start.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// The day `day_spent` is for.
    pub day: Option<Day>,
    /// Spent that day.
    pub day_spent: f64,
    /// Spent by each session.
    pub sessions: HashMap<String, f64>,
}

struct State {
    day: Day,
    day_spent: f64,
    sessions: HashMap<String, f64>,
    /// (ceiling, day or session) warned about at 80 %.
    warned: HashSet<(Ceiling, String)>,
    /// (ceiling, day or session) reached.
    reached: HashSet<(Ceiling, String)>,
}

/// The account.
pub struct Ledger {
    ceilings: Ceilings,
    clock: Clock,
    state: Mutex<State>,
    reached: watch::Sender<u64>,
}

/// What crossing a mark means: a warning, or the ceiling itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Warned,
    Reached,
}

impl Ledger {
    /// The account under `ceilings`, from what the store says was spent.
    pub fn new(ceilings: Ceilings, clock: Clock, restored: Restored) -> Self {
        let today = ceilings.zone.day_of(clock.now_ms());
        let day_spent = match restored.day {
            Some(d) if d == today => restored.day_spent,
            _ => 0.0,
        };
        let ledger = Self {
            state: Mutex::new(State {
                day: today,
                day_spent,
                sessions: restored.sessions,
                warned: HashSet::new(),
                reached: HashSet::new(),
            }),
            ceilings,
            clock,
            reached: watch::Sender::new(0),
        };
        // What was already near or past a ceiling before this start is said once now.
        let sessions: Vec<String> = ledger.lock().sessions.keys().cloned().collect();
        for s in sessions {
            ledger.charge(&s, 0.0);
        }
        ledger
    }

    /// An account with no ceilings, on the system's clock (it still counts, for `smith status`).
    pub fn without_ceilings() -> Self {
        Self::new(Ceilings::default(), Clock::system(), Restored::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let today = self.ceilings.zone.day_of(self.clock.now_ms());
        if today != s.day {
            s.day = today;
            s.day_spent = 0.0;
        }
        s
    }

    /// The ceilings.
    pub fn ceilings(&self) -> &Ceilings {
        &self.ceilings
    }

    /// Today in the budget's time zone.
    pub fn today(&self) -> Day {
        self.lock().day
    }

    /// The ceiling that `session` has reached (its own first, then the day's), if any.
    pub fn reached(&self, session: &str) -> Option<Spent> {
        let s = self.lock();
        self.session_use(&s, session)
            .into_iter()
            .chain(self.day_use(&s))
            .find(|u| u.spent_usd >= u.budget_usd)
            .map(|u| self.spent(u, s.day))
    }

    /// What `session` may still spend under the ceilings (`None`: no ceiling).
    pub fn left(&self, session: &str) -> Option<f64> {
        let s = self.lock();
        self.session_use(&s, session)
            .into_iter()
            .chain(self.day_use(&s))
            .map(|u| (u.budget_usd - u.spent_usd).max(0.0))
            .reduce(f64::min)
    }

    /// Charges `usd` to `session` and today; returns the day charged.
    pub fn charge(&self, session: &str, usd: f64) -> Day {
        let mut s = self.lock();
        let usd = if usd.is_finite() { usd.max(0.0) } else { 0.0 };
        *s.sessions.entry(session.to_string()).or_default() += usd;
        s.day_spent += usd;
        let day = s.day;
        let uses: Vec<CeilingUse> = self
            .session_use(&s, session)
            .into_iter()
            .chain(self.day_use(&s))
            .collect();
        let mut crossed = Vec::new();
        for u in uses {
            let key = (
                u.ceiling,
                u.session.clone().unwrap_or_else(|| day.to_string()),
            );
            let share = u.spent_usd / u.budget_usd;
            if share >= 1.0 && s.reached.insert(key.clone()) {
                s.warned.insert(key);
                crossed.push((u, Mark::Reached));
            } else if share >= WARN_AT && s.warned.insert(key) {
                crossed.push((u, Mark::Warned));
            }
        }
        drop(s);
        for (u, mark) in crossed {
            self.announce(&u, mark, day);
        }
        day
    }

    /// Bumped each time a ceiling is newly reached.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.reached.subscribe()
    }

    /// Spending against the ceilings.
    pub fn status(&self) -> SpendStatus {
        let s = self.lock();
        let mut warnings: Vec<CeilingUse> = self
            .day_use(&s)
            .into_iter()
            .filter(|u| u.spent_usd >= WARN_AT * u.budget_usd)
            .collect();
        let mut sessions: Vec<CeilingUse> = s
            .sessions
            .keys()
            .filter_map(|name| self.session_use(&s, name))
            .filter(|u| u.spent_usd >= WARN_AT * u.budget_usd)
            .collect();
        sessions.sort_by(|a, b| a.session.cmp(&b.session));
        warnings.extend(sessions);
        SpendStatus {
            day: s.day.to_string(),
            time_zone: self.ceilings.zone.name().to_string(),
            day_spent_usd: s.day_spent,
            daily_budget_usd: self.ceilings.daily_usd,
            session_budget_usd: self.ceilings.session_usd,
            warnings,
        }
    }

    fn session_use(&self, s: &State, session: &str) -> Option<CeilingUse> {
        self.ceilings.session_usd.map(|budget| CeilingUse {
            ceiling: Ceiling::Session,
            session: Some(session.to_string()),
            spent_usd: s.sessions.get(session).copied().unwrap_or(0.0),
            budget_usd: budget,
        })
    }

    fn day_use(&self, s: &State) -> Option<CeilingUse> {
        self.ceilings.daily_usd.map(|budget| CeilingUse {
            ceiling: Ceiling::Day,
            session: None,
            spent_usd: s.day_spent,
            budget_usd: budget,
        })
    }

    fn spent(&self, u: CeilingUse, day: Day) -> Spent {
        Spent {
            ceiling: u.ceiling,
            session: u.session,
            spent_usd: u.spent_usd,
            budget_usd: u.budget_usd,
            day,
            time_zone: self.ceilings.zone.name().to_string(),
        }
    }

    /// Logs a crossed mark, records it as a metric, and tells the listeners of a reached ceiling.
    fn announce(&self, u: &CeilingUse, mark: Mark, day: Day) {
        let mut attrs = vec![KeyValue::new(SMITH_BUDGET_CEILING, u.ceiling.as_str())];
        if let Some(session) = &u.session {
            attrs.push(KeyValue::new(SMITH_SESSION, session.clone()));
        }
        let m = metrics();
        m.budget_used.record(u.spent_usd / u.budget_usd, &attrs);
        m.budget_warnings.add(1, &attrs[..1]);
        let spent = self.spent(u.clone(), day);
        match mark {
            Mark::Warned => tracing::warn!(
                ceiling = %u.ceiling, session = u.session.as_deref().unwrap_or(""),
                spent_usd = u.spent_usd, budget_usd = u.budget_usd,
                "{} of {} is spent", percent(u), spent.what()
            ),
            Mark::Reached => {
                tracing::warn!(
                    ceiling = %u.ceiling, session = u.session.as_deref().unwrap_or(""),
                    spent_usd = u.spent_usd, budget_usd = u.budget_usd,
                    "{spent}; running requests under it stop"
                );
                self.reached.send_modify(|n| *n += 1);
            }
        }
    }
}

fn percent(u: &CeilingUse) -> String {
    format!("{:.0} %", 100.0 * u.spent_usd / u.budget_usd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_26_2330_UTC: i64 = 1_795_735_800_000;

    fn ledger(session: Option<f64>, daily: Option<f64>, zone: &str, clock: &Clock) -> Ledger {
        let ceilings = Ceilings {
            session_usd: session,
            daily_usd: daily,
            zone: BudgetZone::named(zone).unwrap(),
        };
        Ledger::new(ceilings, clock.clone(), Restored::default())
    }

    #[test]
    fn a_session_ceiling_is_that_sessions_alone() {
        let clock = Clock::manual(NOV_26_2330_UTC);
        let l = ledger(Some(1.0), None, "UTC", &clock);
        assert_eq!(l.left("a"), Some(1.0));
        l.charge("a", 0.7);
        assert_eq!(l.reached("a"), None);
        assert!((l.left("a").unwrap() - 0.3).abs() < 1e-9);
        l.charge("a", 0.3);
        let spent = l.reached("a").expect("session a is spent");
        assert_eq!(spent.ceiling, Ceiling::Session);
        assert!(
            spent.to_string().contains("limits.session_budget_usd"),
            "{spent}"
        );
        assert_eq!(l.reached("b"), None, "another session has its own");
        assert_eq!(l.left("a"), Some(0.0));
    }

    #[test]
    fn the_day_ceiling_counts_every_session_and_starts_again_at_the_zones_midnight() {
        let clock = Clock::manual(NOV_26_2330_UTC);
        // In Paris 23:30 UTC is already the 27th; in Los Angeles it is the 26th until 08:00 UTC.
        let l = ledger(None, Some(1.0), "America/Los_Angeles", &clock);
        assert_eq!(l.charge("a", 0.6).to_string(), "2026-11-26");
        l.charge("b", 0.5);
        let spent = l.reached("c").expect("the day is spent for everyone");
        assert_eq!(spent.ceiling, Ceiling::Day);
        assert!(spent.to_string().contains("2026-11-26"), "{spent}");
        assert!(spent.to_string().contains("America/Los_Angeles"), "{spent}");
        // Midnight UTC is not the zone's midnight.
        clock.set_ms(NOV_26_2330_UTC + 60 * 60_000);
        assert!(l.reached("c").is_some(), "still the 26th in Los Angeles");
        // 08:00 UTC on the 27th is midnight in Los Angeles.
        clock.set_ms(NOV_26_2330_UTC + (8 * 60 + 30) * 60_000);
        assert_eq!(l.reached("c"), None);
        assert_eq!(l.today().to_string(), "2026-11-27");
        assert_eq!(l.left("a"), Some(1.0));
        assert_eq!(l.status().day_spent_usd, 0.0);
    }

    #[test]
    fn the_least_of_what_is_left_is_left() {
        let clock = Clock::manual(NOV_26_2330_UTC);
        let l = ledger(Some(2.0), Some(1.5), "UTC", &clock);
        l.charge("a", 1.0);
        assert!(
            (l.left("a").unwrap() - 0.5).abs() < 1e-9,
            "the day's 0.5 < the session's 1.0"
        );
        assert!((l.left("b").unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(ledger(None, None, "UTC", &clock).left("a"), None);
    }

    #[test]
    fn what_the_store_restored_counts_when_it_is_today() {
        let clock = Clock::manual(NOV_26_2330_UTC);
        let zone = BudgetZone::utc();
        let restored = |day_ms: i64| Restored {
            day: Some(zone.day_of(day_ms)),
            day_spent: 0.9,
            sessions: HashMap::from([("a".to_string(), 0.9)]),
        };
        let ceilings = Ceilings {
            session_usd: Some(1.0),
            daily_usd: Some(1.0),
            zone: zone.clone(),
        };
        let l = Ledger::new(ceilings.clone(), clock.clone(), restored(NOV_26_2330_UTC));
        assert_eq!(l.status().day_spent_usd, 0.9);
        let warned: Vec<Ceiling> = l.status().warnings.iter().map(|w| w.ceiling).collect();
        assert_eq!(warned, [Ceiling::Day, Ceiling::Session]);
        let yesterday = Ledger::new(ceilings, clock, restored(NOV_26_2330_UTC - 86_400_000));
        assert_eq!(
            yesterday.status().day_spent_usd,
            0.0,
            "yesterday's spend is not today's"
        );
        assert_eq!(
            yesterday.status().warnings.len(),
            1,
            "the session's spend stays"
        );
    }

    #[test]
    fn reaching_a_ceiling_tells_the_listeners_once() {
        let clock = Clock::manual(NOV_26_2330_UTC);
        let l = ledger(Some(1.0), Some(10.0), "UTC", &clock);
        let rx = l.subscribe();
        l.charge("a", 0.85);
        assert_eq!(*rx.borrow(), 0, "a warning is not a stop");
        l.charge("a", 0.2);
        assert_eq!(*rx.borrow(), 1);
        l.charge("a", 0.2);
        assert_eq!(*rx.borrow(), 1, "once per ceiling");
        assert!(
            l.charge("b", f64::NAN) == l.today(),
            "nothing charged is still a day"
        );
    }
}
