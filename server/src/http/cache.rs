//! A read cache of certificate details for the public lookups (check API, verify API, pages),
//! used only while it is provably current.
//!
//! A revocation must show on the check API as soon as the admin call or CLI command that made it
//! returns, whichever process made it. So the cache is used only on SQLite, where every writer
//! (this server, the `zp` CLI on the same data directory) commits through the database's
//! write-ahead log, and every commit rewrites the WAL-index header in `<database>-shm`
//! (<https://www.sqlite.org/walformat.html>, "the WAL-index header": a change counter, the last
//! committed frame, salts and checksums) before the commit returns. Each request reads that header
//! (one `fstat` and one `pread`, no database round trip) and the cache is emptied whenever it
//! differs from the header the entries were read under. Without a readable header (no `-shm` file
//! yet, PostgreSQL, an in-memory database), nothing is cached and every lookup reads the store.
//!
//! Only what the store returns is kept; verdicts are computed per request from the current time,
//! and token verification is never cached.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;

use crate::ids;
use crate::issuer::Verdict;
use crate::store::{CertificateDetail, Store, StoreResult};

/// Entries kept at most by default: each takes about 5 KB (the record, entity, products, newest
/// token and the rendered check API answer), so a full cache about 80 MB.
pub const DEFAULT_ENTRIES: usize = 16_384;
/// The two copies of the WAL-index header at the start of the `-shm` file.
const HEADER_LEN: usize = 96;
/// Offset of `isInit` in the header: 1 once the header is valid.
const IS_INIT: usize = 12;

/// What the database looked like: which `-shm` file, and its WAL-index header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    header: [u8; HEADER_LEN],
}

/// Reads the WAL-index header of one SQLite database.
#[derive(Debug)]
pub struct SqliteChanges {
    shm: PathBuf,
    /// The open `-shm` file and its identity. SQLite deletes the file when the last connection of
    /// every process closes and makes a new one at the next open, so each read checks that the open
    /// file is still linked (`fstat`, cheaper than looking the path up).
    open: RwLock<Option<(File, (u64, u64))>>,
}

impl SqliteChanges {
    /// Watches the database file at `database` (its `-shm` file sits beside it).
    pub fn new(database: &Path) -> Self {
        let mut shm = database.as_os_str().to_owned();
        shm.push("-shm");
        SqliteChanges { shm: PathBuf::from(shm), open: RwLock::new(None) }
    }

    /// The current stamp; `None` when there is no valid header to go by.
    fn stamp(&self) -> Option<Stamp> {
        let read = |file: &File, id: (u64, u64)| {
            let mut header = [0u8; HEADER_LEN];
            file.read_exact_at(&mut header, 0).ok()?;
            // Both copies written and initialised; a torn read just differs from every stamp.
            (header.get(IS_INIT) == Some(&1)).then_some(Stamp { dev: id.0, ino: id.1, header })
        };
        if let Ok(open) = self.open.read()
            && let Some((file, id)) = open.as_ref()
            // Still the file at that path: SQLite only ever unlinks it, never renames over it.
            && file.metadata().is_ok_and(|meta| meta.nlink() > 0)
        {
            return read(file, *id);
        }
        let file = File::open(&self.shm).ok()?;
        let meta = file.metadata().ok()?;
        let id = (meta.dev(), meta.ino());
        let stamp = read(&file, id);
        if let Ok(mut open) = self.open.write() {
            *open = Some((file, id));
        }
        stamp
    }
}

/// A certificate as the store returned it, with its check API answer once rendered.
#[derive(Debug)]
pub struct CachedCertificate {
    pub detail: CertificateDetail,
    /// The body of `GET /api/v1/certificates/{id}` and the verdict it was rendered for: the time
    /// changes that body only through the verdict.
    body: Mutex<Option<(Verdict, Bytes)>>,
}

impl CachedCertificate {
    pub fn new(detail: CertificateDetail) -> Self {
        CachedCertificate { detail, body: Mutex::new(None) }
    }

    /// The check API body for `verdict`, rendered by `render` unless it already was.
    pub fn body(&self, verdict: Verdict, render: impl FnOnce() -> Option<Bytes>) -> Option<Bytes> {
        if let Ok(body) = self.body.lock()
            && let Some((for_verdict, bytes)) = body.as_ref()
            && *for_verdict == verdict
        {
            return Some(bytes.clone());
        }
        let bytes = render()?;
        if let Ok(mut body) = self.body.lock() {
            *body = Some((verdict, bytes.clone()));
        }
        Some(bytes)
    }
}

/// A certificate ID as the table's key: held inline in the table, so that a lookup compares
/// bytes already in hand rather than following a pointer to a string elsewhere in memory (with
/// thousands of entries, that string is rarely in the CPU cache).
type Key = [u8; ids::CERT_ID_LEN];

fn key(id: &str) -> Option<Key> {
    id.as_bytes().try_into().ok()
}

#[derive(Debug, Default)]
struct Entries {
    stamp: Option<Stamp>,
    details: HashMap<Key, Arc<CachedCertificate>>,
}

/// Certificate details by ID, valid for one stamp of the database.
#[derive(Debug, Default)]
pub struct CertificateCache {
    changes: Option<SqliteChanges>,
    max_entries: usize,
    entries: RwLock<Entries>,
}

impl CertificateCache {
    /// No caching: every lookup reads the store.
    pub fn disabled() -> Self {
        CertificateCache::default()
    }

    /// Caching of up to `max_entries` certificates of the SQLite database file at `database`;
    /// none when `max_entries` is 0.
    pub fn sqlite(database: &Path, max_entries: usize) -> Self {
        if max_entries == 0 {
            return CertificateCache::disabled();
        }
        CertificateCache {
            changes: Some(SqliteChanges::new(database)),
            max_entries,
            entries: RwLock::default(),
        }
    }

    /// Whether lookups may be served from memory.
    pub fn is_enabled(&self) -> bool {
        self.changes.is_some()
    }

    /// The certificate `id` (already normalised), from the cache when the database has not
    /// changed since it was read, else from `store`.
    pub async fn certificate(
        &self,
        store: &dyn Store,
        id: &str,
    ) -> StoreResult<Option<Arc<CachedCertificate>>> {
        let fresh = |detail| Arc::new(CachedCertificate::new(detail));
        // Not an ID's shape (a token's `sub` is not normalised): nothing to keep it under.
        let Some((stamp, key)) = self.changes.as_ref().and_then(SqliteChanges::stamp).zip(key(id)) else {
            return Ok(store.certificate(id).await?.map(fresh));
        };
        if let Some(hit) = self.get(&stamp, &key) {
            return Ok(Some(hit));
        }
        // Read after taking the stamp: if a write lands in between, the entry is filed under
        // the older stamp and the next request, seeing the newer one, empties the cache.
        let found = store.certificate(id).await?.map(fresh);
        if let Some(detail) = &found
            && let Ok(mut entries) = self.entries.write()
            && entries.stamp.as_ref() == Some(&stamp)
        {
            if entries.details.len() >= self.max_entries
                && let Some(old) = entries.details.keys().next().cloned()
            {
                entries.details.remove(&old);
            }
            entries.details.insert(key, Arc::clone(detail));
        }
        Ok(found)
    }

    /// A hit under `stamp`; empties the cache first when the stamp moved on.
    fn get(&self, stamp: &Stamp, key: &Key) -> Option<Arc<CachedCertificate>> {
        if let Ok(entries) = self.entries.read()
            && entries.stamp.as_ref() == Some(stamp)
        {
            return entries.details.get(key).cloned();
        }
        let mut entries = self.entries.write().ok()?;
        if entries.stamp.as_ref() != Some(stamp) {
            entries.details.clear();
            entries.stamp = Some(stamp.clone());
        }
        entries.details.get(key).cloned()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().map(|e| e.details.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::{NewCertificate, NewEntity, NewProduct, RevocationReason};

    #[tokio::test]
    async fn writes_from_this_and_other_connections_empty_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer = &state.issuer;
        let now = state.now();
        let entity = NewEntity {
            name: "Spółdzielnia Socjalna „Pamięć”".into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["pamiec.pl".into()],
            ..NewEntity::default()
        };
        let entity = issuer.create_entity("test", entity, now).await.unwrap();
        let products = vec![NewProduct { name: "Chleb".into(), gtin: None }];
        let input = NewCertificate { entity_id: entity.id, products, valid_from: None };
        let id = issuer.issue("test", input, now).await.unwrap().certificate.id;

        let database = dir.path().join("zp.sqlite3");
        let cache = CertificateCache::sqlite(&database, DEFAULT_ENTRIES);
        let store = issuer.store.as_ref();
        let first = cache.certificate(store, &id).await.unwrap().unwrap();
        assert_eq!(cache.len(), 1, "kept");
        let again = cache.certificate(store, &id).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "served from the cache");
        assert!(cache.certificate(store, "ZZZZZZZZ").await.unwrap().is_none());
        // Not an ID's shape (a token's `sub` may be anything): read from the store, never kept.
        assert!(cache.certificate(store, &format!("{id}0")).await.unwrap().is_none());
        assert_eq!(cache.len(), 1);

        // A write through this process's store.
        issuer.suspend("test", &id, None, now).await.unwrap();
        let suspended = cache.certificate(store, &id).await.unwrap().unwrap();
        assert_eq!(suspended.detail.certificate.state, crate::store::CertState::Suspended);

        // A write through another store on the same file, as the CLI in another process makes.
        let global = crate::cli::Global {
            data_dir: dir.path().to_path_buf(),
            database_url: None,
            keys_dir: None,
            base_url: None,
            region: "LU".into(),
            status_ttl: 300,
            clock_offset: 0,
        };
        let cli = global.open(None).await.unwrap();
        cli.revoke("cli:test", &id, RevocationReason::Misuse, None, now).await.unwrap();
        drop(cli);
        let revoked = cache.certificate(store, &id).await.unwrap().unwrap();
        assert_eq!(revoked.detail.certificate.state, crate::store::CertState::Revoked);
    }

    /// SQLite deletes the `-shm` file when the last connection of every process closes, and makes
    /// a new one at the next open: a write then must not hide behind the old file's header.
    #[tokio::test]
    async fn a_new_shm_file_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let global = crate::cli::Global {
            data_dir: dir.path().to_path_buf(),
            database_url: None,
            keys_dir: None,
            base_url: Some("http://zp.test".into()),
            region: "LU".into(),
            status_ttl: 300,
            clock_offset: 0,
        };
        let now = global.clock().now();
        let first = global.open(None).await.unwrap();
        let entity = NewEntity {
            name: "Fundacja „Nowy Plik”".into(),
            legal_form: "foundation".into(),
            domains: vec!["nowyplik.pl".into()],
            ..NewEntity::default()
        };
        let entity = first.create_entity("test", entity, now).await.unwrap();
        let products = vec![NewProduct { name: "Świece".into(), gtin: None }];
        let input = NewCertificate { entity_id: entity.id, products, valid_from: None };
        let id = first.issue("test", input, now).await.unwrap().certificate.id;
        let cache = CertificateCache::sqlite(&dir.path().join("zp.sqlite3"), DEFAULT_ENTRIES);
        cache.certificate(first.store.as_ref(), &id).await.unwrap().unwrap();
        assert_eq!(cache.len(), 1);
        drop(first);
        // Let the pool's connections close, and with the last one the -shm file go: what this
        // test is about, so it must have happened before the test goes on.
        let shm = dir.path().join("zp.sqlite3-shm");
        let deadline = crate::clock::instant() + std::time::Duration::from_secs(10);
        while shm.exists() {
            assert!(crate::clock::instant() < deadline, "{} was not deleted", shm.display());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let second = global.open(None).await.unwrap();
        second.suspend("test", &id, None, now).await.unwrap();
        let found = cache.certificate(second.store.as_ref(), &id).await.unwrap().unwrap();
        assert_eq!(found.detail.certificate.state, crate::store::CertState::Suspended);
        // And the writes after that, which only the new file's header records.
        second.reinstate("test", &id, now).await.unwrap();
        let found = cache.certificate(second.store.as_ref(), &id).await.unwrap().unwrap();
        assert_eq!(found.detail.certificate.state, crate::store::CertState::Active);
    }

    #[tokio::test]
    async fn no_header_no_cache() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let cache = CertificateCache::sqlite(&dir.path().join("elsewhere.sqlite3"), DEFAULT_ENTRIES);
        assert!(cache.certificate(state.issuer.store.as_ref(), "ZZZZZZZZ").await.unwrap().is_none());
        assert_eq!(cache.len(), 0);
        assert!(!CertificateCache::disabled().is_enabled());
        assert!(!CertificateCache::sqlite(&dir.path().join("zp.sqlite3"), 0).is_enabled());
    }
}
