//! Several orgs in one emulator, and which org a request is for.
//!
//! Each org is one [`AppState`] (its own [`crate::org::Org`] behind its own lock, its own Bulk
//! jobs, Chatter segments, request log and limits) served by its own router. In front of them,
//! [`router`] folds doubled slashes, answers the org registry (`/__emulator/orgs`), and picks the
//! org the way Salesforce's hosts do:
//!
//! - a My Domain host, `<name>.my.<domain>` (or `<name>.sandbox.my.<domain>`), or the path prefix
//!   `/orgs/<name>` for clients that cannot resolve such a name: that org and no other — a token
//!   or user of another org is unknown there;
//! - the sandbox login host, `test.<domain>` or the path prefix `/sandbox`: sign-in requests go to
//!   the sandbox org whose user (or code, or refresh token) they name;
//! - any other host (`localhost`, `127.0.0.1`, `login.<domain>`): the production login host and,
//!   like a Salesforce instance host, serves an API call for whichever org its session belongs
//!   to; sign-in requests go to the production org they name; anything else goes to the first org.
//!
//! With a state file, the list of orgs is kept beside it (`FILE.orgs`) and each org other than
//! the first in `FILE.<name>`, so orgs made through the control API come back after a restart.
//!
//! Invariants: no request reaches an org other than the one picked here; a handler sees the
//! path without the `/orgs/<name>` or `/sandbox` prefix, and [`AppState::public_url`] answers
//! the URL the request came in through, so the URLs an org hands out lead back to it.

use std::sync::{Arc, Mutex, RwLock};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::app::{AppState, SharedState};
use crate::config::EmulatorConfig;

/// Largest sign-in or SOAP body read to find out which org it is for.
const MAX_ROUTED_BODY: usize = 64 * 1024 * 1024;

/// Whether an org is a production org or a sandbox: which login host signs its users in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Production,
    Sandbox,
}

/// Who an org is among the emulator's orgs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgIdentity {
    /// 1 for the first org; numbers the org's id and the pod inside its record ids.
    pub number: u32,
    /// The My Domain name: lowercase letters, digits and hyphens.
    pub name: String,
    pub environment: Environment,
}

impl OrgIdentity {
    /// The first org, the one every single-org setup has.
    pub fn first() -> Self {
        OrgIdentity {
            number: 1,
            name: "org1".into(),
            environment: Environment::Production,
        }
    }
}

/// Why an org cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("org name {0:?} is not valid; use 1 to 40 lowercase letters, digits and hyphens")]
    BadName(String),
    #[error("an org named {0:?} exists already; pick another name")]
    Exists(String),
    #[error("cannot read the state file {path}: {reason}; fix or remove it")]
    State { path: String, reason: String },
}

/// One org of the registry.
#[derive(Debug)]
pub struct OrgEntry {
    pub state: SharedState,
    router: Router,
}

/// Every org of one emulator.
#[derive(Debug)]
pub struct Orgs {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The host clients reach the emulator by (`localhost` on loopback).
    pub host: String,
    pub port: u16,
    /// The settings of the first org; others derive theirs from it.
    pub template: EmulatorConfig,
    entries: RwLock<Vec<Arc<OrgEntry>>>,
    persisters: Mutex<Vec<crate::persist::Persister>>,
    /// Set once the emulator stops, for listeners serving every org (the Pub/Sub API).
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Orgs {
    /// An empty registry for an emulator listening at `host:port`.
    pub fn new(scheme: &'static str, host: String, port: u16, template: EmulatorConfig) -> Self {
        Orgs {
            scheme,
            host,
            port,
            template,
            entries: RwLock::new(Vec::new()),
            persisters: Mutex::new(Vec::new()),
            stopping: tokio::sync::watch::Sender::new(false),
        }
    }

    /// `scheme://host:port`: the first org's instance URL and the production login URL.
    pub fn root_url(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }

    /// Makes every org's waiting long polls and Pub/Sub streams answer now and stops the
    /// Pub/Sub listener; called when the emulator stops.
    pub fn close_streams(&self) {
        for e in self.all() {
            e.state.streams.close();
        }
        self.stopping.send_replace(true);
    }

    /// Resolves once the emulator is stopping (see [`Orgs::close_streams`]).
    pub async fn streams_closed(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// The org whose id is `tenant` (18 characters, or the 15-character form), as the Pub/Sub
    /// API's `tenantid` header names it.
    pub fn by_org_id(&self, tenant: &str) -> Option<Arc<OrgEntry>> {
        self.all().into_iter().find(|e| {
            let id = e.state.org_read().info.id.to_string();
            id == tenant || (tenant.len() == 15 && id.starts_with(tenant))
        })
    }

    /// Every org, first first.
    pub fn all(&self) -> Vec<Arc<OrgEntry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The org named `name`.
    pub fn by_name(&self, name: &str) -> Option<Arc<OrgEntry>> {
        self.all().into_iter().find(|e| e.state.identity.name == name)
    }

    /// The first org.
    pub fn first(&self) -> Option<Arc<OrgEntry>> {
        self.all().into_iter().next()
    }

    /// Adds an org named `name` (the next number), loading it from the state file when one is
    /// configured and exists; the first org uses the file itself, others `FILE.<name>`.
    ///
    /// # Errors
    /// [`AddError`] for an invalid or taken name, or an unreadable state file.
    pub fn add(&self, name: &str, environment: Environment) -> Result<SharedState, AddError> {
        if !valid_name(name) {
            return Err(AddError::BadName(name.to_string()));
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.iter().any(|e| e.state.identity.name == name) {
            return Err(AddError::Exists(name.to_string()));
        }
        let number = u32::try_from(entries.len()).unwrap_or(u32::MAX).saturating_add(1);
        let identity = OrgIdentity {
            number,
            name: name.to_string(),
            environment,
        };
        let mut config = self.template.clone();
        if number > 1 {
            // Usernames are unique across all of Salesforce; a sandbox copy suffixes them.
            config.username = format!("{}.{name}", self.template.username);
            config.state_file = self
                .template
                .state_file
                .as_ref()
                .map(|p| std::path::PathBuf::from(format!("{}.{name}", p.display())));
        }
        let base_url = if number == 1 {
            self.root_url()
        } else {
            format!("{}/orgs/{name}", self.root_url())
        };
        let loaded = match &config.state_file {
            Some(path) => crate::persist::load(path).map_err(|reason| AddError::State {
                path: path.display().to_string(),
                reason,
            })?,
            None => None,
        };
        let state = Arc::new(AppState::new(config.clone(), identity, base_url, loaded));
        let router = crate::app::router(state.clone());
        if let Some(path) = config.state_file.clone() {
            let persister = crate::persist::spawn(state.clone(), path);
            self.persisters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(persister);
        }
        entries.push(Arc::new(OrgEntry {
            state: state.clone(),
            router,
        }));
        if let Some(path) = self.registry_file() {
            let list: Vec<Value> = entries
                .iter()
                .map(|e| json!({"name": e.state.identity.name, "environment": e.state.identity.environment}))
                .collect();
            if let Err(e) = write_atomically(&path, &json!({ "orgs": list })) {
                tracing::error!(error = %e, path = %path.display(), "cannot write the list of orgs");
            }
        }
        Ok(state)
    }

    /// `FILE.orgs` beside the state file: which orgs exist, so a restart makes them again.
    fn registry_file(&self) -> Option<std::path::PathBuf> {
        self.template
            .state_file
            .as_ref()
            .map(|p| std::path::PathBuf::from(format!("{}.orgs", p.display())))
    }

    /// The orgs a previous run listed beside the state file (name and environment), to be made
    /// again at start; read before any org is added, since adding one rewrites the list.
    ///
    /// # Errors
    /// [`AddError::State`] when the list cannot be read.
    pub fn listed(&self) -> Result<Vec<(String, Environment)>, AddError> {
        let Some(path) = self.registry_file() else {
            return Ok(Vec::new());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(AddError::State {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        #[derive(Deserialize)]
        struct Listed {
            name: String,
            environment: Environment,
        }
        #[derive(Deserialize)]
        struct List {
            orgs: Vec<Listed>,
        }
        let list: List = serde_json::from_str(&text).map_err(|e| AddError::State {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(list.orgs.into_iter().map(|o| (o.name, o.environment)).collect())
    }

    /// Writes every org's state file one last time and stops the writers.
    pub async fn finish(&self) {
        let persisters = std::mem::take(&mut *self.persisters.lock().unwrap_or_else(|p| p.into_inner()));
        for p in persisters {
            p.finish().await;
        }
    }

    /// What a client needs to connect to `state`'s org (one entry of the ready line's `orgs`).
    pub fn info(&self, state: &AppState) -> Value {
        let c = &state.config;
        let id = &state.identity;
        let my_domain = match id.environment {
            Environment::Production => format!("{}://{}.my.localhost:{}", self.scheme, id.name, self.port),
            Environment::Sandbox => {
                format!("{}://{}.sandbox.my.localhost:{}", self.scheme, id.name, self.port)
            }
        };
        let login_url = match id.environment {
            Environment::Production => self.root_url(),
            Environment::Sandbox => format!("{}/sandbox", self.root_url()),
        };
        let org_id = state.org_read().info.id.to_string();
        json!({
            "name": id.name,
            "org_id": org_id,
            "environment": id.environment,
            "instance_url": state.base_url,
            "my_domain_url": my_domain,
            "login_url": login_url,
            "token_url": format!("{login_url}/services/oauth2/token"),
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "username": c.username,
            "password": c.password,
            "security_token": c.security_token,
            "cometd_url": format!("{}/cometd/{}", state.base_url, crate::config::LATEST_API_VERSION),
        })
    }
}

/// Writes `value` to `path` through a flushed temporary sibling renamed over it.
fn write_atomically(path: &std::path::Path, value: &Value) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = std::path::PathBuf::from(format!("{}.tmp", path.display()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(value.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Whether `name` can be a My Domain name here.
fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Where a request goes, from its host and path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A My Domain host or `/orgs/<name>` prefix.
    Org(String),
    /// A login host (production for every host that names no org).
    Login(Environment),
}

/// The target named by `host` (without the port).
fn target_of_host(host: &str) -> Target {
    let host = host.to_ascii_lowercase();
    if let Some((first, rest)) = host.split_once('.')
        && (rest.starts_with("my.") || rest.starts_with("sandbox.my."))
    {
        return Target::Org(first.to_string());
    }
    if host.starts_with("test.") {
        return Target::Login(Environment::Sandbox);
    }
    Target::Login(Environment::Production)
}

/// The host of a request without its port (`Host` header, or the URI's authority for HTTP/2).
fn request_host(req: &Request) -> Option<String> {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))?;
    Some(raw)
}

/// `host[:port]` without the port.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .split(']')
            .next()
            .map_or(authority, |h| h.trim_start_matches('['));
    }
    authority.split(':').next().unwrap_or(authority)
}

/// The routes in front of every org.
pub fn router(orgs: Arc<Orgs>) -> Router {
    Router::new().fallback(dispatch).with_state(orgs)
}

async fn dispatch(State(orgs): State<Arc<Orgs>>, mut req: Request) -> Response {
    if let Some(uri) = crate::paths::normalize(req.uri()) {
        *req.uri_mut() = uri;
    }
    let path = req.uri().path().to_string();
    if path == "/__emulator/orgs" || path == "/__emulator/orgs/" {
        return registry(&orgs, req).await;
    }
    let authority = request_host(&req).unwrap_or_else(|| orgs.root_url());
    let host = strip_port(&authority).to_string();
    // A path prefix wins over the host: it is how a client that cannot resolve names says it.
    let (target, prefix) = if let Some(rest) = path.strip_prefix("/orgs/") {
        let name = rest.split('/').next().unwrap_or_default().to_string();
        let prefix = format!("/orgs/{name}");
        (Target::Org(name), Some(prefix))
    } else if path == "/sandbox" || path.starts_with("/sandbox/") {
        (Target::Login(Environment::Sandbox), Some("/sandbox".to_string()))
    } else {
        (target_of_host(&host), None)
    };
    if let Some(prefix) = &prefix {
        strip_prefix(&mut req, prefix);
    }
    let scheme = orgs.scheme;
    let (entry, public) = match target {
        Target::Org(name) => {
            let Some(entry) = orgs.by_name(&name) else {
                return crate::rest::Reply::from(crate::error::SfError::no_resource()).into_response();
            };
            let public = match &prefix {
                Some(p) => format!("{scheme}://{authority}{p}"),
                None => format!("{scheme}://{authority}"),
            };
            (entry, Some(public))
        }
        Target::Login(environment) => {
            let (entry, request) = match for_login_host(&orgs, environment, req).await {
                Ok(pair) => pair,
                Err(resp) => return resp,
            };
            req = request;
            // Through a named login host (`login.example.com`), the org answers with its My
            // Domain under the same domain; through a bare host, with its own instance URL.
            let public = host
                .split_once('.')
                .filter(|(first, _)| *first == "login" || *first == "test")
                .map(|(_, domain)| {
                    let port = authority
                        .rsplit_once(':')
                        .map(|(_, p)| format!(":{p}"))
                        .unwrap_or_default();
                    let id = &entry.state.identity;
                    match id.environment {
                        Environment::Production => format!("{scheme}://{}.my.{domain}{port}", id.name),
                        Environment::Sandbox => format!("{scheme}://{}.sandbox.my.{domain}{port}", id.name),
                    }
                });
            (entry, public)
        }
    };
    let router = entry.router.clone();
    let call = async move {
        match router.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        }
    };
    match public {
        Some(url) => crate::app::PUBLIC_URL.scope(url, call).await,
        None => call.await,
    }
}

/// Removes `prefix` from the request's path.
fn strip_prefix(req: &mut Request, prefix: &str) {
    let path = req.uri().path();
    let rest = path.strip_prefix(prefix).unwrap_or(path);
    let rest = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

/// The org a request at a login host is for: the org owning its session (an API call), the
/// `environment` org its sign-in names, or else the first org of that environment. With no org
/// of that environment, a sign-in is refused as a wrong password is.
async fn for_login_host(
    orgs: &Orgs,
    environment: Environment,
    req: Request,
) -> Result<(Arc<OrgEntry>, Request), Response> {
    let all = orgs.all();
    if let Some(token) = crate::middleware::bearer_token(req.headers())
        && let Some(entry) = all
            .iter()
            .find(|e| e.state.org_read().auth.sessions.contains_key(token))
    {
        return Ok((entry.clone(), req));
    }
    let path = req.uri().path().to_string();
    // The token endpoint, and the consent page's login form (its `username` picks the org, as
    // login.salesforce.com signs in any production user).
    let sign_in = path == "/services/oauth2/token" || path == "/services/oauth2/authorize";
    let soap = path.starts_with("/services/Soap/");
    let mut req = req;
    let mut keys = Keys::default();
    if (sign_in || soap) && req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_ROUTED_BODY)
            .await
            .unwrap_or_else(|_| Bytes::new());
        keys = if sign_in {
            Keys::of_form(&parts.headers, parts.uri.query(), &bytes)
        } else {
            Keys::of_soap(&bytes)
        };
        req = Request::from_parts(parts, Body::from(bytes));
    }
    let of_env: Vec<&Arc<OrgEntry>> = all
        .iter()
        .filter(|e| e.state.identity.environment == environment)
        .collect();
    if let Some(session) = &keys.session
        && let Some(entry) = all
            .iter()
            .find(|e| e.state.org_read().auth.sessions.contains_key(session))
    {
        return Ok((entry.clone(), req));
    }
    if !keys.is_empty()
        && let Some(entry) = of_env.iter().find(|e| keys.known_to(&e.state))
    {
        return Ok(((*entry).clone(), req));
    }
    // Nobody of this environment knows the user, code or token: the first org answers the
    // refusal in its own words (`authentication failure`, `invalid authorization code`).
    match of_env.first() {
        Some(entry) => Ok(((*entry).clone(), req)),
        None if sign_in || soap || environment == Environment::Sandbox => Err(refuse_sign_in(&path)),
        None => all
            .first()
            .map(|e| (e.clone(), req))
            .ok_or_else(|| crate::rest::Reply::from(crate::error::SfError::no_resource()).into_response()),
    }
}

/// The refusal of a sign-in naming a user no org of this login host has.
fn refuse_sign_in(path: &str) -> Response {
    if path.starts_with("/services/Soap/") {
        return crate::soap::invalid_login(path);
    }
    crate::oauth::OAuthError::authentication_failure().into_response()
}

/// What a sign-in or SOAP request names that only one org knows.
#[derive(Debug, Default)]
struct Keys {
    username: Option<String>,
    code: Option<String>,
    refresh_token: Option<String>,
    session: Option<String>,
}

impl Keys {
    fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.code.is_none()
            && self.refresh_token.is_none()
            && self.session.is_none()
    }

    /// From an OAuth token request (form body, or query string).
    fn of_form(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Keys {
        let _ = headers;
        let mut pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        if let Some(q) = query {
            pairs.extend(serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default());
        }
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let username = get("username").or_else(|| get("assertion").and_then(|a| jwt_subject(&a)));
        Keys {
            username,
            code: get("code"),
            refresh_token: get("refresh_token"),
            session: None,
        }
    }

    /// From a SOAP envelope: the `login` call's username, or any call's `sessionId`.
    fn of_soap(body: &[u8]) -> Keys {
        let text = String::from_utf8_lossy(body);
        Keys {
            username: element_text(&text, "username"),
            session: element_text(&text, "sessionId"),
            ..Keys::default()
        }
    }

    /// Whether `state`'s org knows the user, code or refresh token named.
    fn known_to(&self, state: &AppState) -> bool {
        if let Some(code) = &self.code {
            return state.runtime().codes.contains_key(code);
        }
        let org = state.org_read();
        if let Some(token) = &self.refresh_token {
            return org.auth.refresh_tokens.iter().any(|t| &t.token == token);
        }
        self.username.as_ref().is_some_and(|u| {
            org.auth
                .credentials
                .iter()
                .any(|c| c.username.eq_ignore_ascii_case(u))
        })
    }
}

/// The text of the first element named `local` (any namespace prefix) in `xml`.
fn element_text(xml: &str, local: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = xml.get(from..)?.find(&format!("{local}>")) {
        let start = from + at;
        let open = xml.get(..start)?.rfind('<')?;
        let tag = xml.get(open + 1..start)?;
        // `<username>` or `<n1:username>`, not `</username>` nor `<other_username>`.
        if !tag.starts_with('/') && (tag.is_empty() || tag.ends_with(':')) {
            let value_start = start + local.len() + 1;
            let end = xml.get(value_start..)?.find('<')?;
            return Some(xml.get(value_start..value_start + end)?.trim().to_string());
        }
        from = start + local.len() + 1;
    }
    None
}

/// The `sub` claim of a JWT bearer assertion (not verified: the org verifies it).
fn jwt_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_string)
}

/// A request to add an org.
#[derive(Debug, Deserialize)]
struct NewOrg {
    name: String,
    #[serde(default)]
    environment: Option<Environment>,
    #[serde(default)]
    sandbox: bool,
}

/// `GET /__emulator/orgs` lists the orgs; `POST` adds one (`{"name", "environment"}`).
async fn registry(orgs: &Orgs, req: Request) -> Response {
    match *req.method() {
        Method::GET => Json(json!({
            "orgs": orgs.all().iter().map(|e| orgs.info(&e.state)).collect::<Vec<_>>()
        }))
        .into_response(),
        Method::POST => {
            let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let new: NewOrg = match serde_json::from_slice(&bytes) {
                Ok(n) => n,
                Err(e) => {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"error": format!("invalid JSON body: {e}; send {{\"name\": \"acme\", \"environment\": \"production\"}}")})),
                    )
                        .into_response();
                }
            };
            let environment = new.environment.unwrap_or(if new.sandbox {
                Environment::Sandbox
            } else {
                Environment::Production
            });
            match orgs.add(&new.name, environment) {
                Ok(state) => (StatusCode::CREATED, Json(orgs.info(&state))).into_response(),
                Err(e) => {
                    let status = match e {
                        AddError::Exists(_) => StatusCode::CONFLICT,
                        AddError::BadName(_) => StatusCode::BAD_REQUEST,
                        AddError::State { .. } => StatusCode::INTERNAL_SERVER_ERROR,
                    };
                    (status, Json(json!({"error": e.to_string()}))).into_response()
                }
            }
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_their_targets() {
        assert_eq!(target_of_host("acme.my.localhost"), Target::Org("acme".into()));
        assert_eq!(
            target_of_host("acme--dev.sandbox.my.salesforce.com"),
            Target::Org("acme--dev".into())
        );
        assert_eq!(
            target_of_host("test.salesforce.com"),
            Target::Login(Environment::Sandbox)
        );
        assert_eq!(
            target_of_host("login.salesforce.com"),
            Target::Login(Environment::Production)
        );
        assert_eq!(
            target_of_host("localhost"),
            Target::Login(Environment::Production)
        );
        assert_eq!(
            target_of_host("127.0.0.1"),
            Target::Login(Environment::Production)
        );
    }

    #[test]
    fn soap_elements_are_found_with_any_prefix() {
        let xml = "<env:Body><n1:login><n1:username>a@b.c</n1:username></n1:login></env:Body>";
        assert_eq!(element_text(xml, "username").as_deref(), Some("a@b.c"));
        assert_eq!(
            element_text("<sessionId>abc</sessionId>", "sessionId").as_deref(),
            Some("abc")
        );
        assert_eq!(element_text("<x_username>no</x_username>", "username"), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("acme-2"));
        assert!(!valid_name("Acme"));
        assert!(!valid_name(""));
        assert!(!valid_name("-x"));
    }
}
