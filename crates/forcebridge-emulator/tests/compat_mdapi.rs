//! Compatibility of the Metadata API with a real, unmodified client: `simple-salesforce`'s
//! `mdapi` (zeep over the WSDL it ships, pinned in compat/requirements.txt) runs
//! compat/mdapi_scenario.py against the emulator over HTTPS — a custom object with a lookup
//! field, a permission set, records through the lookup, a zip deploy.

mod compat_common;

use std::time::Duration;

use forcebridge_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_mdapi_scenario_passes() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Some(python) = compat_common::python_or_skip("simple_salesforce_mdapi_scenario_passes") else {
        return;
    };
    let emulator = Emulator::start(EmulatorConfig {
        tls: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let info = emulator.connection_info();
    let out = compat_common::run_python(
        &python,
        "mdapi_scenario.py",
        &[info.to_string()],
        Duration::from_secs(300),
    )
    .await;
    let transcript = compat_common::transcript(&out);
    println!("{transcript}");
    assert!(out.status.success(), "mdapi scenario failed\n{transcript}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PASS: "),
        "the scenario did not report PASS\n{transcript}"
    );
    emulator.stop().await;
}
