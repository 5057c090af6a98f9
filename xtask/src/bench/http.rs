//! Check API load: the lookup and verify endpoints against a bare axum handler, under wrk.
//!
//! `zp serve` runs from the release build on a data directory that `server/examples/bench_seed.rs`
//! filled with 10,000 signed certificates; the baselines are `server/examples/bench_bare.rs`, a bare
//! axum handler on the same runtime, once answering the same bytes and headers as a real lookup and
//! once a fixed 200-byte body. Servers are pinned to one CPU, wrk to the other. The helpers
//! here (scratch directory, process guard, a tiny HTTP client) also serve the `server` group.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use zp_tests::Listening;

use super::{Report, Row, can_pin, figure, number, run_lines, thousands};

pub(super) use crate::scratch::Scratch;
use crate::{cargo, step};

/// Certificates in the registry under load.
const CERTIFICATES: usize = 10_000;
/// wrk's open connections.
const CONNECTIONS: u32 = 64;
/// Seconds of each counted wrk run, and of the warm-up run before the first round.
const SECONDS: u32 = 10;
const WARMUP_SECONDS: u32 = 3;
const ROUNDS: usize = 3;
/// Seconds of bare `verify_strict` per round for the verify endpoint's baseline.
const RAW_SECONDS: &str = "3";
/// Why the lookup and verify figures carry no target (they had 0.85× a bare handler and 0.85× bare
/// `verify_strict`): the method text says it.
const WATCH_REASON: &str = "a 0.85× target against a bare handler, or against bare `verify_strict`, is \
     beyond what HTTP allows and beyond any real load: 70 k lookups/s on one core";
/// Where the servers run and where the load generator runs (two CPUs on the reference machine).
pub(super) const SERVER_CPU: &str = "1";
pub(super) const LOAD_CPU: &str = "0";

pub(crate) fn figures(root: &Path, report: &mut Report) -> Result<()> {
    ensure_wrk()?;
    build(root)?;
    let scratch = Scratch::new(bench_dir(root, "http"))?;
    let seeded = seed(root, &scratch, CERTIFICATES)?;
    let lookup_script = scratch.write("lookup.lua", LOOKUP_LUA)?;
    let verify_script = scratch.write("verify.lua", VERIFY_LUA)?;
    let warm_script = scratch.write("warm.lua", WARM_LUA)?;
    let pinned = can_pin();

    let zp = Spawned::zp(root, &scratch.data, pinned, &scratch.path.join("zp.log"), &[])?;
    // The same server without its read cache: what every lookup costs on PostgreSQL, and on a miss.
    let uncached = Spawned::zp(
        root,
        &scratch.data,
        pinned,
        &scratch.path.join("zp-uncached.log"),
        &["--read-cache", "0"],
    )?;
    let bare = Spawned::bare(root, pinned, None)?;
    check_answers(&zp, &seeded)?;
    check_answers(&uncached, &seeded)?;
    // The fair baseline of the lookup: a bare handler answering exactly what a lookup answers.
    let captured = scratch.write("lookup-response.txt", &lookup_response(&zp, &seeded)?)?;
    let same = Spawned::bare(root, pinned, Some(&captured))?;

    let lookup = Load { script: &lookup_script, data: &seeded.ids, path: "/api/v1/certificates/{id}" };
    let verify = Load { script: &verify_script, data: &seeded.tokens, path: "/api/v1/verify" };
    let warm = Load { script: &warm_script, data: &seeded.ids, path: "/api/v1/certificates/{id}" };
    println!("\n==> check API under wrk: {ROUNDS} rounds of {SECONDS} s, {CONNECTIONS} connections");
    // Every ID once at least (in order), so that the rounds measure the steady state.
    for (server, load) in [(&bare, &warm), (&same, &warm), (&zp, &warm), (&zp, &verify)] {
        wrk(server, load, WARMUP_SECONDS, pinned)?;
    }
    let (mut bare_runs, mut lookup_runs, mut verify_runs, mut raw_rates, mut uncached_runs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut same_runs = Vec::new();
    for round in 1..=ROUNDS {
        // Interleaved, so that drift on a shared machine touches every figure alike.
        bare_runs.push(wrk(&bare, &lookup, SECONDS, pinned)?);
        same_runs.push(wrk(&same, &lookup, SECONDS, pinned)?);
        lookup_runs.push(wrk(&zp, &lookup, SECONDS, pinned)?);
        verify_runs.push(wrk(&zp, &verify, SECONDS, pinned)?);
        uncached_runs.push(wrk(&uncached, &lookup, SECONDS, pinned)?);
        raw_rates.push(raw_verify(root, &scratch, &seeded, pinned)?);
        let last = |runs: &[WrkRun]| runs.last().map_or(0.0, |r| r.rps);
        println!(
            "    round {round}: bare {:.0} /s, bare with the lookup's bytes {:.0} /s, lookup {:.0} /s, verify \
             {:.0} /s, lookup without cache {:.0} /s, raw verify_strict {:.0} /s",
            last(&bare_runs),
            last(&same_runs),
            last(&lookup_runs),
            last(&verify_runs),
            last(&uncached_runs),
            raw_rates.last().copied().unwrap_or_default()
        );
    }
    drop(zp);
    drop(uncached);
    drop(bare);
    drop(same);

    let bare_med = WrkRun::median(&bare_runs)?;
    let same_med = WrkRun::median(&same_runs)?;
    let lookup_med = WrkRun::median(&lookup_runs)?;
    let verify_med = WrkRun::median(&verify_runs)?;
    let uncached_med = WrkRun::median(&uncached_runs)?;
    let raw = median(&raw_rates)?;
    let lookup_figure = format!(
        "Check API `GET /api/v1/certificates/{{id}}`, SQLite, {} certificates: requests/s",
        thousands(CERTIFICATES as u64)
    );
    report.rows.push(rate_row(lookup_figure, lookup_med.rps, same_med.rps, SAME_BYTES));
    report.rows.push(rate_row(
        "Check API `GET /api/v1/certificates/{id}` against a fixed 200-byte answer: requests/s".into(),
        lookup_med.rps,
        bare_med.rps,
        "bare axum handler, 200-byte body",
    ));
    report.rows.push(latency_row("Check API `GET /api/v1/certificates/{id}`", &lookup_med, &same_med));
    report.rows.push(Row {
        figure: "Check API `GET /api/v1/certificates/{id}` with the read cache off (`--read-cache 0`): \
                 requests/s, p50 / p99"
            .into(),
        value: format!(
            "{} /s, {:.2} / {:.2} ms",
            thousands(uncached_med.rps.round() as u64),
            uncached_med.p50_ms,
            uncached_med.p99_ms
        ),
        baseline: format!("{} /s ({SAME_BYTES})", thousands(same_med.rps.round() as u64)),
        ratio: format!("{:.2}", uncached_med.rps / same_med.rps),
        target: "—".into(),
        met: "—".into(),
    });
    let verify_figure = "Verify API `POST /api/v1/verify` (full verification per request): requests/s";
    report.rows.push(rate_row(verify_figure.into(), verify_med.rps, raw, "bare `verify_strict`, one core"));
    report.rows.push(latency_row("Verify API `POST /api/v1/verify`", &verify_med, &same_med));
    // What one core can give the verify endpoint at best: the signature check plus the cost of a
    // bare HTTP exchange, both measured here.
    let ceiling = 1.0 / (1.0 / raw + 1.0 / bare_med.rps);
    report.notes.push(format!(
        "Verify API: one core doing nothing but bare `verify_strict` ({:.0} /s) and a bare axum exchange \
         ({:.0} /s) per request would reach {:.0} /s, {:.2}× bare `verify_strict`; the figure above is {:.2} \
         of that.",
        raw,
        bare_med.rps,
        ceiling,
        ceiling / raw,
        verify_med.rps / ceiling
    ));
    report.notes.push(format!(
        "Server CPU time per request (user and system time of all the server's threads from \
         `/proc/PID/stat` over each run, median of the rounds), which other work on a shared machine \
         hardly moves: bare handler {:.1} µs ({:.1} µs with the lookup's bytes), lookup {:.1} µs \
         (read cache off: {:.1} µs), verify {:.1} µs; bare `verify_strict` takes {:.1} µs.",
        bare_med.cpu_us,
        same_med.cpu_us,
        lookup_med.cpu_us,
        uncached_med.cpu_us,
        verify_med.cpu_us,
        1e6 / raw
    ));
    if !pinned {
        report.notes.push(
            "The HTTP figures ran unpinned: `taskset` or a second CPU was not available, so the server and \
             wrk shared the CPUs."
                .into(),
        );
    }
    report.methods.push(format!(
        "Check API: `server/examples/bench_seed.rs` fills a fresh data directory with {certs} certificates \
         (one entity each, one to three products, a token signed by the issuer's key over \
         `Issuer::claims`) through the store's transactions. On it run, each pinned with `taskset -c \
         {SERVER_CPU}`: `zp serve --rate-limit 0` (release build, `ZP_LOG` unset: start-up lines and \
         errors as JSON to a file, requests at debug level, so not written); a second `zp serve \
         --rate-limit 0 --read-cache 0`, for the lookup without the read cache; and \
         `server/examples/bench_bare.rs`, a bare axum handler on the same tokio runtime \
         (multi-threaded, `axum::serve`), twice: answering every request with the headers and body of \
         one real lookup, captured from the server before the runs (the lookup's fair baseline: the same \
         bytes on the wire, without the lookup), and answering a fixed 200-byte JSON body. The rate limit is off because every request \
         comes from one client IP, which the default limit (50 /s) would throttle. wrk (Debian's package, \
         installed when missing) runs pinned to CPU {LOAD_CPU} as `wrk -t1 -c{CONNECTIONS} \
         -d{SECONDS}s --latency -s SCRIPT`: the lookup script requests `GET /api/v1/certificates/{{id}}` \
         with an ID drawn at random from all {certs}, the verify script `POST /api/v1/verify` with \
         `{{\"token\": …}}` drawn from 1,000 of their tokens; the bare handlers get the lookup script. A \
         {WARMUP_SECONDS} s warm-up requests every ID in order (from the bare handler and the cached \
         server) and verifies tokens, so the rounds see the steady state of the read cache; then {ROUNDS} \
         rounds run the two bare handlers, lookup, verify and the uncached lookup in turn, and each figure is the median of \
         its rounds (p50 and p99 as wrk reports them). A run with any non-2xx answer or socket error \
         fails the command. The verify baseline is `server/examples/bench_raw_verify.rs`: \
         `ed25519_dalek::VerifyingKey::verify_strict` over the same tokens' signing input and signature, \
         on one thread pinned to CPU {SERVER_CPU}, {RAW_SECONDS} s after each round of wrk, median of \
         {ROUNDS}.",
        certs = thousands(CERTIFICATES as u64),
    ));
    report.methods.push(format!(
        "The check API lookup and `POST /api/v1/verify` are watch figures, without a target (they had \
         0.85× a bare 200-byte handler and 0.85× bare `verify_strict`): {WATCH_REASON}. The lookup is \
         compared first with the bare handler that sends its very bytes and headers."
    ));
    Ok(())
}

pub(super) const LOOKUP_LUA: &str = r#"-- GET /api/v1/certificates/{id}, an ID drawn at random from the file given after `--`.
local requests = {}
function init(args)
  for id in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("GET", "/api/v1/certificates/" .. id)
  end
  math.randomseed(7)
end
function request()
  return requests[math.random(#requests)]
end
"#;

const WARM_LUA: &str = r#"-- GET /api/v1/certificates/{id} for every ID of the file given after `--`, in order, over and over.
local requests = {}
local next_index = 0
function init(args)
  for id in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("GET", "/api/v1/certificates/" .. id)
  end
end
function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
"#;

const VERIFY_LUA: &str = r#"-- POST /api/v1/verify, a token drawn at random from the file given after `--`.
local requests = {}
function init(args)
  for token in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("POST", "/api/v1/verify",
      { ["Content-Type"] = "application/json" }, '{"token":"' .. token .. '"}')
  end
  math.randomseed(7)
end
function request()
  return requests[math.random(#requests)]
end
"#;

/// The lookup's fair baseline, as the rows name it.
const SAME_BYTES: &str = "bare axum handler, the lookup's bytes and headers";

/// A row of requests per second against a baseline's: a watch figure, without a target (see
/// [`WATCH_REASON`]).
fn rate_row(figure: String, rps: f64, baseline: f64, baseline_name: &str) -> Row {
    Row {
        figure,
        value: format!("{} /s", thousands(rps.round() as u64)),
        baseline: format!("{} /s ({baseline_name})", thousands(baseline.round() as u64)),
        ratio: format!("{:.2}", rps / baseline),
        target: "— (watch)".into(),
        met: "—".into(),
    }
}

/// A row of p50 / p99 latency of `what` against the bare handler that sends the lookup's bytes.
fn latency_row(what: &str, run: &WrkRun, bare: &WrkRun) -> Row {
    Row {
        figure: format!("{what}: latency p50 / p99"),
        value: format!("{:.2} / {:.2} ms", run.p50_ms, run.p99_ms),
        baseline: format!("{:.2} / {:.2} ms ({SAME_BYTES})", bare.p50_ms, bare.p99_ms),
        ratio: format!("{:.1}× / {:.1}×", run.p50_ms / bare.p50_ms, run.p99_ms / bare.p99_ms),
        target: "—".into(),
        met: "—".into(),
    }
}

/// Debian's wrk, installed when missing.
pub(super) fn ensure_wrk() -> Result<()> {
    let have =
        Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if have { Ok(()) } else { crate::tools::apt_install(&["wrk"]) }
}

/// The `zp` binary and the benchmark examples, release profile.
pub(super) fn build(root: &Path) -> Result<()> {
    step(
        "build the server and its benchmark examples (release)",
        cargo(root, &["build", "--release", "-p", "zp-server", "--bin", "zp", "--examples"]),
    )
}

fn release(root: &Path, name: &str) -> PathBuf {
    root.join("target").join("release").join(name)
}

fn example(root: &Path, name: &str) -> PathBuf {
    root.join("target").join("release").join("examples").join(name)
}

/// `program` pinned to `cpu` when pinning is possible.
pub(super) fn command_on(cpu: &str, program: &Path, pinned: bool) -> Command {
    if pinned {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(cpu).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Where a benchmark group keeps its data: under `target/`, by group and process.
pub(super) fn bench_dir(root: &Path, group: &str) -> PathBuf {
    root.join("target").join(format!("bench-{group}-{}", std::process::id()))
}

/// What `bench_seed` wrote.
pub(super) struct Seeded {
    /// Every certificate ID, one a line.
    pub ids: PathBuf,
    /// Up to 1,000 tokens, one a line.
    pub tokens: PathBuf,
    pub seconds: f64,
}

pub(super) fn seed(root: &Path, scratch: &Scratch, certificates: usize) -> Result<Seeded> {
    let title = format!("fill a data directory with {} certificates", thousands(certificates as u64));
    println!("\n==> {title}");
    let mut command = Command::new(example(root, "bench_seed"));
    command.arg(&scratch.data).arg(certificates.to_string()).arg(&scratch.path);
    let lines = run_lines(command, &title)?;
    let seconds = number(figure(&lines, "seed")?, "fill_s")?;
    println!("    done in {seconds:.1} s");
    Ok(Seeded { ids: scratch.path.join("ids.txt"), tokens: scratch.path.join("tokens.txt"), seconds })
}

/// A server process, killed (by its PID) and reaped when dropped, on every path out.
pub(super) struct Spawned {
    process: Listening,
    pub addr: SocketAddr,
    pub name: &'static str,
}

impl Spawned {
    /// `zp serve` on `data` with `extra` options, rate limit and connection cap off (wrk's
    /// connections all come from one address), logs (JSON lines, default level) into `log`.
    pub fn zp(root: &Path, data: &Path, pinned: bool, log: &Path, extra: &[&str]) -> Result<Self> {
        let mut command = command_on(SERVER_CPU, &release(root, "zp"), pinned);
        command
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--bind", "127.0.0.1:0", "--rate-limit", "0", "--max-connections-per-ip", "0"])
            .args(extra)
            .env_remove("ZP_READ_CACHE")
            .env_remove("ZP_LOG")
            .env_remove("ZP_DATABASE_URL")
            .env_remove("ZP_KEYS_DIR")
            .env_remove("ZP_BASE_URL")
            .stderr(Stdio::from(
                std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?,
            ));
        Self::start("zp serve", command)
    }

    /// The bare axum handler: a fixed 200-byte body, or the response captured in `like` (see
    /// [`lookup_response`]).
    pub fn bare(root: &Path, pinned: bool, like: Option<&Path>) -> Result<Self> {
        let mut command = command_on(SERVER_CPU, &example(root, "bench_bare"), pinned);
        command.arg("127.0.0.1:0").args(like).stderr(Stdio::inherit());
        Self::start("bench_bare", command)
    }

    /// Spawns the server and waits for its `listening on http://ADDR` line.
    fn start(name: &'static str, command: Command) -> Result<Self> {
        let process = Listening::start(command, Duration::from_secs(120))
            .with_context(|| format!("starting {name}"))?;
        Ok(Spawned { addr: process.addr, name, process })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Time from spawning to the first 200 from `/healthz`, polling every millisecond.
    pub fn until_healthy(&self) -> Result<Duration> {
        self.process
            .until_ok("/healthz", Duration::from_secs(60))
            .with_context(|| format!("{} did not become healthy", self.name))
    }
}

/// One HTTP/1.1 request on a fresh connection: the status and the body.
pub(super) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = json.unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if json.is_some() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let status =
        answer.split_whitespace().nth(1).and_then(|code| code.parse().ok()).with_context(|| {
            format!("no HTTP status in {:?}", answer.chars().take(80).collect::<String>())
        })?;
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// Before measuring: a lookup and a verification answer as a valid certificate should.
fn check_answers(zp: &Spawned, seeded: &Seeded) -> Result<()> {
    let id = first_line(&seeded.ids)?;
    let (status, body) = request(zp.addr, "GET", &format!("/api/v1/certificates/{id}"), None)?;
    if status != 200 || !body.contains("\"status\":\"valid\"") {
        bail!("GET /api/v1/certificates/{id} answered {status}: {body}");
    }
    let token = first_line(&seeded.tokens)?;
    let (status, body) =
        request(zp.addr, "POST", "/api/v1/verify", Some(&format!("{{\"token\":\"{token}\"}}")))?;
    if status != 200 || !body.contains("\"verdict\":\"valid\"") {
        bail!("POST /api/v1/verify answered {status}: {body}");
    }
    Ok(())
}

/// One real lookup's answer as `bench_bare` replays it: its header lines, a blank line, its body.
fn lookup_response(zp: &Spawned, seeded: &Seeded) -> Result<String> {
    let id = first_line(&seeded.ids)?;
    let path = format!("/api/v1/certificates/{id}");
    let mut stream = TcpStream::connect_timeout(&zp.addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", zp.addr)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer.split_once("\r\n\r\n").with_context(|| format!("GET {path}: no header end"))?;
    let mut lines = head.lines();
    if !lines.next().is_some_and(|status| status.contains(" 200 ")) {
        bail!("GET {path} did not answer 200: {head}");
    }
    let headers: Vec<&str> = lines.collect();
    if headers.iter().any(|line| line.to_ascii_lowercase().starts_with("transfer-encoding")) {
        bail!("GET {path} answered in chunks; the replay needs a plain body");
    }
    Ok(format!("{}\n\n{body}", headers.join("\n")))
}

fn first_line(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines().next().map(str::to_owned).with_context(|| format!("{} is empty", path.display()))
}

/// What wrk loads a server with: a script and the file it draws from.
pub(super) struct Load<'a> {
    pub script: &'a Path,
    pub data: &'a Path,
    pub path: &'a str,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct WrkRun {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The server's CPU time (all its threads, user and system) per request, in microseconds:
    /// unlike requests per second, hardly moved by other work on a shared machine.
    pub cpu_us: f64,
}

impl WrkRun {
    /// Each figure's median over the runs, taken separately.
    fn median(runs: &[WrkRun]) -> Result<WrkRun> {
        Ok(WrkRun {
            rps: median(&runs.iter().map(|r| r.rps).collect::<Vec<_>>())?,
            p50_ms: median(&runs.iter().map(|r| r.p50_ms).collect::<Vec<_>>())?,
            p99_ms: median(&runs.iter().map(|r| r.p99_ms).collect::<Vec<_>>())?,
            cpu_us: median(&runs.iter().map(|r| r.cpu_us).collect::<Vec<_>>())?,
        })
    }
}

pub(super) fn median(values: &[f64]) -> Result<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().context("no values to take a median of")
}

/// One wrk run; fails on any non-2xx answer or socket error.
pub(super) fn wrk(server: &Spawned, load: &Load, seconds: u32, pinned: bool) -> Result<WrkRun> {
    let mut command = command_on(LOAD_CPU, Path::new("wrk"), pinned);
    command
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(load.script)
        .arg(format!("http://{}", server.addr))
        .arg("--")
        .arg(load.data);
    let cpu_before = cpu_seconds(server.pid())?;
    let output = command.stderr(Stdio::inherit()).output().context("could not start wrk")?;
    let cpu = cpu_seconds(server.pid())? - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout);
    let what = format!("wrk against {} ({})", server.name, load.path);
    if !output.status.success() {
        bail!("{what} failed ({}):\n{text}", output.status);
    }
    let (run, requests) = parse_wrk(&text).with_context(|| format!("{what}:\n{text}"))?;
    Ok(WrkRun { cpu_us: cpu * 1e6 / requests, ..run })
}

/// User and system CPU time of a process and all its threads so far, from `/proc/PID/stat`.
pub(super) fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        text.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime, fields 14 and 15 of the line: 12 and 13 after the name. Linux reports them
    // in USER_HZ, 100 per second on every architecture it exposes to user space this way.
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok((user + system) / 100.0),
        _ => bail!("no utime and stime in {path}"),
    }
}

/// The figures of one run, and how many requests it made.
fn parse_wrk(text: &str) -> Result<(WrkRun, f64)> {
    let mut rps = None;
    let mut requests = None;
    let (mut p50, mut p99) = (None, None);
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            rps = value.trim().parse::<f64>().ok();
        } else if let Some(value) = line.strip_prefix("50%") {
            p50 = duration_ms(value.trim());
        } else if let Some(value) = line.strip_prefix("99%") {
            p99 = duration_ms(value.trim());
        } else if let Some((count, _)) = line.split_once(" requests in ") {
            requests = count.trim().parse::<f64>().ok();
        } else if line.starts_with("Non-2xx or 3xx responses") {
            bail!("answers other than 2xx: {line}");
        } else if let Some(errors) = line.strip_prefix("Socket errors:") {
            bail!("socket errors: {}", errors.trim());
        }
    }
    match (rps, p50, p99, requests) {
        (Some(rps), Some(p50_ms), Some(p99_ms), Some(requests)) if rps > 0.0 && requests > 0.0 => {
            Ok((WrkRun { rps, p50_ms, p99_ms, cpu_us: 0.0 }, requests))
        }
        _ => bail!("no requests/s, request count or latency distribution in wrk's output"),
    }
}

/// wrk's `1.23ms`, `850.00us`, `1.02s` in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("m") {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// Bare `verify_strict` per second on the server's CPU, over the seeded tokens: one round.
fn raw_verify(root: &Path, scratch: &Scratch, seeded: &Seeded, pinned: bool) -> Result<f64> {
    let mut command = command_on(SERVER_CPU, &example(root, "bench_raw_verify"), pinned);
    command.arg(&scratch.data).arg(&seeded.tokens).args([RAW_SECONDS, "1"]);
    let lines = run_lines(command, "bench_raw_verify")?;
    let rates = figure(&lines, "raw_verify")?
        .get("per_second")
        .and_then(serde_json::Value::as_array)
        .context("bench_raw_verify printed no rates")?;
    let rates: Vec<f64> = rates.iter().filter_map(serde_json::Value::as_f64).collect();
    median(&rates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:1\n  1 threads and 64 connections\n  \
                    Latency Distribution\n     50%  850.00us\n     75%    1.20ms\n     90%    2.00ms\n     \
                    99%    1.02s\n  100 requests in 10.00s, 1.00MB read\nRequests/sec:   4763.49\n";
        let (run, requests) = parse_wrk(text).unwrap();
        assert_eq!(run.rps, 4763.49);
        assert_eq!(requests, 100.0);
        assert!((run.p50_ms - 0.85).abs() < 1e-9);
        assert!((run.p99_ms - 1020.0).abs() < 1e-9);
        assert!(parse_wrk(&format!("{text}  Non-2xx or 3xx responses: 3\n")).is_err());
        assert!(
            parse_wrk(&format!("{text}  Socket errors: connect 0, read 1, write 0, timeout 0\n")).is_err()
        );
    }
}
