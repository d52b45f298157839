//! The control plane's tables (migration 0003) in the conformance style: every case runs
//! unchanged on SQLite and PostgreSQL — scoped API keys, vendor admin keys, sessions, OAuth
//! authorizations in flight, connection renames, the notification outbox and webhook deliveries
//! (fan-out, per-connection order, retries, giving up, redelivery, tenant isolation); and runs
//! (migration 0004): started with their job in one transaction, one active run per install,
//! progress and outcome, listing and paging, tenant isolation; a session's default recipe.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::time::Duration;

use common::TestDb;
use forcebridge_store::control::{NewRun, RunEnd, RunError, RunFilter, RunProgress, RunState};
use forcebridge_store::*;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

const THREE_DAYS: Duration = Duration::from_secs(3 * 24 * 3600);

fn failed(retry_in: Option<chrono::Duration>, now: chrono::DateTime<chrono::Utc>) -> AttemptOutcome {
    AttemptOutcome {
        delivered: false,
        status: Some(500),
        error: Some("receiver answered 500".into()),
        duration: Duration::from_millis(3),
        retry_at: retry_in.map(|d| now + d),
    }
}

fn ok() -> AttemptOutcome {
    AttemptOutcome {
        delivered: true,
        status: Some(200),
        error: None,
        duration: Duration::from_millis(2),
        retry_at: None,
    }
}

/// A connection owned as `owner`, with placeholder credentials.
fn connection_of(owner: Owner) -> NewConnection {
    NewConnection {
        org_id: None,
        environment: Environment::Production,
        auth_method: AuthMethod::ClientCredentials,
        owner,
        label: "c".into(),
        credentials: Credentials {
            client_id: Some("c".into()),
            ..Default::default()
        },
    }
}

mod suite {
    use super::*;

    pub async fn rotation_reseals_webhook_secrets_and_oauth_verifiers(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let (ep, secret) = s
            .create_webhook_endpoint(&t.id, "http://127.0.0.1:1/h", &["*".into()])
            .await
            .unwrap();
        let u = s
            .upsert_user(&t.id, "ann@acme.test", Role::Member, "vendor")
            .await
            .unwrap();
        let (sess, _) = s
            .create_session(&t.id, &u.id, Role::Member, Duration::from_secs(600))
            .await
            .unwrap();
        let verifier = SecretString::from("v".repeat(64));
        s.begin_oauth(
            &t.id,
            &sess.id,
            "st",
            &verifier,
            &json!({}),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        s.record_notification(&t.id, "event.failed", None, &json!({}), THREE_DAYS)
            .await
            .unwrap();

        // Rotate to key B with A as the previous key, then open with B alone.
        let b = common::key_text();
        let rotating = db
            .reopen(|o| o.vault(Vault::new(common::key(&b)).with_older(common::key(&db.key))))
            .await
            .unwrap();
        assert!(rotating.rotate_vault(1).await.unwrap() >= 2);
        let only_b = db.reopen(|o| o.vault(Vault::new(common::key(&b)))).await.unwrap();
        let due = only_b
            .lease_webhook_deliveries(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].delivery.endpoint_id, ep.id);
        assert_eq!(due[0].secret.expose_secret(), secret.expose_secret());
        let p = only_b.take_oauth("st").await.unwrap().unwrap();
        assert_eq!(p.code_verifier.expose_secret(), verifier.expose_secret());
    }

    pub async fn scoped_api_keys(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let (k, secret) = s
            .create_scoped_api_key(&t.id, "ingest", &[Scope::Events], "admin")
            .await
            .unwrap();
        let found = s.authenticate_api_key(&secret).await.unwrap().unwrap();
        assert_eq!(found.id, k.id);
        assert_eq!(s.api_key_scopes(&t.id, &k.id).await.unwrap(), vec![Scope::Events]);
        // Keys made the old way keep every scope.
        let (old, _) = s.create_api_key(&t.id, "old", "admin").await.unwrap();
        assert_eq!(s.api_key_scopes(&t.id, &old.id).await.unwrap(), vec![Scope::All]);
        let other = s.create_tenant("Other").await.unwrap();
        assert_eq!(
            s.api_key_scopes(&other.id, &k.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        let e = s
            .create_scoped_api_key(&t.id, "none", &[], "admin")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert!(
            Scope::parse("everything")
                .unwrap_err()
                .to_string()
                .contains("expected one of")
        );
    }

    pub async fn admin_keys(db: &TestDb) {
        let s = &db.store;
        let first = s.bootstrap_admin_key().await.unwrap().unwrap();
        assert!(first.expose_secret().starts_with("fba_"));
        assert!(
            s.bootstrap_admin_key().await.unwrap().is_none(),
            "only on the first start"
        );
        assert!(s.authenticate_admin_key(&first).await.unwrap());
        let second = s.create_admin_key("ops").await.unwrap();
        assert!(s.authenticate_admin_key(&second).await.unwrap());
        let mut wrong = first.expose_secret().to_owned();
        wrong.push('x');
        assert!(
            !s.authenticate_admin_key(&SecretString::from(wrong))
                .await
                .unwrap()
        );
        assert!(!s.authenticate_admin_key(&"fba_zz".into()).await.unwrap());
        assert!(!s.authenticate_admin_key(&"garbage".into()).await.unwrap());
        // Nothing stored is the key itself.
        let sealed_or_hashed = match db.backend() {
            Backend::Sqlite => sqlx::query_scalar::<_, String>("SELECT hash FROM admin_keys")
                .fetch_all(s.sqlite_pool().unwrap())
                .await
                .unwrap(),
            Backend::Postgres => sqlx::query_scalar::<_, String>("SELECT hash FROM admin_keys")
                .fetch_all(s.pg_pool().unwrap())
                .await
                .unwrap(),
        };
        assert!(
            sealed_or_hashed
                .iter()
                .all(|h| !h.contains(first.expose_secret()))
        );
    }

    pub async fn users_and_sessions(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let u = s
            .upsert_user(&t.id, "ann@acme.test", Role::Member, "vendor")
            .await
            .unwrap();
        let again = s
            .upsert_user(&t.id, "ann@acme.test", Role::Admin, "vendor")
            .await
            .unwrap();
        assert_eq!(again.id, u.id);
        assert_eq!(again.role, Role::Admin);
        let (sess, token) = s
            .create_session(&t.id, &u.id, Role::Member, Duration::from_secs(600))
            .await
            .unwrap();
        let got = s.authenticate_session(&token).await.unwrap().unwrap();
        assert_eq!(got, sess);
        assert_eq!(got.email, "ann@acme.test");
        assert!(s.live_session(&t.id, &sess.id).await.unwrap().is_some());
        let other = s.create_tenant("Other").await.unwrap();
        assert!(s.live_session(&other.id, &sess.id).await.unwrap().is_none());
        assert_eq!(
            s.revoke_session(&other.id, &sess.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert!(
            s.authenticate_session(&"fbs_nope".into())
                .await
                .unwrap()
                .is_none()
        );
        // Expiry follows the store's clock.
        db.clock.advance(chrono::Duration::seconds(601));
        assert!(s.authenticate_session(&token).await.unwrap().is_none());
        let (sess2, token2) = s
            .create_session(&t.id, &u.id, Role::Admin, Duration::from_secs(600))
            .await
            .unwrap();
        s.revoke_session(&t.id, &sess2.id).await.unwrap();
        assert!(s.authenticate_session(&token2).await.unwrap().is_none());
        assert_eq!(
            s.create_session(&other.id, &u.id, Role::Admin, Duration::from_secs(1))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
    }

    pub async fn oauth_in_flight_is_taken_once(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let u = s
            .upsert_user(&t.id, "ann@acme.test", Role::Member, "vendor")
            .await
            .unwrap();
        let (sess, _) = s
            .create_session(&t.id, &u.id, Role::Member, Duration::from_secs(600))
            .await
            .unwrap();
        let verifier = SecretString::from("v".repeat(64));
        let req = json!({ "label": "Prod" });
        s.begin_oauth(
            &t.id,
            &sess.id,
            "state-1",
            &verifier,
            &req,
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        assert!(s.take_oauth("wrong").await.unwrap().is_none());
        let p = s.take_oauth("state-1").await.unwrap().unwrap();
        assert_eq!(p.tenant_id, t.id);
        assert_eq!(p.session_id, sess.id);
        assert_eq!(p.request, req);
        assert_eq!(p.code_verifier.expose_secret(), verifier.expose_secret());
        assert!(s.take_oauth("state-1").await.unwrap().is_none(), "single use");
        s.begin_oauth(
            &t.id,
            &sess.id,
            "state-2",
            &verifier,
            &req,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        db.clock.advance(chrono::Duration::seconds(61));
        assert!(s.take_oauth("state-2").await.unwrap().is_none(), "expired");
    }

    pub async fn rename_connection(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let u = s
            .upsert_user(&t.id, "ann@acme.test", Role::Member, "vendor")
            .await
            .unwrap();
        let c = s
            .create_connection(
                &t.id,
                &NewConnection {
                    org_id: None,
                    environment: Environment::Production,
                    auth_method: AuthMethod::ClientCredentials,
                    owner: Owner::Personal {
                        user_id: u.id.clone(),
                    },
                    label: "old".into(),
                    credentials: Credentials {
                        client_id: Some("c".into()),
                        ..Default::default()
                    },
                },
                "ann",
            )
            .await
            .unwrap();
        s.rename_connection(&t.id, &c.id, " Production ", "ann")
            .await
            .unwrap();
        assert_eq!(s.get_connection(&t.id, &c.id).await.unwrap().label, "Production");
        assert_eq!(
            s.rename_connection(&t.id, &c.id, "  ", "ann")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
        let other = s.create_tenant("Other").await.unwrap();
        assert_eq!(
            s.rename_connection(&other.id, &c.id, "x", "ann")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(s.get_connection(&t.id, &c.id).await.unwrap().label, "Production");
        s.set_connection_org(&t.id, &c.id, "00D000000000001EAA")
            .await
            .unwrap();
        assert_eq!(
            s.get_connection(&t.id, &c.id).await.unwrap().org_id.as_deref(),
            Some("00D000000000001EAA")
        );
    }

    pub async fn notifications_fan_out_to_matching_endpoints(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let (all, secret) = s
            .create_webhook_endpoint(&t.id, "http://127.0.0.1:1/all", &["*".into()])
            .await
            .unwrap();
        assert!(secret.expose_secret().starts_with("whsec_"));
        let (only, _) = s
            .create_webhook_endpoint(
                &t.id,
                "http://127.0.0.1:1/expired",
                &["connection.token_expired".into()],
            )
            .await
            .unwrap();
        assert_eq!(
            s.create_webhook_endpoint(&t.id, "ftp://x", &["*".into()])
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
        let (_, n) = s
            .record_notification(&t.id, "install.failed", None, &json!({"reason": "x"}), THREE_DAYS)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let (id2, n) = s
            .record_notification(&t.id, "connection.token_expired", None, &json!({}), THREE_DAYS)
            .await
            .unwrap();
        assert_eq!(n, 2);
        let listed = s.list_notifications(&t.id, 0, 10).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].id, id2);
        assert_eq!(listed[1].kind, "connection.token_expired");
        assert_eq!(
            s.list_webhook_deliveries(&t.id, Some(&only.id), 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            s.list_webhook_deliveries(&t.id, Some(&all.id), 10)
                .await
                .unwrap()
                .len(),
            2
        );
        // Three deliveries, but `all`'s two share one line (no connection): its head only.
        let due = s
            .lease_webhook_deliveries(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(due.len(), 2);
        assert!(
            due.iter()
                .any(|d| d.secret.expose_secret() == secret.expose_secret())
        );
        // Leased: not handed out twice.
        assert!(
            s.lease_webhook_deliveries(10, Duration::from_secs(60))
                .await
                .unwrap()
                .is_empty()
        );
        // Another tenant sees none of it.
        let other = s.create_tenant("Other").await.unwrap();
        assert!(s.list_notifications(&other.id, 0, 10).await.unwrap().is_empty());
        assert!(
            s.list_webhook_deliveries(&other.id, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.get_webhook_endpoint(&other.id, &all.id)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            s.get_webhook_delivery(&other.id, due[0].delivery.id)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            s.delete_webhook_endpoint(&other.id, &all.id)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(s.list_webhook_endpoints(&t.id).await.unwrap().len(), 2);
        s.delete_webhook_endpoint(&t.id, &all.id).await.unwrap();
        assert_eq!(s.list_webhook_endpoints(&t.id).await.unwrap().len(), 1);
    }

    pub async fn deliveries_keep_order_per_connection_and_retry(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let (_, _) = s
            .create_webhook_endpoint(&t.id, "http://127.0.0.1:1/h", &["*".into()])
            .await
            .unwrap();
        let a = ConnectionId::new();
        let b = ConnectionId::new();
        for (conn, i) in [(&a, 1), (&a, 2), (&b, 1)] {
            s.record_notification(
                &t.id,
                "connection.revoked",
                Some(conn),
                &json!({ "n": i }),
                THREE_DAYS,
            )
            .await
            .unwrap();
        }
        // Only the head of each connection's line is due.
        let due = s
            .lease_webhook_deliveries(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(due.len(), 2);
        let head_a = due
            .iter()
            .find(|d| d.notification.connection_id.as_ref() == Some(&a))
            .unwrap();
        assert_eq!(head_a.notification.data, json!({ "n": 1 }));
        // A failure keeps the line blocked until it succeeds.
        let now = db.clock.now();
        let st = s
            .record_webhook_attempt(
                head_a.delivery.id,
                &failed(Some(chrono::Duration::seconds(30)), now),
            )
            .await
            .unwrap();
        assert_eq!(st, WebhookDeliveryState::Pending);
        let head_b = due
            .iter()
            .find(|d| d.notification.connection_id.as_ref() == Some(&b))
            .unwrap();
        s.record_webhook_attempt(head_b.delivery.id, &ok()).await.unwrap();
        assert!(
            s.lease_webhook_deliveries(10, Duration::from_secs(60))
                .await
                .unwrap()
                .is_empty()
        );
        db.clock.advance(chrono::Duration::seconds(31));
        let due = s
            .lease_webhook_deliveries(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].delivery.id, head_a.delivery.id);
        assert_eq!(due[0].delivery.attempts, 1);
        s.record_webhook_attempt(due[0].delivery.id, &ok()).await.unwrap();
        let due = s
            .lease_webhook_deliveries(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].notification.data, json!({ "n": 2 }));
        let log = s.webhook_attempts(&t.id, head_a.delivery.id).await.unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].status, Some(500));
        assert_eq!(log[1].status, Some(200));
        // A retry past the give-up time fails the delivery; redelivery puts it back.
        let now = db.clock.now();
        let st = s
            .record_webhook_attempt(due[0].delivery.id, &failed(Some(chrono::Duration::days(4)), now))
            .await
            .unwrap();
        assert_eq!(st, WebhookDeliveryState::Failed);
        let d = s.get_webhook_delivery(&t.id, due[0].delivery.id).await.unwrap();
        assert_eq!(d.state, WebhookDeliveryState::Failed);
        assert_eq!(d.last_status, Some(500));
        s.redeliver_webhook(&t.id, d.id, THREE_DAYS).await.unwrap();
        let again = s
            .lease_webhook_deliveries(10, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].delivery.id, d.id);
        let other = s.create_tenant("Other").await.unwrap();
        assert_eq!(
            s.redeliver_webhook(&other.id, d.id, THREE_DAYS)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            s.webhook_attempts(&other.id, d.id).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    pub async fn expired_leases_are_handed_out_again(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        s.create_webhook_endpoint(&t.id, "http://127.0.0.1:1/h", &["*".into()])
            .await
            .unwrap();
        s.record_notification(&t.id, "event.failed", None, &json!({}), THREE_DAYS)
            .await
            .unwrap();
        assert_eq!(
            s.lease_webhook_deliveries(10, Duration::from_secs(30))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            s.lease_webhook_deliveries(10, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty()
        );
        db.clock.advance(chrono::Duration::seconds(31));
        assert_eq!(
            s.lease_webhook_deliveries(10, Duration::from_secs(30))
                .await
                .unwrap()
                .len(),
            1
        );
    }

    async fn install_on_new_connection(s: &Store, t: &Tenant) -> (Connection, RecipeInstall) {
        let u = s
            .upsert_user(&t.id, "ops@acme.test", Role::Admin, "vendor")
            .await
            .unwrap();
        let c = s
            .create_connection(&t.id, &connection_of(Owner::Personal { user_id: u.id }), "ops")
            .await
            .unwrap();
        let i = s
            .install_recipe(&t.id, &c.id, "instruqt", &json!({}), false, "ops")
            .await
            .unwrap();
        (c, i)
    }

    fn apply_run(c: &Connection, i: &RecipeInstall) -> NewRun {
        NewRun {
            kind: "install.apply".into(),
            install_id: Some(i.id.clone()),
            connection_id: Some(c.id.clone()),
            total: 4,
            actor: "api_key:test".into(),
        }
    }

    pub async fn runs_start_with_their_job_once_per_install(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let (c, i) = install_on_new_connection(s, &t).await;
        let job = NewJob::new("install.apply", json!({ "install": i.id }));
        let (run, created) = s.start_run(&t.id, &apply_run(&c, &i), &job).await.unwrap();
        assert!(created);
        assert_eq!(run.state, RunState::Queued);
        assert_eq!(run.attempts, 0);
        assert_eq!(
            run.progress,
            RunProgress {
                done: 0,
                total: 4,
                step: None
            }
        );
        assert_eq!((run.error.as_ref(), run.report.as_ref()), (None, None));
        // A second start while it is queued answers the first and enqueues nothing.
        let (again, created) = s.start_run(&t.id, &apply_run(&c, &i), &job).await.unwrap();
        assert!(!created);
        assert_eq!(again.id, run.id);
        let jobs = s
            .lease(&LeaseRequest {
                worker: "w".into(),
                kinds: vec!["install.apply".into()],
                max_jobs: 10,
                lease_for: Duration::from_secs(60),
            })
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1, "one job for one run");
        assert_eq!(jobs[0].payload["run"], json!(run.id));
        assert_eq!(jobs[0].payload["install"], json!(i.id));
        assert_eq!(jobs[0].tenant_id.as_deref(), Some(t.id.as_str()));

        let started = s.run_started(&t.id, &run.id, 1, 5).await.unwrap();
        assert_eq!(
            (started.state, started.attempts, started.progress.total),
            (RunState::Running, 1, 5)
        );
        let p = RunProgress {
            done: 2,
            total: 5,
            step: Some("object Instruqt_Play__c".into()),
        };
        s.run_progress(&t.id, &run.id, &p).await.unwrap();
        assert_eq!(s.get_run(&t.id, &run.id).await.unwrap().progress, p);
        assert_eq!(
            s.active_run(&t.id, &i.id, "install.apply")
                .await
                .unwrap()
                .map(|r| r.id),
            Some(run.id.clone())
        );
        s.run_retrying(&t.id, &run.id).await.unwrap();
        assert_eq!(s.get_run(&t.id, &run.id).await.unwrap().state, RunState::Queued);
        let retried = s.run_started(&t.id, &run.id, 2, 5).await.unwrap();
        assert_eq!((retried.attempts, retried.progress.done), (2, 0));
        let done = s
            .finish_run(&t.id, &run.id, &RunEnd::Succeeded(json!({ "applied": [] })))
            .await
            .unwrap();
        assert_eq!(done.state, RunState::Succeeded);
        assert_eq!(done.report, Some(json!({ "applied": [] })));
        // Over is over: later calls change nothing.
        let failed = RunError {
            code: "x".into(),
            message: "m".into(),
            remedy: "r".into(),
        };
        let same = s
            .finish_run(&t.id, &run.id, &RunEnd::Failed(failed.clone()))
            .await
            .unwrap();
        assert_eq!((same.state, same.error), (RunState::Succeeded, None));
        assert_eq!(
            s.run_started(&t.id, &run.id, 3, 5).await.unwrap().state,
            RunState::Succeeded
        );
        assert!(
            s.active_run(&t.id, &i.id, "install.apply")
                .await
                .unwrap()
                .is_none()
        );

        // Once finished, a new start makes a new run, which can fail with its reason.
        let (second, created) = s.start_run(&t.id, &apply_run(&c, &i), &job).await.unwrap();
        assert!(created);
        assert_ne!(second.id, run.id);
        let ended = s
            .finish_run(&t.id, &second.id, &RunEnd::Failed(failed.clone()))
            .await
            .unwrap();
        assert_eq!((ended.state, ended.error), (RunState::Failed, Some(failed)));
    }

    pub async fn runs_list_newest_first_and_stay_in_their_tenant(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let (c, i) = install_on_new_connection(s, &t).await;
        let (c2, i2) = install_on_new_connection(s, &t).await;
        let job = NewJob::new("install.apply", json!({}));
        let mut ids = Vec::new();
        for _ in 0..3 {
            let (r, _) = s.start_run(&t.id, &apply_run(&c, &i), &job).await.unwrap();
            s.finish_run(&t.id, &r.id, &RunEnd::Succeeded(json!({})))
                .await
                .unwrap();
            ids.push(r.id);
        }
        let (other_install, _) = s.start_run(&t.id, &apply_run(&c2, &i2), &job).await.unwrap();
        let all = s.list_runs(&t.id, &RunFilter::default()).await.unwrap();
        let listed: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(listed, vec![other_install.id.as_str(), &ids[2], &ids[1], &ids[0]]);
        let of_install = s
            .list_runs(
                &t.id,
                &RunFilter {
                    install_id: Some(i.id.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(of_install.len(), 3);
        let page = s
            .list_runs(
                &t.id,
                &RunFilter {
                    before_id: Some(ids[2].clone()),
                    limit: Some(1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            vec![ids[1].clone()]
        );
        let on_conn = s
            .list_runs(
                &t.id,
                &RunFilter {
                    connection_ids: Some(vec![c2.id.clone()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            on_conn.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            vec![other_install.id.clone()]
        );
        assert!(
            s.list_runs(
                &t.id,
                &RunFilter {
                    connection_ids: Some(vec![]),
                    ..Default::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
        );
        assert_eq!(
            s.list_runs(
                &t.id,
                &RunFilter {
                    limit: Some(0),
                    ..Default::default()
                }
            )
            .await
            .unwrap_err()
            .kind(),
            ErrorKind::Invalid
        );

        let other = s.create_tenant("Other").await.unwrap();
        assert!(
            s.list_runs(&other.id, &RunFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.get_run(&other.id, &ids[0]).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            s.run_progress(&other.id, &other_install.id, &RunProgress::default())
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            s.finish_run(&other.id, &other_install.id, &RunEnd::Succeeded(json!({})))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert!(
            s.active_run(&other.id, &i2.id, "install.apply")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            s.get_run(&t.id, &other_install.id).await.unwrap().state,
            RunState::Queued
        );
    }

    pub async fn sessions_carry_their_recipe(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let u = s
            .upsert_user(&t.id, "ann@acme.test", Role::Member, "vendor")
            .await
            .unwrap();
        let (sess, token) = s
            .create_session_for(
                &t.id,
                &u.id,
                Role::Member,
                Duration::from_secs(600),
                Some("inkwell"),
            )
            .await
            .unwrap();
        assert_eq!(sess.recipe.as_deref(), Some("inkwell"));
        let got = s.authenticate_session(&token).await.unwrap().unwrap();
        assert_eq!(got.recipe.as_deref(), Some("inkwell"));
        assert_eq!(
            s.live_session(&t.id, &sess.id)
                .await
                .unwrap()
                .unwrap()
                .recipe
                .as_deref(),
            Some("inkwell")
        );
        let (_, plain) = s
            .create_session(&t.id, &u.id, Role::Member, Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(
            s.authenticate_session(&plain).await.unwrap().unwrap().recipe,
            None
        );
    }

    pub async fn personal_connections_within_a_limit(db: &TestDb) {
        let s = &db.store;
        let t = s.create_tenant("Acme").await.unwrap();
        let u = s
            .upsert_user(&t.id, "ann@acme.test", Role::Admin, "vendor")
            .await
            .unwrap();
        let conn = connection_of;
        let personal = || {
            conn(Owner::Personal {
                user_id: u.id.clone(),
            })
        };
        // A shared connection the user owns does not count against a personal limit.
        s.create_connection(
            &t.id,
            &conn(Owner::Shared {
                admin_id: u.id.clone(),
                users: vec![],
            }),
            "ann",
        )
        .await
        .unwrap();
        for _ in 0..2 {
            s.create_personal_connection_within(&t.id, &personal(), 2, "ann")
                .await
                .unwrap();
        }
        let e = s
            .create_personal_connection_within(&t.id, &personal(), 2, "ann")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ConnectionLimit { limit: 2, .. }), "{e}");
        let other = s.create_tenant("Other").await.unwrap();
        assert_eq!(
            s.create_personal_connection_within(&other.id, &personal(), 9, "ann")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(s.list_connections(&t.id, None).await.unwrap().len(), 3);
    }
}

conformance!(
    personal_connections_within_a_limit,
    runs_start_with_their_job_once_per_install,
    runs_list_newest_first_and_stay_in_their_tenant,
    sessions_carry_their_recipe,
    rotation_reseals_webhook_secrets_and_oauth_verifiers,
    scoped_api_keys,
    admin_keys,
    users_and_sessions,
    oauth_in_flight_is_taken_once,
    rename_connection,
    notifications_fan_out_to_matching_endpoints,
    deliveries_keep_order_per_connection_and_retry,
    expired_leases_are_handed_out_again,
);
