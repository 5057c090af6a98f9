//! `zp restore FILE`: a backup made by `zp backup` into an empty data directory, with the files
//! private again (0600 files in 0700 directories) whatever the archive says.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::backup::{DATABASE, KEYS, Staging, key_files, sync_dir};
use super::{Global, print_json};
use crate::keys::KeyRing;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup written by `zp backup`.
    pub file: PathBuf,
}

/// Refuses a directory that exists and holds anything.
fn require_empty(dir: &Path, what: &str) -> Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "the {what} {} is not empty; restore only into an empty or new one, so that nothing \
                     in it is overwritten or mixed with the backup",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("reading the {what} {}", dir.display())),
    }
}

/// Where an archive entry goes inside the staged data directory; anything a backup does not
/// hold is refused, so no entry can reach outside it.
fn destination(name: &Path, is_dir: bool) -> Result<Option<PathBuf>> {
    let parts: Vec<&str> = name
        .components()
        .map(|c| match c {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()
        .with_context(|| format!("the backup holds an unexpected entry {}", name.display()))?;
    match parts.as_slice() {
        [db] if *db == DATABASE && !is_dir => Ok(Some(PathBuf::from(DATABASE))),
        [keys] if *keys == KEYS && is_dir => Ok(None),
        [keys, file] if *keys == KEYS && !is_dir && file.ends_with(".jwk") && !file.starts_with('.') => {
            Ok(Some(Path::new(KEYS).join(file)))
        }
        _ => bail!(
            "the backup holds an unexpected entry {}; is it a backup made by `zp backup`?",
            name.display()
        ),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Moves a staged directory to `to`, which is absent or empty (rename replaces an empty one).
fn put_in_place(staged: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::rename(staged, to).with_context(|| format!("moving the restored files to {}", to.display()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o700))?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

pub async fn run(global: &Global, args: RestoreArgs) -> Result<()> {
    if global.database_url.is_some() {
        bail!(
            "zp restore writes {DATABASE} into the data directory; run it without --database-url (to move \
             the restored registry to PostgreSQL afterwards, use `zp migrate`)"
        );
    }
    let data_dir = &global.data_dir;
    let keys_dir = global.keys_dir();
    let keys_inside = keys_dir == data_dir.join(KEYS);
    require_empty(data_dir, "data directory")?;
    if !keys_inside {
        require_empty(&keys_dir, "key directory")?;
    }
    let archive_file =
        fs::File::open(&args.file).with_context(|| format!("opening the backup {}", args.file.display()))?;

    // Everything is staged beside its destination first, so that a failed restore leaves the
    // destination as empty as it was and can simply be run again.
    let staging = Staging::beside(data_dir, "restoring")?;
    fs::create_dir(staging.0.join(KEYS))?;
    fs::set_permissions(staging.0.join(KEYS), fs::Permissions::from_mode(0o700))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(archive_file));
    let mut database = false;
    for entry in archive.entries().context("reading the backup")? {
        let mut entry = entry.context("reading the backup")?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            bail!(
                "the backup holds an entry that is neither a file nor a folder: {}",
                entry.path()?.display()
            );
        }
        let name = entry.path()?.into_owned();
        let Some(relative) = destination(&name, kind.is_dir())? else { continue };
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        write_private(&staging.0.join(&relative), &bytes)?;
        database |= relative == Path::new(DATABASE);
    }
    if !database {
        bail!("the backup holds no {DATABASE}");
    }
    let staged_keys = staging.0.join(KEYS);
    let keys = key_files(&staged_keys)?.len();
    if keys == 0 {
        bail!("the backup holds no key files");
    }
    sync_dir(&staged_keys)?;

    // Check what was restored before putting it in place: the keys load, the database opens.
    KeyRing::open(&staged_keys, global.clock().now()).context("the backup's keys")?;
    let store = SqliteStore::open(&staging.0.join(DATABASE)).await.context("the backup's database")?;
    let certificates = store.max_status_idx().await?.map_or(0, |max| max + 1);
    let audit_entries = store.audit_head().await?;
    store.close().await;
    fs::remove_file(staged_keys.join(".lock")).ok();
    sync_dir(&staging.0)?;

    if keys_inside {
        put_in_place(&staging.0, data_dir)?;
    } else {
        let keys_staging = Staging::beside(&keys_dir, "restoring")?;
        for (name, path) in key_files(&staged_keys)? {
            fs::rename(&path, keys_staging.0.join(name))?;
        }
        sync_dir(&keys_staging.0)?;
        fs::remove_dir(&staged_keys)?;
        put_in_place(&keys_staging.0, &keys_dir)?;
        put_in_place(&staging.0, data_dir)?;
    }
    print_json(&serde_json::json!({
        "data_dir": data_dir.display().to_string(),
        "keys_dir": keys_dir.display().to_string(),
        "certificates": certificates,
        "keys": keys,
        "audit_entries": audit_entries,
    }))
}
