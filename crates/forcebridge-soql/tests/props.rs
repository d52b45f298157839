//! Properties: the parser and the evaluator never panic; LIMIT bounds the rows; AND narrows, OR
//! widens and NOT complements; ORDER BY sorts.

mod common;

use std::collections::BTreeSet;

use common::{MemCatalog, fixture};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Pieces of SOQL, so that random queries get past the first token often.
fn soql_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("SELECT"),
        Just("FROM"),
        Just("WHERE"),
        Just("Id"),
        Just("Name"),
        Just("Account"),
        Just("Contact"),
        Just("Account.Name"),
        Just("AND"),
        Just("OR"),
        Just("NOT"),
        Just("IN"),
        Just("LIKE"),
        Just("INCLUDES"),
        Just("("),
        Just(")"),
        Just(","),
        Just("="),
        Just("!="),
        Just("<"),
        Just(">="),
        Just("'x'"),
        Just("'a\\'b'"),
        Just("'unterminated"),
        Just("5"),
        Just("-1.5"),
        Just("null"),
        Just("TRUE"),
        Just("TODAY"),
        Just("LAST_N_DAYS:"),
        Just("2024-01-31"),
        Just("2024-01-31T10:00:00Z"),
        Just("COUNT()"),
        Just("COUNT(Id)"),
        Just("GROUP BY"),
        Just("HAVING"),
        Just("ORDER BY"),
        Just("DESC"),
        Just("NULLS FIRST"),
        Just("LIMIT"),
        Just("OFFSET"),
        Just("FIELDS(ALL)"),
        Just("CALENDAR_YEAR(CreatedDate)"),
        Just("DAY_ONLY(convertTimezone(CreatedDate))"),
        Just("TYPEOF Owner WHEN User THEN Name ELSE Id END"),
        Just("(SELECT Id FROM Contacts)"),
        Just("\n"),
        Just("é"),
        Just("#"),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.join(" "))
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
        let _ = forcebridge_soql::parse(&s);
    }

    #[test]
    fn parse_and_execute_never_panic_on_soql_like_text(s in soql_soup()) {
        let f = fixture();
        let q = format!("SELECT Id FROM Account {s}");
        if let Ok(parsed) = forcebridge_soql::parse(&q) {
            let _ = forcebridge_soql::execute(&parsed, &f.cat, Default::default());
        }
        if let Ok(parsed) = forcebridge_soql::parse(&s) {
            let _ = forcebridge_soql::execute(&parsed, &f.cat, Default::default());
        }
    }

    #[test]
    fn every_error_names_a_row_and_column_or_none_at_all(s in soql_soup()) {
        if let Err(e) = forcebridge_soql::parse(&s) {
            prop_assert_eq!(e.code(), "MALFORMED_QUERY");
            prop_assert!(e.message.contains("ERROR at Row:"), "{}", e.message);
        }
    }
}

/// A catalog of `n` accounts with pseudo-random values (nulls included).
fn accounts(values: &[(Option<i64>, Option<u8>, bool)]) -> MemCatalog {
    let mut c = MemCatalog::new();
    let types = ["Customer", "Prospect", "Partner", "customer"];
    for (i, (rev, ty, active)) in values.iter().enumerate() {
        c.insert(
            "Account",
            json!({
                "Name": format!("A{i:03}"),
                "AnnualRevenue": rev,
                "Type": ty.map(|t| types[usize::from(t) % types.len()]),
                "Active__c": active,
            }),
        );
    }
    c
}

fn account_values() -> impl Strategy<Value = Vec<(Option<i64>, Option<u8>, bool)>> {
    prop::collection::vec(
        (
            prop::option::of(-5i64..5),
            prop::option::of(0u8..4),
            any::<bool>(),
        ),
        0..40,
    )
}

/// Atomic conditions over the generated accounts.
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        (-6i64..6).prop_map(|n| format!("AnnualRevenue > {n}")),
        (-6i64..6).prop_map(|n| format!("AnnualRevenue <= {n}")),
        (-6i64..6).prop_map(|n| format!("AnnualRevenue != {n}")),
        Just("AnnualRevenue = null".to_string()),
        Just("Type = 'customer'".to_string()),
        Just("Type != 'Prospect'".to_string()),
        Just("Type IN ('Partner', 'Prospect')".to_string()),
        Just("Type NOT IN ('Partner')".to_string()),
        Just("Type LIKE 'p%'".to_string()),
        Just("Active__c = true".to_string()),
        Just("Name LIKE '%1_'".to_string()),
    ]
}

fn ids(c: &MemCatalog, filter: &str) -> BTreeSet<String> {
    c.col(&format!("SELECT Id FROM Account WHERE {filter}"), "Id")
        .into_iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

proptest! {
    #[test]
    fn limit_never_returns_more_than_n(values in account_values(), n in 0u64..50, a in atom()) {
        let c = accounts(&values);
        let rows = c.rows(&format!("SELECT Id FROM Account WHERE {a} LIMIT {n}"));
        prop_assert!(rows.len() as u64 <= n);
        let all = c.rows(&format!("SELECT Id FROM Account WHERE {a}"));
        prop_assert_eq!(rows.len(), all.len().min(n as usize));
    }

    #[test]
    fn and_narrows_or_widens_not_complements(values in account_values(), a in atom(), b in atom()) {
        let c = accounts(&values);
        let sa = ids(&c, &a);
        let sb = ids(&c, &b);
        let all = ids(&c, "Id != null");
        let and = ids(&c, &format!("({a}) AND ({b})"));
        let or = ids(&c, &format!("({a}) OR ({b})"));
        let not = ids(&c, &format!("NOT ({a})"));
        prop_assert!(and.is_subset(&sa));
        prop_assert_eq!(and, sa.intersection(&sb).cloned().collect::<BTreeSet<_>>());
        prop_assert_eq!(or, sa.union(&sb).cloned().collect::<BTreeSet<_>>());
        prop_assert_eq!(not, all.difference(&sa).cloned().collect::<BTreeSet<_>>());
    }

    #[test]
    fn order_by_sorts_with_nulls_placed(values in account_values(), desc in any::<bool>(), nulls_first in any::<bool>()) {
        let c = accounts(&values);
        let dir = if desc { "DESC" } else { "ASC" };
        let nulls = if nulls_first { "FIRST" } else { "LAST" };
        let revs: Vec<Value> = c.col(&format!("SELECT AnnualRevenue FROM Account ORDER BY AnnualRevenue {dir} NULLS {nulls}"), "AnnualRevenue");
        let nulls_count = revs.iter().filter(|v| v.is_null()).count();
        let (null_part, value_part) = if nulls_first { revs.split_at(nulls_count) } else {
            let (v, n) = revs.split_at(revs.len() - nulls_count);
            (n, v)
        };
        prop_assert!(null_part.iter().all(Value::is_null));
        let nums: Vec<i64> = value_part.iter().filter_map(Value::as_i64).collect();
        prop_assert_eq!(nums.len(), value_part.len());
        let mut sorted = nums.clone();
        sorted.sort();
        if desc { sorted.reverse(); }
        prop_assert_eq!(nums, sorted);
    }

    #[test]
    fn count_equals_the_number_of_rows(values in account_values(), a in atom()) {
        let c = accounts(&values);
        let n = c.query(&format!("SELECT COUNT() FROM Account WHERE {a}")).map(|o| o.total_size);
        prop_assert_eq!(n.ok(), Some(ids(&c, &a).len()));
        let agg = c.rows(&format!("SELECT COUNT(Id) n FROM Account WHERE {a}"));
        prop_assert_eq!(agg[0]["n"].as_u64(), Some(ids(&c, &a).len() as u64));
    }
}
