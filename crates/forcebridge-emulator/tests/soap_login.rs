//! SOAP Partner/Enterprise `login` over real HTTP: the `loginResponse`, the session it opens, and
//! the `INVALID_LOGIN` fault.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)] // tests may panic on failure

#[path = "control_common.rs"]
mod common;

use common::*;

fn envelope(username: &str, password: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{username}</n1:username><n1:password>{password}</n1:password></n1:login></env:Body></env:Envelope>"#
    )
}

async fn post(h: &forcebridge_emulator::EmulatorHandle, path: &str, body: String) -> (u16, String, String) {
    let resp = client()
        .post(format!("{}{path}", h.base_url()))
        .header("content-type", "text/xml; charset=UTF-8")
        .header("SOAPAction", "login")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    (status, ctype, resp.text().await.unwrap())
}

fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    &xml[start..end]
}

#[tokio::test]
async fn partner_login_returns_a_usable_session() {
    let h = start().await;
    let c = h.config().clone();
    let (status, ctype, xml) = post(
        &h,
        "/services/Soap/u/66.0",
        envelope(&c.username, &format!("{}{}", c.password, c.security_token)),
    )
    .await;
    assert_eq!(status, 200, "{xml}");
    assert!(ctype.starts_with("text/xml"));
    assert!(xml.contains(r#"xmlns="urn:partner.soap.sforce.com""#));
    let org_id = h.state().org_read().info.id.clone();
    assert_eq!(
        element(&xml, "serverUrl"),
        format!("{}/services/Soap/u/66.0/{}", h.base_url(), org_id.short())
    );
    assert_eq!(
        element(&xml, "metadataServerUrl"),
        format!("{}/services/Soap/m/66.0/{}", h.base_url(), org_id.short())
    );
    assert_eq!(element(&xml, "passwordExpired"), "false");
    assert_eq!(element(&xml, "sandbox"), "false");
    assert_eq!(element(&xml, "organizationId"), org_id.as_str());
    assert_eq!(element(&xml, "userName"), c.username);
    assert!(element(&xml, "userId").starts_with("005"));
    assert_eq!(element(&xml, "sessionSecondsValid"), "7200");
    let session = element(&xml, "sessionId");
    assert!(session.starts_with(&format!("{}!", org_id.short())));
    // The session id is a bearer token for REST.
    assert_ne!(api_get(&h, "sobjects", session).await.status(), 401);

    // Password without the security token is accepted too (trusted network).
    let (status, _, _) = post(&h, "/services/Soap/c/66.0", envelope(&c.username, &c.password)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_credentials_get_the_invalid_login_fault() {
    let h = start().await;
    let c = h.config().clone();
    let (status, ctype, xml) = post(&h, "/services/Soap/u/66.0", envelope(&c.username, "wrong")).await;
    assert_eq!(status, 500);
    assert!(ctype.starts_with("text/xml"));
    assert_eq!(element(&xml, "faultcode"), "sf:INVALID_LOGIN");
    assert_eq!(
        element(&xml, "faultstring"),
        "INVALID_LOGIN: Invalid username, password, security token; or user locked out."
    );
    assert!(xml.contains(r#"<sf:LoginFault xsi:type="sf:LoginFault">"#));
    assert!(xml.contains("<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"));
    assert!(xml.contains(r#"xmlns:sf="urn:fault.partner.soap.sforce.com""#));

    // Malformed XML is a client fault, not a crash.
    let (status, _, xml) = post(&h, "/services/Soap/u/66.0", "<not xml".into()).await;
    assert_eq!(status, 500);
    assert!(
        xml.contains("soapenv:Client") || xml.contains("INVALID_LOGIN"),
        "{xml}"
    );
    let (status, _, xml) = post(&h, "/services/Soap/u/abc", envelope(&c.username, &c.password)).await;
    assert_eq!(status, 500);
    assert!(xml.contains("UNSUPPORTED_API_VERSION"));
}
