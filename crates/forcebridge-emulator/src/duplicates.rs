//! Duplicate rules: Salesforce's standard Lead and Contact duplicate rules, switched on per org
//! through the control API (`PUT /__emulator/duplicate-rules`), checked on every create through
//! the hook in [`crate::rest::dml::Tx::create`].
//!
//! The rules are stored as `DuplicateRule` records (`SELECT DeveloperName, IsActive FROM
//! DuplicateRule` shows them, as in a real org), so they survive a restart with `--state`.
//! Matching follows the standard matching rules in the simple form integrations meet: first and
//! last name equal (case-insensitively) and, for contacts, the same email; for leads, the same
//! email or the same company.
//!
//! Invariant: a check only reads the org; a create that matches live records of the rule's object
//! fails with `DUPLICATES_DETECTED` unless the caller asked to allow saving.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::app::SharedState;
use crate::error::SfError;
use crate::ids::SfId;
use crate::org::{Org, Record};
use crate::schema::{FieldDef, FieldType as T, ObjectDef};

/// The message Salesforce puts on a `DUPLICATES_DETECTED` error of a standard rule.
pub const MESSAGE: &str = "Use one of these records?";

/// One standard rule: the object it guards, its developer name and its matching rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardRule {
    pub object: &'static str,
    pub developer_name: &'static str,
    pub label: &'static str,
    pub matching_rule: &'static str,
}

/// The standard rules of a new org.
pub const STANDARD_RULES: &[StandardRule] = &[
    StandardRule {
        object: "Contact",
        developer_name: "Standard_Contact_Duplicate_Rule",
        label: "Standard Contact Duplicate Rule",
        matching_rule: "Standard_Contact_Match_Rule_v1_1",
    },
    StandardRule {
        object: "Lead",
        developer_name: "Standard_Lead_Duplicate_Rule",
        label: "Standard Lead Duplicate Rule",
        matching_rule: "Standard_Lead_Match_Rule_v1_0",
    },
];

/// The `DuplicateRule` object (`0Bm`): read-only through the APIs, as in Salesforce.
pub fn rule_object() -> ObjectDef {
    let f = FieldDef::new;
    let mut id = f("Id", "Duplicate Rule ID", T::Id);
    id.id_lookup = true;
    id.nillable = false;
    let mut fields = vec![
        id,
        f("IsDeleted", "Deleted", T::Boolean),
        f("DeveloperName", "Rule Name", T::String).len(80),
        f("MasterLabel", "Label", T::String).len(80),
        f("SobjectType", "Object", T::Picklist)
            .values(&["Contact", "Lead", "Account"])
            .len(40),
        f("IsActive", "Active", T::Boolean),
        f("NamespacePrefix", "Namespace Prefix", T::String).len(15),
        f("Language", "Master Language", T::Picklist)
            .values(&["en_US"])
            .len(40),
        f("CreatedDate", "Created Date", T::Datetime),
        f("CreatedById", "Created By ID", T::Reference).refers(&["User"], "CreatedBy"),
        f("LastModifiedDate", "Last Modified Date", T::Datetime),
        f("LastModifiedById", "Last Modified By ID", T::Reference).refers(&["User"], "LastModifiedBy"),
        f("SystemModstamp", "System Modstamp", T::Datetime),
    ];
    for fd in &mut fields {
        fd.createable = false;
        fd.updateable = false;
    }
    ObjectDef {
        name: "DuplicateRule".into(),
        label: "Duplicate Rule".into(),
        label_plural: "Duplicate Rules".into(),
        key_prefix: "0Bm".into(),
        custom: false,
        createable: false,
        updateable: false,
        deletable: false,
        queryable: true,
        searchable: false,
        retrieveable: true,
        undeletable: false,
        mergeable: false,
        replicateable: false,
        triggerable: false,
        feed_enabled: false,
        fields: fields
            .into_iter()
            .map(|fd| (fd.name.clone(), fd))
            .collect::<IndexMap<_, _>>(),
    }
}

/// The active standard rule guarding `object`, if any.
pub fn active_rule(org: &Org, object: &str) -> Option<&'static StandardRule> {
    let rule = STANDARD_RULES
        .iter()
        .find(|r| r.object.eq_ignore_ascii_case(object))?;
    let table = org.data.get("DuplicateRule")?;
    table
        .values()
        .any(|r| {
            r.get("DeveloperName").and_then(Value::as_str) == Some(rule.developer_name)
                && r.get("IsActive").and_then(Value::as_bool) == Some(true)
        })
        .then_some(rule)
}

fn text<'a>(r: &'a Record, k: &str) -> Option<&'a str> {
    r.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn same(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

fn both_same(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// Whether `candidate` (a stored record) duplicates `new` (the values being created).
fn matches(rule: &StandardRule, new: &Record, candidate: &Record) -> bool {
    let name = same(text(new, "FirstName"), text(candidate, "FirstName"))
        && both_same(text(new, "LastName"), text(candidate, "LastName"));
    if !name {
        return false;
    }
    let email = both_same(text(new, "Email"), text(candidate, "Email"));
    match rule.object {
        "Lead" => email || both_same(text(new, "Company"), text(candidate, "Company")),
        _ => email,
    }
}

/// The live records of the rule's object that `values` would duplicate.
pub fn find(org: &Org, rule: &StandardRule, values: &Record) -> Vec<SfId> {
    let Some(table) = org.data.get(rule.object) else {
        return Vec::new();
    };
    table
        .records()
        .filter(|(_, r)| r.get("IsDeleted").and_then(Value::as_bool) != Some(true))
        .filter(|(_, r)| matches(rule, values, r))
        .map(|(id, _)| id.clone())
        .collect()
}

/// The `duplicateResult` Salesforce attaches to a `DUPLICATES_DETECTED` error.
pub fn duplicate_result(rule: &StandardRule, ids: &[SfId], version: &str) -> Value {
    let records: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({
                "additionalInformation": [],
                "fieldDiffs": [],
                "matchConfidence": 100.0,
                "record": {
                    "attributes": {
                        "type": rule.object,
                        "url": format!("/services/data/v{version}/sobjects/{}/{id}", rule.object),
                    },
                    "Id": id,
                },
            })
        })
        .collect();
    json!({
        "allowSave": false,
        "duplicateRule": rule.developer_name,
        "duplicateRuleEntityType": rule.object,
        "errorMessage": MESSAGE,
        "matchResults": [{
            "entityType": rule.object,
            "errors": [],
            "matchEngine": "FuzzyMatchEngine",
            "matchRecords": records,
            "rule": rule.matching_rule,
            "size": ids.len(),
            "success": true,
        }],
    })
}

/// The hook `Tx::create` runs: `DUPLICATES_DETECTED` when an active standard rule guards
/// `object` and `values` (already validated, canonical names) match live records.
///
/// # Errors
/// 400 `DUPLICATES_DETECTED` with the message of the standard rules and, as Salesforce sends it,
/// a `duplicateResult` naming the matching records (record URLs in API `version`).
pub fn check(
    org: &Org,
    object: &str,
    values: &Record,
    allow_save: bool,
    version: &str,
) -> Result<(), SfError> {
    if allow_save {
        return Ok(());
    }
    let Some(rule) = active_rule(org, object) else {
        return Ok(());
    };
    let found = find(org, rule, values);
    if found.is_empty() {
        return Ok(());
    }
    Err(SfError::bad_request("DUPLICATES_DETECTED", MESSAGE)
        .with_extra("duplicateResult", duplicate_result(rule, &found, version)))
}

/// Whether a `Sforce-Duplicate-Rule-Header` value asks to save duplicates (`allowSave=true`).
pub fn header_allows_save(value: &str) -> bool {
    value.split([';', ',']).any(|part| {
        part.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("allowSave") && v.trim().eq_ignore_ascii_case("true")
        })
    })
}

/// Switches a standard rule on or off, creating its `DuplicateRule` record on first use.
pub fn set_active(org: &mut Org, rule: &StandardRule, active: bool) {
    let now = crate::org::now_string();
    let table = org.table_mut("DuplicateRule");
    if let Some(r) = table
        .values_mut()
        .find(|r| r.get("DeveloperName").and_then(Value::as_str) == Some(rule.developer_name))
    {
        r.insert("IsActive".into(), Value::Bool(active));
        r.insert("LastModifiedDate".into(), Value::String(now.clone()));
        r.insert("SystemModstamp".into(), Value::String(now));
        return;
    }
    let Some(admin) = org.admin_user_id().cloned() else {
        return;
    };
    let mut values = Record::new();
    values.insert("DeveloperName".into(), json!(rule.developer_name));
    values.insert("MasterLabel".into(), json!(rule.label));
    values.insert("SobjectType".into(), json!(rule.object));
    values.insert("IsActive".into(), Value::Bool(active));
    values.insert("Language".into(), json!("en_US"));
    org.insert_new("DuplicateRule", values, &admin, &now);
}

/// Control routes: `GET /__emulator/duplicate-rules` lists the standard rules and whether they
/// are on; `PUT` with `{"Contact": true, "Lead": false}` switches them.
pub fn router() -> Router<SharedState> {
    Router::new().route("/__emulator/duplicate-rules", get(list).put(put))
}

fn listing(org: &Org) -> Value {
    let rules: Vec<Value> = STANDARD_RULES
        .iter()
        .map(|r| {
            json!({
                "object": r.object,
                "developer_name": r.developer_name,
                "matching_rule": r.matching_rule,
                "active": active_rule(org, r.object).is_some(),
            })
        })
        .collect();
    json!({ "rules": rules })
}

async fn list(State(state): State<SharedState>) -> Response {
    Json(listing(&state.org_read())).into_response()
}

async fn put(State(state): State<SharedState>, body: axum::body::Bytes) -> Response {
    let fail = |m: String| (StatusCode::BAD_REQUEST, Json(json!({ "error": m }))).into_response();
    let req: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return fail(format!(
                "body must be a JSON object like {{\"Contact\": true}}: {e}"
            ));
        }
    };
    let mut wanted = Vec::new();
    for (object, on) in &req {
        let Some(rule) = STANDARD_RULES
            .iter()
            .find(|r| r.object.eq_ignore_ascii_case(object))
        else {
            return fail(format!(
                "no standard duplicate rule for {object}; there are rules for Contact and Lead"
            ));
        };
        let Some(on) = on.as_bool() else {
            return fail(format!("{object}: expected true or false"));
        };
        wanted.push((rule, on));
    }
    let out = {
        let mut org = state.org_write();
        for (rule, on) in wanted {
            set_active(&mut org, rule, on);
        }
        listing(&org)
    };
    state.mark_dirty();
    Json(out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: Value) -> Record {
        v.as_object().cloned().unwrap_or_default().into_iter().collect()
    }

    #[test]
    fn header_parsing() {
        assert!(header_allows_save("allowSave=true"));
        assert!(header_allows_save("allowSave = true; includeRecordDetails=true"));
        assert!(!header_allows_save("allowSave=false"));
        assert!(!header_allows_save("runAsCurrentUser=true"));
    }

    #[test]
    fn lead_rule_matches_name_and_company_or_email() {
        let rule = &STANDARD_RULES[1];
        let a = rec(json!({"FirstName": "Ann", "LastName": "Lee", "Company": "Acme", "Email": null}));
        let b = rec(json!({"FirstName": "ann", "LastName": "LEE", "Company": "acme"}));
        let c = rec(json!({"FirstName": "Ann", "LastName": "Lee", "Company": "Other"}));
        assert!(matches(rule, &b, &a));
        assert!(!matches(rule, &c, &a));
    }

    #[test]
    fn rules_switch_on_and_off() {
        let mut org = crate::bootstrap::default_org(&crate::EmulatorConfig::default());
        assert!(active_rule(&org, "Contact").is_none());
        set_active(&mut org, &STANDARD_RULES[0], true);
        assert!(active_rule(&org, "Contact").is_some());
        set_active(&mut org, &STANDARD_RULES[0], false);
        assert!(active_rule(&org, "Contact").is_none());
    }
}
