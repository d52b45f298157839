//! Permissions as Salesforce enforces them, over real HTTP: the API-only integration user
//! (profile "Minimum Access - API Only Integrations") can do nothing with Lead until a permission
//! set granting it is assigned; field-level security hides fields from describe and SOQL and
//! refuses writes to them; the administrator is unaffected; the Metadata API refuses the
//! integration user.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use forcebridge_emulator::bootstrap::{
    INTEGRATION_PASSWORD, INTEGRATION_SECURITY_TOKEN, INTEGRATION_USERNAME,
};
use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use reqwest::Method;
use serde_json::{Value, json};

const V: &str = "v66.0";
const NS: &str = "http://soap.sforce.com/2006/04/metadata";

struct Org {
    _handle: EmulatorHandle,
    client: reqwest::Client,
    base: String,
    admin: String,
    integration: String,
}

async fn token(handle: &EmulatorHandle, client: &reqwest::Client, user: &str, password: &str) -> String {
    let c = handle.config();
    let resp = client
        .post(handle.token_url())
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
    assert_eq!(resp.status(), 200, "password grant for {user}");
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn start() -> Org {
    let handle = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let c = handle.config().clone();
    let admin = token(
        &handle,
        &client,
        &c.username,
        &format!("{}{}", c.password, c.security_token),
    )
    .await;
    let integration = token(
        &handle,
        &client,
        INTEGRATION_USERNAME,
        &format!("{INTEGRATION_PASSWORD}{INTEGRATION_SECURITY_TOKEN}"),
    )
    .await;
    Org {
        base: handle.base_url().to_string(),
        _handle: handle,
        client,
        admin,
        integration,
    }
}

impl Org {
    async fn send(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .client
            .request(method, format!("{}/services/data/{V}/{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn query(&self, token: &str, soql: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}/services/data/{V}/query", self.base))
            .bearer_auth(token)
            .query(&[("q", soql)])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn metadata(&self, token: &str, inner: &str) -> (u16, String) {
        let envelope = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Header>\
             <SessionHeader xmlns=\"{NS}\"><sessionId>{token}</sessionId></SessionHeader>\
             </soapenv:Header><soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
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
        (status, resp.text().await.unwrap())
    }

    /// Creates a permission set through the Metadata API as the administrator and assigns it to
    /// the integration user through REST, as Salesforce admins do.
    async fn grant(&self, permission_set_xml: &str, name: &str) {
        let (status, body) = self
            .metadata(
                &self.admin,
                &format!("<createMetadata xmlns=\"{NS}\">{permission_set_xml}</createMetadata>"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("<success>true</success>"), "{body}");
        self.assign(name).await;
    }

    async fn assign(&self, name: &str) {
        let (_, ps) = self
            .query(
                &self.admin,
                &format!("SELECT Id FROM PermissionSet WHERE Name = '{name}'"),
            )
            .await;
        let ps_id = ps["records"][0]["Id"].as_str().unwrap().to_string();
        let (_, user) = self
            .query(
                &self.admin,
                &format!("SELECT Id FROM User WHERE Username = '{INTEGRATION_USERNAME}'"),
            )
            .await;
        let user_id = user["records"][0]["Id"].as_str().unwrap().to_string();
        let (status, body) = self
            .send(
                &self.admin,
                Method::POST,
                "sobjects/PermissionSetAssignment",
                Some(json!({ "PermissionSetId": ps_id, "AssigneeId": user_id })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

fn error_code(body: &Value) -> &str {
    body[0]["errorCode"].as_str().unwrap_or_default()
}

const LEAD_READ_CREATE: &str = "<metadata xsi:type=\"PermissionSet\"><fullName>Lead_Access</fullName>\
    <label>Lead Access</label>\
    <fieldPermissions><editable>true</editable><field>Lead.Phone</field><readable>true</readable></fieldPermissions>\
    <fieldPermissions><editable>false</editable><field>Lead.Title</field><readable>true</readable></fieldPermissions>\
    <objectPermissions><allowCreate>true</allowCreate><allowDelete>false</allowDelete><allowEdit>false</allowEdit>\
    <allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords><object>Lead</object>\
    <viewAllRecords>false</viewAllRecords></objectPermissions></metadata>";

#[tokio::test]
async fn integration_user_needs_a_permission_set_for_lead() {
    let org = start().await;
    let me = org.integration.clone();

    // Before: Lead does not exist for this user.
    let (status, body) = org.query(&me, "SELECT Id FROM Lead").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "INVALID_TYPE", "{body}");
    let (status, body) = org
        .send(
            &me,
            Method::POST,
            "sobjects/Lead",
            Some(json!({"LastName": "Doe", "Company": "Acme"})),
        )
        .await;
    assert!(status == 400 || status == 404, "{status} {body}");
    assert!(
        ["INVALID_TYPE", "NOT_FOUND"].contains(&error_code(&body)),
        "{body}"
    );
    let (status, _) = org.send(&me, Method::GET, "sobjects/Lead/describe", None).await;
    assert_eq!(status, 404);
    let (_, global) = org.send(&me, Method::GET, "sobjects", None).await;
    let names: Vec<&str> = global["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert!(!names.contains(&"Lead") && names.contains(&"User"), "{names:?}");

    // The permission set grants Lead read + create, Phone read/write, Title read-only.
    org.grant(LEAD_READ_CREATE, "Lead_Access").await;

    let (status, body) = org
        .send(
            &me,
            Method::POST,
            "sobjects/Lead",
            Some(json!({"LastName": "Doe", "Company": "Acme", "Phone": "555-0100"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (status, body) = org.query(&me, "SELECT Id, Name, Phone, Title FROM Lead").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"][0]["Phone"], json!("555-0100"));

    // Email has no field permission: absent from describe, unknown to SOQL, refused on write.
    let (status, describe) = org.send(&me, Method::GET, "sobjects/Lead/describe", None).await;
    assert_eq!(status, 200);
    let fields = describe["fields"].as_array().unwrap();
    let field = |n: &str| fields.iter().find(|f| f["name"] == json!(n)).cloned();
    assert!(field("Email").is_none());
    assert!(field("LastName").is_some(), "required fields stay visible");
    assert_eq!(
        field("Phone").unwrap()["updateable"],
        json!(false),
        "no edit on Lead"
    );
    assert_eq!(field("Phone").unwrap()["createable"], json!(true));
    assert_eq!(
        field("Title").unwrap()["createable"],
        json!(false),
        "read-only FLS"
    );
    assert_eq!(describe["createable"], json!(true));
    assert_eq!(describe["updateable"], json!(false));
    assert_eq!(describe["deletable"], json!(false));

    let (status, body) = org.query(&me, "SELECT Id, Email FROM Lead").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "INVALID_FIELD", "{body}");

    let (status, body) = org
        .send(
            &me,
            Method::POST,
            "sobjects/Lead",
            Some(json!({"LastName": "Roe", "Company": "Acme", "Email": "r@example.com", "Title": "CTO"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "INVALID_FIELD_FOR_INSERT_UPDATE", "{body}");
    assert_eq!(
        body[0]["message"],
        json!(
            "Unable to create/update fields: Email, Title. Please check the security settings of this \
             field and verify that it is read/write for your profile or permission set."
        )
    );
    assert_eq!(body[0]["fields"], json!(["Email", "Title"]));

    // No edit or delete permission on Lead.
    let (status, body) = org
        .send(
            &me,
            Method::PATCH,
            &format!("sobjects/Lead/{id}"),
            Some(json!({"Company": "Other"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "INSUFFICIENT_ACCESS_OR_READONLY", "{body}");
    let (status, body) = org
        .send(&me, Method::DELETE, &format!("sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "INSUFFICIENT_ACCESS_OR_READONLY", "{body}");

    // The administrator is unaffected.
    let admin = org.admin.clone();
    let (status, body) = org.query(&admin, "SELECT Id, Email, Title FROM Lead").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = org
        .send(
            &admin,
            Method::PATCH,
            &format!("sobjects/Lead/{id}"),
            Some(json!({"Email": "doe@example.com", "Title": "CEO"})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
}

#[tokio::test]
async fn metadata_api_refused_without_modify_metadata() {
    let org = start().await;
    let inner =
        format!("<listMetadata xmlns=\"{NS}\"><queries><type>CustomObject</type></queries></listMetadata>");
    let (status, body) = org.metadata(&org.integration, &inner).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("sf:INSUFFICIENT_ACCESS"), "{body}");
    let (status, body) = org.metadata(&org.admin, &inner).await;
    assert_eq!(status, 200, "{body}");

    // Granting "Modify Metadata Through Metadata API Functions" opens it.
    org.grant(
        "<metadata xsi:type=\"PermissionSet\"><fullName>Metadata_Access</fullName><label>Metadata Access</label>\
         <userPermissions><enabled>true</enabled><name>ModifyMetadata</name></userPermissions></metadata>",
        "Metadata_Access",
    )
    .await;
    let (status, body) = org.metadata(&org.integration, &inner).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn integration_user_cannot_assign_itself_permissions() {
    let org = start().await;
    let (status, body) = org
        .query(
            &org.integration,
            "SELECT Id, Name FROM PermissionSet WHERE IsOwnedByProfile = true",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalSize"], json!(3), "one per profile: {body}");
    let ps_id = body["records"][0]["Id"].as_str().unwrap().to_string();
    let (_, me) = org
        .query(
            &org.integration,
            &format!("SELECT Id, Profile.Name FROM User WHERE Username = '{INTEGRATION_USERNAME}'"),
        )
        .await;
    assert_eq!(
        me["records"][0]["Profile"]["Name"],
        json!("Minimum Access - API Only Integrations")
    );
    let user_id = me["records"][0]["Id"].as_str().unwrap().to_string();
    let (status, body) = org
        .send(
            &org.integration,
            Method::POST,
            "sobjects/PermissionSetAssignment",
            Some(json!({ "PermissionSetId": ps_id, "AssigneeId": user_id })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "INSUFFICIENT_ACCESS_OR_READONLY", "{body}");
}
