//! Property tests of the queue's invariants, on SQLite and PostgreSQL: random sequences of
//! enqueue / lease / heartbeat / complete / fail / defer / clock moves / reaps, checked against a
//! model after every step, then drained.
//!
//! Invariants checked: no job is lost; no job is leased while another lease on it holds; a held
//! (unexpired) lease always works; retries and dead letters follow each job's attempt budget;
//! running jobs per concurrency group never exceed the group's cap.
#![allow(clippy::unwrap_used)] // tests may unwrap (see common.md); a failure is the assertion

mod common;

use std::collections::HashMap;
use std::time::Duration;

use chrono::Duration as CDuration;
use common::TestDb;
use forcebridge_store::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

const CAP: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Enqueue { group: u8, max_attempts: u8, delay: u8 },
    Lease { n: u8, secs: u8 },
    Complete(u8),
    Fail(u8),
    Defer(u8, u8),
    Heartbeat(u8),
    Advance(u16),
    Reap,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4, 1u8..4, 0u8..3).prop_map(|(group, max_attempts, delay)| Op::Enqueue { group, max_attempts, delay }),
        3 => (1u8..6, 5u8..60).prop_map(|(n, secs)| Op::Lease { n, secs }),
        2 => any::<u8>().prop_map(Op::Complete),
        2 => any::<u8>().prop_map(Op::Fail),
        1 => (any::<u8>(), 0u8..120).prop_map(|(i, s)| Op::Defer(i, s)),
        1 => any::<u8>().prop_map(Op::Heartbeat),
        2 => (0u16..400).prop_map(Op::Advance),
        1 => Just(Op::Reap),
    ]
}

fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if cond {
        Ok(())
    } else {
        Err(TestCaseError::fail(msg()))
    }
}

async fn run_case(db: &TestDb, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let s = &db.store;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let kind = format!("prop-{tag}");
    let groups: Vec<String> = (0..3).map(|g| format!("{tag}-g{g}")).collect();
    for g in &groups {
        s.set_group_limit(g, CAP as u32).await.unwrap();
    }
    let req = |n: u8, secs: u8| LeaseRequest {
        worker: "prop".into(),
        kinds: vec![kind.clone()],
        max_jobs: u32::from(n),
        lease_for: Duration::from_secs(u64::from(secs)),
    };
    let mut enqueued: HashMap<JobId, u32> = HashMap::new();
    let mut held: Vec<Job> = Vec::new();

    for op in ops {
        let now = db.clock.now();
        match op {
            Op::Enqueue {
                group,
                max_attempts,
                delay,
            } => {
                let mut job = NewJob::new(kind.clone(), json!({})).max_attempts(u32::from(max_attempts));
                if let Some(g) = groups.get(usize::from(group)) {
                    job = job.group(g.clone());
                }
                job = job.run_at(now + CDuration::seconds(i64::from(delay) * 30));
                let e = s.enqueue(&job).await.unwrap();
                enqueued.insert(e.id, u32::from(max_attempts));
            }
            Op::Lease { n, secs } => {
                let leased = s.lease(&req(n, secs)).await.unwrap();
                check(leased.len() <= usize::from(n), || "leased more than asked".into())?;
                for j in &leased {
                    check(enqueued.contains_key(&j.id), || {
                        format!("leased unknown job {}", j.id)
                    })?;
                    let max = enqueued[&j.id];
                    check(j.attempt >= 1 && j.attempt <= max, || {
                        format!("attempt {} of {max}", j.attempt)
                    })?;
                    check(
                        !held.iter().any(|h| h.id == j.id && h.lease.expires_at > now),
                        || format!("job {} leased while another lease on it holds", j.id),
                    )?;
                }
                held.retain(|h| !leased.iter().any(|j| j.id == h.id));
                held.extend(leased);
                let running = s.list_jobs(JobState::Running, 10_000).await.unwrap();
                for g in &groups {
                    let n = running
                        .iter()
                        .filter(|r| r.group.as_deref() == Some(g.as_str()))
                        .count();
                    check(n <= CAP, || format!("group {g} has {n} running, cap {CAP}"))?;
                }
            }
            Op::Complete(i) | Op::Fail(i) | Op::Defer(i, _) | Op::Heartbeat(i) => {
                if held.is_empty() {
                    continue;
                }
                let idx = usize::from(i) % held.len();
                let job = held.remove(idx);
                let live = job.lease.expires_at > now;
                let result = match op {
                    Op::Complete(_) => s.complete(&job.lease).await.map(|()| None),
                    Op::Fail(_) => s.fail(&job.lease, "prop failure").await.map(Some),
                    Op::Defer(_, secs) => s
                        .defer(&job.lease, now + CDuration::seconds(i64::from(secs)))
                        .await
                        .map(|()| None),
                    _ => s.heartbeat(&job.lease, Duration::from_secs(30)).await.map(|l| {
                        held.push(Job {
                            lease: l,
                            ..job.clone()
                        });
                        None
                    }),
                };
                match result {
                    Ok(Some(FailResult::Dead)) => {
                        check(job.attempt == job.max_attempts, || {
                            format!("dead after attempt {} of {}", job.attempt, job.max_attempts)
                        })?;
                    }
                    Ok(Some(FailResult::Retrying { .. })) => {
                        check(job.attempt < job.max_attempts, || {
                            "retrying past the budget".into()
                        })?;
                    }
                    Ok(None) => {}
                    Err(Error::LeaseLost { .. }) => {
                        check(!live, || {
                            format!("a held, unexpired lease on job {} was refused", job.id)
                        })?;
                    }
                    Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
                }
            }
            Op::Advance(secs) => db.clock.advance(CDuration::seconds(i64::from(secs))),
            Op::Reap => {
                s.reap_expired().await.unwrap();
            }
        }
    }

    // Drain: everything ends done or dead, nothing is lost.
    for _ in 0..50 {
        db.clock.advance(CDuration::hours(2));
        s.reap_expired().await.unwrap();
        let leased = s.lease(&req(100, 60)).await.unwrap();
        for j in &leased {
            s.complete(&j.lease).await.unwrap();
        }
        let stats = s.queue_stats().await.unwrap();
        if !stats
            .by_kind_state
            .iter()
            .any(|(k, st, _)| *k == kind && matches!(st, JobState::Ready | JobState::Running))
        {
            break;
        }
    }
    for (&id, &max) in &enqueued {
        let info = s
            .job_info(id)
            .await
            .map_err(|e| TestCaseError::fail(format!("job {id} lost: {e}")))?;
        check(matches!(info.state, JobState::Done | JobState::Dead), || {
            format!("job {id} ended {}", info.state)
        })?;
        check(info.attempts <= max, || {
            format!("job {id}: {} attempts of {max}", info.attempts)
        })?;
        if info.state == JobState::Dead {
            check(info.attempts == max, || {
                format!("job {id} dead after {} of {max}", info.attempts)
            })?;
        }
    }
    Ok(())
}

fn run(db: &TestDb, rt: &tokio::runtime::Runtime, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            rt.block_on(run_case(db, ops))
        })
        .unwrap();
}

#[test]
fn sqlite_queue_invariants() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::sqlite());
    run(&db, &rt, 40);
}

#[test]
fn postgres_queue_invariants() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(common::postgres()) else {
        return;
    };
    run(&db, &rt, 24);
    rt.block_on(db.store.close());
}
