//! What a ROPS does with certificates, written once for the CLI and the admin API: validate the
//! input, change the store in one transaction with its audit entry, sign the new token.
//!
//! One room per area: `validation` (the input types and every check of them), `entities`,
//! `certificates` (issue, renew, add products, suspend, reinstate, revoke), `register` (the
//! whole register imported from and exported to CSV), `api_keys`, `publication` (signing keys,
//! the JWKS and status lists) and `trust_list` (the issuers this one vouches for). This file
//! holds what they share: the issuer itself, its settings and its errors.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zp_shared::status_list::{self, StatusListClaims};
use zp_shared::{
    Certificate, CertificateClaims, Entity, Jwks, KeySet, LegalForm, Product, StatusClaim, StatusList,
    StatusListRef,
};

use crate::ids;
use crate::keys::{Activation, KeyError, KeyRing, RingKey};
use crate::store::*;

mod api_keys;
mod certificates;
mod entities;
pub mod fields;
mod publication;
mod register;
mod trust_list;
mod validation;

pub use api_keys::hash_api_key;
pub use certificates::{INTERNAL_NOTE_MAX, Revocation, RevocationReason, Verdict};
pub use publication::KeyRotation;
pub use register::{
    COLUMNS, IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, ImportReport, LIST_SEPARATOR, REQUIRED_COLUMNS, RowError,
};
pub use trust_list::trusted_issuer_record;
pub use validation::*;

use publication::CachedList;

/// How many days before its end a certificate can be renewed.
pub const RENEWAL_WINDOW_DAYS: i64 = 90;
/// Entries per status list. Large lists hide which certificate a verifier asks about.
pub const STATUS_LIST_SIZE: i64 = 1 << 20;
/// How long a signed status list stays valid past its `ttl` (`exp = iat + ttl + this`): a
/// little slack for verifiers' clocks, never enough for a cache to keep a list signed before a
/// revocation in use (verifiers count freshness from `iat` anyway).
pub const STATUS_LIST_GRACE: i64 = 60;
/// How long a retired key stays published after a newer one starts signing, so that status
/// lists it signed keep verifying: a day and an hour, well past any list's `exp`.
const RETIRED_KEY_GRACE: i64 = 90_000;

pub use zp_shared::VOIVODESHIPS;

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("signing failed: {0}")]
    Sign(#[from] zp_shared::Error),
    #[error("writing CSV failed: {0}")]
    Csv(#[from] csv::Error),
}

pub type IssuerResult<T> = Result<T, IssuerError>;

fn invalid(field: impl Into<String>, message: impl Into<String>) -> IssuerError {
    IssuerError::Invalid { field: field.into(), message: message.into() }
}

/// Settings fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// Base URL without a trailing slash; the `iss` of every token.
    pub base_url: String,
    /// Two-letter region code in certificate numbers, e.g. `LU`.
    pub region: String,
    /// Seconds verifiers may cache a status list.
    pub status_ttl: u64,
}

pub struct Issuer {
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyRing>,
    pub settings: IssuerSettings,
    status_cache: Mutex<Vec<CachedList>>,
    /// The verifier's key set and the second it was made for (see [`Issuer::verify_keys`]).
    verify_keys: Mutex<Option<(i64, Arc<KeySet>)>>,
    trust_cache: Mutex<Option<trust_list::CachedTrustList>>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Issuer {
    pub fn new(store: Arc<dyn Store>, keys: Arc<KeyRing>, settings: IssuerSettings) -> Self {
        Issuer {
            store,
            keys,
            settings,
            status_cache: Mutex::new(Vec::new()),
            verify_keys: Mutex::new(None),
            trust_cache: Mutex::new(None),
        }
    }

    pub fn status_list_uri(&self, list: i64) -> String {
        format!("{}/api/v1/status-lists/{list}", self.settings.base_url)
    }

    pub fn verify_url(&self, id: &str) -> String {
        format!("{}/v/{id}", self.settings.base_url)
    }

    fn audit(actor: &str, action: &str, subject: &str, details: serde_json::Value, now: i64) -> AuditEntry {
        AuditEntry { at: now, actor: actor.into(), action: action.into(), subject: subject.into(), details }
    }
}
