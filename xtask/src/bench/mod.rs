//! `cargo xtask bench`: measures each figure beside a baseline taken in the same run, prints them
//! with their ratio, and rewrites BENCHMARKS.md. Times drift on a shared machine, so nothing here
//! passes or fails on a time: the command reports, and only fails when a measurement cannot run.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo, root, step};

mod browser;
mod http;
mod server;

/// What the status list's `lst` may weigh.
const SIZE_TARGET: u64 = 65_536;
/// What a browser may transfer for the badge (JS and wasm, brotli): 80 KiB, so that a phone on a
/// slow link shows the verdict in time (issue "Fast on a phone").
const BADGE_SIZE_TARGET: u64 = 81_920;
/// The CPU the single-core figures are pinned to (the last of two on the reference machine).
const PINNED_CPU: &str = "1";

/// One line of the table.
pub(super) struct Row {
    pub figure: String,
    pub value: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    pub met: String,
}

/// What the figure functions add to: table rows, how each figure is taken, and remarks.
#[derive(Default)]
pub(super) struct Report {
    pub rows: Vec<Row>,
    pub methods: Vec<String>,
    pub notes: Vec<String>,
}

type Figures = fn(&Path, &mut Report) -> Result<()>;

/// The groups of figures, in the order they run and appear.
const GROUPS: &[(&str, Figures)] = &[
    ("verify", verify_figures),
    ("http", http::figures),
    ("status-list", status_list_figures),
    ("search", search_figures),
    ("server", server::figures),
    ("widget", widget_figures),
    ("browser", browser::figures),
    ("mobile", browser::mobile_figures),
];

/// Runs every group and rewrites BENCHMARKS.md, or, given group names, runs only those and prints
/// their figures without touching the file.
pub fn bench(only: &[String]) -> Result<()> {
    let root = root();
    let command_line = command_line();
    let mut report = Report::default();

    for name in only {
        if !GROUPS.iter().any(|(group, _)| group == name) {
            let names: Vec<&str> = GROUPS.iter().map(|(group, _)| *group).collect();
            bail!("unknown benchmark group `{name}`; the groups are: {}", names.join(", "));
        }
    }
    for (name, figures) in GROUPS {
        if only.is_empty() || only.iter().any(|o| o == name) {
            figures(&root, &mut report)?;
        }
    }

    let table = render_table(&report.rows);
    println!("\n{table}");
    for note in &report.notes {
        println!("  * {note}");
    }
    if !only.is_empty() {
        println!("\n(only some groups ran: BENCHMARKS.md left as it was)");
        return Ok(());
    }
    let doc = document(&command_line, &table, &report);
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, doc).with_context(|| format!("writing {}", path.display()))?;
    println!("\nwrote {}", path.display());
    Ok(())
}

/// `taskset -c CPU` when the machine has it and more than one CPU, so that one-core figures stay on
/// one core; otherwise the command runs unpinned.
pub(super) fn pinned(program: &str) -> (Command, bool) {
    if can_pin() {
        let mut command = Command::new("taskset");
        command.args(["-c", PINNED_CPU, program]);
        (command, true)
    } else {
        (Command::new(program), false)
    }
}

pub(super) fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn verify_figures(root: &Path, report: &mut Report) -> Result<()> {
    step(
        "build the verification benchmark",
        cargo(root, &["bench", "-p", "zp-shared", "--bench", "verify", "--no-run"]),
    )?;
    let criterion = root.join("target").join("criterion").join("verify");
    for function in ["full", "raw"] {
        let estimates = criterion.join(function).join("new").join("estimates.json");
        if estimates.exists() {
            std::fs::remove_file(&estimates).with_context(|| format!("clearing {}", estimates.display()))?;
        }
    }
    let (mut command, is_pinned) = pinned(&cargo_program());
    command.current_dir(root).args(["bench", "-p", "zp-shared", "--bench", "verify", "--", "--noplot"]);
    step(
        if is_pinned {
            "token verification: full path and bare Ed25519 (criterion, pinned to one CPU)"
        } else {
            "token verification: full path and bare Ed25519 (criterion; taskset not found, unpinned)"
        },
        command,
    )?;
    let mean_ns = |function: &str| -> Result<f64> {
        let path = criterion.join(function).join("new").join("estimates.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let json: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        json.pointer("/mean/point_estimate")
            .and_then(Value::as_f64)
            .filter(|ns| *ns > 0.0)
            .with_context(|| format!("no mean.point_estimate in {}", path.display()))
    };
    let full = 1e9 / mean_ns("full")?;
    let raw = 1e9 / mean_ns("raw")?;
    report.rows.push(Row {
        figure: "Token verification, one core (`zp_shared::verify`)".into(),
        value: format!("{} /s", thousands(full.round() as u64)),
        baseline: format!("{} /s (bare `verify_strict`)", thousands(raw.round() as u64)),
        ratio: format!("{:.2}", full / raw),
        target: "—".into(),
        met: "— (library figure)".into(),
    });
    if !is_pinned {
        report.notes.push("The verification figures ran unpinned: `taskset` was not available.".into());
    }
    report.methods.push(
        "Token verification: criterion (`shared/benches/verify.rs`, group `verify`), mean time per \
         call turned into calls per second, run with `cargo bench -p zp-shared --bench verify -- \
         --noplot` pinned to one CPU with `taskset` when available. `full` is `zp_shared::verify` of a \
         typical certificate token (form, header, signature, claims, times, issuer); the baseline \
         `raw` is `ed25519_dalek::VerifyingKey::verify_strict` over the same token's signing input \
         and signature."
            .into(),
    );
    Ok(())
}

/// Whether `taskset` is there and the machine has more than one CPU, so that one-core figures
/// can stay on one core and the load generator on another.
pub(super) fn can_pin() -> bool {
    let has_taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    has_taskset && std::thread::available_parallelism().map_or(1, usize::from) > 1
}

/// Runs a benchmark through cargo (see [`run_lines`]), after printing its title.
pub(super) fn json_lines(root: &Path, title: &str, args: &[&str]) -> Result<Vec<Value>> {
    println!("\n==> {title}");
    run_lines(cargo(root, args), title)
}

/// Runs a benchmark program that prints one JSON object per line (progress on standard error,
/// passed through) and returns the objects; fails naming `what` if the program fails.
pub(super) fn run_lines(mut command: Command, what: &str) -> Result<Vec<Value>> {
    let output =
        command.stderr(Stdio::inherit()).output().with_context(|| format!("could not start: {what}"))?;
    if !output.status.success() {
        bail!("step failed: {what} ({})", output.status);
    }
    Ok(parse_lines(&String::from_utf8_lossy(&output.stdout)))
}

/// The JSON objects among `stdout`'s lines.
pub(super) fn parse_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

pub(super) fn figure<'a>(lines: &'a [Value], name: &str) -> Result<&'a Value> {
    lines
        .iter()
        .find(|line| line.get("figure").and_then(Value::as_str) == Some(name))
        .with_context(|| format!("the benchmark printed no `{name}` figure"))
}

pub(super) fn number(value: &Value, key: &str) -> Result<f64> {
    value.get(key).and_then(Value::as_f64).with_context(|| format!("no `{key}` in {value}"))
}

fn status_list_figures(root: &Path, report: &mut Report) -> Result<()> {
    let lines = json_lines(
        root,
        "status list at 1,000,000 entries (build, compress, sign)",
        &["bench", "-p", "zp-shared", "--bench", "scale"],
    )?;
    let list = figure(&lines, "status_list")?;
    let base = figure(&lines, "status_list_baseline")?;
    let (generate, base_ms) = (number(list, "generate_ms")?, number(base, "to_claim_ms")?);
    let (lst, base_lst) = (number(list, "lst_chars")?, number(base, "lst_chars")?);
    let not_valid = number(list, "not_valid")?;
    report.rows.push(Row {
        figure: format!(
            "Status list, 1,000,000 entries ({} not valid): build + `to_claim` + sign",
            thousands(not_valid as u64)
        ),
        value: format!("{generate:.1} ms"),
        baseline: format!("{base_ms:.2} ms (`to_claim` of an all-valid list)"),
        ratio: format!("{:.0}×", generate / base_ms),
        target: "—".into(),
        met: "—".into(),
    });
    report.rows.push(Row {
        figure: format!(
            "Status list, 1,000,000 entries: `lst` size (zlib {} B, base64url)",
            thousands(number(list, "zlib_bytes")? as u64)
        ),
        value: format!("{} B", thousands(lst as u64)),
        baseline: format!("{} B (all valid)", thousands(base_lst as u64)),
        ratio: format!("{:.0}×", lst / base_lst),
        target: format!("≤ {} B", thousands(SIZE_TARGET)),
        met: yes_no(lst as u64 <= SIZE_TARGET),
    });
    report.methods.push(
        "Status list: `shared/benches/scale.rs`, the median of 5 runs. A 2-bit list of 1,000,000 \
         entries with 1 % of entries (fixed seed) set to revoked or suspended is built, compressed \
         (`to_claim`: zlib, base64url) and signed; the baseline compresses an all-valid list of the \
         same length. The size is the `lst` text as carried in the status list token."
            .into(),
    );
    Ok(())
}

fn search_figures(root: &Path, report: &mut Report) -> Result<()> {
    let lines = json_lines(
        root,
        "registry search at 100,000 certificates on SQLite (temporary database)",
        &["run", "--release", "-p", "zp-server", "--example", "bench_search"],
    )?;
    let search = figure(&lines, "search")?;
    let base = figure(&lines, "search_baseline")?;
    let (p50, p99) = (number(search, "p50_ms")?, number(search, "p99_ms")?);
    let (base50, base99) = (number(base, "p50_ms")?, number(base, "p99_ms")?);
    report.rows.push(Row {
        figure: "Registry search, 100,000 certificates, SQLite: 1,000 one-word queries, p50 / p99".into(),
        value: format!("{p50:.2} / {p99:.2} ms"),
        baseline: format!("{base50:.2} / {base99:.2} ms (`certificate(id)` lookups)"),
        ratio: format!("{:.0}× / {:.0}×", p50 / base50, p99 / base99),
        target: "p99 ≤ 10 ms".into(),
        met: yes_no(p99 <= 10.0),
    });
    report.methods.push(
        "Registry search: `server/examples/bench_search.rs` fills a temporary SQLite database with \
         100,000 certificates (entity, one to three products, folded search text) through the \
         store's transactions, then times 1,000 `Store::search` calls with one realistic word each \
         (a town, a product, a word of a name; 20 results a page) and, as the baseline, 1,000 \
         `Store::certificate(id)` lookups by primary key. Each search returns a page with entities, products and tokens, as the registry shows it; words that match many certificates are found by walking the validity-end index and words that match fewer than 1,000 by SQLite's trigram index (FTS5)."
            .into(),
    );
    Ok(())
}

/// The smallest Yew badge (markup, two fetches, no verification), built as the badge is.
const YEW_FLOOR: crate::Bundle = crate::Bundle {
    package: "zp-bench-yew-floor",
    loader: "widget/assets/zp-badge.js",
    dist: "target/bench/yew-floor/dist",
};

fn widget_figures(root: &Path, report: &mut Report) -> Result<()> {
    crate::tools::setup_build(root)?;
    let (raw, gzip, brotli) = crate::build_bundle(root, crate::WIDGET)?;
    let (_, _, floor) = crate::build_bundle(root, YEW_FLOOR)?;
    let brotli = brotli as u64;
    report.rows.push(Row {
        figure: "Badge transferred size: loader + glue + wasm, raw / gzip -9 / brotli -q 11".into(),
        value: format!("{} / {} / {} B", thousands(raw as u64), thousands(gzip as u64), thousands(brotli)),
        baseline: format!("{} B brotli (Yew alone: `bench/yew-floor`)", thousands(floor as u64)),
        ratio: format!("{:.2}", brotli as f64 / floor as f64),
        target: format!("≤ {} B brotli", thousands(BADGE_SIZE_TARGET)),
        met: yes_no(brotli <= BADGE_SIZE_TARGET),
    });
    if crate::tools::wasm_opt(root).is_none() {
        report.notes.push(
            "wasm-opt was not installed: the badge size is wasm-bindgen's output, not optimised.".into(),
        );
    }
    report.methods.push(
        "Badge size: `cargo xtask widget`'s bundle in `target/widget/dist` (`zp-badge.js`, \
         `zp-widget.js`, `zp-widget_bg.wasm`), each compressed with gzip at level 9 and brotli at \
         quality 11 and summed. The baseline is what Yew alone costs: `bench/yew-floor`, a Yew \
         component with the badge's markup that fetches the keys and a status list but verifies \
         nothing, built by the same steps (profile `widget`, wasm-bindgen, wasm-opt -Os, short names \
         between module and glue) with the same loader."
            .into(),
    );
    Ok(())
}

pub(super) fn yes_no(met: bool) -> String {
    if met { "yes".into() } else { "**no**".into() }
}

/// 1234567 → "1,234,567".
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn render_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| figure | value | baseline (same run) | ratio | target | met? |\n|---|---:|---:|---:|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.figure, row.value, row.baseline, row.ratio, row.target, row.met
        );
    }
    out
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", args.join(" "))
}

/// CPU model, CPU count and memory, from /proc where it exists.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map_or_else(|| "unknown CPU".to_owned(), |(_, model)| model.trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|line| line.starts_with("MemTotal:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or_else(
            || "unknown memory".to_owned(),
            |kib| format!("{:.1} GiB memory", kib as f64 / 1_048_576.0),
        );
    format!("{model}, {cpus} CPUs available (nproc), {memory}")
}

/// Today's date (UTC) as YYYY-MM-DD.
fn today() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn document(command_line: &str, table: &str, report: &Report) -> String {
    let mut doc = String::from("# Benchmarks\n\n");
    doc.push_str(
        "Generated by `cargo xtask bench`; do not edit by hand. Each figure is measured beside a \
         baseline in the same run, so the ratio means more than the absolute time, which drifts on \
         a shared machine. No figure is asserted; the command reports.\n\n",
    );
    let _ = writeln!(doc, "- Command: `{command_line}`");
    let _ = writeln!(doc, "- Date: {} (UTC)", today());
    let _ = writeln!(doc, "- Machine: {}\n", machine());
    doc.push_str(table);
    doc.push('\n');
    doc.push_str("How each figure is taken:\n\n");
    for method in &report.methods {
        let _ = writeln!(doc, "- {method}");
    }
    for note in &report.notes {
        let _ = writeln!(doc, "- Note: {note}");
    }
    doc
}
