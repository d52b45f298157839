//! Signing in to Salesforce: the OAuth 2.0 flows, the token store hand-off and the session that
//! refreshes itself.
//!
//! Flows: web server with PKCE ([`pkce`], then [`exchange_code`]), refresh token, client
//! credentials, username-password and JWT bearer ([`Credentials`]). Salesforce gives no `expires_in`:
//! the session is renewed when an answer says `INVALID_SESSION_ID`, once, single-flight
//! ([`session::Authenticator`]).
//!
//! Invariant: secrets live in [`SecretString`]s and are never written to logs or `Debug` output.

pub mod jwt;
pub mod pkce;
pub mod session;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::types::{InstanceUrl, LoginHost, UrlPolicy};

/// How the client obtains (and renews) an access token.
#[derive(Clone)]
pub enum Credentials {
    /// A refresh token from an earlier web server flow (the usual case for a connected org).
    RefreshToken {
        /// Consumer key.
        client_id: String,
        /// Consumer secret, when the connected app requires it for refresh.
        client_secret: Option<SecretString>,
        /// The refresh token.
        refresh_token: SecretString,
    },
    /// OAuth client credentials flow (runs as the connected app's "Run As" user).
    ClientCredentials {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: SecretString,
    },
    /// Username-password flow; `password` is the password with the security token appended when
    /// the org requires one.
    Password {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: SecretString,
        /// The user name.
        username: String,
        /// Password (+ security token).
        password: SecretString,
    },
    /// JWT bearer flow: an RS256 assertion signed with the connected app certificate's private key.
    JwtBearer {
        /// Consumer key (`iss`).
        client_id: String,
        /// The user to act as (`sub`).
        username: String,
        /// The RSA private key, PEM.
        private_key_pem: SecretString,
    },
    /// A bare access token that cannot be renewed (an expired session is then an auth error).
    AccessToken {
        /// The token.
        access_token: SecretString,
        /// The org it belongs to.
        instance_url: InstanceUrl,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (flow, client) = match self {
            Credentials::RefreshToken { client_id, .. } => ("refresh_token", client_id.as_str()),
            Credentials::ClientCredentials { client_id, .. } => ("client_credentials", client_id.as_str()),
            Credentials::Password { client_id, .. } => ("password", client_id.as_str()),
            Credentials::JwtBearer { client_id, .. } => ("jwt_bearer", client_id.as_str()),
            Credentials::AccessToken { .. } => ("access_token", ""),
        };
        f.debug_struct("Credentials")
            .field("flow", &flow)
            .field("client_id", &client)
            .finish_non_exhaustive()
    }
}

/// What a successful sign-in gives: handed to the [`TokenStore`] to persist (encrypted).
#[derive(Clone)]
pub struct TokenSet {
    /// The session token.
    pub access_token: SecretString,
    /// A refresh token, when the flow issued one (web server flow with `refresh_token` scope).
    pub refresh_token: Option<SecretString>,
    /// The org's instance URL, validated.
    pub instance_url: InstanceUrl,
    /// The identity URL (`https://login.salesforce.com/id/00D.../005...`).
    pub id: Option<String>,
    /// Granted scopes.
    pub scope: Option<String>,
    /// `issued_at` (milliseconds since the epoch, as text).
    pub issued_at: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("instance_url", &self.instance_url)
            .field("id", &self.id)
            .field("scope", &self.scope)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenSet {
    /// The org id (`00D...`) from the identity URL, when present.
    pub fn org_id(&self) -> Option<&str> {
        self.id.as_deref()?.rsplit('/').nth(1)
    }

    /// The user id (`005...`) from the identity URL, when present.
    pub fn user_id(&self) -> Option<&str> {
        self.id.as_deref()?.rsplit('/').next()
    }
}

/// A boxed future, for the object-safe [`TokenStore`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where new tokens go: the engine implements this to persist them encrypted. Called after every
/// sign-in or refresh, before the new session is used.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Persists `tokens`. An error fails the sign-in (so a rotated refresh token is never lost).
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, std::result::Result<(), String>>;
}

/// A [`TokenStore`] that keeps the last tokens in memory (tests, examples, short-lived tools).
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    last: std::sync::Mutex<Option<TokenSet>>,
    saves: std::sync::atomic::AtomicU64,
}

impl MemoryTokenStore {
    /// The last tokens saved.
    pub fn last(&self) -> Option<TokenSet> {
        self.last.lock().ok().and_then(|g| g.clone())
    }

    /// How many times tokens were saved.
    pub fn saves(&self) -> u64 {
        self.saves.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl TokenStore for MemoryTokenStore {
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, std::result::Result<(), String>> {
        Box::pin(async move {
            let mut g = self
                .last
                .lock()
                .map_err(|_| "token store lock poisoned".to_string())?;
            *g = Some(tokens.clone());
            self.saves.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
    }
}

/// Settings of the sign-in itself.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where to sign in.
    pub login_host: LoginHost,
    /// The flow and its secrets.
    pub credentials: Credentials,
    /// Where new tokens are handed; `None` keeps them only in memory.
    pub store: Option<Arc<dyn TokenStore>>,
    /// How long to keep retrying a connected app that Salesforce does not know yet
    /// (`invalid_client_id`; new apps take 2-10 minutes to activate). Zero disables the wait.
    pub app_activation_wait: Duration,
    /// How often to retry while waiting for the app.
    pub app_activation_poll: Duration,
}

impl AuthConfig {
    /// A config with the default patience for new connected apps (10 minutes, every 20 seconds).
    pub fn new(login_host: LoginHost, credentials: Credentials) -> Self {
        AuthConfig {
            login_host,
            credentials,
            store: None,
            app_activation_wait: Duration::from_secs(600),
            app_activation_poll: Duration::from_secs(20),
        }
    }

    /// Hands new tokens to `store`.
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    instance_url: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    issued_at: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Which grant a token request is, because `invalid_grant` means different things per grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    Refresh,
    AuthorizationCode,
    Other,
}

/// One POST to the token endpoint, with errors mapped: `invalid_grant` on a refresh is
/// [`Error::TokenExpiredOrRevoked`]; other refusals are [`Error::OAuth`].
pub(crate) async fn token_request(
    http: &reqwest::Client,
    token_url: &str,
    form: &[(&str, &str)],
    grant: Grant,
    policy: UrlPolicy,
) -> Result<TokenSet> {
    let resp = http
        .post(token_url)
        .form(form)
        .send()
        .await
        .map_err(|e| Error::Transport {
            not_sent: e.is_connect(),
            source: e,
        })?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| Error::Transport {
        not_sent: false,
        source: e,
    })?;
    if !(200..300).contains(&status) {
        let parsed: OAuthErrorBody = serde_json::from_slice(&body).unwrap_or(OAuthErrorBody {
            error: String::new(),
            error_description: String::from_utf8_lossy(&body).chars().take(200).collect(),
        });
        if status >= 500 || parsed.error.is_empty() && status == 429 {
            return Err(crate::error::api_error(status, None, &body));
        }
        if parsed.error == "invalid_grant" && grant == Grant::Refresh {
            return Err(Error::TokenExpiredOrRevoked {
                description: parsed.error_description,
            });
        }
        return Err(Error::OAuth {
            status,
            error: parsed.error,
            description: parsed.error_description,
        });
    }
    let t: TokenResponse =
        serde_json::from_slice(&body).map_err(|e| Error::decode("oauth token response", e, &body))?;
    let instance_url = InstanceUrl::parse_with(&t.instance_url, policy)?;
    Ok(TokenSet {
        access_token: SecretString::from(t.access_token),
        refresh_token: t.refresh_token.map(SecretString::from),
        instance_url,
        id: t.id,
        scope: t.scope,
        issued_at: t.issued_at,
    })
}

/// Runs one sign-in with `credentials` (no retries; see [`session::Authenticator`] for those).
pub(crate) async fn sign_in(
    http: &reqwest::Client,
    login: &LoginHost,
    credentials: &Credentials,
    policy: UrlPolicy,
) -> Result<TokenSet> {
    let url = login.token_url();
    match credentials {
        Credentials::RefreshToken {
            client_id,
            client_secret,
            refresh_token,
        } => {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("client_id", client_id.as_str()),
                ("refresh_token", refresh_token.expose_secret()),
            ];
            if let Some(s) = client_secret {
                form.push(("client_secret", s.expose_secret()));
            }
            let mut t = token_request(http, &url, &form, Grant::Refresh, policy).await?;
            // Salesforce normally keeps the same refresh token; keep it unless a new one was issued.
            if t.refresh_token.is_none() {
                t.refresh_token = Some(refresh_token.clone());
            }
            Ok(t)
        }
        Credentials::ClientCredentials {
            client_id,
            client_secret,
        } => {
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.expose_secret()),
            ];
            token_request(http, &url, &form, Grant::Other, policy).await
        }
        Credentials::Password {
            client_id,
            client_secret,
            username,
            password,
        } => {
            let form = [
                ("grant_type", "password"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.expose_secret()),
                ("username", username.as_str()),
                ("password", password.expose_secret()),
            ];
            token_request(http, &url, &form, Grant::Other, policy).await
        }
        Credentials::JwtBearer {
            client_id,
            username,
            private_key_pem,
        } => {
            let assertion = jwt::assertion(client_id, username, &login.jwt_audience(), private_key_pem)?;
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ];
            token_request(http, &url, &form, Grant::Other, policy).await
        }
        Credentials::AccessToken {
            access_token,
            instance_url,
        } => Ok(TokenSet {
            access_token: access_token.clone(),
            refresh_token: None,
            instance_url: instance_url.clone(),
            id: None,
            scope: None,
            issued_at: None,
        }),
    }
}

/// The code exchange that ends the web server flow (with the PKCE verifier).
#[derive(Debug, Clone)]
pub struct CodeExchange {
    /// Where the user signed in.
    pub login_host: LoginHost,
    /// Consumer key.
    pub client_id: String,
    /// Consumer secret, when the connected app requires it.
    pub client_secret: Option<SecretString>,
    /// The same redirect URI used in the authorize URL.
    pub redirect_uri: String,
}

/// Exchanges an authorization code for tokens (web server flow), sending the PKCE verifier.
///
/// Check the callback's `state` with [`pkce::PkceAuthorization::state_matches`] before calling.
///
/// # Errors
/// [`Error::OAuth`] when Salesforce refuses the code (expired, reused, wrong verifier), transport
/// and decode errors otherwise.
pub async fn exchange_code(
    http: &reqwest::Client,
    exchange: &CodeExchange,
    code: &str,
    code_verifier: &str,
    policy: UrlPolicy,
) -> Result<TokenSet> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", exchange.client_id.as_str()),
        ("redirect_uri", exchange.redirect_uri.as_str()),
        ("code_verifier", code_verifier),
    ];
    if let Some(s) = &exchange.client_secret {
        form.push(("client_secret", s.expose_secret()));
    }
    token_request(
        http,
        &exchange.login_host.token_url(),
        &form,
        Grant::AuthorizationCode,
        policy,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_identity_url() {
        let t = TokenSet {
            access_token: SecretString::from("x"),
            refresh_token: None,
            instance_url: InstanceUrl::parse("https://a.my.salesforce.com").unwrap(),
            id: Some("https://login.salesforce.com/id/00Dxx0000001gEREAY/005xx000001X8zLAAS".into()),
            scope: None,
            issued_at: None,
        };
        assert_eq!(t.org_id(), Some("00Dxx0000001gEREAY"));
        assert_eq!(t.user_id(), Some("005xx000001X8zLAAS"));
        let dbg = format!("{t:?}");
        assert!(!dbg.contains('x') || !dbg.contains("access_token: \"x\""));
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::Password {
            client_id: "cid".into(),
            client_secret: SecretString::from("topsecret"),
            username: "u".into(),
            password: SecretString::from("hunter2"),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("topsecret") && !d.contains("hunter2"), "{d}");
    }
}
