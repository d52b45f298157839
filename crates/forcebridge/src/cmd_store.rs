//! `forcebridge migrate` and `forcebridge vault …`: store maintenance from the command line.
//!
//! Invariant: master keys are read from the environment or a file only here (the binary), are
//! never printed except by `vault new-key` without `--out` (whose whole purpose is then to print
//! one), and never appear in errors. Key files this writes are created with mode 0600 and never
//! overwrite an existing file.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args as ClapArgs, Subcommand};
use forcebridge_store::secrecy::{ExposeSecret as _, SecretString};
use forcebridge_store::{MasterKey, Store, StoreOptions, Vault, redact_url};

/// Where the store is. `Debug` shows the URL without its password.
#[derive(ClapArgs)]
pub struct DbArgs {
    /// Database URL: sqlite://path/to/file.db or postgres://user@host/db.
    #[arg(
        long,
        env = "FORCEBRIDGE_DATABASE_URL",
        default_value = "sqlite://forcebridge.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// PostgreSQL only: keep forcebridge's tables in this schema (created if missing) instead of
    /// the connection's default search path.
    #[arg(long, env = "FORCEBRIDGE_PG_SCHEMA")]
    pub pg_schema: Option<String>,
}

impl std::fmt::Debug for DbArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbArgs")
            .field("database_url", &redact_url(&self.database_url))
            .field("pg_schema", &self.pg_schema)
            .finish()
    }
}

impl DbArgs {
    /// Store options for this database.
    fn options(&self) -> Result<StoreOptions> {
        let mut options = StoreOptions::new(self.database_url.clone());
        if let Some(schema) = &self.pg_schema {
            if options.url.starts_with("sqlite:") {
                bail!("--pg-schema (FORCEBRIDGE_PG_SCHEMA) applies to PostgreSQL only, not to a SQLite URL");
            }
            options.pg_schema = Some(schema.clone());
        }
        Ok(options)
    }

    /// For commands that work on an existing store: refuse a database (SQLite file, PostgreSQL
    /// schema) that holds no forcebridge store, instead of setting one up and reporting success
    /// on it.
    async fn require_existing_store(&self) -> Result<()> {
        if let Some(rest) = self.database_url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if !path.is_empty() && path != ":memory:" && !Path::new(path).exists() {
                bail!(
                    "no database at {path}; pass the store's URL with --database-url (FORCEBRIDGE_DATABASE_URL)"
                );
            }
        }
        let mut options = self.options()?;
        options.migrate = false;
        let store = Store::connect(options).await.context("opening the database")?;
        let found = store.is_initialised().await;
        store.close().await;
        if !found.context("looking for the store's tables")? {
            let place = match &self.pg_schema {
                Some(schema) => format!("schema {schema} of {}", redact_url(&self.database_url)),
                None => redact_url(&self.database_url).into_owned(),
            };
            bail!(
                "no forcebridge store in {place}; check --database-url and --pg-schema \
                 (FORCEBRIDGE_DATABASE_URL, FORCEBRIDGE_PG_SCHEMA), or run `forcebridge migrate` first"
            );
        }
        Ok(())
    }
}

/// Master keys, from the environment or files.
#[derive(Debug, ClapArgs)]
pub struct KeyArgs {
    /// The master key (base64, 32 bytes), as made by `forcebridge vault new-key`.
    #[arg(
        long,
        env = "FORCEBRIDGE_MASTER_KEY",
        hide_env_values = true,
        conflicts_with = "master_key_file",
        value_parser = secret
    )]
    pub master_key: Option<SecretString>,
    /// A file holding the master key.
    #[arg(long, env = "FORCEBRIDGE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The previous master key, during a rotation.
    #[arg(
        long,
        env = "FORCEBRIDGE_MASTER_KEY_PREVIOUS",
        hide_env_values = true,
        conflicts_with = "previous_master_key_file",
        value_parser = secret
    )]
    pub previous_master_key: Option<SecretString>,
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
    /// Make a new random master key (base64). With --out, write it to a new file readable only by
    /// its owner (mode 0600) and print only its id; without, print the key to standard output
    /// (for piping into a secrets manager).
    NewKey {
        /// Write the key to this file, which must not exist yet (a key is never overwritten).
        #[arg(long)]
        out: Option<PathBuf>,
    },
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

/// Keys given as values are held as secrets from parsing on, so that `Debug` of the arguments
/// (a log line, a panic message) never shows them.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

fn read_key(value: Option<&SecretString>, file: Option<&PathBuf>, what: &str) -> Result<Option<MasterKey>> {
    let text = match (value, file) {
        (Some(v), _) => v.clone(),
        (None, Some(path)) => {
            warn_if_shared(path, what);
            SecretString::from(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading the {what} file {}", path.display()))?,
            )
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(
        MasterKey::from_base64(&text).with_context(|| format!("the {what}"))?,
    ))
}

/// Warn when a key file can be read by users other than its owner (a leaked master key opens
/// every backup); reading still proceeds, the operator decides.
fn warn_if_shared(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the {what} file {} has mode {mode:o}, readable by other users; chmod 600 it",
                path.display()
            );
        }
    }
}

/// Write a new key file: created exclusively (an existing file, perhaps the key that sealed a
/// store, is never replaced) with mode 0600 from the start, and synced to disk before the key id
/// is reported.
fn write_key_file(path: &Path, text: &SecretString) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| {
            format!(
                "creating the key file {} (it must not exist yet; a key is never overwritten)",
                path.display()
            )
        })?;
    file.write_all(text.expose_secret().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing the key file {}", path.display()))?;
    Ok(())
}

/// The vault the keys describe, if a current key is given.
pub fn vault_from(keys: &KeyArgs) -> Result<Option<Vault>> {
    let current = read_key(
        keys.master_key.as_ref(),
        keys.master_key_file.as_ref(),
        "master key",
    )?;
    let previous = read_key(
        keys.previous_master_key.as_ref(),
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

/// Apply the store's migrations; prints how many were applied (0: already up to date).
pub async fn migrate(args: MigrateArgs) -> Result<()> {
    let mut options = args.db.options()?;
    options.migrate = false;
    let store = Store::connect(options).await.context("opening the database")?;
    let applied = store.migrate().await.context("applying migrations")?;
    println!(
        "{}",
        serde_json::json!({
            "migrated": true,
            "applied": applied,
            "backend": format!("{:?}", store.backend()).to_lowercase(),
        })
    );
    store.close().await;
    Ok(())
}

/// Run a `vault` subcommand.
pub async fn vault(args: VaultArgs) -> Result<()> {
    match args.command {
        VaultCommand::NewKey { out } => {
            let (key, text) = MasterKey::generate();
            match out {
                Some(path) => {
                    write_key_file(&path, &text)?;
                    println!(
                        "{}",
                        serde_json::json!({ "key_id": key.id(), "file": path.display().to_string() })
                    );
                }
                None => {
                    eprintln!(
                        "new master key {}; store it where FORCEBRIDGE_MASTER_KEY(_FILE) can reach it",
                        key.id()
                    );
                    println!("{}", text.expose_secret());
                }
            }
            Ok(())
        }
        VaultCommand::Rotate { db, keys, batch } => {
            let vault = vault_from(&keys)?.context(
                "no master key: set FORCEBRIDGE_MASTER_KEY_FILE (the new key) and \
                 FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE (the old one), or the variables without _FILE",
            )?;
            let key_id = vault.current_key_id().to_owned();
            db.require_existing_store().await?;
            let store = Store::connect(db.options()?.vault(vault))
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Both {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        keys: KeyArgs,
    }

    #[test]
    fn debug_of_the_arguments_never_shows_a_key_or_password() {
        let (_, text) = MasterKey::generate();
        let key = text.expose_secret();
        let parsed = Both::try_parse_from([
            "x",
            "--database-url",
            "postgres://fb:pw-s3cr3t@db/forcebridge",
            "--master-key",
            key,
            "--previous-master-key",
            key,
        ])
        .expect("parses");
        let printed = format!("{parsed:?}");
        assert!(!printed.contains(key), "{printed}");
        assert!(!printed.contains("pw-s3cr3t"), "{printed}");
        assert!(vault_from(&parsed.keys).expect("valid keys").is_some());
        assert_eq!(
            parsed.db.options().expect("options").url,
            "postgres://fb:pw-s3cr3t@db/forcebridge",
            "only Debug redacts; the store gets the real URL"
        );
    }
}
