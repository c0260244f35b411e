//! How settings are written in smith's configuration, for every module that owns a section:
//! durations as `"30s"`, an empty string or a zero meaning "none", octal umasks, and the
//! [`Invalid`] a section reports (with its key) when a value is out of range. A leaf: it
//! imports nothing else of smith, so each section can live with the module that uses it.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// The longest duration smith accepts anywhere (config keys and request options): a week.
/// Deadlines are computed with checked arithmetic besides, so nothing overflows below this bound.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A value of a section that is out of range: the key (`section.key`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Dotted key.
    pub key: &'static str,
    /// What is wrong, for the user.
    pub message: String,
}

impl Invalid {
    /// `key` is wrong because of `message`.
    pub fn new(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

/// Every duration of `keys` is at most [`MAX_DURATION`]; those in `positive` are above zero.
pub fn check_durations(
    keys: &[(&'static str, Duration)],
    positive: &[&'static str],
) -> Result<(), Invalid> {
    for &(key, d) in keys {
        if d > MAX_DURATION {
            return Err(Invalid::new(
                key,
                format!(
                    "{} is longer than the longest duration smith accepts ({})",
                    humantime::format_duration(d),
                    humantime::format_duration(MAX_DURATION)
                ),
            ));
        }
        if d.is_zero() && positive.contains(&key) {
            return Err(Invalid::new(key, "must be longer than zero"));
        }
    }
    Ok(())
}

/// `value` is at least `min`.
pub fn check_min(key: &'static str, value: usize, min: usize) -> Result<(), Invalid> {
    if value < min {
        return Err(Invalid::new(key, format!("must be at least {min}")));
    }
    Ok(())
}

/// Durations as human strings ("30s", "5m", "250ms"): `#[serde(with = "duration")]`.
pub mod duration {
    use super::*;

    /// Writes `d` as a human duration.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// Reads a human duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{s:?} is not a duration like \"30s\" or \"5m\": {e}"
            ))
        })
    }
}

/// A string where empty means none: `#[serde(with = "empty_is_none")]`.
pub mod empty_is_none {
    use super::*;

    /// Writes none as `""`.
    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_deref().unwrap_or(""))
    }

    /// Reads `""` as none.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Some(String::deserialize(d)?).filter(|s| !s.is_empty()))
    }
}

/// A count where 0 means none: `#[serde(with = "zero_is_none")]`.
pub mod zero_is_none {
    use super::*;

    /// Writes none as 0.
    pub fn serialize<S: Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(v.unwrap_or(0))
    }

    /// Reads 0 as none.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Ok(Some(u32::deserialize(d)?).filter(|n| *n > 0))
    }
}

/// An amount of USD where 0 means unlimited: `#[serde(with = "usd_zero_is_none")]`.
pub mod usd_zero_is_none {
    use super::*;

    /// Writes none as 0.
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(v.unwrap_or(0.0))
    }

    /// Reads 0 as none; refuses a negative or non-finite amount.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(serde::de::Error::custom(
                "must be a number >= 0 (0: unlimited)",
            ));
        }
        Ok(Some(v).filter(|v| *v > 0.0))
    }
}

/// An octal umask like `"022"` (absent: none): `#[serde(with = "octal_umask")]`.
pub mod octal_umask {
    use super::*;

    /// Writes the mask as 3 octal digits (none is skipped by the field's attribute).
    pub fn serialize<S: Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(m) => s.serialize_str(&format!("{m:03o}")),
            None => s.serialize_none(),
        }
    }

    /// Reads an octal mask between 000 and 777.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let s = String::deserialize(d)?;
        u32::from_str_radix(s.trim(), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .map(Some)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?} must be an octal umask between 000 and 777, like \"022\""
                ))
            })
    }
}

/// `$HOME`, if set and not empty: the base of default paths (and the default of `agent.roots`).
pub fn home_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}
