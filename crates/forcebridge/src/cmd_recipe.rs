//! `forcebridge recipe …`: the recipe author's commands. `recipe check PATH [--json]` loads a
//! recipe (its folder or its `recipe.toml`, with the test cases beside it) and reports every
//! problem as a compiler does, or as JSON for tools.
//!
//! Invariant: `check` reads files only; it exits 1 exactly when the recipe has an error (warnings
//! alone exit 0), and prints diagnostics on stdout so they can be piped.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args as ClapArgs, Subcommand};
use forcebridge_engine::recipe;

/// `forcebridge recipe …`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    pub command: RecipeCommand,
}

/// The recipe subcommands.
#[derive(Debug, Subcommand)]
pub enum RecipeCommand {
    /// Check a recipe (folder or recipe.toml) and its test cases; exit 1 on any error.
    Check(CheckArgs),
    /// Show the provisioning plan of a recipe against an org (a fresh emulator by default).
    Plan(crate::cmd_recipe_run::PlanArgs),
    /// Show the Salesforce calls a batch of events would make and their API cost, against a
    /// throwaway emulator: nothing real changes.
    DryRun(crate::cmd_recipe_run::DryRunArgs),
    /// Run the test cases kept beside recipes (`<recipe>/tests/*.toml`), each against a fresh
    /// emulator; exit 1 if any fails.
    Test(crate::cmd_recipe_run::TestArgs),
}

/// `recipe check`.
#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    /// The recipe folder or its recipe.toml.
    pub path: PathBuf,
    /// Print the diagnostics as JSON (`{ "ok", "recipe", "diagnostics" }`) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also check against a live org's describe, signing in at this login URL with the
    /// username-password flow (the `--org-*` options): objects, fields and access the flows need
    /// that the recipe's provisioning will not create.
    #[arg(long, env = "FORCEBRIDGE_ORG_LOGIN_URL")]
    pub org: Option<String>,
    /// The connected app's consumer key (with `--org`).
    #[arg(long, env = "FORCEBRIDGE_ORG_CLIENT_ID", requires = "org")]
    pub org_client_id: Option<String>,
    /// The connected app's consumer secret (with `--org`).
    #[arg(
        long,
        env = "FORCEBRIDGE_ORG_CLIENT_SECRET",
        requires = "org",
        hide_env_values = true
    )]
    pub org_client_secret: Option<String>,
    /// The user to sign in as (with `--org`).
    #[arg(long, env = "FORCEBRIDGE_ORG_USERNAME", requires = "org")]
    pub org_username: Option<String>,
    /// The password with the security token appended (with `--org`).
    #[arg(
        long,
        env = "FORCEBRIDGE_ORG_PASSWORD",
        requires = "org",
        hide_env_values = true
    )]
    pub org_password: Option<String>,
}

/// Runs a recipe subcommand.
pub async fn run(args: Args) -> Result<()> {
    match args.command {
        RecipeCommand::Check(a) => {
            check(&a)?;
            match &a.org {
                Some(url) => crate::cmd_recipe_run::check_org(&a.path, url, &a).await,
                None => Ok(()),
            }
        }
        RecipeCommand::Plan(a) => crate::cmd_recipe_run::plan(a).await,
        RecipeCommand::DryRun(a) => crate::cmd_recipe_run::dry_run(a).await,
        RecipeCommand::Test(a) => crate::cmd_recipe_run::test(a).await,
    }
}

fn check(args: &CheckArgs) -> Result<()> {
    match recipe::load(&args.path) {
        Ok((r, warnings)) => {
            // The demo beside it (`demo.toml`), if any, must fit the recipe too.
            let dir = if args.path.is_dir() {
                args.path.clone()
            } else {
                args.path.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            let demo = forcebridge_engine::demo::load(&dir, &r);
            if args.json {
                let demo_json = match &demo {
                    Ok(None) => serde_json::Value::Null,
                    Ok(Some(d)) => serde_json::json!({ "ok": true, "events": d.default_events }),
                    Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
                };
                let out = serde_json::json!({
                    "ok": demo.is_ok(),
                    "recipe": { "name": r.name, "version": r.version, "content_hash": r.content_hash },
                    "diagnostics": warnings,
                    "demo": demo_json,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                if !warnings.is_empty() {
                    let sources = read_sources(&warnings);
                    print!("{}", recipe::render_diagnostics(&warnings, &sources));
                }
                println!(
                    "ok: recipe {} {} — {} flow(s), {} setting(s), {} workflow(s), {} custom object(s), {} test case(s)",
                    r.name,
                    r.version,
                    r.flows.len(),
                    r.settings.len(),
                    r.workflows.len(),
                    r.schema.objects.len(),
                    r.tests.len()
                );
                if let Ok(Some(d)) = &demo {
                    println!(
                        "ok: demo — {} by {}, {} events by default",
                        d.environment.as_str(),
                        d.auth.as_str(),
                        d.default_events
                    );
                }
            }
            match demo {
                Err(e) => bail!("the recipe's demo does not load: {e}"),
                Ok(_) => Ok(()),
            }
        }
        Err(e) => {
            if args.json {
                let out = serde_json::json!({ "ok": false, "diagnostics": e.diagnostics });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", recipe::render(&e));
            }
            let errors = e.errors().count();
            bail!("{} has {errors} error(s)", args.path.display())
        }
    }
}

/// The texts of the files warnings point into (they were just read, so a failure only loses the
/// excerpt, never the warning).
fn read_sources(diagnostics: &[recipe::Diagnostic]) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for d in diagnostics {
        if out.iter().all(|(p, _)| *p != d.file)
            && let Ok(t) = std::fs::read_to_string(&d.file)
        {
            out.push((d.file.clone(), t));
        }
    }
    out
}
