//! Relative date literals (`TODAY`, `LAST_N_DAYS:7`, `THIS_QUARTER`…) as ranges of days.
//!
//! Salesforce defines each literal as a range starting at 00:00:00 of some day; `=` means "in the
//! range", `<` "before it", `>` "after it". Weeks start on Sunday (the en_US locale) and the fiscal
//! year is the calendar year (Salesforce's default), so `THIS_FISCAL_QUARTER` = `THIS_QUARTER`.
//!
//! Invariant: a range is half-open, `start <= day < end`, and computing one never panics: dates
//! beyond chrono's calendar saturate at its ends.

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::ast::{DateLiteral, DateLiteralKind, DateUnit};

/// The days `start <= d < end` a date literal stands for, seen from `today`.
pub fn literal_range(lit: DateLiteral, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    use DateLiteralKind as K;
    let n = lit.n;
    match lit.kind {
        K::Yesterday => (shift(today, DateUnit::Day, -1), today),
        K::Today => (today, shift(today, DateUnit::Day, 1)),
        K::Tomorrow => (shift(today, DateUnit::Day, 1), shift(today, DateUnit::Day, 2)),
        // "LAST_N_DAYS:1" is yesterday and today: the range includes the current day.
        K::LastNDays => (shift(today, DateUnit::Day, -n), shift(today, DateUnit::Day, 1)),
        // "NEXT_N_DAYS" starts tomorrow.
        K::NextNDays => (
            shift(today, DateUnit::Day, 1),
            shift(today, DateUnit::Day, n.saturating_add(1)),
        ),
        K::This(u) => {
            let s = unit_start(today, u);
            (s, shift(s, u, 1))
        }
        K::Last(u) => {
            let s = unit_start(today, u);
            (shift(s, u, -n), s)
        }
        K::Next(u) => {
            let s = unit_start(today, u);
            (shift(s, u, 1), shift(s, u, n.saturating_add(1)))
        }
        K::Ago(u) => {
            let s = unit_start(today, u);
            (shift(s, u, -n), shift(s, u, 1i64.saturating_sub(n)))
        }
    }
}

/// The first day of the unit that contains `day`.
fn unit_start(day: NaiveDate, unit: DateUnit) -> NaiveDate {
    match unit {
        DateUnit::Day => day,
        DateUnit::Week => shift(
            day,
            DateUnit::Day,
            -i64::from(day.weekday().num_days_from_sunday()),
        ),
        DateUnit::Month => day.with_day(1).unwrap_or(day),
        DateUnit::Quarter => {
            let month = (day.month0() / 3) * 3 + 1;
            NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day)
        }
        DateUnit::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
    }
}

/// `day` moved by `k` units, saturating at the ends of the calendar.
fn shift(day: NaiveDate, unit: DateUnit, k: i64) -> NaiveDate {
    let saturate = if k < 0 { NaiveDate::MIN } else { NaiveDate::MAX };
    let (days, months) = match unit {
        DateUnit::Day => (Some(k), None),
        DateUnit::Week => (k.checked_mul(7), None),
        DateUnit::Month => (None, Some(k)),
        DateUnit::Quarter => (None, k.checked_mul(3)),
        DateUnit::Year => (None, k.checked_mul(12)),
    };
    let moved = match (days, months) {
        (Some(d), _) => {
            let abs = Days::new(d.unsigned_abs());
            if d < 0 {
                day.checked_sub_days(abs)
            } else {
                day.checked_add_days(abs)
            }
        }
        (None, Some(m)) => u32::try_from(m.unsigned_abs()).ok().and_then(|abs| {
            if m < 0 {
                day.checked_sub_months(Months::new(abs))
            } else {
                day.checked_add_months(Months::new(abs))
            }
        }),
        (None, None) => None,
    };
    moved.unwrap_or(saturate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn r(kind: DateLiteralKind, n: i64) -> (NaiveDate, NaiveDate) {
        // A Wednesday in the middle of Q2.
        literal_range(DateLiteral { kind, n }, d("2024-05-15"))
    }

    #[test]
    fn ranges() {
        use DateLiteralKind as K;
        assert_eq!(r(K::Today, 1), (d("2024-05-15"), d("2024-05-16")));
        assert_eq!(r(K::Yesterday, 1), (d("2024-05-14"), d("2024-05-15")));
        assert_eq!(r(K::LastNDays, 1), (d("2024-05-14"), d("2024-05-16")));
        assert_eq!(r(K::NextNDays, 2), (d("2024-05-16"), d("2024-05-18")));
        assert_eq!(r(K::This(DateUnit::Week), 1), (d("2024-05-12"), d("2024-05-19")));
        assert_eq!(r(K::Last(DateUnit::Week), 1), (d("2024-05-05"), d("2024-05-12")));
        assert_eq!(r(K::This(DateUnit::Month), 1), (d("2024-05-01"), d("2024-06-01")));
        assert_eq!(r(K::Last(DateUnit::Month), 3), (d("2024-02-01"), d("2024-05-01")));
        assert_eq!(r(K::Next(DateUnit::Month), 1), (d("2024-06-01"), d("2024-07-01")));
        assert_eq!(r(K::Ago(DateUnit::Day), 3), (d("2024-05-12"), d("2024-05-13")));
        assert_eq!(r(K::Ago(DateUnit::Month), 2), (d("2024-03-01"), d("2024-04-01")));
        assert_eq!(
            r(K::This(DateUnit::Quarter), 1),
            (d("2024-04-01"), d("2024-07-01"))
        );
        assert_eq!(
            r(K::Last(DateUnit::Quarter), 1),
            (d("2024-01-01"), d("2024-04-01"))
        );
        assert_eq!(r(K::This(DateUnit::Year), 1), (d("2024-01-01"), d("2025-01-01")));
        assert_eq!(r(K::Last(DateUnit::Year), 1), (d("2023-01-01"), d("2024-01-01")));
    }

    #[test]
    fn huge_n_saturates() {
        let (s, _) = r(DateLiteralKind::LastNDays, i64::MAX);
        assert_eq!(s, NaiveDate::MIN);
        let (_, e) = r(DateLiteralKind::Next(DateUnit::Year), i64::MAX);
        assert_eq!(e, NaiveDate::MAX);
    }
}
