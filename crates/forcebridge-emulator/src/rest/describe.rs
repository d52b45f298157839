//! Describe: `GET /sobjects` (global describe), `GET /sobjects/{obj}` (basic information and
//! recent items) and `GET /sobjects/{obj}/describe` (fields, child relationships, record types).
//!
//! Invariant: the keys are Salesforce's, all present (null where the emulator has nothing to
//! say), so clients that deserialize describe strictly accept ours.

use serde_json::{Map, Value, json};

use super::{Ctx, Reply};
use crate::error::SfError;
use crate::org::Org;
use crate::schema::{FieldDef, FieldType, ObjectDef};

/// The `urls` of an object: global describe's (`full` false) or a full describe's, which adds
/// the UI templates. Objects without layouts (e.g. Organization) have only `rowTemplate`,
/// `describe` and `sobject`; Case, Event and User have their own extra resources, as Salesforce
/// lists them.
fn urls(ctx: &Ctx<'_>, def: &ObjectDef, full: bool) -> Map<String, Value> {
    let base = format!("{}/sobjects/{}", ctx.prefix(), def.name);
    let mut urls = Map::new();
    let mut put = |k: &str, v: String| {
        urls.insert(k.to_string(), Value::String(v));
    };
    if !layoutable(def) {
        put("rowTemplate", format!("{base}/{{ID}}"));
        put("describe", format!("{base}/describe"));
        put("sobject", base);
        return urls;
    }
    let is_user = def.name == "User";
    let is_event = def.name == "Event";
    // User has neither approval layouts nor list views; a full Event describe neither.
    let layouts_and_views = !(is_user || (is_event && full));
    put("compactLayouts", format!("{base}/describe/compactLayouts"));
    put("rowTemplate", format!("{base}/{{ID}}"));
    if is_user {
        put(
            "namedLayouts",
            format!("{base}/describe/namedLayouts/{{LayoutName}}"),
        );
        put("passwordUtilities", format!("{base}/{{ID}}/password"));
    }
    if layouts_and_views {
        put("approvalLayouts", format!("{base}/describe/approvalLayouts"));
    }
    if def.name == "Case" {
        put("caseArticleSuggestions", format!("{base}/suggestedArticles"));
        put(
            "caseRowArticleSuggestions",
            format!("{base}/{{ID}}/suggestedArticles"),
        );
    }
    if full {
        put("uiDetailTemplate", format!("{}/{{ID}}", ctx.base_url));
        put("uiEditTemplate", format!("{}/{{ID}}/e", ctx.base_url));
    }
    if is_event && full {
        put(
            "eventSeriesUpdates",
            format!("{base}/{{ID}}/fromThisEventOnwards"),
        );
    }
    if layouts_and_views {
        put("listviews", format!("{base}/listviews"));
    }
    put("describe", format!("{base}/describe"));
    if full {
        put("uiNewRecord", format!("{}/{}/e", ctx.base_url, def.key_prefix));
    }
    put("quickActions", format!("{base}/quickActions"));
    put("layouts", format!("{base}/describe/layouts"));
    put("sobject", base);
    urls
}

/// Whether the object has page layouts (system objects such as Organization do not).
fn layoutable(def: &ObjectDef) -> bool {
    def.createable
}

/// The summary of one object, as global describe lists it and `GET /sobjects/{obj}` wraps it.
pub fn summary(ctx: &Ctx<'_>, def: &ObjectDef) -> Value {
    json!({
        "activateable": false,
        "associateEntityType": null,
        "associateParentEntity": null,
        "createable": def.createable,
        "custom": def.custom,
        "customSetting": false,
        "deepCloneable": false,
        "deletable": def.deletable,
        "deprecatedAndHidden": false,
        "feedEnabled": def.feed_enabled,
        "hasSubtypes": false,
        "isInterface": false,
        "isSubtype": false,
        "keyPrefix": def.key_prefix,
        "label": def.label,
        "labelPlural": def.label_plural,
        "layoutable": def.createable,
        "mergeable": def.mergeable,
        "mruEnabled": def.createable,
        "name": def.name,
        "queryable": def.queryable,
        "replicateable": def.replicateable,
        "retrieveable": def.retrieveable,
        "searchable": def.searchable,
        "triggerable": def.triggerable,
        "undeletable": def.undeletable,
        "updateable": def.updateable,
        "urls": Value::Object(urls(ctx, def, false)),
    })
}

/// Narrows a summary's object flags to what the caller's object permissions allow.
fn restrict_summary(summary: &mut Value, access: &crate::security::ObjectAccess) {
    for (key, allowed) in [
        ("createable", access.create),
        ("updateable", access.edit),
        ("deletable", access.delete),
        ("queryable", access.read),
        ("undeletable", access.delete),
        ("mergeable", access.delete),
    ] {
        if !allowed && let Some(flag) = summary.get_mut(key) {
            *flag = Value::Bool(false);
        }
    }
}

/// The caller's access to `def`, or `NOT_FOUND` when the caller cannot see it at all.
fn visible(
    ctx: &Ctx<'_>,
    org: &Org,
    def: &ObjectDef,
) -> Result<(crate::security::UserAccess, crate::security::ObjectAccess), SfError> {
    let access = crate::security::UserAccess::for_user(org, &ctx.user);
    let object = access.object(def);
    if !object.read {
        return Err(SfError::no_resource());
    }
    Ok((access, object))
}

/// `GET /sobjects`: the objects the caller can read.
pub fn global(ctx: &Ctx<'_>, org: &Org) -> Reply {
    let access = crate::security::UserAccess::for_user(org, &ctx.user);
    let sobjects: Vec<Value> = org
        .schema
        .objects()
        .filter_map(|o| {
            let allowed = access.object(o);
            allowed.read.then(|| {
                let mut s = summary(ctx, o);
                restrict_summary(&mut s, &allowed);
                s
            })
        })
        .collect();
    Reply::ok(json!({ "encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects }))
}

/// `GET /sobjects/{obj}`: `objectDescribe` and up to 25 `recentItems` (most recently modified).
///
/// # Errors
/// `NOT_FOUND` for an unknown object.
pub fn basic(ctx: &Ctx<'_>, org: &Org, object: &str) -> Result<Reply, SfError> {
    let def = org.schema.object(object).ok_or_else(SfError::no_resource)?;
    let (_, allowed) = visible(ctx, org, def)?;
    let mut object_describe = summary(ctx, def);
    restrict_summary(&mut object_describe, &allowed);
    let name_field = def.fields.values().find(|f| f.name_field).map(|f| f.name.clone());
    let recent: Vec<Value> = org
        .data
        .get(&def.name)
        .map(|table| {
            table
                .records()
                .rev()
                .map(|(_, r)| r)
                .filter(|r| r.get("IsDeleted").and_then(Value::as_bool) != Some(true))
                .take(25)
                .map(|r| {
                    let id = r.get("Id").and_then(Value::as_str).unwrap_or_default();
                    let mut item = Map::new();
                    item.insert(
                        "attributes".into(),
                        json!({ "type": def.name, "url": ctx.record_url(&def.name, id) }),
                    );
                    item.insert("Id".into(), Value::String(id.to_string()));
                    if let Some(n) = &name_field {
                        item.insert(n.clone(), r.get(n).cloned().unwrap_or(Value::Null));
                    }
                    Value::Object(item)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Reply::ok(
        json!({ "objectDescribe": object_describe, "recentItems": recent }),
    ))
}

fn byte_length(f: &FieldDef) -> u32 {
    match f.ftype {
        FieldType::Id | FieldType::Reference => 18,
        FieldType::String
        | FieldType::Textarea
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Picklist
        | FieldType::Multipicklist
        | FieldType::Combobox
        | FieldType::EncryptedString => f.length.saturating_mul(3),
        _ => 0,
    }
}

fn extra_type_info(def: &ObjectDef, f: &FieldDef) -> Value {
    let person = def.fields.get("Name").is_some_and(|n| !n.createable) && def.fields.contains_key("LastName");
    match f.ftype {
        FieldType::Textarea => json!("plaintextarea"),
        FieldType::Url if f.name == "PhotoUrl" => json!("imageurl"),
        _ if person && matches!(f.name.as_str(), "FirstName" | "LastName" | "Salutation" | "Name") => {
            json!("personname")
        }
        _ => Value::Null,
    }
}

fn compound_name(def: &ObjectDef, f: &FieldDef) -> Value {
    if matches!(f.name.as_str(), "FirstName" | "LastName" | "Salutation")
        && def.fields.get("Name").is_some_and(|n| !n.createable)
    {
        return json!("Name");
    }
    for suffix in [
        "Street",
        "City",
        "State",
        "PostalCode",
        "Country",
        "Latitude",
        "Longitude",
        "GeocodeAccuracy",
    ] {
        if let Some(prefix) = f.name.strip_suffix(suffix) {
            let compound = format!("{prefix}Address");
            if def
                .fields
                .get(&compound)
                .is_some_and(|a| a.ftype == FieldType::Address)
            {
                return Value::String(compound);
            }
        }
    }
    Value::Null
}

/// One entry of a describe's `fields`.
pub fn field(def: &ObjectDef, f: &FieldDef) -> Value {
    let picklist: Vec<Value> = f
        .picklist_values
        .iter()
        .map(|p| {
            json!({
                "active": p.active,
                "defaultValue": p.default_value,
                "label": p.label,
                "validFor": null,
                "value": p.value,
            })
        })
        .collect();
    let type_name = serde_json::to_value(f.ftype).unwrap_or(Value::Null);
    let numeric = matches!(
        f.ftype,
        FieldType::Double | FieldType::Currency | FieldType::Percent
    );
    let pairs: Vec<(&str, Value)> = vec![
        ("aggregatable", json!(f.groupable || numeric)),
        ("aiPredictionField", json!(false)),
        ("autoNumber", json!(f.auto_number)),
        ("byteLength", json!(byte_length(f))),
        ("calculated", json!(f.calculated)),
        ("calculatedFormula", json!(null)),
        ("cascadeDelete", json!(f.cascade_delete)),
        ("caseSensitive", json!(f.case_sensitive)),
        ("compoundFieldName", json!(compound_name(def, f))),
        ("controllerName", json!(null)),
        ("createable", json!(f.createable)),
        ("custom", json!(f.custom)),
        (
            "defaultValue",
            json!(
                f.default_value
                    .clone()
                    .filter(|v| !v.is_boolean())
                    .unwrap_or(Value::Null)
            ),
        ),
        ("defaultValueFormula", json!(null)),
        ("defaultedOnCreate", json!(f.defaulted_on_create)),
        ("dependentPicklist", json!(false)),
        ("deprecatedAndHidden", json!(false)),
        ("digits", json!(f.digits)),
        ("displayLocationInDecimal", json!(false)),
        ("encrypted", json!(f.ftype == FieldType::EncryptedString)),
        ("externalId", json!(f.external_id)),
        ("extraTypeInfo", json!(extra_type_info(def, f))),
        ("filterable", json!(f.filterable)),
        ("filteredLookupInfo", json!(null)),
        ("formulaTreatNullNumberAsZero", json!(false)),
        ("groupable", json!(f.groupable)),
        ("highScaleNumber", json!(false)),
        ("htmlFormatted", json!(false)),
        ("idLookup", json!(f.id_lookup)),
        ("inlineHelpText", json!(f.inline_help_text)),
        ("label", json!(f.label)),
        ("length", json!(f.length)),
        ("mask", json!(null)),
        ("maskType", json!(null)),
        ("name", json!(f.name)),
        ("nameField", json!(f.name_field)),
        ("namePointing", json!(f.reference_to.len() > 1)),
        ("nillable", json!(f.nillable)),
        ("permissionable", json!(f.nillable && !f.custom && f.createable)),
        ("picklistValues", json!(picklist)),
        ("polymorphicForeignKey", json!(f.reference_to.len() > 1)),
        ("precision", json!(f.precision)),
        ("queryByDistance", json!(false)),
        ("referenceTargetField", json!(null)),
        ("referenceTo", json!(f.reference_to)),
        ("relationshipName", json!(f.relationship_name)),
        ("relationshipOrder", json!(null)),
        ("restrictedDelete", json!(false)),
        ("restrictedPicklist", json!(f.restricted_picklist)),
        ("scale", json!(f.scale)),
        ("searchPrefilterable", json!(f.ftype == FieldType::Reference)),
        ("soapType", json!(f.soap_type)),
        ("sortable", json!(f.sortable)),
        ("type", json!(type_name)),
        ("unique", json!(f.unique)),
        ("updateable", json!(f.updateable)),
        ("writeRequiresMasterRead", json!(false)),
    ];
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The child relationships of `def`: every reference field of every object that points to it,
/// named where Salesforce names it.
pub fn child_relationships(org: &Org, def: &ObjectDef) -> Vec<Value> {
    let named = org.schema.child_relationships(&def.name);
    let mut out = Vec::new();
    for child in org.schema.objects() {
        for f in child.fields.values() {
            if f.ftype != FieldType::Reference
                || !f.reference_to.iter().any(|r| r.eq_ignore_ascii_case(&def.name))
            {
                continue;
            }
            let declared = named
                .iter()
                .find(|r| r.child_sobject == child.name && r.field == f.name);
            out.push(json!({
                "cascadeDelete": declared.is_some_and(|r| r.cascade_delete) || f.cascade_delete,
                "childSObject": child.name,
                "deprecatedAndHidden": false,
                "field": f.name,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": declared.and_then(|r| r.relationship_name.clone()),
                "restrictedDelete": false,
            }));
        }
    }
    out
}

/// `GET /sobjects/{obj}/describe`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object.
pub fn describe(ctx: &Ctx<'_>, org: &Org, object: &str) -> Result<Reply, SfError> {
    let def = org.schema.object(object).ok_or_else(SfError::no_resource)?;
    let (access, allowed) = visible(ctx, org, def)?;
    let mut summary = summary(ctx, def);
    restrict_summary(&mut summary, &allowed);
    let mut body = match summary {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // Fields the caller cannot read are absent; read-only ones are neither createable nor updateable.
    let fields: Vec<Value> = def
        .fields
        .values()
        .filter_map(|f| {
            let fa = access.field(def, f);
            fa.read.then(|| {
                let mut v = field(def, f);
                let permissionable = crate::security::permissionable(f);
                for (key, object_allows) in [("createable", allowed.create), ("updateable", allowed.edit)] {
                    let blocked = !object_allows || (permissionable && !fa.edit);
                    if blocked && let Some(flag) = v.get_mut(key) {
                        *flag = Value::Bool(false);
                    }
                }
                v
            })
        })
        .collect();
    let base = format!("{}/sobjects/{}", ctx.prefix(), def.name);
    let extra = json!({
        "actionOverrides": [],
        "childRelationships": child_relationships(org, def),
        "compactLayoutable": def.createable,
        "defaultImplementation": null,
        "extendedBy": null,
        "extendsInterfaces": null,
        "fields": fields,
        "implementedBy": null,
        "implementsInterfaces": null,
        "listviewable": null,
        "lookupLayoutable": null,
        "namedLayoutInfos": [],
        "networkScopeFieldName": null,
        "recordTypeInfos": [{
            "active": true,
            "available": true,
            "defaultRecordTypeMapping": true,
            "developerName": "Master",
            "master": true,
            "name": "Master",
            "recordTypeId": "012000000000000AAA",
            "urls": { "layout": format!("{base}/describe/layouts/012000000000000AAA") },
        }],
        "searchLayoutable": def.searchable,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [
            { "label": format!("All {}", def.label_plural.to_lowercase()), "name": "everything" },
            { "label": format!("My {}", def.label_plural.to_lowercase()), "name": "mine" },
        ],
    });
    if let Value::Object(extra) = extra {
        body.extend(extra);
    }
    body.insert("urls".into(), Value::Object(urls(ctx, def, true)));
    body.sort_keys();
    Ok(Reply::ok(Value::Object(body)))
}
