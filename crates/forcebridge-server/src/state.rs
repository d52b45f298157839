//! The server's shared state: the engine, the OAuth app, limits and the per-tenant rate limiter.
//! Handlers take it by `State<AppState>`; it imports no handler.
//!
//! Invariant: cheap to clone (everything behind `Arc`), no per-request state.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use forcebridge_engine::Engine;
use forcebridge_engine::control::oauth::OAuthApp;
use forcebridge_store::TenantId;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Limits and knobs of the HTTP API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The vendor's connected app for the web-server OAuth flow (`None`: the flow is off).
    pub oauth_app: Option<OAuthApp>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most events in one `POST /v1/events`.
    pub max_batch: usize,
    /// Requests per second one tenant may make (sustained), and the burst above it.
    pub rate_per_second: u32,
    /// Burst size of the rate limit.
    pub rate_burst: u32,
    /// Longest session a vendor may mint.
    pub max_session_ttl: Duration,
    /// Default session lifetime.
    pub default_session_ttl: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            oauth_app: None,
            max_body_bytes: 1024 * 1024,
            max_batch: 500,
            rate_per_second: 200,
            rate_burst: 400,
            max_session_ttl: Duration::from_secs(24 * 3600),
            default_session_ttl: Duration::from_secs(3600),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// Per-tenant request rate limiter.
    pub limiter: Arc<DefaultKeyedRateLimiter<TenantId>>,
    /// Renders `/metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `engine` with `config`.
    pub fn new(engine: Engine, config: ServerConfig) -> Self {
        let per_sec = NonZeroU32::new(config.rate_per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst));
        Self {
            engine,
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            metrics: crate::metrics::handle(),
        }
    }
}
