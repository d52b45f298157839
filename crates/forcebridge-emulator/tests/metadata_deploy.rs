//! `deploy` + `checkDeployStatus` over real HTTP: a zip package of objects (with fields) and a
//! permission set, polled until done; a failing package with rollback changes nothing.

mod common;
mod metadata_common;

use std::io::Write;

use base64::Engine;
use metadata_common::{NS, all, call, first};
use serde_json::json;

fn zip(files: &[(&str, &str)]) -> String {
    zip_with(files, zip::CompressionMethod::Deflated)
}

fn zip_with(files: &[(&str, &str)], method: zip::CompressionMethod) -> String {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, text) in files {
        w.start_file(*name, opts).expect("zip entry");
        w.write_all(text.as_bytes()).expect("zip write");
    }
    let bytes = w.finish().expect("zip finish").into_inner();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

const PACKAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Package xmlns="http://soap.sforce.com/2006/04/metadata">
    <types><members>*</members><name>CustomObject</name></types>
    <types><members>*</members><name>PermissionSet</name></types>
    <version>66.0</version>
</Package>"#;

const WIDGET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <deploymentStatus>Deployed</deploymentStatus>
    <fields>
        <fullName>Serial__c</fullName>
        <externalId>true</externalId>
        <label>Serial</label>
        <length>32</length>
        <type>Text</type>
        <unique>true</unique>
    </fields>
    <fields>
        <fullName>Part__c</fullName>
        <label>Part</label>
        <referenceTo>Part__c</referenceTo>
        <relationshipName>Widgets</relationshipName>
        <type>Lookup</type>
    </fields>
    <label>Widget</label>
    <nameField><label>Widget Name</label><type>Text</type></nameField>
    <pluralLabel>Widgets</pluralLabel>
    <sharingModel>ReadWrite</sharingModel>
</CustomObject>"#;

const PART: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <label>Part</label>
    <nameField><label>Part Name</label><type>Text</type></nameField>
    <pluralLabel>Parts</pluralLabel>
    <sharingModel>ReadWrite</sharingModel>
</CustomObject>"#;

const LEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <fields><fullName>Widget_Count__c</fullName><label>Widget Count</label><precision>4</precision><scale>0</scale><type>Number</type></fields>
</CustomObject>"#;

const PERMS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">
    <fieldPermissions><editable>true</editable><field>Widget__c.Serial__c</field><readable>true</readable></fieldPermissions>
    <label>Widget Sync</label>
    <objectPermissions>
        <allowCreate>true</allowCreate><allowDelete>false</allowDelete><allowEdit>true</allowEdit><allowRead>true</allowRead>
        <modifyAllRecords>false</modifyAllRecords><object>Widget__c</object><viewAllRecords>false</viewAllRecords>
    </objectPermissions>
</PermissionSet>"#;

async fn deploy(app: &common::App, zip_b64: &str, rollback: bool) -> String {
    let (status, body) = call(
        app,
        &format!(
            "<deploy xmlns=\"{NS}\"><ZipFile>{zip_b64}</ZipFile><DeployOptions><allowMissingFiles>false</allowMissingFiles>\
             <checkOnly>false</checkOnly><rollbackOnError>{rollback}</rollbackOnError><singlePackage>true</singlePackage>\
             </DeployOptions></deploy>"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first(&body, "state").as_deref(), Some("Queued"), "{body}");
    assert_eq!(first(&body, "done").as_deref(), Some("false"));
    let id = first(&body, "id").expect("async id");
    assert!(id.starts_with("0Af"), "{id}");
    id
}

/// Polls `checkDeployStatus` until `done` and returns the last answer. Bounded by a number of
/// polls, not by time: the deploy runs on the same runtime and finishes after a few yields.
async fn wait(app: &common::App, id: &str) -> String {
    let mut states = Vec::new();
    for _ in 0..1000 {
        let (status, body) = call(
            app,
            &format!("<checkDeployStatus xmlns=\"{NS}\"><asyncProcessId>{id}</asyncProcessId><includeDetails>true</includeDetails></checkDeployStatus>"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let state = first(&body, "status").unwrap_or_default();
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        for s in &states {
            assert!(
                ["Queued", "InProgress", "Succeeded", "SucceededPartial", "Failed"].contains(&s.as_str()),
                "{body}"
            );
        }
        if first(&body, "done").as_deref() == Some("true") {
            return body;
        }
        tokio::task::yield_now().await;
    }
    panic!("deploy {id} never finished: {states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_zip_polled_to_succeeded() {
    let app = common::spawn().await;
    let package = zip(&[
        ("unpackaged/package.xml", PACKAGE),
        ("unpackaged/objects/Widget__c.object", WIDGET),
        ("unpackaged/objects/Part__c.object", PART),
        ("unpackaged/objects/Lead.object", LEAD),
        ("unpackaged/permissionsets/Widget_Sync.permissionset", PERMS),
    ]);
    let id = deploy(&app, &package, true).await;
    let body = wait(&app, &id).await;
    assert_eq!(first(&body, "status").as_deref(), Some("Succeeded"), "{body}");
    assert_eq!(first(&body, "success").as_deref(), Some("true"));
    assert_eq!(first(&body, "numberComponentErrors").as_deref(), Some("0"));
    // 3 objects + 3 fields + 1 permission set
    assert_eq!(
        first(&body, "numberComponentsTotal").as_deref(),
        Some("7"),
        "{body}"
    );
    let successes = all(&body, "componentSuccesses");
    assert!(
        successes
            .iter()
            .any(|s| s.contains("<fullName>Widget__c.Part__c</fullName>")),
        "{body}"
    );
    assert!(
        successes
            .iter()
            .any(|s| s.contains("<componentType>PermissionSet</componentType>")),
        "{body}"
    );

    let (status, d) = app.get("sobjects/Widget__c/describe").await;
    assert_eq!(status, 200, "{d}");
    let part = app.create("Part__c", json!({"Name": "bolt"})).await;
    app.create(
        "Widget__c",
        json!({"Name": "w", "Serial__c": "S-1", "Part__c": part}),
    )
    .await;
    let (_, q) = app
        .query("SELECT Name, (SELECT Serial__c FROM Widgets__r) FROM Part__c")
        .await;
    assert_eq!(
        q["records"][0]["Widgets__r"]["records"][0]["Serial__c"],
        json!("S-1"),
        "{q}"
    );
    let (_, q) = app
        .query("SELECT Id FROM Lead WHERE Widget_Count__c = null")
        .await;
    assert_eq!(q["totalSize"], json!(0), "{q}");
    let (_, q) = app
        .query("SELECT PermissionsEdit FROM FieldPermissions WHERE Parent.Name = 'Widget_Sync'")
        .await;
    assert_eq!(q["records"][0]["PermissionsEdit"], json!(true), "{q}");

    // Deploying the same package again updates in place.
    let id = deploy(&app, &package, true).await;
    let body = wait(&app, &id).await;
    assert_eq!(first(&body, "status").as_deref(), Some("Succeeded"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deploy_with_rollback_changes_nothing() {
    let app = common::spawn().await;
    let broken = WIDGET.replace(
        "<referenceTo>Part__c</referenceTo>",
        "<referenceTo>Missing__c</referenceTo>",
    );
    let package = zip(&[("package.xml", PACKAGE), ("objects/Widget__c.object", &broken)]);
    let id = deploy(&app, &package, true).await;
    let body = wait(&app, &id).await;
    assert_eq!(first(&body, "status").as_deref(), Some("Failed"), "{body}");
    assert_eq!(first(&body, "success").as_deref(), Some("false"));
    let failures = all(&body, "componentFailures");
    assert_eq!(failures.len(), 1, "{body}");
    assert!(
        failures[0].contains("<fullName>Widget__c.Part__c</fullName>"),
        "{body}"
    );
    assert!(failures[0].contains("<problemType>Error</problemType>"), "{body}");
    let (status, _) = app.get("sobjects/Widget__c/describe").await;
    assert_eq!(status, 404, "rolled back");

    // Without rollback the good components stay.
    let id = deploy(&app, &package, false).await;
    let body = wait(&app, &id).await;
    assert_eq!(
        first(&body, "status").as_deref(),
        Some("SucceededPartial"),
        "{body}"
    );
    let (status, _) = app.get("sobjects/Widget__c/describe").await;
    assert_eq!(status, 200);

    // A package without package.xml, and a zip that is not one
    let id = deploy(&app, &zip(&[("objects/X__c.object", PART)]), true).await;
    let body = wait(&app, &id).await;
    assert_eq!(first(&body, "status").as_deref(), Some("Failed"));
    assert!(body.contains("No package.xml found"), "{body}");
    let id = deploy(&app, "bm90IGEgemlw", true).await;
    let body = wait(&app, &id).await;
    assert_eq!(first(&body, "status").as_deref(), Some("Failed"), "{body}");

    let (status, body) = call(
        &app,
        &format!("<checkDeployStatus xmlns=\"{NS}\"><asyncProcessId>0Af000000000000AAA</asyncProcessId><includeDetails>true</includeDetails></checkDeployStatus>"),
    )
    .await;
    assert_eq!(status, 500, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_packages_are_accepted() {
    // A 3 MB object file stored uncompressed: the envelope is well over axum's default 2 MB limit.
    let app = common::spawn().await;
    let big = PART.replace(
        "<label>Part</label>",
        &format!(
            "<description>{}</description><label>Part</label>",
            "d".repeat(3 * 1024 * 1024)
        ),
    );
    let package = zip_with(
        &[("package.xml", PACKAGE), ("objects/Part__c.object", &big)],
        zip::CompressionMethod::Stored,
    );
    assert!(package.len() > 4 * 1024 * 1024);
    let id = deploy(&app, &package, true).await;
    let body = wait(&app, &id).await;
    assert_eq!(
        first(&body, "status").as_deref(),
        Some("Succeeded"),
        "{}",
        &body[..body.len().min(2000)]
    );
    let (status, _) = app.get("sobjects/Part__c/describe").await;
    assert_eq!(status, 200);
}
