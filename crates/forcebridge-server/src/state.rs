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
    /// Requests per second one tenant may make, sustained (fractions allowed: 0.5 is one
    /// every two seconds).
    pub rate_per_second: f64,
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
            rate_per_second: 200.0,
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
        let burst = NonZeroU32::new(config.rate_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let rate = if config.rate_per_second.is_finite() && config.rate_per_second > 0.0 {
            config.rate_per_second
        } else {
            1.0
        };
        let period = Duration::from_secs_f64((1.0 / rate).min(86_400.0));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let limiter = RateLimiter::keyed(quota);
        Self {
            engine,
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            metrics: crate::metrics::handle(),
        }
    }
}
