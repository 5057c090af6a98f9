//! The API contract step of `cargo xtask test`: schemathesis, with every check, against a real
//! `zp serve` reading its own OpenAPI document. It fails on any failure: a server error, an answer
//! the document does not describe, a request the document forbids that the server accepts, or one
//! it allows that the server refuses (within `tests/schemathesis.toml`'s stated exceptions).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use zp_tests::Listening;

use crate::scratch::Scratch;
use crate::{cargo, step, tools};

/// Test cases per operation and phase: enough to reach every documented rule in about a minute on
/// two cores.
const MAX_EXAMPLES: &str = "20";

pub fn run(root: &Path) -> Result<()> {
    let schemathesis = tools::ensure_schemathesis(root)?;
    step("build the server (debug)", cargo(root, &["build", "-p", "zp-server", "--bin", "zp"]))?;
    let zp = root.join("target").join("debug").join("zp");
    let scratch = Scratch::new(std::env::temp_dir().join(format!("zp-schemathesis-{}", std::process::id())))?;
    let server = Server::start(&zp, &scratch)?;
    let key = cli_json(&zp, &scratch, &["api-key", "create", "--name", "schemathesis"])?;
    let key = string(&key, "key")?;
    // One entity and one certificate, so that the operations on a certificate or an entity meet a
    // real one (see the configuration file) rather than only 404.
    let entity = cli_json(
        &zp,
        &scratch,
        &[
            "entity",
            "create",
            "--name",
            "Spółdzielnia Socjalna „Kontrakt”",
            "--legal-form",
            "social_cooperative",
            "--domain",
            "kontrakt.example.pl",
            "--nip",
            "774-000-14-54",
        ],
    )?;
    let entity = string(&entity, "id")?;
    let certificate = cli_json(
        &zp,
        &scratch,
        &["cert", "issue", "--entity", &entity, "--product", "Powidła=5901234123457"],
    )?;
    let certificate = string(&certificate, "id")?;

    let mut command = Command::new(schemathesis);
    command
        .arg("--config-file")
        .arg(root.join("tests").join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.url))
        .args(["--checks", "all", "--max-examples", MAX_EXAMPLES, "--request-timeout", "10"])
        .arg("--no-color")
        // Its example database (failures found before are tried first) stays in target/.
        .current_dir(root.join("target"))
        .env("ZP_ADMIN_KEY", key)
        .env("ZP_ENTITY_ID", entity)
        .env("ZP_CERTIFICATE_ID", certificate);
    let outcome = step("API contract: schemathesis, all checks, against zp serve", command);
    drop(server);
    outcome
}

fn string(value: &serde_json::Value, name: &str) -> Result<String> {
    value[name].as_str().map(str::to_owned).with_context(|| format!("no `{name}` in {value}"))
}

/// Runs `zp --data-dir <scratch> <args>`, which must succeed and print JSON.
fn cli_json(zp: &Path, scratch: &Scratch, args: &[&str]) -> Result<serde_json::Value> {
    let output = Command::new(zp)
        .arg("--data-dir")
        .arg(&scratch.data)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running zp {}", args.join(" ")))?;
    if !output.status.success() {
        bail!("zp {} failed ({})", args.join(" "), output.status);
    }
    serde_json::from_slice(&output.stdout).with_context(|| format!("zp {} printed no JSON", args.join(" ")))
}

/// `zp serve` on the scratch data directory, stopped (by its PID) when dropped.
struct Server {
    _process: Listening,
    /// Where it listens, e.g. `http://127.0.0.1:40123`.
    url: String,
}

impl Server {
    fn start(zp: &Path, scratch: &Scratch) -> Result<Self> {
        println!("\n==> start zp serve on a free port with a temporary data directory");
        let mut command = Command::new(zp);
        command
            .arg("--data-dir")
            .arg(&scratch.data)
            // The per-client rate limit is not part of the contract under test, and schemathesis
            // sends hundreds of requests a second from one address: with the limit on, the
            // answers would be 429 rather than what the checks are about. So would the admin
            // routes' answers once its requests without a valid key (the checks of
            // authentication) had started the throttle of failed authentications.
            .args(["serve", "--bind", "127.0.0.1:0", "--rate-limit", "0", "--admin-auth-failures", "0"])
            .env("ZP_LOG", "warn")
            .env_remove("ZP_DATABASE_URL")
            .env_remove("ZP_KEYS_DIR")
            .env_remove("ZP_BASE_URL")
            .env_remove("ZP_RATE_LIMIT");
        let process = Listening::start(command, Duration::from_secs(60))
            .with_context(|| format!("starting {} serve", zp.display()))?;
        let url = process.url();
        println!("    listening on {url}");
        Ok(Server { _process: process, url })
    }
}
