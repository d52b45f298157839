//! The current session and its single-flight renewal.
//!
//! Every request reads the current [`Session`]; when Salesforce answers `INVALID_SESSION_ID`, the
//! request calls [`Authenticator::renew`] with the generation it used. Only the first caller for a
//! generation signs in again; everyone else waits on the same lock and then sees the new
//! generation — so fifty concurrent calls meeting an expired session cause exactly one token
//! request. A refused renewal (`invalid_grant`) is remembered for that generation, so the waiters
//! get the same typed error without asking Salesforce again.
//!
//! Invariant: the generation only grows, and a renewal happens at most once per generation.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use secrecy::SecretString;

use super::{AuthConfig, Credentials, TokenSet, sign_in};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::types::{InstanceUrl, UrlPolicy};

/// A usable session: token, org URL, and the generation that identifies it.
#[derive(Clone)]
pub struct Session {
    /// The bearer token.
    pub access_token: SecretString,
    /// The org's instance URL.
    pub instance_url: InstanceUrl,
    /// Increases by one with every sign-in.
    pub generation: u64,
    /// The identity URL, when known.
    pub id: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("instance_url", &self.instance_url)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct RenewState {
    /// A refusal remembered for a generation: (generation, error to repeat).
    refused: Option<(u64, Refusal)>,
}

#[derive(Debug, Clone)]
enum Refusal {
    Revoked(String),
    OAuth {
        status: u16,
        error: String,
        description: String,
    },
}

impl Refusal {
    fn to_error(&self) -> Error {
        match self {
            Refusal::Revoked(d) => Error::TokenExpiredOrRevoked {
                description: d.clone(),
            },
            Refusal::OAuth {
                status,
                error,
                description,
            } => Error::OAuth {
                status: *status,
                error: error.clone(),
                description: description.clone(),
            },
        }
    }
}

/// Holds the session and renews it, once per generation.
#[derive(Debug)]
pub struct Authenticator {
    http: reqwest::Client,
    config: AuthConfig,
    policy: UrlPolicy,
    retry: RetryPolicy,
    credentials: RwLock<Credentials>,
    current: RwLock<Option<Arc<Session>>>,
    renew_lock: tokio::sync::Mutex<RenewState>,
    token_requests: std::sync::atomic::AtomicU64,
}

impl Authenticator {
    pub(crate) fn new(
        http: reqwest::Client,
        config: AuthConfig,
        policy: UrlPolicy,
        retry: RetryPolicy,
        initial: Option<TokenSet>,
    ) -> Self {
        let current = initial.map(|t| {
            Arc::new(Session {
                access_token: t.access_token,
                instance_url: t.instance_url,
                generation: 1,
                id: t.id,
            })
        });
        Authenticator {
            http,
            credentials: RwLock::new(config.credentials.clone()),
            config,
            policy,
            retry,
            current: RwLock::new(current),
            renew_lock: tokio::sync::Mutex::new(RenewState::default()),
            token_requests: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many sign-ins this authenticator performed (for observability and tests).
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn current(&self) -> Option<Arc<Session>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    /// The current session, signing in first if there is none.
    ///
    /// # Errors
    /// Sign-in failures: [`Error::TokenExpiredOrRevoked`], [`Error::OAuth`],
    /// [`Error::ConnectedAppNotReady`], transport errors after retries.
    pub async fn session(&self) -> Result<Arc<Session>> {
        match self.current() {
            Some(s) => Ok(s),
            None => self.renew(0).await,
        }
    }

    /// Renews the session that had generation `stale` — unless someone already did, in which case
    /// the newer session is returned without a token request.
    ///
    /// # Errors
    /// As [`Self::session`].
    pub async fn renew(&self, stale: u64) -> Result<Arc<Session>> {
        let mut state = self.renew_lock.lock().await;
        if let Some(s) = self.current()
            && s.generation > stale
        {
            return Ok(s);
        }
        if let Some((generation, refusal)) = &state.refused
            && *generation == stale
        {
            return Err(refusal.to_error());
        }
        match self.sign_in_patiently().await {
            Ok(tokens) => {
                if let Some(store) = &self.config.store {
                    store.save(&tokens).await.map_err(Error::TokenStore)?;
                }
                if let (Some(rt), Ok(mut creds)) = (&tokens.refresh_token, self.credentials.write())
                    && let Credentials::RefreshToken { refresh_token, .. } = &mut *creds
                {
                    *refresh_token = rt.clone();
                }
                let generation = stale.max(self.current().map_or(0, |s| s.generation)) + 1;
                let session = Arc::new(Session {
                    access_token: tokens.access_token,
                    instance_url: tokens.instance_url,
                    generation,
                    id: tokens.id,
                });
                if let Ok(mut g) = self.current.write() {
                    *g = Some(session.clone());
                }
                state.refused = None;
                tracing::info!(generation, "salesforce session renewed");
                Ok(session)
            }
            Err(e) => {
                let refusal = match &e {
                    Error::TokenExpiredOrRevoked { description } => {
                        Some(Refusal::Revoked(description.clone()))
                    }
                    Error::OAuth {
                        status,
                        error,
                        description,
                    } => Some(Refusal::OAuth {
                        status: *status,
                        error: error.clone(),
                        description: description.clone(),
                    }),
                    _ => None,
                };
                if let Some(r) = refusal {
                    state.refused = Some((stale, r));
                }
                Err(e)
            }
        }
    }

    /// One sign-in, retried for transient failures and, patiently, for a connected app that
    /// Salesforce does not know yet (`invalid_client_id` right after it was created).
    async fn sign_in_patiently(&self) -> Result<TokenSet> {
        let started = Instant::now();
        let creds = self
            .credentials
            .read()
            .map_err(|_| Error::TokenStore("credentials lock poisoned".into()))?
            .clone();
        if let Credentials::AccessToken { .. } = creds
            && self.current().is_some()
        {
            return Err(Error::OAuth {
                status: 401,
                error: "INVALID_SESSION_ID".into(),
                description: "the access token expired and these credentials cannot renew it".into(),
            });
        }
        loop {
            let attempt = self
                .retry
                .run("oauth token", true, || {
                    self.token_requests
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    sign_in(&self.http, &self.config.login_host, &creds, self.policy)
                })
                .await;
            match attempt {
                Err(Error::OAuth {
                    error, description, ..
                }) if error == "invalid_client_id" => {
                    let waited = started.elapsed();
                    if waited + self.config.app_activation_poll > self.config.app_activation_wait {
                        return Err(Error::ConnectedAppNotReady { description, waited });
                    }
                    tracing::warn!(
                        waited_s = waited.as_secs(),
                        retry_in_s = self.config.app_activation_poll.as_secs(),
                        "salesforce does not know the connected app yet; a new connected app takes 2-10 \
                         minutes to activate, retrying (if it is not new, check the consumer key)"
                    );
                    tokio::time::sleep(self.config.app_activation_poll).await;
                }
                other => return other,
            }
        }
    }
}
