//! Connections to Salesforce orgs: created through a server-to-server flow (client credentials,
//! JWT bearer, username-password + security token) or the web-server OAuth flow (`oauth.rs`),
//! listed, renamed, refreshed (re-test access, renew), removed (the token revoked at Salesforce
//! first) and checked by the access doctor. Status changes raise notifications.
//!
//! A connection made for an integration (`recipe`) follows that recipe's `[connection]` policy:
//! its auth methods, environments, personal and shared connections, and its per-owner limit of
//! personal connections ([`Engine::connection_policy`]); without one, the store's limit applies.
//!
//! Invariant: a connection is stored only after its credentials signed in once, so a stored
//! connection always reached its org; every call takes the tenant and a foreign id is "not found".

use forcebridge_salesforce::doctor::{AccessReport, Requirements};
use forcebridge_salesforce::{AuthConfig, Client, InstanceUrl, UrlPolicy};
use forcebridge_store::{
    AuthMethod, Connection, ConnectionId, ConnectionStatus, Credentials, Environment, NewConnection, Owner,
    TenantId, UserId,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::control::clients::to_client_credentials;
use crate::control::notify::NotificationKind;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::recipe::ir::{AuthMethod as RecipeAuth, EnvironmentKind, Recipe};

/// Personal connections one user may have when no recipe says otherwise (Qualtrics: "up to 5").
pub const DEFAULT_PER_OWNER_LIMIT: u32 = 5;

/// How a server-to-server connection signs in.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum ServerToServer {
    /// OAuth client credentials (the connected app's "Run As" user); needs a My Domain URL.
    ClientCredentials {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: SecretString,
    },
    /// JWT bearer: an assertion signed with the connected app certificate's private key.
    JwtBearer {
        /// Consumer key.
        client_id: String,
        /// The user to act as.
        username: String,
        /// The RSA private key (PEM).
        private_key_pem: SecretString,
    },
    /// Username and password, with the security token appended when the org needs one.
    Password {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: SecretString,
        /// User name.
        username: String,
        /// Password.
        password: SecretString,
        /// Security token (appended to the password), if the org requires it.
        #[serde(default)]
        security_token: Option<SecretString>,
    },
}

/// Whose a new connection is.
#[derive(Debug, Clone)]
pub enum Ownership {
    /// A user's own connection (counted against their limit).
    Personal(UserId),
    /// Created by an admin and granted to these users.
    Shared {
        /// The admin.
        admin: UserId,
        /// Who may use it.
        users: Vec<UserId>,
    },
}

impl Ownership {
    pub(crate) fn to_owner(&self) -> Owner {
        match self {
            Ownership::Personal(u) => Owner::Personal { user_id: u.clone() },
            Ownership::Shared { admin, users } => Owner::Shared {
                admin_id: admin.clone(),
                users: users.clone(),
            },
        }
    }
}

/// Check a My Domain URL as given by a person: https, a host, no path, no trailing slash.
///
/// # Errors
/// [`Error::Invalid`] naming `environment.url` and what to write instead.
pub fn validate_my_domain(url: &str, policy: UrlPolicy) -> Result<()> {
    let bad = |why: &str| {
        Error::Invalid(format!(
            "environment.url {url:?} {why}; write the My Domain URL like https://acme.my.salesforce.com"
        ))
    };
    if url.ends_with('/') {
        return Err(bad("must not end with a slash"));
    }
    let parsed = url::Url::parse(url).map_err(|_| bad("is not a URL"))?;
    let loopback_ok = policy == UrlPolicy::AllowLoopbackHttp;
    if parsed.scheme() != "https" && !(loopback_ok && parsed.scheme() == "http") {
        return Err(bad("must start with https://"));
    }
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("must be the site's address only, without a path"));
    }
    InstanceUrl::parse_with(url, policy).map_err(|e| bad(&e.to_string()))?;
    Ok(())
}

/// The org id (`00D…`) in an identity URL (`…/id/<org>/<user>`).
pub(crate) fn org_of(identity_url: Option<&str>) -> Option<String> {
    identity_url?.rsplit('/').nth(1).map(str::to_owned)
}

fn status_for(e: &Error) -> (ConnectionStatus, String) {
    match e {
        Error::Salesforce(sf) if sf.kind() == forcebridge_salesforce::ErrorKind::TokenRevoked => (
            ConnectionStatus::TokenExpired,
            "Salesforce refused the connection's token (expired or revoked); reconnect the org".into(),
        ),
        _ if e.kind() == ErrorKind::Auth => (
            ConnectionStatus::Error,
            format!("Salesforce refused the sign-in: {e}; check the connected app and the credentials"),
        ),
        _ => (ConnectionStatus::Error, format!("the access check failed: {e}")),
    }
}

fn recipe_auth(method: AuthMethod) -> RecipeAuth {
    match method {
        AuthMethod::OAuthWebServer => RecipeAuth::OauthWebServer,
        AuthMethod::ClientCredentials => RecipeAuth::ClientCredentials,
        AuthMethod::Password => RecipeAuth::Password,
        AuthMethod::JwtBearer => RecipeAuth::JwtBearer,
    }
}

fn names<T: serde::Serialize>(items: &[T]) -> String {
    let words: Vec<String> = items
        .iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    match words.as_slice() {
        [] => "none".into(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Whether `recipe`'s `[connection]` policy allows a connection made with `method` to
/// `environment`, personal or shared.
///
/// # Errors
/// [`Error::Invalid`] naming the request field at fault (`auth.method`, `environment.kind`,
/// `shared_with`) and saying what the recipe allows.
pub fn check_policy(
    recipe: &Recipe,
    method: AuthMethod,
    environment: &Environment,
    shared: bool,
) -> Result<()> {
    let policy = &recipe.connection;
    let name = &recipe.name;
    if !policy.auth.contains(&recipe_auth(method)) {
        let field = if method == AuthMethod::OAuthWebServer {
            "recipe"
        } else {
            "auth.method"
        };
        return Err(Error::Invalid(format!(
            "{field}: the recipe \"{name}\" connects with {} (connection.auth), not {}",
            names(&policy.auth),
            method.as_str()
        )));
    }
    let kind = match environment {
        Environment::Production => EnvironmentKind::Production,
        Environment::Sandbox => EnvironmentKind::Sandbox,
        Environment::MyDomain(_) => EnvironmentKind::MyDomain,
    };
    if !policy.environments.contains(&kind) {
        return Err(Error::Invalid(format!(
            "environment.kind: the recipe \"{name}\" connects to {} orgs (connection.environments), not {}",
            names(&policy.environments),
            names(&[kind])
        )));
    }
    if shared && !policy.shared {
        return Err(Error::Invalid(format!(
            "shared_with: the recipe \"{name}\" allows only personal connections (connection.shared = false); \
             leave shared_with out"
        )));
    }
    if !shared && !policy.personal {
        return Err(Error::Invalid(format!(
            "shared_with: the recipe \"{name}\" allows only shared connections (connection.personal = false): \
             a tenant admin connects the org with shared_with listing the users who may use it"
        )));
    }
    Ok(())
}

impl Engine {
    /// The loaded recipe a connection is made for (its `[connection]` policy applies).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `recipe` when no such recipe is loaded.
    pub fn connection_policy(&self, recipe: &str) -> Result<std::sync::Arc<Recipe>> {
        self.recipes().get(recipe).cloned().ok_or_else(|| {
            Error::Invalid(format!(
                "recipe: no recipe named {recipe:?} is loaded on this server; name one of the server's recipes or leave recipe out"
            ))
        })
    }

    /// Store a new connection: a personal one within its recipe's `per_owner_limit` (the
    /// default, 5, when made for no recipe), a shared one within the store's limit.
    pub(crate) async fn store_connection(
        &self,
        tenant: &TenantId,
        new: &NewConnection,
        recipe: Option<&Recipe>,
        actor: &str,
    ) -> Result<Connection> {
        match (recipe, &new.owner) {
            (Some(r), Owner::Personal { .. }) => Ok(self
                .store()
                .create_personal_connection_within(tenant, new, r.connection.per_owner_limit, actor)
                .await?),
            // Made for no recipe in particular: the recipes' default limit.
            (None, Owner::Personal { .. }) => Ok(self
                .store()
                .create_personal_connection_within(tenant, new, DEFAULT_PER_OWNER_LIMIT, actor)
                .await?),
            _ => Ok(self.store().create_connection(tenant, new, actor).await?),
        }
    }

    /// The longest `wait_for_new_app` of the loaded recipes that accept `method`.
    fn new_app_wait(&self, method: AuthMethod) -> std::time::Duration {
        use crate::recipe::ir::AuthMethod as R;
        let wanted = match method {
            AuthMethod::OAuthWebServer => R::OauthWebServer,
            AuthMethod::ClientCredentials => R::ClientCredentials,
            AuthMethod::Password => R::Password,
            AuthMethod::JwtBearer => R::JwtBearer,
        };
        self.recipes()
            .iter()
            .filter(|r| r.connection.auth.contains(&wanted))
            .filter_map(|r| r.connection.wait_for_new_app)
            .max()
            .unwrap_or_default()
    }

    fn http_policy(&self) -> UrlPolicy {
        self.config().login_hosts.url_policy
    }

    /// Create a server-to-server connection: validate, sign in once (so bad credentials are
    /// refused here, in words), then store it with its credentials sealed.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field, [`ErrorKind::Auth`] when Salesforce refuses the
    /// credentials, the store's limit error when the owner has too many connections.
    pub async fn connect_server_to_server(
        &self,
        tenant: &TenantId,
        label: &str,
        environment: Environment,
        flow: ServerToServer,
        owner: Ownership,
        actor: &str,
    ) -> Result<Connection> {
        self.connect_server_to_server_for(tenant, None, label, environment, flow, owner, actor)
            .await
    }

    /// [`Engine::connect_server_to_server`] for an integration: with `recipe`, its connection
    /// policy is checked first and its `per_owner_limit` applies to personal connections.
    ///
    /// # Errors
    /// As [`Engine::connect_server_to_server`]; [`Error::Invalid`] naming the field the recipe's
    /// policy refuses.
    #[allow(clippy::too_many_arguments)]
    pub async fn connect_server_to_server_for(
        &self,
        tenant: &TenantId,
        recipe: Option<&str>,
        label: &str,
        environment: Environment,
        flow: ServerToServer,
        owner: Ownership,
        actor: &str,
    ) -> Result<Connection> {
        let recipe = recipe.map(|r| self.connection_policy(r)).transpose()?;
        if let Some(r) = &recipe {
            let method = match &flow {
                ServerToServer::ClientCredentials { .. } => AuthMethod::ClientCredentials,
                ServerToServer::JwtBearer { .. } => AuthMethod::JwtBearer,
                ServerToServer::Password { .. } => AuthMethod::Password,
            };
            check_policy(r, method, &environment, matches!(owner, Ownership::Shared { .. }))?;
        }
        let policy = self.http_policy();
        if let Environment::MyDomain(url) = &environment {
            validate_my_domain(url, policy)?;
        }
        let nonempty = |v: &str, field: &str| {
            if v.trim().is_empty() {
                Err(Error::Invalid(format!("{field} must not be empty")))
            } else {
                Ok(())
            }
        };
        let (method, creds) = match flow {
            ServerToServer::ClientCredentials {
                client_id,
                client_secret,
            } => {
                if !matches!(environment, Environment::MyDomain(_)) {
                    return Err(Error::Invalid(
                        "environment.url: the client credentials flow signs in at the org's My Domain; give \
                         environment {\"kind\": \"my_domain\", \"url\": \"https://acme.my.salesforce.com\"}"
                            .into(),
                    ));
                }
                nonempty(&client_id, "client_id")?;
                nonempty(client_secret.expose_secret(), "client_secret")?;
                (
                    AuthMethod::ClientCredentials,
                    Credentials {
                        client_id: Some(client_id),
                        client_secret: Some(client_secret),
                        ..Default::default()
                    },
                )
            }
            ServerToServer::JwtBearer {
                client_id,
                username,
                private_key_pem,
            } => {
                nonempty(&client_id, "client_id")?;
                nonempty(&username, "username")?;
                // Checked here, where the request's field is known: an ECDSA key or a certificate
                // would otherwise fail later, at sign-in, as an unnamed invalid input.
                if forcebridge_salesforce::auth::jwt::check_key(&private_key_pem).is_err() {
                    return Err(Error::Invalid(
                        "private_key_pem must be the connected app certificate's RSA private key in PEM \
                         (-----BEGIN PRIVATE KEY-----)"
                            .into(),
                    ));
                }
                (
                    AuthMethod::JwtBearer,
                    Credentials {
                        client_id: Some(client_id),
                        username: Some(username),
                        private_key_pem: Some(private_key_pem),
                        ..Default::default()
                    },
                )
            }
            ServerToServer::Password {
                client_id,
                client_secret,
                username,
                password,
                security_token,
            } => {
                nonempty(&client_id, "client_id")?;
                nonempty(&username, "username")?;
                nonempty(password.expose_secret(), "password")?;
                let full = match security_token {
                    Some(t) => {
                        SecretString::from(format!("{}{}", password.expose_secret(), t.expose_secret()))
                    }
                    None => password,
                };
                (
                    AuthMethod::Password,
                    Credentials {
                        client_id: Some(client_id),
                        client_secret: Some(client_secret),
                        username: Some(username),
                        password: Some(full),
                        ..Default::default()
                    },
                )
            }
        };
        let (creds, org_id) = self.sign_in(method, &environment, creds).await?;
        let new = NewConnection {
            org_id,
            environment,
            auth_method: method,
            owner: owner.to_owner(),
            label: label.to_owned(),
            credentials: creds,
        };
        self.store_connection(tenant, &new, recipe.as_deref(), actor)
            .await
    }

    /// Sign in once with `creds`; returns them with the tokens and instance URL added, and the
    /// org id when the identity URL gave it.
    pub(crate) async fn sign_in(
        &self,
        method: AuthMethod,
        environment: &Environment,
        mut creds: Credentials,
    ) -> Result<(Credentials, Option<String>)> {
        let sf = to_client_credentials(method, &creds)?;
        let login = self.config().login_hosts.for_environment(environment)?;
        let mut auth = AuthConfig::new(login, sf);
        // A connected app created minutes ago is unknown to Salesforce for 2 to 10 minutes
        // (SpaceIQ's guide): wait as long as a recipe this server runs for this auth method says,
        // polling and logging, instead of refusing what is only not active yet. Recipes that say
        // nothing refuse an unknown consumer key at once.
        auth.app_activation_wait = self.new_app_wait(method);
        auth.app_activation_poll = self.config().app_activation_poll;
        let client = Client::builder(auth)
            .http(self.config().http.clone())
            .connect()
            .await?;
        let session = client.session().await?;
        // The access token is not kept: the first use signs in again, so that the client's
        // session carries the identity URL (the user id that permission sets are assigned to),
        // which a seeded token would lack.
        creds.instance_url = Some(session.instance_url.as_str().to_owned());
        Ok((creds, org_of(session.id.as_deref())))
    }

    /// The tenant's connections; with `visible_to`, only those the user owns or was granted.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn list_connections(
        &self,
        tenant: &TenantId,
        visible_to: Option<&UserId>,
    ) -> Result<Vec<Connection>> {
        Ok(self.store().list_connections(tenant, visible_to).await?)
    }

    /// One connection of the tenant.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`], also for another tenant's connection.
    pub async fn connection(&self, tenant: &TenantId, id: &ConnectionId) -> Result<Connection> {
        Ok(self.store().get_connection(tenant, id).await?)
    }

    /// Rename a connection.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty label; not found.
    pub async fn rename_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        label: &str,
        actor: &str,
    ) -> Result<Connection> {
        self.store().rename_connection(tenant, id, label, actor).await?;
        self.connection(tenant, id).await
    }

    /// Grant a shared connection to these users (replacing the list).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a personal connection; unknown users are not found.
    pub async fn grant_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        users: &[UserId],
        actor: &str,
    ) -> Result<Connection> {
        self.store().set_shared_users(tenant, id, users, actor).await?;
        self.connection(tenant, id).await
    }

    /// Re-test a connection's access (a fresh sign-in and one API call) and set its status:
    /// `active`, `token_expired` or `error` with the reason in words. A change of status raises
    /// the matching notification.
    ///
    /// # Errors
    /// Not found; the store's errors. Salesforce's refusal is a status, not an error.
    pub async fn refresh_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        actor: &str,
    ) -> Result<Connection> {
        let before = self.connection(tenant, id).await?;
        if before.status == ConnectionStatus::Revoked {
            return Err(Error::Conflict(format!(
                "connection {id} was revoked; connect the org again to make a new connection"
            )));
        }
        self.clients().forget(tenant, id);
        let test = async {
            let client = self
                .clients()
                .get(self.store(), &self.config().login_hosts, &before)
                .await?;
            client.refresh_limits().await?;
            Ok::<_, Error>(())
        }
        .await;
        let (status, reason) = match &test {
            Ok(()) => (ConnectionStatus::Active, None),
            Err(e) => {
                let (s, r) = status_for(e);
                (s, Some(r))
            }
        };
        self.set_status(&before, status, reason.as_deref(), actor).await?;
        self.connection(tenant, id).await
    }

    /// Set a connection's status, notifying the product when it changes.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn set_status(
        &self,
        conn: &Connection,
        status: ConnectionStatus,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        self.store()
            .set_connection_status(&conn.tenant_id, &conn.id, status, reason, actor)
            .await?;
        if conn.status == status {
            return Ok(());
        }
        if status == ConnectionStatus::Active {
            // Work paused while the connection could not sign in resumes now.
            self.clients().forget(&conn.tenant_id, &conn.id);
            self.kick(&conn.tenant_id, &conn.id, None).await?;
        }
        let kind = match status {
            ConnectionStatus::Active => NotificationKind::ConnectionRestored,
            ConnectionStatus::TokenExpired => NotificationKind::ConnectionTokenExpired,
            ConnectionStatus::Revoked => NotificationKind::ConnectionRevoked,
            ConnectionStatus::Error => return Ok(()),
        };
        self.notify(
            &conn.tenant_id,
            kind,
            Some(&conn.id),
            serde_json::json!({ "connection_id": conn.id, "label": conn.label, "status": status, "reason": reason }),
        )
        .await
    }

    /// Remove a connection: revoke its token at Salesforce (`/services/oauth2/revoke`; a
    /// failure there is logged, never blocks the removal), then delete it with its installs.
    ///
    /// # Errors
    /// Not found; the store's errors.
    pub async fn remove_connection(&self, tenant: &TenantId, id: &ConnectionId, actor: &str) -> Result<()> {
        let conn = self.connection(tenant, id).await?;
        if let Ok(creds) = self.store().credentials(tenant, id).await {
            let token = creds.refresh_token.or(creds.access_token);
            if let Some(token) = token {
                let revoke = async {
                    let login = self.config().login_hosts.for_environment(&conn.environment)?;
                    let http = self.config().http.build()?;
                    let url = login.url().join("/services/oauth2/revoke");
                    let resp = http
                        .post(url)
                        .form(&[("token", token.expose_secret())])
                        .send()
                        .await
                        .map_err(|e| Error::Internal(format!("revoke request failed: {e}")))?;
                    Ok::<_, Error>(resp.status())
                }
                .await;
                match revoke {
                    Ok(s) if s.is_success() => {}
                    Ok(s) => {
                        tracing::warn!(connection = %id, status = %s, "Salesforce did not revoke the token")
                    }
                    Err(e) => tracing::warn!(connection = %id, error = %e, "revoking the token failed"),
                }
            }
        }
        self.clients().forget(tenant, id);
        self.store().delete_connection(tenant, id, actor).await?;
        self.notify(
            tenant,
            NotificationKind::ConnectionRevoked,
            Some(id),
            serde_json::json!({ "connection_id": id, "label": conn.label, "removed": true }),
        )
        .await
    }

    /// The access doctor: whether the connection's user can do what `needs` lists, with a
    /// remedy per finding.
    ///
    /// # Errors
    /// Not found; sign-in errors (the connection's status is updated from them).
    pub async fn doctor(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        needs: &Requirements,
        actor: &str,
    ) -> Result<AccessReport> {
        let conn = self.connection(tenant, id).await?;
        let client = self
            .clients()
            .get(self.store(), &self.config().login_hosts, &conn)
            .await?;
        match client.check_access(needs).await {
            Ok(r) => Ok(r),
            Err(e) => {
                let e = Error::from(e);
                let (s, r) = status_for(&e);
                self.set_status(&conn, s, Some(&r), actor).await?;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn my_domain_urls_are_checked_in_words() {
        let ok = validate_my_domain("https://acme.my.salesforce.com", UrlPolicy::HttpsOnly);
        assert!(ok.is_ok(), "{ok:?}");
        for (url, says) in [
            ("https://acme.my.salesforce.com/", "slash"),
            ("http://acme.my.salesforce.com", "https://"),
            ("https://acme.my.salesforce.com/services", "without a path"),
            ("acme.my.salesforce.com", "not a URL"),
        ] {
            let e = validate_my_domain(url, UrlPolicy::HttpsOnly)
                .unwrap_err()
                .to_string();
            assert!(e.contains("environment.url") && e.contains(says), "{url}: {e}");
        }
        assert!(validate_my_domain("http://127.0.0.1:4000", UrlPolicy::AllowLoopbackHttp).is_ok());
    }
}
