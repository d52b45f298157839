//! Turns the net changes of one committed transaction into events of the bus.
//!
//! Invariants: only objects someone listens to are captured — selected for Change Data Capture,
//! or the `FROM` object of an active PushTopic — so a Bulk load of an object nobody watches costs
//! nothing; a record written several times in one transaction gives one event (its state before
//! the transaction against its state after); an update that changes nothing but system stamps or
//! calculated (formula) fields gives none, as in Salesforce.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde_json::Value;

use super::{ChangeType, Pending};
use crate::ids::SfId;
use crate::org::{Org, Record};
use crate::schema::{FieldType, ObjectDef};

/// Fields that never count as changed on their own.
const STAMPS: &[&str] = &["LastModifiedDate", "LastModifiedById", "SystemModstamp"];

/// The objects whose changes are captured now (canonical names).
pub fn watched(org: &Org) -> BTreeSet<String> {
    let mut out = org.events.cdc_entities.clone();
    out.extend(crate::streaming::topic::active(org).into_iter().map(|t| t.object));
    out
}

/// Whether a field is part of a change event: not `IsDeleted`, `SystemModstamp`, a calculated
/// field or a compound (address, location) field, which change events leave out.
pub fn in_events(def: &ObjectDef, field: &str) -> bool {
    match def.fields.get(field) {
        None => false,
        Some(f) => {
            f.name != "IsDeleted"
                && f.name != "SystemModstamp"
                && !f.calculated
                && !matches!(f.ftype, FieldType::Address | FieldType::Location)
        }
    }
}

fn deleted(r: &Record) -> bool {
    r.get("IsDeleted").and_then(Value::as_bool) == Some(true)
}

fn value<'a>(r: &'a Record, k: &str) -> &'a Value {
    r.get(k).unwrap_or(&Value::Null)
}

/// Publishes the net changes of a transaction whose undo log is `undo` (in write order:
/// object, id, the record before that write).
pub fn commit<'a>(
    org: &mut Org,
    undo: impl Iterator<Item = (&'a str, &'a SfId, Option<&'a Record>)>,
    user: &SfId,
    origin: &str,
    now: &str,
) {
    let mut first: IndexMap<(&str, &SfId), Option<&Record>> = IndexMap::new();
    for (object, id, before) in undo {
        first.entry((object, id)).or_insert(before);
    }
    if first.is_empty() {
        return;
    }
    let watched = watched(org);
    if watched.is_empty() {
        return;
    }
    let mut pending = Vec::new();
    for ((object, id), before) in first {
        if !watched.contains(object) {
            continue;
        }
        let Some(def) = org.schema.object(object) else {
            continue;
        };
        let after = org.record(object, id);
        let (change_type, record) = match (before, after.as_deref()) {
            (None, Some(a)) if !deleted(a) => (ChangeType::Create, a),
            (Some(b), Some(a)) if !deleted(b) && deleted(a) => (ChangeType::Delete, a),
            (Some(b), None) if !deleted(b) => (ChangeType::Delete, b),
            (Some(b), Some(a)) if deleted(b) && !deleted(a) => (ChangeType::Undelete, a),
            (Some(b), Some(a)) if !deleted(b) && !deleted(a) => (ChangeType::Update, a),
            _ => continue,
        };
        let fields = def.fields.keys().filter(|k| in_events(def, k));
        let (changed, nulled): (Vec<String>, Vec<String>) = match (change_type, before) {
            (ChangeType::Update, Some(b)) => {
                let changed: Vec<String> = fields
                    .filter(|k| value(b, k) != value(record, k))
                    .cloned()
                    .collect();
                if changed.iter().all(|k| STAMPS.contains(&k.as_str())) {
                    continue;
                }
                let nulled = changed
                    .iter()
                    .filter(|k| value(record, k).is_null())
                    .cloned()
                    .collect();
                (changed, nulled)
            }
            (ChangeType::Delete, _) => (Vec::new(), Vec::new()),
            _ => (
                fields.filter(|k| !value(record, k).is_null()).cloned().collect(),
                Vec::new(),
            ),
        };
        pending.push(Pending {
            entity: def.name.clone(),
            change_type,
            record_id: id.to_string(),
            changed_fields: changed,
            nulled_fields: nulled,
            record: record.clone(),
        });
    }
    org.events
        .publish(pending, user.as_str(), origin, super::epoch_millis(now));
}
