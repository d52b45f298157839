//! Compatibility with a real, unmodified third-party client: `simple-salesforce` (pinned in
//! compat/requirements.txt) runs compat/simple_salesforce_scenario.py against the emulator over
//! HTTPS — SOAP and OAuth logins, CRUD, queryMore paging, upsert, describe, limits, SOSL search,
//! `composite/tree`, Bulk API 2.0, re-login.

mod compat_common;

use std::time::Duration;

use forcebridge_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_scenario_passes_over_https() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Some(python) = compat_common::python_or_skip("simple_salesforce_scenario_passes_over_https") else {
        return;
    };
    let emulator = Emulator::start(EmulatorConfig {
        tls: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let info = emulator.connection_info();
    assert!(
        info["ca_file"].is_string(),
        "TLS emulator reports no ca_file: {info}"
    );

    let out = compat_common::run_python(
        &python,
        "simple_salesforce_scenario.py",
        &[info.to_string()],
        Duration::from_secs(300),
    )
    .await;
    let transcript = compat_common::transcript(&out);
    println!("{transcript}");
    assert!(
        out.status.success(),
        "simple-salesforce scenario failed\n{transcript}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PASS: "),
        "the scenario did not report PASS\n{transcript}"
    );
    emulator.stop().await;
}
