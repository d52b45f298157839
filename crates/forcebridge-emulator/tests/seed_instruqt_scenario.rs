//! Seed 000 (the Instruqt Salesforce integration) end to end, with raw HTTP only: the
//! administrator creates `Instruqt_Track__c` and `Instruqt_Play__c` with the fields of the seed's
//! table through the Metadata API (SOAP `createMetadata`) and the `Instruqt_Integration`
//! permission set granting them; the API-only integration user cannot write until that set is
//! assigned (a `PermissionSetAssignment` created through REST by the administrator), then writes
//! plays and tracks and reads them back through the relationships both ways.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use forcebridge_emulator::bootstrap::{
    INTEGRATION_PASSWORD, INTEGRATION_SECURITY_TOKEN, INTEGRATION_USERNAME,
};
use forcebridge_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

const NS: &str = "http://soap.sforce.com/2006/04/metadata";

/// `<fields>` of a CustomObject.
fn field(name: &str, label: &str, kind: &str, extra: &str) -> String {
    format!("<fields><fullName>{name}</fullName><label>{label}</label><type>{kind}</type>{extra}</fields>")
}

fn lookup(name: &str, label: &str, to: &str, rel: &str) -> String {
    field(
        name,
        label,
        "Lookup",
        &format!("<referenceTo>{to}</referenceTo><relationshipName>{rel}</relationshipName>"),
    )
}

fn custom_object(name: &str, label: &str, plural: &str, name_label: &str, fields: &str) -> String {
    format!(
        "<metadata xsi:type=\"CustomObject\"><fullName>{name}</fullName>\
         <deploymentStatus>Deployed</deploymentStatus>{fields}<label>{label}</label>\
         <nameField><label>{name_label}</label><type>Text</type></nameField>\
         <pluralLabel>{plural}</pluralLabel><sharingModel>ReadWrite</sharingModel></metadata>"
    )
}

fn all_object_permissions(object: &str) -> String {
    format!(
        "<objectPermissions><allowCreate>true</allowCreate><allowDelete>true</allowDelete>\
         <allowEdit>true</allowEdit><allowRead>true</allowRead><modifyAllRecords>true</modifyAllRecords>\
         <object>{object}</object><viewAllFields>true</viewAllFields><viewAllRecords>true</viewAllRecords>\
         </objectPermissions>"
    )
}

fn field_permission(field: &str, editable: bool) -> String {
    format!(
        "<fieldPermissions><editable>{editable}</editable><field>{field}</field>\
         <readable>true</readable></fieldPermissions>"
    )
}

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    async fn token(&self, token_url: &str, c: &EmulatorConfig, user: &str, password: &str) -> String {
        let resp = self
            .client
            .post(token_url)
            .form(&[
                ("grant_type", "password"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.as_str()),
                ("username", user),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn soap(&self, session: &str, operation: &str, metadata: &str) -> String {
        let envelope = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
             <soapenv:Header><SessionHeader xmlns=\"{NS}\"><sessionId>{session}</sessionId></SessionHeader>\
             </soapenv:Header><soapenv:Body><{operation} xmlns=\"{NS}\">{metadata}</{operation}>\
             </soapenv:Body></soapenv:Envelope>"
        );
        let resp = self
            .client
            .post(format!("{}/services/Soap/m/66.0", self.base))
            .header("Content-Type", "text/xml; charset=UTF-8")
            .header("SOAPAction", "\"\"")
            .body(envelope)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("<success>false</success>"), "{body}");
        body
    }

    async fn rest(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .client
            .request(method, format!("{}/services/data/v66.0/{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn query(&self, token: &str, soql: &str) -> Value {
        let resp = self
            .client
            .get(format!("{}/services/data/v66.0/query", self.base))
            .bearer_auth(token)
            .query(&[("q", soql)])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{soql}: {body}");
        body
    }

    async fn create(&self, token: &str, object: &str, body: Value) -> String {
        let (status, resp) = self
            .rest(
                token,
                reqwest::Method::POST,
                &format!("sobjects/{object}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{object}: {resp}");
        resp["id"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn seed_000_instruqt_integration_user() {
    let handle = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let c = handle.config().clone();
    let http = Http {
        client: reqwest::Client::new(),
        base: handle.base_url().to_string(),
    };
    let admin = http
        .token(
            &handle.token_url(),
            &c,
            &c.username,
            &format!("{}{}", c.password, c.security_token),
        )
        .await;
    let integration = http
        .token(
            &handle.token_url(),
            &c,
            INTEGRATION_USERNAME,
            &format!("{INTEGRATION_PASSWORD}{INTEGRATION_SECURITY_TOKEN}"),
        )
        .await;

    // 1. The custom objects of the seed's table, as the administrator.
    let track = custom_object(
        "Instruqt_Track__c",
        "Instruqt Track",
        "Instruqt Tracks",
        "Title",
        &field("Track_Slug__c", "Track Slug", "Text", "<length>255</length>"),
    );
    let play_fields = [
        lookup("Contact__c", "Contact", "Contact", "Instruqt_Plays"),
        field("Feedback__c", "Feedback", "TextArea", ""),
        lookup(
            "Instruqt_Track__c",
            "Instruqt Track",
            "Instruqt_Track__c",
            "Instruqt_Plays",
        ),
        field("Invitation_Link__c", "Invitation Link", "Url", ""),
        lookup("Lead__c", "Lead", "Lead", "Instruqt_Plays"),
        field(
            "Participant_ID__c",
            "Participant ID",
            "Text",
            "<length>15</length>",
        ),
        field(
            "Score__c",
            "Score",
            "Number",
            "<precision>1</precision><scale>0</scale>",
        ),
        field("Time_Spent__c", "Time Spent", "Text", "<length>15</length>"),
        field(
            "Time_Spent_Seconds__c",
            "Time Spent Seconds",
            "Number",
            "<precision>10</precision><scale>0</scale>",
        ),
    ]
    .concat();
    let play = custom_object(
        "Instruqt_Play__c",
        "Instruqt Play",
        "Instruqt Plays",
        "Description",
        &play_fields,
    );
    http.soap(&admin, "createMetadata", &track).await;
    http.soap(&admin, "createMetadata", &play).await;

    // 2. The permission set of the seed (post-installation form): full access to both objects
    //    and all their fields; Lead read/create/edit with Email, Phone, Title; Contact read.
    let mut grants =
        all_object_permissions("Instruqt_Play__c") + &all_object_permissions("Instruqt_Track__c");
    for f in [
        "Contact__c",
        "Feedback__c",
        "Instruqt_Track__c",
        "Invitation_Link__c",
        "Lead__c",
        "Participant_ID__c",
        "Score__c",
        "Time_Spent__c",
        "Time_Spent_Seconds__c",
    ] {
        grants += &field_permission(&format!("Instruqt_Play__c.{f}"), true);
    }
    grants += &field_permission("Instruqt_Track__c.Track_Slug__c", true);
    for f in ["Email", "Phone", "Title"] {
        grants += &field_permission(&format!("Lead.{f}"), true);
        grants += &field_permission(&format!("Contact.{f}"), false);
    }
    grants += "<objectPermissions><allowCreate>true</allowCreate><allowDelete>false</allowDelete>\
               <allowEdit>true</allowEdit><allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords>\
               <object>Lead</object><viewAllRecords>true</viewAllRecords></objectPermissions>\
               <objectPermissions><allowCreate>false</allowCreate><allowDelete>false</allowDelete>\
               <allowEdit>false</allowEdit><allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords>\
               <object>Contact</object><viewAllRecords>true</viewAllRecords></objectPermissions>";
    let permission_set = format!(
        "<metadata xsi:type=\"PermissionSet\"><fullName>Instruqt_Integration</fullName>{grants}\
         <label>Instruqt Integration</label></metadata>"
    );
    http.soap(&admin, "createMetadata", &permission_set).await;

    // 3. Without the permission set, the integration user cannot write (nor see) the objects.
    let (status, body) = http
        .rest(
            &integration,
            reqwest::Method::POST,
            "composite/sobjects",
            Some(json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Instruqt_Track__c"}, "Name": "Intro", "Track_Slug__c": "intro"}
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["success"], json!(false), "{body}");
    assert_eq!(
        body[0]["errors"][0]["statusCode"],
        json!("INVALID_TYPE"),
        "{body}"
    );
    let (status, body) = http
        .rest(
            &integration,
            reqwest::Method::POST,
            "sobjects/Lead",
            Some(json!({"LastName": "Hopper", "Company": "Navy"})),
        )
        .await;
    assert!(status == 400 || status == 404, "{status} {body}");

    // 4. The administrator assigns the permission set through REST.
    let ps = http
        .query(
            &admin,
            "SELECT Id FROM PermissionSet WHERE Name = 'Instruqt_Integration'",
        )
        .await;
    let user = http
        .query(
            &admin,
            &format!("SELECT Id FROM User WHERE Username = '{INTEGRATION_USERNAME}'"),
        )
        .await;
    http.create(
        &admin,
        "PermissionSetAssignment",
        json!({
            "PermissionSetId": ps["records"][0]["Id"],
            "AssigneeId": user["records"][0]["Id"],
        }),
    )
    .await;
    let assigned = http
        .query(
            &admin,
            &format!(
                "SELECT PermissionSet.Name FROM PermissionSetAssignment WHERE Assignee.Username = '{INTEGRATION_USERNAME}'"
            ),
        )
        .await;
    assert_eq!(
        assigned["records"][0]["PermissionSet"]["Name"],
        json!("Instruqt_Integration"),
        "{assigned}"
    );

    // 5. Now the integration user writes what the integration writes — within the fields the
    //    permission set grants (FirstName is not among them).
    let (status, body) = http
        .rest(
            &integration,
            reqwest::Method::POST,
            "sobjects/Lead",
            Some(json!({"LastName": "Hopper", "FirstName": "Grace", "Company": "Navy"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body[0]["errorCode"],
        json!("INVALID_FIELD_FOR_INSERT_UPDATE"),
        "{body}"
    );
    assert_eq!(body[0]["fields"], json!(["FirstName"]), "{body}");
    let lead = http
        .create(
            &integration,
            "Lead",
            json!({"LastName": "Hopper", "Company": "Navy", "Email": "grace@example.com"}),
        )
        .await;
    let track_id = http
        .create(
            &integration,
            "Instruqt_Track__c",
            json!({"Name": "Intro to Kubernetes", "Track_Slug__c": "intro-k8s"}),
        )
        .await;
    http.create(
        &integration,
        "Instruqt_Play__c",
        json!({
            "Name": "Play 1", "Instruqt_Track__c": track_id, "Lead__c": lead, "Score__c": 9,
            "Time_Spent__c": "00:12:30", "Time_Spent_Seconds__c": 750, "Participant_ID__c": "p-123",
            "Invitation_Link__c": "https://play.instruqt.com/invite/abc", "Feedback__c": "Great",
        }),
    )
    .await;
    http.create(
        &integration,
        "Instruqt_Play__c",
        json!({"Name": "Play 2", "Instruqt_Track__c": track_id, "Lead__c": lead, "Score__c": 7}),
    )
    .await;
    // Contact is read-only for it.
    let (status, body) = http
        .rest(
            &integration,
            reqwest::Method::POST,
            "sobjects/Contact",
            Some(json!({"LastName": "Turing"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body[0]["errorCode"],
        json!("INSUFFICIENT_ACCESS_OR_READONLY"),
        "{body}"
    );

    // 6. Read back through the relationships, as the integration user.
    let plays = http
        .query(
            &integration,
            "SELECT Name, Score__c, Instruqt_Track__r.Name, Lead__r.Email FROM Instruqt_Play__c ORDER BY Name",
        )
        .await;
    assert_eq!(plays["totalSize"], json!(2), "{plays}");
    let first = &plays["records"][0];
    assert_eq!(first["Instruqt_Track__r"]["Name"], json!("Intro to Kubernetes"));
    assert_eq!(first["Lead__r"]["Email"], json!("grace@example.com"));
    assert_eq!(first["Score__c"], json!(9.0));

    let tracks = http
        .query(
            &integration,
            "SELECT Name, Track_Slug__c, (SELECT Name, Score__c FROM Instruqt_Plays__r ORDER BY Name) \
             FROM Instruqt_Track__c",
        )
        .await;
    let children = &tracks["records"][0]["Instruqt_Plays__r"];
    assert_eq!(children["totalSize"], json!(2), "{tracks}");
    assert_eq!(children["records"][1]["Name"], json!("Play 2"));
}
