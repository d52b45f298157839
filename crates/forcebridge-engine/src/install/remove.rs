//! Removing what an install provisioned, when an uninstall asks for it (`remove_schema`): the
//! permission set (its assignments first), the fields the recipe added to existing objects, then
//! its custom objects (with their fields and data) — through the Tooling API (`CustomObject` and
//! `CustomField` by id) and REST (`PermissionSetAssignment`, `PermissionSet` records).
//!
//! Invariants: only what the recipe's schema names is deleted, never anything else in the org;
//! what is already gone is skipped, so removing twice is harmless; objects that look others up
//! go before the objects they look up.

use forcebridge_salesforce::metadata::FieldType;
use forcebridge_salesforce::{Client, RecordId};
use reqwest::Method;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::recipe::ir::Recipe;

/// The `Id`s a query answers (`records[].Id`).
async fn ids(client: &Client, tooling: bool, soql: &str) -> Result<Vec<String>> {
    let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    let path = if tooling {
        format!("tooling/query?q={q}")
    } else {
        format!("query?q={q}")
    };
    let answer = client.request_json(Method::GET, &path, None).await?;
    Ok(answer
        .get("records")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

fn record_id(id: &str) -> Result<RecordId> {
    RecordId::parse(id).map_err(|e| Error::Internal(format!("Salesforce answered a bad id: {e}")))
}

/// Quote a name for SOQL (names are checked API names, so this only guards the quote itself).
fn quoted(name: &str) -> String {
    format!("'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Delete from the org what `recipe` provisions; returns what was deleted, in words.
///
/// # Errors
/// Salesforce errors (a missing permission to delete metadata is `Permission`).
pub async fn remove_schema(recipe: &Recipe, client: &Client) -> Result<Vec<String>> {
    let schema = &recipe.schema;
    let mut removed = Vec::new();
    if let Some(p) = &schema.permission_set {
        for ps in ids(
            client,
            false,
            &format!("SELECT Id FROM PermissionSet WHERE Name = {}", quoted(&p.name)),
        )
        .await?
        {
            let soql = format!(
                "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = {}",
                quoted(&ps)
            );
            for a in ids(client, false, &soql).await? {
                client.delete("PermissionSetAssignment", &record_id(&a)?).await?;
            }
            client.delete("PermissionSet", &record_id(&ps)?).await?;
            removed.push(format!("permission set {}", p.name));
        }
    }
    for (object, field) in &schema.extra_fields {
        let developer = field.api_name.trim_end_matches("__c");
        let soql = format!(
            "SELECT Id FROM CustomField WHERE DeveloperName = {} AND TableEnumOrId = {}",
            quoted(developer),
            quoted(object)
        );
        for id in ids(client, true, &soql).await? {
            client
                .request_json(
                    Method::DELETE,
                    &format!("tooling/sobjects/CustomField/{id}"),
                    None,
                )
                .await?;
            removed.push(format!("field {object}.{}", field.api_name));
        }
    }
    // An object that looks another up goes first.
    let mut objects: Vec<&str> = schema.objects.iter().map(|o| o.api_name.as_str()).collect();
    objects.sort_by_key(|name| {
        schema.objects.iter().any(|o| {
            o.api_name != *name
                && o.fields.iter().any(
                    |f| matches!(&f.field_type, FieldType::Lookup { reference_to, .. } if reference_to == name),
                )
        })
    });
    for object in objects {
        let developer = object.trim_end_matches("__c");
        let soql = format!(
            "SELECT Id FROM CustomObject WHERE DeveloperName = {}",
            quoted(developer)
        );
        for id in ids(client, true, &soql).await? {
            client
                .request_json(
                    Method::DELETE,
                    &format!("tooling/sobjects/CustomObject/{id}"),
                    None,
                )
                .await?;
            removed.push(format!("object {object}"));
        }
    }
    client.invalidate_all_describes();
    Ok(removed)
}
