//! The badge in Chromium: HTML to verified badge against a minimal web-sys badge, and fetch counts
//! (group `browser`); the same on a phone profile, with bytes on the wire, and the verification
//! page's first paint (group `mobile`).
//!
//! Two `zp serve` processes run from the release build: the issuer, with demo data and the real
//! badge bundle, and a second one that only serves the baseline's bundle (`bench/baseline-badge`,
//! built like the badge). `tests/js/bench-load.mjs` puts both behind one origin, drives Debian's
//! Chromium with playwright-core and prints JSON lines.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use zp_tests::Listening;

use super::{Report, Row, number, yes_no};
use crate::scratch::Scratch;
use crate::{Bundle, WIDGET, cargo, step};

/// Counted cold loads of each page.
const LOADS: u32 = 30;
/// Rounds of loads run first and not counted: they warm the servers' caches and the disk.
const WARMUP: u32 = 1;
/// Badges on the page whose fetches are counted.
const BADGES: u32 = 20;
/// The badge may take this many times the baseline's time.
const TARGET_RATIO: f64 = 1.05;
const CHROMIUM: &str = "/usr/bin/chromium";

/// The smallest badge that verifies the same way, built like the real one.
const BASELINE: Bundle = Bundle {
    package: "zp-baseline-badge",
    loader: "bench/baseline-badge/assets/zp-badge.js",
    dist: "target/baseline-badge/dist",
};

/// Builds both bundles and the server, starts the issuer and the baseline's server, and runs
/// `tests/js/bench-load.mjs` with the plan and `extra` (members added to it). Returns its lines
/// and the baseline bundle's brotli size.
fn run_in_chromium(root: &Path, title: &str, extra: Value) -> Result<(Vec<Value>, usize)> {
    crate::tools::setup_build(root)?;
    if !Path::new(CHROMIUM).is_file() {
        bail!("Chromium is not installed at {CHROMIUM}: `cargo xtask setup` installs it");
    }
    crate::build_widget(root)?;
    let (_, _, baseline_brotli) = crate::build_bundle(root, BASELINE)?;
    step(
        "build the server (release)",
        cargo(root, &["build", "--release", "-p", "zp-server", "--bin", "zp"]),
    )?;

    let scratch =
        Scratch::new(std::env::temp_dir().join(format!("zp-bench-browser-{}", std::process::id())))?;
    let port = free_port()?;
    let base_url = format!("http://127.0.0.1:{port}");
    let issuer = Server::start(root, &scratch, "issuer", &base_url, WIDGET.dist, true)?;
    let baseline = Server::start(root, &scratch, "baseline", &base_url, BASELINE.dist, false)?;
    let mut plan = json!({
        "port": port,
        "issuer_upstream": format!("http://{}", issuer.addr),
        "baseline_upstream": format!("http://{}", baseline.addr),
        "chromium": CHROMIUM,
        "loads": LOADS,
        "warmup": WARMUP,
        "badges": BADGES,
        "timeout_ms": 20_000,
        "settle_ms": 200,
    });
    if let (Some(plan), Value::Object(extra)) = (plan.as_object_mut(), extra) {
        plan.extend(extra);
    }
    let lines = run_node(root, title, &plan);
    if lines.is_err() {
        eprintln!("{}", issuer.log_tail());
        eprintln!("{}", baseline.log_tail());
    }
    Ok((lines?, baseline_brotli))
}

pub(crate) fn figures(root: &Path, report: &mut Report) -> Result<()> {
    let title =
        format!("HTML to verified badge in Chromium, {LOADS} cold loads each, and a page of {BADGES} badges");
    let (lines, baseline_brotli) = run_in_chromium(root, &title, json!({}))?;
    report.notes.push(format!(
        "The web-sys baseline badge (`bench/baseline-badge`: the same verification, no Yew) is {} B \
         brotli with its loader, glue and wasm.",
        super::thousands(baseline_brotli as u64)
    ));

    let widget = by_variant(&lines, "cold_load", "widget")?;
    let base = by_variant(&lines, "cold_load", "baseline")?;
    let (widget_ms, base_ms) = (number(widget, "median_ms")?, number(base, "median_ms")?);
    let loads = number(widget, "loads")? as u64;
    let ratio = widget_ms / base_ms;
    report.rows.push(Row {
        figure: format!(
            "HTML → verified badge (one badge), cold load in headless Chromium, median of {loads}"
        ),
        value: format!("{widget_ms:.0} ms"),
        baseline: format!("{base_ms:.0} ms (web-sys badge, no Yew)"),
        ratio: format!("{ratio:.2}×"),
        target: format!("≤ {TARGET_RATIO:.2}× baseline"),
        met: yes_no(ratio <= TARGET_RATIO),
    });

    let many = by_variant(&lines, "many_badges", "widget")?;
    let many_base = by_variant(&lines, "many_badges", "baseline")?;
    let (wasm, lists) = (number(many, "wasm")? as u64, number(many, "lists")? as u64);
    report.rows.push(Row {
        figure: format!("Page with {BADGES} badges: wasm fetches / status-list fetches"),
        value: format!("{wasm} / {lists}"),
        baseline: format!(
            "{} / {} (web-sys badge, no page-wide cache)",
            number(many_base, "wasm")? as u64,
            number(many_base, "lists")? as u64
        ),
        ratio: "—".into(),
        target: "1 / 1".into(),
        met: yes_no(wasm == 1 && lists == 1),
    });

    if let Some(paired) = lines
        .iter()
        .find(|line| line.get("figure").and_then(Value::as_str) == Some("paired"))
        .and_then(|line| line.get("median_ratio"))
        .and_then(Value::as_f64)
    {
        report.notes.push(format!(
            "HTML → verified badge: the median of the {loads} per-round ratios (badge over the \
             baseline loaded just before or after it) is {paired:.2}, beside the ratio of the medians \
             in the table; the two differ by the machine's drift during the run."
        ));
    }
    for (name, line) in [("badge", widget), ("baseline", base)] {
        report.notes.push(format!("{}: {}", phase_title(name), phases(line)));
    }
    report.notes.push(format!(
        "Page with {BADGES} badges, one cold load: the badge made {} JWKS, {} glue and {wasm} wasm \
         fetches and had every badge verified at {:.0} ms; the baseline made {} JWKS and {} \
         status-list fetches ({:.0} ms).",
        number(many, "jwks")? as u64,
        number(many, "glue")? as u64,
        number(many, "all_verified_ms")?,
        number(many_base, "jwks")? as u64,
        number(many_base, "lists")? as u64,
        number(many_base, "all_verified_ms")?,
    ));
    let chromium = lines
        .iter()
        .find(|line| line.get("figure").and_then(Value::as_str) == Some("environment"))
        .and_then(|line| line.get("chromium"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    report.methods.push(format!(
        "HTML to verified badge: `tests/js/bench-load.mjs` drives Debian's Chromium {chromium} \
         (headless, through playwright-core) against the release `zp serve` with demo data. The page \
         is a small HTML document with the two-line snippet and one badge carrying the token of a \
         valid demo certificate. The baseline page is the same document loading \
         `bench/baseline-badge` instead: a badge in plain wasm-bindgen and web-sys, no Yew, that \
         fetches the issuer's JWKS, reads it with `KeySet::from_jwks_json`, verifies the token with \
         `zp_shared::verify`, fetches the status list and verifies it with \
         `zp_shared::verify_status_list`, checks the token's entry, and then shows a link and sets \
         `data-zp-state=\"verified\"` on the element, as the badge does; its loader is the plain \
         wasm-bindgen one (a static import of the glue, `init()`, one call per element), while the \
         badge's is the product's own `zp-badge.js`. It is built in this run with \
         the same `widget` profile, wasm-bindgen and wasm-opt flags as the badge, and served by a \
         second `zp serve` from its `--widget-dir`, so with the same headers. A small proxy in the \
         script puts pages, both bundles, the JWKS and the status list on one origin (the issuer's \
         base URL); the server sends everything uncompressed. Each load is cold: a new browser \
         context, so an empty HTTP cache, and a new page. The time of a load is `performance.now()` \
         (milliseconds from the start of the navigation) when a MutationObserver, installed before \
         the HTML is parsed, first sees the element's `data-zp-state` attribute turn to `verified`. \
         Loads alternate between badge and baseline, in the order AB, BA, AB…, after {WARMUP} \
         uncounted round; the figure is the median of {LOADS} loads of each. The ratio is the \
         badge's median over the baseline's; no time is asserted. One Chromium process serves all \
         loads; each context has its own renderer, cache and connections. The fetch counts come \
         from one more cold load of a page with {BADGES} badges: the requests Chromium reports \
         (playwright's `request` event) until every badge is verified and 200 ms after. The \
         badge's own JWKS request takes over the loader's `<link rel=preload>` of it, so it is one \
         request, not two.",
    ));
    Ok(())
}

/// The phone profile: Chromium's CPU slowed this many times…
const PHONE_CPU_RATE: u32 = 4;
/// …and its network held to this latency per request and these throughputs (a slow 4G link).
const PHONE_LATENCY_MS: u32 = 150;
const PHONE_DOWN_KBIT: u32 = 1_600;
const PHONE_UP_KBIT: u32 = 750;
/// Counted cold loads of each page on the phone profile.
const PHONE_LOADS: u32 = 15;
/// What the issue asks of the badge on the phone profile, and of the verification page's bytes.
const PHONE_BADGE_TARGET_MS: f64 = 1_300.0;
const PHONE_PAGE_TARGET_BYTES: f64 = 14_336.0;

/// Group `mobile`: the one-badge page and the verification page on the phone profile.
pub(crate) fn mobile_figures(root: &Path, report: &mut Report) -> Result<()> {
    let title = format!(
        "phone profile in Chromium (CPU {PHONE_CPU_RATE}× slower, {PHONE_LATENCY_MS} ms, {PHONE_DOWN_KBIT} / \
         {PHONE_UP_KBIT} kbit/s): {PHONE_LOADS} cold loads of each page"
    );
    let profile = json!({
        "mobile": {
            "loads": PHONE_LOADS,
            "warmup": WARMUP,
            "cpu_rate": PHONE_CPU_RATE,
            "latency_ms": PHONE_LATENCY_MS,
            "down_kbit": PHONE_DOWN_KBIT,
            "up_kbit": PHONE_UP_KBIT,
        }
    });
    let (lines, _) = run_in_chromium(root, &title, profile)?;
    let profile_name = format!(
        "phone profile: CPU {PHONE_CPU_RATE}× slower, {PHONE_LATENCY_MS} ms latency, {:.1} Mbit/s down, \
         {PHONE_UP_KBIT} kbit/s up",
        f64::from(PHONE_DOWN_KBIT) / 1000.0
    );
    let widget = by_variant(&lines, "mobile_badge", "widget")?;
    let base = by_variant(&lines, "mobile_badge", "baseline")?;
    let (widget_ms, base_ms) = (number(widget, "median_ms")?, number(base, "median_ms")?);
    let ratio = widget_ms / base_ms;
    let loads = number(widget, "loads")? as u64;
    report.rows.push(Row {
        figure: format!("HTML → verified badge (one badge), {profile_name}, cold, median of {loads}"),
        value: format!("{widget_ms:.0} ms"),
        baseline: format!("{base_ms:.0} ms (web-sys badge, no Yew)"),
        ratio: format!("{ratio:.2}×"),
        target: format!(
            "≤ {} ms and ≤ {TARGET_RATIO:.2}× baseline",
            super::thousands(PHONE_BADGE_TARGET_MS as u64)
        ),
        met: yes_no(widget_ms <= PHONE_BADGE_TARGET_MS && ratio <= TARGET_RATIO),
    });
    let wire = |line: &Value, keys: &[&str]| -> f64 {
        keys.iter().filter_map(|key| line.pointer(&format!("/wire/{key}")).and_then(Value::as_f64)).sum()
    };
    let bundle = ["loader", "glue", "wasm"];
    let (widget_bytes, base_bytes) = (wire(widget, &bundle), wire(base, &bundle));
    report.rows.push(Row {
        figure: "Badge bytes on the wire on that load: loader + glue + wasm, as Chromium counted them \
                 (`encodedDataLength`, headers included)"
            .into(),
        value: format!("{} B", super::thousands(widget_bytes as u64)),
        baseline: format!("{} B (web-sys badge)", super::thousands(base_bytes as u64)),
        ratio: format!("{:.2}×", widget_bytes / base_bytes),
        target: "—".into(),
        met: "—".into(),
    });
    let page = by_variant(&lines, "mobile_page", "verify")?;
    let blank = by_variant(&lines, "mobile_page", "blank")?;
    let (page_ms, blank_ms) = (number(page, "fcp_median_ms")?, number(blank, "fcp_median_ms")?);
    report.rows.push(Row {
        figure: format!(
            "Verification page `/v/{{ID}}`: first contentful paint, {profile_name}, cold, median of {loads}"
        ),
        value: format!("{page_ms:.0} ms"),
        baseline: format!("{blank_ms:.0} ms (a one-line HTML page, same origin)"),
        ratio: format!("{:.2}×", page_ms / blank_ms),
        target: "—".into(),
        met: "—".into(),
    });
    let (page_bytes, blank_bytes) = (wire(page, &["html", "css"]), wire(blank, &["html"]));
    report.rows.push(Row {
        figure: "Verification page + CSS on the wire (`encodedDataLength`, headers included)".into(),
        value: format!("{} B", super::thousands(page_bytes as u64)),
        baseline: format!("{} B (the one-line page)", super::thousands(blank_bytes as u64)),
        ratio: format!("{:.1}×", page_bytes / blank_bytes),
        target: format!("≤ {} B (14 KiB)", super::thousands(PHONE_PAGE_TARGET_BYTES as u64)),
        met: yes_no(page_bytes <= PHONE_PAGE_TARGET_BYTES),
    });
    if let Some(paired) = lines
        .iter()
        .find(|line| line.get("figure").and_then(Value::as_str) == Some("mobile_paired"))
        .and_then(|line| line.get("median_ratio"))
        .and_then(Value::as_f64)
    {
        report.notes.push(format!(
            "Phone profile: the median of the {loads} per-round ratios (badge over the baseline loaded \
             just before or after it) is {paired:.2}."
        ));
    }
    let parts = |line: &Value| -> String {
        let mut parts: Vec<String> = line
            .get("wire")
            .and_then(Value::as_object)
            .map(|all| {
                all.iter()
                    .map(|(key, bytes)| format!("{key} {}", bytes.as_f64().unwrap_or(0.0) as u64))
                    .collect()
            })
            .unwrap_or_default();
        parts.sort();
        parts.join(", ")
    };
    report.notes.push(format!(
        "Phone profile, bytes on the wire per resource (medians, B): badge page {}; baseline page {}; \
         verification page {}.",
        parts(widget),
        parts(base),
        parts(page)
    ));
    report.methods.push(format!(
        "Phone profile: the same script, pages, servers and proxy as \"HTML to verified badge\" \
         (`tests/js/bench-load.mjs`, release `zp serve` with demo data, sending what it sends today: \
         uncompressed until the server compresses its answers), but each cold load (new browser context, \
         empty cache) first sets, through the Chrome DevTools Protocol, \
         `Emulation.setCPUThrottlingRate` to {PHONE_CPU_RATE} and `Network.emulateNetworkConditions` to \
         {PHONE_LATENCY_MS} ms latency, {PHONE_DOWN_KBIT} kbit/s down and {PHONE_UP_KBIT} kbit/s up. The \
         badge's figure is the time at which the element's `data-zp-state` first turns `verified`, \
         median of {PHONE_LOADS} loads alternating with the web-sys baseline after {WARMUP} uncounted \
         round; bytes on the wire are Chromium's `encodedDataLength` of each response (headers and body \
         as received), summed per resource and taken as the median over the loads. The verification \
         page `/v/{{ID}}` of the same certificate is loaded {PHONE_LOADS} times on the same profile, \
         alternating with a one-line HTML page from the same origin, its baseline: the figure is the \
         `first-contentful-paint` entry of the Paint Timing API, and its bytes are the page's and its \
         style sheet's. Targets: the badge ≤ {} ms and ≤ {TARGET_RATIO:.2}× the baseline; page and CSS \
         ≤ 14 KiB on the wire.",
        super::thousands(PHONE_BADGE_TARGET_MS as u64)
    ));
    Ok(())
}

fn by_variant<'a>(lines: &'a [Value], figure: &str, variant: &str) -> Result<&'a Value> {
    lines
        .iter()
        .find(|line| {
            line.get("figure").and_then(Value::as_str) == Some(figure)
                && line.get("variant").and_then(Value::as_str) == Some(variant)
        })
        .with_context(|| format!("the browser benchmark printed no `{figure}` figure for the {variant}"))
}

fn phase_title(name: &str) -> String {
    format!("Where the time goes, {name} (median ms since navigation start at which each step ended)")
}

/// "HTML 12, loader 15, …" from the medians the script printed.
fn phases(line: &Value) -> String {
    let steps = [
        ("html", "HTML"),
        ("loader", "loader"),
        ("glue", "glue"),
        ("wasm_start", "wasm fetch starts"),
        ("wasm", "wasm fetched"),
        ("jwks_start", "JWKS fetch starts"),
        ("jwks", "JWKS fetched"),
        ("list_start", "status-list fetch starts"),
        ("list", "status list fetched"),
        ("verified", "verified"),
    ];
    let mut parts = Vec::new();
    for (key, title) in steps {
        if let Some(ms) = line.pointer(&format!("/phases_median_ms/{key}")).and_then(Value::as_f64) {
            parts.push(format!("{title} {ms:.1}"));
        }
    }
    // Marks the bundle set with `performance.mark` while someone looks into its loading.
    if let Some(Value::Object(all)) = line.pointer("/phases_median_ms") {
        let mut marks: Vec<(&str, f64)> =
            all.iter().filter_map(|(key, ms)| Some((key.strip_prefix("mark ")?, ms.as_f64()?))).collect();
        marks.sort_by(|a, b| a.1.total_cmp(&b.1));
        parts.extend(marks.into_iter().map(|(name, ms)| format!("mark {name} {ms:.1}")));
    }
    let bytes = |key: &str| line.pointer(&format!("/bytes/{key}")).and_then(Value::as_u64);
    if let (Some(glue), Some(wasm)) = (bytes("glue"), bytes("wasm")) {
        parts.push(format!("(glue {glue} B, wasm {wasm} B, uncompressed)"));
    }
    parts.join(", ")
}

fn run_node(root: &Path, title: &str, plan: &Value) -> Result<Vec<Value>> {
    println!("\n==> {title}");
    let started = Instant::now();
    let mut node = Command::new("node")
        .arg("bench-load.mjs")
        .current_dir(root.join("tests").join("js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("could not start node")?;
    let written = node.stdin.take().map(|mut stdin| stdin.write_all(plan.to_string().as_bytes()));
    let mut stdout = String::new();
    let read = node.stdout.take().map(|mut out| out.read_to_string(&mut stdout));
    let status = node.wait().context("waiting for node")?;
    if !status.success() {
        bail!("step failed: the browser benchmark ({status})");
    }
    written.transpose().context("writing the plan to node")?;
    read.transpose().context("reading node's output")?;
    println!("    done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(super::parse_lines(&stdout))
}

/// A free port on the loopback interface, for the proxy the issuer's base URL names. The servers
/// take their own ports (port 0).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A running `zp serve`, stopped (by its PID) when dropped.
struct Server {
    _process: Listening,
    addr: String,
    log: PathBuf,
}

impl Server {
    fn start(
        root: &Path,
        scratch: &Scratch,
        name: &str,
        base_url: &str,
        widget_dir: &str,
        demo: bool,
    ) -> Result<Server> {
        let data = scratch.path.join(name);
        let log = scratch.path.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(root.join("target").join("release").join("zp"));
        command.arg("--data-dir").arg(&data).args(["--base-url", base_url, "serve"]);
        command
            .args(["--bind", "127.0.0.1:0", "--rate-limit", "0", "--widget-dir"])
            .arg(root.join(widget_dir));
        if demo {
            command.arg("--demo");
        }
        command.env("ZP_LOG", "warn").stderr(log_file);
        match Listening::start(command, Duration::from_secs(120)) {
            Ok(process) => Ok(Server { addr: process.addr.to_string(), _process: process, log }),
            Err(err) => {
                let tail = log_tail(&log);
                bail!("the {name} server did not start ({err})\n{tail}")
            }
        }
    }

    /// The end of the server's log, for an error message.
    fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

/// The end of a server's log, for an error message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines.get(lines.len().saturating_sub(20)..).unwrap_or_default();
    format!("{}:\n{}", log.display(), tail.join("\n"))
}
