//! SELECT lists and the shape of the rows: attributes, canonical names, parent paths, child
//! subqueries, FIELDS(), aliases, ORDER BY, LIMIT and OFFSET.

mod common;

use common::fixture;
use serde_json::json;

#[test]
fn rows_have_attributes_then_fields_in_select_order_with_canonical_names() {
    let f = fixture();
    let rows = f
        .cat
        .rows("select NAME, id, type from ACCOUNT where name = 'acme'");
    let a1 = f.id("a1");
    assert_eq!(
        rows,
        vec![json!({
            "attributes": {"type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{a1}")},
            "Name": "Acme",
            "Id": a1,
            "Type": "Customer"
        })]
    );
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attributes", "Name", "Id", "Type"]);
}

#[test]
fn parent_paths_nest_and_merge_and_a_missing_parent_is_null() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT LastName, Account.Name, Account.Owner.Name, Account.Industry FROM Contact \
         WHERE LastName IN ('Smith', 'Orphan') ORDER BY LastName",
    );
    let (a1, u1) = (f.id("a1"), f.id("u1"));
    assert_eq!(
        rows[1],
        json!({
            "attributes": {"type": "Contact", "url": format!("/services/data/v62.0/sobjects/Contact/{}", f.id("c1"))},
            "LastName": "Smith",
            "Account": {
                "attributes": {"type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{a1}")},
                "Name": "Acme",
                "Owner": {
                    "attributes": {"type": "User", "url": format!("/services/data/v62.0/sobjects/User/{u1}")},
                    "Name": "Ada Admin"
                },
                "Industry": "Tech"
            }
        })
    );
    assert_eq!(rows[0]["LastName"], "Orphan");
    assert_eq!(rows[0]["Account"], json!(null));
}

#[test]
fn omit_attributes_leaves_them_out_at_every_level() {
    let f = fixture();
    let parsed = forcebridge_soql::parse(
        "SELECT LastName, Account.Name, Account.Owner.Name FROM Contact WHERE LastName = 'Smith'",
    )
    .unwrap();
    let options = forcebridge_soql::ExecOptions {
        omit_attributes: true,
        ..Default::default()
    };
    let out = forcebridge_soql::execute(&parsed, &f.cat, options).unwrap();
    assert_eq!(
        out.records,
        vec![json!({
            "LastName": "Smith",
            "Account": {"Name": "Acme", "Owner": {"Name": "Ada Admin"}}
        })]
    );
}

#[test]
fn polymorphic_relationship_takes_the_type_of_the_record_it_points_at() {
    let f = fixture();
    let rows = f
        .cat
        .rows("SELECT Subject, Who.Name, Who.LastName, What.Name FROM Task ORDER BY Subject");
    // Call → Contact, Email → Lead, Meeting → no Who.
    assert_eq!(rows[0]["Who"]["attributes"]["type"], "Contact");
    assert_eq!(rows[0]["Who"]["LastName"], "Smith");
    assert_eq!(rows[0]["What"]["Name"], "Acme");
    assert_eq!(rows[1]["Who"]["attributes"]["type"], "Lead");
    assert_eq!(rows[1]["Who"]["LastName"], "Lead");
    assert_eq!(rows[1]["What"], json!(null));
    assert_eq!(rows[2]["Who"], json!(null));
}

#[test]
fn typeof_picks_the_columns_by_the_type_of_the_record() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT Subject, TYPEOF Who WHEN Contact THEN LastName, Account.Name WHEN Lead THEN Company \
         ELSE Name END FROM Task ORDER BY Subject",
    );
    let (c1, a1, l1) = (f.id("c1"), f.id("a1"), f.id("l1"));
    assert_eq!(
        rows[0]["Who"],
        json!({
            "attributes": {"type": "Contact", "url": format!("/services/data/v62.0/sobjects/Contact/{c1}")},
            "LastName": "Smith",
            "Account": {
                "attributes": {"type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{a1}")},
                "Name": "Acme"
            }
        })
    );
    assert_eq!(
        rows[1]["Who"],
        json!({
            "attributes": {"type": "Lead", "url": format!("/services/data/v62.0/sobjects/Lead/{l1}")},
            "Company": "Frankco"
        })
    );
    assert_eq!(rows[2]["Who"], json!(null));
    // ELSE applies to the types no WHEN names.
    let rows = f
        .cat
        .rows("SELECT TYPEOF Who WHEN Lead THEN Company ELSE Name, Id END FROM Task WHERE Subject = 'Call'");
    assert_eq!(rows[0]["Who"]["Name"], "Alice Smith");
    assert_eq!(rows[0]["Who"]["Id"], c1);
    let e = f
        .cat
        .err("SELECT TYPEOF Who WHEN Account THEN Name END FROM Task");
    assert_eq!(e.code(), "INVALID_TYPE");
    let e = f.cat.err("SELECT TYPEOF Who WHEN Lead THEN Bogus END FROM Task");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(e.message.contains("No such column 'Bogus' on entity 'Lead'"));
    let e = forcebridge_soql::parse("SELECT TYPEOF Who WHEN Lead THEN Company FROM Task").unwrap_err();
    assert!(e.message.ends_with("unexpected token: 'FROM'"), "{}", e.message);
}

#[test]
fn to_label_and_convert_currency_pass_values_through() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT Name, toLabel(Type), convertCurrency(AnnualRevenue) rev FROM Account \
         WHERE toLabel(Type) = 'Customer' ORDER BY Name",
    );
    assert_eq!(rows.len(), 2);
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attributes", "Name", "Type", "rev"]);
    assert_eq!(rows[0]["Type"], "Customer");
    assert_eq!(rows[0]["rev"], 1000000);
    let rows = f.cat.rows(
        "SELECT toLabel(Type) t, COUNT(Id) n FROM Account WHERE Type != null GROUP BY Type ORDER BY Type",
    );
    assert_eq!(
        rows[0],
        json!({"attributes": {"type": "AggregateResult"}, "t": "Customer", "n": 2})
    );
    let e = f.cat.err("SELECT FORMAT(AnnualRevenue) FROM Account");
    assert_eq!(e.code(), "MALFORMED_QUERY");
}

#[test]
fn child_subquery_gives_a_nested_result_or_null() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName DESC) FROM Account \
         WHERE Name IN ('Acme', 'Initech') ORDER BY Name",
    );
    assert_eq!(rows.len(), 2);
    let contacts = &rows[0]["Contacts"];
    assert_eq!(contacts["totalSize"], 2);
    assert_eq!(contacts["done"], true);
    let names: Vec<&str> = contacts["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["LastName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Smith", "Jones"]);
    assert_eq!(contacts["records"][0]["attributes"]["type"], "Contact");
    let keys: Vec<&String> = contacts.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["totalSize", "done", "records"]);
    assert_eq!(rows[1]["Contacts"], json!(null));
}

#[test]
fn child_subquery_filters_limits_and_can_reach_parents() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT Name, (SELECT FirstName, Owner.Name FROM Contacts WHERE Email != null LIMIT 1) \
         FROM Account WHERE Name = 'Acme'",
    );
    let recs = rows[0]["Contacts"]["records"].as_array().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["FirstName"], "Alice");
    assert_eq!(recs[0]["Owner"]["Name"], "Ada Admin");
}

#[test]
fn nested_child_subqueries() {
    let f = fixture();
    let rows = f.cat.rows(
        "SELECT Name, (SELECT LastName, (SELECT Subject FROM Tasks) FROM Contacts ORDER BY LastName) \
         FROM Account WHERE Name IN ('Acme', 'Globex') ORDER BY Name",
    );
    let acme = &rows[0]["Contacts"]["records"];
    assert_eq!(acme[0]["LastName"], "Jones");
    assert_eq!(acme[0]["Tasks"], json!(null));
    assert_eq!(acme[1]["LastName"], "Smith");
    assert_eq!(acme[1]["Tasks"]["totalSize"], 1);
    assert_eq!(acme[1]["Tasks"]["records"][0]["Subject"], "Call");
    assert_eq!(rows[1]["Contacts"]["records"][0]["Tasks"], json!(null));
}

#[test]
fn parent_paths_are_limited_to_five_levels() {
    let f = fixture();
    let e = f.cat.err("SELECT a.b.c.d.e.f.g FROM Contact");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert!(e.message.contains("at most 5 levels"), "{}", e.message);
}

#[test]
fn polymorphic_child_relationship_subquery() {
    let f = fixture();
    let rows = f
        .cat
        .rows("SELECT LastName, (SELECT Subject FROM Tasks) FROM Lead ORDER BY LastName");
    assert_eq!(rows[0]["LastName"], "Hopper");
    assert_eq!(rows[0]["Tasks"], json!(null));
    assert_eq!(rows[1]["Tasks"]["records"][0]["Subject"], "Email");
}

#[test]
fn from_alias_and_object_prefix_are_accepted() {
    let f = fixture();
    let rows = f
        .cat
        .rows("SELECT c.LastName, c.Account.Name FROM Contact c WHERE c.FirstName = 'Dan'");
    assert_eq!(rows[0]["LastName"], "Brown");
    assert_eq!(rows[0]["Account"]["Name"], "Globex");
    let rows = f
        .cat
        .rows("SELECT Account.Name FROM Account WHERE Account.Name = 'Globex'");
    assert_eq!(rows[0]["Name"], "Globex");
}

#[test]
fn fields_functions_expand_in_describe_order() {
    let f = fixture();
    let rows = f
        .cat
        .rows("SELECT FIELDS(CUSTOM) FROM Account WHERE Name = 'Acme' LIMIT 200");
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["attributes", "Tags__c", "Active__c", "SLA_Expiry__c"]);
    let rows = f.cat.rows(
        "SELECT FIELDS(STANDARD), (SELECT FIELDS(STANDARD) FROM Account.Contacts LIMIT 1) FROM Account \
         WHERE Name = 'Acme'",
    );
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    let standard = [
        "attributes",
        "Id",
        "IsDeleted",
        "CreatedDate",
        "Name",
        "Type",
        "Industry",
        "AnnualRevenue",
        "NumberOfEmployees",
        "OwnerId",
        "Description",
    ];
    assert_eq!(keys[..standard.len()], standard);
    assert_eq!(keys[standard.len()], "Contacts");
    assert_eq!(rows[0]["Contacts"]["records"][0]["LastName"], "Smith");
    // A field named twice, once through FIELDS(), is a duplicate, as in Salesforce.
    let e = f.cat.err("SELECT Id, FIELDS(ALL) FROM User LIMIT 200");
    assert_eq!(e.code(), "INVALID_FIELD");
    assert_eq!(e.message, "duplicate field selected: Id");
    let e = f.cat.err("SELECT FIELDS(ALL) FROM Account");
    assert_eq!(e.code(), "MALFORMED_QUERY");
    assert!(
        e.message
            .ends_with("The SOQL FIELDS function must have a LIMIT of at most 200")
    );
}

#[test]
fn order_by_multiple_keys_relationship_paths_and_nulls() {
    let f = fixture();
    // ASC puts nulls first by default, DESC last.
    assert_eq!(
        f.cat.col("SELECT Name FROM Account ORDER BY Type, Name", "Name"),
        json!(["Initech", "Acme", "acme Labs", "Globex"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(
        f.cat
            .col("SELECT Name FROM Account ORDER BY Type DESC, Name DESC", "Name"),
        json!(["Globex", "acme Labs", "Acme", "Initech"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(
        f.cat.col(
            "SELECT Name FROM Account ORDER BY Type ASC NULLS LAST, Name",
            "Name"
        ),
        json!(["Acme", "acme Labs", "Globex", "Initech"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(
        f.cat.col(
            "SELECT Name FROM Account ORDER BY AnnualRevenue DESC NULLS FIRST",
            "Name"
        ),
        json!(["Initech", "Acme", "Globex", "acme Labs"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(
        f.cat.col(
            "SELECT LastName FROM Contact ORDER BY Account.Name NULLS LAST, LastName",
            "LastName"
        ),
        json!(["Jones", "Smith", "Brown", "Orphan"])
            .as_array()
            .unwrap()
            .clone()
    );
    assert_eq!(
        f.cat.col(
            "SELECT Name FROM Account ORDER BY CreatedDate DESC LIMIT 2",
            "Name"
        ),
        json!(["Acme", "Globex"]).as_array().unwrap().clone()
    );
}

#[test]
fn limit_and_offset() {
    let f = fixture();
    let out = f
        .cat
        .query("SELECT Name FROM Account ORDER BY Name LIMIT 2 OFFSET 1")
        .unwrap();
    assert_eq!(out.total_size, 2);
    assert_eq!(out.records[0]["Name"], "acme Labs");
    assert_eq!(out.records[1]["Name"], "Globex");
    assert_eq!(f.cat.rows("SELECT Name FROM Account LIMIT 0").len(), 0);
    assert_eq!(f.cat.rows("SELECT Name FROM Account OFFSET 10").len(), 0);
    let e = f.cat.err("SELECT Name FROM Account OFFSET 2001");
    assert_eq!(e.code(), "NUMBER_OUTSIDE_VALID_RANGE");
    assert_eq!(e.message, "Maximum SOQL offset allowed is 2000");
}

#[test]
fn deleted_rows_only_with_query_all() {
    let f = fixture();
    assert_eq!(f.cat.rows("SELECT Id FROM Account").len(), 4);
    let all = f
        .cat
        .query_all("SELECT Name, IsDeleted FROM Account WHERE IsDeleted = true")
        .unwrap();
    assert_eq!(all.total_size, 1);
    assert_eq!(all.records[0]["Name"], "Deleted Co");
    assert_eq!(f.cat.rows("SELECT Id FROM Account ALL ROWS").len(), 4);
}

#[test]
fn trailing_clauses_are_accepted_and_ignored() {
    let f = fixture();
    for q in [
        "SELECT Id FROM Account WITH SECURITY_ENFORCED",
        "SELECT Id FROM Account FOR VIEW",
        "SELECT Id FROM Account LIMIT 10 FOR REFERENCE",
        "SELECT Id FROM Account FOR UPDATE",
        "SELECT Id FROM Account USING SCOPE Everything WHERE Name != null",
        "SELECT Id FROM Account UPDATE TRACKING",
    ] {
        assert_eq!(f.cat.rows(q).len(), 4, "{q}");
    }
}

#[test]
fn count_gives_total_size_and_no_records() {
    let f = fixture();
    let out = f
        .cat
        .query("SELECT COUNT() FROM Contact WHERE AccountId != null")
        .unwrap();
    assert_eq!(out.total_size, 3);
    assert!(out.records.is_empty());
    let out = f.cat.query("SELECT count() FROM Contact LIMIT 2").unwrap();
    assert_eq!(out.total_size, 2);
}

#[test]
fn ids_are_always_18_characters() {
    let mut f = fixture();
    let a1 = f.id("a1").to_string();
    // A record stored with a 15-character reference still comes out with 18.
    f.cat
        .insert("Contact", json!({"LastName": "Short", "AccountId": &a1[..15]}));
    let rows = f
        .cat
        .rows("SELECT AccountId, Account.Name FROM Contact WHERE LastName = 'Short'");
    assert_eq!(rows[0]["AccountId"], a1);
    assert_eq!(rows[0]["Account"]["Name"], "Acme");
}
