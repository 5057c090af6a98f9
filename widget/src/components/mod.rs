//! The badge's components, one per file.

pub mod badge;
pub mod icon;
