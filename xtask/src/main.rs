//! Project commands, so that a fresh machine with only the Rust toolchain needs two of them:
//! `cargo xtask demo` (build and start the server with demo data) and `cargo xtask test`
//! (every check and test). Each installs what it needs first and says what it is doing.

use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod bench;
mod contract;
mod imports;
mod scratch;
mod tools;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test         install what the tests need, then run every check and test
  demo         build everything and start the server with demo data
  setup        only install the tools (wasm32 target, wasm-bindgen-cli, npm packages, cargo-fuzz,
               schemathesis)
  widget       build the badge bundle into target/widget/dist
  contract     only the API contract step of `test`: schemathesis against zp serve
  fuzz [SECS]  run each fuzz target for SECS seconds (default 60)
  durability [CYCLES]
               kill -9 the server CYCLES times (default 1000) in bursts of writes; fails on any
               lost acknowledged write or a broken audit chain
  bench [GROUP...]  measure the figures beside their baselines and rewrite BENCHMARKS.md
               (with groups: only those, printed; BENCHMARKS.md is left alone)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("demo") => demo(),
        Some("setup") => tools::setup(&root()),
        Some("widget") => {
            let root = root();
            tools::setup_build(&root).and_then(|()| build_widget(&root))
        }
        Some("bench") => bench::bench(args.get(1..).unwrap_or_default()),
        Some("contract") => contract::run(&root()),
        Some("durability") => {
            let cycles = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000);
            durability(&root(), cycles)
        }
        Some("fuzz") => {
            let secs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
            fuzz(&root(), secs)
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nxtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Where the external test vectors live: `shared/` beside the checkout.
fn vectors_dir(root: &Path) -> PathBuf {
    root.join("..").join("shared").join("vectors")
}

/// Announces a step and runs a command in the workspace root, failing on a non-zero exit.
pub fn step(title: &str, mut command: impl BorrowMut<Command>) -> Result<()> {
    let command = command.borrow_mut();
    println!("\n==> {title}");
    let started = Instant::now();
    let status = command.status().with_context(|| format!("could not start: {command:?}"))?;
    if !status.success() {
        bail!("step failed: {title} ({status})");
    }
    println!("    done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn cargo(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root).args(args);
    command
}

fn test() -> Result<()> {
    let root = root();
    let started = Instant::now();
    let vectors = vectors_dir(&root);
    if !vectors.join("wycheproof_ed25519_test.json").is_file() {
        bail!(
            "the external test vectors are missing: expected them in {}.\n\
             They are kept outside the repository, in the `shared/vectors` folder beside the \
             checkout; put that folder there and run the command again.",
            vectors.display()
        );
    }
    tools::setup(&root)?;
    step("format check", cargo(&root, &["fmt", "--all", "--check"]))?;
    step(
        "clippy (native)",
        cargo(&root, &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
    )?;
    step(
        "clippy (wasm32: shared without signing, widget, the benchmarks' baseline badge and Yew floor)",
        cargo(
            &root,
            &[
                "clippy",
                "-p",
                "zp-shared",
                "-p",
                "zp-widget",
                "-p",
                "zp-baseline-badge",
                "-p",
                "zp-bench-yew-floor",
                "--all-targets",
                "--target",
                tools::WASM,
                "--",
                "-D",
                "warnings",
            ],
        ),
    )?;
    build_widget(&root)?;
    step(
        "tests (native: units, conformance, integration and browser end-to-end)",
        cargo(&root, &["test", "--workspace"]),
    )?;
    step(
        "shared conformance suite on wasm32 (Node.js engine, wasm-bindgen-test)",
        cargo(&root, &["test", "-p", "zp-shared", "--target", tools::WASM, "--test", "conformance"]),
    )?;
    let mut widget_tests = cargo(&root, &["test", "-p", "zp-widget", "--target", tools::WASM, "--tests"]);
    widget_tests.env("CHROMEDRIVER", "/usr/bin/chromedriver");
    step("widget logic and rendering on wasm32 (headless Chromium, wasm-bindgen-test)", widget_tests)?;
    contract::run(&root)?;
    fuzz(&root, 15)?;
    println!("\nAll checks passed in {:.0} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// The fuzz targets: the crate directory whose `fuzz/` holds each, and what `cargo fuzz run` gets
/// besides the time limit.
const FUZZ_TARGETS: [(&str, &str, &[&str], &[&str]); 4] = [
    ("shared", "token", &[], &[]),
    ("shared", "status_list", &[], &[]),
    ("shared", "trust_list", &[], &[]),
    // The server's JSON request bodies. Without AddressSanitizer: the code under test is safe Rust
    // (`unsafe_code` is forbidden), and instrumenting sqlx, tokio and axum as well would double
    // the build and slow every run, for nothing a panic would not show.
    ("server", "json_bodies", &["--sanitizer", "none"], &["-dict=fuzz/json.dict"]),
];

/// The long kill -9 run: the integration test `kill_9_cycles_lose_no_acknowledged_write` with
/// `cycles` cycles instead of the few the test command runs.
fn durability(root: &Path, cycles: u32) -> Result<()> {
    let mut command = cargo(root, &["test", "-p", "zp-tests", "--test", "it", "--"]);
    command
        .args(["durability::kill_9_cycles_lose_no_acknowledged_write", "--exact", "--nocapture"])
        .env("ZP_KILL_CYCLES", cycles.to_string());
    step(&format!("kill -9 during bursts of writes, {cycles} times"), command)
}

fn fuzz(root: &Path, seconds: u64) -> Result<()> {
    tools::ensure_cargo_fuzz()?;
    for (dir, target, options, libfuzzer) in FUZZ_TARGETS {
        let mut command = cargo(&root.join(dir), &["fuzz", "run"]);
        command.args(options).arg(target).arg("--").arg(format!("-max_total_time={seconds}")).args(libfuzzer);
        // cargo-fuzz passes nightly-only flags (sanitizers); this lets the stable toolchain take them.
        command.env("RUSTC_BOOTSTRAP", "1");
        step(&format!("fuzz `{target}` for {seconds} s"), command)?;
    }
    Ok(())
}

/// A badge bundle as `zp serve --widget-dir` reads it: the loader `zp-badge.js`, wasm-bindgen's glue
/// `zp-widget.js` and the module `zp-widget_bg.wasm`.
#[derive(Debug, Clone, Copy)]
pub struct Bundle {
    /// The wasm32 library (a `cdylib`) to build.
    pub package: &'static str,
    /// The loader template, relative to the workspace root.
    pub loader: &'static str,
    /// Where the bundle is written, relative to the workspace root.
    pub dist: &'static str,
}

/// The badge that ships.
pub const WIDGET: Bundle =
    Bundle { package: "zp-widget", loader: "widget/assets/zp-badge.js", dist: "target/widget/dist" };

/// Builds the badge: the wasm32 library in the size-tuned profile, wasm-bindgen's ES module
/// glue, wasm-opt when available, and the loader, with brotli and gzip files beside the glue and
/// module; the server serves the result under content-hashed names. Earlier releases stay in
/// `releases/` and this one joins them.
pub fn build_widget(root: &Path) -> Result<()> {
    build_bundle(root, WIDGET).map(drop)
}

/// Builds `bundle` the way the badge is built: same profile, same wasm-bindgen, same wasm-opt flags.
/// Returns the bundle's total raw, gzip and brotli sizes, as it prints them.
pub fn build_bundle(root: &Path, bundle: Bundle) -> Result<(usize, usize, usize)> {
    let package = bundle.package;
    step(&format!("build {package} (wasm32, size-tuned profile)"), tools::widget_build(root, package))?;
    let wasm = root
        .join("target")
        .join(tools::WASM)
        .join("widget")
        .join(format!("{}.wasm", package.replace('-', "_")));
    let dist = root.join(bundle.dist);
    clear_dist(&dist)?;
    step(
        "generate the JavaScript glue (wasm-bindgen)",
        Command::new("wasm-bindgen")
            .arg(&wasm)
            .args(["--target", "web", "--no-typescript", "--out-name", "zp-widget"])
            // Strings go in with `TextEncoder.encodeInto` only, without the fallback for browsers
            // that lack it (all of them have it that run a module with reference types); and the
            // loaders always name the module, so the glue needs no default URL for it.
            .args(["--encode-into", "always", "--omit-default-module-path", "--out-dir"])
            .arg(&dist),
    )?;
    let bindgen_wasm = dist.join("zp-widget_bg.wasm");
    match tools::wasm_opt(root) {
        Some(wasm_opt) => step(
            "optimise for size (wasm-opt -Os)",
            Command::new(wasm_opt)
                .arg(&bindgen_wasm)
                .args([
                    // -Os rather than -Oz: a little larger raw, smaller once compressed.
                    "-Os",
                    // A function with one caller is inlined into it only when small: inlining the
                    // large ones made fewer but bigger functions that compressed worse (about
                    // 1.8 KB more brotli, for 5 KB less raw).
                    "--one-caller-inline-max-function-size=30",
                    // Repeated until the module stops shrinking.
                    "--converge",
                    // Rust places the stack first (the stack pointer starts at 1 MiB, growing down),
                    // so nothing lives at the lowest addresses and constant offsets fold into loads.
                    "--low-memory-unused",
                    // The producers and target-features sections: nothing in a browser reads them.
                    "--strip-producers",
                    "--strip-target-features",
                    "--enable-bulk-memory",
                    "--enable-nontrapping-float-to-int",
                    "--enable-sign-ext",
                    "--enable-mutable-globals",
                    "--enable-reference-types",
                    "--enable-multivalue",
                    "-o",
                ])
                .arg(&bindgen_wasm),
        )?,
        None => println!(
            "    wasm-opt not installed (npm package binaryen in tests/js): keeping wasm-bindgen's output"
        ),
    }
    std::fs::copy(root.join(bundle.loader), dist.join("zp-badge.js"))?;
    tools::minify_js(root, &dist)?;
    shorten_imports(&dist)?;
    for name in PRECOMPRESSED {
        let bytes = std::fs::read(dist.join(name))?;
        std::fs::write(dist.join(format!("{name}.br")), brotli(&bytes)?)?;
        std::fs::write(dist.join(format!("{name}.gz")), gzip(&bytes)?)?;
    }
    let release = keep_release(&dist)?;
    println!("    release kept in {}", release.display());
    report_sizes(&dist)
}

/// Gives the names between the module and its glue short forms, in both files (see [`imports`]).
fn shorten_imports(dist: &Path) -> Result<()> {
    let (wasm_path, glue_path) = (dist.join("zp-widget_bg.wasm"), dist.join("zp-widget.js"));
    let wasm = std::fs::read(&wasm_path)?;
    let glue = std::fs::read_to_string(&glue_path)?;
    match imports::shorten(&wasm, &glue) {
        Ok((wasm, glue)) => {
            std::fs::write(&wasm_path, wasm)?;
            std::fs::write(&glue_path, glue)?;
        }
        Err(err) => println!("    import names kept as wasm-bindgen wrote them: {err:#}"),
    }
    Ok(())
}

/// The files of one release of a bundle, as the server reads them: the loader template, the
/// glue and the module.
const RELEASE_FILES: [&str; 3] = ["zp-badge.js", "zp-widget.js", "zp-widget_bg.wasm"];

/// The files the server sends compressed as the build wrote them (`.br`, `.gz` beside each). The
/// loader is not among them: the server writes the issuer URL into it, then compresses it.
const PRECOMPRESSED: [&str; 2] = ["zp-widget.js", "zp-widget_bg.wasm"];

/// Where a bundle directory keeps its earlier releases (the server's `widget::RELEASES`).
const RELEASES: &str = "releases";

/// Empties `dist` for a new build, except its earlier releases.
fn clear_dist(dist: &Path) -> Result<()> {
    std::fs::create_dir_all(dist)?;
    for entry in std::fs::read_dir(dist)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == RELEASES {
            continue;
        }
        let removed = if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("clearing {}", path.display()))?;
    }
    Ok(())
}

/// Copies the release just built in `dist` into `dist/releases/<name>`, the name derived from
/// its contents, and returns where. The server keeps serving every release there under its
/// hashed names, so a snippet pinned to one (with its Subresource Integrity hash) keeps working
/// after upgrades. Building the same bundle again adds nothing.
fn keep_release(dist: &Path) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for name in RELEASE_FILES {
        let bytes = std::fs::read(dist.join(name))?;
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let name: String = hasher.finalize().iter().take(8).map(|byte| format!("{byte:02x}")).collect();
    let releases = dist.join(RELEASES);
    let kept = releases.join(&name);
    if kept.is_dir() {
        return Ok(kept);
    }
    // Written aside, then renamed: the server skips dot names, so it never sees half a release.
    let partial = releases.join(format!(".{name}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(&partial)?;
    let compressed = PRECOMPRESSED.iter().flat_map(|name| [format!("{name}.br"), format!("{name}.gz")]);
    for file in RELEASE_FILES.map(str::to_owned).into_iter().chain(compressed) {
        std::fs::copy(dist.join(&file), partial.join(&file)).with_context(|| format!("keeping {file}"))?;
    }
    std::fs::rename(&partial, &kept)?;
    Ok(kept)
}

/// Brotli at quality 11 with the largest window, as browsers decode it.
fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

/// Gzip at level 9.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(bytes)?;
    Ok(gzip.finish()?)
}

/// Prints what a browser transfers for the badge: raw, gzip -9 and brotli -q 11 sizes, and returns
/// the three totals.
fn report_sizes(dist: &Path) -> Result<(usize, usize, usize)> {
    let mut totals = (0, 0, 0);
    println!("    {:<22} {:>9} {:>9} {:>9}", "file", "raw", "gzip", "brotli");
    for name in RELEASE_FILES {
        let bytes = std::fs::read(dist.join(name))?;
        // The build's own compressed files where there are some: what the server sends.
        let compressed = |ext: &str, compress: fn(&[u8]) -> Result<Vec<u8>>| match std::fs::read(
            dist.join(format!("{name}.{ext}")),
        ) {
            Ok(stored) => Ok(stored.len()),
            Err(_) => compress(&bytes).map(|out| out.len()),
        };
        let (gzip_size, brotli_size) = (compressed("gz", gzip)?, compressed("br", brotli)?);
        println!("    {name:<22} {:>9} {:>9} {:>9}", bytes.len(), gzip_size, brotli_size);
        totals = (totals.0 + bytes.len(), totals.1 + gzip_size, totals.2 + brotli_size);
    }
    println!("    {:<22} {:>9} {:>9} {:>9}", "total (JS + wasm)", totals.0, totals.1, totals.2);
    Ok(totals)
}

fn demo() -> Result<()> {
    let root = root();
    tools::setup_build(&root)?;
    build_widget(&root)?;
    step(
        "build the server (release)",
        cargo(&root, &["build", "--release", "-p", "zp-server", "--bin", "zp"]),
    )?;
    let data = std::env::var("ZP_DATA_DIR").unwrap_or_else(|_| root.join("data").display().to_string());
    let bind = std::env::var("ZP_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into());
    println!("\n==> start the server on {bind} with demo data in {data} (Ctrl-C stops it)");
    let status = Command::new(root.join("target").join("release").join("zp"))
        .args(["--data-dir", &data, "serve", "--demo", "--bind", &bind])
        .status()
        .context("could not start target/release/zp")?;
    if !status.success() {
        bail!("the server stopped: {status}");
    }
    Ok(())
}
