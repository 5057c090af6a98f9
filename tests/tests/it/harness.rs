//! Starts the real `zp` binary on port 0 with a temporary data directory, and talks to it over
//! HTTP and through its CLI, as an issuer's staff and the public would.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};
use zp_shared::{KeySet, Rules};
use zp_tests::Listening;

/// Path of the `zp` binary, built once per test run: the executable that this very build
/// produced, as cargo reports it, never a file that happens to sit where a build once put one
/// (another profile's, another target directory's, an older build's).
pub fn zp_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned();
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "zp-server",
                "--bin",
                "zp",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(&workspace)
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build for the zp binary");
        assert!(output.status.success(), "building the zp binary failed");
        let binary = built_executable(&String::from_utf8_lossy(&output.stdout), "zp")
            .expect("cargo build reported no executable for the zp binary");
        assert!(binary.is_file(), "{} was not built", binary.display());
        binary
    })
}

/// The executable cargo reports for binary target `bin` among its JSON messages. Only
/// `--bin zp` of `zp-server` is built with an executable, so the name is enough.
fn built_executable(messages: &str, bin: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["target"]["name"] == bin)
        .filter(|message| {
            message["target"]["kind"].as_array().is_some_and(|kinds| kinds.contains(&json!("bin")))
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
}

pub struct Server {
    process: Listening,
    /// Where it listens, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The issuer URL tokens carry (`iss`): the address of the first start, kept on restarts.
    pub base: String,
    pub data: PathBuf,
    /// Global options given to every `zp` run on this server's data (serve and CLI alike): the
    /// database, key directory and issuer URL of a replica.
    pub global: Vec<String>,
    _dir: Option<tempfile::TempDir>,
    pub admin_key: String,
    pub http: Client,
}

/// How to start a server beyond its command-line options.
#[derive(Default)]
pub struct Launch<'a> {
    /// Environment variables for the server process.
    pub env: &'a [(&'a str, &'a str)],
    /// A lowered limit on the process's open files (`ulimit -n`).
    pub open_files: Option<u32>,
}

impl Server {
    /// A fresh server with an empty registry and an admin API key.
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        Self::start_launched(extra, &Launch::default())
    }

    /// A fresh server started as `launch` says.
    pub fn start_launched(extra: &[&str], launch: &Launch) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut server = Self::launch(&data, Vec::new(), None, extra, launch);
        server._dir = Some(dir);
        let created = server.cli_json(&["api-key", "create", "--name", "tests"]);
        server.admin_key = created["key"].as_str().unwrap().to_owned();
        server
    }

    /// Starts a server on a data directory; `base` is the issuer URL when it already has one.
    pub fn spawn(data: &Path, base: Option<&str>, extra: &[&str]) -> Server {
        Self::spawn_global(data, Vec::new(), base, extra)
    }

    /// Starts a replica: the database at `database_url`, the keys in `keys_dir` and the issuer
    /// URL `base` are shared with the other replicas; `data` is its own. No admin key is set.
    pub fn spawn_with_db(data: &Path, database_url: &str, keys_dir: &Path, base: &str) -> Server {
        let global = vec![
            "--database-url".to_owned(),
            database_url.to_owned(),
            "--keys-dir".to_owned(),
            keys_dir.to_str().unwrap().to_owned(),
            "--base-url".to_owned(),
            base.to_owned(),
        ];
        Self::spawn_global(data, global, Some(base), &[])
    }

    fn spawn_global(data: &Path, global: Vec<String>, base: Option<&str>, extra: &[&str]) -> Server {
        Self::launch(data, global, base, extra, &Launch::default())
    }

    fn launch(
        data: &Path,
        global: Vec<String>,
        base: Option<&str>,
        extra: &[&str],
        launch: &Launch,
    ) -> Server {
        let mut command = match launch.open_files {
            // The shell lowers the limit, then becomes the server: the child is still `zp`.
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\"")]).arg(zp_binary());
                shell
            }
            None => Command::new(zp_binary()),
        };
        command
            .arg("--data-dir")
            .arg(data)
            .args(&global)
            .arg("serve")
            // Any free port, unless the test chooses one (a restart on the same address).
            .args(if extra.contains(&"--bind") { &[][..] } else { &["--bind", "127.0.0.1:0"][..] })
            .args(extra)
            .env("ZP_LOG", "warn")
            // Tests send bursts from one address; the limiter has tests of its own.
            .env("ZP_RATE_LIMIT", "0")
            .envs(launch.env.iter().copied())
            .stderr(Stdio::inherit());
        let process = Listening::start(command, Duration::from_secs(60)).expect("start zp serve");
        let url = process.url();
        let http = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let base = base.map_or_else(|| url.clone(), str::to_owned);
        let server = Server {
            process,
            url,
            base,
            data: data.to_owned(),
            global,
            _dir: None,
            admin_key: String::new(),
            http,
        };
        server.wait_ready();
        server
    }

    /// Polls until the server answers, instead of sleeping a fixed time.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.http.get(self.at("/.well-known/jwks.json")).send().is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server at {} never became ready", self.url);
    }

    /// The rest of the first line the server printed that starts with `prefix`, waiting for it.
    pub fn printed(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let lines = self.process.printed();
            if let Some(rest) = lines.iter().find_map(|line| line.trim_start().strip_prefix(prefix)) {
                return rest.trim().to_owned();
            }
            drop(lines);
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server never printed a line starting with {prefix:?}");
    }

    /// An HTTP client whose connections come from `ip`, another address of the loopback network
    /// (127.0.0.0/8): another client, as far as the server can tell.
    pub fn client_from(ip: [u8; 4]) -> Client {
        Client::builder()
            .timeout(Duration::from_secs(30))
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// kill -9 (no chance to flush or finish anything), then a new process on the same data.
    pub fn kill_hard_and_restart(self) -> Server {
        self.kill_hard_and_restart_with(&[])
    }

    /// [`Server::kill_hard_and_restart`], the new process started with `extra` options of
    /// `serve` (say, a clock some minutes ahead: `--clock-offset 301`).
    pub fn kill_hard_and_restart_with(mut self, extra: &[&str]) -> Server {
        self.process.kill().unwrap();
        let mut restarted = Server::spawn_global(&self.data, self.global.clone(), Some(&self.base), extra);
        restarted._dir = self._dir.take();
        restarted.admin_key = self.admin_key.clone();
        restarted
    }

    /// Runs `zp <args>` on this server's data directory and returns its output.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(zp_binary())
            .arg("--data-dir")
            .arg(&self.data)
            .args(&self.global)
            .args(args)
            .output()
            .expect("run zp")
    }

    /// Runs a CLI command that must succeed and print JSON.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let output = self.cli(args);
        assert!(output.status.success(), "zp {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
            panic!("zp {args:?} printed no JSON ({err}): {}", String::from_utf8_lossy(&output.stdout))
        })
    }

    pub fn get(&self, path: &str) -> Response {
        self.http.get(self.at(path)).send().unwrap()
    }

    pub fn get_json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().unwrap()
    }

    pub fn admin_post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.at(&format!("/api/v1/admin{path}")))
            .bearer_auth(&self.admin_key)
            .json(body)
            .send()
            .unwrap()
    }

    /// An admin POST that must succeed; returns its JSON.
    pub fn admin(&self, path: &str, body: &Value) -> Value {
        let response = self.admin_post(path, body);
        let status = response.status();
        let text = response.text().unwrap();
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub fn admin_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.at(&format!("/api/v1/admin{path}")))
            .bearer_auth(&self.admin_key)
            .send()
            .unwrap();
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().unwrap()
    }

    pub fn keys(&self) -> KeySet {
        let text = self.get("/.well-known/jwks.json").text().unwrap();
        KeySet::from_jwks_json(&text).expect("the published JWKS loads in the shared verifier")
    }

    pub fn rules(&self) -> Rules {
        Rules::new(self.base.clone())
    }

    /// Registers an entity through the admin API.
    pub fn entity(&self, name: &str) -> Value {
        self.admin(
            "/entities",
            &json!({
                "name": name,
                "legal_form": "social_cooperative",
                "domains": ["sklep.example.pl"],
                "city": "Lublin",
                "voivodeship": "lubelskie",
            }),
        )
    }

    /// Issues a certificate through the admin API.
    pub fn certificate(&self, entity_id: &str) -> Value {
        self.admin(
            "/certificates",
            &json!({ "entity_id": entity_id, "products": [{ "name": "Powidła śliwkowe", "gtin": "5901234123457" }] }),
        )
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Every `.rs` file under `dir`, with its modification time.
fn sources(dir: &Path, found: &mut Vec<(PathBuf, std::time::SystemTime)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            found.push((path, modified));
        }
    }
}

/// The binary every test runs was built from the sources as they are: it is no older than any
/// of them. A binary left by an earlier build (of another profile, in another target directory)
/// would be.
#[test]
fn the_zp_binary_is_built_from_the_current_sources() {
    let binary = zp_binary();
    let built = std::fs::metadata(binary).unwrap().modified().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut found = Vec::new();
    for package in ["server", "shared"] {
        sources(&workspace.join(package).join("src"), &mut found);
    }
    assert!(found.len() > 20, "{found:?}");
    for (source, modified) in found {
        assert!(modified <= built, "{} is newer than {}", source.display(), binary.display());
    }
    let output = Command::new(binary).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("zp "), "{output:?}");
}
