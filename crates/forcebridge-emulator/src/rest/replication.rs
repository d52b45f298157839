//! Data replication: `GET /sobjects/{obj}/updated/?start=&end=` (ids of records changed in the
//! window) and `GET /sobjects/{obj}/deleted/?start=&end=` (records deleted in the window).
//!
//! Invariant: both windows are read at minute precision (Salesforce ignores the seconds) and
//! `latestDateCovered` is the end of the window; a record counts as changed when its
//! `SystemModstamp` falls in `[start, end]`, as deleted when it is deleted and its deletion stamp
//! does.

use chrono::{DateTime, Timelike, Utc};
use serde_json::{Value, json};

use super::{Ctx, Reply};
use crate::error::SfError;
use crate::org::{Org, format_datetime};
use crate::validate::parse_datetime;

fn window(ctx: &Ctx<'_>) -> Result<(DateTime<Utc>, DateTime<Utc>), SfError> {
    let bad = |what: &str| {
        SfError::bad_request(
            "INVALID_REPLICATION_DATE",
            format!("{what}: give start and end as ISO 8601 date-times, start before end"),
        )
        .without_fields_key()
    };
    let minute = |t: DateTime<Utc>| t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t);
    let start = ctx
        .param("start")
        .and_then(parse_datetime)
        .map(minute)
        .ok_or_else(|| bad("start"))?;
    let end = ctx
        .param("end")
        .and_then(parse_datetime)
        .map(minute)
        .ok_or_else(|| bad("end"))?;
    if end < start {
        return Err(bad("end"));
    }
    Ok((start, end))
}

fn stamp(record: &crate::org::Record) -> Option<DateTime<Utc>> {
    record
        .get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_datetime)
}

fn deleted(record: &crate::org::Record) -> bool {
    record.get("IsDeleted").and_then(Value::as_bool) == Some(true)
}

/// `GET /sobjects/{obj}/updated/`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object; `INVALID_REPLICATION_DATE` for a bad window.
pub fn updated(ctx: &Ctx<'_>, org: &Org, object: &str) -> Result<Reply, SfError> {
    let def = org.schema.object(object).ok_or_else(SfError::no_resource)?;
    let (start, end) = window(ctx)?;
    let ids: Vec<Value> = org
        .data
        .get(&def.name)
        .into_iter()
        .flat_map(|t| t.records())
        .filter(|(_, r)| !deleted(r))
        .filter(|(_, r)| stamp(r).is_some_and(|s| s >= start && s <= end))
        .map(|(id, _)| json!(id.as_str()))
        .collect();
    Ok(Reply::ok(
        json!({ "ids": ids, "latestDateCovered": format_datetime(end) }),
    ))
}

/// `GET /sobjects/{obj}/deleted/`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object; `INVALID_REPLICATION_DATE` for a bad window.
pub fn deleted_records(ctx: &Ctx<'_>, org: &Org, object: &str) -> Result<Reply, SfError> {
    let def = org.schema.object(object).ok_or_else(SfError::no_resource)?;
    let (start, end) = window(ctx)?;
    let all: Vec<(String, DateTime<Utc>)> = org
        .data
        .get(&def.name)
        .into_iter()
        .flat_map(|t| t.records())
        .filter(|(_, r)| deleted(r))
        .filter_map(|(id, r)| stamp(&r).map(|s| (id.to_string(), s)))
        .collect();
    let earliest = all.iter().map(|(_, s)| *s).min().unwrap_or(start);
    let records: Vec<Value> = all
        .iter()
        .filter(|(_, s)| *s >= start && *s <= end)
        .map(|(id, s)| json!({ "id": id, "deletedDate": format_datetime(*s) }))
        .collect();
    Ok(Reply::ok(json!({
        "deletedRecords": records,
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(end),
    })))
}
