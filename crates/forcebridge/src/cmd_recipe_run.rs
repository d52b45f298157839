//! `forcebridge recipe plan | dry-run | test`: the recipe author's commands that run a recipe,
//! each against a fresh in-process emulator (the real engine, a temporary SQLite store), so an
//! author sees what the recipe would do before any real org is touched.
//!
//! Invariant: these commands never write to a real org; `test` exits 1 exactly when a case fails
//! or cannot run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Args as ClapArgs;
use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use forcebridge_engine::harness::{self, CaseReport, OrgAccess};
use forcebridge_engine::recipe::{self, ir::Recipe};
use forcebridge_engine::runtime::IncomingEvent;
use forcebridge_salesforce::HttpConfig;
use serde_json::{Value, json};

/// `recipe plan`.
#[derive(Debug, ClapArgs)]
pub struct PlanArgs {
    /// The recipe folder or its recipe.toml.
    pub path: PathBuf,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `recipe dry-run`.
#[derive(Debug, ClapArgs)]
pub struct DryRunArgs {
    /// The recipe folder or its recipe.toml.
    pub path: PathBuf,
    /// The events: a JSON array (or one object per line) of `{ "type", "id"?, "data" }`.
    #[arg(long)]
    pub events: PathBuf,
    /// The install's settings as JSON (defaults fill the rest).
    #[arg(long, default_value = "{}")]
    pub settings: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `recipe test`.
#[derive(Debug, ClapArgs)]
pub struct TestArgs {
    /// Recipe folders, or folders of recipe folders (default: `recipes`).
    pub paths: Vec<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

fn load(path: &Path) -> Result<Arc<Recipe>> {
    match recipe::load(path) {
        Ok((r, _)) => Ok(Arc::new(r)),
        Err(e) => {
            print!("{}", recipe::render(&e));
            bail!(
                "recipe {} does not check; fix the errors above (forcebridge recipe check {})",
                path.display(),
                path.display()
            )
        }
    }
}

async fn emulator() -> Result<(EmulatorHandle, OrgAccess)> {
    let h = Emulator::start(EmulatorConfig {
        addr: "127.0.0.1:0".parse()?,
        ..EmulatorConfig::default()
    })
    .await
    .context("starting the in-process emulator")?;
    let c = h.config().clone();
    let org = OrgAccess {
        login_url: h.base_url().to_owned(),
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone().into(),
        username: c.username.clone(),
        password: format!("{}{}", c.password, c.security_token).into(),
        http: HttpConfig::default().allow_loopback_http(),
    };
    Ok((h, org))
}

/// Prints the provisioning plan of a recipe against a fresh org.
pub async fn plan(args: PlanArgs) -> Result<()> {
    let r = load(&args.path)?;
    let (_h, org) = emulator().await?;
    let dir = tempfile::tempdir().context("making a temporary folder")?;
    let (engine, tenant, conn, _) = harness::fresh_engine(r.clone(), &org, dir.path()).await?;
    let install = engine.install(&tenant, &conn, &r.name, json!({}), "cli").await?;
    let plan = engine.plan(&tenant, &install.id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!(
            "provisioning plan of {} on a fresh org ({} change(s)):",
            r.name,
            plan.changes.len()
        );
        for c in &plan.changes {
            println!("  - {c}");
        }
    }
    Ok(())
}

fn read_events(path: &Path) -> Result<Vec<IncomingEvent>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(a)) => a,
        Ok(v @ Value::Object(_)) => vec![v],
        _ => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, l)| {
                serde_json::from_str(l)
                    .with_context(|| format!("{} line {}: not JSON", path.display(), n + 1))
            })
            .collect::<Result<_>>()?,
    };
    values
        .into_iter()
        .enumerate()
        .map(|(n, v)| {
            let t = v
                .get("type")
                .and_then(Value::as_str)
                .with_context(|| format!("event {n}: \"type\" is missing"))?;
            Ok(IncomingEvent {
                idempotency_key: v
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("event-{n}"), str::to_owned),
                event_type: t.to_owned(),
                data: v.get("data").cloned().unwrap_or_else(|| json!({})),
                connection_id: None,
            })
        })
        .collect()
}

/// Runs events through a recipe against a throwaway emulator and reports the calls made.
pub async fn dry_run(args: DryRunArgs) -> Result<()> {
    let r = load(&args.path)?;
    let events = read_events(&args.events)?;
    let settings: Value = serde_json::from_str(&args.settings).context("--settings is not JSON")?;
    let (h, org) = emulator().await?;
    let dir = tempfile::tempdir().context("making a temporary folder")?;
    let (engine, tenant, conn, _) = harness::fresh_engine(r.clone(), &org, dir.path()).await?;
    let install = engine.install(&tenant, &conn, &r.name, settings, "cli").await?;
    let plan = engine.plan(&tenant, &install.id).await?;
    engine.apply(&tenant, &install.id, &plan.hash, "cli").await?;
    let http = reqwest_client()?;
    let log_url = format!("{}/__emulator/requests", h.base_url());
    http.delete(&log_url)
        .send()
        .await
        .context("clearing the emulator's request log")?;
    let n = events.len();
    engine.ingest(&tenant, events).await?;
    let report = engine.run_until_idle().await?;
    let log: Value = http.get(&log_url).send().await?.json().await?;
    let calls: Vec<Value> = log["requests"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["path"].as_str().is_some_and(|p| !p.contains("/oauth2/")))
                .map(|r| json!({ "method": r["method"], "path": r["path"], "query": r["query"], "status": r["status"] }))
                .collect()
        })
        .unwrap_or_default();
    let per_event = if n == 0 {
        0.0
    } else {
        calls.len() as f64 / n as f64
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "events": n, "api_calls": calls.len(), "calls_per_event": per_event,
                "by_api": report.api_calls, "deliveries": report.by_state, "calls": calls,
            }))?
        );
    } else {
        println!(
            "{n} event(s) → {} Salesforce call(s) ({per_event:.3} per event); deliveries {:?}",
            calls.len(),
            report.by_state
        );
        for c in &calls {
            let q = c["query"].as_str().map(|q| format!("?{q}")).unwrap_or_default();
            println!(
                "  {} {}{} → {}",
                c["method"].as_str().unwrap_or(""),
                c["path"].as_str().unwrap_or(""),
                q,
                c["status"]
            );
        }
    }
    Ok(())
}

fn reqwest_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .build()
        .context("building an HTTP client")
}

fn recipe_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let roots = if paths.is_empty() {
        vec![PathBuf::from("recipes")]
    } else {
        paths.to_vec()
    };
    let mut out = Vec::new();
    for root in roots {
        if root.join("recipe.toml").is_file() || root.extension().is_some_and(|e| e == "toml") {
            out.push(root);
            continue;
        }
        let entries = std::fs::read_dir(&root).with_context(|| format!("reading {}", root.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("recipe.toml").is_file())
            .collect();
        found.sort();
        if found.is_empty() {
            bail!(
                "{} holds no recipe (no recipe.toml in it or its folders)",
                root.display()
            );
        }
        out.extend(found);
    }
    Ok(out)
}

/// Runs every test case of every recipe named, each against a fresh emulator.
pub async fn test(args: TestArgs) -> Result<()> {
    let mut results: Vec<(String, CaseReport)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for dir in recipe_dirs(&args.paths)? {
        let r = load(&dir)?;
        if r.tests.is_empty() {
            errors.push(format!("{}: no test cases in {}/tests", r.name, dir.display()));
        }
        for case in &r.tests {
            let (h, org) = emulator().await?;
            match harness::run_case(r.clone(), case, &org).await {
                Ok(rep) => results.push((r.name.clone(), rep)),
                Err(e) => errors.push(format!("{} › {}: could not run: {e}", r.name, case.name)),
            }
            h.stop().await;
        }
    }
    let failed = results.iter().filter(|(_, r)| !r.passed()).count() + errors.len();
    if args.json {
        let cases: Vec<Value> = results
            .iter()
            .map(|(name, r)| json!({ "recipe": name, "case": r.name, "passed": r.passed(), "failures": r.failures, "events": r.events, "api_calls": r.api_calls }))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "cases": cases, "errors": errors, "failed": failed }))?
        );
    } else {
        for (name, r) in &results {
            let mark = if r.passed() { "ok  " } else { "FAIL" };
            println!(
                "{mark} {name} › {}  ({} event(s), {} API call(s))",
                r.name, r.events, r.api_calls
            );
            for f in &r.failures {
                println!("       {f}");
            }
        }
        for e in &errors {
            println!("FAIL {e}");
        }
        println!(
            "{} passed, {} failed",
            results.len() - results.iter().filter(|(_, r)| !r.passed()).count(),
            failed
        );
    }
    if failed > 0 {
        bail!("{failed} recipe test case(s) failed");
    }
    Ok(())
}

/// `recipe check --org`: what the live org lacks for the recipe's flows (after the file checked).
pub async fn check_org(path: &Path, url: &str, a: &crate::cmd_recipe::CheckArgs) -> Result<()> {
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .with_context(|| format!("--org needs {what} (or its FORCEBRIDGE_ORG_* variable)"))
    };
    let r = load(path)?;
    let loopback = url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
    let org = OrgAccess {
        login_url: url.to_owned(),
        client_id: need(&a.org_client_id, "--org-client-id")?,
        client_secret: need(&a.org_client_secret, "--org-client-secret")?.into(),
        username: need(&a.org_username, "--org-username")?,
        password: need(&a.org_password, "--org-password")?.into(),
        http: if loopback {
            HttpConfig::default().allow_loopback_http()
        } else {
            HttpConfig::default()
        },
    };
    let client = harness::org_client(&org)?;
    let findings = forcebridge_engine::install::live_findings(&r, &client)
        .await
        .with_context(|| format!("checking recipe {} against {url}", r.name))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "org": url, "findings": findings }))?
        );
    } else if findings.is_empty() {
        println!(
            "ok: the org at {url} has everything recipe {} needs beyond what it provisions",
            r.name
        );
    } else {
        for f in &findings {
            let at = f
                .field
                .as_ref()
                .map_or_else(|| f.object.clone(), |x| format!("{}.{x}", f.object));
            println!("error: org: {at}: {f}");
        }
    }
    if !findings.is_empty() {
        bail!(
            "the org lacks {} thing(s) recipe {} needs; fix them or grant access, then check again",
            findings.len(),
            r.name
        );
    }
    Ok(())
}
