//! Restart strategies and which children each one restarts.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

/// What a supervisor does when one child must be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Restart only the failed child.
    #[default]
    OneForOne,
    /// Terminate all other children, then restart all of them.
    OneForAll,
    /// Terminate the children started after the failed one, then restart it and them, in order.
    RestForOne,
}

impl Strategy {
    /// The start-order positions affected when the child at `failed` (of `len` children) must
    /// restart. The range always contains `failed`; every other position in it is a bystander
    /// that is terminated (in reverse order) and then restarted (in order) with it.
    pub fn affected(self, len: usize, failed: usize) -> Range<usize> {
        debug_assert!(failed < len, "failed child {failed} out of {len}");
        match self {
            Strategy::OneForOne => failed..failed + 1,
            Strategy::OneForAll => 0..len,
            Strategy::RestForOne => failed..len,
        }
    }

    /// The snake_case name used in config, logs and telemetry.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::OneForOne => "one_for_one",
            Strategy::OneForAll => "one_for_all",
            Strategy::RestForOne => "rest_for_one",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "one_for_one" => Ok(Strategy::OneForOne),
            "one_for_all" => Ok(Strategy::OneForAll),
            "rest_for_one" => Ok(Strategy::RestForOne),
            other => Err(format!(
                "unknown strategy {other:?} (expected one_for_one, one_for_all or rest_for_one)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_for_one_affects_only_the_failed_child() {
        assert_eq!(Strategy::OneForOne.affected(4, 2), 2..3);
    }

    #[test]
    fn one_for_all_affects_every_child() {
        assert_eq!(Strategy::OneForAll.affected(4, 2), 0..4);
    }

    #[test]
    fn rest_for_one_affects_the_failed_child_and_those_started_after_it() {
        assert_eq!(Strategy::RestForOne.affected(4, 1), 1..4);
        assert_eq!(Strategy::RestForOne.affected(4, 3), 3..4);
    }

    #[test]
    fn names_round_trip() {
        for s in [
            Strategy::OneForOne,
            Strategy::OneForAll,
            Strategy::RestForOne,
        ] {
            assert_eq!(s.as_str().parse::<Strategy>().unwrap(), s);
        }
        assert!("simple_one_for_one".parse::<Strategy>().is_err());
    }

    #[test]
    fn strategies_are_shown_by_their_config_names() {
        for s in [
            Strategy::OneForOne,
            Strategy::OneForAll,
            Strategy::RestForOne,
        ] {
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(s.to_string().parse::<Strategy>(), Ok(s));
        }
    }
}
