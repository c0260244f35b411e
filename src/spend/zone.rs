//! The time zone whose calendar days the daily budget counts (`limits.budget_time_zone`), and a
//! day of that calendar.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IANA time zone (`UTC`, `Europe/Paris`), checked when the configuration is read.
#[derive(Debug, Clone)]
pub struct BudgetZone {
    name: String,
    tz: TimeZone,
}

impl BudgetZone {
    /// The zone called `name`, or why there is none.
    pub fn named(name: &str) -> Result<Self, String> {
        let tz = TimeZone::get(name).map_err(|e| {
            format!(
                "unknown time zone {name:?} ({e}); use an IANA name such as UTC or Europe/Paris"
            )
        })?;
        Ok(Self {
            name: name.to_string(),
            tz,
        })
    }

    /// UTC.
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// Its IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The day of this zone's calendar that `ms` (Unix milliseconds) falls on.
    pub fn day_of(&self, ms: i64) -> Day {
        let ts = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        Day(self.tz.to_datetime(ts).date())
    }
}

impl Default for BudgetZone {
    fn default() -> Self {
        Self::utc()
    }
}

impl PartialEq for BudgetZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Serialize for BudgetZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for BudgetZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::named(&name).map_err(serde::de::Error::custom)
    }
}

/// A calendar day (`2026-11-26`) of the budget's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(Date);

impl Day {
    /// The day written `YYYY-MM-DD`, or why it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
        ok.then(|| text.parse::<Date>().ok())
            .flatten()
            .map(Day)
            .ok_or_else(|| format!("{text:?} is not a date: write it YYYY-MM-DD"))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-26 23:30 UTC.
    const LATE_EVENING_UTC: i64 = 1_795_735_800_000;

    #[test]
    fn the_day_is_the_zones_calendar_day() {
        let utc = BudgetZone::utc();
        assert_eq!(utc.day_of(LATE_EVENING_UTC).to_string(), "2026-11-26");
        // Half an hour later it is the 27th in UTC; in Paris (UTC+1) it already was.
        let paris = BudgetZone::named("Europe/Paris").unwrap();
        assert_eq!(paris.day_of(LATE_EVENING_UTC).to_string(), "2026-11-27");
        let la = BudgetZone::named("America/Los_Angeles").unwrap();
        assert_eq!(la.day_of(LATE_EVENING_UTC).to_string(), "2026-11-26");
        assert_eq!(
            utc.day_of(LATE_EVENING_UTC + 30 * 60_000).to_string(),
            "2026-11-27"
        );
    }

    #[test]
    fn daylight_saving_moves_midnight_with_it() {
        // Paris is UTC+2 in July: 22:30 UTC is already the next day there.
        let paris = BudgetZone::named("Europe/Paris").unwrap();
        let july_2230_utc = 1_784_932_200_000; // 2026-07-24 22:30 UTC
        assert_eq!(paris.day_of(july_2230_utc).to_string(), "2026-07-25");
        assert_eq!(
            BudgetZone::utc().day_of(july_2230_utc).to_string(),
            "2026-07-24"
        );
    }

    #[test]
    fn an_unknown_zone_is_refused_with_what_to_write() {
        let e = BudgetZone::named("Europe/Pariss").unwrap_err();
        assert!(e.contains("Europe/Pariss") && e.contains("IANA"), "{e}");
        let z: BudgetZone = serde_json::from_str("\"Asia/Kolkata\"").unwrap();
        assert_eq!(z.name(), "Asia/Kolkata");
        assert!(serde_json::from_str::<BudgetZone>("\"Mars/Olympus\"").is_err());
    }

    #[test]
    fn days_are_written_and_read_as_iso_dates() {
        assert_eq!(Day::parse("2026-11-26").unwrap().to_string(), "2026-11-26");
        for bad in ["2026-13-01", "26-11-2026", "yesterday", "2026-1-1", ""] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
    }
}
