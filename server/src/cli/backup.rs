//! `zp backup FILE`: a consistent snapshot of a running issuer's SQLite registry and its signing
//! keys, in one tar file that only its owner can read. `zp restore` (restore.rs) reads it back.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

use super::{Global, print_json};
use crate::store::sqlite::SqliteStore;

/// The database's name in a backup (and in a data directory).
pub const DATABASE: &str = "zp.sqlite3";
/// The folder of the key files in a backup.
pub const KEYS: &str = "keys";

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup to write: a tar of `zp.sqlite3` and `keys/`, mode 0600. It must not exist yet.
    pub file: PathBuf,
}

/// The SQLite store of this data directory (or `--database-url sqlite:…`); a PostgreSQL store is
/// refused with the way to back it up. `doing` names the command for messages.
pub async fn open_sqlite(global: &Global, doing: &str) -> Result<SqliteStore> {
    match global.database_url.as_deref() {
        None => {
            let path = global.data_dir.join(DATABASE);
            if !path.is_file() {
                bail!("{doing}: there is no registry at {} (no {DATABASE} there)", global.data_dir.display());
            }
            Ok(SqliteStore::open(&path).await?)
        }
        Some(url) if url.starts_with("sqlite:") => Ok(SqliteStore::open_url(url).await?),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => bail!(
            "{doing} works on a SQLite registry; this one is in PostgreSQL: back it up with `pg_dump` and a \
             copy of the key directory, as the README's section \"Backups and moving to PostgreSQL\" shows"
        ),
        Some(_) => bail!("{doing}: unsupported database URL; use sqlite:PATH or leave it out"),
    }
}

/// A directory beside `near` for work in progress (0700), removed when dropped.
pub struct Staging(pub PathBuf);

impl std::fmt::Debug for Staging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Staging").field(&self.0).finish()
    }
}

impl Staging {
    pub fn beside(near: &Path, what: &str) -> Result<Staging> {
        let parent = match near.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = near.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = parent.join(format!(".{name}.{what}-{}", std::process::id()));
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        fs::remove_dir_all(&self.0).ok();
    }
}

/// Fsyncs a directory, so that a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

/// The key files of a key directory (`*.jwk`), by name.
pub fn key_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading the key directory {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".jwk") && !name.starts_with('.') && entry.file_type()?.is_file() {
            files.push((name, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

fn header(mode: u32, size: u64, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    let now = u64::try_from(crate::clock::unix_now()).unwrap_or_default();
    header.set_mtime(now);
    header.set_cksum();
    header
}

/// Checks a copy of the database and counts its certificates and audit entries.
async fn summary(path: &Path) -> Result<(i64, i64)> {
    // In rollback-journal mode, so that no -wal file holds part of the copy beside it when it is
    // put in the archive.
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Delete)
        .connect()
        .await
        .with_context(|| format!("opening the copy {}", path.display()))?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await?;
    if check != "ok" {
        bail!("the copy of the database fails SQLite's integrity check: {check}");
    }
    let certificates: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM certificates").fetch_one(&mut conn).await?;
    let audit: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetch_one(&mut conn).await?;
    sqlx::Connection::close(conn).await?;
    Ok((certificates, audit))
}

pub async fn run(global: &Global, args: BackupArgs) -> Result<()> {
    let file = args.file;
    if file.exists() {
        bail!("{} already exists; name a new file for the backup", file.display());
    }
    let store = open_sqlite(global, "zp backup").await?;
    let staging = Staging::beside(&file, "partial")?;
    // The database first, then the keys: every token in the copy was signed by a key whose file
    // was written before the token committed, and key files are never removed once they have
    // signed, so every key the copy needs is in the directory when it is read afterwards.
    let database = staging.0.join(DATABASE);
    store.snapshot(&database).await.context("copying the database (VACUUM INTO)")?;
    let (certificates, audit_entries) = summary(&database).await?;
    let keys = key_files(&global.keys_dir())?;
    if keys.is_empty() {
        bail!("no key files in {}", global.keys_dir().display());
    }

    let partial = staging.0.join("backup.tar");
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut archive = tar::Builder::new(std::io::BufWriter::new(out));
    let bytes = fs::read(&database)?;
    archive.append_data(
        &mut header(0o600, bytes.len() as u64, tar::EntryType::Regular),
        DATABASE,
        &bytes[..],
    )?;
    archive.append_data(
        &mut header(0o700, 0, tar::EntryType::Directory),
        format!("{KEYS}/"),
        std::io::empty(),
    )?;
    for (name, path) in &keys {
        let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let mut head = header(0o600, bytes.len() as u64, tar::EntryType::Regular);
        archive.append_data(&mut head, format!("{KEYS}/{name}"), &bytes[..])?;
    }
    let mut out = archive.into_inner()?.into_inner().map_err(|err| err.into_error())?;
    out.flush()?;
    out.sync_all()?;
    drop(out);
    fs::rename(&partial, &file).with_context(|| format!("writing {}", file.display()))?;
    sync_dir(file.parent().unwrap_or(Path::new(".")))?;
    print_json(&serde_json::json!({
        "file": file.display().to_string(),
        "certificates": certificates,
        "audit_entries": audit_entries,
        "keys": keys.len(),
    }))
}
