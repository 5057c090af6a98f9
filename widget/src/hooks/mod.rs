//! Hooks of the badge.

pub mod use_wake;
