//! The issuer's signing keys, one private JWK file each in the key directory (`<data dir>/keys`
//! or `--keys-dir`), mode 0600.
//!
//! The newest key signs; older keys stay published until the last token they signed has
//! expired. Replicas (and the CLI) that share the directory see a rotation at their next use,
//! because the ring re-reads the directory whenever its listing changes. Creating keys takes a
//! lock on `.lock` in the directory, so replicas starting together on an empty directory make
//! one first key, not one each.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rand::rngs::OsRng;
use zp_shared::{IssuerKey, PrivateJwk};

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

/// A signing key and when it became the signing key.
#[derive(Debug, Clone)]
pub struct RingKey {
    pub created: i64,
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

impl KeyRing {
    /// Opens the key directory, creating it and a first key when there is none.
    pub fn open(dir: &Path, now: i64) -> Result<Self, KeyError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        let ring = KeyRing { dir: dir.to_owned(), loaded: RwLock::new(Loaded::default()) };
        let _lock = ring.lock()?;
        if ring.keys()?.is_empty() {
            ring.rotate_locked(now)?;
        }
        Ok(ring)
    }

    /// Holds the directory's key-creation lock until dropped; other processes wait for it.
    fn lock(&self) -> Result<fs::File, KeyError> {
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        file.lock().map_err(io(&path))?;
        Ok(file)
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
            let created = name
                .split('-')
                .next()
                .and_then(|stamp| stamp.parse().ok())
                .ok_or_else(|| invalid("file name must start with its creation time".into()))?;
            keys.push(RingKey { created, key: Arc::new(key) });
        }
        keys.sort_by_key(|k| k.created);
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = Loaded { listing, keys };
        }
        Ok(())
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> Result<Vec<RingKey>, KeyError> {
        self.refresh()?;
        Ok(self.loaded.read().map(|loaded| loaded.keys.clone()).unwrap_or_default())
    }

    /// The key that signs now: the newest.
    pub fn active(&self) -> Result<RingKey, KeyError> {
        self.keys()?.pop().ok_or_else(|| KeyError::Empty(self.dir.clone()))
    }

    /// Generates a new signing key; earlier keys keep verifying what they signed.
    pub fn rotate(&self, now: i64) -> Result<RingKey, KeyError> {
        let _lock = self.lock()?;
        self.rotate_locked(now)
    }

    fn rotate_locked(&self, now: i64) -> Result<RingKey, KeyError> {
        // Never reuse a second: file names order the keys.
        let latest = self.keys()?.last().map_or(i64::MIN, |k| k.created);
        let created = now.max(latest + 1);
        let key = IssuerKey::generate(&mut OsRng)
            .map_err(|err| KeyError::Invalid { path: self.dir.clone(), reason: err.to_string() })?;
        let path = self.dir.join(format!("{created:011}-{}.jwk", key.kid()));
        let tmp = self.dir.join(format!(".{created:011}-{}.tmp", key.kid()));
        let text = serde_json::to_string_pretty(&key.to_private_jwk())
            .map_err(|err| KeyError::Invalid { path: path.clone(), reason: err.to_string() })?;
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
        file.write_all(text.as_bytes()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        fs::File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(io(&self.dir))?;
        self.refresh()?;
        Ok(RingKey { created, key: Arc::new(key) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_key_rotation_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let ring = KeyRing::open(&keys_dir, 1_000).unwrap();
        let first = ring.active().unwrap();
        let file = fs::read_dir(&keys_dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|ext| ext == "jwk"))
            .unwrap();
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let second = ring.rotate(1_000).unwrap();
        assert_ne!(first.key.kid(), second.key.kid());
        assert_eq!(ring.active().unwrap().key.kid(), second.key.kid());
        assert_eq!(ring.keys().unwrap().len(), 2);
        // Another process reading the same directory sees the same ring.
        let again = KeyRing::open(&keys_dir, 2_000).unwrap();
        assert_eq!(again.active().unwrap().key.kid(), second.key.kid());
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let other = KeyRing { dir: keys_dir.clone(), loaded: RwLock::new(Loaded::default()) };
        assert!(matches!(other.keys().unwrap_err(), KeyError::Permissions { mode: 0o644, .. }));
    }

    #[test]
    fn rings_opened_together_on_an_empty_directory_make_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let kids: Vec<String> = std::thread::scope(|scope| {
            let opening: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| KeyRing::open(&keys_dir, 1_000).unwrap().active().unwrap()))
                .collect();
            opening.into_iter().map(|h| h.join().unwrap().key.kid().to_owned()).collect()
        });
        assert!(kids.iter().all(|kid| *kid == kids[0]), "{kids:?}");
        assert_eq!(KeyRing::open(&keys_dir, 2_000).unwrap().keys().unwrap().len(), 1);
    }
}
