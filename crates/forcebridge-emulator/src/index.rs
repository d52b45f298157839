//! Lookup indexes over the live records of an object by one field's value: what upserts by
//! external id, unique-field checks and Bulk jobs look keys up in, instead of scanning the table
//! once per record (which made a 1,000,000-row upsert quadratic).
//!
//! An index is built on its first lookup, then kept in step by every write made through
//! [`crate::org::Org::put_record`] / [`crate::org::Org::remove_record`]; any other mutable access
//! to a table ([`crate::org::Org::table_mut`]) drops that object's indexes, to be rebuilt on the next
//! lookup. Indexes are never persisted.
//!
//! Invariant: for every index present, `map[key]` holds exactly the ids of the object's live
//! records (`IsDeleted` not true) whose field value has that key, in no particular order.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::ids::SfId;
use crate::org::{Record, Table};
use crate::schema::{FieldDef, FieldType};

/// How a field's values compare: the equality an external-id lookup uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRule {
    /// Ids compare by their 18-character form (a 15-character id finds its record).
    id: bool,
    /// Numbers compare by value: `12`, `12.0` and `"12"` are one key.
    number: bool,
    /// Text compares exactly, not case-insensitively.
    case_sensitive: bool,
}

impl KeyRule {
    pub fn of(field: &FieldDef) -> Self {
        KeyRule {
            id: matches!(field.ftype, FieldType::Id | FieldType::Reference),
            number: matches!(
                field.ftype,
                FieldType::Int | FieldType::Double | FieldType::Currency | FieldType::Percent
            ),
            case_sensitive: field.case_sensitive,
        }
    }

    /// The key a wanted value (from a URL, a CSV cell, a JSON body) is looked up under.
    pub fn key_of_text(&self, s: &str) -> String {
        if self.id
            && let Ok(id) = SfId::parse(s)
        {
            return id.to_string();
        }
        if self.number
            && let Ok(f) = s.trim().parse::<f64>()
        {
            return format!("#{f}");
        }
        if self.case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    }

    /// The key a stored value is filed under; `None` for null (never matched).
    fn key_of_value(&self, value: &Value) -> Option<String> {
        match value {
            Value::Number(n) => n.as_f64().map(|f| format!("#{f}")),
            Value::Bool(b) => Some(self.key_of_text(if *b { "true" } else { "false" })),
            Value::String(s) => Some(self.key_of_text(s)),
            _ => None,
        }
    }
}

fn is_live(record: &Record) -> bool {
    record.get("IsDeleted").and_then(Value::as_bool) != Some(true)
}

/// One field's index.
#[derive(Debug)]
struct FieldIndex {
    rule: KeyRule,
    map: HashMap<String, Vec<SfId>>,
}

impl FieldIndex {
    fn build(table: Option<&Table>, field: &str, rule: KeyRule) -> Self {
        let mut map: HashMap<String, Vec<SfId>> = HashMap::new();
        for (id, r) in table.into_iter().flat_map(Table::records) {
            if !is_live(&r) {
                continue;
            }
            if let Some(k) = r.get(field).and_then(|v| rule.key_of_value(v)) {
                map.entry(k).or_default().push(id.clone());
            }
        }
        FieldIndex { rule, map }
    }

    fn key(&self, field: &str, record: Option<&Record>) -> Option<String> {
        let r = record.filter(|r| is_live(r))?;
        r.get(field).and_then(|v| self.rule.key_of_value(v))
    }
}

/// Object name → field name → index.
type ByObject = HashMap<String, HashMap<String, FieldIndex>>;

/// The org's field indexes (see the module docs). Cloning gives an empty set: indexes are a cache.
#[derive(Debug, Default)]
pub struct Indexes(Mutex<ByObject>);

impl Clone for Indexes {
    fn clone(&self) -> Self {
        Indexes::default()
    }
}

impl PartialEq for Indexes {
    /// Indexes are derived data: two orgs compare by their records, not their caches.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Indexes {
    fn inner(&mut self) -> &mut ByObject {
        self.0.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live records of `object` (whose records are `table`) with `field` equal to `wanted`,
    /// building the field's index on first use.
    pub fn lookup(&self, table: Option<&Table>, object: &str, field: &FieldDef, wanted: &str) -> Vec<SfId> {
        let rule = KeyRule::of(field);
        // A poisoned lock only means a panic elsewhere while holding it; the map is still whole
        // (every update below is a single insert or remove), so keep using it.
        let mut all = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let fields = all.entry(object.to_string()).or_default();
        let index = match fields.get_mut(&field.name) {
            // A field redefined with another comparison (e.g. made case-sensitive) is re-indexed.
            Some(ix) if ix.rule == rule => ix,
            _ => {
                fields.insert(field.name.clone(), FieldIndex::build(table, &field.name, rule));
                match fields.get_mut(&field.name) {
                    Some(ix) => ix,
                    None => return Vec::new(),
                }
            }
        };
        index
            .map
            .get(&rule.key_of_text(wanted))
            .cloned()
            .unwrap_or_default()
    }

    /// Keeps the indexes of `object` in step with record `id` changing from `before` to `after`
    /// (`None`: absent).
    pub fn note(&mut self, object: &str, id: &SfId, before: Option<&Record>, after: Option<&Record>) {
        let Some(fields) = self.inner().get_mut(object) else {
            return;
        };
        for (field, index) in fields.iter_mut() {
            let old = index.key(field, before);
            let new = index.key(field, after);
            if old == new {
                continue;
            }
            if let Some(k) = old
                && let Some(ids) = index.map.get_mut(&k)
            {
                ids.retain(|x| x != id);
                if ids.is_empty() {
                    index.map.remove(&k);
                }
            }
            if let Some(k) = new {
                index.map.entry(k).or_default().push(id.clone());
            }
        }
    }

    /// Drops the indexes of `object`: its table was changed in a way they did not follow.
    pub fn invalidate(&mut self, object: &str) {
        self.inner().remove(object);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, key: Value, deleted: bool) -> (SfId, Record) {
        let id = SfId::parse(id).unwrap_or_else(|e| panic!("{e:?}"));
        let mut r = Record::new();
        r.insert("Key__c".into(), key);
        r.insert("IsDeleted".into(), Value::Bool(deleted));
        (id, r)
    }

    fn text_field(case_sensitive: bool) -> FieldDef {
        let mut f = FieldDef::new("Key__c", "Key", FieldType::String);
        f.case_sensitive = case_sensitive;
        f
    }

    #[test]
    fn lookups_follow_writes_and_skip_deleted_records() {
        let (a, ra) = rec("001000000000001AAA", Value::String("K-1".into()), false);
        let (b, rb) = rec("001000000000002AAA", Value::String("k-2".into()), true);
        let mut table = Table::new();
        table.insert(a.clone(), ra.clone());
        table.insert(b.clone(), rb);
        let mut ix = Indexes::default();
        let f = text_field(false);
        assert_eq!(ix.lookup(Some(&table), "X__c", &f, "k-1"), vec![a.clone()]);
        assert!(
            ix.lookup(Some(&table), "X__c", &f, "K-2").is_empty(),
            "deleted rows never match"
        );
        // a's key changes: the old key no longer finds it, the new one does.
        let mut ra2 = ra.clone();
        ra2.insert("Key__c".into(), Value::String("K-3".into()));
        ix.note("X__c", &a, Some(&ra), Some(&ra2));
        table.insert(a.clone(), ra2);
        assert!(ix.lookup(Some(&table), "X__c", &f, "K-1").is_empty());
        assert_eq!(ix.lookup(Some(&table), "X__c", &f, "k-3"), vec![a.clone()]);
        // Made case-sensitive: rebuilt with exact comparison.
        let exact = text_field(true);
        assert!(ix.lookup(Some(&table), "X__c", &exact, "k-3").is_empty());
        assert_eq!(ix.lookup(Some(&table), "X__c", &exact, "K-3"), vec![a]);
    }

    #[test]
    fn numbers_compare_by_value() {
        let (a, ra) = rec("001000000000001AAA", serde_json::json!(12.0), false);
        let mut table = Table::new();
        table.insert(a.clone(), ra);
        let ix = Indexes::default();
        let mut f = text_field(false);
        f.ftype = FieldType::Double;
        assert_eq!(ix.lookup(Some(&table), "X__c", &f, "12"), vec![a]);
    }
}
