//! Helpers shared by the integration tests in `tests/it`, the benchmarks and the API contract
//! step of `cargo xtask`: [`Listening`] starts a server process and waits for it.

pub mod process;

pub use process::Listening;
