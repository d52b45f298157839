//! Aggregate queries: COUNT, COUNT_DISTINCT, MIN, MAX, SUM, AVG, aliases, exprN names, GROUP BY,
//! HAVING, ORDER BY over aggregates.

mod common;

use common::fixture;
use serde_json::json;

#[test]
fn aggregates_without_group_by_give_one_row_with_expr_names() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT COUNT(Id), MAX(AnnualRevenue) top, MIN(AnnualRevenue), SUM(AnnualRevenue), AVG(NumberOfEmployees), \
         COUNT(Type), COUNT_DISTINCT(Type) FROM Account",
    );
    assert_eq!(
        rows,
        vec![json!({
            "attributes": {"type": "AggregateResult"},
            "expr0": 4,
            "top": 1000000,
            "expr1": 250000,
            "expr2": 1750000.0,
            "expr3": 86.66666666666667,
            "expr4": 3,
            "expr5": 2
        })]
    );
}

#[test]
fn aggregates_over_no_rows_still_give_one_row() {
    let f = fixture();
    let rows = f
        .cat
        .rows("SELECT COUNT(Id) n, SUM(AnnualRevenue) s, MAX(Name) m FROM Account WHERE Name = 'none'");
    assert_eq!(
        rows,
        vec![json!({"attributes": {"type": "AggregateResult"}, "n": 0, "s": null, "m": null})]
    );
}

#[test]
fn group_by_with_having_and_order_by() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT Type, COUNT(Id) cnt, SUM(AnnualRevenue) FROM Account GROUP BY Type ORDER BY Type NULLS LAST",
    );
    assert_eq!(
        rows,
        vec![
            json!({"attributes": {"type": "AggregateResult"}, "Type": "Customer", "cnt": 2, "expr0": 1250000.0}),
            json!({"attributes": {"type": "AggregateResult"}, "Type": "Prospect", "cnt": 1, "expr0": 500000.0}),
            json!({"attributes": {"type": "AggregateResult"}, "Type": null, "cnt": 1, "expr0": null}),
        ]
    );
    let rows = f
        .cat
        .rows("SELECT Type, COUNT(Id) FROM Account GROUP BY Type HAVING COUNT(Id) > 1");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Type"], "Customer");
    // HAVING and ORDER BY may use aggregates that are not selected.
    let rows = f.cat.rows(
        "SELECT Industry FROM Account WHERE Industry != null GROUP BY Industry \
         HAVING MAX(NumberOfEmployees) > 20 ORDER BY SUM(AnnualRevenue) DESC NULLS LAST",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["Industry"], "Tech");
    assert_eq!(rows[1]["Industry"], "Finance");
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attributes", "Industry"]);
}

#[test]
fn group_by_a_relationship_path_names_the_column_after_the_field() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT Account.Name, COUNT(Id) FROM Contact WHERE AccountId != null GROUP BY Account.Name \
         ORDER BY COUNT(Id) DESC",
    );
    assert_eq!(
        rows,
        vec![
            json!({"attributes": {"type": "AggregateResult"}, "Name": "Acme", "expr0": 2}),
            json!({"attributes": {"type": "AggregateResult"}, "Name": "Globex", "expr0": 1}),
        ]
    );
}

#[test]
fn group_by_is_case_insensitive_and_keeps_the_first_spelling() {
    let mut f = fixture();
    f.cat.insert("Account", json!({"Name": "x", "Type": "CUSTOMER"}));
    let rows = f
        .cat
        .rows("SELECT Type t, COUNT(Id) c FROM Account WHERE Type != null GROUP BY Type ORDER BY Type");
    assert_eq!(rows[0]["t"], "Customer");
    assert_eq!(rows[0]["c"], 3);
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attributes", "t", "c"]);
}

#[test]
fn min_max_of_dates_and_text() {
    let f = fixture();
    let rows = f
        .cat
        .rows("SELECT MIN(CreatedDate), MAX(CreatedDate), MIN(Name), MAX(Name) FROM Account");
    assert_eq!(rows[0]["expr0"], "2023-12-31T23:59:59.000+0000");
    assert_eq!(rows[0]["expr1"], "2024-05-15T09:00:00.000+0000");
    assert_eq!(rows[0]["expr2"], "Acme");
    assert_eq!(rows[0]["expr3"], "Initech");
}

#[test]
fn limit_and_offset_apply_to_groups() {
    let f = fixture();
    let rows = f
        .cat
        .rows("SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry ORDER BY Industry LIMIT 2 OFFSET 1");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["Industry"], "Finance");
    assert_eq!(rows[1]["Industry"], "Tech");
}

#[test]
fn ungrouped_fields_and_bad_aggregates_are_refused() {
    let f = fixture();
    let e = f.cat.err("SELECT Name, COUNT(Id) FROM Account");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    assert!(
        e.message.ends_with("Field must be grouped or aggregated: Name"),
        "{}",
        e.message
    );
    let e = f.cat.err("SELECT Type, Name FROM Account GROUP BY Type");
    assert!(e.message.ends_with("Field must be grouped or aggregated: Name"));
    let e = f.cat.err("SELECT Type FROM Account GROUP BY Type ORDER BY Name");
    assert!(
        e.message
            .ends_with("Ordered field must be grouped or aggregated: Name")
    );
    let e = f.cat.err("SELECT SUM(Name) FROM Account");
    assert!(
        e.message
            .ends_with("field Name does not support aggregate operator SUM")
    );
    let e = f
        .cat
        .err("SELECT Description, COUNT(Id) FROM Account GROUP BY Description");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(
        e.message
            .ends_with("field 'Description' can not be grouped in a query call")
    );
    let e = f.cat.err("SELECT COUNT(), Name FROM Account");
    assert_eq!(e.code(), "MALFORMED_QUERY");
}

#[test]
fn date_functions_group_filter_and_order() {
    let f = fixture();
    // CreatedDate: Acme and Globex in May 2024, Initech in January 2024, acme Labs in December 2023.
    let rows = f.cat.rows(
        "SELECT CALENDAR_YEAR(CreatedDate), CALENDAR_MONTH(CreatedDate) m, COUNT(Id) FROM Account \
         GROUP BY CALENDAR_YEAR(CreatedDate), CALENDAR_MONTH(CreatedDate) \
         ORDER BY CALENDAR_YEAR(CreatedDate) DESC, CALENDAR_MONTH(CreatedDate) DESC",
    );
    assert_eq!(
        rows,
        vec![
            json!({"attributes": {"type": "AggregateResult"}, "expr0": 2024, "m": 5, "expr1": 2}),
            json!({"attributes": {"type": "AggregateResult"}, "expr0": 2024, "m": 1, "expr1": 1}),
            json!({"attributes": {"type": "AggregateResult"}, "expr0": 2023, "m": 12, "expr1": 1}),
        ]
    );
    let names = f.cat.col(
        "SELECT Name FROM Account WHERE CALENDAR_YEAR(CreatedDate) = 2024 AND DAY_IN_WEEK(CreatedDate) = 4 \
         ORDER BY Name",
        "Name",
    );
    // 2024-05-15 and 2024-01-10 are both Wednesdays (day 4, counting from Sunday = 1).
    assert_eq!(names, ["Acme", "Initech"]);
    let names = f.cat.col(
        "SELECT Name FROM Account WHERE DAY_ONLY(CreatedDate) = 2024-05-14 OR HOUR_IN_DAY(convertTimezone(CreatedDate)) = 10",
        "Name",
    );
    assert_eq!(names, ["Globex", "Initech"]);
    let rows = f.cat.rows(
        "SELECT DAY_ONLY(CreatedDate) d, COUNT(Id) n FROM Account GROUP BY DAY_ONLY(CreatedDate) \
         HAVING DAY_ONLY(CreatedDate) > 2024-01-01 ORDER BY DAY_ONLY(CreatedDate)",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["d"], "2024-01-10");
    assert_eq!(rows[2]["d"], "2024-05-15");
    let e = f.cat.err("SELECT CALENDAR_YEAR(CreatedDate) FROM Account");
    assert!(
        e.message
            .ends_with("Field must be grouped or aggregated: CALENDAR_YEAR(CreatedDate)"),
        "{}",
        e.message
    );
    let e = f
        .cat
        .err("SELECT Id FROM Account WHERE CALENDAR_YEAR(Name) = 2024");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    let e = f
        .cat
        .err("SELECT Id FROM Account WHERE HOUR_IN_DAY(SLA_Expiry__c) = 1");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    let e = f
        .cat
        .err("SELECT Id FROM Account WHERE CALENDAR_YEAR(CreatedDate) = '2024'");
    assert_eq!(e.code(), "INVALID_FIELD");
}
