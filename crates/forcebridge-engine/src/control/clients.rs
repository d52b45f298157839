//! One Salesforce [`Client`] per connection, built from the connection's sealed credentials and
//! kept while the process runs, so that its session, describe cache and API budget are shared by
//! every batch of that connection.
//!
//! Tokens the client obtains (a first sign-in, a refresh, a rotated refresh token) are sealed back
//! into the vault through [`VaultTokenStore`] before the client uses them.
//!
//! Invariant: a client is keyed by (tenant, connection); `forget` drops it when the connection's
//! credentials change (reconnect, removal), so a stale session is never reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use forcebridge_salesforce::auth::TokenSet;
use forcebridge_salesforce::{
    AuthConfig, Client, Credentials as SfCredentials, HttpConfig, InstanceUrl, LoginHost, RetryPolicy,
    TokenStore, UrlPolicy,
};
use forcebridge_store::{AuthMethod, Connection, ConnectionId, Environment, Store, TenantId};
use futures::future::BoxFuture;
use secrecy::SecretString;

use crate::error::{Error, Result};

/// Where the production and sandbox login hosts are (Salesforce's by default; the emulator's in
/// tests and the demo).
#[derive(Debug, Clone)]
pub struct LoginHosts {
    /// Production login host.
    pub production: LoginHost,
    /// Sandbox login host.
    pub sandbox: LoginHost,
    /// URL policy for My Domain URLs (https only, except loopback in tests).
    pub url_policy: UrlPolicy,
}

impl Default for LoginHosts {
    fn default() -> Self {
        Self {
            production: LoginHost::Production,
            sandbox: LoginHost::Sandbox,
            url_policy: UrlPolicy::HttpsOnly,
        }
    }
}

impl LoginHosts {
    /// Both environments served by one login URL (the emulator).
    pub fn single(url: &InstanceUrl, url_policy: UrlPolicy) -> Self {
        Self {
            production: LoginHost::Custom(url.clone()),
            sandbox: LoginHost::Custom(url.clone()),
            url_policy,
        }
    }

    /// The login host of an environment.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a My Domain URL the policy refuses.
    pub fn for_environment(&self, env: &Environment) -> Result<LoginHost> {
        Ok(match env {
            Environment::Production => self.production.clone(),
            Environment::Sandbox => self.sandbox.clone(),
            Environment::MyDomain(url) => LoginHost::Custom(
                InstanceUrl::parse_with(url, self.url_policy)
                    .map_err(|e| Error::Invalid(format!("environment.url: {e}")))?,
            ),
        })
    }
}

/// The clients of every connection this process has used.
#[derive(Debug)]
pub struct ClientPool {
    http: HttpConfig,
    retry: RetryPolicy,
    clients: Mutex<HashMap<(TenantId, ConnectionId), Arc<Client>>>,
}

impl ClientPool {
    /// An empty pool whose clients use `http` and retry transient failures with `retry`.
    pub fn new(http: HttpConfig, retry: RetryPolicy) -> Self {
        Self {
            http,
            retry,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client of a connection, built on first use.
    ///
    /// # Errors
    /// The store's errors (unknown connection, vault), or [`Error::Invalid`] when the stored
    /// credentials do not fit the connection's auth method.
    pub async fn get(&self, store: &Store, hosts: &LoginHosts, conn: &Connection) -> Result<Arc<Client>> {
        let key = (conn.tenant_id.clone(), conn.id.clone());
        if let Some(c) = self.lock().get(&key) {
            return Ok(c.clone());
        }
        let creds = store.credentials(&conn.tenant_id, &conn.id).await?;
        let sf = to_client_credentials(conn.auth_method, &creds)?;
        let login = hosts.for_environment(&conn.environment)?;
        let token_store = Arc::new(VaultTokenStore {
            store: store.clone(),
            tenant: conn.tenant_id.clone(),
            connection: conn.id.clone(),
        });
        let auth = AuthConfig::new(login, sf).with_store(token_store);
        // The budget is the engine's (shared by every node through the store), not one client's.
        let builder = Client::builder(auth)
            .http(self.http.clone())
            .retry(self.retry.clone())
            .enforce_budget(false);
        // No stored access token is handed to the client: it signs in (or refreshes) on first use,
        // which also gives it the identity (user id) that assigning a permission set needs.
        let client = Arc::new(builder.build()?);
        Ok(self.lock().entry(key).or_insert(client).clone())
    }

    /// Drops a connection's client (its credentials changed or it was removed).
    pub fn forget(&self, tenant: &TenantId, connection: &ConnectionId) {
        self.lock().remove(&(tenant.clone(), connection.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, ConnectionId), Arc<Client>>> {
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The client's sign-in material for a stored connection.
///
/// # Errors
/// [`Error::Invalid`] naming the missing credential.
pub fn to_client_credentials(
    method: AuthMethod,
    c: &forcebridge_store::Credentials,
) -> Result<SfCredentials> {
    let missing = |what: &str| {
        Error::Invalid(format!(
            "the connection's stored credentials lack the {what} its auth method ({}) needs; reconnect it",
            method.as_str()
        ))
    };
    let client_id = || c.client_id.clone().ok_or_else(|| missing("client id"));
    Ok(match method {
        AuthMethod::OAuthWebServer => SfCredentials::RefreshToken {
            client_id: client_id()?,
            client_secret: c.client_secret.clone(),
            refresh_token: c.refresh_token.clone().ok_or_else(|| missing("refresh token"))?,
        },
        AuthMethod::ClientCredentials => SfCredentials::ClientCredentials {
            client_id: client_id()?,
            client_secret: c.client_secret.clone().ok_or_else(|| missing("client secret"))?,
        },
        AuthMethod::Password => SfCredentials::Password {
            client_id: client_id()?,
            client_secret: c.client_secret.clone().ok_or_else(|| missing("client secret"))?,
            username: c.username.clone().ok_or_else(|| missing("username"))?,
            password: c.password.clone().ok_or_else(|| missing("password"))?,
        },
        AuthMethod::JwtBearer => SfCredentials::JwtBearer {
            client_id: client_id()?,
            username: c.username.clone().ok_or_else(|| missing("username"))?,
            private_key_pem: c.private_key_pem.clone().ok_or_else(|| missing("private key"))?,
        },
    })
}

/// Seals tokens the client obtains back into the connection's vault entry.
#[derive(Debug)]
pub struct VaultTokenStore {
    store: Store,
    tenant: TenantId,
    connection: ConnectionId,
}

impl TokenStore for VaultTokenStore {
    fn save<'a>(&'a self, tokens: &'a TokenSet) -> BoxFuture<'a, std::result::Result<(), String>> {
        Box::pin(async move {
            let mut creds = self
                .store
                .credentials(&self.tenant, &self.connection)
                .await
                .map_err(|e| e.to_string())?;
            creds.access_token = Some(tokens.access_token.clone());
            if let Some(rt) = &tokens.refresh_token {
                creds.refresh_token = Some(SecretString::from(
                    secrecy::ExposeSecret::expose_secret(rt).to_owned(),
                ));
            }
            creds.instance_url = Some(tokens.instance_url.as_str().to_owned());
            self.store
                .update_credentials(&self.tenant, &self.connection, &creds)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
