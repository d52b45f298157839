//! The state file behind `--state`: what an emulator holds survives a stop and a start, and a
//! file that is not a state file is refused with a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)] // tests may panic on failure

#[path = "control_common.rs"]
mod common;

use common::*;
use forcebridge_emulator::EmulatorConfig;
use reqwest::Method;
use serde_json::{Value, json};

fn config(path: &std::path::Path) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn org_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.json");
    let h = start_with(config(&path)).await;
    ensure_account_object(&h);
    let token = access_token(&h).await;
    let (_, seeded) = control(&h, Method::POST, "records/Account", json!([{"Name": "Seeded"}])).await;
    let seeded_id = seeded["ids"][0].as_str().unwrap().to_string();
    // Created through REST.
    let resp = client()
        .post(format!("{}/services/data/v66.0/sobjects/Account", h.base_url()))
        .bearer_auth(&token)
        .json(&json!({"Name": "Via REST"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let rest_id = body["id"].as_str().unwrap().to_string();
    control(&h, Method::PUT, "limits", json!({"daily_api_requests_used": 41})).await;
    let used_before = h.state().org_read().usage.daily_api_requests_used;
    h.stop().await;
    assert!(path.exists());

    let h = start_with(config(&path)).await;
    {
        let org = h.state().org_read();
        let accounts = &org.data["Account"];
        let names: Vec<&str> = accounts.values().filter_map(|r| r["Name"].as_str()).collect();
        assert!(names.contains(&"Seeded"), "{names:?}");
        assert!(accounts.keys().any(|k| k.as_str() == seeded_id));
        assert!(accounts.keys().any(|k| k.as_str() == rest_id));
        assert_eq!(org.usage.daily_api_requests_used, used_before);
    }
    // Sessions are org state: the old token still works after the restart.
    assert_ne!(api_get(&h, "limits", &token).await.status(), 401);
    h.stop().await;
}

#[tokio::test]
async fn a_broken_state_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.json");
    std::fs::write(&path, b"{ not json").unwrap();
    let err = forcebridge_emulator::Emulator::start(config(&path))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("state file") && text.contains("org.json"), "{text}");
    std::fs::write(&path, br#"{"format": 99, "org": {}}"#).unwrap();
    let err = forcebridge_emulator::Emulator::start(config(&path))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("format"), "{err}");
}
