//! [`Engine`]: the one handle the server and the CLI hold. It owns the store, the clock, the
//! compiled recipes, the Salesforce clients per connection and the configuration; the areas
//! (`control`, `install`, `runtime`) add their methods to it in their own modules.
//!
//! Invariant: an `Engine` is cheap to clone (everything inside is shared), and holds no
//! per-request state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use forcebridge_salesforce::HttpConfig;
use forcebridge_store::Store;

use crate::clock::Clock;
use crate::recipe::ir::Recipe;

/// How the engine behaves; defaults suit production.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// HTTP settings for every Salesforce client (extra CA for the emulator, loopback http).
    pub http: HttpConfig,
    /// Most deliveries a drain takes in one batch (each step then calls Salesforce once per 200
    /// records, or per 200 values of a query's IN list).
    pub batch_size: usize,
    /// At or above this many records for one step in a batch, the step goes through Bulk API 2.0.
    pub bulk_threshold: usize,
    /// Most deliveries one drain takes at once when its connection has a backlog (the batch before
    /// was full), so that large steps go through Bulk API 2.0.
    pub bulk_batch_size: usize,
    /// How often a Bulk API 2.0 job's state is polled.
    pub bulk_poll_interval: Duration,
    /// Percentage of the org's daily API requests at which work is deferred instead of sent.
    pub budget_threshold_pct: u8,
    /// Attempts of a delivery before it is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay of a delivery (doubled each attempt, capped at an hour).
    pub retry_base: Duration,
    /// The worker's name in leases (node + process).
    pub node_name: String,
    /// Where production and sandbox connections sign in.
    pub login_hosts: crate::control::clients::LoginHosts,
    /// How each Salesforce client retries a transient failure before the engine's own retry
    /// (with backoff, per delivery) takes over.
    pub retry: forcebridge_salesforce::RetryPolicy,
    /// How often a sign-in is retried while a new connected app is not active yet (the wait
    /// itself comes from the recipes' `connection.wait_for_new_app`).
    pub app_activation_poll: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            // Several flows share a batch; a thousand deliveries give each flow of a busy recipe a few
            // hundred events, so its steps fill whole Collections and query calls.
            batch_size: 1_000,
            bulk_threshold: 2_000,
            bulk_batch_size: 10_000,
            bulk_poll_interval: Duration::from_secs(2),
            budget_threshold_pct: 90,
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            node_name: "forcebridge".into(),
            login_hosts: crate::control::clients::LoginHosts::default(),
            retry: forcebridge_salesforce::RetryPolicy::default(),
            app_activation_poll: Duration::from_secs(20),
        }
    }
}

/// The recipes an engine knows, by name.
#[derive(Debug, Clone, Default)]
pub struct Recipes {
    by_name: BTreeMap<String, Arc<Recipe>>,
}

impl Recipes {
    /// A catalogue of compiled recipes.
    pub fn new(recipes: impl IntoIterator<Item = Recipe>) -> Self {
        Self {
            by_name: recipes
                .into_iter()
                .map(|r| (r.name.clone(), Arc::new(r)))
                .collect(),
        }
    }

    /// The recipe called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Recipe>> {
        self.by_name.get(name)
    }

    /// Every recipe, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Recipe>> {
        self.by_name.values()
    }
}

/// The engine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) recipes: Recipes,
    pub(crate) config: EngineConfig,
    pub(crate) clients: crate::control::clients::ClientPool,
}

impl Engine {
    /// An engine over `store` with these recipes. The store must have been opened with the same
    /// clock (`clock.store_clock()`) and a vault.
    pub fn new(store: Store, clock: Clock, recipes: Recipes, config: EngineConfig) -> Self {
        let clients = crate::control::clients::ClientPool::new(config.http.clone(), config.retry.clone());
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                recipes,
                config,
                clients,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The recipes.
    pub fn recipes(&self) -> &Recipes {
        &self.inner.recipes
    }

    /// The Salesforce clients per connection.
    pub fn clients(&self) -> &crate::control::clients::ClientPool {
        &self.inner.clients
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }
}
