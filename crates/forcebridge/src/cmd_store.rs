//! `forcebridge migrate` and `forcebridge vault …`: store maintenance from the command line.
//!
//! Invariant: master keys are read from the environment or a file only here (the binary), are
//! never printed except by `vault new-key` (whose whole purpose is to print one), and never appear
//! in errors.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args as ClapArgs, Subcommand};
use forcebridge_store::secrecy::{ExposeSecret as _, SecretString};
use forcebridge_store::{MasterKey, Store, StoreOptions, Vault};

/// Where the store is.
#[derive(Debug, ClapArgs)]
pub struct DbArgs {
    /// Database URL: sqlite://path/to/file.db (created if missing) or postgres://user@host/db.
    #[arg(
        long,
        env = "FORCEBRIDGE_DATABASE_URL",
        default_value = "sqlite://forcebridge.db"
    )]
    pub database_url: String,
}

/// Master keys, from the environment or files.
#[derive(Debug, ClapArgs)]
pub struct KeyArgs {
    /// The master key (base64, 32 bytes), as made by `forcebridge vault new-key`.
    #[arg(
        long,
        env = "FORCEBRIDGE_MASTER_KEY",
        hide_env_values = true,
        conflicts_with = "master_key_file"
    )]
    pub master_key: Option<String>,
    /// A file holding the master key.
    #[arg(long, env = "FORCEBRIDGE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The previous master key, during a rotation.
    #[arg(
        long,
        env = "FORCEBRIDGE_MASTER_KEY_PREVIOUS",
        hide_env_values = true,
        conflicts_with = "previous_master_key_file"
    )]
    pub previous_master_key: Option<String>,
    /// A file holding the previous master key.
    #[arg(long, env = "FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE")]
    pub previous_master_key_file: Option<PathBuf>,
}

/// `forcebridge migrate`.
#[derive(Debug, ClapArgs)]
pub struct MigrateArgs {
    #[command(flatten)]
    db: DbArgs,
}

/// `forcebridge vault …`.
#[derive(Debug, ClapArgs)]
pub struct VaultArgs {
    #[command(subcommand)]
    command: VaultCommand,
}

#[derive(Debug, Subcommand)]
enum VaultCommand {
    /// Print a new random master key (base64) to standard output.
    NewKey,
    /// Re-seal every stored credential under the current master key (FORCEBRIDGE_MASTER_KEY),
    /// opening old values with the previous key (FORCEBRIDGE_MASTER_KEY_PREVIOUS). Running nodes
    /// keep working if they hold both keys; see docs/operations.md.
    Rotate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        keys: KeyArgs,
        /// Connections re-sealed per transaction.
        #[arg(long, default_value_t = 100)]
        batch: u32,
    },
}

fn read_key(value: Option<&str>, file: Option<&PathBuf>, what: &str) -> Result<Option<MasterKey>> {
    let text = match (value, file) {
        (Some(v), _) => SecretString::from(v.to_owned()),
        (None, Some(path)) => SecretString::from(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the {what} file {}", path.display()))?,
        ),
        (None, None) => return Ok(None),
    };
    Ok(Some(
        MasterKey::from_base64(&text).with_context(|| format!("the {what}"))?,
    ))
}

/// The vault the keys describe, if a current key is given.
pub fn vault_from(keys: &KeyArgs) -> Result<Option<Vault>> {
    let current = read_key(
        keys.master_key.as_deref(),
        keys.master_key_file.as_ref(),
        "master key",
    )?;
    let previous = read_key(
        keys.previous_master_key.as_deref(),
        keys.previous_master_key_file.as_ref(),
        "previous master key",
    )?;
    Ok(match (current, previous) {
        (Some(c), Some(p)) => Some(Vault::new(c).with_older(p)),
        (Some(c), None) => Some(Vault::new(c)),
        (None, Some(_)) => {
            bail!("a previous master key was given without a current one (FORCEBRIDGE_MASTER_KEY)")
        }
        (None, None) => None,
    })
}

/// Apply the store's migrations.
pub async fn migrate(args: MigrateArgs) -> Result<()> {
    let mut options = StoreOptions::new(args.db.database_url);
    options.migrate = false;
    let store = Store::connect(options).await.context("opening the database")?;
    store.migrate().await.context("applying migrations")?;
    println!(
        "{}",
        serde_json::json!({ "migrated": true, "backend": format!("{:?}", store.backend()).to_lowercase() })
    );
    store.close().await;
    Ok(())
}

/// Run a `vault` subcommand.
pub async fn vault(args: VaultArgs) -> Result<()> {
    match args.command {
        VaultCommand::NewKey => {
            let (key, text) = MasterKey::generate();
            eprintln!(
                "new master key {}; store it where FORCEBRIDGE_MASTER_KEY(_FILE) can reach it",
                key.id()
            );
            println!("{}", text.expose_secret());
            Ok(())
        }
        VaultCommand::Rotate { db, keys, batch } => {
            let vault = vault_from(&keys)?.context(
                "no master key: set FORCEBRIDGE_MASTER_KEY (new) and FORCEBRIDGE_MASTER_KEY_PREVIOUS (old)",
            )?;
            let key_id = vault.current_key_id().to_owned();
            let store = Store::connect(StoreOptions::new(db.database_url).vault(vault))
                .await
                .context("opening the store")?;
            let resealed = store
                .rotate_vault(batch)
                .await
                .context("re-sealing credentials")?;
            println!(
                "{}",
                serde_json::json!({ "resealed": resealed, "key_id": key_id })
            );
            store.close().await;
            Ok(())
        }
    }
}
