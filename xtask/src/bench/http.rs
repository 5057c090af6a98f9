//! Check API load: the lookup and verify endpoints against a bare axum handler, under wrk.

use std::path::Path;

use anyhow::Result;

use super::Report;

pub(crate) fn figures(_root: &Path, _report: &mut Report) -> Result<()> {
    Ok(())
}
