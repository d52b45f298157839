//! Evaluation cost of 2,000-row pages over the in-memory catalog, printed as numbers (no
//! framework: `cargo bench -p forcebridge-soql` runs it with `harness = false`).
//!
//! Invariant: it measures only `parse` + `execute`; building the org is outside the timed part.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::MemCatalog;
use forcebridge_soql::ExecOptions;
use serde_json::json;

fn org(accounts: usize, contacts_per_account: usize) -> MemCatalog {
    let mut c = MemCatalog::new();
    let owner = c.insert("User", json!({"Name": "Owner"}));
    for i in 0..accounts {
        let a = c.insert(
            "Account",
            json!({"Name": format!("Account {i:05}"), "OwnerId": owner, "Industry": if i % 2 == 0 { "Tech" } else { "Retail" },
                   "AnnualRevenue": i * 1000, "CreatedDate": "2024-05-01T10:00:00.000+0000"}),
        );
        for j in 0..contacts_per_account {
            c.insert(
                "Contact",
                json!({"LastName": format!("C{i:05}-{j}"), "Email": format!("c{i}.{j}@example.com"),
                       "AccountId": a, "OwnerId": owner}),
            );
        }
    }
    c
}

fn measure(name: &str, cat: &MemCatalog, q: &str, rows_expected: usize) {
    let runs = 20;
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        let parsed = forcebridge_soql::parse(q).unwrap();
        let out = forcebridge_soql::execute(&parsed, cat, ExecOptions::default()).unwrap();
        let took = start.elapsed();
        assert_eq!(out.total_size, rows_expected, "{name}");
        black_box(out);
        best = best.min(took);
    }
    let per_row = best.as_nanos() / rows_expected.max(1) as u128;
    println!("{name:<44} {rows_expected:>6} rows  best {best:>10.2?}  {per_row:>6} ns/row");
}

fn main() {
    let cat = org(2000, 5);
    measure(
        "plain fields, 2,000 of 10,000 rows",
        &cat,
        "SELECT Id, LastName, Email FROM Contact LIMIT 2000",
        2000,
    );
    measure(
        "parent paths + WHERE + ORDER BY",
        &cat,
        "SELECT Id, LastName, Account.Name, Account.Owner.Name FROM Contact \
         WHERE Account.Industry = 'Tech' ORDER BY Account.Name, LastName LIMIT 2000",
        2000,
    );
    measure(
        "child subquery per parent",
        &cat,
        "SELECT Id, Name, (SELECT LastName, Email FROM Contacts ORDER BY LastName) FROM Account",
        2000,
    );
    measure(
        "semi-join",
        &cat,
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE Email LIKE '%.4@example.com')",
        2000,
    );
    measure(
        "GROUP BY with aggregates",
        &cat,
        "SELECT Industry, COUNT(Id), SUM(AnnualRevenue), MAX(Name) FROM Account GROUP BY Industry",
        2,
    );
}
