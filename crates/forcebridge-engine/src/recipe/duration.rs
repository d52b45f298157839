//! Durations in recipes: a number and a unit, possibly several (`"90s"`, `"15m"`, `"1h"`,
//! `"1h30m"`, `"1d"`).
//!
//! Invariant: parsing never panics and never overflows: anything above a year is refused.

use std::time::Duration;

/// What a duration must look like, for diagnostics.
pub const EXPECTED: &str = "a whole number and a unit: \"90s\", \"15m\", \"1h\", \"1h30m\", \"1d\"";

const YEAR: u64 = 366 * 24 * 3600;

/// Parses `text`; `None` when it is not a duration of at least one second and at most a year.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() || total == 0 || total > YEAR {
        return None;
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("1d"), Some(Duration::from_secs(86_400)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "",
            "1",
            "h",
            "1 hour",
            "1.5h",
            "0s",
            "-1s",
            "400d",
            "99999999999s",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
