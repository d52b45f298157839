//! The records of one object, stored compactly: field names once per table (a dictionary of
//! field numbers), each row's values packed into one byte buffer, and a [`Record`] (a
//! `serde_json::Map`) built only for the rows a request reads.
//!
//! A `serde_json::Map` per record costs ~36 heap blocks for an 18-field `Task` (each field name and
//! each value its own), about 2.7 KB; packed, the same row is one block of ~150 bytes. That is
//! what lets a million records through Bulk API 2.0 fit in well under a gigabyte.
//!
//! Invariants:
//! - decoding a row gives back exactly the record that was stored: the same fields in the same
//!   order, explicit nulls kept, numbers of the same kind (`1` stays `1`, `1.0` stays `1.0`);
//!   records are sparse by convention (a field absent is null) and the table keeps that as given;
//! - rows keep their insertion order (an `IndexMap` by id); deleted records stay (`IsDeleted`) as
//!   Salesforce's recycle bin does — the table does not interpret any field;
//! - the borrowed views ([`Table::get`], [`Table::values`], [`Table::iter`]) build each row's
//!   `Record` once and keep it until the next change of the table: they are for small tables
//!   (users, profiles, metadata bookkeeping) and tests. Paths that may touch a whole data table
//!   read owned rows ([`Table::record`], [`Table::records`]) and change rows one at a time
//!   ([`Org::put_record`](crate::org::Org::put_record), [`Table::for_each_mut`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_json::{Number, Value};

use crate::ids::SfId;

pub use forcebridge_soql::Record;

/// The records of one object, in insertion order (see the module docs).
#[derive(Default)]
pub struct Table {
    names: FieldNames,
    rows: IndexMap<SfId, Slot>,
    /// Records built for the borrowed views, by row position; dropped on every change.
    view: OnceLock<Vec<OnceLock<Box<Record>>>>,
}

/// One stored row.
#[derive(Clone)]
struct Slot {
    /// The usual form: see [`encode`]. Empty while `open` holds the row.
    packed: Box<[u8]>,
    /// A row handed out by [`Table::get_mut`] / [`Table::values_mut`], kept as a map from then on
    /// (those are for small tables; [`Table::insert`] packs a row again).
    open: Option<Box<Record>>,
}

impl Slot {
    fn packed(bytes: Box<[u8]>) -> Self {
        Slot {
            packed: bytes,
            open: None,
        }
    }
}

/// Field name ↔ field number, for one table.
#[derive(Debug, Clone, Default)]
struct FieldNames {
    names: Vec<String>,
    numbers: HashMap<String, u32>,
}

impl FieldNames {
    fn number(&mut self, name: &str) -> u32 {
        if let Some(n) = self.numbers.get(name) {
            return *n;
        }
        let n = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.numbers.insert(name.to_string(), n);
        n
    }
}

// Value tags of the packed form. Each field is `varint(field number) tag payload`.
const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
/// `varint(len) bytes`.
const TEXT: u8 = 3;
/// The row's own id (the `Id` field): no payload.
const KEY: u8 = 4;
/// A datetime in Salesforce's wire form (`2026-11-21T15:30:00.000+0000`): its 17 digits as a u64,
/// 8 bytes little-endian.
const STAMP: u8 = 5;
/// A non-negative integer: `varint`.
const UINT: u8 = 6;
/// A negative integer `n`: `varint(!n)`.
const NINT: u8 = 7;
/// A floating-point number: 8 bytes little-endian.
const FLOAT: u8 = 8;
/// An array: `varint(count)` and each value.
const ARRAY: u8 = 9;
/// An object (compound address, location): `varint(count)` and each `varint(key number) value`,
/// its keys numbered in the table's field dictionary.
const OBJECT: u8 = 10;

/// Where the digits of a wire datetime are; every other byte is fixed by [`STAMP_SHAPE`].
const STAMP_SHAPE: &[u8; 28] = b"0000-00-00T00:00:00.000+0000";
const STAMP_DIGITS: [usize; 17] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The datetime's digits packed in a u64, when `s` is exactly in the wire form.
fn pack_stamp(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != STAMP_SHAPE.len() {
        return None;
    }
    let mut n = 0u64;
    let mut digit = STAMP_DIGITS.iter().peekable();
    for (i, (&c, &shape)) in b.iter().zip(STAMP_SHAPE.iter()).enumerate() {
        if digit.peek() == Some(&&i) {
            digit.next();
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u64::from(c - b'0');
        } else if c != shape {
            return None;
        }
    }
    Some(n)
}

fn unpack_stamp(mut n: u64) -> String {
    let mut b = *STAMP_SHAPE;
    for &i in STAMP_DIGITS.iter().rev() {
        if let Some(slot) = b.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
    }
    // Only ASCII digits were written into an ASCII template.
    String::from_utf8_lossy(&b).into_owned()
}

/// Packs `record` (the row of `id`), numbering new field names in `names`.
fn encode(names: &mut FieldNames, id: &SfId, record: &Record) -> Box<[u8]> {
    let mut out = Vec::with_capacity(16 + record.len() * 8);
    put_varint(&mut out, record.len() as u64);
    for (name, value) in record {
        put_varint(&mut out, u64::from(names.number(name)));
        put_value(&mut out, names, id, value);
    }
    out.into_boxed_slice()
}

fn put_value(out: &mut Vec<u8>, names: &mut FieldNames, id: &SfId, value: &Value) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::String(s) if s.as_str() == id.as_str() => out.push(KEY),
        Value::String(s) => match pack_stamp(s) {
            Some(n) => {
                out.push(STAMP);
                out.extend_from_slice(&n.to_le_bytes());
            }
            None => {
                out.push(TEXT);
                put_varint(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
        },
        Value::Number(n) => put_number(out, n),
        // Nested values are packed the same way (not as JSON text, whose floats would not all
        // read back bit for bit).
        Value::Array(items) => {
            out.push(ARRAY);
            put_varint(out, items.len() as u64);
            for item in items {
                put_value(out, names, id, item);
            }
        }
        Value::Object(map) => {
            out.push(OBJECT);
            put_varint(out, map.len() as u64);
            for (key, item) in map {
                put_varint(out, u64::from(names.number(key)));
                put_value(out, names, id, item);
            }
        }
    }
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        out.push(UINT);
        put_varint(out, u);
    } else if let Some(i) = n.as_i64() {
        out.push(NINT);
        put_varint(out, !(i as u64));
    } else {
        out.push(FLOAT);
        out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_le_bytes());
    }
}

/// A reader over one packed row. Rows are only ever written by [`encode`], so a malformed row is
/// a bug; the reader still never panics and ends the row early instead.
struct Reader<'b> {
    bytes: &'b [u8],
}

impl<'b> Reader<'b> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn take(&mut self, len: usize) -> Option<&'b [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(head)
    }

    fn eight(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }

    /// Steps over one value.
    fn skip(&mut self) -> Option<()> {
        match self.byte()? {
            NULL | FALSE | TRUE | KEY => {}
            TEXT => {
                let len = self.count()?;
                self.take(len)?;
            }
            STAMP | FLOAT => {
                self.take(8)?;
            }
            UINT | NINT => {
                self.varint()?;
            }
            ARRAY => {
                for _ in 0..self.count()? {
                    self.skip()?;
                }
            }
            OBJECT => {
                for _ in 0..self.count()? {
                    self.varint()?;
                    self.skip()?;
                }
            }
            _ => return None,
        }
        Some(())
    }

    fn count(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }

    fn value(&mut self, names: &FieldNames, id: &SfId) -> Option<Value> {
        Some(match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            KEY => Value::String(id.to_string()),
            TEXT => {
                let len = usize::try_from(self.varint()?).ok()?;
                Value::String(String::from_utf8_lossy(self.take(len)?).into_owned())
            }
            STAMP => Value::String(unpack_stamp(u64::from_le_bytes(self.eight()?))),
            UINT => Value::Number(Number::from(self.varint()?)),
            NINT => Value::Number(Number::from(!self.varint()? as i64)),
            FLOAT => Value::Number(Number::from_f64(f64::from_le_bytes(self.eight()?))?),
            ARRAY => {
                let count = self.count()?;
                let mut items = Vec::with_capacity(count.min(self.bytes.len()));
                for _ in 0..count {
                    items.push(self.value(names, id)?);
                }
                Value::Array(items)
            }
            OBJECT => {
                let count = self.count()?;
                let mut map = serde_json::Map::with_capacity(count.min(self.bytes.len()));
                for _ in 0..count {
                    let key = names.names.get(self.count()?)?.clone();
                    map.insert(key, self.value(names, id)?);
                }
                Value::Object(map)
            }
            _ => return None,
        })
    }
}

/// The field numbers a projection keeps, and how many there are.
struct Wanted {
    fields: Vec<bool>,
    count: usize,
}

/// The record packed in `bytes` (the row of `id`).
fn decode(names: &FieldNames, id: &SfId, bytes: &[u8]) -> Record {
    decode_only(names, id, bytes, None)
}

/// The record packed in `bytes`, with only the fields whose number is marked in `wanted` (all
/// when `None`).
fn decode_only(names: &FieldNames, id: &SfId, bytes: &[u8], wanted: Option<&Wanted>) -> Record {
    let mut r = Reader { bytes };
    let count = r.count().unwrap_or(0);
    let capacity = wanted.map_or(count, |w| w.count).min(count);
    let wanted = wanted.map(|w| w.fields.as_slice());
    let mut record = Record::with_capacity(capacity);
    for _ in 0..count {
        let Some(n) = r.count() else { break };
        if wanted.is_some_and(|w| !w.get(n).copied().unwrap_or(false)) {
            if r.skip().is_none() {
                break;
            }
            continue;
        }
        let (Some(name), Some(value)) = (names.names.get(n), r.value(names, id)) else {
            break;
        };
        record.insert(name.clone(), value);
    }
    record
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }

    /// The number of records, deleted ones included.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn contains_key(&self, id: &SfId) -> bool {
        self.rows.contains_key(id)
    }

    /// The ids, in insertion order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &SfId> {
        self.rows.keys()
    }

    fn cow<'t>(&'t self, id: &SfId, slot: &'t Slot) -> Cow<'t, Record> {
        match &slot.open {
            Some(r) => Cow::Borrowed(r),
            None => Cow::Owned(decode(&self.names, id, &slot.packed)),
        }
    }

    /// Record `id`, built for the caller (nothing is kept).
    pub fn record(&self, id: &SfId) -> Option<Cow<'_, Record>> {
        let (_, id, slot) = self.rows.get_full(id)?;
        Some(self.cow(id, slot))
    }

    /// Every record in insertion order, each built as the iterator reaches it (nothing is kept).
    pub fn records(&self) -> impl DoubleEndedIterator<Item = (&SfId, Cow<'_, Record>)> {
        self.rows.iter().map(|(id, slot)| (id, self.cow(id, slot)))
    }

    /// Every record in insertion order with only the fields named in `fields` (a scan that reads
    /// a few columns of many rows builds just those).
    pub fn records_with<'t>(
        &'t self,
        fields: &[&str],
    ) -> impl DoubleEndedIterator<Item = (&'t SfId, Cow<'t, Record>)> + use<'t> {
        let mut wanted = Wanted {
            fields: vec![false; self.names.names.len()],
            count: 0,
        };
        for f in fields {
            if let Some(&n) = self.names.numbers.get(*f)
                && let Some(slot) = usize::try_from(n).ok().and_then(|n| wanted.fields.get_mut(n))
                && !*slot
            {
                *slot = true;
                wanted.count += 1;
            }
        }
        self.rows.iter().map(move |(id, slot)| {
            let record = match &slot.open {
                Some(r) => Cow::Borrowed(&**r),
                None => Cow::Owned(decode_only(&self.names, id, &slot.packed, Some(&wanted))),
            };
            (id, record)
        })
    }

    /// The borrowed view of the row at `index` (see the module docs: kept until the next change).
    fn view_at(&self, index: usize) -> Option<(&SfId, &Record)> {
        let (id, slot) = self.rows.get_index(index)?;
        if let Some(r) = &slot.open {
            return Some((id, r));
        }
        let view = self.view.get_or_init(|| {
            std::iter::repeat_with(OnceLock::new)
                .take(self.rows.len())
                .collect()
        });
        let cell = view.get(index)?;
        Some((
            id,
            cell.get_or_init(|| Box::new(decode(&self.names, id, &slot.packed))),
        ))
    }

    /// Record `id`, borrowed from the table's view (kept until the next change: for small tables
    /// and tests; see [`Table::record`] for data tables).
    pub fn get(&self, id: &SfId) -> Option<&Record> {
        let index = self.rows.get_index_of(id)?;
        self.view_at(index).map(|(_, r)| r)
    }

    /// Every `(id, record)` from the table's view (see [`Table::get`]).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&SfId, &Record)> {
        (0..self.rows.len()).filter_map(|i| self.view_at(i))
    }

    /// Every record from the table's view (see [`Table::get`]).
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Record> {
        self.iter().map(|(_, r)| r)
    }

    /// Record `id` to change in place; the row stays a map from then on (for small tables: data
    /// tables change through [`Table::insert`] or [`Table::for_each_mut`]).
    pub fn get_mut(&mut self, id: &SfId) -> Option<&mut Record> {
        self.view = OnceLock::new();
        let (_, id, slot) = self.rows.get_full_mut(id)?;
        Some(open(&self.names, id, slot))
    }

    /// Every record to change in place (see [`Table::get_mut`]).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Record> {
        self.view = OnceLock::new();
        let names = &self.names;
        self.rows.iter_mut().map(move |(id, slot)| open(names, id, slot))
    }

    /// Changes every record with `f`, one row at a time: each is built, changed and packed again,
    /// so a whole data table is never held as maps at once.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&SfId, &mut Record)) {
        self.view = OnceLock::new();
        for (id, slot) in &mut self.rows {
            match &mut slot.open {
                Some(r) => f(id, r),
                None => {
                    let mut record = decode(&self.names, id, &slot.packed);
                    f(id, &mut record);
                    slot.packed = encode(&mut self.names, id, &record);
                }
            }
        }
    }

    /// Stores `record` as row `id` (at the end when new, in its place when replacing) and returns
    /// the record it replaces.
    pub fn insert(&mut self, id: SfId, record: Record) -> Option<Record> {
        self.put(id, &record)
    }

    /// [`Table::insert`] from a borrowed record (it is packed, not kept).
    pub fn put(&mut self, id: SfId, record: &Record) -> Option<Record> {
        self.view = OnceLock::new();
        let packed = Slot::packed(encode(&mut self.names, &id, record));
        match self.rows.get_full_mut(&id) {
            Some((_, key, slot)) => {
                let before = std::mem::replace(slot, packed);
                Some(into_record(&self.names, key, before))
            }
            None => {
                self.rows.insert(id, packed);
                None
            }
        }
    }

    /// Removes row `id`, keeping the order of the others, and returns its record.
    pub fn shift_remove(&mut self, id: &SfId) -> Option<Record> {
        self.view = OnceLock::new();
        let (id, slot) = self.rows.shift_remove_entry(id)?;
        Some(into_record(&self.names, &id, slot))
    }

    /// Keeps only the records for which `keep` answers true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&SfId, &Record) -> bool) {
        self.view = OnceLock::new();
        let names = &self.names;
        self.rows.retain(|id, slot| match &slot.open {
            Some(r) => keep(id, r),
            None => keep(id, &decode(names, id, &slot.packed)),
        });
    }
}

fn into_record(names: &FieldNames, id: &SfId, slot: Slot) -> Record {
    match slot.open {
        Some(r) => *r,
        None => decode(names, id, &slot.packed),
    }
}

fn open<'s>(names: &FieldNames, id: &SfId, slot: &'s mut Slot) -> &'s mut Record {
    let packed = std::mem::take(&mut slot.packed);
    slot.open
        .get_or_insert_with(|| Box::new(decode(names, id, &packed)))
}

impl Clone for Table {
    fn clone(&self) -> Self {
        Table {
            names: self.names.clone(),
            rows: self.rows.clone(),
            view: OnceLock::new(),
        }
    }
}

impl PartialEq for Table {
    /// Two tables are equal when they hold the same records under the same ids (in any order, as
    /// `IndexMap` compares).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .records()
                .all(|(id, r)| other.record(id).is_some_and(|o| *o == *r))
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.records()).finish()
    }
}

impl std::ops::Index<&SfId> for Table {
    type Output = Record;

    /// The borrowed view of record `id` (see [`Table::get`]). Panics when there is none, as
    /// `IndexMap` does: for tests.
    fn index(&self, id: &SfId) -> &Record {
        match self.get(id) {
            Some(r) => r,
            None => panic!("no record {id} in this table"),
        }
    }
}

impl FromIterator<(SfId, Record)> for Table {
    fn from_iter<I: IntoIterator<Item = (SfId, Record)>>(iter: I) -> Self {
        let mut t = Table::new();
        for (id, r) in iter {
            t.insert(id, r);
        }
        t
    }
}

// The state file keeps a table as a JSON object id → record, exactly as when tables were
// `IndexMap<SfId, Record>`: files written before compact tables load, and the other way round.
impl serde::Serialize for Table {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (id, record) in self.records() {
            map.serialize_entry(id, &*record)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Table {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Table;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of record id to record")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Table, A::Error> {
                let mut t = Table::new();
                while let Some((id, record)) = access.next_entry::<SfId, Record>()? {
                    t.insert(id, record);
                }
                Ok(t)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests;
