//! Auto-number fields: the display format (`A-{0000}`, `INV-{YYYY}{MM}-{0}`) Salesforce applies
//! to the sequence number of each new record, and the per-field counters that hand the numbers
//! out (kept in the org, so the state file carries them).
//!
//! Invariant: a number is handed out once per field, in creation order, from the field's starting
//! number on; a rolled-back create burns its number, as in Salesforce.

use serde_json::Value;

use super::FieldDef;

/// The format of an auto-number field without one: `Case.CaseNumber` (`00001001`, ...).
pub const CASE_NUMBER_FORMAT: &str = "{00000000}";
/// Where `Case.CaseNumber` starts.
pub const CASE_NUMBER_START: u64 = 1001;

/// Formats sequence number `n` with `format`: `{0…}` is the number with at least as many digits
/// as zeros, `{YY}`/`{YYYY}`/`{MM}`/`{DD}` the creation date taken from `now` (wire datetime);
/// anything else is copied as it is.
pub fn format(format: &str, n: u64, now: &str) -> String {
    let year = now.get(0..4).unwrap_or("0000");
    let month = now.get(5..7).unwrap_or("00");
    let day = now.get(8..10).unwrap_or("00");
    let mut out = String::with_capacity(format.len() + 8);
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let token = &after[..close];
        match token {
            "YYYY" => out.push_str(year),
            "YY" => out.push_str(year.get(2..4).unwrap_or("00")),
            "MM" => out.push_str(month),
            "DD" => out.push_str(day),
            t if !t.is_empty() && t.bytes().all(|b| b == b'0') => {
                out.push_str(&format!("{n:0width$}", width = t.len()));
            }
            _ => {
                out.push('{');
                out.push_str(token);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The value of auto-number field `field` for a new record: takes the next number from
/// `counters` (keyed `Object.Field`). A field without a display format is numbered like
/// `CaseNumber`, continuing after the `existing` rows when it has no counter yet (orgs saved
/// before counters were kept).
pub fn next(
    counters: &mut indexmap::IndexMap<String, u64>,
    object: &str,
    field: &FieldDef,
    existing: usize,
    now: &str,
) -> Value {
    let key = format!("{object}.{}", field.name);
    let (fmt, first) = match &field.display_format {
        Some(f) => (f.as_str(), field.starting_number),
        None => (CASE_NUMBER_FORMAT, CASE_NUMBER_START + existing as u64),
    };
    let counter = counters.entry(key).or_insert(first);
    let n = *counter;
    *counter = n.saturating_add(1);
    Value::String(format(fmt, n, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_dates() {
        let now = "2026-11-21T15:30:00.000+0000";
        assert_eq!(format("A-{0000}", 7, now), "A-0007");
        assert_eq!(format("{0}", 12345, now), "12345");
        assert_eq!(format("INV-{YYYY}{MM}{DD}-{00}", 3, now), "INV-20261121-03");
        assert_eq!(format("{YY}/{000}", 1000, now), "26/1000");
        assert_eq!(format("x{y}z{", 1, now), "x{y}z{");
    }
}
