//! Compatibility with a real, unmodified Node.js client: `jsforce` 3 (pinned in
//! compat/node/package.json, run on the Node.js 22 compat/node/setup.sh installs) runs
//! compat/node/jsforce_scenario.mjs against an emulator with two orgs over HTTPS — OAuth login,
//! a trailing-slash instance URL, SOSL and parameterized search, sObject Tree, Composite Batch and
//! Graph, `columns=true`, list views, Tooling describe, Bulk API 2.0, Metadata retrieve, Chatter
//! batch, and a second org's isolation.

mod compat_common;

use std::time::Duration;

use forcebridge_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsforce_scenario_passes_over_https() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Some(node) = compat_common::node_or_skip("jsforce_scenario_passes_over_https") else {
        return;
    };
    let emulator = Emulator::start(EmulatorConfig {
        tls: true,
        orgs: 2,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap_or_else(|e| panic!("emulator starts: {e}"));
    let info = emulator.connection_info();
    let ca = info["ca_file"]
        .as_str()
        .unwrap_or_else(|| panic!("TLS emulator reports no ca_file: {info}"))
        .to_string();
    let out = compat_common::run_program(
        &node,
        &compat_common::script("node/jsforce_scenario.mjs"),
        &[info.to_string()],
        // Node.js trusts the emulator's CA the way a user would point it at one.
        &[("NODE_EXTRA_CA_CERTS", ca.as_str())],
        Duration::from_secs(300),
    )
    .await;
    let transcript = compat_common::transcript(&out);
    println!("{transcript}");
    assert!(out.status.success(), "jsforce scenario failed\n{transcript}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PASS: "),
        "the scenario did not report PASS\n{transcript}"
    );
    emulator.stop().await;
}
