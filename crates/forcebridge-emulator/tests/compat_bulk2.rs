//! Compatibility of Bulk API 2.0 with a real, unmodified client: simple-salesforce's `bulk2`
//! (pinned in compat/requirements.txt) runs compat/bulk2_scenario.py against the emulator over
//! HTTPS — insert 10,000 rows, upsert 50,000 by external id, read back created vs updated, query.
//!
//! Like the other compat tests it passes with a loud `SKIPPED` when `FORCEBRIDGE_COMPAT_PYTHON`
//! is unset, and fails instead when `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::path::PathBuf;
use std::time::Duration;

use forcebridge_emulator::schema::{FieldDef, FieldType};
use forcebridge_emulator::{Emulator, EmulatorConfig};

fn python_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os("FORCEBRIDGE_COMPAT_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            let msg = format!(
                "SKIPPED {test}: FORCEBRIDGE_COMPAT_PYTHON is not set. Run scripts/test, which \
                 installs compat/requirements.txt into compat/.venv and sets it"
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "{msg} (CI is set, so this is a failure)"
            );
            eprintln!("\n{}\n!!! {msg}\n{}\n", "!".repeat(100), "!".repeat(100));
            println!("{msg}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_bulk2_upsert_of_50000_rows() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Some(python) = python_or_skip("simple_salesforce_bulk2_upsert_of_50000_rows") else {
        return;
    };
    let emulator = Emulator::start(EmulatorConfig {
        tls: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    {
        // The external id the scenario upserts by (custom fields come from the Metadata API;
        // added in process here). Not `unique`, so the 50,000 creates need no uniqueness scan.
        let mut org = emulator.state().org.write().unwrap();
        let account = org.schema.object_mut("Account").unwrap();
        let key = FieldDef::new("Bulk_Key__c", "Bulk Key", FieldType::String)
            .len(40)
            .external_id();
        account.fields.insert(key.name.clone(), key);
    }
    let info = emulator.connection_info();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../compat/bulk2_scenario.py");
    let mut cmd = tokio::process::Command::new(&python);
    cmd.arg(&script)
        .arg(info.to_string())
        .env("PYTHONUNBUFFERED", "1")
        .kill_on_drop(true);
    let out = match tokio::time::timeout(Duration::from_secs(900), cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run {}: {e}", python.display()),
        Err(_) => panic!(
            "{} did not finish (a hung client, not a speed check)",
            script.display()
        ),
    };
    let transcript = format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{transcript}");
    assert!(out.status.success(), "bulk2 scenario failed\n{transcript}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PASS: "),
        "the scenario did not report PASS\n{transcript}"
    );
    emulator.stop().await;
}
