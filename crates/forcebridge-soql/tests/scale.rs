//! The cost model, asserted by counting catalog calls (not by timing): a 2,000-row page with
//! parent paths and a child subquery scans each object once and looks parents up by id, so the
//! work grows linearly with the rows.

mod common;

use std::cell::Cell;

use chrono::{DateTime, Utc};
use common::MemCatalog;
use forcebridge_soql::{Catalog, ChildRelationship, ExecOptions, FieldInfo, Record};
use serde_json::{Value, json};

/// Counts `scan` and `get` calls on the way to an in-memory catalog.
struct Counting {
    inner: MemCatalog,
    scans: Cell<usize>,
    gets: Cell<usize>,
}

impl Catalog for Counting {
    fn object(&self, name: &str) -> Option<String> {
        self.inner.object(name)
    }
    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        self.inner.field(object, field)
    }
    fn fields(&self, object: &str) -> Vec<FieldInfo> {
        self.inner.fields(object)
    }
    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo> {
        self.inner.parent_relationship(object, relationship)
    }
    fn child_relationship(&self, object: &str, relationship: &str) -> Option<ChildRelationship> {
        self.inner.child_relationship(object, relationship)
    }
    fn scan<'a>(&'a self, object: &str, include_deleted: bool) -> Box<dyn Iterator<Item = &'a Record> + 'a> {
        self.scans.set(self.scans.get() + 1);
        self.inner.scan(object, include_deleted)
    }
    fn get(&self, id: &str) -> Option<(&str, &Record)> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(id)
    }
    fn attributes(&self, object: &str, id: Option<&str>) -> Value {
        self.inner.attributes(object, id)
    }
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
}

fn org(accounts: usize, contacts_per_account: usize) -> Counting {
    let mut c = MemCatalog::new();
    let owner = c.insert("User", json!({"Name": "Owner"}));
    for i in 0..accounts {
        let a = c.insert(
            "Account",
            json!({"Name": format!("Account {i:05}"), "OwnerId": owner}),
        );
        for j in 0..contacts_per_account {
            c.insert(
                "Contact",
                json!({"LastName": format!("C{i:05}-{j}"), "AccountId": a, "OwnerId": owner}),
            );
        }
    }
    Counting {
        inner: c,
        scans: Cell::new(0),
        gets: Cell::new(0),
    }
}

#[test]
fn parent_paths_cost_one_get_per_hop_per_row() {
    let cat = org(1000, 2);
    let q = forcebridge_soql::parse(
        "SELECT LastName, Account.Name, Account.Owner.Name FROM Contact \
         WHERE Account.Name LIKE 'Account%' ORDER BY Account.Name LIMIT 2000",
    )
    .unwrap();
    let out = forcebridge_soql::execute(&q, &cat, ExecOptions::default()).unwrap();
    assert_eq!(out.total_size, 2000);
    assert_eq!(cat.scans.get(), 1);
    // WHERE (1 hop) + ORDER BY (1 hop) + output (Account, then its Owner) per row.
    assert!(cat.gets.get() <= 2000 * 4, "{} gets", cat.gets.get());
}

#[test]
fn child_subqueries_scan_the_child_object_once() {
    let cat = org(2000, 3);
    let q = forcebridge_soql::parse(
        "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName DESC LIMIT 2) FROM Account",
    )
    .unwrap();
    let out = forcebridge_soql::execute(&q, &cat, ExecOptions::default()).unwrap();
    assert_eq!(out.total_size, 2000);
    assert_eq!(out.records[0]["Contacts"]["totalSize"], 2);
    assert_eq!(cat.scans.get(), 2);
    assert_eq!(cat.gets.get(), 0);
}

#[test]
fn semi_joins_run_once_per_query() {
    let cat = org(2000, 1);
    let q = forcebridge_soql::parse(
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE LastName LIKE 'C0001%')",
    )
    .unwrap();
    let out = forcebridge_soql::execute(&q, &cat, ExecOptions::default()).unwrap();
    assert_eq!(out.total_size, 10);
    assert_eq!(cat.scans.get(), 2);
}
