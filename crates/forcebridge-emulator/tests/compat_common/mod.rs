//! Shared plumbing of the `compat_*` tests: find the Python that has the pinned third-party
//! clients (compat/requirements.txt, installed by scripts/test), and run one of the scripts in
//! compat/ against a running emulator.
//!
//! Invariant: without `FORCEBRIDGE_COMPAT_PYTHON` a compat test passes with a loud `SKIPPED` line,
//! except when `CI` is set, where a skipped compatibility test is a failure (CI must run them).
#![allow(dead_code)] // each compat test uses some of these

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// The Python interpreter to use, or `None` (after printing why) when the test must be skipped.
///
/// # Panics
/// When `FORCEBRIDGE_COMPAT_PYTHON` is unset and `CI` is set: CI must run the compatibility tests.
pub fn python_or_skip(test: &str) -> Option<PathBuf> {
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
            // Written to the process's stderr directly: libtest's capture would swallow eprintln!.
            let bar = "!".repeat(100);
            let _ = writeln!(std::io::stderr(), "\n{bar}\n!!! {msg}\n{bar}\n");
            None
        }
    }
}

/// The path of a script under the repository's `compat/` folder.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../compat")
        .join(name)
}

/// Runs `python script args...`, returning its output; fails the test if it does not finish in
/// `limit` (a guard against a hung client, not a speed assertion).
pub async fn run_python(python: &Path, script_name: &str, args: &[String], limit: Duration) -> Output {
    let path = script(script_name);
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(&path).args(args).kill_on_drop(true);
    // The scripts print progress per step; unbuffered so a hang shows where it stopped.
    cmd.env("PYTHONUNBUFFERED", "1");
    let child = cmd.output();
    match tokio::time::timeout(limit, child).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run {} {}: {e}", python.display(), path.display()),
        Err(_) => panic!("{} did not finish within {limit:?}", path.display()),
    }
}

/// stdout and stderr of a finished script, for assertion messages.
pub fn transcript(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The Node binary of compat/streaming (Node 22 and jsforce 3 pinned there, installed by its
/// setup.sh, which scripts/test runs), or `None` (after printing why) when the test must be
/// skipped.
///
/// # Panics
/// When `FORCEBRIDGE_COMPAT_NODE` is unset and `CI` is set: CI must run the compatibility tests.
pub fn node_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os("FORCEBRIDGE_COMPAT_NODE") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            let msg = format!(
                "SKIPPED {test}: FORCEBRIDGE_COMPAT_NODE is not set. Run scripts/test, which runs \
                 compat/streaming/setup.sh (Node 22 and jsforce 3 from the npm registry) and sets it"
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "{msg} (CI is set, so this is a failure)"
            );
            let bar = "!".repeat(100);
            let _ = writeln!(std::io::stderr(), "\n{bar}\n!!! {msg}\n{bar}\n");
            None
        }
    }
}

/// Runs `program script args...` with extra environment variables, as [`run_python`] does.
pub async fn run_program(
    program: &Path,
    script_name: &str,
    args: &[String],
    env: &[(&str, String)],
    limit: Duration,
) -> Output {
    let path = script(script_name);
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg(&path).args(args).kill_on_drop(true);
    cmd.env("PYTHONUNBUFFERED", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    match tokio::time::timeout(limit, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run {} {}: {e}", program.display(), path.display()),
        Err(_) => panic!("{} did not finish within {limit:?}", path.display()),
    }
}
