//! Two `forcebridge serve` nodes on one PostgreSQL database, one of them killed (SIGKILL) while it
//! applies a connection's deliveries: each of 20,000 events is still applied exactly once.
//!
//! Everything runs as a user runs it: the emulator and both nodes are child processes of the real
//! binary; setup (tenant, key, password connection, install of the test-only `nodes` recipe, plan,
//! apply) and the events go over HTTP, spread over both nodes; the node that holds the drain's
//! lease is killed once some but not all Accounts exist; the survivor takes the lease over when
//! it expires (`[workers] lease_seconds`) and finishes. The proof is read back through the
//! emulator's REST API (one Account per event id, none twice, none missing — the recipe's create
//! matches nothing first, so an event applied twice would show as two Accounts of one Name) and
//! through the survivor's API (every delivery `done`, one per event; a sample of events' journals
//! name their Account and hold no open intent).
//!
//! Needs FORCEBRIDGE_TEST_POSTGRES_URL (CI sets it); without it the test says so and passes.
//! Each run gets a database of its own, dropped at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const PG_ENV: &str = "FORCEBRIDGE_TEST_POSTGRES_URL";
const EVENTS: usize = 20_000;
const BATCH: usize = 500;
const PREFIX: &str = "ping-";
/// A bound on each wait so a broken build fails instead of hanging CI; nothing asserts speed.
const PATIENCE: Duration = Duration::from_secs(600);

/// A child process killed (if still running) when dropped; its stderr goes to a log file that a
/// failure message shows the end of.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts `forcebridge <args>` with only `env` set and reads its one JSON ready line.
    fn start(args: &[&str], env: &[(&str, &str)], log: PathBuf) -> (Proc, Value) {
        let err = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_forcebridge"))
            .env_clear()
            .envs(env.iter().copied())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let proc = Proc { child, log };
        let ready = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("no ready line ({e}): {line:?}\n{}", proc.tail()));
        (proc, ready)
    }

    /// The last lines of its log.
    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(20);
        format!("--- {} ---\n{}", self.log.display(), lines[from..].join("\n"))
    }

    /// SIGKILL: no shutdown, no hand-back of leases.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A PostgreSQL database of its own, dropped (with its connections) at the end.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(admin_url: &str) -> Database {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("fbnodes_{}_{nanos}", std::process::id());
        let pool = sqlx::PgPool::connect(admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let mut url = reqwest::Url::parse(admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Database {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: the clean-up gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// One credential on one node.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
        let resp = req.bearer_auth(&self.token).send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            location,
        )
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.send(self.http.get(format!("{}{path}", self.base))).await;
        (s, v)
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value, Option<String>) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }
    fn on(&self, base: &str) -> Api {
        Api {
            base: base.to_owned(),
            ..self.clone()
        }
    }
    fn with(&self, token: &str) -> Api {
        Api {
            token: token.to_owned(),
            ..self.clone()
        }
    }
}

/// The emulator's org through its REST API, signed in as its default user.
struct Org {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Org {
    async fn sign_in(http: &reqwest::Client, info: &Value) -> Org {
        let s = |k: &str| info[k].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "password".to_owned()),
            ("client_id", s("client_id")),
            ("client_secret", s("client_secret")),
            ("username", s("username")),
            ("password", format!("{}{}", s("password"), s("security_token"))),
        ];
        let resp = http.post(s("token_url")).form(&form).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        Org {
            http: http.clone(),
            base: body["instance_url"].as_str().unwrap().to_owned(),
            token: body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Every row of a SOQL query (following `nextRecordsUrl`).
    async fn query(&self, soql: &str) -> (u64, Vec<Value>) {
        let mut url = reqwest::Url::parse(&format!("{}/services/data/v66.0/query", self.base)).unwrap();
        url.query_pairs_mut().append_pair("q", soql);
        let mut rows = Vec::new();
        loop {
            let resp = self
                .http
                .get(url.clone())
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{soql}");
            let page: Value = resp.json().await.unwrap();
            rows.extend(page["records"].as_array().cloned().unwrap_or_default());
            match page["nextRecordsUrl"].as_str() {
                Some(next) => url = reqwest::Url::parse(&format!("{}{next}", self.base)).unwrap(),
                None => return (page["totalSize"].as_u64().unwrap(), rows),
            }
        }
    }

    async fn count(&self) -> u64 {
        self.query(&format!(
            "SELECT COUNT() FROM Account WHERE Name LIKE '{PREFIX}%'"
        ))
        .await
        .0
    }
}

/// Waits (polling, never asserting time) until `check` gives a value.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recipes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_one_killed_apply_each_of_20000_events_once() {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        eprintln!("{PG_ENV} is not set: skipping the two-node test");
        return;
    };
    let began = std::time::Instant::now();
    let say = |what: &str| eprintln!("[{:>6.1}s] {what}", began.elapsed().as_secs_f64());
    let db = Database::create(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    let out = Command::new(env!("CARGO_BIN_EXE_forcebridge"))
        .env_clear()
        .args(["vault", "new-key", "--out", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (_emulator, info) = Proc::start(
        &["emulator", "--addr", "127.0.0.1:0"],
        &[],
        dir.path().join("emulator.log"),
    );
    let emulator_url = info["instance_url"].as_str().unwrap();
    // Short leases so the survivor takes the dead node's drain over within seconds.
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = {db:?}\nrecipes = {recipes:?}\n\n\
             [salesforce]\nlogin_url = {emulator_url:?}\nallow_loopback_http = true\n\n\
             [workers]\nlease_seconds = 5\n\n\
             [limits]\nrate_per_second = 10000.0\nrate_burst = 10000\n",
            db = db.url,
            recipes = fixtures().display().to_string(),
        ),
    )
    .unwrap();
    let node = |name: &str| {
        Proc::start(
            &[
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--addr",
                "127.0.0.1:0",
            ],
            &[("FORCEBRIDGE_MASTER_KEY_FILE", key.to_str().unwrap())],
            dir.path().join(format!("{name}.log")),
        )
    };
    // One after the other: the first start migrates the new database and makes the admin key.
    let (a, ready_a) = node("node-a");
    let (b, ready_b) = node("node-b");
    say("both nodes ready");
    let urls = [
        ready_a["url"].as_str().unwrap().to_owned(),
        ready_b["url"].as_str().unwrap().to_owned(),
    ];
    let http = reqwest::Client::new();
    let admin = Api {
        http: http.clone(),
        base: urls[0].clone(),
        token: ready_a["admin_key"]
            .as_str()
            .expect("first start shows the admin key")
            .to_owned(),
    };

    // Setup over HTTP, half on each node.
    let (s, tenant, _) = admin.post("/v1/tenants", json!({ "name": "Nodes" })).await;
    assert_eq!(s, 201, "{tenant}");
    let tenant_id = tenant["id"].as_str().unwrap();
    let (s, k, _) = admin
        .on(&urls[1])
        .post(
            &format!("/v1/tenants/{tenant_id}/keys"),
            json!({ "label": "all" }),
        )
        .await;
    assert_eq!(s, 201, "{k}");
    let api = [
        admin.with(k["secret"].as_str().unwrap()),
        admin.with(k["secret"].as_str().unwrap()).on(&urls[1]),
    ];
    let (s, conn, _) = api[0]
        .post(
            "/v1/connections",
            json!({
                "label": "Emulator",
                "owner_email": "ops@nodes.test",
                "environment": { "kind": "production" },
                "auth": {
                    "method": "password",
                    "client_id": info["client_id"], "client_secret": info["client_secret"],
                    "username": info["username"], "password": info["password"],
                    "security_token": info["security_token"],
                }
            }),
        )
        .await;
    assert_eq!(s, 201, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    let (s, install, _) = api[1]
        .post(
            "/v1/installs",
            json!({ "connection_id": conn, "recipe": "nodes" }),
        )
        .await;
    assert_eq!(s, 201, "{install}");
    let install = install["id"].as_str().unwrap().to_owned();
    let (s, plan) = api[0].get(&format!("/v1/installs/{install}/plan")).await;
    assert_eq!(s, 200, "{plan}");
    let (s, applied, location) = api[0]
        .post(
            &format!("/v1/installs/{install}/apply"),
            json!({ "plan_hash": plan["hash"] }),
        )
        .await;
    match s {
        200 => {}
        // Apply as an asynchronous run: poll it until it succeeded.
        202 => {
            let run = location.expect("a 202 names its run in Location");
            let path = run.strip_prefix(&urls[0]).unwrap_or(&run).to_owned();
            wait_for("the apply run", || {
                let (api, path) = (api[0].clone(), path.clone());
                async move {
                    let (s, r) = api.get(&path).await;
                    assert_eq!(s, 200, "{r}");
                    match r["state"].as_str() {
                        Some("succeeded") => Some(()),
                        Some("failed" | "cancelled") => panic!("apply failed: {r}"),
                        _ => None,
                    }
                }
            })
            .await;
        }
        _ => panic!("apply: {s} {applied}"),
    }

    say("installed");
    // 20,000 events in batches, alternately to each node, a few posts in flight at once.
    let mut posts = tokio::task::JoinSet::new();
    let mut event_ids: BTreeMap<String, String> = BTreeMap::new();
    for (n, chunk) in (0..EVENTS).collect::<Vec<_>>().chunks(BATCH).enumerate() {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| {
                let id = format!("{PREFIX}{i:05}");
                json!({ "idempotency_key": id, "type": "ping", "data": { "id": id } })
            })
            .collect();
        let api = api[n % 2].clone();
        posts.spawn(async move {
            let (s, body, _) = api.post("/v1/events", json!({ "events": events })).await;
            assert_eq!(s, 202, "{body}");
            body
        });
        if posts.len() >= 4 {
            collect(posts.join_next().await.unwrap().unwrap(), &mut event_ids);
        }
    }
    while let Some(r) = posts.join_next().await {
        collect(r.unwrap(), &mut event_ids);
    }
    assert_eq!(event_ids.len(), EVENTS);
    say("events accepted");

    // Kill whichever node holds the drain once some, but not all, Accounts exist.
    let org = Org::sign_in(&http, &info).await;
    let jobs = sqlx::PgPool::connect(&db.url).await.unwrap();
    let pids = [a.child.id(), b.child.id()];
    let (victim, made) = wait_for("a node draining with some Accounts made", || {
        let (org, jobs) = (&org, &jobs);
        async move {
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT lease_owner FROM jobs WHERE kind = 'engine.drain' AND state = 'running' LIMIT 1",
            )
            .fetch_optional(jobs)
            .await
            .unwrap()
            .flatten();
            let owner = owner?;
            let made = org.count().await;
            assert!(
                made < EVENTS as u64,
                "every event was applied before a node could be killed: post more events"
            );
            let victim = pids.iter().position(|p| owner == format!("forcebridge-{p}"))?;
            (made > 0).then_some((victim, made))
        }
    })
    .await;
    let (dead, survivor) = if victim == 0 { (a, b) } else { (b, a) };
    dead.kill();
    say(&format!(
        "killed node {victim} with {made} of {EVENTS} Accounts made"
    ));
    let api = api[1 - victim].clone();

    // The survivor takes the lease over and finishes: no delivery left pending.
    wait_for("every delivery applied", || {
        let api = api.clone();
        async move {
            let (s, pending) = api.get("/v1/deliveries?state=pending&limit=1").await;
            assert_eq!(s, 200, "{pending}");
            pending.as_array().unwrap().is_empty().then_some(())
        }
    })
    .await;
    jobs.close().await;
    say("no delivery pending");

    // Through the server's API: one delivery per event, every one done.
    let mut per_event: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut before: Option<i64> = None;
    loop {
        let page = match before {
            None => "/v1/deliveries?limit=1000".to_owned(),
            Some(id) => format!("/v1/deliveries?limit=1000&before_id={id}"),
        };
        let (s, ds) = api.get(&page).await;
        assert_eq!(s, 200, "{ds}");
        let ds = ds.as_array().unwrap();
        let Some(last) = ds.last() else { break };
        before = last["id"].as_i64();
        for d in ds {
            per_event
                .entry(d["event_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(d["state"].as_str().unwrap().to_owned());
        }
    }
    let not_done: Vec<_> = per_event
        .iter()
        .filter(|(_, states)| states.as_slice() != ["done"])
        .take(5)
        .collect();
    assert!(
        not_done.is_empty(),
        "deliveries not done exactly once: {not_done:?}\n{}",
        survivor.tail()
    );
    let expected: BTreeSet<&String> = event_ids.values().collect();
    assert_eq!(per_event.keys().collect::<BTreeSet<_>>(), expected);

    // Through Salesforce's API: exactly one Account per event id, none missing, none twice.
    let (total, rows) = org
        .query(&format!(
            "SELECT Id, Name FROM Account WHERE Name LIKE '{PREFIX}%'"
        ))
        .await;
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut id_of: BTreeMap<String, String> = BTreeMap::new();
    for r in &rows {
        let name = r["Name"].as_str().unwrap().to_owned();
        id_of.insert(name.clone(), r["Id"].as_str().unwrap().to_owned());
        *names.entry(name).or_default() += 1;
    }
    let twice: Vec<_> = names.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(
        twice.is_empty(),
        "events applied twice: {twice:?}\n{}",
        survivor.tail()
    );
    let missing: Vec<_> = event_ids
        .keys()
        .filter(|k| !names.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "events never applied: {missing:?}\n{}",
        survivor.tail()
    );
    assert_eq!((total, rows.len()), (EVENTS as u64, EVENTS));

    // The journal of every 200th event (those the dead node had in flight among them): its create
    // is `done` with the record's id, and no intent is left open for a later recovery to adopt.
    for (key, event) in event_ids.iter().step_by(200) {
        let (s, journal) = api.get(&format!("/v1/events/{event}/journal")).await;
        assert_eq!(s, 200, "{journal}");
        let rows = journal.as_array().unwrap();
        let done: Vec<&Value> = rows.iter().filter(|r| r["state"] == "done").collect();
        assert!(
            done.len() == 1 && done[0]["record_id"].as_str() == id_of.get(key).map(String::as_str),
            "{key}: {journal}"
        );
        assert!(rows.iter().all(|r| r["state"] != "intent"), "{key}: {journal}");
    }
    say("checked");
    drop(survivor);
}

/// Records each accepted event's id under its idempotency key.
fn collect(answer: Value, ids: &mut BTreeMap<String, String>) {
    for e in answer["events"].as_array().unwrap() {
        assert_eq!(e["is_new"], true, "{e}");
        assert_eq!(e["deliveries"], 1, "{e}");
        ids.insert(
            e["idempotency_key"].as_str().unwrap().to_owned(),
            e["event_id"].as_str().unwrap().to_owned(),
        );
    }
}
