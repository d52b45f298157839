//! The web-server OAuth flow (authorization code + PKCE) for personal and shared connections:
//! [`Engine::start_oauth`] makes the authorize URL (production, sandbox or a My Domain host) and
//! remembers `state` (hashed), the PKCE verifier (sealed) and what to create, bound to the
//! session that asked; [`Engine::finish_oauth`] takes that record once, checks the session is
//! still live, exchanges the code and stores the connection with its tokens sealed.
//!
//! A flow started for a recipe (named, or the session's) follows its connection policy.
//!
//! Invariant: a `state` works once, within its lifetime, and only while the session that started
//! the flow is live; the code is exchanged with the verifier of that same flow.

use std::time::Duration;

use forcebridge_salesforce::auth::pkce::AuthorizeRequest;
use forcebridge_salesforce::auth::{CodeExchange, exchange_code};
use forcebridge_store::{
    AuthMethod, Connection, Credentials, Environment, NewConnection, Role, Session, TenantId, UserId,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::control::connections::{Ownership, check_policy, validate_my_domain};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// How long a started flow waits for its callback.
pub const OAUTH_TTL: Duration = Duration::from_secs(15 * 60);

/// The vendor's connected app, used for every web-server flow.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// Consumer key.
    pub client_id: String,
    /// Consumer secret (optional with PKCE).
    pub client_secret: Option<SecretString>,
    /// The callback URL registered on the connected app (`https://…/v1/oauth/callback`).
    pub redirect_uri: String,
}

/// What the person asked to connect.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthRequest {
    /// Label of the connection to create.
    pub label: String,
    /// Where to sign in.
    pub environment: Environment,
    /// Shared (an admin's, granted to these users) instead of personal.
    #[serde(default)]
    pub shared_with: Option<Vec<UserId>>,
    /// The integration the connection is for (default: the session's): its connection policy
    /// applies.
    #[serde(default)]
    pub recipe: Option<String>,
}

/// The stored form of a started flow (`oauth_pending.request`).
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    req: OAuthRequest,
    user_id: UserId,
}

impl Engine {
    /// Start the web-server flow for the session's user; returns the authorize URL to open.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad label or My Domain URL, or a member asking for a shared
    /// connection.
    pub async fn start_oauth(&self, session: &Session, app: &OAuthApp, req: OAuthRequest) -> Result<String> {
        if req.label.trim().is_empty() || req.label.len() > 200 {
            return Err(Error::Invalid("label must be 1 to 200 characters".into()));
        }
        if let Environment::MyDomain(url) = &req.environment {
            validate_my_domain(url, self.config().login_hosts.url_policy)?;
        }
        if req.shared_with.is_some() && session.role != Role::Admin {
            return Err(Error::Invalid(
                "shared_with: only a tenant admin may create a shared connection; connect a personal one instead".into(),
            ));
        }
        let mut req = req;
        if req.recipe.is_none() {
            req.recipe.clone_from(&session.recipe);
        }
        if let Some(name) = &req.recipe {
            let recipe = self.connection_policy(name)?;
            check_policy(
                &recipe,
                AuthMethod::OAuthWebServer,
                &req.environment,
                req.shared_with.is_some(),
            )?;
            // Refused now rather than after the person signed in to Salesforce; the callback
            // checks again in the transaction that stores the connection.
            let limit = recipe.connection.per_owner_limit;
            if req.shared_with.is_none() {
                let own = self
                    .store()
                    .list_connections(&session.tenant_id, Some(&session.user_id))
                    .await?
                    .into_iter()
                    .filter(|c| matches!(&c.owner, forcebridge_store::Owner::Personal { user_id } if *user_id == session.user_id))
                    .count();
                if own >= usize::try_from(limit).unwrap_or(usize::MAX) {
                    return Err(Error::Store(forcebridge_store::Error::ConnectionLimit {
                        owner: session.user_id.to_string(),
                        limit,
                    }));
                }
            }
        }
        let login_host = self.config().login_hosts.for_environment(&req.environment)?;
        let auth = AuthorizeRequest {
            login_host,
            client_id: app.client_id.clone(),
            redirect_uri: app.redirect_uri.clone(),
            scopes: vec!["api".into(), "refresh_token".into()],
            prompt: Some("login consent".into()),
        }
        .start();
        let pending = Pending {
            req,
            user_id: session.user_id.clone(),
        };
        let value =
            serde_json::to_value(&pending).map_err(|e| Error::Internal(format!("oauth request: {e}")))?;
        self.store()
            .begin_oauth(
                &session.tenant_id,
                &session.id,
                &auth.state,
                &auth.code_verifier,
                &value,
                OAUTH_TTL,
            )
            .await?;
        Ok(auth.url)
    }

    /// Finish the flow: the callback's `state` and `code`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown, used or expired `state` or a session that ended;
    /// Salesforce's refusal of the code; the owner's connection limit.
    pub async fn finish_oauth(
        &self,
        app: &OAuthApp,
        state: &str,
        code: &str,
    ) -> Result<(TenantId, Connection)> {
        let pending = self.store().take_oauth(state).await?.ok_or_else(|| {
            Error::Invalid(
                "state: this sign-in link is unknown, already used or expired; start connecting again".into(),
            )
        })?;
        let session = self
            .store()
            .live_session(&pending.tenant_id, &pending.session_id)
            .await?
            .ok_or_else(|| {
                Error::Invalid("state: the session that started this sign-in has ended; sign in again".into())
            })?;
        let p: Pending = serde_json::from_value(pending.request)
            .map_err(|e| Error::Internal(format!("stored oauth request: {e}")))?;
        let login_host = self.config().login_hosts.for_environment(&p.req.environment)?;
        let http = self.config().http.build()?;
        let tokens = exchange_code(
            &http,
            &CodeExchange {
                login_host,
                client_id: app.client_id.clone(),
                client_secret: app.client_secret.clone(),
                redirect_uri: app.redirect_uri.clone(),
            },
            code,
            pending.code_verifier.expose_secret(),
            self.config().login_hosts.url_policy,
        )
        .await?;
        let creds = Credentials {
            // Not kept: the first use signs in with the refresh token, so that the session
            // carries the identity URL (see `connections::sign_in`).
            access_token: None,
            refresh_token: tokens.refresh_token.clone(),
            client_id: Some(app.client_id.clone()),
            client_secret: app.client_secret.clone(),
            instance_url: Some(tokens.instance_url.as_str().to_owned()),
            ..Default::default()
        };
        let org_id = tokens.org_id().map(str::to_owned);
        let owner = match p.req.shared_with {
            Some(users) => Ownership::Shared {
                admin: session.user_id.clone(),
                users,
            },
            None => Ownership::Personal(p.user_id),
        };
        let actor = format!("session:{}", session.id);
        let new = NewConnection {
            org_id,
            environment: p.req.environment,
            auth_method: AuthMethod::OAuthWebServer,
            owner: owner.to_owner(),
            label: p.req.label,
            credentials: creds,
        };
        let recipe = match &p.req.recipe {
            Some(name) => Some(self.connection_policy(name)?),
            None => None,
        };
        let conn = self
            .store_connection(&session.tenant_id, &new, recipe.as_deref(), &actor)
            .await?;
        Ok((session.tenant_id, conn))
    }
}
