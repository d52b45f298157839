//! Crash safety: random Instruqt event streams, with the worker killed at random points (its task
//! aborted mid-flight, as a killed process stops, and its lease reaped after the lease time),
//! leave the org in the same state as an uninterrupted run of the same stream: no lost write, no
//! duplicate Lead, Play or Chatter post.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::TestApp;

#[derive(Debug, Clone)]
enum Ev {
    Form { person: u8 },
    Completed { play: u8, person: u8, score: Option<u8> },
}

fn person(p: u8) -> (String, String, String) {
    (
        format!("p{p}@example.com"),
        format!("First{p}"),
        format!("Last{p}"),
    )
}

fn event(n: usize, e: &Ev) -> (String, &'static str, Value) {
    match e {
        Ev::Form { person: p } => {
            let (email, first, last) = person(*p);
            (
                format!("ev-{n}"),
                "invite.form_submitted",
                json!({ "invite_id": "i", "email": email, "first_name": first, "last_name": last }),
            )
        }
        Ev::Completed {
            play,
            person: p,
            score,
        } => {
            let (email, first, last) = person(*p);
            let feedback = match score {
                Some(s) => json!({ "score": s }),
                None => json!({}),
            };
            (
                format!("ev-{n}"),
                "track.completed",
                json!({
                    "play_id": format!("play-{play}"),
                    "track": { "slug": "t1", "title": "Track One" },
                    "user": { "email": email, "first_name": first, "last_name": last },
                    "completed_at": "2026-12-01T00:00:00Z",
                    "time_spent_seconds": 600,
                    "feedback": feedback,
                }),
            )
        }
    }
}

/// The org's state with ids replaced by what identifies a record for a person.
async fn snapshot(app: &TestApp) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut email_of = BTreeMap::new();
    for l in app.query("SELECT Id, Email FROM Lead").await {
        email_of.insert(
            l["Id"].as_str().unwrap().to_owned(),
            l["Email"].as_str().unwrap().to_owned(),
        );
        *out.entry(format!("lead {}", l["Email"])).or_default() += 1;
    }
    for p in app
        .query("SELECT Participant_ID__c, Lead__c, Score__c FROM Instruqt_Play__c")
        .await
    {
        let who = p["Lead__c"]
            .as_str()
            .and_then(|id| email_of.get(id))
            .cloned()
            .unwrap_or_default();
        *out.entry(format!("play {} {who} {}", p["Participant_ID__c"], p["Score__c"]))
            .or_default() += 1;
    }
    for f in app.query("SELECT ParentId, Body FROM FeedItem").await {
        let who = f["ParentId"]
            .as_str()
            .and_then(|id| email_of.get(id))
            .cloned()
            .unwrap_or_default();
        *out.entry(format!("post {who} {}", f["Body"])).or_default() += 1;
    }
    out
}

async fn settle(app: &TestApp) {
    for _ in 0..20 {
        app.drain().await;
        app.clock.advance(chrono::Duration::minutes(30));
        app.engine.store().reap_expired().await.unwrap();
        app.engine.kick(&app.tenant, &app.connection, None).await.unwrap();
        let pending = app
            .engine
            .deliveries(
                &app.tenant,
                &forcebridge_store::DeliveryFilter {
                    state: Some(forcebridge_store::DeliveryState::Pending),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if pending.is_empty() {
            app.drain().await;
            return;
        }
    }
    panic!("deliveries still pending after settling");
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (0u8..6).prop_map(|p| Ev::Form { person: p }),
        (0u8..5, 0u8..6, proptest::option::of(1u8..6)).prop_map(|(play, p, score)| Ev::Completed {
            play,
            person: p,
            score
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn killed_workers_end_in_the_uninterrupted_state(
        events in proptest::collection::vec(ev(), 5..30),
        kills in proptest::collection::vec(0u64..40, 1..5),
        chunk in 3usize..10,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let all: Vec<_> = events.iter().enumerate().map(|(n, e)| event(n, e)).collect();

            let calm = TestApp::start("instruqt").await;
            calm.install("instruqt", json!({})).await;
            calm.send(all.iter().map(|(k, t, d)| (k.as_str(), *t, d.clone())).collect()).await;
            settle(&calm).await;
            let want = snapshot(&calm).await;

            let rough = TestApp::start("instruqt").await;
            rough.install("instruqt", json!({})).await;
            let mut kills = kills.into_iter();
            for part in all.chunks(chunk) {
                rough.send(part.iter().map(|(k, t, d)| (k.as_str(), *t, d.clone())).collect()).await;
                if let Some(after_ms) = kills.next() {
                    let engine = rough.engine.clone();
                    let task = tokio::spawn(async move { engine.run_until_idle().await });
                    tokio::time::sleep(Duration::from_millis(after_ms)).await;
                    task.abort();
                    let _ = task.await;
                    // The killed worker's lease runs out; the reaper hands its job back.
                    rough.clock.advance(chrono::Duration::minutes(10));
                    rough.engine.store().reap_expired().await.unwrap();
                }
            }
            settle(&rough).await;
            let got = snapshot(&rough).await;
            assert_eq!(got, want);
        });
    }
}
