//! Provisioning an install, step by step: the consented plan becomes a list of [`Step`]s — each
//! custom object with its fields, the fields added to each existing object, the permission set,
//! its assignment to the integration user, the access check — made one after the other so that
//! a run can say how far it got. [`Engine::provision`] is the one code path: the synchronous
//! [`Engine::apply`] (the CLI, the recipe harness) and the `install.apply` job both call it.
//!
//! Invariants: the steps are fixed when the tenant consents (they travel in the job), and each
//! step is idempotent — it re-reads the org and makes only what is still missing — so a retried
//! job repeats the finished steps cheaply and never twice; an object comes after every custom
//! object it looks up; nothing destructive is ever made.

use forcebridge_salesforce::Client;
use forcebridge_salesforce::metadata::{ApplyOptions, Change, FieldType, SchemaSpec};
use forcebridge_store::RecipeInstall;
use forcebridge_store::control::RunProgress;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApplyReport, requirements};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::recipe::ir::Recipe;

/// One provisioning step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", content = "name", rename_all = "snake_case")]
pub enum Step {
    /// Create or update one custom object of the recipe, with its fields.
    Object(String),
    /// Create or update the recipe's fields on one existing object.
    Fields(String),
    /// Create or update the permission set.
    PermissionSet(String),
    /// Assign the permission set to the connection's user.
    Assign(String),
    /// Run the access doctor for what the recipe's flows need.
    AccessCheck,
}

impl Step {
    /// The step in words (a run's `progress.step`).
    pub fn label(&self) -> String {
        match self {
            Step::Object(o) => format!("object {o}"),
            Step::Fields(o) => format!("fields on {o}"),
            Step::PermissionSet(p) => format!("permission set {p}"),
            Step::Assign(p) => format!("assign permission set {p}"),
            Step::AccessCheck => "access check".into(),
        }
    }
}

fn object_of(c: &Change) -> Option<&str> {
    match c {
        Change::CreateObject { object }
        | Change::CreateField { object, .. }
        | Change::UpdateField { object, .. }
        | Change::DestructiveField { object, .. } => Some(object),
        Change::PermissionSet { .. } => None,
    }
}

/// The steps that make `changes` (the plan the tenant consented to) for `recipe`, in order.
pub fn steps(recipe: &Recipe, changes: &[Change]) -> Vec<Step> {
    let schema = &recipe.schema;
    let touched = |name: &str| changes.iter().any(|c| object_of(c) == Some(name));
    // Objects in an order where each comes after the custom objects it looks up.
    let mut pending: Vec<&str> = schema.objects.iter().map(|o| o.api_name.as_str()).collect();
    let mut ordered: Vec<&str> = Vec::new();
    while !pending.is_empty() {
        let ready = pending.iter().position(|name| {
            schema
                .objects
                .iter()
                .filter(|o| o.api_name == *name)
                .flat_map(|o| &o.fields)
                .all(|f| match &f.field_type {
                    FieldType::Lookup { reference_to, .. } => {
                        reference_to == name || !pending.contains(&reference_to.as_str())
                    }
                    _ => true,
                })
        });
        // A cycle of lookups: keep the recipe's order for the rest.
        let next = pending.remove(ready.unwrap_or(0));
        ordered.push(next);
    }
    let mut out: Vec<Step> = ordered
        .into_iter()
        .filter(|o| touched(o))
        .map(|o| Step::Object(o.to_owned()))
        .collect();
    for (object, _) in &schema.extra_fields {
        if touched(object) && !out.contains(&Step::Fields(object.clone())) {
            out.push(Step::Fields(object.clone()));
        }
    }
    if let Some(p) = &schema.permission_set {
        if changes.iter().any(|c| matches!(c, Change::PermissionSet { .. })) {
            out.push(Step::PermissionSet(p.name.clone()));
        }
        if p.assign_to_current_user {
            out.push(Step::Assign(p.name.clone()));
        }
    }
    out.push(Step::AccessCheck);
    out
}

/// Where a run's progress is written (the job), or nowhere (the synchronous apply).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress<'a> {
    pub(crate) run: Option<&'a str>,
}

impl Engine {
    async fn report_progress(&self, at: Progress<'_>, inst: &RecipeInstall, p: RunProgress) -> Result<()> {
        if let Some(run) = at.run {
            self.store().run_progress(&inst.tenant_id, run, &p).await?;
        }
        Ok(())
    }

    /// Make `steps` for `inst` through `client`, writing progress to the run (if any); then
    /// enable the install, record and announce it (`install.provisioned`), and retry what
    /// Salesforce refused for a cause provisioning may have fixed.
    ///
    /// # Errors
    /// Salesforce errors (classified: transient ones may be retried by the caller); the store's.
    pub(crate) async fn provision(
        &self,
        inst: &RecipeInstall,
        recipe: &Recipe,
        client: &Client,
        steps: &[Step],
        at: Progress<'_>,
        actor: &str,
    ) -> Result<ApplyReport> {
        let schema = &recipe.schema;
        let total = u32::try_from(steps.len()).unwrap_or(u32::MAX);
        let mut applied: Vec<Change> = Vec::new();
        let mut access = None;
        for (done, step) in (0u32..).zip(steps) {
            let p = RunProgress {
                done,
                total,
                step: Some(step.label()),
            };
            self.report_progress(at, inst, p).await?;
            let part = match step {
                Step::Object(name) => Some(SchemaSpec {
                    objects: schema
                        .objects
                        .iter()
                        .filter(|o| &o.api_name == name)
                        .cloned()
                        .collect(),
                    ..SchemaSpec::default()
                }),
                Step::Fields(object) => Some(SchemaSpec {
                    extra_fields: schema
                        .extra_fields
                        .iter()
                        .filter(|(o, _)| o == object)
                        .cloned()
                        .collect(),
                    ..SchemaSpec::default()
                }),
                Step::PermissionSet(_) => {
                    let mut whole = schema.clone();
                    if let Some(p) = &mut whole.permission_set {
                        // Its own step assigns it.
                        p.assign_to_current_user = false;
                    }
                    Some(whole)
                }
                Step::Assign(name) => {
                    client.assign_permission_set(name).await?;
                    None
                }
                Step::AccessCheck => {
                    client.invalidate_all_describes();
                    access = Some(client.check_access(&requirements(recipe)).await?);
                    None
                }
            };
            if let Some(spec) = part {
                let plan = client.apply_schema(&spec, ApplyOptions::default()).await?;
                applied.extend(plan.changes);
            }
        }
        let access = match access {
            Some(a) => a,
            None => {
                client.invalidate_all_describes();
                client.check_access(&requirements(recipe)).await?
            }
        };
        let p = RunProgress {
            done: total,
            total,
            step: steps.last().map(Step::label),
        };
        self.report_progress(at, inst, p).await?;
        let tenant = &inst.tenant_id;
        let inst = self.set_enabled(tenant, &inst.id, true, actor).await?;
        self.store()
            .record_audit(
                Some(tenant),
                actor,
                "install.provisioned",
                inst.id.as_str(),
                &json!({ "changes": applied.len(), "access_ok": access.is_ok() }),
            )
            .await?;
        let data =
            json!({ "install_id": inst.id, "recipe": inst.recipe, "changes": applied, "access": access });
        self.notify(
            tenant,
            crate::control::notify::NotificationKind::InstallProvisioned,
            Some(&inst.connection_id),
            data,
        )
        .await?;
        // Records Salesforce refused for a cause provisioning may have fixed are tried again.
        self.store().requeue_dead(tenant, &inst.id).await?;
        self.kick(tenant, &inst.connection_id, None).await?;
        Ok(ApplyReport {
            install: inst,
            applied,
            access,
        })
    }

    /// Announce that provisioning `inst` failed (`install.failed`), with the reason in words.
    ///
    /// # Errors
    /// The store's.
    pub(crate) async fn notify_install_failed(&self, inst: &RecipeInstall, error: &Error) -> Result<()> {
        let data = json!({ "install_id": inst.id, "recipe": inst.recipe, "error": error.to_string() });
        self.notify(
            &inst.tenant_id,
            crate::control::notify::NotificationKind::InstallFailed,
            Some(&inst.connection_id),
            data,
        )
        .await
    }
}
