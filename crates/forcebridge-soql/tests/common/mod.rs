//! An in-memory [`Catalog`]: the reference implementation the evaluator is tested against, and a
//! model for the emulator's own (Account, Contact, Lead, User, Task with polymorphic `WhoId`).
//!
//! Invariant: ids are 18 characters with a valid checksum; names are matched case-insensitively
//! and answered in canonical case, as the `Catalog` contract requires.

// Test support: each test binary uses a different subset, and a failed fixture may panic.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use forcebridge_soql::{
    Catalog, ChildRelationship, ExecOptions, FieldInfo, FieldKind, QueryOutput, Record, SoqlError,
};
use serde_json::{Value, json};

/// One object's schema.
pub struct ObjectDef {
    pub name: String,
    pub prefix: String,
    pub fields: Vec<FieldInfo>,
    pub children: Vec<ChildRelationship>,
}

/// Records and schema in memory.
pub struct MemCatalog {
    pub objects: Vec<ObjectDef>,
    pub records: HashMap<String, Vec<Record>>,
    pub by_id: HashMap<String, (String, usize)>,
    pub now: DateTime<Utc>,
    counter: u64,
}

/// The 3-character checksum Salesforce appends to a 15-character id.
pub fn id18(id15: &str) -> String {
    const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut out = id15.to_string();
    for chunk in id15.as_bytes().chunks(5) {
        let mut bits = 0;
        for (i, c) in chunk.iter().enumerate() {
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        out.push(SUFFIX[bits] as char);
    }
    out
}

pub fn field(name: &str, kind: FieldKind) -> FieldInfo {
    FieldInfo {
        name: name.into(),
        kind,
        reference_to: Vec::new(),
        relationship_name: None,
        groupable: !matches!(kind, FieldKind::Unfilterable | FieldKind::MultiPicklist),
        sortable: kind != FieldKind::Unfilterable,
    }
}

pub fn reference(name: &str, rel: &str, to: &[&str]) -> FieldInfo {
    FieldInfo {
        name: name.into(),
        kind: FieldKind::Id,
        reference_to: to.iter().map(|s| s.to_string()).collect(),
        relationship_name: Some(rel.into()),
        groupable: true,
        sortable: true,
    }
}

fn child(name: &str, object: &str, field: &str) -> ChildRelationship {
    ChildRelationship {
        name: name.into(),
        child_object: object.into(),
        field: field.into(),
    }
}

impl MemCatalog {
    /// The standard schema, no records; "now" is 2024-05-15T12:00:00Z (a Wednesday).
    pub fn new() -> Self {
        use FieldKind as K;
        let common = |extra: Vec<FieldInfo>| {
            let mut v = vec![
                field("Id", K::Id),
                field("IsDeleted", K::Boolean),
                field("CreatedDate", K::DateTime),
            ];
            v.extend(extra);
            v
        };
        let objects = vec![
            ObjectDef {
                name: "User".into(),
                prefix: "005".into(),
                fields: common(vec![
                    field("Name", K::String),
                    field("Username", K::String),
                    field("IsActive", K::Boolean),
                ]),
                children: vec![],
            },
            ObjectDef {
                name: "Account".into(),
                prefix: "001".into(),
                fields: common(vec![
                    field("Name", K::String),
                    field("Type", K::String),
                    field("Industry", K::String),
                    field("AnnualRevenue", K::Number),
                    field("NumberOfEmployees", K::Number),
                    reference("OwnerId", "Owner", &["User"]),
                    field("Description", K::Unfilterable),
                    field("Tags__c", K::MultiPicklist),
                    field("Active__c", K::Boolean),
                    field("SLA_Expiry__c", K::Date),
                ]),
                children: vec![
                    child("Contacts", "Contact", "AccountId"),
                    child("Tasks", "Task", "WhatId"),
                ],
            },
            ObjectDef {
                name: "Contact".into(),
                prefix: "003".into(),
                fields: common(vec![
                    field("Name", K::String),
                    field("FirstName", K::String),
                    field("LastName", K::String),
                    field("Email", K::String),
                    reference("AccountId", "Account", &["Account"]),
                    reference("OwnerId", "Owner", &["User"]),
                    field("Birthdate", K::Date),
                ]),
                children: vec![child("Tasks", "Task", "WhoId")],
            },
            ObjectDef {
                name: "Lead".into(),
                prefix: "00Q".into(),
                fields: common(vec![
                    field("Name", K::String),
                    field("FirstName", K::String),
                    field("LastName", K::String),
                    field("Company", K::String),
                    field("Status", K::String),
                    field("Email", K::String),
                    reference("OwnerId", "Owner", &["User"]),
                ]),
                children: vec![child("Tasks", "Task", "WhoId")],
            },
            ObjectDef {
                name: "Task".into(),
                prefix: "00T".into(),
                fields: common(vec![
                    field("Subject", K::String),
                    reference("WhoId", "Who", &["Contact", "Lead"]),
                    reference("WhatId", "What", &["Account"]),
                    reference("OwnerId", "Owner", &["User"]),
                    field("ActivityDate", K::Date),
                ]),
                children: vec![],
            },
        ];
        MemCatalog {
            objects,
            records: HashMap::new(),
            by_id: HashMap::new(),
            now: Utc.with_ymd_and_hms(2024, 5, 15, 12, 0, 0).single().unwrap(),
            counter: 0,
        }
    }

    fn def(&self, name: &str) -> Option<&ObjectDef> {
        self.objects.iter().find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// Adds a record (its `Id` generated, `IsDeleted` defaulted to false) and returns the id.
    pub fn insert(&mut self, object: &str, fields: Value) -> String {
        self.counter += 1;
        let def = self.def(object).expect("known object");
        let object = def.name.clone();
        let id = id18(&format!("{}{:012}", def.prefix, self.counter));
        let mut rec = Record::new();
        rec.insert("Id".into(), json!(id));
        rec.insert("IsDeleted".into(), json!(false));
        if let Value::Object(m) = fields {
            for (k, v) in m {
                rec.insert(k, v);
            }
        }
        let list = self.records.entry(object.clone()).or_default();
        list.push(rec);
        self.by_id.insert(id.clone(), (object, list.len() - 1));
        id
    }

    /// Parses and runs `q` (not including deleted rows).
    pub fn query(&self, q: &str) -> Result<QueryOutput, SoqlError> {
        let parsed = forcebridge_soql::parse(q)?;
        forcebridge_soql::execute(&parsed, self, ExecOptions::default())
    }

    /// Parses and runs `q` as `queryAll`.
    pub fn query_all(&self, q: &str) -> Result<QueryOutput, SoqlError> {
        let parsed = forcebridge_soql::parse(q)?;
        forcebridge_soql::execute(
            &parsed,
            self,
            ExecOptions {
                include_deleted: true,
                ..ExecOptions::default()
            },
        )
    }

    /// The records of a query that must succeed.
    pub fn rows(&self, q: &str) -> Vec<Value> {
        match self.query(q) {
            Ok(out) => out.records,
            Err(e) => panic!("{q}: {} {}", e.code(), e.message),
        }
    }

    /// The values of one top-level field over the rows of `q`.
    pub fn col(&self, q: &str, name: &str) -> Vec<Value> {
        self.rows(q).iter().map(|r| r[name].clone()).collect()
    }

    /// The error of a query that must fail.
    pub fn err(&self, q: &str) -> SoqlError {
        match self.query(q) {
            Ok(out) => panic!("{q}: expected an error, got {:?}", out.records),
            Err(e) => e,
        }
    }
}

impl Catalog for MemCatalog {
    fn object(&self, name: &str) -> Option<String> {
        self.def(name).map(|d| d.name.clone())
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        self.def(object)?
            .fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(field))
            .cloned()
    }

    fn fields(&self, object: &str) -> Vec<FieldInfo> {
        self.def(object).map(|d| d.fields.clone()).unwrap_or_default()
    }

    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo> {
        self.def(object)?
            .fields
            .iter()
            .find(|f| {
                f.relationship_name
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(relationship))
            })
            .cloned()
    }

    fn child_relationship(&self, object: &str, relationship: &str) -> Option<ChildRelationship> {
        self.def(object)?
            .children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(relationship))
            .cloned()
    }

    fn scan<'a>(&'a self, object: &str, include_deleted: bool) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
        let name = self.def(object).map(|d| d.name.clone()).unwrap_or_default();
        match self.records.get(&name) {
            Some(list) => Box::new(
                list.iter()
                    .filter(move |r| include_deleted || r.get("IsDeleted") != Some(&json!(true))),
            ),
            None => Box::new(std::iter::empty()),
        }
    }

    fn get(&self, id: &str) -> Option<(&str, &Record)> {
        let (object, idx) = self.by_id.get(id)?;
        let rec = self.records.get(object)?.get(*idx)?;
        Some((object.as_str(), rec))
    }

    fn attributes(&self, object: &str, id: Option<&str>) -> Value {
        match id {
            Some(id) => {
                json!({"type": object, "url": format!("/services/data/v62.0/sobjects/{object}/{id}")})
            }
            None => json!({ "type": object }),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// Ids of the fixture's records, by a short name.
pub struct Fixture {
    pub cat: MemCatalog,
    pub ids: HashMap<&'static str, String>,
}

impl Fixture {
    pub fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }
}

/// A small org: 2 users, 5 accounts (one deleted), 4 contacts, 2 leads, 3 tasks.
pub fn fixture() -> Fixture {
    let mut c = MemCatalog::new();
    let mut ids = HashMap::new();
    let u1 = c.insert(
        "User",
        json!({"Name": "Ada Admin", "Username": "ada@example.com", "IsActive": true}),
    );
    let u2 = c.insert(
        "User",
        json!({"Name": "Bob Builder", "Username": "bob@example.com", "IsActive": true}),
    );
    let a1 = c.insert(
        "Account",
        json!({"Name": "Acme", "Type": "Customer", "Industry": "Tech", "AnnualRevenue": 1000000,
               "NumberOfEmployees": 50, "OwnerId": u1, "CreatedDate": "2024-05-15T09:00:00.000+0000",
               "Description": "A long text", "Tags__c": "Gold;Partner", "Active__c": true,
               "SLA_Expiry__c": "2024-05-20"}),
    );
    let a2 = c.insert(
        "Account",
        json!({"Name": "Globex", "Type": "Prospect", "Industry": "Tech", "AnnualRevenue": 500000,
               "NumberOfEmployees": 10, "OwnerId": u2, "CreatedDate": "2024-05-14T23:30:00.000+0000",
               "Description": null, "Tags__c": "Silver", "Active__c": false, "SLA_Expiry__c": "2024-04-30"}),
    );
    let a3 = c.insert(
        "Account",
        json!({"Name": "Initech", "Type": null, "Industry": "Finance", "AnnualRevenue": null,
               "NumberOfEmployees": 200, "OwnerId": u1, "CreatedDate": "2024-01-10T10:00:00.000+0000",
               "Description": null, "Tags__c": null, "Active__c": true, "SLA_Expiry__c": null}),
    );
    let a4 = c.insert(
        "Account",
        json!({"Name": "acme Labs", "Type": "Customer", "Industry": null, "AnnualRevenue": 250000,
               "NumberOfEmployees": null, "OwnerId": u2, "CreatedDate": "2023-12-31T23:59:59.000+0000",
               "Description": null, "Tags__c": "Gold;Silver;Bronze", "Active__c": false,
               "SLA_Expiry__c": "2024-05-15"}),
    );
    let a5 = c.insert(
        "Account",
        json!({"Name": "Deleted Co", "Type": "Customer", "IsDeleted": true, "OwnerId": u1,
               "CreatedDate": "2024-02-01T00:00:00.000+0000"}),
    );
    let c1 = c.insert(
        "Contact",
        json!({"Name": "Alice Smith", "FirstName": "Alice", "LastName": "Smith", "Email": "alice@acme.com", "AccountId": a1,
               "OwnerId": u1, "Birthdate": "1990-05-15", "CreatedDate": "2024-03-01T08:00:00.000+0000"}),
    );
    let c2 = c.insert(
        "Contact",
        json!({"Name": "Carol Jones", "FirstName": "Carol", "LastName": "Jones", "Email": null, "AccountId": a1, "OwnerId": u2,
               "Birthdate": null, "CreatedDate": "2024-03-02T08:00:00.000+0000"}),
    );
    let c3 = c.insert(
        "Contact",
        json!({"Name": "Dan Brown", "FirstName": "Dan", "LastName": "Brown", "Email": "dan@globex.com", "AccountId": a2,
               "OwnerId": u1, "Birthdate": "1985-12-01", "CreatedDate": "2024-03-03T08:00:00.000+0000"}),
    );
    let c4 = c.insert(
        "Contact",
        json!({"Name": "Eve Orphan", "FirstName": "Eve", "LastName": "Orphan", "Email": "eve@example.com", "AccountId": null,
               "OwnerId": u1, "CreatedDate": "2024-03-04T08:00:00.000+0000"}),
    );
    let l1 = c.insert(
        "Lead",
        json!({"Name": "Frank Lead", "FirstName": "Frank", "LastName": "Lead", "Company": "Frankco",
               "Status": "Open - Not Contacted", "Email": "frank@frankco.com", "OwnerId": u2}),
    );
    let l2 = c.insert(
        "Lead",
        json!({"Name": "Grace Hopper", "FirstName": "Grace", "LastName": "Hopper", "Company": "Navy", "Status": "Working",
               "Email": "alice@acme.com", "OwnerId": u1}),
    );
    let t1 = c.insert(
        "Task",
        json!({"Subject": "Call", "WhoId": c1, "WhatId": a1, "OwnerId": u1, "ActivityDate": "2024-05-16"}),
    );
    let t2 = c.insert(
        "Task",
        json!({"Subject": "Email", "WhoId": l1, "WhatId": null, "OwnerId": u2, "ActivityDate": null}),
    );
    let t3 = c.insert(
        "Task",
        json!({"Subject": "Meeting", "WhoId": null, "WhatId": a2, "OwnerId": u1, "ActivityDate": "2024-05-10"}),
    );
    for (k, v) in [
        ("u1", u1),
        ("u2", u2),
        ("a1", a1),
        ("a2", a2),
        ("a3", a3),
        ("a4", a4),
        ("a5", a5),
        ("c1", c1),
        ("c2", c2),
        ("c3", c3),
        ("c4", c4),
        ("l1", l1),
        ("l2", l2),
        ("t1", t1),
        ("t2", t2),
        ("t3", t3),
    ] {
        ids.insert(k, v);
    }
    Fixture { cat: c, ids }
}
