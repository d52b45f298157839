//! `forcebridge serve` as a command: refuses to start without a master key (saying how to make
//! one) or with a bad config file; prints one JSON line when ready, with the vendor admin key on
//! the very first start only; answers `/healthz` and `/readyz`; the admin key works; SIGTERM
//! ends it cleanly (exit 0).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

const COMMAND_ENV: &[&str] = &[
    "FORCEBRIDGE_CONFIG",
    "FORCEBRIDGE_ADDR",
    "FORCEBRIDGE_DATA_DIR",
    "FORCEBRIDGE_DATABASE_URL",
    "FORCEBRIDGE_RECIPES",
    "FORCEBRIDGE_PUBLIC_URL",
    "FORCEBRIDGE_MASTER_KEY",
    "FORCEBRIDGE_MASTER_KEY_FILE",
    "FORCEBRIDGE_MASTER_KEY_PREVIOUS",
    "FORCEBRIDGE_MASTER_KEY_PREVIOUS_FILE",
    "FORCEBRIDGE_OAUTH_CLIENT_SECRET",
];

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forcebridge"));
    for v in COMMAND_ENV {
        c.env_remove(v);
    }
    c.args(args);
    c
}

fn new_key(dir: &std::path::Path) -> String {
    let path = dir.join("master.key");
    let out = command(&["vault", "new-key", "--out", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    path.to_str().unwrap().to_owned()
}

/// Start serve and read its ready line.
fn start(dir: &std::path::Path, key: &str) -> (Child, serde_json::Value) {
    let mut child = command(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ])
    .env("FORCEBRIDGE_MASTER_KEY_FILE", key)
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        child,
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")),
    )
}

fn stop(mut child: Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "a clean shutdown exits 0: {status}");
}

#[test]
fn refuses_without_a_master_key_or_with_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(&["serve", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(out.stdout, b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("forcebridge vault new-key"), "{err}");
    let key = new_key(dir.path());
    let cfg = dir.path().join("serve.toml");
    std::fs::write(&cfg, "adress = \"x\"\n").unwrap();
    let out = command(&["serve", "--config", cfg.to_str().unwrap()])
        .env("FORCEBRIDGE_MASTER_KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serve.toml") && err.contains("adress"), "{err}");
}

#[tokio::test]
async fn prints_the_ready_line_with_the_admin_key_once_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let key = new_key(dir.path());
    let (child, ready) = start(dir.path(), &key);
    let url = ready["url"].as_str().unwrap().to_owned();
    let admin = ready["admin_key"]
        .as_str()
        .expect("the first start shows the admin key")
        .to_owned();
    assert!(admin.starts_with("fba_"));
    let http = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            http.get(format!("{url}{path}")).send().await.unwrap().status(),
            200
        );
    }
    let created = http
        .post(format!("{url}/v1/tenants"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Acme" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    stop(child);

    let (child, ready) = start(dir.path(), &key);
    assert!(
        ready.get("admin_key").is_none(),
        "shown on the first start only: {ready}"
    );
    let url = ready["url"].as_str().unwrap();
    let again = http
        .post(format!("{url}/v1/tenants"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Beta" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201, "the admin key survives restarts");
    stop(child);
}
