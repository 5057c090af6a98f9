//! Storage behind one trait, so the issuer logic is written once for SQLite and PostgreSQL.
//!
//! Reads go straight to the store; every write runs in a [`Tx`] that also appends its audit
//! entry, so a change and its record commit together or not at all.

pub use crate::audit::{AuditEntry, AuditRecord};
pub use accounts::{AccountRecord, AccountStore, AccountTx, CeremonyRecord, PasskeyRecord, SessionRecord};
pub use applications::{
    ApplicantSessionRecord, ApplicationEventRecord, ApplicationFileRecord, ApplicationRecord,
    ApplicationStore, ApplicationTx,
};
use async_trait::async_trait;
pub use outbox::{OutboxRecord, OutboxStore, OutboxTx, ReminderCandidate};
use serde::{Deserialize, Serialize};

mod accounts;
mod applications;
pub mod copy;
mod outbox;
pub mod postgres;
mod rows;
mod shared;
pub mod sqlite;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityRecord {
    pub id: String,
    pub name: String,
    /// snake_case name of a [`zp_shared::LegalForm`].
    pub legal_form: String,
    pub nip: Option<String>,
    pub regon: Option<String>,
    pub krs: Option<String>,
    pub city: Option<String>,
    pub voivodeship: Option<String>,
    pub domains: Vec<String>,
    pub contact: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertState {
    Active,
    Suspended,
    Revoked,
}

impl CertState {
    pub fn as_str(self) -> &'static str {
        match self {
            CertState::Active => "active",
            CertState::Suspended => "suspended",
            CertState::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> StoreResult<Self> {
        match text {
            "active" => Ok(CertState::Active),
            "suspended" => Ok(CertState::Suspended),
            "revoked" => Ok(CertState::Revoked),
            other => Err(StoreError::Corrupt(format!("unknown certificate state {other:?}"))),
        }
    }

    /// The value this state has in the status list.
    pub fn status(self) -> zp_shared::Status {
        match self {
            CertState::Active => zp_shared::Status::Valid,
            CertState::Suspended => zp_shared::Status::Suspended,
            CertState::Revoked => zp_shared::Status::Revoked,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub id: String,
    pub number: String,
    pub entity_id: String,
    pub status_idx: i64,
    pub state: CertState,
    pub valid_from: i64,
    pub valid_until: i64,
    pub reason: Option<String>,
    pub public_note: Option<String>,
    pub search_text: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub name: String,
    pub gtin: Option<String>,
    pub added_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub jti: String,
    pub certificate_id: String,
    pub kid: String,
    pub token: String,
    pub iat: i64,
    pub exp: i64,
}

/// A certificate with everything shown about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDetail {
    pub certificate: CertificateRecord,
    pub entity: EntityRecord,
    pub products: Vec<ProductRecord>,
    /// The newest token.
    pub token: Option<TokenRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The person the key acts for, with that person's role at each request; none for keys made
    /// from the command line, which act as admin.
    pub account_id: Option<String>,
}

/// An issuer this issuer vouches for in its trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustedIssuerRecord {
    /// The issuer's base URL, the `iss` of its tokens.
    pub iss: String,
    pub name: String,
    pub voivodeship: Option<String>,
    /// Where its keys are published.
    pub jwks_uri: String,
    /// Unix seconds.
    pub added_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Folded search terms, without whitespace or control characters; every one must match.
    pub terms: Vec<String>,
    pub entity_id: Option<String>,
    /// Only certificates whose validity ends in `[from, to)`.
    pub ending: Option<(i64, i64)>,
    pub state: Option<CertState>,
    pub limit: u32,
    pub offset: u32,
}

#[async_trait]
pub trait Store: AccountStore + ApplicationStore + OutboxStore + Send + Sync + 'static {
    /// Starts a write transaction that holds the write lock from its first statement.
    async fn begin(&self) -> StoreResult<Box<dyn Tx>>;

    async fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    async fn entity(&self, id: &str) -> StoreResult<Option<EntityRecord>>;
    async fn entities(&self, limit: u32, offset: u32) -> StoreResult<Vec<EntityRecord>>;
    async fn certificate(&self, id: &str) -> StoreResult<Option<CertificateDetail>>;
    async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<CertificateDetail>>;
    /// Up to `limit` certificates whose IDs come after `after` (`""` for the first), in ID
    /// order: the whole registry page by page, each certificate once, however others change
    /// meanwhile (a certificate's ID never changes, unlike the order search sorts by).
    async fn certificates_after(&self, after: &str, limit: u32) -> StoreResult<Vec<CertificateDetail>>;
    /// The newest active certificate that lists a product with this GTIN-14.
    async fn certificate_by_gtin(&self, gtin14: &str) -> StoreResult<Option<String>>;
    /// `(status index, state)` of every certificate not active, for the status list.
    async fn status_entries(&self) -> StoreResult<Vec<(i64, CertState)>>;
    async fn max_status_idx(&self) -> StoreResult<Option<i64>>;
    /// How many certificates are in each verdict at `now`: `valid`, `expired`, `not_yet_valid`,
    /// `suspended`, `revoked` (those with none are left out).
    async fn certificate_counts(&self, now: i64) -> StoreResult<Vec<(String, i64)>>;
    /// Sequence number of the newest audit entry: changes with every write.
    async fn audit_head(&self) -> StoreResult<i64>;
    async fn audit_log(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    async fn api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Every admin API key, oldest first (without hashes).
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// The latest `exp` of any token signed by `kid`.
    async fn last_token_exp(&self, kid: &str) -> StoreResult<Option<i64>>;
    /// The issuers of the trust list, by URL.
    async fn trusted_issuers(&self) -> StoreResult<Vec<TrustedIssuerRecord>>;
    /// A token ever issued (the newest of its certificate or an earlier one), by its `jti`.
    async fn token(&self, jti: &str) -> StoreResult<Option<TokenRecord>>;
}

#[async_trait]
pub trait Tx: AccountTx + ApplicationTx + OutboxTx + Send {
    async fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()>;
    async fn entity(&mut self, id: &str) -> StoreResult<Option<EntityRecord>>;
    async fn insert_entity(&mut self, entity: &EntityRecord) -> StoreResult<()>;
    /// Replaces everything of the entity with this ID but its ID and `created_at`; false when
    /// no entity has it, a conflict when another entity has its NIP.
    async fn update_entity(&mut self, entity: &EntityRecord) -> StoreResult<bool>;
    /// The entity registered with this NIP (digits only, as stored).
    async fn entity_by_nip(&mut self, nip: &str) -> StoreResult<Option<EntityRecord>>;
    async fn certificate(&mut self, id: &str) -> StoreResult<Option<CertificateRecord>>;
    async fn products(&mut self, certificate_id: &str) -> StoreResult<Vec<ProductRecord>>;
    /// Every certificate of an entity, whatever its state, in ID order.
    async fn entity_certificates(&mut self, entity_id: &str) -> StoreResult<Vec<CertificateRecord>>;
    async fn next_status_idx(&mut self) -> StoreResult<i64>;
    /// How many certificate numbers already start with `prefix`.
    async fn count_numbers(&mut self, prefix: &str) -> StoreResult<i64>;
    /// The ID of the certificate with exactly this number.
    async fn certificate_id_by_number(&mut self, number: &str) -> StoreResult<Option<String>>;
    async fn insert_certificate(&mut self, certificate: &CertificateRecord) -> StoreResult<()>;
    async fn update_certificate(&mut self, certificate: &CertificateRecord) -> StoreResult<()>;
    async fn insert_product(
        &mut self,
        certificate_id: &str,
        position: i64,
        product: &ProductRecord,
    ) -> StoreResult<()>;
    async fn insert_token(&mut self, token: &TokenRecord) -> StoreResult<()>;
    async fn insert_api_key(&mut self, key: &ApiKeyRecord, hash: &str) -> StoreResult<()>;
    /// Marks a key revoked at `at`; false when no unrevoked key has this ID.
    async fn revoke_api_key(&mut self, id: &str, at: i64) -> StoreResult<bool>;
    /// The issuers of the trust list, by URL, as this transaction sees them.
    async fn trusted_issuers(&mut self) -> StoreResult<Vec<TrustedIssuerRecord>>;
    /// Adds an issuer to the trust list; a conflict when its URL is already there.
    async fn insert_trusted_issuer(&mut self, issuer: &TrustedIssuerRecord) -> StoreResult<()>;
    /// Takes an issuer off the trust list; false when it was not on it.
    async fn delete_trusted_issuer(&mut self, iss: &str) -> StoreResult<bool>;
    /// Appends to the hash chain: the new entry's hash covers the previous one's.
    async fn append_audit(&mut self, entry: &AuditEntry) -> StoreResult<AuditRecord>;
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
