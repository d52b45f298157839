//! Metadata API `retrieve` / `checkRetrieveStatus` / `describeMetadata` over real HTTP: what was
//! created comes back as a zip in the layout `sf project retrieve` reads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

mod common;
mod metadata_common;

use std::io::Read;

use base64::Engine;
use metadata_common::{
    NS, all, assert_all_success, call, create_fields, custom_object, field, fields, first,
};

fn unzip(b64: &str) -> Vec<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .expect("base64 zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        let mut text = String::new();
        f.read_to_string(&mut text).expect("text");
        out.push((f.name().expect("entry name").to_string(), text));
    }
    out.sort();
    out
}

fn retrieve(types: &str, single: bool) -> String {
    format!(
        "<retrieve xmlns=\"{NS}\"><retrieveRequest><apiVersion>66.0</apiVersion>\
         <singlePackage>{single}</singlePackage><unpackaged>{types}<version>66.0</version></unpackaged>\
         </retrieveRequest></retrieve>"
    )
}

#[tokio::test]
async fn retrieve_returns_what_was_created_as_a_package() {
    let app = common::spawn().await;
    let (status, body) = call(
        &app,
        &custom_object(
            "Widget__c",
            "Widget",
            "Widgets",
            "Widget Name",
            &fields(&[field("Serial__c", "Serial", "Text", "<length>40</length>")]),
        ),
    )
    .await;
    assert_all_success(status, &body);
    let (status, body) = call(
        &app,
        &create_fields(&[field("Account.Tier__c", "Tier", "Text", "<length>20</length>")]),
    )
    .await;
    assert_all_success(status, &body);

    let (status, body) = call(
        &app,
        &retrieve(
            "<types><members>*</members><name>CustomObject</name></types>\
             <types><members>Account.Tier__c</members><name>CustomField</name></types>\
             <types><members>Nope__c</members><name>CustomObject</name></types>",
            false,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first(&body, "state").as_deref(), Some("Queued"));
    let id = first(&body, "id").unwrap();
    assert!(id.starts_with("09S"), "{id}");

    let (status, body) = call(
        &app,
        &format!("<checkRetrieveStatus xmlns=\"{NS}\"><asyncProcessId>{id}</asyncProcessId><includeZip>true</includeZip></checkRetrieveStatus>"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first(&body, "done").as_deref(), Some("true"));
    assert_eq!(first(&body, "status").as_deref(), Some("Succeeded"));
    let names = all(&body, "fileName");
    assert!(
        names.contains(&"unpackaged/objects/Widget__c.object".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"unpackaged/objects/Account.object".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"unpackaged/package.xml".to_string()), "{names:?}");
    assert!(first(&body, "problem").unwrap().contains("Nope__c"), "{body}");

    let files = unzip(&first(&body, "zipFile").unwrap());
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "unpackaged/objects/Account.object",
            "unpackaged/objects/Widget__c.object",
            "unpackaged/package.xml"
        ]
    );
    let widget = &files[1].1;
    assert!(
        widget.contains(&format!("<CustomObject xmlns=\"{NS}\">")),
        "{widget}"
    );
    assert!(
        widget.contains("<fields><fullName>Serial__c</fullName>"),
        "{widget}"
    );
    assert!(widget.contains("<label>Widget</label>"), "{widget}");
    let account = &files[0].1;
    assert!(account.contains("<fullName>Tier__c</fullName>"), "{account}");
    assert!(files[2].1.contains("<name>CustomObject</name>"), "{}", files[2].1);

    // singlePackage: no unpackaged/ folder.
    let (_, body) = call(
        &app,
        &retrieve(
            "<types><members>Widget__c</members><name>CustomObject</name></types>",
            true,
        ),
    )
    .await;
    let id = first(&body, "id").unwrap();
    let (_, body) = call(
        &app,
        &format!(
            "<checkRetrieveStatus xmlns=\"{NS}\"><asyncProcessId>{id}</asyncProcessId></checkRetrieveStatus>"
        ),
    )
    .await;
    let files = unzip(&first(&body, "zipFile").unwrap());
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["objects/Widget__c.object", "package.xml"]);

    // An unknown id is a fault.
    let (status, body) = call(
        &app,
        &format!("<checkRetrieveStatus xmlns=\"{NS}\"><asyncProcessId>09S000000000000AAA</asyncProcessId></checkRetrieveStatus>"),
    )
    .await;
    assert_eq!(status, 500, "{body}");
}

#[tokio::test]
async fn describe_metadata_names_the_types_served() {
    let app = common::spawn().await;
    let (status, body) = call(
        &app,
        &format!("<describeMetadata xmlns=\"{NS}\"><asOfVersion>66.0</asOfVersion></describeMetadata>"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names = all(&body, "xmlName");
    assert_eq!(names, ["CustomObject", "PermissionSet"]);
    assert_eq!(all(&body, "directoryName"), ["objects", "permissionsets"]);
    assert_eq!(all(&body, "childXmlNames"), ["CustomField"]);
    // listMetadata, for the same types.
    let (status, body) = call(
        &app,
        &format!("<listMetadata xmlns=\"{NS}\"><queries><type>PermissionSet</type></queries><asOfVersion>66.0</asOfVersion></listMetadata>"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
