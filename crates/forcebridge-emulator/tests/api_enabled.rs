//! The "API Enabled" system permission gates the APIs, as in Salesforce: once the administrator
//! removes it from the integration user's profile, that user's REST calls answer 403
//! `API_CURRENTLY_DISABLED` and its SOAP `login` answers the `API_CURRENTLY_DISABLED` fault; the
//! administrator is unaffected.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use forcebridge_emulator::bootstrap::{
    INTEGRATION_PASSWORD, INTEGRATION_SECURITY_TOKEN, INTEGRATION_USERNAME,
};
use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;

const V: &str = "v66.0";

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

fn soap_login(user: &str, password: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">
  <env:Body><urn:login><urn:username>{user}</urn:username><urn:password>{password}</urn:password></urn:login></env:Body>
</env:Envelope>"#
    )
}

#[tokio::test]
async fn a_user_without_api_enabled_cannot_call_the_apis() {
    let handle = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let base = handle.base_url().to_string();
    let c = handle.config().clone();
    let admin = token(
        &handle,
        &client,
        &c.username,
        &format!("{}{}", c.password, c.security_token),
    )
    .await;
    let integration_password = format!("{INTEGRATION_PASSWORD}{INTEGRATION_SECURITY_TOKEN}");
    let integration = token(&handle, &client, INTEGRATION_USERNAME, &integration_password).await;

    // With API Enabled (the API-only profile has it), the integration user may call.
    let limits = client
        .get(format!("{base}/services/data/{V}/limits"))
        .bearer_auth(&integration)
        .send()
        .await
        .unwrap();
    assert_eq!(limits.status(), 200);

    // The administrator takes API Enabled away from the integration user's profile.
    let q = format!("SELECT ProfileId FROM User WHERE Username = '{INTEGRATION_USERNAME}'");
    let rows: Value = client
        .get(format!("{base}/services/data/{V}/query"))
        .query(&[("q", q.as_str())])
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let profile = rows["records"][0]["ProfileId"].as_str().unwrap().to_string();
    // Salesforce edits profiles in Setup, not through REST; the test edits the org directly.
    {
        let profile = forcebridge_emulator::ids::SfId::parse(&profile).unwrap();
        let mut org = handle.state().org_write();
        let record = org
            .table_mut("Profile")
            .get_mut(&profile)
            .expect("the profile record");
        record.insert("PermissionsApiEnabled".into(), Value::Bool(false));
        // The permission set a profile owns mirrors the profile's system permissions.
        for set in org.table_mut("PermissionSet").values_mut() {
            if set.get("ProfileId").and_then(Value::as_str) == Some(profile.as_str()) {
                set.insert("PermissionsApiEnabled".into(), Value::Bool(false));
            }
        }
    }

    let refused = client
        .get(format!("{base}/services/data/{V}/limits"))
        .bearer_auth(&integration)
        .send()
        .await
        .unwrap();
    let status = refused.status();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body[0]["errorCode"], "API_CURRENTLY_DISABLED");
    assert_eq!(body[0]["message"], "API is disabled for this User");

    let login = client
        .post(format!("{base}/services/Soap/u/{}", &V[1..]))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "login")
        .body(soap_login(INTEGRATION_USERNAME, &integration_password))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 500);
    let text = login.text().await.unwrap();
    assert!(text.contains("API_CURRENTLY_DISABLED"), "{text}");

    // The administrator keeps full access.
    let admin_call = client
        .get(format!("{base}/services/data/{V}/limits"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_call.status(), 200);
}
