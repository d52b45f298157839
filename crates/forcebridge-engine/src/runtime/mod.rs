//! The outbound runtime: events in, Salesforce writes out, exactly once.
//!
//! `ingest` makes events durable (with their deliveries, one per install whose recipe handles the
//! event type) before it returns; a per-connection drain job leases due deliveries in batches and
//! runs each flow set-at-a-time; every write is journaled; undo reverts from the journal.
//!
//! Invariant: at most one drain runs per connection at a time (the queue's concurrency group), so
//! the deliveries of one connection are applied in order and a batch sees every earlier write.

pub mod batch;
pub mod outcome;
pub mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use forcebridge_store::worker::{WorkerConfig, handler_fn};
use forcebridge_store::{
    ConnectionId, ConnectionStatus, Delivery, DeliveryFilter, DeliveryState, DeliveryUpdate, EventId, Job,
    JobOutcome, JournalRow, LeaseRequest, NewDelivery, NewJob, RecipeInstall, TenantId,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::batch::{Ctx, Item, ItemState};
use self::outcome::Fate;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::recipe::ir::{Recipe, Scope};

/// The queue job kind of a connection's drain.
pub const DRAIN_KIND: &str = "engine.drain";

/// How long deferred work waits when the API budget is near its limit.
const BUDGET_WAIT: Duration = Duration::from_secs(15 * 60);

/// Batches one drain job runs before handing the connection back to the queue (fairness).
const BATCHES_PER_JOB: usize = 50;

/// How a node's drain workers lease their jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// How long a drain's lease lasts without a heartbeat: after a node dies, its connections
    /// wait this long (plus up to half of it for the reaper) before another node takes them over.
    pub lease_for: Duration,
    /// Drains (connections) one node runs at once.
    pub concurrency: usize,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            lease_for: Duration::from_secs(60),
            concurrency: 4,
        }
    }
}

/// An event as the product posts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncomingEvent {
    /// Unique per tenant; a repeated key is accepted once.
    pub idempotency_key: String,
    /// The event type (`track.completed`).
    pub event_type: String,
    /// The event body (a JSON object).
    pub data: Value,
    /// Only this connection's installs (default: every install of the tenant that handles the type).
    pub connection_id: Option<ConnectionId>,
}

/// What `ingest` did with one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingested {
    /// The event's id (the first one's, for a repeated key).
    pub event_id: EventId,
    /// False when the idempotency key was seen before: nothing new was recorded.
    pub is_new: bool,
    /// Deliveries created (one per install flow that handles the event).
    pub deliveries: u32,
}

/// What one drain run did (for tests, the CLI and metrics).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DrainReport {
    /// Deliveries by final state this run.
    pub by_state: BTreeMap<String, u64>,
    /// Salesforce calls by API.
    pub api_calls: BTreeMap<String, u64>,
    /// Batches run.
    pub batches: u64,
}

impl DrainReport {
    fn absorb(&mut self, other: &DrainReport) {
        for (k, v) in &other.by_state {
            *self.by_state.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.api_calls {
            *self.api_calls.entry(k.clone()).or_default() += v;
        }
        self.batches += other.batches;
    }

    /// Salesforce calls in all.
    pub fn total_calls(&self) -> u64 {
        self.api_calls.values().sum()
    }
}

/// The settings expressions see: the install's values over the recipe's defaults, plus
/// `workflows.<name>` booleans.
pub fn effective_settings(recipe: &Recipe, install: &RecipeInstall) -> Value {
    let given = install.settings.as_object().cloned().unwrap_or_default();
    let mut out = serde_json::Map::new();
    for s in &recipe.settings {
        let v = given
            .get(&s.name)
            .cloned()
            .or_else(|| s.default.clone())
            .unwrap_or(Value::Null);
        out.insert(s.name.clone(), v);
    }
    let given_wf = given
        .get("workflows")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut wf = serde_json::Map::new();
    for w in &recipe.workflows {
        let on = w.mandatory
            || given_wf
                .get(&w.name)
                .and_then(Value::as_bool)
                .unwrap_or(w.default_on);
        wf.insert(w.name.clone(), Value::Bool(on));
    }
    out.insert("workflows".into(), Value::Object(wf));
    Value::Object(out)
}

fn connection_scope(c: &forcebridge_store::Connection) -> Value {
    json!({ "id": c.id, "org_id": c.org_id, "label": c.label })
}

fn drain_job(tenant: &TenantId, connection: &ConnectionId) -> NewJob {
    let mut job = NewJob::new(DRAIN_KIND, json!({ "tenant": tenant, "connection": connection }))
        .group(format!("conn:{connection}"))
        .max_attempts(1_000);
    job.tenant_id = Some(tenant.clone());
    job
}

impl Engine {
    /// Accepts events: each is durable (with one delivery per install flow that handles it, and a
    /// drain of each connection concerned) when this returns. A repeated idempotency key is
    /// accepted again without effect.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the event (by position) and field; nothing is written then.
    pub async fn ingest(&self, tenant: &TenantId, events: Vec<IncomingEvent>) -> Result<Vec<Ingested>> {
        for (n, e) in events.iter().enumerate() {
            if e.idempotency_key.trim().is_empty() || e.idempotency_key.len() > 255 {
                return Err(Error::Invalid(format!(
                    "events[{n}].idempotency_key must be 1 to 255 characters"
                )));
            }
            if e.event_type.trim().is_empty() || e.event_type.len() > 200 {
                return Err(Error::Invalid(format!(
                    "events[{n}].type must be 1 to 200 characters"
                )));
            }
            if !e.data.is_object() {
                return Err(Error::Invalid(format!("events[{n}].data must be a JSON object")));
            }
        }
        let store = self.store();
        let installs: Vec<RecipeInstall> = store
            .list_installs(tenant)
            .await?
            .into_iter()
            .filter(|i| i.enabled)
            .collect();
        let mut connections = BTreeMap::new();
        for i in &installs {
            if !connections.contains_key(&i.connection_id) {
                connections.insert(
                    i.connection_id.clone(),
                    store.get_connection(tenant, &i.connection_id).await?,
                );
            }
        }
        let now = self.clock().now();
        let mut tx = store.begin().await?;
        let mut out = Vec::with_capacity(events.len());
        let mut touched: BTreeSet<ConnectionId> = BTreeSet::new();
        for e in &events {
            let accepted = tx
                .accept_event(tenant, &e.idempotency_key, &e.event_type, &e.data)
                .await?;
            if !accepted.is_new {
                out.push(Ingested {
                    event_id: accepted.event.id,
                    is_new: false,
                    deliveries: 0,
                });
                continue;
            }
            let mut new = Vec::new();
            for install in &installs {
                if e.connection_id
                    .as_ref()
                    .is_some_and(|c| c != &install.connection_id)
                {
                    continue;
                }
                let Some(recipe) = self.recipes().get(&install.recipe) else {
                    continue;
                };
                let Some(conn) = connections.get(&install.connection_id) else {
                    continue;
                };
                let settings = effective_settings(recipe, install);
                let scope = Scope::new(&e.data, &settings, &connection_scope(conn), now);
                for flow in recipe.flows_for(&e.event_type) {
                    let correlation_key = flow
                        .correlate
                        .as_ref()
                        .and_then(|c| c.eval(&scope).ok())
                        .and_then(|v| steps::scalar_text(&v));
                    let (coalesce_key, not_before) = match &flow.coalesce {
                        None => (None, None),
                        Some(c) => match c.key.eval(&scope).ok().and_then(|v| steps::scalar_text(&v)) {
                            None => (None, None),
                            Some(key) => {
                                let open = tx.coalesce_window(&install.id, &flow.name, &key).await?;
                                let end = open.unwrap_or_else(|| {
                                    now + chrono::Duration::from_std(c.window)
                                        .unwrap_or(chrono::Duration::zero())
                                });
                                (Some(key), Some(end))
                            }
                        },
                    };
                    new.push(NewDelivery {
                        install_id: install.id.clone(),
                        connection_id: install.connection_id.clone(),
                        event_id: accepted.event.id.clone(),
                        flow: flow.name.clone(),
                        not_before,
                        coalesce_key,
                        correlation_key,
                    });
                    touched.insert(install.connection_id.clone());
                }
            }
            let n = tx.insert_deliveries(tenant, &new).await?;
            out.push(Ingested {
                event_id: accepted.event.id,
                is_new: true,
                deliveries: n,
            });
        }
        for conn in &touched {
            if !tx.has_ready_job(DRAIN_KIND, &format!("conn:{conn}")).await? {
                tx.enqueue(&drain_job(tenant, conn)).await?;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Makes sure a drain of `connection` is queued (after a reconnect, a replay, a new install).
    ///
    /// # Errors
    /// Store errors.
    pub async fn kick(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let store = self.store();
        store.set_group_limit(&format!("conn:{connection}"), 1).await?;
        let mut tx = store.begin().await?;
        if !tx
            .has_ready_job(DRAIN_KIND, &format!("conn:{connection}"))
            .await?
        {
            let mut job = drain_job(tenant, connection);
            job.run_at = at;
            tx.enqueue(&job).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs queued drain jobs in this task until none is ready (tests, `recipe test`, the demo's
    /// `--once`); returns what they did.
    ///
    /// # Errors
    /// Store errors.
    pub async fn run_until_idle(&self) -> Result<DrainReport> {
        let mut total = DrainReport::default();
        loop {
            let jobs = self
                .store()
                .lease(&LeaseRequest {
                    worker: self.config().node_name.clone(),
                    kinds: vec![DRAIN_KIND.into()],
                    max_jobs: 8,
                    lease_for: Duration::from_secs(300),
                })
                .await?;
            if jobs.is_empty() {
                return Ok(total);
            }
            for job in jobs {
                let (outcome, report) = self.run_drain_job(&job).await;
                total.absorb(&report);
                self.store().finish(&job.lease, &outcome).await?;
            }
        }
    }

    /// Runs the drain and install-apply workers until `shutdown` turns true (the server's
    /// background work).
    pub fn spawn_workers(&self, shutdown: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        self.spawn_workers_with(shutdown, WorkerOptions::default())
    }

    /// [`Engine::spawn_workers`] with its lease length and concurrency chosen.
    pub fn spawn_workers_with(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
        options: WorkerOptions,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let store = self.store().clone();
        let lease_for = options.lease_for.max(Duration::from_secs(1));
        let cfg = WorkerConfig {
            name: self.config().node_name.clone(),
            kinds: vec![DRAIN_KIND.into(), crate::install::run::APPLY_KIND.into()],
            concurrency: options.concurrency.max(1),
            lease_for,
            // A live node renews well before its lease ends; a dead node's lease is reaped (by
            // any node) within half a lease of expiring.
            heartbeat_every: lease_for / 4,
            reap_every: lease_for / 2,
            ..WorkerConfig::default()
        };
        tokio::spawn(async move {
            let handler = Arc::new(handler_fn(move |job: Job| {
                let engine = engine.clone();
                async move {
                    if job.kind == crate::install::run::APPLY_KIND {
                        return engine.run_apply_job(&job).await;
                    }
                    engine.run_drain_job(&job).await.0
                }
            }));
            if let Err(e) = forcebridge_store::worker::run(store, cfg, handler, shutdown).await {
                tracing::error!(error = %e, "drain worker stopped");
            }
        })
    }

    /// One drain job: the connection's due deliveries, batch after batch.
    pub async fn run_drain_job(&self, job: &Job) -> (JobOutcome, DrainReport) {
        let parse = || -> Option<(TenantId, ConnectionId)> {
            let t = TenantId::parse(job.payload.get("tenant")?.as_str()?).ok()?;
            let c = ConnectionId::parse(job.payload.get("connection")?.as_str()?).ok()?;
            Some((t, c))
        };
        let Some((tenant, connection)) = parse() else {
            return (
                JobOutcome::DeadLetter {
                    reason: "drain job without tenant and connection".into(),
                },
                DrainReport::default(),
            );
        };
        match self.drain(&tenant, &connection).await {
            Ok((outcome, report)) => (outcome, report),
            Err(e) if e.kind() == crate::ErrorKind::NotFound => (JobOutcome::Done, DrainReport::default()),
            Err(e) => {
                let at = self.clock().now() + chrono::Duration::seconds(30);
                (
                    JobOutcome::RetryAt {
                        at,
                        reason: e.to_string(),
                    },
                    DrainReport::default(),
                )
            }
        }
    }

    async fn drain(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<(JobOutcome, DrainReport)> {
        let store = self.store();
        let conn = store.get_connection(tenant, connection).await?;
        let mut report = DrainReport::default();
        if conn.status != ConnectionStatus::Active {
            // Its work waits for a reconnect, which queues a new drain.
            return Ok((JobOutcome::Done, report));
        }
        let now = self.clock().now();
        if let Some(b) = store.budget(connection).await?
            && b.max > 0
            && b.used * 100 >= b.max * u64::from(self.config().budget_threshold_pct)
            && now - b.observed_at < chrono::Duration::hours(1)
        {
            let until = now + chrono::Duration::from_std(BUDGET_WAIT).unwrap_or(chrono::Duration::zero());
            return Ok((JobOutcome::Defer { until }, report));
        }
        let client = self
            .clients()
            .get(store, &self.config().login_hosts, &conn)
            .await?;
        let installs: BTreeMap<_, _> = store
            .list_installs(tenant)
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        let mut limit = self.config().batch_size;
        for _ in 0..BATCHES_PER_JOB {
            let due = store
                .due_deliveries(
                    connection,
                    self.clock().now(),
                    u32::try_from(limit).unwrap_or(u32::MAX),
                )
                .await?;
            // A full batch means a backlog: take bigger ones, whose large steps go through Bulk.
            limit = if due.len() >= limit {
                self.config().bulk_batch_size.max(limit)
            } else {
                self.config().batch_size
            };
            if due.is_empty() {
                break;
            }
            let event_of: BTreeMap<i64, EventId> =
                due.iter().map(|d| (d.delivery.id, d.event.id.clone())).collect();
            let accepted_at: BTreeMap<i64, chrono::DateTime<chrono::Utc>> =
                due.iter().map(|d| (d.delivery.id, d.event.accepted_at)).collect();
            let (updates, paused, batch_report) = self.run_batch(&conn, client.clone(), &installs, due).await;
            let deferred = updates
                .iter()
                .any(|u| u.outcome.as_ref().is_some_and(|o| o.get("deferred").is_some()));
            report.absorb(&batch_report);
            let mut tx = store.begin().await?;
            tx.update_deliveries(&updates).await?;
            tx.commit().await?;
            // From the 202 to the write Salesforce confirmed, for every delivery applied now.
            let now = self.clock().now();
            for u in updates.iter().filter(|u| u.state == DeliveryState::Done) {
                if let Some(at) = accepted_at.get(&u.id) {
                    let secs = (now - *at).num_milliseconds().max(0) as f64 / 1000.0;
                    metrics::histogram!("forcebridge_event_apply_seconds").record(secs);
                }
            }
            let dead: Vec<(i64, EventId, Value)> = updates
                .iter()
                .filter(|u| u.state == DeliveryState::Dead)
                .map(|u| {
                    (
                        u.id,
                        event_of.get(&u.id).cloned().unwrap_or_default(),
                        u.outcome.clone().unwrap_or(Value::Null),
                    )
                })
                .collect();
            self.notify_dead(&conn, &dead).await;
            let snap = client.budget().snapshot();
            if deferred {
                // Salesforce said the allocation is spent: every node waits, not just this one.
                let max = snap.max.max(1);
                store.observe_budget(connection, max, max).await?;
                break;
            } else if snap.max > 0 {
                store.observe_budget(connection, snap.used, snap.max).await?;
            }
            if let Some(reason) = paused {
                self.pause_connection(&conn, &reason).await?;
                return Ok((JobOutcome::Done, report));
            }
        }
        if let Some(next) = store.next_due_delivery(connection).await? {
            let at = if next > self.clock().now() {
                Some(next)
            } else {
                None
            };
            self.kick(tenant, connection, at).await?;
        }
        Ok((JobOutcome::Done, report))
    }

    async fn pause_connection(&self, conn: &forcebridge_store::Connection, reason: &str) -> Result<()> {
        self.clients().forget(&conn.tenant_id, &conn.id);
        // Marks it `token_expired` and tells the product (`connection.token_expired`).
        self.set_status(conn, ConnectionStatus::TokenExpired, Some(reason), "system")
            .await
    }

    /// Tells the product about deliveries that were dead-lettered (`event.failed`).
    async fn notify_dead(&self, conn: &forcebridge_store::Connection, dead: &[(i64, EventId, Value)]) {
        for (delivery, event, outcome) in dead {
            let data = json!({ "delivery_id": delivery, "event_id": event, "connection_id": conn.id, "outcome": outcome });
            if let Err(e) = self
                .notify(
                    &conn.tenant_id,
                    crate::control::notify::NotificationKind::EventFailed,
                    Some(&conn.id),
                    data,
                )
                .await
            {
                tracing::warn!(error = %e, delivery, "recording the event.failed notification failed");
            }
        }
    }

    /// Runs one batch of due deliveries: per install and flow, set-at-a-time.
    async fn run_batch(
        &self,
        conn: &forcebridge_store::Connection,
        client: Arc<forcebridge_salesforce::Client>,
        installs: &BTreeMap<forcebridge_store::InstallId, RecipeInstall>,
        due: Vec<forcebridge_store::DueDelivery>,
    ) -> (Vec<DeliveryUpdate>, Option<String>, DrainReport) {
        let now = self.clock().now();
        let mut report = DrainReport {
            batches: 1,
            ..DrainReport::default()
        };
        let mut updates = Vec::with_capacity(due.len());
        let mut paused = None;
        // Group by (install, flow), keeping delivery order within each group.
        let mut groups: BTreeMap<(String, String), Vec<forcebridge_store::DueDelivery>> = BTreeMap::new();
        let mut order: Vec<(String, String)> = Vec::new();
        for d in due {
            let key = (d.delivery.install_id.to_string(), d.delivery.flow.clone());
            if !groups.contains_key(&key) {
                order.push(key.clone());
            }
            groups.entry(key).or_default().push(d);
        }
        for key in order {
            let Some(group) = groups.remove(&key) else {
                continue;
            };
            let install = installs.get(&group[0].delivery.install_id);
            let recipe = install.and_then(|i| self.recipes().get(&i.recipe));
            let flow = recipe.and_then(|r| r.flows.iter().find(|f| f.name == key.1));
            let (Some(install), Some(recipe), Some(flow)) = (install, recipe, flow) else {
                for d in group {
                    updates.push(final_update(&d.delivery, DeliveryState::Cancelled, now, Some(json!({
                        "error": "the install, its recipe or the flow no longer exists", "remedy": "nothing to do"
                    }))));
                }
                continue;
            };
            let settings = effective_settings(recipe, install);
            let workflow_on = flow
                .workflow
                .as_ref()
                .is_none_or(|w| settings["workflows"][w.as_str()].as_bool().unwrap_or(false));
            // Coalescing: only the latest delivery per key runs; the others are superseded.
            let mut latest: BTreeMap<String, i64> = BTreeMap::new();
            for d in &group {
                if let Some(k) = &d.delivery.coalesce_key {
                    latest.insert(k.clone(), d.delivery.id);
                }
            }
            let mut items = Vec::new();
            for d in group {
                if !install.enabled || !workflow_on {
                    updates.push(final_update(
                        &d.delivery,
                        DeliveryState::Skipped,
                        now,
                        Some(json!({ "reason": "the install or the flow's workflow is switched off" })),
                    ));
                    continue;
                }
                if let Some(k) = &d.delivery.coalesce_key
                    && latest.get(k) != Some(&d.delivery.id)
                {
                    updates.push(final_update(&d.delivery, DeliveryState::Superseded, now, None));
                    continue;
                }
                let scope = Scope::new(&d.event.payload, &settings, &connection_scope(conn), now);
                if let Some(filter) = &flow.filter {
                    match filter.eval_bool(&scope) {
                        Ok(true) => {}
                        Ok(false) => {
                            updates.push(final_update(&d.delivery, DeliveryState::Filtered, now, None));
                            continue;
                        }
                        Err(e) => {
                            updates.push(final_update(
                                &d.delivery,
                                DeliveryState::Dead,
                                now,
                                Some(steps::eval_reason(&e)),
                            ));
                            continue;
                        }
                    }
                }
                items.push(Item {
                    due: d,
                    scope,
                    state: ItemState::Running,
                });
            }
            if items.is_empty() {
                continue;
            }
            let mut ctx = Ctx {
                engine: self,
                connection: conn,
                client: client.clone(),
                recipe,
                install,
                flow,
                api_calls: BTreeMap::new(),
            };
            batch::run_flow(&mut ctx, &mut items).await;
            for (api, n) in &ctx.api_calls {
                *report.api_calls.entry((*api).to_owned()).or_default() += n;
            }
            for item in items {
                let d = &item.due.delivery;
                let u = match item.state {
                    ItemState::Running => final_update(d, DeliveryState::Done, now, None),
                    ItemState::Skipped(why) => final_update(d, DeliveryState::Skipped, now, Some(why)),
                    ItemState::Failed(fate) => match fate {
                        Fate::Dead { reason } => final_update(d, DeliveryState::Dead, now, Some(reason)),
                        Fate::Retry { reason } => {
                            let attempts = d.attempts + 1;
                            if attempts >= self.config().max_attempts {
                                final_update(d, DeliveryState::Dead, now, Some(reason))
                            } else {
                                let delay = self.backoff(attempts);
                                DeliveryUpdate {
                                    id: d.id,
                                    state: DeliveryState::Pending,
                                    attempts,
                                    not_before: now + delay,
                                    outcome: Some(reason),
                                }
                            }
                        }
                        Fate::Defer => DeliveryUpdate {
                            id: d.id,
                            state: DeliveryState::Pending,
                            attempts: d.attempts,
                            not_before: now
                                + chrono::Duration::from_std(BUDGET_WAIT).unwrap_or(chrono::Duration::zero()),
                            outcome: Some(json!({ "deferred": "the org's API budget is near its limit" })),
                        },
                        Fate::Pause { reason } => {
                            paused = Some(reason.clone());
                            DeliveryUpdate {
                                id: d.id,
                                state: DeliveryState::Pending,
                                attempts: d.attempts,
                                not_before: d.not_before,
                                outcome: Some(json!({ "paused": reason })),
                            }
                        }
                    },
                };
                updates.push(u);
            }
        }
        for u in &updates {
            *report.by_state.entry(u.state.as_str().to_owned()).or_default() += 1;
        }
        (updates, paused, report)
    }

    fn backoff(&self, attempts: u32) -> chrono::Duration {
        let base = self.config().retry_base;
        let d = base
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
            .min(Duration::from_secs(3600));
        chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1))
    }

    /// A tenant's deliveries (runs), newest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn deliveries(&self, tenant: &TenantId, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        Ok(self.store().list_deliveries(tenant, filter).await?)
    }

    /// One delivery of a tenant.
    ///
    /// # Errors
    /// Not found (also another tenant's).
    pub async fn delivery(&self, tenant: &TenantId, id: i64) -> Result<Delivery> {
        Ok(self.store().get_delivery(tenant, id).await?)
    }

    /// Replays a dead delivery (after its cause was fixed): pending again, attempts reset.
    ///
    /// # Errors
    /// Not found; conflict when it is not dead.
    pub async fn replay(&self, tenant: &TenantId, delivery: i64) -> Result<Delivery> {
        let d = self
            .store()
            .move_delivery(
                tenant,
                delivery,
                &[DeliveryState::Dead, DeliveryState::Cancelled],
                DeliveryState::Pending,
                true,
            )
            .await?;
        self.kick(tenant, &d.connection_id, None).await?;
        Ok(d)
    }

    /// Cancels a pending or dead delivery.
    ///
    /// # Errors
    /// Not found; conflict when it already finished.
    pub async fn cancel(&self, tenant: &TenantId, delivery: i64) -> Result<Delivery> {
        Ok(self
            .store()
            .move_delivery(
                tenant,
                delivery,
                &[DeliveryState::Pending, DeliveryState::Dead],
                DeliveryState::Cancelled,
                false,
            )
            .await?)
    }

    /// The journal of one event.
    ///
    /// # Errors
    /// Store errors.
    pub async fn journal_for_event(&self, tenant: &TenantId, event: &EventId) -> Result<Vec<JournalRow>> {
        Ok(self.store().journal_rows_for_event(tenant, event).await?)
    }

    /// The journal of one record.
    ///
    /// # Errors
    /// Store errors.
    pub async fn journal_for_record(&self, tenant: &TenantId, record_id: &str) -> Result<Vec<JournalRow>> {
        Ok(self.store().journal_rows_for_record(tenant, record_id).await?)
    }

    /// The connection's shared API budget as last observed.
    ///
    /// # Errors
    /// Not found (another tenant's connection); store errors.
    pub async fn budget(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<forcebridge_store::BudgetRow>> {
        self.store().get_connection(tenant, connection).await?;
        Ok(self.store().budget(connection).await?)
    }
}

fn final_update(
    d: &Delivery,
    state: DeliveryState,
    now: DateTime<Utc>,
    outcome: Option<Value>,
) -> DeliveryUpdate {
    DeliveryUpdate {
        id: d.id,
        state,
        attempts: d.attempts + 1,
        not_before: now,
        outcome,
    }
}
