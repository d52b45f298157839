//! One flow run over a batch of deliveries, set-at-a-time: each step runs once for every event
//! still running (one query, one Collections call), its per-record results go back to the events,
//! and later steps read them through `steps.<id>`.
//!
//! Invariant: an item that fails leaves the batch at that step (its later steps do not run); its
//! fate is decided by `outcome`; the other items go on.

use std::collections::BTreeMap;
use std::sync::Arc;

use forcebridge_salesforce::Client;
use forcebridge_store::{Connection, DueDelivery, RecipeInstall};
use serde_json::Value;

use super::outcome::Fate;
use super::steps;
use crate::engine::Engine;
use crate::recipe::ir::{Flow, Recipe, Scope, StepKind};

/// Where one event stands in the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemState {
    /// Still running steps.
    Running,
    /// A `match` found several records and the policy says skip.
    Skipped(Value),
    /// Failed; its fate is decided.
    Failed(Fate),
}

/// One event's run of the flow.
#[derive(Debug)]
pub struct Item {
    /// The delivery and its event.
    pub due: DueDelivery,
    /// What its expressions see.
    pub scope: Scope,
    /// Where it stands.
    pub state: ItemState,
}

impl Item {
    /// Whether it is still running.
    pub fn running(&self) -> bool {
        self.state == ItemState::Running
    }

    /// Fails it with `fate`, unless it already left the batch.
    pub fn fail(&mut self, fate: Fate) {
        if self.running() {
            self.state = ItemState::Failed(fate);
        }
    }
}

/// Everything a step needs besides the items.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The connection written through.
    pub connection: &'a Connection,
    /// Its client.
    pub client: Arc<Client>,
    /// The recipe.
    pub recipe: &'a Recipe,
    /// The install.
    pub install: &'a RecipeInstall,
    /// The flow.
    pub flow: &'a Flow,
    /// APIs used, for the run's record (`collections` → calls).
    pub api_calls: BTreeMap<&'static str, u64>,
}

impl Ctx<'_> {
    /// Counts a call on `api`.
    pub fn count(&mut self, api: &'static str, calls: u64) {
        *self.api_calls.entry(api).or_default() += calls;
    }
}

/// Runs `ctx.flow`'s steps over `items` (all of this flow and install, in delivery order).
pub async fn run_flow(ctx: &mut Ctx<'_>, items: &mut [Item]) {
    let flow = ctx.flow;
    for step in &flow.steps {
        // A step whose workflow is off is skipped like a false condition.
        let switched_off = step.workflow.as_ref().is_some_and(|w| {
            let settings = crate::runtime::effective_settings(ctx.recipe, ctx.install);
            !settings["workflows"][w.as_str()].as_bool().unwrap_or(false)
        });
        // Conditions decide per item; a skipped step's output is null.
        let mut active = Vec::new();
        for (i, item) in items.iter_mut().enumerate() {
            if !item.running() {
                continue;
            }
            let run = match &step.when {
                _ if switched_off => Ok(false),
                None => Ok(true),
                Some(cond) => cond.eval_bool(&item.scope),
            };
            match run {
                Ok(true) => active.push(i),
                Ok(false) => item.scope.set_step(&step.id, Value::Null),
                Err(e) => item.fail(Fate::Dead {
                    reason: steps::eval_reason(&e),
                }),
            }
        }
        if active.is_empty() {
            continue;
        }
        match &step.kind {
            StepKind::Match(m) => steps::matching::run(ctx, &step.id, m, items, &active).await,
            StepKind::Create(w) => steps::write::create(ctx, &step.id, w, items, &active).await,
            StepKind::Upsert(u) => steps::write::upsert(ctx, &step.id, u, items, &active).await,
            StepKind::Update(u) => steps::write::update(ctx, &step.id, u, items, &active).await,
            StepKind::Delete(d) => steps::write::delete(ctx, &step.id, d, items, &active).await,
            StepKind::Chatter(c) => steps::chatter::run(ctx, &step.id, c, items, &active).await,
            StepKind::Undo(u) => steps::undo::run(ctx, &step.id, u, items, &active).await,
        }
    }
}
