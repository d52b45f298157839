//! HTTPS with `tls: true`: the CA written to `<tls_dir>/ca.pem` is all a client needs to trust,
//! HTTP/1.1 and h2 are both served, and a client that does not trust the CA is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)] // tests may panic on failure

#[path = "control_common.rs"]
mod common;

use forcebridge_emulator::EmulatorConfig;
use serde_json::Value;

fn https_client(ca_pem: &[u8], http1_only: bool) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(ca_pem).unwrap();
    let mut b = reqwest::Client::builder().tls_certs_only([cert]);
    if http1_only {
        b = b.http1_only();
    }
    b.build().unwrap()
}

async fn token_over(client: &reqwest::Client, h: &forcebridge_emulator::EmulatorHandle) -> reqwest::Response {
    let c = h.config();
    client
        .post(h.token_url())
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("username", c.username.as_str()),
            ("password", c.password.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn https_is_trusted_through_the_written_ca() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let h = common::start_with(EmulatorConfig {
        tls: true,
        tls_dir: Some(dir.path().join("tls")),
        ..EmulatorConfig::default()
    })
    .await;
    assert!(h.base_url().starts_with("https://localhost:"));
    let ca_file = dir.path().join("tls").join("ca.pem");
    assert_eq!(h.ca_file(), Some(ca_file.as_path()));
    let pem = std::fs::read(&ca_file).unwrap();
    assert!(String::from_utf8_lossy(&pem).contains("BEGIN CERTIFICATE"));
    assert_eq!(h.connection_info()["ca_file"], ca_file.display().to_string());

    let resp = token_over(&https_client(&pem, false), &h).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "h2 is chosen by ALPN");
    let body: Value = resp.json().await.unwrap();
    assert!(body["instance_url"].as_str().unwrap().starts_with("https://"));

    let resp = token_over(&https_client(&pem, true), &h).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);

    // 127.0.0.1 is in the certificate too.
    let url = h.token_url().replace("localhost", "127.0.0.1");
    let resp = https_client(&pem, false).post(url).send().await.unwrap();
    assert_eq!(resp.status(), 400, "reached the token endpoint (no grant type)");

    // A client that trusts only another CA is refused by the handshake.
    let other = tempfile::tempdir().unwrap();
    let other_ca = {
        let h2 = forcebridge_emulator::Emulator::start(EmulatorConfig {
            tls: true,
            tls_dir: Some(other.path().to_path_buf()),
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let pem = std::fs::read(h2.ca_file().unwrap()).unwrap();
        h2.stop().await;
        pem
    };
    let err = https_client(&other_ca, false)
        .get(format!("{}/services/data", h.base_url()))
        .send()
        .await;
    assert!(err.is_err());
    h.stop().await;
}

#[tokio::test]
async fn a_temporary_tls_dir_lives_as_long_as_the_emulator() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let h = common::start_with(EmulatorConfig {
        tls: true,
        ..EmulatorConfig::default()
    })
    .await;
    let ca_file = h.ca_file().unwrap().to_path_buf();
    let pem = std::fs::read(&ca_file).unwrap();
    assert_eq!(token_over(&https_client(&pem, false), &h).await.status(), 200);
    h.stop().await;
    assert!(
        !ca_file.exists(),
        "the temporary folder is removed with the emulator"
    );
}
