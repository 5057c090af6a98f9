//! A scratch directory for one command's servers, data and logs, emptied when made and removed
//! when dropped: the contract step's and every benchmark group's.

use std::path::PathBuf;

use anyhow::{Context, Result};

pub struct Scratch {
    pub path: PathBuf,
    /// The data directory handed to `zp`, inside `path`.
    pub data: PathBuf,
}

impl Scratch {
    /// `path`, emptied if it exists.
    pub fn new(path: PathBuf) -> Result<Self> {
        if path.exists() {
            std::fs::remove_dir_all(&path).with_context(|| format!("clearing {}", path.display()))?;
        }
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        let data = path.join("data");
        Ok(Scratch { path, data })
    }

    /// Writes `text` to the file `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.path.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.path) {
            eprintln!("xtask: could not remove {}: {err}", self.path.display());
        }
    }
}
