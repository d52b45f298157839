//! Compatibility of the real-time APIs with real, unmodified third-party clients over HTTPS:
//! jsforce 3's Streaming API client (Faye long polling; compat/node/jsforce_streaming.cjs)
//! on a PushTopic and on /data/ChangeEvents, and pysfpubsub (grpcio + avro;
//! compat/streaming/pubsub_scenario.py) decoding change events over the Pub/Sub API,
//! `changedFields` included.

mod compat_common;

use std::time::Duration;

use forcebridge_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{Value, json};

fn http(h: &EmulatorHandle) -> reqwest::Client {
    let pem = std::fs::read(h.ca_file().expect("ca file")).expect("ca readable");
    reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).expect("pem"))
        .build()
        .expect("client")
}

async fn start() -> EmulatorHandle {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Emulator::start(EmulatorConfig {
        tls: true,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

async fn token(h: &EmulatorHandle) -> String {
    let c = h.config();
    let body: Value = http(h)
        .post(h.token_url())
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", format!("{}{}", c.password, c.security_token).as_str()),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    body["access_token"].as_str().expect("access_token").to_string()
}

async fn call(h: &EmulatorHandle, token: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let url = if path.starts_with("/__emulator") {
        format!("{}{path}", h.base_url())
    } else {
        format!("{}/services/data/v66.0/{path}", h.base_url())
    };
    let resp = http(h)
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsforce_streaming_subscribes_to_a_push_topic_and_to_change_events() {
    let Some(node) =
        compat_common::node_or_skip("jsforce_streaming_subscribes_to_a_push_topic_and_to_change_events")
    else {
        return;
    };
    let h = start().await;
    let t = token(&h).await;
    call(
        &h,
        &t,
        reqwest::Method::POST,
        "/__emulator/streams/cdc",
        json!({"entities": ["Account"]}),
    )
    .await;
    call(
        &h,
        &t,
        reqwest::Method::POST,
        "sobjects/PushTopic",
        json!({"Name": "BankAccounts", "ApiVersion": 66.0,
               "Query": "SELECT Id, Name, Industry FROM Account WHERE Industry = 'Banking'"}),
    )
    .await;
    let ca = h.ca_file().expect("ca").display().to_string();
    let out = compat_common::run_program(
        &node,
        &compat_common::script("node/jsforce_streaming.cjs"),
        &[h.base_url().to_string(), t],
        &[("NODE_EXTRA_CA_CERTS", ca.as_str())],
        Duration::from_secs(120),
    )
    .await;
    let transcript = compat_common::transcript(&out);
    assert!(out.status.success(), "{transcript}");
    assert!(
        String::from_utf8_lossy(&out.stdout).lines().any(|l| l == "OK"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysfpubsub_decodes_change_events_and_their_changed_fields() {
    let Some(python) =
        compat_common::python_or_skip("pysfpubsub_decodes_change_events_and_their_changed_fields")
    else {
        return;
    };
    let h = start().await;
    let t = token(&h).await;
    call(
        &h,
        &t,
        reqwest::Method::POST,
        "/__emulator/streams/cdc",
        json!({"entities": ["Account"]}),
    )
    .await;
    let made = call(
        &h,
        &t,
        reqwest::Method::POST,
        "sobjects/Account",
        json!({"Name": "Py", "Industry": "Banking"}),
    )
    .await;
    let id = made["id"].as_str().expect("id").to_string();
    let resp = http(&h)
        .patch(format!(
            "{}/services/data/v66.0/sobjects/Account/{id}",
            h.base_url()
        ))
        .bearer_auth(&t)
        .json(&json!({"Name": "Py 2", "Industry": null}))
        .send()
        .await
        .expect("update");
    assert_eq!(resp.status(), 204);

    let c = h.config();
    let endpoint = h.pubsub_endpoint();
    let (host, port) = endpoint.rsplit_once(':').expect("host:port");
    let out = compat_common::run_program(
        &python,
        &compat_common::script("streaming/pubsub_scenario.py"),
        &[
            h.base_url().to_string(),
            c.username.clone(),
            format!("{}{}", c.password, c.security_token),
            host.to_string(),
            port.to_string(),
            h.ca_file().expect("ca").display().to_string(),
            "/data/AccountChangeEvent".to_string(),
            "2".to_string(),
        ],
        &[("PYTHONUNBUFFERED", "1")],
        Duration::from_secs(120),
    )
    .await;
    let transcript = compat_common::transcript(&out);
    assert!(out.status.success(), "{transcript}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(events.len(), 2, "{transcript}");
    assert_eq!(events[0]["changeType"], "CREATE");
    assert_eq!(events[0]["recordIds"], json!([id]));
    assert_eq!(events[0]["Name"], "Py");
    assert!(
        events[0]["changedFields"]
            .as_array()
            .unwrap()
            .contains(&json!("Industry")),
        "{transcript}"
    );
    assert_eq!(events[1]["changeType"], "UPDATE");
    let mut changed: Vec<String> = serde_json::from_value(events[1]["changedFields"].clone()).unwrap();
    changed.sort();
    assert_eq!(changed, ["Industry", "LastModifiedDate", "Name"], "{transcript}");
    assert_eq!(events[1]["nulledFields"], json!(["Industry"]));
    assert_eq!(events[1]["Name"], "Py 2");
}
