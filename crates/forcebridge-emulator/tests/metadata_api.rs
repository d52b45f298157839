//! The Metadata API over real HTTP: custom objects and fields of every supported type become real
//! schema (describe, REST, SOQL with `__r` both ways, Collections, upsert, validation), CRUD calls
//! and their per-component errors, faults, permission sets stored as records.

mod common;
mod metadata_common;

use metadata_common::{
    all, assert_all_success, call, call_as, create_fields, custom_object, field, fields, first,
};
use serde_json::{Value, json};

/// Every supported field type on one object, with lookups to Lead and to itself.
fn gadget() -> String {
    let picklist = |restricted: bool| {
        format!(
            "<valueSet><restricted>{restricted}</restricted><valueSetDefinition><sorted>false</sorted>\
             <value><fullName>Red</fullName><default>true</default><label>Red</label></value>\
             <value><fullName>Blue</fullName><default>false</default><label>Blue</label></value>\
             </valueSetDefinition></valueSet>"
        )
    };
    custom_object(
        "Gadget__c",
        "Gadget",
        "Gadgets",
        "Gadget Name",
        &fields(&[
            field(
                "Code__c",
                "Code",
                "Text",
                "<length>20</length><externalId>true</externalId><unique>true</unique>",
            ),
            field("Summary__c", "Summary", "TextArea", ""),
            field(
                "Notes__c",
                "Notes",
                "LongTextArea",
                "<length>32768</length><visibleLines>5</visibleLines>",
            ),
            field("Site__c", "Site", "Url", ""),
            field("Contact_Email__c", "Contact Email", "Email", ""),
            field("Hotline__c", "Hotline", "Phone", ""),
            field(
                "Weight__c",
                "Weight",
                "Number",
                "<precision>5</precision><scale>2</scale>",
            ),
            field(
                "Price__c",
                "Price",
                "Currency",
                "<precision>10</precision><scale>2</scale>",
            ),
            field(
                "Discount__c",
                "Discount",
                "Percent",
                "<precision>5</precision><scale>1</scale>",
            ),
            field(
                "Active__c",
                "Active",
                "Checkbox",
                "<defaultValue>true</defaultValue>",
            ),
            field("Launch__c", "Launch", "Date", ""),
            field("Seen_At__c", "Seen At", "DateTime", ""),
            field("Color__c", "Color", "Picklist", &picklist(true)),
            field("Shade__c", "Shade", "Picklist", &picklist(false)),
            field(
                "Lead__c",
                "Lead",
                "Lookup",
                "<referenceTo>Lead</referenceTo><relationshipName>Gadgets</relationshipName><deleteConstraint>SetNull</deleteConstraint>",
            ),
            field(
                "Parent__c",
                "Parent Gadget",
                "Lookup",
                "<referenceTo>Gadget__c</referenceTo><relationshipName>Children</relationshipName>",
            ),
        ]),
    )
}

#[tokio::test]
async fn custom_object_with_every_field_type_is_real_schema() {
    let app = common::spawn().await;
    let (status, body) = call(&app, &gadget()).await;
    assert_all_success(status, &body);
    assert_eq!(first(&body, "fullName").as_deref(), Some("Gadget__c"));

    // describe
    let (status, d) = app.get("sobjects/Gadget__c/describe").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["custom"], json!(true));
    assert_eq!(d["keyPrefix"], json!("a00"));
    assert_eq!(d["label"], json!("Gadget"));
    let f = |name: &str| -> Value {
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("no field {name} in describe"))
    };
    for standard in [
        "Id",
        "OwnerId",
        "IsDeleted",
        "Name",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "LastViewedDate",
        "LastReferencedDate",
    ] {
        f(standard);
    }
    assert_eq!(f("Name")["label"], json!("Gadget Name"));
    assert_eq!(f("Name")["length"], json!(80));
    assert_eq!(f("Name")["nameField"], json!(true));
    assert_eq!(f("Code__c")["type"], json!("string"));
    assert_eq!(f("Code__c")["externalId"], json!(true));
    assert_eq!(f("Code__c")["unique"], json!(true));
    assert_eq!(f("Code__c")["custom"], json!(true));
    assert_eq!(f("Summary__c")["type"], json!("textarea"));
    assert_eq!(f("Summary__c")["length"], json!(255));
    assert_eq!(f("Notes__c")["length"], json!(32768));
    assert_eq!(f("Notes__c")["filterable"], json!(false));
    assert_eq!(f("Site__c")["type"], json!("url"));
    assert_eq!(f("Contact_Email__c")["type"], json!("email"));
    assert_eq!(f("Hotline__c")["type"], json!("phone"));
    assert_eq!(f("Weight__c")["type"], json!("double"));
    assert_eq!(f("Weight__c")["precision"], json!(5));
    assert_eq!(f("Weight__c")["scale"], json!(2));
    assert_eq!(f("Price__c")["type"], json!("currency"));
    assert_eq!(f("Discount__c")["type"], json!("percent"));
    assert_eq!(f("Active__c")["type"], json!("boolean"));
    assert_eq!(f("Launch__c")["type"], json!("date"));
    assert_eq!(f("Seen_At__c")["type"], json!("datetime"));
    assert_eq!(f("Color__c")["type"], json!("picklist"));
    assert_eq!(f("Color__c")["restrictedPicklist"], json!(true));
    assert_eq!(f("Shade__c")["restrictedPicklist"], json!(false));
    assert_eq!(f("Color__c")["picklistValues"].as_array().unwrap().len(), 2);
    assert_eq!(f("Lead__c")["type"], json!("reference"));
    assert_eq!(f("Lead__c")["referenceTo"], json!(["Lead"]));
    assert_eq!(f("Lead__c")["relationshipName"], json!("Lead__r"));
    assert_eq!(f("Parent__c")["referenceTo"], json!(["Gadget__c"]));
    let (_, lead_d) = app.get("sobjects/Lead/describe").await;
    let rel = lead_d["childRelationships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relationshipName"] == json!("Gadgets__r"))
        .cloned()
        .expect("Lead.Gadgets__r");
    assert_eq!(rel["childSObject"], json!("Gadget__c"));
    assert_eq!(rel["field"], json!("Lead__c"));
    let (_, global) = app.get("sobjects").await;
    assert!(
        global["sobjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == json!("Gadget__c")),
        "global describe lists the new object"
    );

    // REST create / read
    let lead = app
        .create("Lead", json!({"LastName": "Lovelace", "Company": "Engines"}))
        .await;
    let parent = app
        .create(
            "Gadget__c",
            json!({"Name": "Mother", "Code__c": "G-0", "Lead__c": lead}),
        )
        .await;
    assert!(
        parent.starts_with("a00"),
        "custom ids use the key prefix: {parent}"
    );
    let child = app
        .create(
            "Gadget__c",
            json!({
                "Name": "Daughter", "Code__c": "G-1", "Summary__c": "short", "Notes__c": "x".repeat(1000),
                "Site__c": "https://example.com", "Contact_Email__c": "a@example.com", "Hotline__c": "+1 555",
                "Weight__c": 123.456, "Price__c": 10.5, "Discount__c": 12.5, "Launch__c": "2026-11-21",
                "Seen_At__c": "2026-11-21T10:00:00Z", "Color__c": "Blue", "Shade__c": "Mauve",
                "Lead__c": lead, "Parent__c": parent,
            }),
        )
        .await;
    let (status, rec) = app.get(&format!("sobjects/Gadget__c/{child}")).await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["Weight__c"], json!(123.46), "rounded to the scale");
    assert_eq!(rec["Active__c"], json!(true), "checkbox default");
    assert_eq!(
        rec["Shade__c"],
        json!("Mauve"),
        "unrestricted picklists take any value"
    );
    assert_eq!(rec["Seen_At__c"], json!("2026-11-21T10:00:00.000+0000"));
    assert_eq!(rec["attributes"]["type"], json!("Gadget__c"));
    let (_, mother) = app.get(&format!("sobjects/Gadget__c/{parent}")).await;
    assert_eq!(mother["Color__c"], json!("Red"), "picklist default");

    // SOQL: parent paths and child subqueries through the new relationships
    let (status, q) = app
        .query("SELECT Name, Lead__r.LastName, Parent__r.Name, Parent__r.Lead__r.Company FROM Gadget__c WHERE Code__c = 'G-1'")
        .await;
    assert_eq!(status, 200, "{q}");
    let row = &q["records"][0];
    assert_eq!(row["Lead__r"]["LastName"], json!("Lovelace"));
    assert_eq!(row["Parent__r"]["Name"], json!("Mother"));
    assert_eq!(row["Parent__r"]["Lead__r"]["Company"], json!("Engines"));
    let (status, q) = app
        .query(
            "SELECT LastName, (SELECT Name FROM Gadgets__r ORDER BY Name) FROM Lead WHERE Id = '__ID__'"
                .replace("__ID__", &lead)
                .as_str(),
        )
        .await;
    assert_eq!(status, 200, "{q}");
    let names: Vec<&str> = q["records"][0]["Gadgets__r"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Daughter", "Mother"]);
    let (_, q) = app
        .query("SELECT Name, (SELECT Name FROM Children__r) FROM Gadget__c WHERE Parent__c = null")
        .await;
    assert_eq!(q["records"][0]["Children__r"]["totalSize"], json!(1), "{q}");

    // Validation as for standard fields
    let bad = |body: Value| {
        let app = &app;
        async move {
            let (status, e) = app.post("sobjects/Gadget__c", body).await;
            assert_eq!(status, 400, "{e}");
            e[0]["errorCode"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(bad(json!({"Name": "n".repeat(81)})).await, "STRING_TOO_LONG");
    assert_eq!(bad(json!({"Code__c": "c".repeat(21)})).await, "STRING_TOO_LONG");
    assert_eq!(
        bad(json!({"Color__c": "Green"})).await,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(
        bad(json!({"Weight__c": 1000})).await,
        "NUMBER_OUTSIDE_VALID_RANGE"
    );
    assert_eq!(
        bad(json!({"Contact_Email__c": "nope"})).await,
        "INVALID_EMAIL_ADDRESS"
    );
    assert_eq!(bad(json!({"Lead__c": parent})).await, "FIELD_INTEGRITY_EXCEPTION");
    assert_eq!(bad(json!({"Code__c": "G-1"})).await, "DUPLICATE_VALUE");
    assert_eq!(bad(json!({"Nope__c": 1})).await, "INVALID_FIELD");

    // Collections and upsert by the external id
    let (status, res) = app
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Gadget__c"}, "Name": "C1", "Code__c": "C-1"},
                {"attributes": {"type": "Gadget__c"}, "Name": "C2", "Code__c": "C-2", "Parent__c": parent},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert!(
        res.as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == json!(true)),
        "{res}"
    );
    let (status, up) = app
        .patch("sobjects/Gadget__c/Code__c/C-1", json!({"Name": "C1 renamed"}))
        .await;
    assert!(status == 200 || status == 204, "{status} {up}");
    let (_, q) = app
        .query("SELECT Name FROM Gadget__c WHERE Code__c = 'C-1'")
        .await;
    assert_eq!(q["records"][0]["Name"], json!("C1 renamed"));
    let (status, _) = app
        .patch("sobjects/Gadget__c/Code__c/C-3", json!({"Name": "C3"}))
        .await;
    assert_eq!(status, 201);

    // Composite with a reference to a new record
    let (status, res) = app
        .post(
            "composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v66.0/sobjects/Gadget__c", "referenceId": "g",
                 "body": {"Name": "Comp", "Code__c": "K-1"}},
                {"method": "GET", "url": "/services/data/v66.0/sobjects/Gadget__c/@{g.id}", "referenceId": "r"},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["compositeResponse"][1]["body"]["Code__c"],
        json!("K-1"),
        "{res}"
    );
}

#[tokio::test]
async fn per_component_errors_and_faults() {
    let app = common::spawn().await;
    let (status, body) = call(
        &app,
        &custom_object(
            "Thing__c",
            "Thing",
            "Things",
            "Thing Name",
            &fields(&[field("Size__c", "Size", "Text", "<length>10</length>")]),
        ),
    )
    .await;
    assert_all_success(status, &body);

    let (status, body) = call(
        &app,
        &create_fields(&[
            field("Thing__c.Size__c", "Size again", "Text", "<length>10</length>"),
            field("Thing__c.Long__c", "Long", "Text", "<length>256</length>"),
            field(
                "Thing__c.Ref__c",
                "Ref",
                "Lookup",
                "<referenceTo>Nope__c</referenceTo><relationshipName>Refs</relationshipName>",
            ),
            field("Thing__c.Odd__c", "Odd", "Hologram", ""),
            field(
                "Thing__c.Num__c",
                "Num",
                "Number",
                "<precision>4</precision><scale>6</scale>",
            ),
            field("Thing__c.Ok__c", "Ok", "Text", "<length>5</length>"),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let codes = all(&body, "statusCode");
    assert_eq!(
        codes,
        [
            "DUPLICATE_DEVELOPER_NAME",
            "FIELD_INTEGRITY_EXCEPTION",
            "FIELD_INTEGRITY_EXCEPTION",
            "FIELD_INTEGRITY_EXCEPTION",
            "FIELD_INTEGRITY_EXCEPTION",
        ],
        "{body}"
    );
    assert_eq!(
        all(&body, "success"),
        ["false", "false", "false", "false", "false", "true"]
    );
    assert_eq!(all(&body, "fullName")[0], "Thing__c.Size__c");

    // The object itself: taken name, missing label
    let (_, body) = call(&app, &custom_object("Thing__c", "Thing", "Things", "N", "")).await;
    assert_eq!(
        first(&body, "statusCode").as_deref(),
        Some("DUPLICATE_DEVELOPER_NAME"),
        "{body}"
    );
    let (_, body) = call(&app, &custom_object("Other__c", "", "Others", "N", "")).await;
    assert_eq!(
        first(&body, "statusCode").as_deref(),
        Some("REQUIRED_FIELD_MISSING"),
        "{body}"
    );
    let (_, body) = call(&app, &custom_object("Bad__Name__c", "B", "Bs", "N", "")).await;
    assert_eq!(first(&body, "success").as_deref(), Some("false"), "{body}");

    // A failed object creates nothing, not even its valid fields
    let (_, body) = call(
        &app,
        &custom_object(
            "Half__c",
            "Half",
            "Halves",
            "N",
            &fields(&[
                field("Good__c", "Good", "Text", "<length>5</length>"),
                field("Bad__c", "Bad", "Text", ""),
            ]),
        ),
    )
    .await;
    assert_eq!(
        first(&body, "statusCode").as_deref(),
        Some("REQUIRED_FIELD_MISSING"),
        "{body}"
    );
    let (status, _) = app.get("sobjects/Half__c/describe").await;
    assert_eq!(status, 404);

    // Faults
    let (status, body) = call_as(&app, "not-a-session", "<listMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><queries><type>CustomObject</type></queries><asOfVersion>66.0</asOfVersion></listMetadata>").await;
    assert_eq!(status, 500);
    assert!(
        body.contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>"),
        "{body}"
    );
    let (status, body) = call(&app, "<readMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>Hologram</type><fullNames>X</fullNames></readMetadata>").await;
    assert_eq!(status, 500);
    assert!(body.contains("<faultcode>sf:INVALID_TYPE</faultcode>"), "{body}");
    let (status, body) = call(&app, "<fly xmlns=\"http://soap.sforce.com/2006/04/metadata\"/>").await;
    assert_eq!(status, 500, "{body}");
    let resp = app
        .client
        .post(format!("{}/services/Soap/m/66.0", app.base))
        .body("<not xml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
}

#[tokio::test]
async fn fields_added_to_existing_objects_keep_their_records() {
    let app = common::spawn().await;
    let (status, body) = call(&app, &custom_object("Box__c", "Box", "Boxes", "Box Name", "")).await;
    assert_all_success(status, &body);
    let b = app.create("Box__c", json!({"Name": "first"})).await;
    let lead = app
        .create("Lead", json!({"LastName": "Kept", "Company": "Co"}))
        .await;
    let (status, body) = call(
        &app,
        &create_fields(&[
            field(
                "Box__c.Size__c",
                "Size",
                "Number",
                "<precision>3</precision><scale>0</scale>",
            ),
            field(
                "Box__c.Sealed__c",
                "Sealed",
                "Checkbox",
                "<defaultValue>false</defaultValue>",
            ),
            field(
                "Lead.Box__c",
                "Box",
                "Lookup",
                "<referenceTo>Box__c</referenceTo><relationshipName>Leads</relationshipName>",
            ),
        ]),
    )
    .await;
    assert_all_success(status, &body);
    let (status, rec) = app.get(&format!("sobjects/Box__c/{b}")).await;
    assert_eq!(status, 200);
    assert_eq!(rec["Name"], json!("first"));
    assert_eq!(rec["Size__c"], Value::Null);
    assert_eq!(rec["Sealed__c"], json!(false));
    let (status, _) = app
        .patch(&format!("sobjects/Lead/{lead}"), json!({"Box__c": b}))
        .await;
    assert_eq!(status, 204);
    let (_, q) = app
        .query("SELECT Name, (SELECT LastName FROM Leads__r) FROM Box__c")
        .await;
    assert_eq!(
        q["records"][0]["Leads__r"]["records"][0]["LastName"],
        json!("Kept"),
        "{q}"
    );
    let (_, q) = app
        .query("SELECT LastName, Box__r.Name FROM Lead WHERE Box__c != null")
        .await;
    assert_eq!(q["records"][0]["Box__r"]["Name"], json!("first"), "{q}");
    // A referenced object cannot be deleted.
    let (_, body) = call(&app, "<deleteMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>CustomObject</type><fullNames>Box__c</fullNames></deleteMetadata>").await;
    assert_eq!(first(&body, "success").as_deref(), Some("false"), "{body}");
}

#[tokio::test]
async fn read_list_update_upsert_delete() {
    let app = common::spawn().await;
    let (status, body) = call(
        &app,
        &custom_object(
            "Crate__c",
            "Crate",
            "Crates",
            "Crate Name",
            &fields(&[field("Label__c", "Label", "Text", "<length>30</length>")]),
        ),
    )
    .await;
    assert_all_success(status, &body);

    let (status, body) = call(&app, "<readMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>CustomObject</type><fullNames>Crate__c</fullNames><fullNames>Missing__c</fullNames></readMetadata>").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<records xsi:type=\"CustomObject\"><fullName>Crate__c</fullName>"),
        "{body}"
    );
    assert!(body.contains("<fields><fullName>Label__c</fullName>"), "{body}");
    assert_eq!(first(&body, "pluralLabel").as_deref(), Some("Crates"));
    assert_eq!(
        body.matches("<records ").count(),
        1,
        "missing names have no record: {body}"
    );

    let (_, body) = call(&app, "<readMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>CustomField</type><fullNames>Crate__c.Label__c</fullNames></readMetadata>").await;
    assert!(
        body.contains("<records xsi:type=\"CustomField\"><fullName>Crate__c.Label__c</fullName>"),
        "{body}"
    );
    assert_eq!(first(&body, "length").as_deref(), Some("30"));

    let (_, body) = call(&app, "<listMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><queries><type>CustomObject</type></queries><queries><type>CustomField</type></queries><asOfVersion>66.0</asOfVersion></listMetadata>").await;
    let names = all(&body, "fullName");
    assert!(names.contains(&"Crate__c".to_string()), "{body}");
    assert!(names.contains(&"Crate__c.Label__c".to_string()), "{body}");
    assert_eq!(
        first(&body, "fileName").as_deref(),
        Some("objects/Crate__c.object")
    );
    assert!(first(&body, "id").unwrap().starts_with("01I"), "{body}");
    assert!(
        !first(&body, "createdByName").unwrap_or_default().is_empty(),
        "the creator's name is filled in: {body}"
    );

    // update: longer field and a new label
    let (status, body) = call(&app, "<updateMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><metadata xsi:type=\"CustomField\"><fullName>Crate__c.Label__c</fullName><label>Sticker</label><length>60</length><type>Text</type></metadata></updateMetadata>").await;
    assert_all_success(status, &body);
    let (_, d) = app.get("sobjects/Crate__c/describe").await;
    let f = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == json!("Label__c"))
        .unwrap()
        .clone();
    assert_eq!(f["label"], json!("Sticker"));
    assert_eq!(f["length"], json!(60));
    let (_, body) = call(&app, "<updateMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><metadata xsi:type=\"CustomField\"><fullName>Crate__c.Nope__c</fullName><label>N</label><length>6</length><type>Text</type></metadata></updateMetadata>").await;
    assert_eq!(first(&body, "success").as_deref(), Some("false"));

    // upsert: created, then updated
    let upsert = |label: &str| {
        format!(
            "<upsertMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><metadata xsi:type=\"CustomField\"><fullName>Crate__c.Weight__c</fullName><label>{label}</label><precision>6</precision><scale>1</scale><type>Number</type></metadata></upsertMetadata>"
        )
    };
    let (_, body) = call(&app, &upsert("Weight")).await;
    assert_eq!(first(&body, "created").as_deref(), Some("true"), "{body}");
    assert_eq!(first(&body, "success").as_deref(), Some("true"), "{body}");
    let (_, body) = call(&app, &upsert("Mass")).await;
    assert_eq!(first(&body, "created").as_deref(), Some("false"), "{body}");
    let c = app
        .create(
            "Crate__c",
            json!({"Name": "c", "Weight__c": 12.34, "Label__c": "x"}),
        )
        .await;

    // delete the field: its values go, the record stays
    let (_, body) = call(&app, "<deleteMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>CustomField</type><fullNames>Crate__c.Weight__c</fullNames></deleteMetadata>").await;
    assert_all_success(200, &body);
    let (status, rec) = app.get(&format!("sobjects/Crate__c/{c}")).await;
    assert_eq!(status, 200);
    assert!(rec.get("Weight__c").is_none(), "{rec}");
    let (status, q) = app.query("SELECT Weight__c FROM Crate__c").await;
    assert_eq!(status, 400, "{q}");

    // delete the object
    let (_, body) = call(&app, "<deleteMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>CustomObject</type><fullNames>Crate__c</fullNames><fullNames>Gone__c</fullNames></deleteMetadata>").await;
    assert_eq!(all(&body, "success"), ["true", "false"], "{body}");
    let (status, _) = app.get("sobjects/Crate__c/describe").await;
    assert_eq!(status, 404);
    let (_, body) = call(&app, "<listMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><queries><type>CustomField</type></queries><asOfVersion>66.0</asOfVersion></listMetadata>").await;
    assert!(!body.contains("Crate__c"), "{body}");
}

#[tokio::test]
async fn permission_sets_are_stored_as_records() {
    let app = common::spawn().await;
    let (status, body) = call(
        &app,
        &custom_object(
            "Vault__c",
            "Vault",
            "Vaults",
            "Vault Name",
            &fields(&[field("Code__c", "Code", "Text", "<length>9</length>")]),
        ),
    )
    .await;
    assert_all_success(status, &body);
    let ps = "<createMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><metadata xsi:type=\"PermissionSet\">\
        <fullName>Vault_Access</fullName><description>Sync user</description>\
        <fieldPermissions><editable>true</editable><field>Vault__c.Code__c</field><readable>true</readable></fieldPermissions>\
        <fieldPermissions><editable>false</editable><field>Lead.Email</field><readable>true</readable></fieldPermissions>\
        <label>Vault Access</label>\
        <objectPermissions><allowCreate>true</allowCreate><allowDelete>false</allowDelete><allowEdit>true</allowEdit><allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords><object>Vault__c</object><viewAllRecords>false</viewAllRecords></objectPermissions>\
        <userPermissions><enabled>true</enabled><name>ApiEnabled</name></userPermissions>\
        </metadata></createMetadata>";
    let (status, body) = call(&app, ps).await;
    assert_all_success(status, &body);
    let (_, body) = call(&app, ps).await;
    assert_eq!(
        first(&body, "statusCode").as_deref(),
        Some("DUPLICATE_DEVELOPER_NAME"),
        "{body}"
    );

    let (status, q) = app
        .query("SELECT SobjectType, PermissionsCreate, PermissionsRead, PermissionsDelete FROM ObjectPermissions WHERE Parent.Name = 'Vault_Access'")
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["totalSize"], json!(1));
    assert_eq!(q["records"][0]["SobjectType"], json!("Vault__c"));
    assert_eq!(q["records"][0]["PermissionsCreate"], json!(true));
    assert_eq!(q["records"][0]["PermissionsDelete"], json!(false));
    let (_, q) = app
        .query("SELECT Label, PermissionsApiEnabled, (SELECT Field, PermissionsEdit FROM FieldPerms ORDER BY Field) FROM PermissionSet WHERE Name = 'Vault_Access'")
        .await;
    assert_eq!(q["records"][0]["Label"], json!("Vault Access"), "{q}");
    assert_eq!(q["records"][0]["PermissionsApiEnabled"], json!(true));
    let perms = &q["records"][0]["FieldPerms"]["records"];
    assert_eq!(perms[0]["Field"], json!("Lead.Email"));
    assert_eq!(perms[1]["Field"], json!("Vault__c.Code__c"));
    assert_eq!(perms[1]["PermissionsEdit"], json!(true));

    let (_, body) = call(&app, "<readMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>PermissionSet</type><fullNames>Vault_Access</fullNames></readMetadata>").await;
    assert!(
        body.contains("<records xsi:type=\"PermissionSet\"><fullName>Vault_Access</fullName>"),
        "{body}"
    );
    assert!(body.contains("<object>Vault__c</object>"), "{body}");
    assert!(body.contains("<field>Vault__c.Code__c</field>"), "{body}");

    // upsert adds a permission; an unknown field is refused
    let (_, body) = call(&app, "<upsertMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><metadata xsi:type=\"PermissionSet\"><fullName>Vault_Access</fullName><label>Vault Access</label><objectPermissions><allowCreate>false</allowCreate><allowDelete>false</allowDelete><allowEdit>false</allowEdit><allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords><object>Lead</object><viewAllRecords>false</viewAllRecords></objectPermissions></metadata></upsertMetadata>").await;
    assert_eq!(first(&body, "created").as_deref(), Some("false"), "{body}");
    let (_, q) = app
        .query("SELECT COUNT() FROM ObjectPermissions WHERE Parent.Name = 'Vault_Access'")
        .await;
    assert_eq!(q["totalSize"], json!(2), "{q}");
    let (_, body) = call(&app, "<updateMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><metadata xsi:type=\"PermissionSet\"><fullName>Vault_Access</fullName><label>V</label><fieldPermissions><editable>true</editable><field>Vault__c.Nope__c</field></fieldPermissions></metadata></updateMetadata>").await;
    assert_eq!(
        first(&body, "statusCode").as_deref(),
        Some("INVALID_CROSS_REFERENCE_KEY"),
        "{body}"
    );

    let (_, body) = call(&app, "<listMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><queries><type>PermissionSet</type></queries><asOfVersion>66.0</asOfVersion></listMetadata>").await;
    assert_eq!(
        first(&body, "fileName").as_deref(),
        Some("permissionsets/Vault_Access.permissionset"),
        "{body}"
    );

    let (_, body) = call(&app, "<deleteMetadata xmlns=\"http://soap.sforce.com/2006/04/metadata\"><type>PermissionSet</type><fullNames>Vault_Access</fullNames></deleteMetadata>").await;
    assert_all_success(200, &body);
    // Its permissions go with it (profiles' own permission sets, if any, stay).
    let (_, q) = app
        .query("SELECT COUNT() FROM ObjectPermissions WHERE SobjectType = 'Vault__c'")
        .await;
    assert_eq!(q["totalSize"], json!(0), "{q}");
    let (_, q) = app
        .query("SELECT COUNT() FROM PermissionSet WHERE Name = 'Vault_Access'")
        .await;
    assert_eq!(q["totalSize"], json!(0), "{q}");
}
