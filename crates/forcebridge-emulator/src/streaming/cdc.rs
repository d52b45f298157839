//! Change Data Capture channels and the JSON form of change events (the Streaming API's); the
//! Pub/Sub API's Avro form is in `crate::pubsub::avro`.
//!
//! Invariant: a change event channel serves only objects selected for Change Data Capture
//! (`EventBus::cdc_entities`); `/data/ChangeEvents` serves all of them, `/data/<Object>ChangeEvent`
//! one (`<Name>__ChangeEvent` for a custom object `<Name>__c`).

use serde_json::{Map, Value, json};

use crate::events::{BusEvent, ChangeType};
use crate::org::Org;

/// What a `/data/...` channel carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/data/ChangeEvents`: every selected object.
    All,
    /// One object (canonical name).
    Object(String),
}

impl Target {
    /// Whether an event of `entity` belongs on this channel, given the org's selection.
    pub fn carries(&self, org: &Org, entity: &str) -> bool {
        org.events.cdc_entities.contains(entity)
            && match self {
                Target::All => true,
                Target::Object(o) => o == entity,
            }
    }
}

/// The change event name of an object: `AccountChangeEvent`, `Track__ChangeEvent`.
pub fn event_name(object: &str) -> String {
    match object.strip_suffix("__c") {
        Some(base) => format!("{base}__ChangeEvent"),
        None => format!("{object}ChangeEvent"),
    }
}

/// The object of a change event name (`AccountChangeEvent` → `Account`), canonical, if it exists.
pub fn object_of_event(org: &Org, event: &str) -> Option<String> {
    let base = if let Some(b) = event.strip_suffix("__ChangeEvent") {
        format!("{b}__c")
    } else {
        event.strip_suffix("ChangeEvent")?.to_string()
    };
    org.schema.object(&base).map(|d| d.name.clone())
}

/// The target of a channel name (`/data/ChangeEvents`, `/data/AccountChangeEvent`), or `None`
/// when it is not a change event channel of this org.
pub fn target(org: &Org, channel: &str) -> Option<Target> {
    let name = channel.strip_prefix("/data/")?;
    if name == "ChangeEvents" {
        return Some(Target::All);
    }
    object_of_event(org, name).map(Target::Object)
}

/// A wire datetime (`…+0000`) as the Streaming API writes it in events (`…Z`).
pub fn zulu(v: &Value) -> Value {
    match v.as_str() {
        Some(s) if s.ends_with("+0000") && s.len() > 10 => Value::String(format!("{}Z", &s[..s.len() - 5])),
        _ => v.clone(),
    }
}

/// The `ChangeEventHeader` as the Streaming API sends it (field names in `changedFields`).
pub fn header_json(e: &BusEvent) -> Value {
    json!({
        "entityName": e.entity,
        "recordIds": e.record_ids,
        "changeType": e.change_type.as_str(),
        "changeOrigin": e.change_origin,
        "transactionKey": e.transaction_key,
        "sequenceNumber": e.sequence_number,
        "commitTimestamp": e.commit_timestamp,
        "commitNumber": e.commit_number,
        "commitUser": e.commit_user,
        "changedFields": e.changed_fields,
    })
}

/// The `payload` of a change event on the Streaming API: the header, then the record's fields
/// that changed and are not null (creates and undeletes: all non-null fields; deletes: none).
pub fn payload_json(org: &Org, e: &BusEvent) -> Value {
    let mut out = Map::new();
    out.insert("ChangeEventHeader".into(), header_json(e));
    if !e.change_type.is_gap() && e.change_type != ChangeType::Delete {
        let def = org.schema.object(&e.entity);
        for name in &e.changed_fields {
            let Some(v) = e.record.get(name).filter(|v| !v.is_null()) else {
                continue;
            };
            let dt = def
                .and_then(|d| d.fields.get(name))
                .is_some_and(|f| f.ftype == crate::schema::FieldType::Datetime);
            out.insert(name.clone(), if dt { zulu(v) } else { v.clone() });
        }
    }
    Value::Object(out)
}
