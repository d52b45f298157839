//! SOAP `login` of the Partner (`/services/Soap/u/{version}`) and Enterprise
//! (`/services/Soap/c/{version}`) APIs: a username and password (with the security token appended,
//! or alone, as the password flow) give a session id usable as a REST bearer token.
//!
//! Invariant: every answer is a SOAP envelope — `loginResponse` on success, a `soapenv:Fault` with
//! HTTP 500 otherwise (`sf:INVALID_LOGIN` for bad credentials), exactly as Salesforce sends them.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use quick_xml::escape::escape;
use quick_xml::events::Event;

use crate::app::SharedState;
use crate::oauth::{check_password, new_access_token, user_profile};
use crate::org::Session;
use crate::security::{SystemPermission, UserAccess};

/// Seconds a SOAP session is valid, as `sessionSecondsValid` reports (Salesforce's default, 2 hours).
const SESSION_SECONDS_VALID: u32 = 7200;

/// Routes of this module.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/services/Soap/u/{version}", post(partner))
        // Salesforce accepts a trailing slash here; Pub/Sub API sample clients send one.
        .route("/services/Soap/u/{version}/", post(partner))
        .route("/services/Soap/c/{version}", post(enterprise))
}

/// Which WSDL the caller speaks: it decides the namespaces of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Partner,
    Enterprise,
}

impl Api {
    fn ns(self) -> &'static str {
        match self {
            Api::Partner => "urn:partner.soap.sforce.com",
            Api::Enterprise => "urn:enterprise.soap.sforce.com",
        }
    }
    fn fault_ns(self) -> &'static str {
        match self {
            Api::Partner => "urn:fault.partner.soap.sforce.com",
            Api::Enterprise => "urn:fault.enterprise.soap.sforce.com",
        }
    }
    fn letter(self) -> char {
        match self {
            Api::Partner => 'u',
            Api::Enterprise => 'c',
        }
    }
}

async fn partner(State(state): State<SharedState>, Path(version): Path<String>, body: Bytes) -> Response {
    login(&state, Api::Partner, &version, &body)
}

async fn enterprise(State(state): State<SharedState>, Path(version): Path<String>, body: Bytes) -> Response {
    login(&state, Api::Enterprise, &version, &body)
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")], body).into_response()
}

/// A `soapenv:Fault`; `fault_type` names the `detail` element (`LoginFault`, `UnexpectedErrorFault`).
fn fault(api: Api, code: &str, message: &str, fault_type: &str) -> Response {
    let message = escape(message);
    xml(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:sf=\"{ns}\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><soapenv:Fault>\
             <faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring><detail>\
             <sf:{fault_type} xsi:type=\"sf:{fault_type}\"><sf:exceptionCode>{code}</sf:exceptionCode>\
             <sf:exceptionMessage>{message}</sf:exceptionMessage></sf:{fault_type}></detail>\
             </soapenv:Fault></soapenv:Body></soapenv:Envelope>",
            ns = api.fault_ns()
        ),
    )
}

/// The fault a partner (`/services/Soap/u/`) or enterprise (`/c/`) call gets when the org refuses
/// it before reading it, for a limit (`REQUEST_LIMIT_EXCEEDED`): an `sf:UnexpectedErrorFault` in
/// that API's fault namespace.
pub fn refusal(path: &str, code: &str, message: &str) -> Response {
    let api = if path.starts_with("/services/Soap/c/") {
        Api::Enterprise
    } else {
        Api::Partner
    };
    fault(api, code, message, "UnexpectedErrorFault")
}

/// The `INVALID_LOGIN` fault a `login` call gets for a user this login host does not know.
pub fn invalid_login(path: &str) -> Response {
    let api = if path.starts_with("/services/Soap/c/") {
        Api::Enterprise
    } else {
        Api::Partner
    };
    fault(
        api,
        "INVALID_LOGIN",
        "Invalid username, password, security token; or user locked out.",
        "LoginFault",
    )
}

/// A client-side SOAP fault (`soapenv:Client`), for envelopes that cannot be understood.
fn client_fault(message: &str) -> Response {
    xml(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body><soapenv:Fault>\
             <faultcode>soapenv:Client</faultcode><faultstring>{}</faultstring></soapenv:Fault>\
             </soapenv:Body></soapenv:Envelope>",
            escape(message)
        ),
    )
}

/// What the envelope asks: the operation (the first element in `Body`) and, for `login`, the
/// credentials.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    operation: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// Reads the envelope with namespace prefixes ignored (clients use any prefix they like).
fn parse(body: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8".to_string())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut req = Request::default();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event().map_err(|e| format!("malformed XML: {e}"))? {
            Event::Start(e) => {
                let name = local(&e);
                if stack.last().is_some_and(|p| p == "Body") && req.operation.is_none() {
                    req.operation = Some(name.clone());
                }
                if stack.last().is_some_and(|p| p == "login") && (name == "username" || name == "password") {
                    current = Some(String::new());
                }
                stack.push(name);
            }
            Event::Empty(e) => {
                let name = local(&e);
                if stack.last().is_some_and(|p| p == "Body") && req.operation.is_none() {
                    req.operation = Some(name);
                }
            }
            Event::Text(t) => {
                if let Some(buf) = current.as_mut() {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(buf) = current.as_mut() {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(buf) = current.as_mut() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        buf.push(c);
                    } else {
                        let name = r.xml10_content();
                        let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?;
                        buf.push_str(resolved);
                    }
                }
            }
            Event::End(_) => {
                let name = stack.pop().unwrap_or_default();
                if let Some(value) = current.take() {
                    match name.as_str() {
                        "username" => req.username = Some(value),
                        "password" => req.password = Some(value),
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(req)
}

/// The local name of an element (its namespace prefix dropped).
fn local(e: &quick_xml::events::BytesStart<'_>) -> String {
    let name = e.local_name();
    let s: &str = name.as_ref();
    s.to_string()
}

/// `XX.X` with a major version Salesforce serves SOAP for.
fn valid_version(v: &str) -> bool {
    v.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.len() == 1
            && minor.bytes().all(|b| b.is_ascii_digit())
            && major.parse::<u32>().is_ok_and(|m| (20..=99).contains(&m))
    })
}

fn login(state: &SharedState, api: Api, version: &str, body: &[u8]) -> Response {
    if !valid_version(version) {
        return fault(
            api,
            "UNSUPPORTED_API_VERSION",
            &format!("Invalid Api version specified on URL: {version}"),
            "UnexpectedErrorFault",
        );
    }
    let req = match parse(body) {
        Ok(r) => r,
        Err(message) => return client_fault(&message),
    };
    match req.operation.as_deref() {
        Some("login") => {}
        Some(other) => {
            return client_fault(&format!(
                "No operation available for request {{{}}}{other}",
                api.ns()
            ));
        }
        None => return client_fault("the SOAP envelope has no Body operation"),
    }
    let invalid = || {
        fault(
            api,
            "INVALID_LOGIN",
            "Invalid username, password, security token; or user locked out.",
            "LoginFault",
        )
    };
    let (Some(username), Some(password)) = (req.username, req.password) else {
        return invalid();
    };
    let answer = {
        let mut org = state.org_write();
        let Some(user_id) = check_password(&org, &username, &password) else {
            return invalid();
        };
        let Some(profile) = user_profile(&org, &user_id) else {
            return invalid();
        };
        if !UserAccess::for_user(&org, &user_id).has(SystemPermission::ApiEnabled) {
            return fault(
                api,
                "API_CURRENTLY_DISABLED",
                "API is disabled for this User",
                "LoginFault",
            );
        }
        let session_id = new_access_token(&org);
        org.auth.sessions.insert(
            session_id.clone(),
            Session {
                access_token: session_id.clone(),
                user_id: user_id.clone(),
                client_id: None,
                issued_at: chrono::Utc::now(),
                expired: false,
            },
        );
        let base = &state.public_url();
        let org15 = org.info.id.short().to_string();
        let profile_id = profile.profile_id.as_deref().map_or_else(
            || "<profileId xsi:nil=\"true\"/>".to_string(),
            |p| format!("<profileId>{}</profileId>", escape(p)),
        );
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope \
             xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns=\"{ns}\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body><loginResponse><result>\
             <metadataServerUrl>{base}/services/Soap/m/{version}/{org15}</metadataServerUrl>\
             <passwordExpired>false</passwordExpired><sandbox>false</sandbox>\
             <serverUrl>{base}/services/Soap/{letter}/{version}/{org15}</serverUrl>\
             <sessionId>{session_id}</sessionId><userId>{user_id}</userId><userInfo>\
             <accessibilityMode>false</accessibilityMode><chatterExternal>false</chatterExternal>\
             <currencySymbol>$</currencySymbol><orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit>\
             <orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>\
             <orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale>\
             <orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>\
             <orgHasPersonAccounts>false</orgHasPersonAccounts><organizationId>{org_id}</organizationId>\
             <organizationMultiCurrency>false</organizationMultiCurrency>\
             <organizationName>{org_name}</organizationName>{profile_id}<roleId xsi:nil=\"true\"/>\
             <sessionSecondsValid>{SESSION_SECONDS_VALID}</sessionSecondsValid>\
             <userDefaultCurrencyIsoCode xsi:nil=\"true\"/><userEmail>{email}</userEmail>\
             <userFullName>{full_name}</userFullName><userId>{user_id}</userId>\
             <userLanguage>{language}</userLanguage><userLocale>{locale}</userLocale>\
             <userName>{username}</userName><userTimeZone>{tz}</userTimeZone><userType>Standard</userType>\
             <userUiSkin>Theme3</userUiSkin></userInfo></result></loginResponse></soapenv:Body>\
             </soapenv:Envelope>",
            ns = api.ns(),
            letter = api.letter(),
            org_id = org.info.id,
            org_name = escape(&org.info.name),
            email = escape(&profile.email),
            full_name = escape(&profile.display_name),
            language = escape(&profile.language),
            locale = escape(&profile.locale),
            username = escape(&profile.username),
            tz = escape(&profile.time_zone),
        )
    };
    state.mark_dirty();
    xml(StatusCode::OK, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_login_with_any_prefix_and_entities() {
        let body = br#"<?xml version="1.0"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>a@b.c</n1:username><n1:password>p&amp;w&#33;TOKEN</n1:password></n1:login></env:Body></env:Envelope>"#;
        let req = parse(body).unwrap();
        assert_eq!(req.operation.as_deref(), Some("login"));
        assert_eq!(req.username.as_deref(), Some("a@b.c"));
        assert_eq!(req.password.as_deref(), Some("p&w!TOKEN"));
    }

    #[test]
    fn versions() {
        assert!(valid_version("66.0"));
        assert!(!valid_version("66"));
        assert!(!valid_version("v66.0"));
    }
}
