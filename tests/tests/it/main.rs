//! Integration tests of the workspace, in one test binary with a module per area.
//!
//! Tests that run JavaScript need Node.js and the packages of `tests/js`, installed from the
//! workspace root with `npm ci --prefix tests/js`. Without them those tests fail; they never skip.
//! Tests on PostgreSQL start a throwaway cluster with `scripts/postgres.sh`, which installs
//! PostgreSQL from Debian's packages when it is missing.

// Test code throughout, helpers included: lets the clippy.toml test allowances apply to them.
#![cfg(test)]

mod admin;
mod applications;
mod architecture;
mod audit;
mod backup;
mod bad_input;
mod browser;
mod bundle;
mod caching;
mod domains;
mod durability;
mod files;
mod harness;
mod interop;
mod issuers;
mod keys;
pub mod lifecycle;
mod mail;
mod migrate;
mod pages;
mod panel;
mod postgres;
mod register;
mod replicas;
mod search;
mod serve;
mod store;
mod trust;
mod verify;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Tests that keep both cores busy for a while (hundreds of letters, a browser with its server and
/// an SMTP server) take this for reading, and tests that measure seconds against a bound take it
/// for writing, so a bound is never measured while such a test runs beside it. The lock only
/// orders tests; it guards no data.
static TIMING: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Held by a test that loads the machine (see [`TIMING`]).
pub fn busy() -> std::sync::RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held by a test that measures time against a bound (see [`TIMING`]).
pub fn timed() -> std::sync::RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How to install what the JavaScript tests need, in every failure message about it.
pub const JS_SETUP: &str =
    "install Node.js 20 or later, then run `npm ci --prefix tests/js` from the workspace root";

/// `tests/js`: the JavaScript side of the tests, with its `package.json`.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Fails the test when the npm package `name` is not installed in `tests/js/node_modules`.
pub fn require_npm_package(name: &str) {
    let manifest = js_dir().join("node_modules").join(name).join("package.json");
    assert!(
        manifest.is_file(),
        "the npm package `{name}` is not installed ({} is missing): {JS_SETUP}",
        manifest.display()
    );
}

/// What a script printed and how it ended.
#[derive(Debug)]
pub struct NodeOutput {
    /// Its standard output, parsed as one JSON value.
    pub json: Value,
    pub success: bool,
    pub stderr: String,
}

/// Runs `node tests/js/<script>` with `request` as JSON on standard input, and parses its
/// standard output as JSON. Fails the test when Node.js cannot be started or prints no JSON.
pub fn run_node_json(script: &str, request: &Value) -> NodeOutput {
    let path = js_dir().join(script);
    assert!(path.is_file(), "{} is missing", path.display());
    let mut child = match Command::new("node")
        .arg(&path)
        .current_dir(js_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => panic!("could not start `node` ({err}): {JS_SETUP}"),
    };
    {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin.write_all(request.to_string().as_bytes()).expect("write the request to node");
        // Dropping stdin closes it: the script reads to the end before it answers.
    }
    let output = child.wait_with_output().expect("wait for node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = match serde_json::from_str(&stdout) {
        Ok(json) => json,
        Err(err) => panic!(
            "node {script} printed no JSON ({err}); exit status {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status
        ),
    };
    NodeOutput { json, success: output.status.success(), stderr }
}
