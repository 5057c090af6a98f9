//! The `zp` command line: `zp serve` runs the server; the other subcommands are the issuer
//! staff's admin actions, each in its own file, acting on the same data directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::clock::Clock;
use crate::issuer::{Issuer, IssuerError, IssuerSettings};
use crate::keys::KeyRing;
use crate::store::Store;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;

pub mod apikey;
pub mod audit;
pub mod backup;
pub mod cert;
pub mod demo;
pub mod entity;
pub mod issuers;
pub mod key;
pub mod migrate;
pub mod register;
pub mod restore;
pub mod serve;
pub mod user;

#[derive(Debug, Parser)]
#[command(name = "zp", version, about = "Issuer server and command line of the Zakup Prospołeczny mark")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Data directory: the SQLite database and the signing keys, unless the options below put
    /// them elsewhere.
    #[arg(long, env = "ZP_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Database URL: `sqlite:PATH`, or `postgres://USER@HOST:PORT/DB` for several replicas on one
    /// database; default: zp.sqlite3 in the data directory.
    #[arg(long, env = "ZP_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory of the signing keys; default: `keys` in the data directory. Replicas share one
    /// (a shared volume), so that each signs with a key every replica's JWKS lists.
    #[arg(long, env = "ZP_KEYS_DIR", global = true)]
    pub keys_dir: Option<PathBuf>,
    /// The issuer's public base URL, e.g. https://zp.rops.lublin.pl. Fixed when the data
    /// directory is first used; tokens carry it as `iss`.
    #[arg(long, env = "ZP_BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// Region code in certificate numbers (ZP/<REGION>/<YEAR>/<NNNN>).
    #[arg(long, env = "ZP_REGION", default_value = "LU", global = true)]
    pub region: String,
    /// Seconds a verifier may cache a status list (its `ttl` and Cache-Control max-age), from 1
    /// to 86400.
    #[arg(long, env = "ZP_STATUS_TTL", default_value_t = 300, global = true,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub status_ttl: u64,
    /// Shift the clock by this many seconds (demonstrations and tests of expiry).
    #[arg(long, env = "ZP_CLOCK_OFFSET", default_value_t = 0, global = true, hide = true)]
    pub clock_offset: i64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Register and list social-economy entities.
    #[command(subcommand)]
    Entity(entity::EntityCommand),
    /// Issue, renew, change, suspend, reinstate and revoke certificates.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Admin API keys.
    #[command(name = "api-key", subcommand)]
    ApiKey(apikey::ApiKeyCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Other issuers this issuer vouches for in its signed trust list.
    #[command(subcommand)]
    Issuers(issuers::IssuersCommand),
    /// The whole register from and to CSV: import an existing register, export for spreadsheets.
    #[command(subcommand)]
    Register(register::RegisterCommand),
    /// Write a consistent snapshot of the SQLite registry and the signing keys to one file, while
    /// the server runs.
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data directory.
    Restore(restore::RestoreArgs),
    /// Copy the SQLite registry into an empty PostgreSQL database.
    Migrate(migrate::MigrateArgs),
    /// Staff accounts of the panel: the first admin, enrolment links, disabling.
    #[command(subcommand)]
    User(user::UserCommand),
}

pub fn main() -> ExitCode {
    // Everything zp creates (the SQLite database with its -wal and -shm files, keys, locks, the
    // demo's key file) is its user's alone, whatever the umask it was started with and the mode
    // of a data directory that already existed. Set before any thread starts: the mask is per
    // process.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("zp: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<IssuerError>() {
                Some(IssuerError::Invalid { field, message }) => eprintln!("zp: {field}: {message}"),
                _ => eprintln!("zp: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Serve(args) => serve::run(&global, args).await,
        Command::Entity(command) => entity::run(&global, command).await,
        Command::Cert(command) => cert::run(&global, command).await,
        Command::Key(command) => key::run(&global, command).await,
        Command::ApiKey(command) => apikey::run(&global, command).await,
        Command::Audit(command) => audit::run(&global, command).await,
        Command::Issuers(command) => issuers::run(&global, command).await,
        Command::Register(command) => register::run(&global, command).await,
        Command::Backup(args) => backup::run(&global, args).await,
        Command::Restore(args) => restore::run(&global, args).await,
        Command::Migrate(args) => migrate::run(&global, args).await,
        Command::User(command) => user::run(&global, command).await,
    }
}

/// Who did it, for the audit log.
/// A voivodeship as staff type it (`Lubelskie`, ` lubelskie`) in the form the issuer takes: the
/// API wants the listed lowercase name exactly, as its document says.
pub fn typed_voivodeship(typed: Option<String>) -> Option<String> {
    typed.map(|text| text.trim().to_lowercase())
}

pub fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

impl Global {
    pub fn clock(&self) -> Clock {
        Clock { offset: self.clock_offset }
    }

    pub async fn open_store(&self) -> Result<Arc<dyn Store>> {
        create_private_dir(&self.data_dir)?;
        let store: Arc<dyn Store> = match &self.database_url {
            None => Arc::new(SqliteStore::open(&self.data_dir.join("zp.sqlite3")).await?),
            Some(url) if url.starts_with("sqlite:") => Arc::new(SqliteStore::open_url(url).await?),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Arc::new(
                PgStore::open(url).await.with_context(|| format!("opening {}", redact_password(url)))?,
            ),
            Some(url) => bail!(
                "unsupported database URL {:?}: use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE",
                redact_password(url)
            ),
        };
        Ok(store)
    }

    /// The signing keys' directory.
    pub fn keys_dir(&self) -> PathBuf {
        self.keys_dir.clone().unwrap_or_else(|| self.data_dir.join("keys"))
    }

    /// Opens the store and keys. `fallback_base_url` is used only when neither the flag nor the
    /// data directory names one (the server passes the address it listens on).
    pub async fn open(&self, fallback_base_url: Option<String>) -> Result<Issuer> {
        let store = self.open_store().await?;
        let keys = KeyRing::open(&self.keys_dir(), self.clock().now())?;
        let base_url = resolve_base_url(store.as_ref(), self.base_url.as_deref(), fallback_base_url).await?;
        let region = self.region.trim().to_uppercase();
        if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_uppercase()) {
            bail!("--region must be two letters, e.g. LU");
        }
        Ok(Issuer::new(
            store,
            Arc::new(keys),
            IssuerSettings { base_url, region, status_ttl: self.status_ttl },
        ))
    }
}

fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A database URL fit for messages: any password replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Checks and normalises a base URL: http(s), a host, no query or fragment, no trailing slash.
pub fn normalize_base_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| format!("base URL {url:?} must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        bail!("base URL {url:?} must be a scheme and host, with an optional port and path");
    }
    Ok(url.to_owned())
}

async fn resolve_base_url(store: &dyn Store, flag: Option<&str>, fallback: Option<String>) -> Result<String> {
    let stored = store.meta("base_url").await?;
    let wanted = flag.map(normalize_base_url).transpose()?;
    match (stored, wanted) {
        (Some(stored), Some(wanted)) if stored != wanted => bail!(
            "this data directory belongs to the issuer {stored}; its tokens name that URL, so it cannot \
             change to {wanted} (use another data directory for another issuer)"
        ),
        (Some(stored), _) => Ok(stored),
        (None, wanted) => {
            let url = match (wanted, fallback) {
                (Some(url), _) => url,
                (None, Some(fallback)) => normalize_base_url(&fallback)?,
                (None, None) => bail!(
                    "no issuer is set up in this data directory: start `zp serve` first or pass --base-url"
                ),
            };
            let mut tx = store.begin().await?;
            tx.set_meta("base_url", &url).await?;
            tx.commit().await?;
            Ok(url)
        }
    }
}

/// Prints a value as pretty JSON on standard output.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact_password("postgres://zp:s3cret@db.internal:5432/zp?sslmode=disable"),
            "postgres://zp:***@db.internal:5432/zp?sslmode=disable"
        );
        assert_eq!(redact_password("postgres://zp@db/zp"), "postgres://zp@db/zp");
        assert_eq!(redact_password("sqlite:data/zp.sqlite3"), "sqlite:data/zp.sqlite3");
    }

    #[test]
    fn base_urls() {
        assert_eq!(normalize_base_url("https://zp.example.pl/").unwrap(), "https://zp.example.pl");
        assert!(normalize_base_url("ftp://zp.example.pl").is_err());
        assert!(normalize_base_url("https://").is_err());
        assert!(normalize_base_url("https://zp.example.pl/?x").is_err());
    }
}
