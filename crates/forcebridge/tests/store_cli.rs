//! `forcebridge migrate` and `forcebridge vault new-key|rotate` as commands: the real binary run as
//! an operator would, on a fresh SQLite file and on a fresh PostgreSQL schema.
//!
//! What is proven: `migrate` applies the embedded migrations and a second run applies none (exit 0
//! both times), with the database given by flags or by environment, and a database migrated by a
//! newer version is refused with "upgrade"; `vault new-key --out` writes a
//! key file with mode 0600, never overwrites one and never prints the key; `vault rotate` re-seals
//! every credential stored through the library under key A so that the store opens with key B and
//! not with A; a wrong, missing or malformed key makes the command exit non-zero with a message
//! naming what is needed and containing no key, token or file content.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use forcebridge_store::secrecy::{ExposeSecret as _, SecretString};
use forcebridge_store::{
    AuthMethod, ConnectionId, Credentials, Environment, ErrorKind, MasterKey, NewConnection, Owner, Role,
    Store, StoreOptions, TenantId, Vault,
};
use serde_json::Value;

const PG_ENV: &str = "FORCEBRIDGE_TEST_POSTGRES_URL";

/// Every variable the store commands read: cleared for each run so that the developer's
/// environment cannot leak into (or rescue) a test.
const COMMAND_ENV: &[&str] = &[
    "FORCEBRIDGE_DATABASE_URL",
    "FORCEBRIDGE_PG_SCHEMA",
    "FORCEBRIDGE_MASTER_KEY",
    "FORCEBRIDGE_MASTER_KEY_FILE",
    "FORCEBRIDGE_MASTER_KEY_PREVIOUS",
    "FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE",
    "FORCEBRIDGE_LOG",
];

/// One run of the binary.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Both streams, for "never prints X" checks.
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The one JSON line a successful command prints.
    fn json(&self) -> Value {
        assert!(self.ok, "command failed: {}", self.stderr);
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {:?}", self.stdout))
    }

    /// A failure: non-zero exit, nothing on stdout, and `needle` in the message.
    fn assert_fails_with(&self, needle: &str) {
        assert!(!self.ok, "expected a failure, got success: {}", self.stdout);
        assert_eq!(self.stdout, "", "a failed command prints nothing on stdout");
        assert!(
            self.stderr.contains(needle),
            "the message should contain {needle:?}: {}",
            self.stderr
        );
    }
}

fn forcebridge(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forcebridge"));
    for var in COMMAND_ENV {
        cmd.env_remove(var);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run forcebridge");
    Run {
        ok: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A fresh, empty database: a SQLite file not yet created, or a PostgreSQL schema not yet created
/// (dropped again at the end).
struct Target {
    url: String,
    schema: Option<String>,
    dir: tempfile::TempDir,
}

impl Target {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
        Self {
            url,
            schema: None,
            dir,
        }
    }

    /// `None` (after saying so loudly) when no PostgreSQL is configured; under CI that is a failure.
    fn postgres() -> Option<Self> {
        let url = match std::env::var(PG_ENV) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{PG_ENV} must be set under CI (PostgreSQL tests cannot be skipped there)"
                );
                eprintln!("SKIPPED: {PG_ENV} not set; the PostgreSQL half of store_cli did not run");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Some(Self {
            url,
            schema: Some(format!("fbcli_{}_{nanos}", std::process::id())),
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// `head` followed by the command-line flags naming this database.
    fn args<'a>(&'a self, head: &[&'a str]) -> Vec<&'a str> {
        let mut f = head.to_vec();
        f.extend(["--database-url", self.url.as_str()]);
        if let Some(s) = &self.schema {
            f.extend(["--pg-schema", s.as_str()]);
        }
        f
    }

    /// The same, as environment variables.
    fn env(&self) -> Vec<(&str, &str)> {
        let mut e = vec![("FORCEBRIDGE_DATABASE_URL", self.url.as_str())];
        if let Some(s) = &self.schema {
            e.push(("FORCEBRIDGE_PG_SCHEMA", s.as_str()));
        }
        e
    }

    /// Library options for this database, with `key` as the only master key.
    fn options(&self, key: &SecretString) -> StoreOptions {
        let mut o = StoreOptions::new(self.url.clone());
        o.pg_schema = self.schema.clone();
        o.vault(Vault::new(MasterKey::from_base64(key).unwrap()))
    }

    /// Open the store through the library with only `key`.
    async fn open(&self, key: &SecretString) -> forcebridge_store::Result<Store> {
        Store::connect(self.options(key)).await
    }

    /// A path for a file of this test.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Make a key with `vault new-key --out`; returns its file, text and id.
    fn new_key(&self, name: &str) -> (PathBuf, SecretString, String) {
        let path = self.path(name);
        let run = forcebridge(&["vault", "new-key", "--out", path.to_str().unwrap()], &[]);
        let id = run.json()["key_id"].as_str().unwrap().to_owned();
        let text = SecretString::from(std::fs::read_to_string(&path).unwrap());
        assert!(!run.all().contains(text.expose_secret().trim()));
        (path, text, id)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let Some(schema) = self.schema.clone() else {
            return;
        };
        let url = self.url.clone();
        // A runtime of its own: Drop may run inside or outside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&pool)
                .await?;
                pool.close().await;
                Ok::<_, sqlx::Error>(())
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}

/// How many migrations the binary embeds for a backend (one `.sql` file each).
fn migration_count(backend: &str) -> u64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../forcebridge-store/migrations")
        .join(backend);
    let n = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert!(n > 0, "no migrations under {}", dir.display());
    u64::try_from(n).unwrap()
}

// ---------------------------------------------------------------------------------- migrate

async fn migrate_then_no_op(target: &Target, backend: &str) {
    let first = forcebridge(&target.args(&["migrate"]), &[]);
    let out = first.json();
    assert_eq!(out["backend"], backend);
    assert_eq!(out["applied"], migration_count(backend), "{out}");
    // The second run names the database through the environment instead of flags: same store,
    // nothing left to apply.
    let second = forcebridge(&["migrate"], &target.env());
    let out = second.json();
    assert_eq!(out["applied"], 0, "a second migrate is a no-op: {out}");

    // The schema is usable as is: a store that does not migrate works on it.
    let (_, key) = MasterKey::generate();
    let mut options = target.options(&key);
    options.migrate = false;
    let store = Store::connect(options).await.unwrap();
    let t = store.create_tenant("after migrate").await.unwrap();
    assert_eq!(store.get_tenant(&t.id).await.unwrap().name, "after migrate");
    // On PostgreSQL the tables are in the named schema, not in the default one.
    if let (Some(pool), Some(schema)) = (store.pg_pool(), &target.schema) {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'jobs'",
        )
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(n, 1, "the jobs table is in schema {schema}");
    }
    store.close().await;
}

/// A database migrated by a newer forcebridge (it records a migration this build lacks): `migrate`
/// and a store start both refuse it and say to upgrade.
async fn newer_schema_is_refused(target: &Target) {
    // Raw access: no migrations, no key checks.
    let mut raw = StoreOptions::new(target.url.clone());
    raw.pg_schema = target.schema.clone();
    raw.migrate = false;
    let store = Store::connect(raw).await.unwrap();
    match (store.sqlite_pool(), store.pg_pool()) {
        (Some(pool), _) => {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (99999, 'from the future', TRUE, X'00', 0)",
            )
            .execute(pool)
            .await
            .unwrap();
        }
        (_, Some(pool)) => {
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (99999, 'from the future', TRUE, '\\x00'::bytea, 0)",
            )
            .execute(pool)
            .await
            .unwrap();
        }
        _ => unreachable!("a store is SQLite or PostgreSQL"),
    }
    store.close().await;
    forcebridge(&target.args(&["migrate"]), &[]).assert_fails_with("upgrade forcebridge");
    let (_, key) = MasterKey::generate();
    let e = target.open(&key).await.unwrap_err();
    assert!(
        matches!(e, forcebridge_store::Error::NewerSchema { version: 99999 }),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_then_is_a_no_op_on_sqlite() {
    let target = Target::sqlite();
    migrate_then_no_op(&target, "sqlite").await;
    assert!(target.path("fresh.db").exists());
    newer_schema_is_refused(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_then_is_a_no_op_on_postgres() {
    let Some(target) = Target::postgres() else {
        return;
    };
    migrate_then_no_op(&target, "postgres").await;
    newer_schema_is_refused(&target).await;
}

#[test]
fn migrate_rejects_a_schema_for_sqlite_and_a_bad_url() {
    let target = Target::sqlite();
    forcebridge(
        &["migrate", "--database-url", &target.url, "--pg-schema", "x"],
        &[],
    )
    .assert_fails_with("PostgreSQL only");
    assert!(!target.path("fresh.db").exists(), "nothing was created");
    forcebridge(&["migrate", "--database-url", "mysql://h/db"], &[])
        .assert_fails_with("sqlite:// or postgres://");
    // An unreachable PostgreSQL: the cause, not a pool timeout, and never the URL's password.
    let run = forcebridge(
        &["migrate"],
        &[(
            "FORCEBRIDGE_DATABASE_URL",
            "postgres://fb:pw-s3cr3t@127.0.0.1:1/db",
        )],
    );
    run.assert_fails_with("error communicating with database");
    assert!(!run.stderr.contains("pw-s3cr3t"), "{}", run.stderr);
    assert!(!run.stderr.contains("timed out"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------- new-key

#[test]
fn new_key_writes_a_private_file_never_overwrites_and_never_prints_the_key() {
    use std::os::unix::fs::PermissionsExt as _;
    let target = Target::sqlite();
    let (path, text, id) = target.new_key("master.key");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode {mode:o}");
    let key = MasterKey::from_base64(&text).expect("the file holds a valid key");
    assert_eq!(key.id(), id, "the printed id is the file's key");

    // A second new-key onto the same file fails and leaves the first key in place.
    let again = forcebridge(&["vault", "new-key", "--out", path.to_str().unwrap()], &[]);
    again.assert_fails_with("must not exist");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text.expose_secret(),
        "the existing key file is untouched"
    );

    // Without --out the key goes to stdout (for a secrets manager) and only its id to stderr.
    let piped = forcebridge(&["vault", "new-key"], &[]);
    assert!(piped.ok, "{}", piped.stderr);
    let printed = SecretString::from(piped.stdout.trim().to_owned());
    let key = MasterKey::from_base64(&printed).expect("stdout is the key");
    assert!(piped.stderr.contains(key.id()));
    assert!(!piped.stderr.contains(printed.expose_secret()));
}

// ---------------------------------------------------------------------------------- rotate

fn creds(token: &str) -> Credentials {
    Credentials {
        access_token: Some(token.into()),
        refresh_token: Some(format!("{token}-refresh").into()),
        client_secret: Some(format!("{token}-secret").into()),
        ..Default::default()
    }
}

/// Store connections through the library under `key`: `per_tenant` connections in each of two
/// tenants. Returns every connection with its tenant and access token.
async fn seed(
    target: &Target,
    key: &SecretString,
    per_tenant: usize,
) -> Vec<(TenantId, ConnectionId, String)> {
    let store = target.open(key).await.unwrap();
    let marker = std::process::id();
    let mut out = Vec::new();
    for tenant in ["Acme", "Globex"] {
        let t = store.create_tenant(tenant).await.unwrap();
        let admin = store
            .create_user(&t.id, &format!("admin@{tenant}.test"), Role::Admin, "test")
            .await
            .unwrap();
        for i in 0..per_tenant {
            let token = format!("00D!tok-{tenant}-{i}-{marker}");
            let c = store
                .create_connection(
                    &t.id,
                    &NewConnection {
                        org_id: None,
                        environment: Environment::Production,
                        auth_method: AuthMethod::OAuthWebServer,
                        owner: Owner::Personal {
                            user_id: admin.id.clone(),
                        },
                        label: format!("{tenant} {i}"),
                        credentials: creds(&token),
                    },
                    "test",
                )
                .await
                .unwrap();
            out.push((t.id.clone(), c.id, token));
        }
    }
    store.close().await;
    out
}

/// Every seeded credential opens through `store` with its original values.
async fn assert_all_open(store: &Store, seeded: &[(TenantId, ConnectionId, String)]) {
    for (tenant, id, token) in seeded {
        let c = store.credentials(tenant, id).await.unwrap();
        assert_eq!(c.access_token.unwrap().expose_secret(), token);
        assert_eq!(
            c.refresh_token.unwrap().expose_secret(),
            &format!("{token}-refresh")
        );
        assert_eq!(
            c.client_secret.unwrap().expose_secret(),
            &format!("{token}-secret")
        );
    }
}

async fn rotate_a_to_b(target: &Target) {
    assert!(forcebridge(&target.args(&["migrate"]), &[]).ok);
    let (a_file, a, a_id) = target.new_key("a.key");
    let (b_file, b, b_id) = target.new_key("b.key");
    let seeded = seed(target, &a, 3).await;

    let keys = [
        ("FORCEBRIDGE_MASTER_KEY_FILE", b_file.to_str().unwrap()),
        ("FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE", a_file.to_str().unwrap()),
    ];
    // Two connections per transaction: six connections take several batches.
    let args = target.args(&["vault", "rotate", "--batch", "2"]);
    let run = forcebridge(&args, &keys);
    let out = run.json();
    assert_eq!(out["resealed"], 6, "{out}");
    assert_eq!(out["key_id"], b_id.as_str());
    let printed = run.all();
    for secret in [a.expose_secret().trim(), b.expose_secret().trim()] {
        assert!(!printed.contains(secret), "a key was printed");
    }
    for (_, _, token) in &seeded {
        assert!(!printed.contains(token.as_str()), "a token was printed");
    }

    // The store now opens with B alone and every credential decrypts to what was stored.
    let with_b = target.open(&b).await.unwrap();
    assert_all_open(&with_b, &seeded).await;
    let audit = with_b.list_system_audit(10).await.unwrap();
    assert_eq!(audit[0].action, "vault.rotate");
    assert_eq!(audit[0].target, b_id);
    assert_eq!(audit[0].detail["resealed"], 6);
    with_b.close().await;
    // ...and not with A: the start check names the key it needs.
    let e = target.open(&a).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Crypto, "{e}");
    assert!(e.to_string().contains(&b_id), "{e}");
    assert!(!e.to_string().contains(&a_id), "{e}");

    // Running it again finds nothing left under A.
    let again = forcebridge(&args, &keys);
    assert_eq!(again.json()["resealed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_reseals_every_credential_from_a_to_b_on_sqlite() {
    rotate_a_to_b(&Target::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_reseals_every_credential_from_a_to_b_on_postgres() {
    let Some(target) = Target::postgres() else {
        return;
    };
    rotate_a_to_b(&target).await;
}

async fn bad_keys_fail_clearly(target: &Target) {
    assert!(forcebridge(&target.args(&["migrate"]), &[]).ok);
    let (a_file, a, a_id) = target.new_key("a.key");
    let (b_file, b, _) = target.new_key("b.key");
    let (c_file, c, _) = target.new_key("c.key");
    let seeded = seed(target, &a, 1).await;
    let garbage = target.path("garbage.key");
    std::fs::write(&garbage, "hunter2-not-a-key\n").unwrap();
    let short = target.path("short.key");
    std::fs::write(&short, "AAAAAAAAAAAAAAAAAAAAAA==\n").unwrap();
    let missing = target.path("missing.key");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let (a_file, b_file, c_file) = (p(&a_file), p(&b_file), p(&c_file));
    let (garbage, short, missing) = (p(&garbage), p(&short), p(&missing));

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        // No key at all.
        (vec![], "no master key"),
        // Only a previous key.
        (
            vec![("FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE", a_file.as_str())],
            "without a current one",
        ),
        // A wrong key, given as a variable: the message names the key the store needs.
        (
            vec![("FORCEBRIDGE_MASTER_KEY", c.expose_secret().trim())],
            a_id.as_str(),
        ),
        // A new key with a wrong previous one.
        (
            vec![
                ("FORCEBRIDGE_MASTER_KEY_FILE", b_file.as_str()),
                ("FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE", c_file.as_str()),
            ],
            a_id.as_str(),
        ),
        // A key given twice, as a variable and as a file: refused rather than one picked.
        (
            vec![
                ("FORCEBRIDGE_MASTER_KEY", a.expose_secret().trim()),
                ("FORCEBRIDGE_MASTER_KEY_FILE", a_file.as_str()),
            ],
            "cannot be used with",
        ),
        // Key files that are missing, not base64, or too short.
        (
            vec![("FORCEBRIDGE_MASTER_KEY_FILE", missing.as_str())],
            "reading the master key file",
        ),
        (
            vec![("FORCEBRIDGE_MASTER_KEY_FILE", garbage.as_str())],
            "not valid base64",
        ),
        (
            vec![
                ("FORCEBRIDGE_MASTER_KEY_FILE", b_file.as_str()),
                ("FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE", short.as_str()),
            ],
            "decodes to 16 bytes",
        ),
    ];
    let args = target.args(&["vault", "rotate"]);
    for (env, needle) in &cases {
        let run = forcebridge(&args, env);
        run.assert_fails_with(needle);
        let printed = run.all();
        for secret in [&a, &b, &c] {
            assert!(
                !printed.contains(secret.expose_secret().trim()),
                "a key was printed: {printed}"
            );
        }
        assert!(!printed.contains("hunter2"), "key file content was printed");
        assert!(!printed.contains(seeded[0].2.as_str()), "a token was printed");
    }

    // The failures changed nothing: the store still opens with A, and no rotation happened.
    let store = target.open(&a).await.unwrap();
    assert_all_open(&store, &seeded).await;
    assert!(
        store
            .list_system_audit(10)
            .await
            .unwrap()
            .iter()
            .all(|e| e.action != "vault.rotate")
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_keys_fail_clearly_on_sqlite() {
    let target = Target::sqlite();
    bad_keys_fail_clearly(&target).await;
    // A rotation pointed at a SQLite file that does not exist fails instead of making one.
    let (key, _, _) = target.new_key("k.key");
    let nowhere = target.path("nowhere.db");
    forcebridge(
        &[
            "vault",
            "rotate",
            "--database-url",
            &format!("sqlite://{}", nowhere.display()),
        ],
        &[("FORCEBRIDGE_MASTER_KEY_FILE", key.to_str().unwrap())],
    )
    .assert_fails_with("no database at");
    assert!(!nowhere.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_keys_fail_clearly_on_postgres() {
    let Some(target) = Target::postgres() else {
        return;
    };
    bad_keys_fail_clearly(&target).await;
    // A rotation pointed at a schema that holds no store (a typo) fails instead of migrating it.
    let Some(empty) = Target::postgres() else {
        return;
    };
    let (key, _, _) = target.new_key("k.key");
    forcebridge(
        &empty.args(&["vault", "rotate"]),
        &[("FORCEBRIDGE_MASTER_KEY_FILE", key.to_str().unwrap())],
    )
    .assert_fails_with("no forcebridge store in schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let target = Target::sqlite();
    assert!(forcebridge(&target.args(&["migrate"]), &[]).ok);
    let (file, _, _) = target.new_key("open.key");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = forcebridge(
        &target.args(&["vault", "rotate"]),
        &[("FORCEBRIDGE_MASTER_KEY_FILE", file.to_str().unwrap())],
    );
    assert_eq!(run.json()["resealed"], 0);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
}
