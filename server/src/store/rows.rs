//! Rows as both databases return them, and their conversion to records: the two stores select
//! the same columns, so the mapping is written once.

use sqlx::FromRow;

use super::*;

#[derive(FromRow)]
pub(super) struct EntityRow {
    id: String,
    name: String,
    legal_form: String,
    nip: Option<String>,
    regon: Option<String>,
    krs: Option<String>,
    city: Option<String>,
    voivodeship: Option<String>,
    domains: String,
    contact: Option<String>,
    created_at: i64,
}

impl EntityRow {
    pub(super) fn into_record(self) -> StoreResult<EntityRecord> {
        let domains = serde_json::from_str(&self.domains)
            .map_err(|err| StoreError::Corrupt(format!("domains of entity {}: {err}", self.id)))?;
        Ok(EntityRecord {
            id: self.id,
            name: self.name,
            legal_form: self.legal_form,
            nip: self.nip,
            regon: self.regon,
            krs: self.krs,
            city: self.city,
            voivodeship: self.voivodeship,
            domains,
            contact: self.contact,
            created_at: self.created_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct CertificateRow {
    id: String,
    number: String,
    entity_id: String,
    status_idx: i64,
    state: String,
    valid_from: i64,
    valid_until: i64,
    reason: Option<String>,
    public_note: Option<String>,
    search_text: String,
    created_at: i64,
    updated_at: i64,
}

impl CertificateRow {
    pub(super) fn into_record(self) -> StoreResult<CertificateRecord> {
        Ok(CertificateRecord {
            state: CertState::parse(&self.state)?,
            id: self.id,
            number: self.number,
            entity_id: self.entity_id,
            status_idx: self.status_idx,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            reason: self.reason,
            public_note: self.public_note,
            search_text: self.search_text,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct ProductRow {
    name: String,
    gtin: Option<String>,
    added_at: i64,
}

#[derive(FromRow)]
pub(super) struct TokenRow {
    jti: String,
    certificate_id: String,
    kid: String,
    token: String,
    iat: i64,
    exp: i64,
}

#[derive(FromRow)]
pub(super) struct AuditRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    subject: String,
    details: String,
    prev_hash: String,
    hash: String,
}

#[derive(FromRow)]
pub(super) struct ApiKeyRow {
    id: String,
    name: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

pub(super) const CERT_COLUMNS: &str = "id, number, entity_id, status_idx, state, valid_from, valid_until, reason, \
                            public_note, search_text, created_at, updated_at";

pub(super) fn products_from(rows: Vec<ProductRow>) -> Vec<ProductRecord> {
    rows.into_iter().map(|r| ProductRecord { name: r.name, gtin: r.gtin, added_at: r.added_at }).collect()
}

pub(super) fn conflict(err: sqlx::Error, what: impl Into<String>) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
        _ => StoreError::Database(err),
    }
}

impl TokenRow {
    pub(super) fn into_record(self) -> TokenRecord {
        TokenRecord {
            jti: self.jti,
            certificate_id: self.certificate_id,
            kid: self.kid,
            token: self.token,
            iat: self.iat,
            exp: self.exp,
        }
    }
}

impl AuditRow {
    pub(super) fn into_record(self) -> AuditRecord {
        AuditRecord {
            seq: self.seq,
            at: self.at,
            actor: self.actor,
            action: self.action,
            subject: self.subject,
            details: self.details,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

impl ApiKeyRow {
    pub(super) fn into_record(self) -> ApiKeyRecord {
        ApiKeyRecord {
            id: self.id,
            name: self.name,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        }
    }
}
