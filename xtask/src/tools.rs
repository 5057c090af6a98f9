//! Installs what the build and the tests need beyond the Rust toolchain, each only when missing:
//! the wasm32 target, wasm-bindgen-cli at the exact version of the `wasm-bindgen` crate in
//! `Cargo.lock`, Node.js and the npm packages of `tests/js`, cargo-fuzz, and schemathesis (from
//! PyPI, in a virtual environment under `target/`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::step;

pub const WASM: &str = "wasm32-unknown-unknown";
/// The nightly the badge's bundle is built with: it rebuilds the standard library for size with
/// panics that abort at once, which stable cannot (see [`widget_build`]). Pinned, so that a
/// build gives the same bytes next month; `rustup` installs it when missing.
pub const WIDGET_NIGHTLY: &str = "nightly-2026-05-20";
/// Flags of the nightly build: a panic aborts at once (no unwinding tables, no panic message or
/// its formatting, no location strings), and `Debug` formatting compiles to nothing.
const WIDGET_NIGHTLY_RUSTFLAGS: &str =
    "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none";
/// cargo-fuzz release the fuzz targets are built with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// schemathesis release the API contract step runs (its checks and CLI change between releases).
const SCHEMATHESIS_VERSION: &str = "4.32.5";

pub fn setup(root: &Path) -> Result<()> {
    setup_build(root)?;
    ensure_chromium()?;
    ensure_cargo_fuzz()?;
    ensure_schemathesis(root).map(drop)
}

/// What building and running the server with its badge needs.
pub fn setup_build(root: &Path) -> Result<()> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen(root)?;
    ensure_node()?;
    ensure_npm_packages(root)
}

/// `wasm-opt` from the npm package binaryen, when installed.
pub fn wasm_opt(root: &Path) -> Option<std::path::PathBuf> {
    let path = root.join("tests").join("js").join("node_modules").join(".bin").join("wasm-opt");
    path.is_file().then_some(path)
}

/// Minifies a bundle's loader and wasm-bindgen's glue in `dist`, in place, with esbuild from the
/// npm packages of `tests/js` (whitespace, comments and local names only: exports, property names
/// and strings stay as they are, so the placeholders the server fills in survive). Without
/// esbuild the bundle keeps them as written, and says so.
pub fn minify_js(root: &Path, dist: &Path) -> Result<()> {
    let esbuild = root.join("tests").join("js").join("node_modules").join(".bin").join("esbuild");
    if !esbuild.is_file() {
        println!("    esbuild not installed (npm package in tests/js): the loader and glue stay unminified");
        return Ok(());
    }
    for name in ["zp-badge.js", "zp-widget.js"] {
        let path = dist.join(name);
        let before = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        step(
            &format!("minify {name} (esbuild)"),
            Command::new(&esbuild)
                .arg(&path)
                .args(["--minify", "--format=esm", "--allow-overwrite", "--log-level=warning"])
                .arg(format!("--outfile={}", path.display())),
        )?;
        let after = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        for placeholder in ["\"__ZP_ISSUER__\"", "__ZP_GLUE__", "__ZP_WASM__"] {
            if before.contains(placeholder) && !after.contains(placeholder) {
                bail!("minifying {name} lost the placeholder {placeholder} that the server fills in");
            }
        }
    }
    Ok(())
}

/// Debian's Chromium and its WebDriver, for the browser tests.
fn ensure_chromium() -> Result<()> {
    let have = |p: &str| Path::new(p).is_file();
    if have("/usr/bin/chromium") && have("/usr/bin/chromedriver") {
        return Ok(());
    }
    apt_install(&["chromium", "chromium-driver"])
}

/// Output of a command that may be missing: `None` when it cannot run or fails.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The `cargo build` of a badge bundle's wasm32 library in the size-tuned `widget` profile.
///
/// With the pinned nightly (installed here when missing) it also rebuilds the standard library
/// for size (`-Zbuild-std`, `optimize_for_size`) with immediate-abort panics: about 12 KB less
/// brotli. `ZP_WIDGET_TOOLCHAIN=stable` builds with the workspace's stable toolchain instead, as
/// does a machine where the nightly cannot be installed (it says so); the bundle is then larger
/// but the same code.
pub fn widget_build(root: &Path, package: &str) -> Command {
    let args = ["build", "-p", package, "--lib", "--target", WASM, "--profile", "widget"];
    let stable = std::env::var("ZP_WIDGET_TOOLCHAIN").is_ok_and(|choice| choice == "stable");
    if stable {
        println!("    ZP_WIDGET_TOOLCHAIN=stable: building the badge with the stable toolchain");
        return crate::cargo(root, &args);
    }
    if let Err(err) = ensure_widget_nightly() {
        println!(
            "    {WIDGET_NIGHTLY} could not be installed ({err:#}): building the badge with the stable \
             toolchain, without the size-tuned standard library"
        );
        return crate::cargo(root, &args);
    }
    let mut command = Command::new("rustup");
    command
        .current_dir(root)
        .args(["run", WIDGET_NIGHTLY, "cargo"])
        .args(args)
        .args(["-Zbuild-std=std,panic_abort", "-Zbuild-std-features=optimize_for_size"])
        .env("RUSTFLAGS", WIDGET_NIGHTLY_RUSTFLAGS);
    // Whatever toolchain runs xtask, cargo and rustc come from the nightly.
    for inherited in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "CARGO_ENCODED_RUSTFLAGS"] {
        command.env_remove(inherited);
    }
    command
}

/// The pinned nightly with the standard library's source and the wasm32 target.
fn ensure_widget_nightly() -> Result<()> {
    let installed = output_of("rustup", &["component", "list", "--toolchain", WIDGET_NIGHTLY, "--installed"])
        .unwrap_or_default();
    let has = |component: &str| installed.lines().any(|line| line.trim().starts_with(component));
    if has("rust-src") && has(&format!("rust-std-{WASM}")) {
        return Ok(());
    }
    step(
        &format!("install {WIDGET_NIGHTLY} (rust-src, {WASM}) for the badge's size-tuned build"),
        Command::new("rustup").args([
            "toolchain",
            "install",
            WIDGET_NIGHTLY,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
            "--target",
            WASM,
        ]),
    )
}

fn ensure_wasm_target() -> Result<()> {
    let installed = output_of("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|line| line.trim() == WASM) {
        return Ok(());
    }
    step(&format!("install the {WASM} target"), Command::new("rustup").args(["target", "add", WASM]))
}

/// The version of `name` that Cargo.lock pins.
fn locked_version(root: &Path, name: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let needle = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == needle
            && let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = "))
        {
            return Ok(version.trim_matches('"').to_owned());
        }
    }
    bail!("Cargo.lock does not pin {name}")
}

fn ensure_wasm_bindgen(root: &Path) -> Result<()> {
    let version = locked_version(root, "wasm-bindgen")?;
    let have = output_of("wasm-bindgen", &["--version"]).unwrap_or_default();
    let runner = output_of("wasm-bindgen-test-runner", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(version.as_str()) && runner.contains(&version) {
        return Ok(());
    }
    step(
        &format!(
            "install wasm-bindgen-cli {version} (matches the wasm-bindgen crate; takes several minutes)"
        ),
        Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &version]),
    )
}

fn ensure_node() -> Result<()> {
    if output_of("node", &["--version"]).is_some() && output_of("npm", &["--version"]).is_some() {
        return Ok(());
    }
    apt_install(&["nodejs", "npm"])
}

pub fn apt_install(packages: &[&str]) -> Result<()> {
    step("refresh Debian package lists", Command::new("apt-get").arg("update"))?;
    step(
        &format!("install {} from Debian", packages.join(", ")),
        Command::new("apt-get").args(["install", "-y", "--no-install-recommends"]).args(packages),
    )
}

fn ensure_npm_packages(root: &Path) -> Result<()> {
    let dir = root.join("tests").join("js");
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules").join(".package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed)) {
        (Ok(lock), Ok(installed)) => match (lock.modified(), installed.modified()) {
            (Ok(lock), Ok(installed)) => installed >= lock,
            _ => false,
        },
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    step(
        "install npm packages of tests/js",
        Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(dir),
    )
}

pub fn ensure_cargo_fuzz() -> Result<()> {
    let have = output_of("cargo", &["fuzz", "--version"]).unwrap_or_default();
    if have.contains(CARGO_FUZZ_VERSION) {
        return Ok(());
    }
    step(
        &format!("install cargo-fuzz {CARGO_FUZZ_VERSION}"),
        Command::new("cargo").args(["install", "cargo-fuzz", "--version", CARGO_FUZZ_VERSION]),
    )
}

/// schemathesis at [`SCHEMATHESIS_VERSION`] in the project's own virtual environment
/// (`target/schemathesis-venv`), installed from PyPI when missing; returns its command. Debian's
/// Python needs `python3-venv` for that, installed when missing.
pub fn ensure_schemathesis(root: &Path) -> Result<std::path::PathBuf> {
    let venv = root.join("target").join("schemathesis-venv");
    let command = venv.join("bin").join("schemathesis");
    let have = command.to_str().and_then(|c| output_of(c, &["--version"])).unwrap_or_default();
    if have.split_whitespace().last() == Some(SCHEMATHESIS_VERSION) {
        return Ok(command);
    }
    if output_of("python3", &["--version"]).is_none() {
        apt_install(&["python3"])?;
    }
    if output_of("python3", &["-c", "import ensurepip, venv"]).is_none() {
        apt_install(&["python3-venv"])?;
    }
    step(
        "create a Python virtual environment for schemathesis (target/schemathesis-venv)",
        Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv),
    )?;
    step(
        &format!("install schemathesis {SCHEMATHESIS_VERSION} from PyPI"),
        Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
        ]),
    )?;
    Ok(command)
}
