//! Server scale: resident memory with 100,000 certificates and cold start, against a bare axum server.

use std::path::Path;

use anyhow::Result;

use super::Report;

pub(crate) fn figures(_root: &Path, _report: &mut Report) -> Result<()> {
    Ok(())
}
