//! The compact form gives back exactly what was stored, through every way a table is changed.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn id(n: u64) -> SfId {
    SfId::generate("001", "5g", n)
}

/// The exact text of a record: field order, number kinds (`1` vs `1.0`) and nulls all show.
fn text(r: &Record) -> String {
    serde_json::to_string(r).unwrap_or_default()
}

fn stamp() -> impl Strategy<Value = String> {
    (
        1000u32..9999,
        1u32..13,
        1u32..29,
        0u32..24,
        0u32..60,
        0u32..60,
        0u32..1000,
    )
        .prop_map(|(y, mo, d, h, mi, s, ms)| {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+0000")
        })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        // Unicode text of any length, including none.
        ".{0,40}".prop_map(Value::String),
        proptest::collection::vec(any::<char>(), 100..1000)
            .prop_map(|c| Value::String(c.into_iter().collect())),
        stamp().prop_map(Value::String),
        // Almost datetimes: must stay text.
        stamp().prop_map(|s| Value::String(s.replace("+0000", "+0100"))),
        stamp().prop_map(|s| Value::String(s.replacen('-', "/", 1))),
        Just(Value::String(id(7).to_string())),
        Just(Value::String("2026-11-21".into())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            // Compound fields such as addresses: objects with their own key order.
            proptest::collection::vec(("[a-zA-Z]{1,10}", inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn record() -> impl Strategy<Value = Record> {
    let name = prop_oneof![
        Just("Id".to_string()),
        Just("Name".to_string()),
        Just("OwnerId".to_string()),
        Just("BillingAddress".to_string()),
        Just("IsDeleted".to_string()),
        "[A-Za-z][A-Za-z0-9_]{0,20}",
        ".{1,12}",
    ];
    proptest::collection::vec((name, value()), 0..30).prop_map(|kv| kv.into_iter().collect())
}

proptest! {
    #[test]
    fn any_record_round_trips(records in proptest::collection::vec(record(), 1..8)) {
        let mut table = Table::new();
        for (n, r) in records.iter().enumerate() {
            table.insert(id(n as u64 + 1), r.clone());
        }
        prop_assert_eq!(table.len(), records.len());
        for (n, r) in records.iter().enumerate() {
            let got = table.record(&id(n as u64 + 1));
            prop_assert_eq!(got.as_deref().map(text), Some(text(r)));
            prop_assert_eq!(table.get(&id(n as u64 + 1)).map(text), Some(text(r)));
        }
        // A projection gives exactly the named fields of each record, in the record's order.
        for (n, (got_id, got)) in table.records_with(&["Id", "Name", "BillingAddress", "IsDeleted"]).enumerate() {
            prop_assert_eq!(got_id, &id(n as u64 + 1));
            let mut want = records[n].clone();
            want.retain(|k, _| ["Id", "Name", "BillingAddress", "IsDeleted"].contains(&k.as_str()));
            prop_assert_eq!(text(&got), text(&want));
        }
        // Rows keep insertion order, and the state file form is the old `IndexMap` form.
        let old: IndexMap<SfId, Record> =
            records.iter().enumerate().map(|(n, r)| (id(n as u64 + 1), r.clone())).collect();
        let saved = serde_json::to_string(&table).unwrap_or_default();
        prop_assert_eq!(&saved, &serde_json::to_string(&old).unwrap_or_default());
        // Loading reads what the old form reads (serde_json's text floats may differ in the last
        // digit from the stored ones, for both alike).
        let fail = |e: serde_json::Error| TestCaseError::fail(e.to_string());
        let loaded: Table = serde_json::from_str(&saved).map_err(fail)?;
        let old_loaded: IndexMap<SfId, Record> = serde_json::from_str(&saved).map_err(fail)?;
        prop_assert_eq!(
            serde_json::to_string(&loaded).unwrap_or_default(),
            serde_json::to_string(&old_loaded).unwrap_or_default()
        );
    }

    #[test]
    fn replacing_a_record_round_trips(first in record(), second in record()) {
        let mut table = Table::new();
        table.insert(id(1), first.clone());
        table.insert(id(2), first.clone());
        let before = table.insert(id(1), second.clone());
        prop_assert_eq!(before.as_ref().map(text), Some(text(&first)));
        prop_assert_eq!(table.keys().cloned().collect::<Vec<_>>(), vec![id(1), id(2)]);
        prop_assert_eq!(table.record(&id(1)).as_deref().map(text), Some(text(&second)));
        prop_assert_eq!(table.record(&id(2)).as_deref().map(text), Some(text(&first)));
    }
}

fn task(n: u64) -> Record {
    let stamp = "2026-12-07T08:00:00.000+0000";
    let user = "0055g00000000001AAA";
    match json!({
        "Id": id(n).to_string(),
        "Subject": format!("Task {n}"),
        "IsDeleted": false,
        "CreatedDate": stamp,
        "CreatedById": user,
        "SystemModstamp": stamp,
        "Priority": "Normal",
        "Score__c": n,
        "Ratio__c": 1.0,
    }) {
        Value::Object(m) => m,
        _ => Record::new(),
    }
}

#[test]
fn views_follow_changes() {
    let mut table: Table = (1..=3).map(|n| (id(n), task(n))).collect();
    assert_eq!(table[&id(2)]["Subject"], "Task 2");
    let subjects: Vec<&str> = table.values().filter_map(|r| r["Subject"].as_str()).collect();
    assert_eq!(subjects, ["Task 1", "Task 2", "Task 3"]);

    // Changed in place: the view and the owned reads see the change.
    if let Some(r) = table.get_mut(&id(2)) {
        r.insert("Subject".into(), json!("Changed"));
    }
    assert_eq!(table[&id(2)]["Subject"], "Changed");
    assert_eq!(
        table.record(&id(2)).map(|r| r["Subject"].clone()),
        Some(json!("Changed"))
    );

    table.for_each_mut(|_, r| {
        r.shift_remove("Priority");
    });
    assert!(table.records().all(|(_, r)| r.get("Priority").is_none()));
    assert_eq!(table[&id(3)]["Score__c"], json!(3));
    assert_eq!(text(&table[&id(3)]), {
        let mut t = task(3);
        t.shift_remove("Priority");
        text(&t)
    });

    // Removal keeps the order of the others; retain filters by record.
    assert_eq!(
        table.shift_remove(&id(1)).map(|r| r["Subject"].clone()),
        Some(json!("Task 1"))
    );
    table.insert(id(4), task(4));
    assert_eq!(
        table.keys().cloned().collect::<Vec<_>>(),
        vec![id(2), id(3), id(4)]
    );
    table.retain(|_, r| r["Subject"] != "Task 3");
    assert_eq!(table.keys().cloned().collect::<Vec<_>>(), vec![id(2), id(4)]);
    assert!(table.get(&id(3)).is_none());
    assert_eq!(table.iter().count(), 2);
}

#[test]
fn a_typical_row_packs_small() {
    let mut names = FieldNames::default();
    let packed = encode(&mut names, &id(1), &task(1));
    // 9 fields: the id costs nothing, the two datetimes 8 bytes each.
    assert!(packed.len() < 80, "{} bytes", packed.len());
    assert_eq!(text(&decode(&names, &id(1), &packed)), text(&task(1)));
}

#[test]
fn datetimes_pack_only_in_the_exact_wire_form() {
    for s in [
        "2026-12-07T08:00:00.000+0000",
        "0000-01-01T00:00:00.000+0000",
        "9999-12-31T23:59:59.999+0000",
    ] {
        assert_eq!(pack_stamp(s).map(unpack_stamp).as_deref(), Some(s));
    }
    for s in [
        "2026-12-07T08:00:00.000Z",
        "2026-12-07T08:00:00.000+0100",
        "2026-12-07 08:00:00.000+0000",
        "2026-12-07T08:00:0x.000+0000",
        "2026-12-07T08:00:00.000+00000",
        "２０２６-12-07T08:00:00.000+0000",
    ] {
        assert_eq!(pack_stamp(s), None, "{s}");
    }
}
