//! `deploy` and `checkDeployStatus`: a zip package (`package.xml`, `objects/X.object`,
//! `permissionsets/X.permissionset`) deployed asynchronously — `Queued` when accepted, then
//! `InProgress`, then `Succeeded`, `SucceededPartial` or `Failed` — by a background task.
//!
//! Deploy requests are kept in the org (table [`DEPLOYS_TABLE`], ids `0Af`), so their status
//! survives as long as the org does.
//!
//! Invariants: a deploy is applied to a copy of the org and the copy replaces the org only when
//! the deploy is not `checkOnly` and either every component succeeded or `rollbackOnError` is
//! off — so a failed deploy with rollback changes nothing; the zip is read with limits on the
//! number of entries and the uncompressed size, so a hostile package cannot exhaust memory.

use std::io::Read;

use base64::Engine;
use serde_json::{Value, json};

use crate::app::SharedState;
use crate::ids::SfId;
use crate::org::{Org, Record, now_string};
use crate::schema::custom::{self, Change, SchemaError};

use super::xml::{Node, el};
use super::{envelope, fault, permset, soap_datetime, types, user_name};

/// The org table holding deploy requests (Tooling `DeployRequest`).
pub const DEPLOYS_TABLE: &str = "tooling:DeployRequest";
/// Key prefix of deploy request ids.
pub const DEPLOY_PREFIX: &str = "0Af";

/// Most entries a package may hold.
const MAX_ENTRIES: usize = 10_000;
/// Most uncompressed bytes a package may hold (Salesforce's limit is 400 MB unzipped; the
/// emulator keeps it small since the whole package is read into memory).
const MAX_UNZIPPED: u64 = 64 * 1024 * 1024;

/// The options of a deploy the emulator honours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Options {
    check_only: bool,
    rollback_on_error: bool,
    ignore_warnings: bool,
}

/// `deploy`: stores a `Queued` request and starts the background task.
pub fn start(state: &SharedState, op: &Node, user: &SfId) -> axum::response::Response {
    let zip_b64: String = op
        .child("ZipFile")
        .map(|z| z.text.chars().filter(|c| !c.is_whitespace()).collect())
        .unwrap_or_default();
    let zip = match base64::engine::general_purpose::STANDARD.decode(zip_b64.as_bytes()) {
        Ok(z) => z,
        Err(_) => {
            return fault("INVALID_ZIP_FILE", "The ZipFile is not valid base64");
        }
    };
    let opts = op.child("DeployOptions");
    let flag = |name: &str| opts.is_some_and(|o| o.flag(name));
    let options = Options {
        check_only: flag("checkOnly"),
        // Salesforce's default for rollbackOnError is true.
        rollback_on_error: opts.and_then(|o| o.bool_of("rollbackOnError")).unwrap_or(true),
        ignore_warnings: flag("ignoreWarnings"),
    };
    let now = now_string();
    let id = {
        let mut org = state.org_write();
        let id = org.new_id(DEPLOY_PREFIX);
        let mut r = Record::new();
        r.insert("Id".into(), Value::String(id.to_string()));
        r.insert("Status".into(), Value::String("Queued".into()));
        r.insert("CheckOnly".into(), Value::Bool(options.check_only));
        r.insert("RollbackOnError".into(), Value::Bool(options.rollback_on_error));
        r.insert("IgnoreWarnings".into(), Value::Bool(options.ignore_warnings));
        r.insert("CreatedDate".into(), Value::String(now.clone()));
        r.insert("CreatedById".into(), Value::String(user.to_string()));
        r.insert("LastModifiedDate".into(), Value::String(now));
        org.table_mut(DEPLOYS_TABLE).insert(id.clone(), r);
        id
    };
    state.mark_dirty();
    tokio::spawn(run(state.clone(), id.clone(), zip, options, user.clone()));
    let mut out = String::from("<result>");
    el(&mut out, "done", "false");
    el(&mut out, "id", id.as_str());
    el(&mut out, "state", "Queued");
    out.push_str("</result>");
    envelope("deploy", &out)
}

fn update(state: &SharedState, id: &SfId, values: Record) {
    {
        let mut org = state.org_write();
        if let Some(r) = org.table_mut(DEPLOYS_TABLE).get_mut(id) {
            for (k, v) in values {
                r.insert(k, v);
            }
            r.insert("LastModifiedDate".into(), Value::String(now_string()));
        }
    }
    state.mark_dirty();
}

/// One component of a package.
#[derive(Debug)]
enum Component {
    Object { file: String, name: String, node: Node },
    PermissionSet { file: String, name: String, node: Node },
}

/// A component result (`DeployMessage`).
fn message(
    component_type: &str,
    file: &str,
    full_name: &str,
    outcome: Result<(bool, Option<&SfId>), &str>,
    now: &str,
) -> Value {
    match outcome {
        Ok((created, id)) => json!({
            "changed": true, "componentType": component_type, "created": created,
            "createdDate": now, "deleted": false, "fileName": file, "fullName": full_name,
            "id": id.map(SfId::to_string), "success": true,
        }),
        Err(problem) => json!({
            "changed": false, "componentType": component_type, "created": false,
            "createdDate": now, "deleted": false, "fileName": file, "fullName": full_name,
            "problem": problem, "problemType": "Error", "success": false,
        }),
    }
}

/// Reads the package: its components, or the problem that stops the whole deploy.
fn unpack(zip: &[u8]) -> Result<(Vec<Component>, Vec<Value>), String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| format!("The ZipFile is not a valid zip: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!("The package holds more than {MAX_ENTRIES} files"));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("Cannot read the zip: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map_err(|e| format!("Cannot read the zip: {e}"))?
            .replace('\\', "/");
        let mut bytes = Vec::new();
        let budget = MAX_UNZIPPED.saturating_sub(total);
        (&mut entry)
            .take(budget + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("Cannot read {name} from the zip: {e}"))?;
        total += bytes.len() as u64;
        if total > MAX_UNZIPPED {
            return Err(format!(
                "The package is larger than {MAX_UNZIPPED} bytes unzipped"
            ));
        }
        files.push((name, bytes));
    }
    let root = files
        .iter()
        .filter_map(|(n, _)| n.strip_suffix("package.xml"))
        .filter(|prefix| prefix.is_empty() || prefix.ends_with('/'))
        .min_by_key(|p| p.len())
        .map(str::to_string)
        .ok_or_else(|| "No package.xml found".to_string())?;
    let mut components = Vec::new();
    let mut failures = Vec::new();
    let now = now_string();
    for (name, bytes) in files {
        let Some(path) = name.strip_prefix(&root) else {
            continue;
        };
        if path == "package.xml" {
            let doc = super::xml::parse(&bytes).map_err(|e| format!("package.xml: {e}"))?;
            if doc.name != "Package" {
                return Err("package.xml: the root element must be Package".into());
            }
            continue;
        }
        let parsed = |root_name: &str| -> Result<Node, String> {
            let doc = super::xml::parse(&bytes).map_err(|e| e.to_string())?;
            if doc.name == root_name {
                Ok(doc)
            } else {
                Err(format!("the root element must be {root_name}, not {}", doc.name))
            }
        };
        if let Some(obj) = path
            .strip_prefix("objects/")
            .and_then(|p| p.strip_suffix(".object"))
        {
            match parsed("CustomObject") {
                Ok(node) => components.push(Component::Object {
                    file: path.to_string(),
                    name: obj.to_string(),
                    node,
                }),
                Err(e) => failures.push(message("CustomObject", path, obj, Err(&e), &now)),
            }
        } else if let Some(ps) = path
            .strip_prefix("permissionsets/")
            .and_then(|p| p.strip_suffix(".permissionset"))
        {
            match parsed("PermissionSet") {
                Ok(node) => components.push(Component::PermissionSet {
                    file: path.to_string(),
                    name: ps.to_string(),
                    node,
                }),
                Err(e) => failures.push(message("PermissionSet", path, ps, Err(&e), &now)),
            }
        } else {
            let stem = path.rsplit('/').next().unwrap_or(path);
            failures.push(message(
                "",
                path,
                stem,
                Err("The emulator deploys only CustomObject, CustomField and PermissionSet components"),
                &now,
            ));
        }
    }
    Ok((components, failures))
}

/// Applies the components to `org`: objects first, then their fields (so lookups between new
/// objects resolve), then permission sets. Returns `(successes, failures)`.
fn apply(org: &mut Org, components: &[Component], change: &Change<'_>) -> (Vec<Value>, Vec<Value>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let now = change.now;
    let mut fields_todo = Vec::new();
    for c in components {
        let Component::Object { file, name, node } = c else {
            continue;
        };
        let mut spec = types::object_spec(node);
        spec.full_name = name.clone();
        let fields = std::mem::take(&mut spec.fields);
        let result: Result<bool, SchemaError> = if custom::object_record(org, name).is_some() {
            if spec.label.is_some() {
                custom::update_object(org, &spec, change).map(|()| false)
            } else {
                Ok(false)
            }
        } else if org.schema.object(name).is_some() {
            // A standard object's file carries only custom fields.
            Ok(false)
        } else {
            custom::create_object(org, &spec, change).map(|_| true)
        };
        match result {
            Ok(created) => {
                let id = custom::object_record(org, name).map(|(i, _)| i.clone());
                ok.push(message(
                    "CustomObject",
                    file,
                    name,
                    Ok((created, id.as_ref())),
                    now,
                ));
                fields_todo.push((file.clone(), name.clone(), fields));
            }
            Err(e) => failed.push(message("CustomObject", file, name, Err(&e.to_string()), now)),
        }
    }
    for (file, object, fields) in fields_todo {
        for f in fields {
            let full = format!("{object}.{}", f.full_name);
            let exists = org
                .schema
                .object(&object)
                .and_then(|o| o.field(&f.full_name))
                .is_some_and(|d| d.custom);
            let result = if exists {
                custom::update_field(org, &object, &f, change).map(|()| false)
            } else {
                custom::create_field(org, &object, &f, change).map(|_| true)
            };
            match result {
                Ok(created) => {
                    let id = custom::field_record(org, &full).map(|(i, _)| i.clone());
                    ok.push(message(
                        "CustomField",
                        &file,
                        &full,
                        Ok((created, id.as_ref())),
                        now,
                    ));
                }
                Err(e) => failed.push(message("CustomField", &file, &full, Err(&e.to_string()), now)),
            }
        }
    }
    for c in components {
        let Component::PermissionSet { file, name, node } = c else {
            continue;
        };
        let mut spec = permset::spec(node);
        spec.full_name = name.clone();
        match permset::write(org, &spec, false, true, change) {
            Ok(created) => {
                let id = permset::find(org, name);
                ok.push(message(
                    "PermissionSet",
                    file,
                    name,
                    Ok((created, id.as_ref())),
                    now,
                ));
            }
            Err(e) => failed.push(message("PermissionSet", file, name, Err(&e.to_string()), now)),
        }
    }
    (ok, failed)
}

async fn run(state: SharedState, id: SfId, zip: Vec<u8>, options: Options, user: SfId) {
    let mut started = Record::new();
    started.insert("Status".into(), Value::String("InProgress".into()));
    started.insert("StartDate".into(), Value::String(now_string()));
    update(&state, &id, started);
    // Let a client polling right away see InProgress, as it would on Salesforce.
    tokio::task::yield_now().await;

    let now = now_string();
    let mut done = Record::new();
    let package = tokio::task::spawn_blocking(move || unpack(&zip)).await;
    let (components, mut failures) = match package {
        Ok(Ok(p)) => p,
        Ok(Err(problem)) => {
            let fail = message("", "package.xml", "package.xml", Err(&problem), &now);
            done.insert("Status".into(), Value::String("Failed".into()));
            done.insert("ErrorMessage".into(), Value::String(problem));
            done.insert("Failures".into(), json!([fail]));
            done.insert("Successes".into(), json!([]));
            done.insert("NumberComponentsTotal".into(), json!(0));
            done.insert("NumberComponentErrors".into(), json!(1));
            done.insert("NumberComponentsDeployed".into(), json!(0));
            done.insert("CompletedDate".into(), Value::String(now_string()));
            update(&state, &id, done);
            return;
        }
        Err(e) => {
            done.insert("Status".into(), Value::String("Failed".into()));
            done.insert(
                "ErrorMessage".into(),
                Value::String(format!("the deploy task failed: {e}")),
            );
            done.insert("CompletedDate".into(), Value::String(now_string()));
            update(&state, &id, done);
            return;
        }
    };
    let change = Change {
        user: &user,
        now: &now,
    };
    let (mut successes, status) = {
        let mut org = state.org_write();
        let mut copy = org.clone();
        let (successes, failed) = apply(&mut copy, &components, &change);
        failures.extend(failed);
        let commit = !options.check_only && (failures.is_empty() || !options.rollback_on_error);
        if commit {
            // The lock was held since the copy was made, so nothing else changed meanwhile.
            *org = copy;
        }
        let status = match (failures.is_empty(), commit && !successes.is_empty()) {
            (true, _) => "Succeeded",
            (false, true) => "SucceededPartial",
            (false, false) => "Failed",
        };
        (successes, status)
    };
    let total = successes.len() + failures.len();
    let deployed = successes.len();
    successes.insert(
        0,
        message("", "package.xml", "package.xml", Ok((false, None)), &now),
    );
    done.insert("Status".into(), Value::String(status.into()));
    done.insert("NumberComponentsTotal".into(), json!(total));
    done.insert("NumberComponentsDeployed".into(), json!(deployed));
    done.insert("NumberComponentErrors".into(), json!(failures.len()));
    done.insert("Successes".into(), Value::Array(successes));
    done.insert("Failures".into(), Value::Array(failures));
    done.insert("CompletedDate".into(), Value::String(now_string()));
    update(&state, &id, done);
}

fn deploy_message(out: &mut String, tag: &str, m: &Value) {
    let s = |k: &str| m.get(k).and_then(Value::as_str);
    let b = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false).to_string();
    out.push('<');
    out.push_str(tag);
    out.push('>');
    el(out, "changed", &b("changed"));
    if let Some(t) = s("componentType") {
        el(out, "componentType", t);
    }
    el(out, "created", &b("created"));
    el(
        out,
        "createdDate",
        &soap_datetime(s("createdDate").unwrap_or_default()),
    );
    el(out, "deleted", &b("deleted"));
    el(out, "fileName", s("fileName").unwrap_or_default());
    el(out, "fullName", s("fullName").unwrap_or_default());
    if let Some(id) = s("id") {
        el(out, "id", id);
    }
    if let Some(p) = s("problem") {
        el(out, "problem", p);
    }
    if let Some(p) = s("problemType") {
        el(out, "problemType", p);
    }
    el(out, "success", &b("success"));
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// `checkDeployStatus`: the `DeployResult` of a request.
pub fn status(state: &SharedState, op: &Node) -> axum::response::Response {
    let id = op.text_of("asyncProcessId").unwrap_or_default();
    let include_details = op.flag("includeDetails");
    let org = state.org_read();
    let Some(r) = SfId::parse(id)
        .ok()
        .and_then(|i| org.data.get(DEPLOYS_TABLE)?.get(&i).cloned())
    else {
        return fault(
            "INVALID_CROSS_REFERENCE_KEY",
            &format!("invalid cross reference id: {id}"),
        );
    };
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let b = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false).to_string();
    let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0).to_string();
    let status = s("Status");
    let done = matches!(
        status.as_str(),
        "Succeeded" | "SucceededPartial" | "Failed" | "Canceled"
    );
    let mut out = String::from("<result>");
    el(&mut out, "checkOnly", &b("CheckOnly"));
    if r.contains_key("CompletedDate") {
        el(&mut out, "completedDate", &soap_datetime(&s("CompletedDate")));
    }
    el(&mut out, "createdBy", &s("CreatedById"));
    el(&mut out, "createdByName", &user_name(&org, &s("CreatedById")));
    el(&mut out, "createdDate", &soap_datetime(&s("CreatedDate")));
    out.push_str("<details>");
    if include_details {
        for m in r.get("Failures").and_then(Value::as_array).into_iter().flatten() {
            deploy_message(&mut out, "componentFailures", m);
        }
        for m in r.get("Successes").and_then(Value::as_array).into_iter().flatten() {
            deploy_message(&mut out, "componentSuccesses", m);
        }
    }
    out.push_str("</details>");
    el(&mut out, "done", &done.to_string());
    if let Some(e) = r.get("ErrorMessage").and_then(Value::as_str) {
        el(&mut out, "errorMessage", e);
    }
    el(&mut out, "id", id);
    el(&mut out, "ignoreWarnings", &b("IgnoreWarnings"));
    el(
        &mut out,
        "lastModifiedDate",
        &soap_datetime(&s("LastModifiedDate")),
    );
    el(&mut out, "numberComponentErrors", &n("NumberComponentErrors"));
    el(
        &mut out,
        "numberComponentsDeployed",
        &n("NumberComponentsDeployed"),
    );
    el(&mut out, "numberComponentsTotal", &n("NumberComponentsTotal"));
    el(&mut out, "numberTestErrors", "0");
    el(&mut out, "numberTestsCompleted", "0");
    el(&mut out, "numberTestsTotal", "0");
    el(&mut out, "rollbackOnError", &b("RollbackOnError"));
    el(&mut out, "runTestsEnabled", "false");
    if r.contains_key("StartDate") {
        el(&mut out, "startDate", &soap_datetime(&s("StartDate")));
    }
    el(&mut out, "status", &status);
    el(&mut out, "success", &status.starts_with("Succeeded").to_string());
    out.push_str("</result>");
    envelope("checkDeployStatus", &out)
}
