//! The conformance suite: every behaviour of the store, run unchanged against SQLite and
//! PostgreSQL (the `conformance!` macro instantiates each case for both backends).
#![allow(clippy::unwrap_used)] // tests may unwrap (see common.md); a failure is the assertion

#[macro_use]
mod common;

use std::time::Duration;

use chrono::Duration as CDuration;
use common::TestDb;
use forcebridge_store::*;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

fn lease_req(n: u32, secs: u64) -> LeaseRequest {
    LeaseRequest {
        worker: "test".into(),
        kinds: vec![],
        max_jobs: n,
        lease_for: Duration::from_secs(secs),
    }
}

fn creds(token: &str) -> Credentials {
    Credentials {
        access_token: Some(token.into()),
        refresh_token: Some(format!("{token}-refresh").into()),
        client_id: Some("cid".into()),
        instance_url: Some("https://acme.my.salesforce.com".into()),
        ..Default::default()
    }
}

fn personal(user: &UserId, label: &str, token: &str) -> NewConnection {
    NewConnection {
        org_id: Some("00D000000000001EAA".into()),
        environment: Environment::Production,
        auth_method: AuthMethod::OAuthWebServer,
        owner: Owner::Personal {
            user_id: user.clone(),
        },
        label: label.into(),
        credentials: creds(token),
    }
}

mod suite {
    use super::*;

    /// A tenant "Acme" with one admin, who owns one connection.
    async fn tenant_with_connection(s: &Store) -> (Tenant, Connection) {
        let t = s.create_tenant("Acme").await.unwrap();
        let u = s
            .create_user(&t.id, "a@a.test", Role::Admin, "test")
            .await
            .unwrap();
        let c = s
            .create_connection(&t.id, &personal(&u.id, "c", "t"), "a")
            .await
            .unwrap();
        (t, c)
    }

    /// Give `owner` (who has `have` connections) new ones up to `limit`, then check that one more
    /// is refused with a limit error naming `limit`.
    async fn fill_to_limit(s: &Store, t: &TenantId, owner: &UserId, have: u32, limit: u32) {
        for i in have..limit {
            s.create_connection(t, &personal(owner, &format!("extra {i}"), "t"), "owner")
                .await
                .unwrap();
        }
        let e = s
            .create_connection(t, &personal(owner, "one too many", "t"), "owner")
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::ConnectionLimit { limit: l, .. } if l == limit),
            "{e}"
        );
        assert!(e.to_string().contains("limit"), "{e}");
    }

    pub async fn tenants_and_users(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        assert_eq!(s.get_tenant(&t.id).await.unwrap(), t);
        assert_eq!(
            s.create_tenant("  ").await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
        let admin = s
            .create_user(&t.id, "ada@acme.test", Role::Admin, "test")
            .await
            .unwrap();
        let member = s
            .create_user(&t.id, "bob@acme.test", Role::Member, "test")
            .await
            .unwrap();
        assert_eq!(s.get_user(&t.id, &member.id).await.unwrap().role, Role::Member);
        let dup = s
            .create_user(&t.id, "ada@acme.test", Role::Member, "test")
            .await
            .unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::Conflict, "{dup}");
        assert_eq!(
            s.create_user(&t.id, "nope", Role::Member, "test")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
        let other = s.create_tenant("Other").await.unwrap();
        assert_eq!(
            s.get_user(&other.id, &admin.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let missing = TenantId::new();
        assert_eq!(
            s.create_user(&missing, "x@y.z", Role::Admin, "test")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(s.list_users(&t.id).await.unwrap().len(), 2);
    }

    pub async fn api_keys(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let other = s.create_tenant("Other").await.unwrap();
        let (key, secret) = s.create_api_key(&t.id, "ci", "user:1").await.unwrap();
        assert!(
            secret
                .expose_secret()
                .starts_with(&format!("fbk_{}_", key.prefix))
        );
        let found = s.authenticate_api_key(&secret).await.unwrap().unwrap();
        assert_eq!(found.tenant_id, t.id);
        // Again, from the memory of verified keys (no argon2): the same answer.
        assert_eq!(s.authenticate_api_key(&secret).await.unwrap().unwrap(), found);
        // A wrong secret behind a valid prefix, garbage, and an unknown prefix are all rejected.
        let wrong = SecretString::from(format!(
            "fbk_{}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            key.prefix
        ));
        assert!(s.authenticate_api_key(&wrong).await.unwrap().is_none());
        assert!(s.authenticate_api_key(&"garbage".into()).await.unwrap().is_none());
        assert!(
            s.authenticate_api_key(&"fbk_000000000000_x".into())
                .await
                .unwrap()
                .is_none()
        );
        // Another tenant cannot revoke it; its own tenant can, and then it no longer works.
        assert_eq!(
            s.revoke_api_key(&other.id, &key.id, "x")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        s.revoke_api_key(&t.id, &key.id, "user:1").await.unwrap();
        // Revoked: refused at once, although this process had verified the secret.
        assert!(s.authenticate_api_key(&secret).await.unwrap().is_none());
        let keys = s.list_api_keys(&t.id).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].revoked_at.is_some());
        let audit = s.list_audit(&t.id, 10).await.unwrap();
        assert_eq!(audit[0].action, "api_key.revoke");
        assert_eq!(audit[1].action, "api_key.create");
    }

    pub async fn connections_owners_limits_status(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let admin = s
            .create_user(&t.id, "ada@acme.test", Role::Admin, "test")
            .await
            .unwrap();
        let bob = s
            .create_user(&t.id, "bob@acme.test", Role::Member, "test")
            .await
            .unwrap();
        let carol = s
            .create_user(&t.id, "carol@acme.test", Role::Member, "test")
            .await
            .unwrap();
        let c1 = s
            .create_connection(&t.id, &personal(&bob.id, "Bob's org", "tok-bob"), "bob")
            .await
            .unwrap();
        assert_eq!(c1.status, ConnectionStatus::Active);
        assert_eq!(
            c1.owner,
            Owner::Personal {
                user_id: bob.id.clone()
            }
        );
        let got = s.credentials(&t.id, &c1.id).await.unwrap();
        assert_eq!(got.access_token.unwrap().expose_secret(), "tok-bob");
        assert_eq!(got.refresh_token.unwrap().expose_secret(), "tok-bob-refresh");
        assert_eq!(
            got.instance_url.as_deref(),
            Some("https://acme.my.salesforce.com")
        );

        // Sharing: only admins; shared users see it, others do not.
        let mut shared = personal(&bob.id, "shared", "tok-s");
        shared.owner = Owner::Shared {
            admin_id: bob.id.clone(),
            users: vec![carol.id.clone()],
        };
        assert_eq!(
            s.create_connection(&t.id, &shared, "bob")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
        shared.owner = Owner::Shared {
            admin_id: admin.id.clone(),
            users: vec![carol.id.clone()],
        };
        shared.environment = Environment::MyDomain("https://acme.my.salesforce.com".into());
        let c2 = s.create_connection(&t.id, &shared, "ada").await.unwrap();
        assert_eq!(
            c2.environment,
            Environment::MyDomain("https://acme.my.salesforce.com".into())
        );
        let carol_sees: Vec<_> = s
            .list_connections(&t.id, Some(&carol.id))
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(carol_sees, vec![c2.id.clone()]);
        let bob_sees: Vec<_> = s
            .list_connections(&t.id, Some(&bob.id))
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(bob_sees, vec![c1.id.clone()]);
        s.set_shared_users(&t.id, &c2.id, std::slice::from_ref(&bob.id), "ada")
            .await
            .unwrap();
        assert!(
            s.list_connections(&t.id, Some(&carol.id))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.set_shared_users(&t.id, &c1.id, &[], "bob")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );

        let mut bad = personal(&bob.id, "bad", "x");
        bad.environment = Environment::MyDomain("http://insecure".into());
        let e = s.create_connection(&t.id, &bad, "bob").await.unwrap_err();
        assert!(e.to_string().contains("environment.url"), "{e}");

        // Status with reason and time.
        db.clock.advance(CDuration::minutes(5));
        s.set_connection_status(
            &t.id,
            &c1.id,
            ConnectionStatus::TokenExpired,
            Some("invalid_grant"),
            "engine",
        )
        .await
        .unwrap();
        let c1b = s.get_connection(&t.id, &c1.id).await.unwrap();
        assert_eq!(c1b.status, ConnectionStatus::TokenExpired);
        assert_eq!(c1b.status_reason.as_deref(), Some("invalid_grant"));
        assert_eq!(c1b.status_at, common::start_time() + CDuration::minutes(5));

        // Limit of 5 per owner (bob has 1).
        fill_to_limit(s, &t.id, &bob.id, 1, 5).await;
        // Tenant isolation.
        let other = s.create_tenant("Other").await.unwrap();
        assert_eq!(
            s.get_connection(&other.id, &c1.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            s.credentials(&other.id, &c1.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(s.list_connections(&other.id, None).await.unwrap().is_empty());
        // Credentials update and delete.
        s.update_credentials(&t.id, &c1.id, &creds("tok-new"))
            .await
            .unwrap();
        assert_eq!(
            s.credentials(&t.id, &c1.id)
                .await
                .unwrap()
                .access_token
                .unwrap()
                .expose_secret(),
            "tok-new"
        );
        s.delete_connection(&t.id, &c1.id, "bob").await.unwrap();
        assert_eq!(
            s.get_connection(&t.id, &c1.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        s.create_connection(&t.id, &personal(&bob.id, "room again", "t"), "bob")
            .await
            .unwrap();
    }

    pub async fn concurrent_creates_respect_the_limit(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let bob = s
            .create_user(&t.id, "bob@acme.test", Role::Member, "test")
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..12 {
            let s = s.clone();
            let (t, bob) = (t.id.clone(), bob.id.clone());
            tasks.push(tokio::spawn(async move {
                s.create_connection(&t, &personal(&bob, &format!("c{i}"), "t"), "bob")
                    .await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(Error::ConnectionLimit { .. }) => {}
                Err(e) if e.is_retryable() => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(ok <= 5);
        assert!(s.list_connections(&t.id, None).await.unwrap().len() <= 5);
    }

    pub async fn sealed_value_copied_to_another_row_does_not_open(db: &TestDb) {
        let s = &db.store;
        let a = s.create_tenant("A").await.unwrap();
        let b = s.create_tenant("B").await.unwrap();
        let ua = s
            .create_user(&a.id, "a@a.test", Role::Admin, "test")
            .await
            .unwrap();
        let ub = s
            .create_user(&b.id, "b@b.test", Role::Admin, "test")
            .await
            .unwrap();
        let ca = s
            .create_connection(&a.id, &personal(&ua.id, "a", "tok-of-a"), "a")
            .await
            .unwrap();
        let cb = s
            .create_connection(&b.id, &personal(&ub.id, "b", "tok-of-b"), "b")
            .await
            .unwrap();
        let cb2 = s
            .create_connection(&b.id, &personal(&ub.id, "b2", "tok-of-b2"), "b")
            .await
            .unwrap();
        let sql = "UPDATE connections SET sealed_credentials = (SELECT sealed_credentials FROM connections WHERE id = $1) WHERE id = $2";
        for (from, to) in [(&ca.id, &cb.id), (&cb.id, &cb2.id)] {
            match s.backend() {
                Backend::Sqlite => {
                    sqlx::query(sql)
                        .bind(from.as_str())
                        .bind(to.as_str())
                        .execute(s.sqlite_pool().unwrap())
                        .await
                        .unwrap();
                }
                Backend::Postgres => {
                    sqlx::query(sql)
                        .bind(from.as_str())
                        .bind(to.as_str())
                        .execute(s.pg_pool().unwrap())
                        .await
                        .unwrap();
                }
            }
        }
        // Across tenants and within one tenant, a moved value fails to open (and says so).
        let e = s.credentials(&b.id, &cb.id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Crypto);
        assert!(!e.to_string().contains("tok-of-a"));
        assert_eq!(
            s.credentials(&b.id, &cb2.id).await.unwrap_err().kind(),
            ErrorKind::Crypto
        );
        assert_eq!(
            s.credentials(&a.id, &ca.id)
                .await
                .unwrap()
                .access_token
                .unwrap()
                .expose_secret(),
            "tok-of-a"
        );
    }

    pub async fn master_key_checks_and_rotation(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let u = s
            .create_user(&t.id, "a@a.test", Role::Admin, "test")
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(
                s.create_connection(
                    &t.id,
                    &personal(&u.id, &format!("c{i}"), &format!("tok-{i}")),
                    "a",
                )
                .await
                .unwrap()
                .id,
            );
        }
        // A wrong key and a missing key are errors at start.
        let wrong = common::key_text();
        let e = db
            .reopen(|o| o.vault(Vault::new(common::key(&wrong))))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Crypto, "{e}");
        assert!(e.to_string().contains("master key"), "{e}");
        let e = db
            .reopen(|mut o| {
                o.vault = None;
                o
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Crypto, "{e}");

        // Rotation: a node with the new key as current and the old as older re-seals everything.
        let new = common::key_text();
        let rotated = db
            .reopen(|o| o.vault(Vault::new(common::key(&new)).with_older(common::key(&db.key))))
            .await
            .unwrap();
        // The old node keeps working meanwhile (it also knows the new key in a real rollout).
        assert_eq!(rotated.rotate_vault(2).await.unwrap(), 5);
        assert_eq!(rotated.rotate_vault(2).await.unwrap(), 0);
        // Only the new key is needed now; the old one alone no longer opens the store.
        let only_new = db
            .reopen(|o| o.vault(Vault::new(common::key(&new))))
            .await
            .unwrap();
        for (i, id) in ids.iter().enumerate() {
            let c = only_new.credentials(&t.id, id).await.unwrap();
            assert_eq!(c.access_token.unwrap().expose_secret(), format!("tok-{i}"));
        }
        let e = db.reopen(|o| o).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Crypto, "{e}");
        only_new.close().await;
        rotated.close().await;
    }

    pub async fn rotation_half_done_keeps_nodes_with_both_keys_working(db: &TestDb) {
        let s = &db.store;
        let (t, first) = tenant_with_connection(s).await;
        let u = match &first.owner {
            Owner::Personal { user_id } => user_id.clone(),
            other => panic!("{other:?}"),
        };
        let mut ids = vec![first.id.clone()];
        for i in 1..4 {
            let c = s
                .create_connection(&t.id, &personal(&u, &format!("c{i}"), "t"), "a")
                .await
                .unwrap();
            ids.push(c.id);
        }
        // Step 2 of the procedure: a node restarted with the new key current and the old one
        // previous. What it writes is sealed under the new key, so the store is now mixed.
        let new = common::key_text();
        let both = db
            .reopen(|o| o.vault(Vault::new(common::key(&new)).with_older(common::key(&db.key))))
            .await
            .unwrap();
        both.update_credentials(&t.id, &ids[0], &creds("under-new"))
            .await
            .unwrap();
        for (i, id) in ids.iter().enumerate() {
            let token = if i == 0 { "under-new" } else { "t" };
            let got = both.credentials(&t.id, id).await.unwrap();
            assert_eq!(got.access_token.unwrap().expose_secret(), token);
        }
        // A node that still has only the old key reads the old values and, for the new one, fails
        // with the id of the key it lacks (never garbage).
        let new_id = common::key(&new).id().to_owned();
        assert_eq!(
            s.credentials(&t.id, &ids[1])
                .await
                .unwrap()
                .access_token
                .unwrap()
                .expose_secret(),
            "t"
        );
        let e = s.credentials(&t.id, &ids[0]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Crypto);
        assert!(e.to_string().contains(&new_id), "{e}");
        // The rotation finishes the rest while the both-keys node keeps reading.
        assert_eq!(both.rotate_vault(1).await.unwrap(), 3);
        for id in &ids {
            both.credentials(&t.id, id).await.unwrap();
        }
        both.close().await;
    }

    pub async fn events_are_idempotent_per_tenant(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let other = s.create_tenant("Other").await.unwrap();
        let job = |e: &Event| Some(NewJob::new("event.process", json!({ "event": e.id })));
        let (a1, j1) = s
            .accept_event(&t.id, "k-1", "track.completed", &json!({"n": 1}), job)
            .await
            .unwrap();
        assert!(a1.is_new);
        assert!(j1.is_some());
        db.clock.advance(CDuration::seconds(3));
        let (a2, j2) = s
            .accept_event(&t.id, "k-1", "track.completed", &json!({"n": 2}), job)
            .await
            .unwrap();
        assert!(!a2.is_new);
        assert!(j2.is_none());
        assert_eq!(a2.event, a1.event);
        assert_eq!(a2.event.payload, json!({"n": 1}));
        let (a3, _) = s
            .accept_event(&other.id, "k-1", "track.completed", &json!({}), job)
            .await
            .unwrap();
        assert!(a3.is_new);
        assert_ne!(a3.event.id, a1.event.id);
        let stats = s.queue_stats().await.unwrap();
        assert_eq!(
            stats.by_kind_state,
            vec![("event.process".to_string(), JobState::Ready, 2)]
        );
        assert_eq!(s.get_event(&t.id, &a1.event.id).await.unwrap(), a1.event);
        assert_eq!(
            s.get_event(&other.id, &a1.event.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let e = s.accept_event(&t.id, "", "x", &json!({}), job).await.unwrap_err();
        assert!(e.to_string().contains("idempotency_key"), "{e}");
    }

    /// `stats` counts a tenant's events, deliveries by state and confirmed writes, per
    /// connection or for the whole tenant, and never another tenant's.
    pub async fn outbound_stats_count_per_tenant_and_connection(db: &TestDb) {
        let s = &db.store;
        let (t, c) = tenant_with_connection(s).await;
        let (other, oc) = {
            let o = s.create_tenant("Other").await.unwrap();
            let u = s
                .create_user(&o.id, "o@o.test", Role::Admin, "test")
                .await
                .unwrap();
            let c = s
                .create_connection(&o.id, &personal(&u.id, "c", "t"), "o")
                .await
                .unwrap();
            (o, c)
        };
        let install = s
            .install_recipe(&t.id, &c.id, "r", &json!({}), true, "a")
            .await
            .unwrap();
        let mut tx = s.begin().await.unwrap();
        let mut ids = Vec::new();
        for k in 0..3 {
            let e = tx
                .accept_event(&t.id, &format!("k{k}"), "x", &json!({}))
                .await
                .unwrap();
            // Two flows for each event: two deliveries, one event.
            let new: Vec<NewDelivery> = ["a", "b"]
                .iter()
                .map(|flow| NewDelivery {
                    install_id: install.id.clone(),
                    connection_id: c.id.clone(),
                    event_id: e.event.id.clone(),
                    flow: (*flow).into(),
                    not_before: None,
                    coalesce_key: None,
                    correlation_key: None,
                })
                .collect();
            tx.insert_deliveries(&t.id, &new).await.unwrap();
            ids.push(e.event.id.clone());
        }
        tx.commit().await.unwrap();
        let pending = s
            .list_deliveries(&t.id, &DeliveryFilter::default())
            .await
            .unwrap();
        assert_eq!(pending.len(), 6);
        let now = db.clock.now();
        let mut tx = s.begin().await.unwrap();
        let update = |d: &Delivery, state| DeliveryUpdate {
            id: d.id,
            state,
            attempts: 1,
            not_before: now,
            outcome: None,
        };
        tx.update_deliveries(&[
            update(&pending[0], DeliveryState::Done),
            update(&pending[1], DeliveryState::Done),
            update(&pending[2], DeliveryState::Dead),
        ])
        .await
        .unwrap();
        for (op, state) in [
            ("create", "done"),
            ("create", "done"),
            ("chatter", "undone"),
            ("upsert", "intent"),
            ("update", "failed"),
        ] {
            tx.journal_write(&JournalRow {
                id: 0,
                tenant_id: t.id.clone(),
                event_id: Some(ids[0].clone()),
                connection_id: c.id.clone(),
                delivery_id: Some(pending[0].id),
                step: Some("s".into()),
                operation: op.into(),
                sobject: "Lead".into(),
                record_id: Some("00Q000000000001AAA".into()),
                api: Some("collections".into()),
                state: state.into(),
                correlation_key: None,
                detail: json!({}),
                created_at: now,
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();

        let all = s.stats(&t.id, None).await.unwrap();
        assert_eq!(all.events, 3);
        assert_eq!(all.deliveries_in("done"), 2);
        assert_eq!(all.deliveries_in("dead"), 1);
        assert_eq!(all.deliveries_in("pending"), 3);
        // Intents and failures are not writes; an undone write was one.
        assert_eq!(all.writes.get("create"), Some(&2));
        assert_eq!(all.writes.get("chatter"), Some(&1));
        assert_eq!(all.records_written(), 3);
        assert_eq!(s.stats(&t.id, Some(&c.id)).await.unwrap(), all);
        // Another tenant's connection, or the other tenant, sees none of it.
        assert_eq!(s.stats(&t.id, Some(&oc.id)).await.unwrap(), Stats::default());
        assert_eq!(s.stats(&other.id, None).await.unwrap(), Stats::default());
    }

    pub async fn concurrent_duplicate_events_record_one(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (s, t) = (s.clone(), t.id.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    match s
                        .accept_event(&t, "same", "x", &json!({}), |_| Some(NewJob::new("k", json!({}))))
                        .await
                    {
                        Err(e) if e.is_retryable() => continue,
                        r => return r,
                    }
                }
            }));
        }
        let mut new = 0;
        let mut ids = std::collections::HashSet::new();
        for task in tasks {
            let (a, _) = task.await.unwrap().unwrap();
            new += usize::from(a.is_new);
            ids.insert(a.event.id);
        }
        assert_eq!(new, 1);
        assert_eq!(ids.len(), 1);
        assert_eq!(
            s.queue_stats().await.unwrap().by_kind_state,
            vec![("k".to_string(), JobState::Ready, 1)]
        );
    }

    pub async fn transaction_joins_event_and_job(db: &TestDb) {
        let s = &db.store;
        let (t, c) = tenant_with_connection(s).await;
        // Rolled back: neither the event, the job, nor the cursor exists.
        let mut tx = s.begin().await.unwrap();
        let a = tx.accept_event(&t.id, "k", "x", &json!({})).await.unwrap();
        tx.enqueue(&NewJob::new("deliver", json!({}))).await.unwrap();
        tx.set_cursor(&t.id, &c.id, "contacts", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(
            s.get_event(&t.id, &a.event.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(s.queue_stats().await.unwrap().by_kind_state.is_empty());
        assert_eq!(s.get_cursor(&t.id, &c.id, "contacts").await.unwrap(), None);
        // Committed: all of them.
        let mut tx = s.begin().await.unwrap();
        assert_eq!(tx.get_cursor(&t.id, &c.id, "contacts").await.unwrap(), None);
        tx.set_cursor(&t.id, &c.id, "contacts", "c1").await.unwrap();
        tx.enqueue_many(&[
            NewJob::new("deliver", json!({"n": 1})),
            NewJob::new("deliver", json!({"n": 2})),
        ])
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            s.get_cursor(&t.id, &c.id, "contacts").await.unwrap().as_deref(),
            Some("c1")
        );
        assert_eq!(
            s.queue_stats().await.unwrap().by_kind_state,
            vec![("deliver".to_string(), JobState::Ready, 2)]
        );
        // Cursor writes are tenant-checked.
        let other = s.create_tenant("Other").await.unwrap();
        let mut tx = s.begin().await.unwrap();
        assert_eq!(
            tx.set_cursor(&other.id, &c.id, "contacts", "x")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
    }

    pub async fn recipes_journal_audit(db: &TestDb) {
        let s = &db.store;
        let (t, c) = tenant_with_connection(s).await;
        let i = s
            .install_recipe(
                &t.id,
                &c.id,
                "instruqt",
                &json!({"new_lead_status": "Open"}),
                true,
                "a",
            )
            .await
            .unwrap();
        let i2 = s
            .install_recipe(
                &t.id,
                &c.id,
                "instruqt",
                &json!({"new_lead_status": "Working"}),
                false,
                "a",
            )
            .await
            .unwrap();
        assert_eq!(i.id, i2.id);
        let list = s.list_installs(&t.id).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].settings, json!({"new_lead_status": "Working"}));
        assert!(!list[0].enabled);
        let other = s.create_tenant("Other").await.unwrap();
        assert_eq!(
            s.install_recipe(&other.id, &c.id, "x", &json!({}), true, "a")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        let (a, _) = s
            .accept_event(&t.id, "k", "x", &json!({}), |_| None)
            .await
            .unwrap();
        let mut tx = s.begin().await.unwrap();
        let entry = NewJournalEntry {
            tenant_id: t.id.clone(),
            event_id: Some(a.event.id.clone()),
            connection_id: c.id.clone(),
            operation: "create".into(),
            sobject: "Lead".into(),
            record_id: Some("00Q000000000001AAA".into()),
            detail: json!({"fields": ["LastName"]}),
        };
        let j1 = tx.record_journal(&entry).await.unwrap();
        let j2 = tx
            .record_journal(&NewJournalEntry {
                operation: "chatter_post".into(),
                ..entry.clone()
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(j2 > j1);
        let journal = s.journal_for_event(&t.id, &a.event.id).await.unwrap();
        assert_eq!(
            journal
                .iter()
                .map(|j| j.entry.operation.as_str())
                .collect::<Vec<_>>(),
            ["create", "chatter_post"]
        );
        assert_eq!(journal[0].entry, entry);
        assert!(
            s.journal_for_event(&other.id, &a.event.id)
                .await
                .unwrap()
                .is_empty()
        );
        let audit = s.list_audit(&t.id, 100).await.unwrap();
        let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "recipe.install",
                "recipe.install",
                "connection.create",
                "user.create"
            ]
        );
        assert!(!format!("{audit:?}").contains("\"t\""));
        s.uninstall_recipe(&t.id, &i.id, "a").await.unwrap();
        assert!(s.list_installs(&t.id).await.unwrap().is_empty());
    }

    pub async fn queue_lease_complete_priority_and_run_at(db: &TestDb) {
        let s = &db.store;
        let low = s.enqueue(&NewJob::new("k", json!({"p": "low"}))).await.unwrap();
        let high = s
            .enqueue(&NewJob::new("k", json!({"p": "high"})).priority(10))
            .await
            .unwrap();
        let later = s
            .enqueue(&NewJob::new("k", json!({})).run_at(common::start_time() + CDuration::minutes(1)))
            .await
            .unwrap();
        let other_kind = s.enqueue(&NewJob::new("other", json!({}))).await.unwrap();
        let mut req = lease_req(1, 30);
        req.kinds = vec!["k".into()];
        let first = s.lease(&req).await.unwrap();
        assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), [high.id]);
        assert_eq!(first[0].attempt, 1);
        req.max_jobs = 10;
        let second = s.lease(&req).await.unwrap();
        assert_eq!(
            second.iter().map(|j| j.id).collect::<Vec<_>>(),
            [low.id],
            "the future job waits"
        );
        assert!(s.lease(&req).await.unwrap().is_empty());
        db.clock.advance(CDuration::minutes(1));
        let third = s.lease(&req).await.unwrap();
        assert_eq!(third.iter().map(|j| j.id).collect::<Vec<_>>(), [later.id]);
        for j in first.iter().chain(&second).chain(&third) {
            s.complete(&j.lease).await.unwrap();
        }
        // Completing twice is a lost lease, not a second completion.
        assert!(matches!(
            s.complete(&first[0].lease).await,
            Err(Error::LeaseLost { .. })
        ));
        assert_eq!(s.job_info(high.id).await.unwrap().state, JobState::Done);
        assert_eq!(s.job_info(other_kind.id).await.unwrap().state, JobState::Ready);
        assert_eq!(s.job_info(999_999).await.unwrap_err().kind(), ErrorKind::NotFound);
        assert!(s.has_unfinished_jobs(Some("other")).await.unwrap());
        assert!(!s.has_unfinished_jobs(Some("k")).await.unwrap());
        assert!(s.has_unfinished_jobs(None).await.unwrap());
    }

    pub async fn dedupe_keys(db: &TestDb) {
        let s = &db.store;
        let a = s
            .enqueue(&NewJob::new("k", json!({})).dedupe_key("sync:c1"))
            .await
            .unwrap();
        let b = s
            .enqueue(&NewJob::new("k", json!({})).dedupe_key("sync:c1"))
            .await
            .unwrap();
        assert!(!a.deduplicated);
        assert!(b.deduplicated);
        assert_eq!(a.id, b.id);
        let many = s
            .enqueue_many(&[
                NewJob::new("k", json!({})).dedupe_key("sync:c1"),
                NewJob::new("k", json!({})),
            ])
            .await
            .unwrap();
        assert_eq!(
            many[0],
            Enqueued {
                id: a.id,
                deduplicated: true
            }
        );
        assert!(!many[1].deduplicated);
        // While running, still deduplicated; once done, the key is free again.
        let jobs = s.lease(&lease_req(10, 30)).await.unwrap();
        assert!(
            s.enqueue(&NewJob::new("k", json!({})).dedupe_key("sync:c1"))
                .await
                .unwrap()
                .deduplicated
        );
        for j in &jobs {
            s.complete(&j.lease).await.unwrap();
        }
        let c = s
            .enqueue(&NewJob::new("k", json!({})).dedupe_key("sync:c1"))
            .await
            .unwrap();
        assert!(!c.deduplicated);
        assert_ne!(c.id, a.id);
    }

    pub async fn retries_backoff_and_dead_letters(db: &TestDb) {
        let s = &db.store;
        let cfg = s.queue_config().clone();
        let j = s
            .enqueue(&NewJob::new("k", json!({})).max_attempts(3))
            .await
            .unwrap();
        for attempt in 1..=3u32 {
            let leased = s.lease(&lease_req(1, 30)).await.unwrap();
            assert_eq!(leased.len(), 1);
            assert_eq!(leased[0].attempt, attempt);
            let now = db.clock.now();
            match s
                .fail(&leased[0].lease, &format!("boom {attempt}"))
                .await
                .unwrap()
            {
                FailResult::Retrying { at } => {
                    assert!(attempt < 3);
                    let full = cfg.backoff_base * 2u32.pow(attempt - 1);
                    let delay = (at - now).to_std().unwrap();
                    assert!(delay >= full / 2 && delay <= full, "attempt {attempt}: {delay:?}");
                    // Not leasable before its time.
                    assert!(s.lease(&lease_req(1, 30)).await.unwrap().is_empty());
                    db.clock.set(at);
                }
                FailResult::Dead => assert_eq!(attempt, 3),
            }
        }
        let info = s.job_info(j.id).await.unwrap();
        assert_eq!(info.state, JobState::Dead);
        assert_eq!(info.last_error.as_deref(), Some("boom 3"));
        assert_eq!(s.queue_stats().await.unwrap().dead, 1);
        assert_eq!(s.list_jobs(JobState::Dead, 10).await.unwrap()[0].id, j.id);
        // Replay gives a fresh budget.
        s.replay_dead(j.id).await.unwrap();
        let again = s.lease(&lease_req(1, 30)).await.unwrap();
        assert_eq!(again[0].attempt, 1);
        assert_eq!(again[0].last_error.as_deref(), Some("boom 3"));
        assert_eq!(s.replay_dead(j.id).await.unwrap_err().kind(), ErrorKind::Conflict);
        // Outcomes: explicit dead letter, retry at a time.
        assert_eq!(
            s.finish(
                &again[0].lease,
                &JobOutcome::DeadLetter {
                    reason: "bad input".into()
                }
            )
            .await
            .unwrap(),
            Some(FailResult::Dead)
        );
        let r = s.enqueue(&NewJob::new("k", json!({}))).await.unwrap();
        let l = s.lease(&lease_req(1, 30)).await.unwrap();
        let at = db.clock.now() + CDuration::seconds(42);
        assert_eq!(
            s.finish(
                &l[0].lease,
                &JobOutcome::RetryAt {
                    at,
                    reason: "429".into()
                }
            )
            .await
            .unwrap(),
            Some(FailResult::Retrying { at })
        );
        assert_eq!(s.job_info(r.id).await.unwrap().run_at, at);
    }

    pub async fn defer_keeps_the_attempt_and_cancel(db: &TestDb) {
        let s = &db.store;
        let j = s
            .enqueue(&NewJob::new("k", json!({})).max_attempts(1))
            .await
            .unwrap();
        for _ in 0..5 {
            db.clock.advance(CDuration::hours(1));
            let l = s.lease(&lease_req(1, 30)).await.unwrap();
            assert_eq!(l[0].attempt, 1, "deferral never spends the only attempt");
            s.defer(&l[0].lease, db.clock.now() + CDuration::minutes(10))
                .await
                .unwrap();
            assert!(s.lease(&lease_req(1, 30)).await.unwrap().is_empty());
        }
        assert_eq!(s.job_info(j.id).await.unwrap().attempts, 0);
        s.cancel(j.id).await.unwrap();
        assert_eq!(s.job_info(j.id).await.unwrap().state, JobState::Cancelled);
        assert_eq!(s.cancel(j.id).await.unwrap_err().kind(), ErrorKind::Conflict);
        assert_eq!(s.cancel(424_242).await.unwrap_err().kind(), ErrorKind::NotFound);
        // Cancelling a running job takes its lease away.
        s.enqueue(&NewJob::new("k", json!({}))).await.unwrap();
        let l = s.lease(&lease_req(1, 30)).await.unwrap();
        s.cancel(l[0].id).await.unwrap();
        assert!(matches!(
            s.heartbeat(&l[0].lease, Duration::from_secs(30)).await,
            Err(Error::LeaseLost { .. })
        ));
        assert!(matches!(
            s.complete(&l[0].lease).await,
            Err(Error::LeaseLost { .. })
        ));
    }

    pub async fn heartbeats_and_the_reaper(db: &TestDb) {
        let s = &db.store;
        let j = s
            .enqueue(&NewJob::new("k", json!({})).max_attempts(2))
            .await
            .unwrap();
        let l = s.lease(&lease_req(1, 10)).await.unwrap().remove(0);
        db.clock.advance(CDuration::seconds(8));
        let renewed = s.heartbeat(&l.lease, Duration::from_secs(10)).await.unwrap();
        db.clock.advance(CDuration::seconds(8));
        assert_eq!(s.reap_expired().await.unwrap(), 0, "the heartbeat kept it");
        assert!(
            s.lease(&lease_req(1, 10)).await.unwrap().is_empty(),
            "never leased twice while held"
        );
        db.clock.advance(CDuration::seconds(3));
        assert_eq!(s.reap_expired().await.unwrap(), 1);
        let info = s.job_info(j.id).await.unwrap();
        assert_eq!(info.state, JobState::Ready);
        assert!(info.last_error.unwrap().contains("lease expired"));
        assert!(matches!(
            s.heartbeat(&renewed, Duration::from_secs(10)).await,
            Err(Error::LeaseLost { .. })
        ));
        let l2 = s.lease(&lease_req(1, 10)).await.unwrap().remove(0);
        assert_eq!(l2.attempt, 2);
        assert!(
            matches!(s.complete(&l.lease).await, Err(Error::LeaseLost { .. })),
            "the old holder cannot complete"
        );
        db.clock.advance(CDuration::seconds(11));
        assert_eq!(s.reap_expired().await.unwrap(), 1);
        assert_eq!(
            s.job_info(j.id).await.unwrap().state,
            JobState::Dead,
            "out of attempts: dead letter"
        );
    }

    pub async fn group_caps(db: &TestDb) {
        let s = &db.store;
        s.set_group_limit("conn-a", 2).await.unwrap();
        assert_eq!(
            s.set_group_limit("conn-a", 0).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
        let mut jobs: Vec<NewJob> = (0..5)
            .map(|i| NewJob::new("k", json!({"i": i})).group("conn-a"))
            .collect();
        jobs.extend((0..3).map(|i| NewJob::new("k", json!({"j": i})).group("conn-b")));
        jobs.push(NewJob::new("k", json!({})));
        s.enqueue_many(&jobs).await.unwrap();
        let first = s.lease(&lease_req(100, 30)).await.unwrap();
        let count = |js: &[Job], g: &str| js.iter().filter(|j| j.group.as_deref() == Some(g)).count();
        assert_eq!(count(&first, "conn-a"), 2);
        assert_eq!(count(&first, "conn-b"), 3, "default limit is 4");
        assert_eq!(first.len(), 6);
        assert!(s.lease(&lease_req(100, 30)).await.unwrap().is_empty());
        let a = first
            .iter()
            .find(|j| j.group.as_deref() == Some("conn-a"))
            .unwrap();
        s.complete(&a.lease).await.unwrap();
        let next = s.lease(&lease_req(100, 30)).await.unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].group.as_deref(), Some("conn-a"));
    }

    pub async fn concurrent_leasers_never_share_or_exceed_caps(db: &TestDb) {
        let s = &db.store;
        let node2 = db.reopen(|o| o).await.unwrap();
        s.set_group_limit("g", 3).await.unwrap();
        let jobs: Vec<NewJob> = (0..200)
            .map(|i| NewJob::new("k", json!({"i": i})).group("g"))
            .collect();
        s.enqueue_many(&jobs).await.unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<i64, u32>::new()));
        let mut tasks = Vec::new();
        for (n, store) in [s.clone(), node2.clone(), s.clone(), node2.clone()]
            .into_iter()
            .enumerate()
        {
            let seen = seen.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let leased = match store
                        .lease(&LeaseRequest {
                            worker: format!("w{n}"),
                            ..lease_req(2, 300)
                        })
                        .await
                    {
                        Ok(l) => l,
                        Err(e) if e.is_retryable() => continue,
                        Err(e) => panic!("{e}"),
                    };
                    if leased.is_empty() {
                        let stats = store.queue_stats().await.unwrap();
                        if !stats
                            .by_kind_state
                            .iter()
                            .any(|(_, st, _)| *st == JobState::Ready || *st == JobState::Running)
                        {
                            return;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    }
                    let running = store.list_jobs(JobState::Running, 1000).await.unwrap();
                    assert!(running.len() <= 3, "cap exceeded: {}", running.len());
                    for j in &leased {
                        *seen.lock().unwrap().entry(j.id).or_default() += 1;
                        loop {
                            match store.complete(&j.lease).await {
                                Ok(()) => break,
                                Err(e) if e.is_retryable() => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        {
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 200);
            assert!(seen.values().all(|&n| n == 1), "a job was leased twice");
        }
        node2.close().await;
    }

    pub async fn stats_and_retention(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        s.enqueue_many(&(0..4).map(|_| NewJob::new("a", json!({}))).collect::<Vec<_>>())
            .await
            .unwrap();
        s.enqueue(&NewJob::new("b", json!({})).max_attempts(1))
            .await
            .unwrap();
        let (ev, _) = s
            .accept_event(&t.id, "old", "x", &json!({}), |_| None)
            .await
            .unwrap();
        s.enqueue(&NewJob::new("c", json!({}))).await.unwrap();
        let leased = s
            .lease(&LeaseRequest {
                kinds: vec!["a".into(), "b".into()],
                ..lease_req(5, 30)
            })
            .await
            .unwrap();
        assert_eq!(leased.len(), 5);
        db.clock.advance(CDuration::seconds(5));
        let stats = s.queue_stats().await.unwrap();
        assert_eq!(stats.oldest_ready_at, Some(common::start_time()));
        for j in &leased {
            if j.kind == "b" {
                s.fail(&j.lease, "x").await.unwrap();
            } else {
                s.complete(&j.lease).await.unwrap();
            }
        }
        let stats = s.queue_stats().await.unwrap();
        let total: u64 = stats.by_kind_state.iter().map(|(_, _, n)| n).sum();
        assert_eq!(total, 6);
        assert_eq!(stats.dead, 1);
        db.clock.advance(CDuration::days(10));
        let (fresh, _) = s
            .accept_event(&t.id, "new", "x", &json!({}), |_| None)
            .await
            .unwrap();
        let report = s
            .purge(&Retention {
                finished_jobs: Some(Duration::from_secs(86400)),
                dead_jobs: None,
                events: Some(Duration::from_secs(7 * 86400)),
                journal: Some(Duration::from_secs(86400)),
                audit: None,
            })
            .await
            .unwrap();
        assert_eq!(report.jobs, 4);
        assert_eq!(report.events, 1);
        assert_eq!(
            s.get_event(&t.id, &ev.event.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        s.get_event(&t.id, &fresh.event.id).await.unwrap();
        let stats = s.queue_stats().await.unwrap();
        assert_eq!(
            stats.dead, 1,
            "dead letters are kept unless their own retention says otherwise"
        );
        let total: u64 = stats.by_kind_state.iter().map(|(_, _, n)| n).sum();
        assert_eq!(total, 2, "the dead letter and the ready job remain");
    }

    pub async fn connection_limit_is_configurable(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let bob = s
            .create_user(&t.id, "bob@acme.test", Role::Member, "test")
            .await
            .unwrap();
        let ann = s
            .create_user(&t.id, "ann@acme.test", Role::Admin, "test")
            .await
            .unwrap();
        let two = db
            .reopen(|mut o| {
                o.connections_per_owner = 2;
                o
            })
            .await
            .unwrap();
        fill_to_limit(&two, &t.id, &bob.id, 0, 2).await;
        // The limit is per owner: another user still has room, shared connections count for the
        // admin who owns them.
        two.create_connection(&t.id, &personal(&ann.id, "a0", "t"), "ann")
            .await
            .unwrap();
        let mut shared = personal(&ann.id, "a1", "t");
        shared.owner = Owner::Shared {
            admin_id: ann.id.clone(),
            users: vec![bob.id.clone()],
        };
        two.create_connection(&t.id, &shared, "ann").await.unwrap();
        shared.label = "a2".into();
        assert!(matches!(
            two.create_connection(&t.id, &shared, "ann").await,
            Err(Error::ConnectionLimit { limit: 2, .. })
        ));
        // A node configured with the default of 5 lets bob have more.
        s.create_connection(&t.id, &personal(&bob.id, "third", "t"), "bob")
            .await
            .unwrap();
        two.close().await;
    }

    pub async fn audit_log_records_who_changed_what(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let other = s.create_tenant("Other").await.unwrap();
        let admin = s
            .create_user(&t.id, "ada@acme.test", Role::Admin, "user:root")
            .await
            .unwrap();
        let bob = s
            .create_user(&t.id, "bob@acme.test", Role::Member, "user:ada")
            .await
            .unwrap();
        let mut shared = personal(&admin.id, "shared", "tok-audited");
        shared.owner = Owner::Shared {
            admin_id: admin.id.clone(),
            users: vec![],
        };
        let c = s.create_connection(&t.id, &shared, "user:ada").await.unwrap();
        db.clock.advance(CDuration::seconds(1));
        s.set_shared_users(&t.id, &c.id, std::slice::from_ref(&bob.id), "user:ada")
            .await
            .unwrap();
        s.set_connection_status(
            &t.id,
            &c.id,
            ConnectionStatus::Revoked,
            Some("invalid_grant"),
            "engine",
        )
        .await
        .unwrap();
        let i = s
            .install_recipe(&t.id, &c.id, "instruqt", &json!({"x": 1}), true, "user:ada")
            .await
            .unwrap();
        s.uninstall_recipe(&t.id, &i.id, "user:bob").await.unwrap();
        s.delete_connection(&t.id, &c.id, "user:ada").await.unwrap();
        let log = s.list_audit(&t.id, 100).await.unwrap();
        let got: Vec<(&str, &str, &str)> = log
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str()))
            .collect();
        let (cid, iid) = (c.id.as_str(), i.id.as_str());
        let (ada, bob_id) = (admin.id.as_str(), bob.id.as_str());
        assert_eq!(
            got,
            [
                ("user:ada", "connection.delete", cid),
                ("user:bob", "recipe.uninstall", iid),
                ("user:ada", "recipe.install", iid),
                ("engine", "connection.status", cid),
                ("user:ada", "connection.share", cid),
                ("user:ada", "connection.create", cid),
                ("user:ada", "user.create", bob_id),
                ("user:root", "user.create", ada),
            ],
            "newest first, each with its actor and target"
        );
        assert_eq!(log[6].detail, json!({"email": "bob@acme.test", "role": "member"}));
        assert_eq!(log[3].detail["status"], "revoked");
        assert_eq!(log[3].detail["reason"], "invalid_grant");
        assert_eq!(log[4].detail["users"], json!([bob.id]));
        assert_eq!(log[5].at, common::start_time());
        assert_eq!(log[4].at, common::start_time() + CDuration::seconds(1));
        assert!(log.iter().all(|e| e.tenant_id.as_ref() == Some(&t.id)));
        assert!(
            !format!("{log:?}").contains("tok-audited"),
            "no secrets in the audit log"
        );
        // Tenants see only their own records; system-wide ones (a key rotation) are listed apart.
        assert!(s.list_audit(&other.id, 100).await.unwrap().is_empty());
        assert_eq!(s.rotate_vault(10).await.unwrap(), 0);
        let system = s.list_system_audit(10).await.unwrap();
        assert_eq!(system.len(), 1);
        assert_eq!(system[0].action, "vault.rotate");
        assert_eq!(system[0].tenant_id, None);
        assert_eq!(s.list_audit(&t.id, 100).await.unwrap().len(), 8);
    }

    /// At the clock's time: an accepted event with a journal entry, and a dead job.
    async fn rows_of_every_kind(s: &Store, t: &TenantId, c: &ConnectionId, key: &str) -> (EventId, JobId) {
        let (a, _) = s.accept_event(t, key, "x", &json!({}), |_| None).await.unwrap();
        let mut tx = s.begin().await.unwrap();
        tx.record_journal(&NewJournalEntry {
            tenant_id: t.clone(),
            event_id: Some(a.event.id.clone()),
            connection_id: c.clone(),
            operation: "create".into(),
            sobject: "Lead".into(),
            record_id: None,
            detail: json!({}),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        s.enqueue(&NewJob::new("dies", json!({})).max_attempts(1))
            .await
            .unwrap();
        let dead = s.lease(&lease_req(1, 30)).await.unwrap().remove(0);
        s.fail(&dead.lease, "gone").await.unwrap();
        (a.event.id, dead.id)
    }

    pub async fn retention_rules_each_purge_their_own_rows(db: &TestDb) {
        let s = &db.store;
        let (t, c) = tenant_with_connection(s).await;
        // Old rows of every kind, at the start time; ten days later, new ones.
        let (old_event, dead) = rows_of_every_kind(s, &t.id, &c.id, "old").await;
        db.clock.advance(CDuration::days(10));
        let (new_event, fresh_dead) = rows_of_every_kind(s, &t.id, &c.id, "new").await;
        s.record_audit(Some(&t.id), "a", "test.new", "x", &json!({}))
            .await
            .unwrap();
        let week = Some(Duration::from_secs(7 * 86400));
        // A policy with one rule set to a week, and what a purge with it deletes.
        let only = |rule: fn(&mut Retention) -> &mut Option<Duration>| {
            let mut r = Retention::default();
            *rule(&mut r) = week;
            r
        };
        async fn purged(s: &Store, r: Retention) -> (u64, u64, u64, u64) {
            let r = s.purge(&r).await.unwrap();
            (r.jobs, r.events, r.journal, r.audit)
        }

        // Nothing configured: nothing deleted.
        assert_eq!(
            s.purge(&Retention::default()).await.unwrap(),
            PurgeReport::default()
        );
        // Each rule on its own deletes only its old rows.
        assert_eq!(purged(s, only(|r| &mut r.dead_jobs)).await, (1, 0, 0, 0));
        assert_eq!(s.job_info(dead).await.unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(s.job_info(fresh_dead).await.unwrap().state, JobState::Dead);
        assert_eq!(purged(s, only(|r| &mut r.journal)).await, (0, 0, 1, 0));
        assert!(s.journal_for_event(&t.id, &old_event).await.unwrap().is_empty());
        assert_eq!(s.journal_for_event(&t.id, &new_event).await.unwrap().len(), 1);
        assert_eq!(
            purged(s, only(|r| &mut r.audit)).await,
            (0, 0, 0, 2),
            "the user.create and connection.create records"
        );
        let audit = s.list_audit(&t.id, 10).await.unwrap();
        assert_eq!(
            audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
            ["test.new"]
        );
        assert_eq!(purged(s, only(|r| &mut r.events)).await, (0, 1, 0, 0));
        // The events window is the idempotency window: the purged key is accepted as new again,
        // the kept one is still a repeat.
        let (again, _) = s
            .accept_event(&t.id, "old", "x", &json!({}), |_| None)
            .await
            .unwrap();
        assert!(again.is_new);
        let (repeat, _) = s
            .accept_event(&t.id, "new", "x", &json!({}), |_| None)
            .await
            .unwrap();
        assert!(!repeat.is_new);
        // Unexpired rows survive every rule.
        let all = Retention {
            finished_jobs: week,
            dead_jobs: week,
            events: week,
            journal: week,
            audit: week,
        };
        assert_eq!(s.purge(&all).await.unwrap(), PurgeReport::default());
    }

    pub async fn replay_refuses_a_taken_dedupe_key(db: &TestDb) {
        let s = &db.store;
        let first = s
            .enqueue(
                &NewJob::new("k", json!({"n": 1}))
                    .dedupe_key("sync:c1")
                    .max_attempts(1),
            )
            .await
            .unwrap();
        let l = s.lease(&lease_req(1, 30)).await.unwrap().remove(0);
        s.fail(&l.lease, "boom").await.unwrap();
        // The dead job no longer holds its key: a new job takes it.
        let second = s
            .enqueue(&NewJob::new("k", json!({"n": 2})).dedupe_key("sync:c1"))
            .await
            .unwrap();
        assert!(!second.deduplicated);
        let e = s.replay_dead(first.id).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert!(e.to_string().contains("dedupe key"), "{e}");
        assert_eq!(
            s.job_info(first.id).await.unwrap().state,
            JobState::Dead,
            "left dead"
        );
        // Once the holder finished, the replay goes through and runs with a fresh budget.
        let l = s.lease(&lease_req(1, 30)).await.unwrap().remove(0);
        assert_eq!(l.id, second.id);
        s.complete(&l.lease).await.unwrap();
        s.replay_dead(first.id).await.unwrap();
        let l = s.lease(&lease_req(1, 30)).await.unwrap().remove(0);
        assert_eq!((l.id, l.attempt), (first.id, 1));
        assert_eq!(s.queue_stats().await.unwrap().dead, 0);
    }

    pub async fn wake_ups_cross_nodes(db: &TestDb) {
        let s = &db.store;
        // Another store handle on the same database: on PostgreSQL a separate pool, so the wake-up
        // must travel through NOTIFY; on SQLite wake-ups are in-process (same handle).
        let producer = match s.backend() {
            Backend::Postgres => db.reopen(|o| o).await.unwrap(),
            Backend::Sqlite => s.clone(),
        };
        let mut signal = s.job_signal();
        // Let the listener settle, then drain the signal it raises on connect.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            s.wait_for_jobs(&mut signal, Duration::from_secs(1)),
        )
        .await;
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move {
                s.wait_for_jobs(&mut signal, Duration::from_secs(600))
                    .await
                    .unwrap();
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        producer.enqueue(&NewJob::new("k", json!({}))).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("an enqueue wakes a waiting worker without waiting out its poll interval")
            .unwrap();
    }

    pub async fn worker_runs_handlers(db: &TestDb) {
        // The worker loop uses real time for heartbeats; give it the system clock.
        let s = db
            .reopen(|o| o.clock(std::sync::Arc::new(SystemClock)))
            .await
            .unwrap();
        s.enqueue_many(
            &(0..20)
                .map(|i| NewJob::new("w", json!({"i": i})).group("g"))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        s.enqueue(&NewJob::new("w", json!({"fail": true})).max_attempts(1))
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handler = {
            let count = count.clone();
            std::sync::Arc::new(worker::handler_fn(move |job: Job| {
                let count = count.clone();
                async move {
                    if job.payload.get("fail").is_some() {
                        return JobOutcome::Fail {
                            reason: "asked to fail".into(),
                        };
                    }
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    JobOutcome::Done
                }
            }))
        };
        let cfg = worker::WorkerConfig {
            concurrency: 4,
            heartbeat_every: Duration::from_millis(200),
            lease_for: Duration::from_secs(5),
            idle_wait: Duration::from_millis(200),
            ..Default::default()
        };
        let w = tokio::spawn(worker::run(s.clone(), cfg, handler, rx));
        loop {
            let stats = s.queue_stats().await.unwrap();
            if !stats
                .by_kind_state
                .iter()
                .any(|(_, st, _)| *st == JobState::Ready || *st == JobState::Running)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tx.send(true).unwrap();
        w.await.unwrap().unwrap();
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 20);
        assert_eq!(s.queue_stats().await.unwrap().dead, 1);
        s.close().await;
    }
}

conformance!(
    tenants_and_users,
    outbound_stats_count_per_tenant_and_connection,
    api_keys,
    connections_owners_limits_status,
    concurrent_creates_respect_the_limit,
    sealed_value_copied_to_another_row_does_not_open,
    master_key_checks_and_rotation,
    rotation_half_done_keeps_nodes_with_both_keys_working,
    events_are_idempotent_per_tenant,
    concurrent_duplicate_events_record_one,
    transaction_joins_event_and_job,
    recipes_journal_audit,
    queue_lease_complete_priority_and_run_at,
    dedupe_keys,
    retries_backoff_and_dead_letters,
    defer_keeps_the_attempt_and_cancel,
    heartbeats_and_the_reaper,
    group_caps,
    concurrent_leasers_never_share_or_exceed_caps,
    stats_and_retention,
    connection_limit_is_configurable,
    audit_log_records_who_changed_what,
    retention_rules_each_purge_their_own_rows,
    replay_refuses_a_taken_dedupe_key,
    wake_ups_cross_nodes,
    worker_runs_handlers,
);
