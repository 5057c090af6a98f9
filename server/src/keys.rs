//! The issuer's signing keys, one private JWK file each in the key directory (`<data dir>/keys`
//! or `--keys-dir`), mode 0600, named `<unix time it starts signing>-<kid>.jwk`.
//!
//! A rotation publishes the next key at once and lets it sign only once [`JWKS_MAX_AGE`] has
//! passed, so that no JWKS a cache may still hold lacks the key that signs; an emergency
//! rotation (a leaked key) makes it sign at once. The start time is in the file name, so it
//! survives restarts and every replica sharing the directory switches at the same second. Older
//! keys stay published until the last token they signed has expired. Replicas (and the CLI) see
//! a rotation at their next use, because the ring re-reads the directory whenever its listing
//! changes. Creating keys takes a lock on `.lock` in the directory, so replicas starting together
//! on an empty directory make one first key, not one each, and rotations never interleave.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rand::rngs::OsRng;
use zp_shared::{IssuerKey, PrivateJwk};

/// Seconds caches may keep the JWKS (`Cache-Control: max-age` of `/.well-known/jwks.json`), and so
/// how long a rotated-in key is published before it signs.
pub const JWKS_MAX_AGE: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("key file {path} is not a valid Ed25519 private JWK: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no signing key in {0}")]
    Empty(PathBuf),
}

/// A key of the ring and the second from which it signs (until a newer key does).
#[derive(Debug, Clone)]
pub struct RingKey {
    pub active_from: i64,
    pub key: Arc<IssuerKey>,
}

#[derive(Debug, Default)]
struct Loaded {
    listing: Vec<String>,
    keys: Vec<RingKey>,
}

#[derive(Debug)]
pub struct KeyRing {
    dir: PathBuf,
    loaded: RwLock<Loaded>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.to_owned(), source }
}

/// When a rotation's new key starts signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// After [`JWKS_MAX_AGE`]: every cached JWKS lists it by then.
    AfterCaches,
    /// At once, for a leaked key; caches of the JWKS must be purged.
    Now,
}

/// A rotation under way: the new key is chosen but not yet on disk. The caller records it (the
/// audit entry) first and then [`Rotation::install`]s it, so that no key ever signs without its
/// record. Holds the directory's lock until installed or dropped.
#[derive(Debug)]
pub struct Rotation<'a> {
    ring: &'a KeyRing,
    _lock: fs::File,
    /// The new key and when it starts signing.
    pub key: RingKey,
    /// Keys that were still waiting to sign and that an immediate rotation withdraws: they were
    /// in the same directory as the leaked key, and must not take over from the new one later.
    pub withdrawn: Vec<RingKey>,
}

impl Rotation<'_> {
    /// Removes the withdrawn keys, then writes the new key's file (0600, atomically).
    pub fn install(self) -> Result<RingKey, KeyError> {
        for old in &self.withdrawn {
            let path = self.ring.path_of(old);
            fs::remove_file(&path).map_err(io(&path))?;
        }
        self.ring.write_key(&self.key)?;
        Ok(self.key)
    }
}

impl KeyRing {
    /// Opens the key directory, creating it and a first key, signing from `now`, when there is
    /// none.
    pub fn open(dir: &Path, now: i64) -> Result<Self, KeyError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        let ring = KeyRing { dir: dir.to_owned(), loaded: RwLock::new(Loaded::default()) };
        let _lock = ring.lock()?;
        if ring.keys()?.is_empty() {
            ring.write_key(&RingKey { active_from: now, key: Arc::new(generate(dir)?) })?;
        }
        Ok(ring)
    }

    /// Holds the directory's key-creation lock until dropped; other processes wait for it.
    fn lock(&self) -> Result<fs::File, KeyError> {
        let file = self.lock_file()?;
        file.lock().map_err(io(&self.dir.join(".lock")))?;
        Ok(file)
    }

    fn lock_file(&self) -> Result<fs::File, KeyError> {
        let path = self.dir.join(".lock");
        OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(io(&path))
    }

    fn listing(&self) -> Result<Vec<String>, KeyError> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let name = entry.map_err(io(&self.dir))?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".jwk") {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Re-reads the directory if its listing changed since the last read.
    fn refresh(&self) -> Result<(), KeyError> {
        let listing = self.listing()?;
        if self.loaded.read().is_ok_and(|loaded| loaded.listing == listing) {
            return Ok(());
        }
        let mut keys = Vec::with_capacity(listing.len());
        for name in &listing {
            let path = self.dir.join(name);
            let mode = fs::metadata(&path).map_err(io(&path))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions { path, mode: mode & 0o777 });
            }
            let text = fs::read_to_string(&path).map_err(io(&path))?;
            let invalid = |reason: String| KeyError::Invalid { path: path.clone(), reason };
            let jwk: PrivateJwk = serde_json::from_str(&text).map_err(|err| invalid(err.to_string()))?;
            let key = IssuerKey::from_private_jwk(&jwk).map_err(|err| invalid(err.to_string()))?;
            let active_from = name
                .split('-')
                .next()
                .and_then(|stamp| stamp.parse().ok())
                .ok_or_else(|| invalid("file name must start with the time it starts signing".into()))?;
            keys.push(RingKey { active_from, key: Arc::new(key) });
        }
        keys.sort_by_key(|k| k.active_from);
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = Loaded { listing, keys };
        }
        Ok(())
    }

    /// Every key, published or waiting to sign, by the time it starts signing.
    pub fn keys(&self) -> Result<Vec<RingKey>, KeyError> {
        self.refresh()?;
        Ok(self.loaded.read().map(|loaded| loaded.keys.clone()).unwrap_or_default())
    }

    /// The key that signs at `now`: the newest whose time has come. Should no key's time have
    /// come (a clock behind the one that made the first key), the oldest signs.
    pub fn active(&self, now: i64) -> Result<RingKey, KeyError> {
        let keys = self.keys()?;
        let started = keys.iter().rev().find(|k| k.active_from <= now);
        started.or(keys.first()).cloned().ok_or_else(|| KeyError::Empty(self.dir.clone()))
    }

    /// Chooses a new signing key; earlier keys keep verifying what they signed. It starts
    /// signing once [`JWKS_MAX_AGE`] has passed, or at once with [`Activation::Now`], which also
    /// withdraws keys still waiting to sign. Nothing is written until [`Rotation::install`].
    /// Waits for another rotation (of any process) to finish first.
    pub fn begin_rotation(&self, now: i64, activation: Activation) -> Result<Rotation<'_>, KeyError> {
        let lock = self.lock()?;
        self.rotation(lock, now, activation)
    }

    /// [`KeyRing::begin_rotation`] without waiting: `None` while another rotation holds the
    /// directory's lock. Async callers wait between tries without blocking a runtime thread, which
    /// the lock's holder (another task of the same process) may need to finish.
    pub fn try_begin_rotation(
        &self,
        now: i64,
        activation: Activation,
    ) -> Result<Option<Rotation<'_>>, KeyError> {
        let path = self.dir.join(".lock");
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => self.rotation(file, now, activation).map(Some),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(err)) => Err(io(&path)(err)),
        }
    }

    fn rotation(&self, lock: fs::File, now: i64, activation: Activation) -> Result<Rotation<'_>, KeyError> {
        let keys = self.keys()?;
        let (withdrawn, kept): (Vec<RingKey>, Vec<RingKey>) = match activation {
            Activation::Now => keys.into_iter().partition(|k| k.active_from > now),
            Activation::AfterCaches => (Vec::new(), keys),
        };
        let wanted = match activation {
            Activation::Now => now,
            Activation::AfterCaches => now.saturating_add(JWKS_MAX_AGE),
        };
        // Never reuse a second: file names order the keys.
        let latest = kept.last().map_or(i64::MIN, |k| k.active_from);
        let active_from = wanted.max(latest.saturating_add(1));
        let key = RingKey { active_from, key: Arc::new(generate(&self.dir)?) };
        Ok(Rotation { ring: self, _lock: lock, key, withdrawn })
    }

    fn path_of(&self, key: &RingKey) -> PathBuf {
        self.dir.join(format!("{:011}-{}.jwk", key.active_from, key.key.kid()))
    }

    /// Writes a key file (0600) through a temporary file, synced before and after the rename.
    fn write_key(&self, key: &RingKey) -> Result<(), KeyError> {
        let path = self.path_of(key);
        let tmp = self.dir.join(format!(".{:011}-{}.tmp", key.active_from, key.key.kid()));
        let text = serde_json::to_string_pretty(&key.key.to_private_jwk())
            .map_err(|err| KeyError::Invalid { path: path.clone(), reason: err.to_string() })?;
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
        file.write_all(text.as_bytes()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        fs::File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(io(&self.dir))?;
        self.refresh()
    }
}

fn generate(dir: &Path) -> Result<IssuerKey, KeyError> {
    IssuerKey::generate(&mut OsRng)
        .map_err(|err| KeyError::Invalid { path: dir.to_owned(), reason: err.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotate(ring: &KeyRing, now: i64, activation: Activation) -> RingKey {
        ring.begin_rotation(now, activation).unwrap().install().unwrap()
    }

    #[test]
    fn first_key_rotation_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let ring = KeyRing::open(&keys_dir, 1_000).unwrap();
        let first = ring.active(1_000).unwrap();
        assert_eq!(first.active_from, 1_000);
        let file = fs::read_dir(&keys_dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|ext| ext == "jwk"))
            .unwrap();
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&keys_dir).unwrap().permissions().mode() & 0o777, 0o700);
        let second = rotate(&ring, 1_000, Activation::Now);
        assert_ne!(first.key.kid(), second.key.kid());
        // The same second is never reused: the next one.
        assert_eq!(second.active_from, 1_001);
        assert_eq!(ring.active(1_001).unwrap().key.kid(), second.key.kid());
        assert_eq!(ring.keys().unwrap().len(), 2);
        // Another process reading the same directory sees the same ring.
        let again = KeyRing::open(&keys_dir, 2_000).unwrap();
        assert_eq!(again.active(2_000).unwrap().key.kid(), second.key.kid());
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let other = KeyRing { dir: keys_dir.clone(), loaded: RwLock::new(Loaded::default()) };
        assert!(matches!(other.keys().unwrap_err(), KeyError::Permissions { mode: 0o644, .. }));
    }

    #[test]
    fn a_rotated_key_signs_after_the_jwks_cache_lifetime_and_at_once_in_an_emergency() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let ring = KeyRing::open(&keys_dir, 1_000).unwrap();
        let first = ring.active(1_000).unwrap();

        // A rotation chosen but not installed leaves nothing behind, and releases the lock; while
        // it holds the lock, no other rotation begins.
        let abandoned = ring.begin_rotation(1_000, Activation::AfterCaches).unwrap();
        assert!(ring.try_begin_rotation(1_000, Activation::Now).unwrap().is_none());
        drop(abandoned);
        assert_eq!(ring.keys().unwrap().len(), 1);

        let next = rotate(&ring, 1_000, Activation::AfterCaches);
        assert_eq!(next.active_from, 1_000 + JWKS_MAX_AGE);
        assert_eq!(ring.keys().unwrap().len(), 2, "published at once");
        let kid_at = |ring: &KeyRing, now| ring.active(now).unwrap().key.kid().to_owned();
        assert_eq!(kid_at(&ring, 1_000), first.key.kid());
        assert_eq!(kid_at(&ring, 1_000 + JWKS_MAX_AGE - 1), first.key.kid());
        assert_eq!(kid_at(&ring, 1_000 + JWKS_MAX_AGE), next.key.kid());
        // The time survives a restart, and another process (a replica) switches at the same second.
        let replica = KeyRing::open(&keys_dir, 1_010).unwrap();
        assert_eq!(kid_at(&replica, 1_010), first.key.kid());
        assert_eq!(kid_at(&replica, 1_000 + JWKS_MAX_AGE), next.key.kid());
        // A second rotation while one waits queues behind it.
        let queued = rotate(&ring, 1_000, Activation::AfterCaches);
        assert_eq!(queued.active_from, 1_000 + JWKS_MAX_AGE + 1);

        // An emergency rotation signs at once and withdraws the keys still waiting.
        let rotation = ring.begin_rotation(1_100, Activation::Now).unwrap();
        let withdrawn: Vec<&str> = rotation.withdrawn.iter().map(|k| k.key.kid()).collect();
        assert_eq!(withdrawn, [next.key.kid(), queued.key.kid()]);
        let urgent = rotation.install().unwrap();
        assert_eq!(urgent.active_from, 1_100);
        assert_eq!(kid_at(&ring, 1_100), urgent.key.kid());
        assert_eq!(kid_at(&ring, 1_000 + JWKS_MAX_AGE + 10), urgent.key.kid());
        let kids: Vec<String> = replica.keys().unwrap().iter().map(|k| k.key.kid().to_owned()).collect();
        assert_eq!(kids, [first.key.kid(), urgent.key.kid()]);
        // Before any key's time (a clock behind the first start's), the oldest signs.
        assert_eq!(kid_at(&ring, 900), first.key.kid());
    }

    #[test]
    fn rings_opened_together_on_an_empty_directory_make_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let kids: Vec<String> = std::thread::scope(|scope| {
            let opening: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| KeyRing::open(&keys_dir, 1_000).unwrap().active(1_000).unwrap()))
                .collect();
            opening.into_iter().map(|h| h.join().unwrap().key.kid().to_owned()).collect()
        });
        assert!(kids.iter().all(|kid| *kid == kids[0]), "{kids:?}");
        assert_eq!(KeyRing::open(&keys_dir, 2_000).unwrap().keys().unwrap().len(), 1);
    }
}
