//! The engine's clock: the store's [`forcebridge_store::Clock`] (so that the store and the engine
//! agree on "now") plus sleeping, so that tests move time instead of waiting.
//!
//! Invariant: engine code never calls `Utc::now`, `SystemTime::now` or `tokio::time::sleep`
//! directly (clippy.toml bans them); it asks its [`Clock`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use forcebridge_store as store;

/// Now and sleep, injected.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<dyn store::Clock>,
    manual: Option<Arc<store::ManualClock>>,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self {
            inner: Arc::new(store::SystemClock),
            manual: None,
        }
    }

    /// A manual clock: `now` stays put until moved; `sleep` moves it forward instead of waiting.
    pub fn manual(clock: Arc<store::ManualClock>) -> Self {
        Self {
            inner: clock.clone(),
            manual: Some(clock),
        }
    }

    /// The store-side clock (hand this to `StoreOptions::clock`).
    pub fn store_clock(&self) -> Arc<dyn store::Clock> {
        self.inner.clone()
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    /// Waits `d` (real clock) or advances the manual clock by `d` and yields.
    pub async fn sleep(&self, d: Duration) {
        match &self.manual {
            Some(m) => {
                m.advance(chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
                tokio::task::yield_now().await;
            }
            #[allow(clippy::disallowed_methods)] // the one place real sleeping is allowed
            None => tokio::time::sleep(d).await,
        }
    }
}
