//! Installing a recipe on a connection: settings validated against the recipe, the provisioning
//! plan (objects, fields, permission set) computed against the org, applied only after consent,
//! the permission set assigned to the integration user, the access doctor run afterwards.
//!
//! Apply is a run in the background for the API ([`run`]) and synchronous for the CLI and the
//! recipe harness ([`Engine::apply`]); both make the same steps ([`provision`]).
//!
//! Invariant: nothing is written to an org before the tenant consented to the exact plan shown.

pub mod provision;
pub mod remove;
pub mod run;
pub mod settings;

use forcebridge_salesforce::doctor::{AccessReport, FieldNeed, ObjectNeed, Operation, Requirements};
use forcebridge_salesforce::metadata::{Change, Plan};
use forcebridge_store::{ConnectionId, InstallId, RecipeInstall, TenantId};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::recipe::ir::{Recipe, StepKind, WriteStep};

/// The provisioning plan of an install, as shown to the admin before consent.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// The install.
    pub install_id: InstallId,
    /// The changes, in the order they will be made (empty: nothing to do).
    pub changes: Vec<Change>,
    /// Whether any change may lose data (never applied by forcebridge).
    pub destructive: bool,
    /// The plan's fingerprint: consent names it, so what is applied is exactly what was shown.
    pub hash: String,
}

/// What applying an install did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The install, now enabled.
    pub install: RecipeInstall,
    /// The changes made.
    pub applied: Vec<Change>,
    /// What the access doctor still finds missing (empty when the integration has everything).
    pub access: AccessReport,
}

fn plan_hash(plan: &Plan) -> String {
    let text = serde_json::to_string(&plan.changes).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}

/// What the recipe's flows need in the org: objects with their operations, fields read or written.
pub fn requirements(recipe: &Recipe) -> Requirements {
    let mut objects: Vec<ObjectNeed> = Vec::new();
    fn need<'a>(objects: &'a mut Vec<ObjectNeed>, name: &str) -> &'a mut ObjectNeed {
        if let Some(i) = objects.iter().position(|o| o.name == name) {
            return &mut objects[i];
        }
        objects.push(ObjectNeed {
            name: name.to_owned(),
            operations: Vec::new(),
            fields: Vec::new(),
        });
        let last = objects.len() - 1;
        &mut objects[last]
    }
    fn op(o: &mut ObjectNeed, op: Operation) {
        if !o.operations.contains(&op) {
            o.operations.push(op);
        }
    }
    fn field(o: &mut ObjectNeed, f: FieldNeed) {
        if !o.fields.iter().any(|x| x.name == f.name) {
            o.fields.push(f);
        }
    }
    fn write_fields(o: &mut ObjectNeed, w: &WriteStep) {
        for (name, _) in &w.fields {
            // `Parent__r.Key__c` writes the lookup `Parent__c`.
            let f = match name.split_once('.') {
                Some((rel, _)) => rel
                    .strip_suffix("__r")
                    .map(|r| format!("{r}__c"))
                    .unwrap_or_else(|| format!("{rel}Id")),
                None => name.clone(),
            };
            field(o, FieldNeed::edit(&f));
        }
    }
    for flow in &recipe.flows {
        for step in &flow.steps {
            match &step.kind {
                StepKind::Match(m) => {
                    for obj in &m.objects {
                        let o = need(&mut objects, obj);
                        op(o, Operation::Read);
                        for (f, _) in &m.by {
                            field(o, FieldNeed::read(f));
                        }
                        for f in &m.read {
                            field(o, FieldNeed::read(f));
                        }
                    }
                    if let Some(c) = &m.or_create {
                        let o = need(&mut objects, &c.object);
                        op(o, Operation::Create);
                        write_fields(o, c);
                    }
                }
                StepKind::Create(w) => {
                    let o = need(&mut objects, &w.object);
                    op(o, Operation::Create);
                    write_fields(o, w);
                }
                StepKind::Update(u) => {
                    let o = need(&mut objects, &u.record.object);
                    op(o, Operation::Update);
                    write_fields(o, &u.record);
                }
                StepKind::Upsert(u) => {
                    let o = need(&mut objects, &u.record.object);
                    op(o, Operation::Create);
                    op(o, Operation::Update);
                    field(o, FieldNeed::external_id(&u.external_id));
                    write_fields(o, &u.record);
                }
                StepKind::Delete(d) => op(need(&mut objects, &d.object), Operation::Delete),
                StepKind::Chatter(_) | StepKind::Undo(_) => {}
            }
        }
    }
    Requirements { objects }
}

/// What a live org lacks for `recipe` before anything is installed: objects, fields and access
/// its flows need that the recipe's own provisioning will not create (`recipe check --org`).
///
/// # Errors
/// Salesforce errors (sign-in, describe).
pub async fn live_findings(
    recipe: &Recipe,
    client: &forcebridge_salesforce::Client,
) -> Result<Vec<forcebridge_salesforce::doctor::Finding>> {
    let mut req = requirements(recipe);
    let created: Vec<&str> = recipe
        .schema
        .objects
        .iter()
        .map(|o| o.api_name.as_str())
        .collect();
    req.objects.retain(|o| !created.contains(&o.name.as_str()));
    for o in &mut req.objects {
        let added: Vec<&str> = recipe
            .schema
            .extra_fields
            .iter()
            .filter(|(object, _)| object == &o.name)
            .map(|(_, f)| f.api_name.as_str())
            .collect();
        o.fields.retain(|f| !added.contains(&f.name.as_str()));
    }
    Ok(client.check_access(&req).await?.findings)
}

impl Engine {
    async fn install_parts(
        &self,
        tenant: &TenantId,
        install: &InstallId,
    ) -> Result<(RecipeInstall, std::sync::Arc<Recipe>)> {
        let inst = self
            .store()
            .list_installs(tenant)
            .await?
            .into_iter()
            .find(|i| &i.id == install)
            .ok_or_else(|| Error::NotFound {
                what: "install",
                id: install.to_string(),
            })?;
        let recipe = self.recipes().get(&inst.recipe).cloned().ok_or_else(|| {
            Error::Conflict(format!(
                "recipe {} of install {install} is not loaded on this server",
                inst.recipe
            ))
        })?;
        Ok((inst, recipe))
    }

    /// Installs `recipe` on a connection with `settings` (validated; defaults fill the rest). The
    /// install stays disabled — no event reaches it — until its plan is applied with consent.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the setting; not found for an unknown recipe or connection.
    pub async fn install(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        recipe: &str,
        settings: Value,
        actor: &str,
    ) -> Result<RecipeInstall> {
        let r = self
            .recipes()
            .get(recipe)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: "recipe",
                id: recipe.to_owned(),
            })?;
        let conn = self.store().get_connection(tenant, connection).await?;
        let client = self
            .clients()
            .get(self.store(), &self.config().login_hosts, &conn)
            .await?;
        let settings = settings::validate(&r, &settings, Some(&client)).await?;
        let inst = self
            .store()
            .install_recipe(tenant, connection, recipe, &settings, false, actor)
            .await?;
        Ok(inst)
    }

    /// Changes an install's settings (workflows included), validated as on install; the install's
    /// dead deliveries are tried again with the new settings.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the setting.
    pub async fn set_settings(
        &self,
        tenant: &TenantId,
        install: &InstallId,
        settings: Value,
        actor: &str,
    ) -> Result<RecipeInstall> {
        let (inst, recipe) = self.install_parts(tenant, install).await?;
        let client = self.client_for(&inst).await?;
        let settings = settings::validate(&recipe, &settings, Some(&client)).await?;
        let updated = self
            .store()
            .install_recipe(
                tenant,
                &inst.connection_id,
                &inst.recipe,
                &settings,
                inst.enabled,
                actor,
            )
            .await?;
        // A setting may have been the cause of refused records (a picklist value): try them again.
        if self.store().requeue_dead(tenant, &inst.id).await? > 0 {
            self.kick(tenant, &inst.connection_id, None).await?;
        }
        Ok(updated)
    }

    /// The provisioning plan: what must change in the org for the install's schema.
    ///
    /// # Errors
    /// Salesforce errors (the Metadata API refused), not found.
    pub async fn plan(&self, tenant: &TenantId, install: &InstallId) -> Result<PlanView> {
        let (inst, recipe) = self.install_parts(tenant, install).await?;
        let client = self.client_for(&inst).await?;
        let plan = client.plan_schema(&recipe.schema).await?;
        Ok(PlanView {
            install_id: inst.id,
            destructive: plan.changes.iter().any(Change::is_destructive),
            hash: plan_hash(&plan),
            changes: plan.changes,
        })
    }

    /// The Salesforce client of an install's connection.
    pub(crate) async fn client_for(
        &self,
        inst: &RecipeInstall,
    ) -> Result<std::sync::Arc<forcebridge_salesforce::Client>> {
        let conn = self
            .store()
            .get_connection(&inst.tenant_id, &inst.connection_id)
            .await?;
        self.clients()
            .get(self.store(), &self.config().login_hosts, &conn)
            .await
    }

    /// The install, its recipe, its client and the current plan, once the plan's hash is the one
    /// the tenant consented to.
    async fn consented_plan(
        &self,
        tenant: &TenantId,
        install: &InstallId,
        consented_hash: &str,
    ) -> Result<(
        RecipeInstall,
        std::sync::Arc<Recipe>,
        std::sync::Arc<forcebridge_salesforce::Client>,
        Plan,
    )> {
        let (inst, recipe) = self.install_parts(tenant, install).await?;
        let client = self.client_for(&inst).await?;
        let plan = client.plan_schema(&recipe.schema).await?;
        if plan_hash(&plan) != consented_hash {
            return Err(Error::Conflict(format!(
                "the provisioning plan changed since it was shown (now {}); read the plan again and consent to it",
                plan_hash(&plan)
            )));
        }
        Ok((inst, recipe, client, plan))
    }

    /// Applies the plan the admin consented to (named by its hash), here and now: the same steps
    /// as an `install.apply` run ([`Engine::start_apply`]) — schema, permission set and its
    /// assignment, the access doctor — then enables the install. For the CLI and the recipe
    /// harness; the API starts a run instead.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the plan changed since it was shown; Salesforce errors (then
    /// `install.failed` is raised).
    pub async fn apply(
        &self,
        tenant: &TenantId,
        install: &InstallId,
        consented_hash: &str,
        actor: &str,
    ) -> Result<ApplyReport> {
        let (inst, recipe, client, plan) = self.consented_plan(tenant, install, consented_hash).await?;
        let steps = provision::steps(&recipe, &plan.changes);
        let done = self
            .provision(
                &inst,
                &recipe,
                &client,
                &steps,
                provision::Progress { run: None },
                actor,
            )
            .await;
        if let Err(e) = &done {
            self.notify_install_failed(&inst, e).await?;
        }
        done
    }

    /// Switches an install on or off without touching its settings.
    ///
    /// # Errors
    /// Not found.
    pub async fn set_enabled(
        &self,
        tenant: &TenantId,
        install: &InstallId,
        enabled: bool,
        actor: &str,
    ) -> Result<RecipeInstall> {
        let (inst, _) = self.install_parts(tenant, install).await?;
        Ok(self
            .store()
            .install_recipe(
                tenant,
                &inst.connection_id,
                &inst.recipe,
                &inst.settings,
                enabled,
                actor,
            )
            .await?)
    }

    /// One install of the tenant.
    ///
    /// # Errors
    /// Not found (also for another tenant's install).
    pub async fn installation(&self, tenant: &TenantId, install: &InstallId) -> Result<RecipeInstall> {
        Ok(self.install_parts(tenant, install).await?.0)
    }

    /// Removes an install. The schema it provisioned stays in the org (its data is the
    /// customer's).
    ///
    /// # Errors
    /// Not found.
    pub async fn uninstall(&self, tenant: &TenantId, install: &InstallId, actor: &str) -> Result<()> {
        self.uninstall_with(tenant, install, false, actor).await
    }

    /// Removes an install; with `remove_schema`, first deletes what it provisioned in the org (its
    /// custom objects with their data, its fields on other objects, its permission set) — refused
    /// while another install on the same org uses the same recipe.
    ///
    /// # Errors
    /// Not found; [`Error::Conflict`] when another install of the recipe shares the org;
    /// Salesforce errors (then nothing is uninstalled).
    pub async fn uninstall_with(
        &self,
        tenant: &TenantId,
        install: &InstallId,
        remove_schema: bool,
        actor: &str,
    ) -> Result<()> {
        let (inst, recipe) = self.install_parts(tenant, install).await?;
        if remove_schema {
            let conn = self.store().get_connection(tenant, &inst.connection_id).await?;
            let shared = self.store().list_installs(tenant).await?.into_iter().filter(|i| {
                i.id != inst.id && i.recipe == inst.recipe && i.connection_id != inst.connection_id
            });
            for other in shared {
                let c = self.store().get_connection(tenant, &other.connection_id).await?;
                if c.org_id.is_some() && c.org_id == conn.org_id {
                    return Err(Error::Conflict(format!(
                        "install {} of the same recipe uses this org's schema too; uninstall it first, or uninstall \
                         without remove_schema",
                        other.id
                    )));
                }
            }
            let client = self.client_for(&inst).await?;
            let removed = remove::remove_schema(&recipe, &client).await?;
            self.store()
                .record_audit(
                    Some(tenant),
                    actor,
                    "install.schema_removed",
                    inst.id.as_str(),
                    &serde_json::json!({ "removed": removed }),
                )
                .await?;
        }
        Ok(self.store().uninstall_recipe(tenant, install, actor).await?)
    }
}
