//! The recipe author's commands through the real binary: `recipe test` runs every recipe's test
//! cases in `recipes/` against fresh emulators (this is how CI tests the recipes), `recipe plan`
//! shows the provisioning plan, `recipe dry-run` shows the calls a batch makes, and a failing
//! case fails the command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn forcebridge(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_forcebridge"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_recipe_passes_its_test_cases() {
    let (ok, stdout, stderr) = forcebridge(&["recipe", "test", "recipes", "--json"]);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    assert!(
        ok,
        "recipe test failed:\n{}\n{stderr}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    let cases = report["cases"].as_array().unwrap();
    for name in ["instruqt", "spaceiq"] {
        assert!(
            cases.iter().filter(|c| c["recipe"] == name).count() >= 2,
            "{name} has test cases: {report}"
        );
    }
}

#[test]
fn a_failing_case_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("spaceiq");
    std::fs::create_dir_all(recipe.join("tests")).unwrap();
    std::fs::copy(
        repo().join("recipes/spaceiq/recipe.toml"),
        recipe.join("recipe.toml"),
    )
    .unwrap();
    std::fs::write(
        recipe.join("tests/wrong.toml"),
        r#"
[[events]]
type = "move.executed"
id = "m1"
data = { move_id = "mv-1", plan_id = "P", timing = "now", employee = { name = "Ann" } }

[[expect.records]]
object = "Case"
count = 2
"#,
    )
    .unwrap();
    let (ok, stdout, _) = forcebridge(&["recipe", "test", recipe.to_str().unwrap()]);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("FAIL spaceiq › wrong"), "{stdout}");
    assert!(stdout.contains("1 records, expected 2"), "{stdout}");
}

#[test]
fn plan_and_dry_run_show_what_would_happen() {
    let (ok, stdout, stderr) = forcebridge(&["recipe", "plan", "recipes/spaceiq"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("ExternalID__c"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.json");
    let list: Vec<Value> = (0..250)
        .map(|i| serde_json::json!({ "type": "move.executed", "id": format!("m{i}"), "data": { "move_id": format!("mv-{i}"), "plan_id": "P", "timing": "now", "employee": { "name": "Ann" } } }))
        .collect();
    std::fs::write(&events, serde_json::to_string(&list).unwrap()).unwrap();
    let (ok, stdout, stderr) = forcebridge(&[
        "recipe",
        "dry-run",
        "recipes/spaceiq",
        "--events",
        events.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["events"], 250);
    // 250 upserts: two Collections calls.
    assert_eq!(report["api_calls"], 2, "{report}");
    assert!(
        report["calls"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("/composite/sobjects/Case/ExternalID__c"),
        "{report}"
    );
}

#[test]
fn check_against_a_live_org_names_what_the_user_lacks() {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_forcebridge"))
        .args(["emulator", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let url = ready["login_url"]
        .as_str()
        .or(ready["instance_url"].as_str())
        .unwrap()
        .to_owned();
    let id = ready["client_id"].as_str().unwrap().to_owned();
    let secret = ready["client_secret"].as_str().unwrap().to_owned();
    let admin_password = format!(
        "{}{}",
        ready["password"].as_str().unwrap(),
        ready["security_token"].as_str().unwrap()
    );
    let check = |user: &str, password: &str| {
        forcebridge(&[
            "recipe",
            "check",
            "recipes/spaceiq",
            "--org",
            &url,
            "--org-client-id",
            &id,
            "--org-client-secret",
            &secret,
            "--org-username",
            user,
            "--org-password",
            password,
        ])
    };
    // The administrator has everything SpaceIQ needs beyond the Case fields it provisions.
    let (ok, stdout, stderr) = check(ready["username"].as_str().unwrap(), &admin_password);
    // The API-only integration user has no object access until a permission set grants it.
    let (bad_ok, bad_stdout, _) = check(
        "integration@forcebridge.emulator",
        "integration-passwordINTEGRATIONTOKEN",
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("has everything recipe spaceiq needs"), "{stdout}");
    assert!(!bad_ok, "{bad_stdout}");
    assert!(bad_stdout.contains("error: org: Case"), "{bad_stdout}");
}
