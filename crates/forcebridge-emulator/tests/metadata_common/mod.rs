//! Shared helpers of the Metadata API tests (`tests/metadata_*.rs`): SOAP envelopes to
//! `/services/Soap/m/66.0` with the session of the signed-in test client, and small readers of
//! the answers.
#![allow(dead_code)]

use crate::common::App;

/// The Metadata API namespace.
pub const NS: &str = "http://soap.sforce.com/2006/04/metadata";

/// Posts a Metadata API call (`inner` is the Body's operation element) with `session` and returns
/// the HTTP status and the body text.
pub async fn call_as(app: &App, session: &str, inner: &str) -> (u16, String) {
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
         xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:met=\"{NS}\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Header><met:SessionHeader>\
         <met:sessionId>{session}</met:sessionId></met:SessionHeader></soapenv:Header>\
         <soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
    );
    let resp = app
        .client
        .post(format!("{}/services/Soap/m/66.0", app.base))
        .header("Content-Type", "text/xml; charset=UTF-8")
        .header("SOAPAction", "\"\"")
        .body(envelope)
        .send()
        .await
        .expect("metadata request");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// [`call_as`] with the test client's session.
pub async fn call(app: &App, inner: &str) -> (u16, String) {
    let token = app.token.clone().expect("signed in");
    call_as(app, &token, inner).await
}

/// Every text between `<tag>` and `</tag>` (no attributes on the open tag).
pub fn all(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + close.len()..];
    }
    out
}

/// The first text between `<tag>` and `</tag>`.
pub fn first(xml: &str, tag: &str) -> Option<String> {
    all(xml, tag).into_iter().next()
}

/// A `<fields>` element of a CustomObject / `<metadata xsi:type="CustomField">` body.
pub fn field(full_name: &str, label: &str, kind: &str, extra: &str) -> String {
    format!("<fullName>{full_name}</fullName><label>{label}</label><type>{kind}</type>{extra}")
}

/// A `createMetadata` of one CustomObject with a Text name field and `fields` (already wrapped
/// in `<fields>`).
pub fn custom_object(name: &str, label: &str, plural: &str, name_label: &str, fields: &str) -> String {
    format!(
        "<met:createMetadata><met:metadata xsi:type=\"met:CustomObject\"><met:fullName>{name}</met:fullName>\
         <met:deploymentStatus>Deployed</met:deploymentStatus>{fields}<met:label>{label}</met:label>\
         <met:nameField><met:label>{name_label}</met:label><met:type>Text</met:type></met:nameField>\
         <met:pluralLabel>{plural}</met:pluralLabel><met:sharingModel>ReadWrite</met:sharingModel>\
         </met:metadata></met:createMetadata>"
    )
}

/// Wraps each field body in `<fields>`.
pub fn fields(items: &[String]) -> String {
    items.iter().map(|f| format!("<fields>{f}</fields>")).collect()
}

/// A `createMetadata` of CustomFields (`Object.Field__c` full names).
pub fn create_fields(items: &[String]) -> String {
    let body: String = items
        .iter()
        .map(|f| format!("<metadata xsi:type=\"CustomField\">{f}</metadata>"))
        .collect();
    format!("<createMetadata xmlns=\"{NS}\">{body}</createMetadata>")
}

/// Asserts every `<success>` of an answer is `true`.
pub fn assert_all_success(status: u16, body: &str) {
    assert_eq!(status, 200, "{body}");
    let results = all(body, "success");
    assert!(!results.is_empty(), "no results: {body}");
    assert!(results.iter().all(|s| s == "true"), "a component failed: {body}");
}
