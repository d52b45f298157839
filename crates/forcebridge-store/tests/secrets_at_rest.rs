//! Secrets at rest: after storing a connection whose tokens are known strings and an API key,
//! neither the SQLite file nor its WAL, nor a `pg_dump` of the PostgreSQL schema, contains them
//! (the API key is there only as an argon2id hash); and a sealed value copied onto another
//! tenant's row does not open.
#![allow(clippy::unwrap_used)] // tests may unwrap (see common.md); a failure is the assertion

mod common;

use common::{Place, TestDb};
use forcebridge_store::*;
use secrecy::ExposeSecret as _;

struct Planted {
    tenant: TenantId,
    connection: ConnectionId,
    other_tenant: TenantId,
    other_connection: ConnectionId,
    secrets: Vec<String>,
}

async fn plant(db: &TestDb) -> Planted {
    let s = &db.store;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let secrets = vec![
        format!("00Dxx0000001gPL!ACCESS{marker}"),
        format!("5Aep861REFRESH{marker}"),
        format!("CLIENTSECRET{marker}"),
        format!("-----BEGIN PRIVATE KEY-----PK{marker}"),
    ];
    let t = s.create_tenant("Acme").await.unwrap();
    let u = s
        .create_user(&t.id, "a@acme.test", Role::Admin, "test")
        .await
        .unwrap();
    let creds = Credentials {
        access_token: Some(secrets[0].as_str().into()),
        refresh_token: Some(secrets[1].as_str().into()),
        client_secret: Some(secrets[2].as_str().into()),
        private_key_pem: Some(secrets[3].as_str().into()),
        ..Default::default()
    };
    let new = |user: &UserId, creds: Credentials| NewConnection {
        org_id: None,
        environment: Environment::Sandbox,
        auth_method: AuthMethod::JwtBearer,
        owner: Owner::Personal {
            user_id: user.clone(),
        },
        label: "org".into(),
        credentials: creds,
    };
    let c = s
        .create_connection(&t.id, &new(&u.id, creds.clone()), "a")
        .await
        .unwrap();
    let other = s.create_tenant("Other").await.unwrap();
    let ou = s
        .create_user(&other.id, "o@other.test", Role::Admin, "test")
        .await
        .unwrap();
    let oc = s
        .create_connection(&other.id, &new(&ou.id, Credentials::default()), "o")
        .await
        .unwrap();
    // An API key: only its argon2 hash and lookup prefix are stored, never the key or its
    // secret part.
    let (_, api_key) = s.create_api_key(&t.id, "ci", "a").await.unwrap();
    let api_key = api_key.expose_secret().to_owned();
    // `fbk_<hex prefix>_<base64url secret>`: the secret may itself contain '_', so split on the
    // first two only (a short fragment of it could match anything in a dump by chance).
    let secret_part = api_key.splitn(3, '_').nth(2).unwrap().to_owned();
    assert!(
        secret_part.len() >= 40,
        "the whole secret part: {}",
        secret_part.len()
    );
    // Reading back works, and nothing printable shows the secrets.
    let back = s.credentials(&t.id, &c.id).await.unwrap();
    assert_eq!(back.access_token.as_ref().unwrap().expose_secret(), secrets[0]);
    let printed = format!("{back:?} {c:?}");
    for secret in &secrets {
        assert!(!printed.contains(secret.as_str()));
    }
    let mut secrets = secrets;
    secrets.extend([api_key, secret_part]);
    Planted {
        tenant: t.id,
        connection: c.id,
        other_tenant: other.id,
        other_connection: oc.id,
        secrets,
    }
}

async fn copied_row_does_not_open(db: &TestDb, p: &Planted) {
    let s = &db.store;
    let sql = format!(
        "UPDATE connections SET sealed_credentials = (SELECT sealed_credentials FROM connections WHERE id = '{}') \
         WHERE id = '{}'",
        p.connection, p.other_connection
    );
    common::exec(s, &sql).await;
    let e = s
        .credentials(&p.other_tenant, &p.other_connection)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Crypto, "{e}");
    for secret in &p.secrets {
        assert!(!e.to_string().contains(secret.as_str()));
    }
    // The original still opens for its own tenant.
    s.credentials(&p.tenant, &p.connection).await.unwrap();
}

fn assert_absent(haystack: &[u8], secrets: &[String], what: &str) {
    for secret in secrets {
        let found = haystack.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{what} contains a plaintext secret");
    }
}

#[tokio::test]
async fn sqlite_file_and_wal_hold_no_plaintext_secrets() {
    let db = common::sqlite().await;
    let p = plant(&db).await;
    let Place::Sqlite(path) = &db.place else {
        unreachable!()
    };
    let wal = path.with_extension("db-wal");
    // While open: the newest writes are in the WAL.
    let wal_bytes = std::fs::read(&wal).unwrap();
    assert!(!wal_bytes.is_empty(), "the WAL should hold the recent writes");
    assert_absent(&wal_bytes, &p.secrets, "the WAL");
    assert_absent(&std::fs::read(path).unwrap(), &p.secrets, "the database file");
    // The connection row is there (so the check is not vacuous): its id is in the file or WAL,
    // as is the API key's argon2id hash.
    let all = [std::fs::read(path).unwrap(), wal_bytes].concat();
    assert!(all.windows(36).any(|w| w == p.connection.as_str().as_bytes()));
    assert!(all.windows(10).any(|w| w == b"$argon2id$"));
    copied_row_does_not_open(&db, &p).await;
    // After a checkpoint too.
    common::exec(&db.store, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert_absent(
        &std::fs::read(path).unwrap(),
        &p.secrets,
        "the checkpointed database file",
    );
}

#[tokio::test]
async fn pg_dump_holds_no_plaintext_secrets() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let p = plant(&db).await;
    let Place::Postgres { url, schema } = &db.place else {
        unreachable!()
    };
    let out = std::process::Command::new("pg_dump")
        .args(["--schema", schema, "--data-only", url])
        .output()
        .expect("pg_dump runs (it is at /usr/bin/pg_dump)");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = out.stdout;
    assert!(
        dump.windows(36).any(|w| w == p.connection.as_str().as_bytes()),
        "the dump should contain the connection row"
    );
    assert!(
        dump.windows(10).any(|w| w == b"$argon2id$"),
        "the dump should contain the API key's argon2id hash"
    );
    assert_absent(&dump, &p.secrets, "pg_dump");
    copied_row_does_not_open(&db, &p).await;
    db.store.close().await;
}
