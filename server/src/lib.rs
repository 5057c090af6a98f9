//! The issuer server of the Zakup Prospołeczny mark: issues, renews and revokes certificates,
//! publishes keys and status lists, and serves the public check API, registry and verification
//! pages. Token work goes through `zp-shared`.

pub mod accounts;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod http;
pub mod ids;
pub mod issuer;
pub mod keys;
pub mod mail;
pub mod qr;
pub mod store;

pub use clock::Clock;
pub use http::{AppState, router};
