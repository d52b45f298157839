//! Several nodes: four worker processes on one PostgreSQL database drain 100,000 jobs spread
//! over concurrency groups with a cap. Nothing is lost, nothing runs twice, and at no moment do
//! more jobs of one group run than its cap (checked by a sweep over the recorded run intervals).
#![allow(clippy::unwrap_used)] // tests may unwrap (see common.md); a failure is the assertion

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use forcebridge_store::NewJob;
use serde_json::json;

/// 100,000 per the issue; `FORCEBRIDGE_TEST_NODES_JOBS` lowers it for a quick local run.
fn job_count() -> usize {
    std::env::var("FORCEBRIDGE_TEST_NODES_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}
const GROUPS: usize = 20;
const CAP: u32 = 3;
const NODES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_drain_with_group_caps() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let s = &db.store;
    common::exec(s, common::HARNESS_TABLE).await;
    for g in 0..GROUPS {
        s.set_group_limit(&format!("grp-{g}"), CAP).await.unwrap();
    }
    for chunk in (0..job_count()).collect::<Vec<_>>().chunks(5000) {
        let jobs: Vec<NewJob> = chunk
            .iter()
            .map(|&i| NewJob::new("nodes.test", json!({ "i": i })).group(format!("grp-{}", i % GROUPS)))
            .collect();
        s.enqueue_many(&jobs).await.unwrap();
    }

    let (url, schema) = common::harness_target(&db.place);
    let mut children = Vec::new();
    for n in 0..NODES {
        children.push(
            tokio::process::Command::new(env!("CARGO_BIN_EXE_forcebridge-store-harness"))
                .args(["node", &url, &schema, &format!("node-{n}")])
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap(),
        );
    }
    let mut per_node = Vec::new();
    for c in children {
        let out = tokio::time::timeout(Duration::from_secs(1800), c.wait_with_output())
            .await
            .expect("nodes finish")
            .unwrap();
        assert!(out.status.success(), "a node failed: {:?}", out.status);
        per_node.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    eprintln!("nodes: {per_node:?}");

    // Nothing lost, nothing run twice.
    let jobs = common::rows_i64(
        s,
        "SELECT count(*), sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END) FROM jobs",
        2,
    )
    .await;
    assert_eq!(jobs[0], vec![job_count() as i64, job_count() as i64]);
    let runs = common::rows_i64(s, "SELECT count(*), count(DISTINCT job_id) FROM harness_runs", 2).await;
    assert_eq!(
        runs[0],
        vec![job_count() as i64, job_count() as i64],
        "every job ran exactly once"
    );
    let busy_nodes = common::rows_i64(s, "SELECT count(DISTINCT node) FROM harness_runs", 1).await[0][0];
    assert!(busy_nodes >= 2, "the work was shared between nodes");

    // Caps held: sweep each group's run intervals (an end sorts before a start at the same time,
    // since a job's successor can only be leased after it completed).
    let rows = common::rows_i64(
        s,
        "SELECT CAST(substr(grp, 5) AS BIGINT), started_us, ended_us FROM harness_runs",
        3,
    )
    .await;
    let mut by_group: HashMap<i64, Vec<(i64, i32)>> = HashMap::new();
    for r in rows {
        let e = by_group.entry(r[0]).or_default();
        e.push((r[1], 1));
        e.push((r[2], -1));
    }
    for (g, mut points) in by_group {
        points.sort();
        let (mut now, mut max) = (0, 0);
        for (_, d) in points {
            now += d;
            max = max.max(now);
        }
        assert!(
            max <= CAP as i32,
            "group {g} had {max} jobs running at once, cap {CAP}"
        );
    }
    s.close().await;
}
