//! Server scale: resident memory with 100,000 certificates and cold start, against a bare axum server.
//!
//! The data directory comes from `server/examples/bench_seed.rs`; the baseline is
//! `server/examples/bench_bare.rs`. Both servers run from the release build, pinned to one CPU.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::http::{self, Load, Scratch, Spawned};
use super::{Report, Row, thousands};

const CERTIFICATES: usize = 100_000;
/// Cold starts of each server; the figure is the median.
const STARTS: usize = 5;
/// Seconds of lookups before memory is read again.
const LOAD_SECONDS: u32 = 10;

pub(crate) fn figures(root: &Path, report: &mut Report) -> Result<()> {
    http::ensure_wrk()?;
    http::build(root)?;
    let scratch = Scratch::new(http::bench_dir(root, "server"))?;
    let seeded = http::seed(root, &scratch, CERTIFICATES)?;
    let script = scratch.path.join("lookup.lua");
    std::fs::write(&script, http::LOOKUP_LUA).with_context(|| format!("writing {}", script.display()))?;
    let pinned = super::can_pin();
    let log = scratch.path.join("zp.log");

    println!("\n==> cold start, spawn to the first 200 from /healthz: {STARTS} starts of each, alternating");
    let (mut zp_starts, mut bare_starts) = (Vec::new(), Vec::new());
    for _ in 0..STARTS {
        let zp = Spawned::zp(root, &scratch.data, pinned, &log, &[])?;
        zp_starts.push(ms(zp.until_healthy()?));
        drop(zp);
        let bare = Spawned::bare(root, pinned, None)?;
        bare_starts.push(ms(bare.until_healthy()?));
    }
    let zp_start = http::median(&zp_starts)?;
    let bare_start = http::median(&bare_starts)?;
    println!("    zp serve {zp_start:.1} ms, bare {bare_start:.1} ms (medians)");

    println!(
        "\n==> resident memory: after start, and after {LOAD_SECONDS} s of lookups over every certificate"
    );
    let load = Load { script: &script, data: &seeded.ids, path: "/api/v1/certificates/{id}" };
    let zp = Spawned::zp(root, &scratch.data, pinned, &log, &[])?;
    let zp_mem = memory_under_load(&zp, &load, pinned)?;
    drop(zp);
    let bare = Spawned::bare(root, pinned, None)?;
    let bare_mem = memory_under_load(&bare, &load, pinned)?;
    drop(bare);

    let mib = |kib: u64| kib as f64 / 1024.0;
    report.rows.push(Row {
        figure: format!(
            "Resident memory after start, {} certificates (VmRSS)",
            thousands(CERTIFICATES as u64)
        ),
        value: format!("{:.1} MiB", mib(zp_mem.idle_rss)),
        baseline: format!("{:.1} MiB (bare axum server)", mib(bare_mem.idle_rss)),
        ratio: format!("{:.1}×", zp_mem.idle_rss as f64 / bare_mem.idle_rss as f64),
        target: "—".into(),
        met: "—".into(),
    });
    report.rows.push(Row {
        figure: format!("Resident memory after {LOAD_SECONDS} s of lookups: VmRSS / peak VmHWM"),
        value: format!("{:.1} / {:.1} MiB", mib(zp_mem.loaded_rss), mib(zp_mem.hwm)),
        baseline: format!(
            "{:.1} / {:.1} MiB (bare axum server)",
            mib(bare_mem.loaded_rss),
            mib(bare_mem.hwm)
        ),
        ratio: format!(
            "{:.1}× / {:.1}×",
            zp_mem.loaded_rss as f64 / bare_mem.loaded_rss as f64,
            zp_mem.hwm as f64 / bare_mem.hwm as f64
        ),
        target: "—".into(),
        met: "—".into(),
    });
    report.rows.push(Row {
        figure: format!(
            "Cold start, {} certificates: spawn → first 200 from `/healthz`",
            thousands(CERTIFICATES as u64)
        ),
        value: format!("{zp_start:.1} ms"),
        baseline: format!("{bare_start:.1} ms (bare axum server)"),
        ratio: format!("{:.1}×", zp_start / bare_start),
        target: "—".into(),
        met: "—".into(),
    });
    report.notes.push(format!(
        "Server scale: filling {} certificates took {:.1} s; the lookups under load ran at {:.0} /s on `zp serve` \
         and {:.0} /s on the bare server.",
        thousands(CERTIFICATES as u64),
        seeded.seconds,
        zp_mem.rps,
        bare_mem.rps
    ));
    report.methods.push(format!(
        "Server scale: `server/examples/bench_seed.rs` fills a fresh data directory with {certs} certificates \
         (as for the check API). Cold start: `zp --data-dir DIR serve --bind 127.0.0.1:0 --rate-limit 0` \
         (release build, pinned with `taskset -c {cpu}`) is spawned and `/healthz` polled every millisecond \
         from its `listening on` line; the figure is the time from spawn to the first 200, median of {STARTS} \
         starts, alternating with the same for `server/examples/bench_bare.rs`. The page cache is warm (the \
         fill just wrote the database). Memory: a fresh server of each kind (`zp serve` with its default \
         read cache of up to 16,384 certificates), `VmRSS` from \
         `/proc/PID/status` once `/healthz` answers, then again after `wrk -t1 -c64 -d{LOAD_SECONDS}s` of \
         `GET /api/v1/certificates/{{id}}` with IDs drawn at random from all {certs} (wrk pinned to CPU \
         {load_cpu}), with `VmHWM`, the peak, at that point.",
        certs = thousands(CERTIFICATES as u64),
        cpu = http::SERVER_CPU,
        load_cpu = http::LOAD_CPU,
    ));
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

struct Memory {
    idle_rss: u64,
    loaded_rss: u64,
    hwm: u64,
    rps: f64,
}

fn memory_under_load(server: &Spawned, load: &Load, pinned: bool) -> Result<Memory> {
    server.until_healthy()?;
    let idle_rss = status_kib(server.pid(), "VmRSS")?;
    let run = http::wrk(server, load, LOAD_SECONDS, pinned)?;
    Ok(Memory {
        idle_rss,
        loaded_rss: status_kib(server.pid(), "VmRSS")?,
        hwm: status_kib(server.pid(), "VmHWM")?,
        rps: run.rps,
    })
}

/// A `kB` line of `/proc/PID/status`.
fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in {path}"))
}
