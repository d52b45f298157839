//! Compatibility with real recorded Salesforce responses: compat/replay_cassettes.py replays the
//! VCR cassettes CumulusCI 4.10.1 recorded against real orgs and compares each emulator answer
//! structurally with the recorded one. The test fails when fewer answers match than the floor
//! below, so a change that breaks a wire format the emulator already matched is caught.

mod compat_common;

use std::time::Duration;

use forcebridge_emulator::{Emulator, EmulatorConfig};

/// Matched answers at the last measurement (docs/emulator.md, "Compatibility", has the numbers
/// and every remaining mismatch). Raise it when the emulator matches more; never lower it to make
/// a regression pass.
const MATCHED_FLOOR: u64 = 294;

/// The numbers in the script's last line: `RESULT compared=N matched=M ...`.
fn result_line(stdout: &str) -> Option<(u64, u64)> {
    let line = stdout.lines().rev().find(|l| l.starts_with("RESULT "))?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    Some((field("compared")?, field("matched")?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_salesforce_answers_match_structurally() {
    let Some(python) = compat_common::python_or_skip("recorded_salesforce_answers_match_structurally") else {
        return;
    };
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let out = compat_common::run_python(
        &python,
        "replay_cassettes.py",
        &[emulator.connection_info().to_string()],
        Duration::from_secs(600),
    )
    .await;
    let transcript = compat_common::transcript(&out);
    println!("{transcript}");
    assert!(out.status.success(), "the replay did not run\n{transcript}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (compared, matched) = result_line(&stdout).expect("no RESULT line in the replay's output");
    assert!(compared > 0, "nothing was compared\n{transcript}");
    assert!(
        matched >= MATCHED_FLOOR,
        "{matched} of {compared} recorded answers matched, fewer than the floor {MATCHED_FLOOR}: \
         a wire format regressed (mismatches are listed above)"
    );
    emulator.stop().await;
}

#[test]
fn result_line_is_parsed() {
    let out = "x\nRESULT compared=12 matched=7 out_of_surface=3 hand_written=1\n";
    assert_eq!(result_line(out), Some((12, 7)));
    assert_eq!(result_line("no result"), None);
}
