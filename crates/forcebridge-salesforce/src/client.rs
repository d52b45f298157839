//! [`Client`]: one authorised connection to one org, and the request pipeline every API goes through.
//!
//! Pipeline for each call: budget check → current session → send → read `Sforce-Limit-Info` →
//! on `INVALID_SESSION_ID` renew the session once (single-flight) and resend → on transient
//! failures retry with backoff ([`RetryPolicy`]).
//!
//! Invariant: every request to the org passes [`Client::send`], so no call escapes the budget,
//! the session renewal or the retry rules.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::session::{Authenticator, Session};
use crate::auth::{AuthConfig, TokenSet};
use crate::error::{Error, Result, api_error};
use crate::http::HttpConfig;
use crate::limits::{ApiBudget, OrgLimits};
use crate::rest::describe::DescribeCache;
use crate::retry::RetryPolicy;
use crate::types::{ApiVersion, InstanceUrl};

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    auth: AuthConfig,
    http: HttpConfig,
    version: ApiVersion,
    retry: RetryPolicy,
    budget: Option<Arc<ApiBudget>>,
    enforce_budget: bool,
    initial: Option<TokenSet>,
    describe_ttl: Duration,
}

impl ClientBuilder {
    /// Starts from how to sign in.
    pub fn new(auth: AuthConfig) -> Self {
        ClientBuilder {
            auth,
            http: HttpConfig::default(),
            version: ApiVersion::DEFAULT,
            retry: RetryPolicy::default(),
            budget: None,
            enforce_budget: true,
            initial: None,
            describe_ttl: Duration::from_secs(3600),
        }
    }

    /// Network settings (CA, timeouts, loopback http).
    pub fn http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// The REST API version.
    pub fn api_version(mut self, v: ApiVersion) -> Self {
        self.version = v;
        self
    }

    /// The retry policy for transient failures.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }

    /// The org's shared budget (share one `Arc` between every client and task of an org).
    pub fn budget(mut self, b: Arc<ApiBudget>) -> Self {
        self.budget = Some(b);
        self
    }

    /// Whether calls are refused with [`Error::BudgetExhausted`] when the budget says wait
    /// (default true). When false the budget is only observed.
    pub fn enforce_budget(mut self, yes: bool) -> Self {
        self.enforce_budget = yes;
        self
    }

    /// Tokens loaded from the store, so no sign-in is needed until the session expires.
    pub fn initial_tokens(mut self, t: TokenSet) -> Self {
        self.initial = Some(t);
        self
    }

    /// How long a describe stays cached before it is revalidated.
    pub fn describe_ttl(mut self, ttl: Duration) -> Self {
        self.describe_ttl = ttl;
        self
    }

    /// Builds the client without signing in (the first call signs in).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the HTTP client cannot be set up (bad CA) or the login host is
    /// http outside the loopback policy.
    pub fn build(self) -> Result<Client> {
        let login = self.auth.login_host.url();
        InstanceUrl::parse_with(login.as_str(), self.http.url_policy)?;
        let http = self.http.build()?;
        let auth = Authenticator::new(
            http.clone(),
            self.auth,
            self.http.url_policy,
            self.retry.clone(),
            self.initial,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                auth,
                version: self.version,
                retry: self.retry,
                budget: self.budget.unwrap_or_default(),
                enforce_budget: self.enforce_budget,
                describes: DescribeCache::new(self.describe_ttl),
                extra_ca_pem: self.http.extra_ca_pem.clone(),
            }),
        })
    }

    /// Builds the client and signs in now, so bad credentials fail here.
    ///
    /// # Errors
    /// As [`Self::build`], plus every sign-in error.
    pub async fn connect(self) -> Result<Client> {
        let c = self.build()?;
        c.inner.auth.session().await?;
        Ok(c)
    }
}

/// A connection to one org. Cheap to clone; clones share the session, budget and caches.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) auth: Authenticator,
    pub(crate) version: ApiVersion,
    pub(crate) retry: RetryPolicy,
    pub(crate) budget: Arc<ApiBudget>,
    pub(crate) enforce_budget: bool,
    pub(crate) describes: DescribeCache,
    /// CA certificates trusted beyond the web's, for connections not made by `http` (gRPC).
    pub(crate) extra_ca_pem: Vec<Vec<u8>>,
}

/// A request body, kept as bytes so a retry can resend it.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(Bytes),
    Xml(Bytes),
}

/// One request through the pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    /// `/services/...` as is; anything else is relative to `/services/data/vNN.0/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Body>,
    pub headers: Vec<(&'static str, String)>,
    /// Whether resending cannot apply the change twice.
    pub idempotent: bool,
}

impl Req {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotent = method != Method::POST;
        Req {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
            idempotent,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Req::new(Method::GET, path)
    }

    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::InvalidInput(format!("cannot encode the request body as JSON: {e}")))?;
        self.body = Some(Body::Json(Bytes::from(bytes)));
        Ok(self)
    }

    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }

    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }

    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::decode(what, e, &self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    /// Starts building a client.
    pub fn builder(auth: AuthConfig) -> ClientBuilder {
        ClientBuilder::new(auth)
    }

    /// The REST API version in use.
    pub fn api_version(&self) -> ApiVersion {
        self.inner.version
    }

    /// The org's budget (shared).
    pub fn budget(&self) -> &Arc<ApiBudget> {
        &self.inner.budget
    }

    /// How many token requests this client made (sign-ins and refreshes).
    pub fn token_requests(&self) -> u64 {
        self.inner.auth.token_requests()
    }

    /// The current session (signing in if needed).
    ///
    /// # Errors
    /// Sign-in errors.
    pub async fn session(&self) -> Result<Arc<Session>> {
        self.inner.auth.session().await
    }

    /// The org's instance URL (signing in if needed).
    ///
    /// # Errors
    /// Sign-in errors.
    pub async fn instance_url(&self) -> Result<InstanceUrl> {
        Ok(self.session().await?.instance_url.clone())
    }

    pub(crate) fn url_for(&self, session: &Session, path: &str) -> String {
        if path.starts_with("/services/") {
            session.instance_url.join(path)
        } else {
            let rel = path.trim_start_matches('/');
            session
                .instance_url
                .join(&format!("{}/{}", self.inner.version.data_path(), rel))
        }
    }

    /// Sends a request through the whole pipeline; error statuses become [`Error::Api`].
    pub(crate) async fn send(&self, req: Req) -> Result<Resp> {
        self.spend_and_retry(&req, || self.send_authenticated(&req)).await
    }

    /// The budget check and the retry policy around one request's attempts.
    async fn spend_and_retry<T, F, Fut>(&self, req: &Req, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        if self.inner.enforce_budget {
            self.inner.budget.try_spend(1)?;
        }
        let what = format!("{} {}", req.method, req.path);
        self.inner.retry.run(&what, req.idempotent, attempt).await
    }

    /// [`Client::send`] for an answer too big to hold (Bulk result files): retries, session
    /// renewal and error statuses are handled as there, up to the response head; the caller reads
    /// the body as it arrives.
    pub(crate) async fn send_streamed(&self, req: Req) -> Result<reqwest::Response> {
        self.spend_and_retry(&req, || self.respond_authenticated(&req))
            .await
    }

    async fn send_authenticated(&self, req: &Req) -> Result<Resp> {
        let resp = self.respond_authenticated(req).await?;
        read_body(resp).await
    }

    /// Sends once with the current session, and once more after renewing it if it had expired;
    /// a 2xx response is returned with its body unread.
    async fn respond_authenticated(&self, req: &Req) -> Result<reqwest::Response> {
        let session = self.inner.auth.session().await?;
        match self.respond_once(&session, req).await {
            Err(e) if e.is_session_expired() => {
                tracing::debug!(generation = session.generation, "session expired; renewing once");
                let fresh = self.inner.auth.renew(session.generation).await?;
                self.respond_once(&fresh, req).await
            }
            other => other,
        }
    }

    async fn respond_once(&self, session: &Session, req: &Req) -> Result<reqwest::Response> {
        let url = self.url_for(session, &req.path);
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), &url)
            .bearer_auth(session.access_token.expose_secret());
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        for (k, v) in &req.headers {
            rb = rb.header(*k, v.as_str());
        }
        rb = match &req.body {
            Some(Body::Json(b)) => rb.header("Content-Type", "application/json").body(b.clone()),
            Some(Body::Xml(b)) => rb
                .header("Content-Type", "text/xml; charset=utf-8")
                .header("SOAPAction", "\"\"")
                .body(b.clone()),
            None => rb,
        };
        let resp = rb.send().await.map_err(|e| Error::Transport {
            not_sent: e.is_connect(),
            source: e,
        })?;
        self.check(resp).await
    }

    /// Sends a streamed body once (no retry is possible for a stream): bulk uploads.
    pub(crate) async fn send_stream(
        &self,
        method: Method,
        path: &str,
        content_type: &'static str,
        body: reqwest::Body,
    ) -> Result<Resp> {
        if self.inner.enforce_budget {
            self.inner.budget.try_spend(1)?;
        }
        let session = self.inner.auth.session().await?;
        let url = self.url_for(&session, path);
        let resp = self
            .inner
            .http
            .request(method, &url)
            .bearer_auth(session.access_token.expose_secret())
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| Error::Transport {
                not_sent: e.is_connect(),
                source: e,
            })?;
        self.finish(resp).await
    }

    async fn finish(&self, resp: reqwest::Response) -> Result<Resp> {
        read_body(self.check(resp).await?).await
    }

    /// Observes `Sforce-Limit-Info`; a 2xx answer is returned with its body unread, any other
    /// becomes its [`Error`].
    async fn check(&self, resp: reqwest::Response) -> Result<reqwest::Response> {
        let status = resp.status().as_u16();
        // Every answer of an API call (sign-ins excluded), by status class: what the org's API
        // request count is made of, seen from this process.
        let class = match status {
            200..=299 => "2xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "other",
        };
        metrics::counter!("forcebridge_salesforce_requests_total", "status" => class).increment(1);
        let headers = resp.headers().clone();
        if let Some(v) = headers.get("Sforce-Limit-Info").and_then(|v| v.to_str().ok()) {
            self.inner.budget.observe_header(v);
        }
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let body = resp.bytes().await.map_err(|e| Error::Transport {
            not_sent: false,
            source: e,
        })?;
        let retry_after = headers
            .get("Retry-After")
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let err = api_error(status, retry_after, &body);
        if err.error_code() == Some("REQUEST_LIMIT_EXCEEDED")
            && err.kind() == crate::ErrorKind::LimitExhausted
        {
            self.inner.budget.mark_exhausted();
        }
        Err(err)
    }

    /// GET a JSON resource (relative to the data path unless it starts with `/services/`).
    ///
    /// # Errors
    /// Any [`Error`] from the pipeline, or [`Error::Decode`].
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(Req::get(path)).await?.json(path)
    }

    /// Sends any JSON request and decodes the answer (an escape hatch for resources without a
    /// typed method). `body` may be `None`.
    ///
    /// # Errors
    /// Any [`Error`] from the pipeline, or [`Error::Decode`]; an empty answer decodes as JSON `null`.
    pub async fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let mut req = Req::new(method, path);
        if let Some(b) = body {
            req = req.json(b)?;
        }
        let resp = self.send(req).await?;
        if resp.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        resp.json(path)
    }

    /// Reads `/limits` and updates the budget from `DailyApiRequests`.
    ///
    /// # Errors
    /// Pipeline errors.
    pub async fn refresh_limits(&self) -> Result<OrgLimits> {
        let resp = self.send(Req::get("limits")).await?;
        let limits = OrgLimits::parse(&resp.body)?;
        if let Some(d) = limits.daily_api_requests() {
            self.inner
                .budget
                .observe(d.max.saturating_sub(d.remaining), d.max, chrono::Utc::now());
        }
        Ok(limits)
    }
}

/// Reads a checked (2xx) response's whole body.
async fn read_body(resp: reqwest::Response) -> Result<Resp> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| Error::Transport {
        not_sent: false,
        source: e,
    })?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}
