//! `retrieve` and `checkRetrieveStatus`: a zip of what the org holds for the types the emulator
//! knows (`CustomObject` with its custom fields, `CustomField`, `PermissionSet`), in the layout
//! `sf project retrieve` expects — `unpackaged/package.xml`, `unpackaged/objects/X.object`,
//! `unpackaged/permissionsets/X.permissionset` (without the `unpackaged/` folder when
//! `singlePackage` is set) — plus `describeMetadata`.
//!
//! A retrieve is answered `Queued` (as Salesforce does) and is complete by the first
//! `checkRetrieveStatus`, which answers `done`, `fileProperties`, `status` `Succeeded` and the
//! base64 `zipFile`. Requests are kept in the org (table [`RETRIEVES_TABLE`], ids `09S`).
//!
//! Invariants: `*` names every custom object (standard objects are named one by one, and then
//! carry only their custom fields), as Salesforce's wildcard does; members that do not exist
//! are reported in `messages`, never as a fault; the zip holds exactly the files listed in
//! `fileProperties`.

use std::io::Write;

use base64::Engine;
use serde_json::{Value, json};

use crate::app::SharedState;
use crate::ids::SfId;
use crate::org::{Org, Record, now_string};
use crate::schema::custom;

use super::xml::{Node, el, esc};
use super::{NS, envelope, fault, permset, soap_datetime, types, user_name};

/// The org table holding retrieve requests.
pub const RETRIEVES_TABLE: &str = "tooling:RetrieveRequest";
/// Key prefix of retrieve request ids.
pub const RETRIEVE_PREFIX: &str = "09S";

/// One file of a retrieve.
struct File {
    path: String,
    full_name: String,
    kind: &'static str,
    body: String,
}

/// The custom objects' names.
fn custom_objects(org: &Org) -> Vec<String> {
    org.schema
        .objects()
        .filter(|o| o.custom)
        .map(|o| o.name.clone())
        .collect()
}

/// `objects/<name>.object` with `fields` (short names) or every custom field when `None`.
fn object_file(org: &Org, name: &str, only: Option<&[String]>) -> Option<String> {
    let def = org.schema.object(name)?;
    let mut spec = custom::read_object(org, &def.name).unwrap_or_else(|| custom::ObjectSpec {
        full_name: def.name.clone(),
        ..custom::ObjectSpec::default()
    });
    spec.fields = def
        .fields
        .values()
        .filter(|f| f.custom)
        .filter(|f| only.is_none_or(|o| o.iter().any(|n| n.eq_ignore_ascii_case(&f.name))))
        .filter_map(|f| custom::read_field(org, &format!("{}.{}", def.name, f.name)))
        .map(|mut f| {
            f.full_name = f.full_name.rsplit('.').next().unwrap_or_default().to_string();
            f
        })
        .collect();
    let mut inner = String::new();
    types::write_object(&mut inner, &spec);
    // Inside a file the object's name is the file's; the element is not repeated.
    let inner = inner.replacen(&format!("<fullName>{}</fullName>", esc(&def.name)), "", 1);
    Some(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CustomObject xmlns=\"{NS}\">{inner}</CustomObject>\n"
    ))
}

/// The files a retrieve of `(type, members)` pairs gives, and the messages for missing members.
fn files(org: &Org, requested: &[(String, Vec<String>)]) -> (Vec<File>, Vec<(String, String)>) {
    let mut objects: indexmap::IndexMap<String, Option<Vec<String>>> = indexmap::IndexMap::new();
    let mut sets = Vec::new();
    let mut problems = Vec::new();
    for (kind, members) in requested {
        match kind.as_str() {
            "CustomObject" => {
                for m in members {
                    let names = if m == "*" {
                        custom_objects(org)
                    } else {
                        vec![m.clone()]
                    };
                    for n in names {
                        match org.schema.object(&n) {
                            Some(def) => {
                                objects.insert(def.name.clone(), None);
                            }
                            None => problems.push((
                                format!("objects/{n}.object"),
                                format!("Entity of type 'CustomObject' named '{n}' cannot be found"),
                            )),
                        }
                    }
                }
            }
            "CustomField" => {
                for m in members {
                    let found = if m == "*" {
                        None
                    } else {
                        custom::field_record(org, m).map(|_| m.clone())
                    };
                    match (
                        m.as_str(),
                        found.and_then(|f| {
                            custom::split_field_name(&f).map(|(o, f)| (o.to_string(), f.to_string()))
                        }),
                    ) {
                        ("*", _) => {
                            for o in custom_objects(org) {
                                objects.entry(o).or_insert(None);
                            }
                        }
                        (_, Some((o, f))) => {
                            let entry = objects.entry(o).or_insert_with(|| Some(Vec::new()));
                            if let Some(list) = entry {
                                list.push(f);
                            }
                        }
                        (_, None) => problems.push((
                            "objects".to_string(),
                            format!("Entity of type 'CustomField' named '{m}' cannot be found"),
                        )),
                    }
                }
            }
            "PermissionSet" => {
                for m in members {
                    if m == "*" {
                        for (_, r) in permset::list(org) {
                            if let Some(n) = r.get("Name").and_then(Value::as_str) {
                                sets.push(n.to_string());
                            }
                        }
                    } else if permset::read(org, m).is_some() {
                        sets.push(m.clone());
                    } else {
                        problems.push((
                            format!("permissionsets/{m}.permissionset"),
                            format!("Entity of type 'PermissionSet' named '{m}' cannot be found"),
                        ));
                    }
                }
            }
            other => problems.push((
                String::new(),
                format!("Entity type: '{other}' is unknown or not supported by this emulator"),
            )),
        }
    }
    let mut out = Vec::new();
    for (name, only) in &objects {
        if let Some(body) = object_file(org, name, only.as_deref()) {
            out.push(File {
                path: format!("objects/{name}.object"),
                full_name: name.clone(),
                kind: "CustomObject",
                body,
            });
        }
    }
    for name in sets {
        if let Some(inner) = permset::read(org, &name) {
            let inner = inner.replacen(&format!("<fullName>{}</fullName>", esc(&name)), "", 1);
            out.push(File {
                path: format!("permissionsets/{name}.permissionset"),
                full_name: name.clone(),
                kind: "PermissionSet",
                body: format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PermissionSet xmlns=\"{NS}\">{inner}</PermissionSet>\n"
                ),
            });
        }
    }
    (out, problems)
}

/// The package.xml listing `requested`.
fn package_xml(requested: &[(String, Vec<String>)], version: &str) -> String {
    let mut s = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Package xmlns=\"{NS}\">\n");
    for (kind, members) in requested {
        s.push_str("    <types>\n");
        for m in members {
            s.push_str(&format!("        <members>{}</members>\n", esc(m)));
        }
        s.push_str(&format!("        <name>{}</name>\n    </types>\n", esc(kind)));
    }
    s.push_str(&format!("    <version>{}</version>\n</Package>\n", esc(version)));
    s
}

fn zip(entries: &[(String, &str)]) -> Result<Vec<u8>, String> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in entries {
        w.start_file(name.as_str(), opts).map_err(|e| e.to_string())?;
        w.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    w.finish()
        .map(std::io::Cursor::into_inner)
        .map_err(|e| e.to_string())
}

/// `retrieve`: builds the package now and answers `Queued`.
pub fn start(state: &SharedState, op: &Node, user: &SfId) -> axum::response::Response {
    // The WSDL names the part `retrieveRequest`; Salesforce reads it by position, and some
    // clients (jsforce) send it as `request`.
    let Some(req) = op
        .child("retrieveRequest")
        .or_else(|| op.child("request"))
        .or_else(|| op.children.first())
    else {
        return fault("INVALID_CROSS_REFERENCE_KEY", "retrieve needs a retrieveRequest");
    };
    let single = req.flag("singlePackage");
    let version = req
        .text_of("apiVersion")
        .unwrap_or(crate::config::LATEST_API_VERSION)
        .to_string();
    let requested: Vec<(String, Vec<String>)> = req
        .child("unpackaged")
        .map(|u| {
            u.all("types")
                .map(|t| {
                    let name = t.text_of("name").unwrap_or_default().to_string();
                    let members = t.all("members").map(|m| m.text.trim().to_string()).collect();
                    (name, members)
                })
                .collect()
        })
        .unwrap_or_default();
    if requested.is_empty() {
        return fault(
            "INVALID_CROSS_REFERENCE_KEY",
            "Specify packageNames, specificFiles or unpackaged; this emulator retrieves unpackaged components",
        );
    }
    let now = now_string();
    let prefix = if single { "" } else { "unpackaged/" };
    let id = {
        let mut org = state.org_write();
        let (files, problems) = files(&org, &requested);
        let package = package_xml(&requested, &version);
        let mut entries: Vec<(String, &str)> = files
            .iter()
            .map(|f| (format!("{prefix}{}", f.path), f.body.as_str()))
            .collect();
        entries.push((format!("{prefix}package.xml"), package.as_str()));
        let zip_b64 = match zip(&entries) {
            Ok(bytes) => base64::engine::general_purpose::STANDARD.encode(bytes),
            Err(e) => return fault("UNKNOWN_EXCEPTION", &format!("cannot build the package: {e}")),
        };
        let mut props: Vec<Value> = files
            .iter()
            .map(|f| json!({"fileName": format!("{prefix}{}", f.path), "fullName": f.full_name, "type": f.kind}))
            .collect();
        props.push(json!({"fileName": format!("{prefix}package.xml"), "fullName": format!("{}package.xml", if single { "" } else { "unpackaged/" }), "type": "Package"}));
        let id = org.new_id(RETRIEVE_PREFIX);
        let mut r = Record::new();
        r.insert("Id".into(), json!(id.to_string()));
        r.insert("Status".into(), json!("Succeeded"));
        r.insert("Zip".into(), json!(zip_b64));
        r.insert("Files".into(), Value::Array(props));
        r.insert(
            "Messages".into(),
            Value::Array(
                problems
                    .into_iter()
                    .map(|(f, p)| json!({"fileName": f, "problem": p}))
                    .collect(),
            ),
        );
        r.insert("CreatedDate".into(), json!(now));
        r.insert("CreatedById".into(), json!(user.to_string()));
        org.table_mut(RETRIEVES_TABLE).insert(id.clone(), r);
        id
    };
    state.mark_dirty();
    let mut out = String::from("<result>");
    el(&mut out, "done", "false");
    el(&mut out, "id", id.as_str());
    el(&mut out, "state", "Queued");
    out.push_str("</result>");
    envelope("retrieve", &out)
}

/// `checkRetrieveStatus`.
pub fn status(state: &SharedState, op: &Node) -> axum::response::Response {
    let id = op.text_of("asyncProcessId").unwrap_or_default();
    // `includeZip` defaults to true.
    let include_zip = op.bool_of("includeZip").unwrap_or(true);
    let org = state.org_read();
    let Some(r) = SfId::parse(id)
        .ok()
        .and_then(|i| org.data.get(RETRIEVES_TABLE)?.get(&i).cloned())
    else {
        return fault(
            "INVALID_CROSS_REFERENCE_KEY",
            &format!("invalid cross reference id: {id}"),
        );
    };
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let created = soap_datetime(&s("CreatedDate"));
    let creator = s("CreatedById");
    let creator_name = user_name(&org, &creator);
    let mut out = String::from("<result>");
    el(&mut out, "done", "true");
    for f in r.get("Files").and_then(Value::as_array).into_iter().flatten() {
        let t = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        out.push_str("<fileProperties>");
        el(&mut out, "createdById", &creator);
        el(&mut out, "createdByName", &creator_name);
        el(&mut out, "createdDate", &created);
        el(&mut out, "fileName", &t("fileName"));
        el(&mut out, "fullName", &t("fullName"));
        el(&mut out, "id", "");
        el(&mut out, "lastModifiedById", &creator);
        el(&mut out, "lastModifiedByName", &creator_name);
        el(&mut out, "lastModifiedDate", &created);
        el(&mut out, "manageableState", "unmanaged");
        el(&mut out, "type", &t("type"));
        out.push_str("</fileProperties>");
    }
    el(&mut out, "id", id);
    for m in r.get("Messages").and_then(Value::as_array).into_iter().flatten() {
        let t = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        out.push_str("<messages>");
        el(&mut out, "fileName", &t("fileName"));
        el(&mut out, "problem", &t("problem"));
        out.push_str("</messages>");
    }
    el(&mut out, "status", &s("Status"));
    el(&mut out, "success", "true");
    if include_zip {
        el(&mut out, "zipFile", &s("Zip"));
    }
    out.push_str("</result>");
    envelope("checkRetrieveStatus", &out)
}

/// `describeMetadata`: the types this emulator serves, with their folders and suffixes.
pub fn describe() -> axum::response::Response {
    let mut out = String::from("<result>");
    for (name, dir, suffix, children) in [
        ("CustomObject", "objects", "object", &["CustomField"][..]),
        ("PermissionSet", "permissionsets", "permissionset", &[][..]),
    ] {
        out.push_str("<metadataObjects>");
        for c in children {
            el(&mut out, "childXmlNames", c);
        }
        el(&mut out, "directoryName", dir);
        el(&mut out, "inFolder", "false");
        el(&mut out, "metaFile", "false");
        el(&mut out, "suffix", suffix);
        el(&mut out, "xmlName", name);
        out.push_str("</metadataObjects>");
    }
    el(&mut out, "organizationNamespace", "");
    el(&mut out, "partialSaveAllowed", "true");
    el(&mut out, "testRequired", "false");
    out.push_str("</result>");
    envelope("describeMetadata", &out)
}
