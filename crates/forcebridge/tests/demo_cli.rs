//! `forcebridge demo` as a user runs it: `--once --json` connects every recipe with a demo to an
//! org of its own through its auth flow, installs it, feeds it events and exits 0 with the
//! summary; every event is applied, with records written and API calls counted per recipe. A
//! misspelt `--only` names what is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn demo(args: &[&str]) -> std::process::Output {
    let recipes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    Command::new(env!("CARGO_BIN_EXE_forcebridge"))
        .env_remove("FORCEBRIDGE_RECIPES")
        .env_remove("FORCEBRIDGE_ADDR")
        .args([
            "demo",
            "--addr",
            "127.0.0.1:0",
            "--recipes",
            recipes.to_str().unwrap(),
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn demo_once_json_applies_every_event_of_every_recipe() {
    let out = demo(&["--once", "--json", "--events", "120"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let recipes = summary["recipes"].as_array().unwrap();
    let names: Vec<&str> = recipes.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for required in ["instruqt", "spaceiq"] {
        assert!(names.contains(&required), "{names:?}");
    }
    for r in recipes {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "events", "records", "api_calls", "errors"], "{r}");
        assert_eq!(r["events"], 120, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert!(r["records"].as_u64().unwrap() > 0, "{r}");
        // Set-at-a-time writes: far fewer calls than events (provisioning is not counted).
        let calls = r["api_calls"].as_u64().unwrap();
        assert!(calls > 0 && calls < 60, "{r}");
    }
}

#[test]
fn demo_only_an_unknown_recipe_says_so() {
    let out = demo(&["--once", "--only", "nosuch"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no recipe named \"nosuch\" with a demo.toml"),
        "{stderr}"
    );
}
