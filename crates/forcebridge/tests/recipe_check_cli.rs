//! `forcebridge recipe check` as a command: the real binary on the bundled recipes and on broken
//! copies of one, as a recipe author runs it.
//!
//! What is proven: every bundled recipe checks with exit 0; a broken recipe exits 1 with the
//! compiler-style excerpt (file:line:col, the text underlined, what was expected) on stdout and one
//! error line on stderr; `--json` gives the same diagnostics as JSON with positions; a missing
//! path exits 1 naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn recipes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes")
}

/// Runs `forcebridge recipe check <args>`: (exit code, stdout, stderr).
fn check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_forcebridge"))
        .args(["recipe", "check"])
        .args(args)
        .env_remove("FORCEBRIDGE_LOG")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of the Instruqt recipe with `from` replaced by `to`, in a fresh directory.
fn broken_instruqt(from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(recipes().join("instruqt/recipe.toml")).unwrap();
    assert!(text.contains(from));
    std::fs::write(dir.path().join("recipe.toml"), text.replacen(from, to, 1)).unwrap();
    dir
}

#[test]
fn every_bundled_recipe_checks() {
    for name in ["instruqt", "spaceiq", "ticketly", "inkwell"] {
        let path = recipes().join(name);
        let (code, stdout, stderr) = check(&[path.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        assert!(stdout.contains(&format!("ok: recipe {name}")), "{stdout}");
    }
}

#[test]
fn a_broken_recipe_exits_1_with_a_located_excerpt() {
    let dir = broken_instruqt(
        "Status = \"settings.new_lead_status\"",
        "Status = \"settings.new_lead_stats\"",
    );
    let (code, stdout, stderr) = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("unknown setting `new_lead_stats`"), "{stdout}");
    assert!(stdout.contains("recipe.toml:"), "{stdout}");
    assert!(stdout.contains("did you mean `new_lead_status`?"), "{stdout}");
    assert!(
        stdout.contains("──"),
        "the offending text is underlined: {stdout}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn json_gives_the_diagnostics_with_positions() {
    let dir = broken_instruqt("key = \"event.track.slug\"", "key = \"event.track.slug +\"");
    let file = dir.path().join("recipe.toml");
    let (code, stdout, _) = check(&[file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(v["ok"], false);
    let d = &v["diagnostics"][0];
    assert_eq!(d["severity"], "error");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid CEL expression"),
        "{d}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .position(|l| l == "key = \"event.track.slug +\"")
        .unwrap()
        + 1;
    assert_eq!(d["line"], line);
    assert!(d["path"].as_str().unwrap().ends_with("› key"), "{d}");

    let (code, stdout, _) = check(&[recipes().join("spaceiq").to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(v["ok"], true);
    assert_eq!(v["recipe"]["name"], "spaceiq");
}

#[test]
fn a_missing_recipe_exits_1_naming_it() {
    let (code, stdout, stderr) = check(&["/nonexistent/recipe-folder"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("cannot read /nonexistent/recipe-folder"),
        "{stdout}"
    );
    assert!(stderr.contains("error"), "{stderr}");
}

#[test]
fn a_demo_that_does_not_fit_its_recipe_fails_the_check() {
    let (code, stdout, _) = check(&[recipes().join("spaceiq").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("ok: demo — sandbox by password"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    for f in ["recipe.toml", "demo.toml"] {
        let text = std::fs::read_to_string(recipes().join("spaceiq").join(f)).unwrap();
        std::fs::write(
            dir.path().join(f),
            text.replace(
                "auth = \"password\"\nenvironment",
                "auth = \"jwt_bearer\"\nenvironment",
            ),
        )
        .unwrap();
    }
    let (code, _, stderr) = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("connection.auth: recipe spaceiq does not accept \"jwt_bearer\""),
        "{stderr}"
    );
    let (code, stdout, _) = check(&[dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["demo"]["ok"], false, "{v}");
}
