//! Connects a demo tenant to its own emulator org the way the recipe's customers would, through
//! `forcebridge serve`'s API: the web-server OAuth flow (a tenant admin's session, the emulator's
//! consent page walked as a browser would), username-password, JWT bearer with a certificate
//! uploaded to a new connected app, or client credentials against the org's My Domain.
//!
//! Invariant: every credential used here is the emulator org's own (from its control API); the
//! demo never writes to the server's store except through the HTTP API.

use anyhow::{Context, Result, bail};
use forcebridge_engine::demo::Demo;
use forcebridge_engine::recipe::ir::{AuthMethod, EnvironmentKind};
use serde_json::{Value, json};

use super::api::{Api, field};

/// The emulator's org for one recipe, as its control API lists it.
pub(crate) struct Org {
    pub name: String,
    /// Its My Domain URL (`https://<name>.my.localhost:PORT`).
    pub my_domain_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    pub security_token: String,
}

impl Org {
    pub(crate) fn from_json(v: &Value) -> Result<Org> {
        let s = |k: &str| field(v, k).map(str::to_owned);
        Ok(Org {
            name: s("name")?,
            my_domain_url: s("my_domain_url")?,
            client_id: s("client_id")?,
            client_secret: s("client_secret")?,
            username: s("username")?,
            password: s("password")?,
            security_token: s("security_token")?,
        })
    }
}

/// The `environment` body of a connection to `org`.
fn environment(kind: EnvironmentKind, org: &Org) -> Value {
    match kind {
        EnvironmentKind::Production => json!({ "kind": "production" }),
        EnvironmentKind::Sandbox => json!({ "kind": "sandbox" }),
        EnvironmentKind::MyDomain => json!({ "kind": "my_domain", "url": org.my_domain_url }),
    }
}

/// Connects the tenant (its key in `server`) to `org` by the demo's auth method, as a tenant
/// admin does in the connect portal (a session of theirs); the connection's id. The connection is
/// shared when the recipe allows shared connections, else the admin's own.
pub(crate) async fn connect(
    server: &Api,
    emulator: &Api,
    org: &Org,
    demo: &Demo,
    shared: bool,
    label: &str,
) -> Result<String> {
    let session = server
        .post(
            "/v1/sessions",
            &json!({ "email": format!("admin@{}.demo", org.name), "role": "admin" }),
            201,
        )
        .await?;
    let admin = server.with(field(&session, "token")?);
    let env = environment(demo.environment, org);
    let shared_with = if shared { json!([]) } else { Value::Null };
    let conn = match demo.auth {
        AuthMethod::OauthWebServer => {
            let start = admin
                .post(
                    "/v1/connections/oauth",
                    &json!({ "label": label, "environment": env, "shared_with": shared_with }),
                    200,
                )
                .await?;
            return web_server(&admin, emulator, org, field(&start, "authorize_url")?, label).await;
        }
        AuthMethod::Password => {
            let body = json!({
                "label": label,
                "environment": env,
                "shared_with": shared_with,
                "auth": {
                    "method": "password",
                    "client_id": org.client_id,
                    "client_secret": org.client_secret,
                    "username": org.username,
                    "password": org.password,
                    "security_token": org.security_token,
                },
            });
            admin.post("/v1/connections", &body, 201).await?
        }
        AuthMethod::JwtBearer => {
            let (cert_pem, key_pem) = signing_pair(&org.name)?;
            let app = emulator
                .post(
                    &control(org, "apps"),
                    &json!({ "name": format!("{} demo (JWT)", org.name), "certificate_pem": cert_pem }),
                    201,
                )
                .await
                .context("creating the JWT connected app in the emulator")?;
            let body = json!({
                "label": label,
                "environment": env,
                "shared_with": shared_with,
                "auth": {
                    "method": "jwt_bearer",
                    "client_id": field(&app, "client_id")?,
                    "username": org.username,
                    "private_key_pem": key_pem,
                },
            });
            admin.post("/v1/connections", &body, 201).await?
        }
        AuthMethod::ClientCredentials => {
            let app = emulator
                .post(
                    &control(org, "apps"),
                    &json!({ "name": format!("{} demo (client credentials)", org.name), "client_credentials_user": org.username }),
                    201,
                )
                .await
                .context("creating the client-credentials connected app in the emulator")?;
            let body = json!({
                "label": label,
                "environment": env,
                "shared_with": shared_with,
                "auth": {
                    "method": "client_credentials",
                    "client_id": field(&app, "client_id")?,
                    "client_secret": field(&app, "client_secret")?,
                },
            });
            admin.post("/v1/connections", &body, 201).await?
        }
    };
    Ok(field(&conn, "id")?.to_owned())
}

/// The org's control API path (`/orgs/<name>/__emulator/<what>`), relative to the emulator root.
pub(crate) fn control(org: &Org, what: &str) -> String {
    format!("/orgs/{}/__emulator/{what}", org.name)
}

/// A key pair and a self-signed certificate for a JWT bearer connected app.
fn signing_pair(name: &str) -> Result<(String, String)> {
    // Salesforce's JWT bearer flow signs with RS256: an RSA key.
    let key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).context("generating the JWT signing key")?;
    let cert = rcgen::CertificateParams::new(vec![format!("{name}.demo.forcebridge")])
        .context("the JWT certificate's name")?
        .self_signed(&key)
        .context("signing the JWT certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The rest of the web-server flow, as the admin's browser does it: Salesforce's consent page
/// (signed in as the org's admin, "Allow"), then the redirect to our callback.
async fn web_server(
    admin: &Api,
    emulator: &Api,
    org: &Org,
    authorize_url: &str,
    label: &str,
) -> Result<String> {
    let (status, page) = emulator
        .call_url(reqwest::Method::GET, authorize_url, None)
        .await?;
    if status != 200 {
        bail!("the consent page answered {status}");
    }
    let html = page.as_str().context("the consent page is not HTML")?;
    let mut form = hidden_inputs(html);
    form.push(("username".into(), org.username.clone()));
    form.push(("password".into(), org.password.clone()));
    form.push(("action".into(), "allow".into()));
    let login_base = authorize_url
        .split("/services/oauth2/authorize")
        .next()
        .unwrap_or(authorize_url);
    let location = emulator
        .submit_form(&format!("{login_base}/services/oauth2/authorize"), &form)
        .await
        .context("signing in on the consent page")?;
    // The browser follows Salesforce's redirect to our callback, which stores the connection.
    let (status, page) = emulator.call_url(reqwest::Method::GET, &location, None).await?;
    if status != 200 {
        bail!("the OAuth callback answered {status}: {page}");
    }
    let list = admin.get("/v1/connections").await?;
    let conn = list
        .as_array()
        .and_then(|l| l.iter().find(|c| c["label"] == label))
        .with_context(|| format!("the OAuth callback made no connection labelled {label:?}"))?;
    Ok(field(conn, "id")?.to_owned())
}

/// The hidden inputs of an HTML form, unescaped.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let start = part.find(&format!("{name}=\""))? + name.len() + 2;
            let len = part[start..].find('"')?;
            Some(unescape(&part[start..start + len]))
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
