//! Relative date literals (`TODAY`, `LAST_N_DAYS:7`, `THIS_QUARTER`…) as ranges of days.
//!
//! Salesforce defines each literal as a range starting at 00:00:00 of some day; `=` means "in the
//! range", `<` "before it", `>` "after it". Weeks start on Sunday (the en_US locale) and the fiscal
//! year is the calendar year (Salesforce's default), so `THIS_FISCAL_QUARTER` = `THIS_QUARTER`.
//!
//! Invariant: a range is half-open, `start <= day < end`, and computing one never panics: dates
//! beyond chrono's calendar saturate at its ends.

use chrono::{Datelike, Days, Months, NaiveDate, Timelike, Utc};
use serde_json::Value as Json;

use crate::ast::{DateFunc, DateLiteral, DateLiteralKind, DateUnit};
use crate::catalog::FieldKind;
use crate::lexer::{parse_date, parse_datetime};

/// The value of a date function over a date or datetime field value (`None` for null or a value
/// that does not parse). Numbers for all functions but `DAY_ONLY`, which gives `YYYY-MM-DD`.
/// Fiscal functions equal calendar ones (fiscal year starting in January); weeks of the month and
/// of the year count 7-day blocks from the 1st, as Salesforce documents.
pub fn apply(func: DateFunc, kind: FieldKind, v: &Json) -> Option<Json> {
    let s = v.as_str()?;
    let (day, hour) = match kind {
        FieldKind::DateTime => {
            let dt = parse_datetime(s)?.with_timezone(&Utc);
            (dt.date_naive(), Some(dt.hour()))
        }
        _ => (parse_date(s.get(..10)?)?, None),
    };
    let n = |x: u32| Some(Json::from(x));
    match func {
        DateFunc::CalendarMonth | DateFunc::FiscalMonth => n(day.month()),
        DateFunc::CalendarQuarter | DateFunc::FiscalQuarter => n(day.month0() / 3 + 1),
        DateFunc::CalendarYear | DateFunc::FiscalYear => Some(Json::from(day.year())),
        DateFunc::DayInMonth => n(day.day()),
        DateFunc::DayInWeek => n(day.weekday().num_days_from_sunday() + 1),
        DateFunc::DayInYear => n(day.ordinal()),
        DateFunc::DayOnly => Some(Json::String(day.format("%Y-%m-%d").to_string())),
        DateFunc::HourInDay => hour.map(Json::from),
        DateFunc::WeekInMonth => n(day.day0() / 7 + 1),
        DateFunc::WeekInYear => n(day.ordinal0() / 7 + 1),
    }
}

/// The type of a date function's value.
pub fn result_kind(func: DateFunc) -> FieldKind {
    if func == DateFunc::DayOnly {
        FieldKind::Date
    } else {
        FieldKind::Number
    }
}

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
    fn date_functions() {
        let dt = Json::from("2024-02-10T23:30:00.000+0000");
        let d = Json::from("2024-02-10");
        let f = |func, kind, v: &Json| apply(func, kind, v);
        assert_eq!(
            f(DateFunc::CalendarYear, FieldKind::DateTime, &dt),
            Some(Json::from(2024))
        );
        assert_eq!(
            f(DateFunc::CalendarMonth, FieldKind::Date, &d),
            Some(Json::from(2))
        );
        assert_eq!(
            f(DateFunc::CalendarQuarter, FieldKind::Date, &d),
            Some(Json::from(1))
        );
        assert_eq!(f(DateFunc::DayInMonth, FieldKind::Date, &d), Some(Json::from(10)));
        // 2024-02-10 is a Saturday.
        assert_eq!(f(DateFunc::DayInWeek, FieldKind::Date, &d), Some(Json::from(7)));
        assert_eq!(f(DateFunc::DayInYear, FieldKind::Date, &d), Some(Json::from(41)));
        assert_eq!(
            f(DateFunc::DayOnly, FieldKind::DateTime, &dt),
            Some(Json::from("2024-02-10"))
        );
        assert_eq!(
            f(DateFunc::HourInDay, FieldKind::DateTime, &dt),
            Some(Json::from(23))
        );
        assert_eq!(f(DateFunc::WeekInMonth, FieldKind::Date, &d), Some(Json::from(2)));
        assert_eq!(f(DateFunc::WeekInYear, FieldKind::Date, &d), Some(Json::from(6)));
        assert_eq!(f(DateFunc::CalendarYear, FieldKind::Date, &Json::Null), None);
    }

    #[test]
    fn huge_n_saturates() {
        let (s, _) = r(DateLiteralKind::LastNDays, i64::MAX);
        assert_eq!(s, NaiveDate::MIN);
        let (_, e) = r(DateLiteralKind::Next(DateUnit::Year), i64::MAX);
        assert_eq!(e, NaiveDate::MAX);
    }
}
