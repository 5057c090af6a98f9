//! Rows as both databases return them, and their conversion to records: the two stores select
//! the same columns, so the mapping is written once.

use std::collections::HashMap;

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

/// A product with the certificate it belongs to, for loading several certificates at once.
#[derive(FromRow)]
pub(super) struct CertificateProductRow {
    pub(super) certificate_id: String,
    #[sqlx(flatten)]
    pub(super) product: ProductRow,
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
    account_id: Option<String>,
}

#[derive(FromRow)]
pub(super) struct TrustedIssuerRow {
    iss: String,
    name: String,
    voivodeship: Option<String>,
    jwks_uri: String,
    added_at: i64,
}

impl TrustedIssuerRow {
    pub(super) fn into_record(self) -> TrustedIssuerRecord {
        TrustedIssuerRecord {
            iss: self.iss,
            name: self.name,
            voivodeship: self.voivodeship,
            jwks_uri: self.jwks_uri,
            added_at: self.added_at,
        }
    }
}

pub(super) const TRUSTED_ISSUERS_SQL: &str =
    "SELECT iss, name, voivodeship, jwks_uri, added_at FROM trusted_issuers ORDER BY iss";

pub(super) const CERT_COLUMNS: &str = "id, number, entity_id, status_idx, state, valid_from, valid_until, reason, \
                            public_note, search_text, created_at, updated_at";

/// One certificate with its entity and newest token in one row, for the lookup of a single
/// certificate ([`detail_sql`]): one query instead of three. Only the entity's `created_at`
/// clashes with a certificate column, so it comes as `entity_created_at`; the entity's ID is the
/// certificate's `entity_id`, and the token's certificate the certificate itself. Both joins are
/// outer joins, so that a certificate without its entity still reads as corrupt rather than
/// missing, as it does when the tables are read one by one.
#[derive(FromRow)]
pub(super) struct DetailRow {
    #[sqlx(flatten)]
    certificate: CertificateRow,
    name: Option<String>,
    legal_form: Option<String>,
    nip: Option<String>,
    regon: Option<String>,
    krs: Option<String>,
    city: Option<String>,
    voivodeship: Option<String>,
    domains: Option<String>,
    contact: Option<String>,
    entity_created_at: Option<i64>,
    jti: Option<String>,
    kid: Option<String>,
    token: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
}

/// The select of a [`DetailRow`] for the certificate whose ID is its one parameter, with `order`
/// breaking ties between tokens signed in the same second (insertion order, which each database
/// keeps in its own column).
pub(super) fn detail_sql(order: &str) -> String {
    format!(
        "SELECT c.id, c.number, c.entity_id, c.status_idx, c.state, c.valid_from, c.valid_until, c.reason, \
         c.public_note, c.search_text, c.created_at, c.updated_at, \
         e.name, e.legal_form, e.nip, e.regon, e.krs, e.city, e.voivodeship, e.domains, e.contact, \
         e.created_at AS entity_created_at, t.jti, t.kid, t.token, t.iat, t.exp \
         FROM certificates c LEFT JOIN entities e ON e.id = c.entity_id \
         LEFT JOIN tokens t ON t.jti = (SELECT jti FROM tokens WHERE certificate_id = c.id \
         ORDER BY iat DESC, {order} DESC LIMIT 1) \
         WHERE c.id = ?"
    )
}

impl DetailRow {
    /// The detail, given the certificate's products.
    pub(super) fn into_detail(self, products: Vec<ProductRow>) -> StoreResult<CertificateDetail> {
        let certificate = self.certificate.into_record()?;
        let (Some(name), Some(legal_form), Some(domains), Some(created_at)) =
            (self.name, self.legal_form, self.domains, self.entity_created_at)
        else {
            return Err(StoreError::Corrupt(format!("certificate {} has no entity", certificate.id)));
        };
        let entity = EntityRow {
            id: certificate.entity_id.clone(),
            name,
            legal_form,
            nip: self.nip,
            regon: self.regon,
            krs: self.krs,
            city: self.city,
            voivodeship: self.voivodeship,
            domains,
            contact: self.contact,
            created_at,
        }
        .into_record()?;
        let token = match (self.jti, self.kid, self.token, self.iat, self.exp) {
            (Some(jti), Some(kid), Some(token), Some(iat), Some(exp)) => {
                Some(TokenRecord { jti, certificate_id: certificate.id.clone(), kid, token, iat, exp })
            }
            _ => None,
        };
        Ok(CertificateDetail { certificate, entity, products: products_from(products), token })
    }
}

/// The products of one certificate, in position order.
pub(super) const PRODUCTS_SQL: &str =
    "SELECT name, gtin, added_at FROM products WHERE certificate_id = ? ORDER BY position";

/// The distinct entities of `certificates`.
pub(super) fn entity_ids(certificates: &[CertificateRecord]) -> Vec<String> {
    let mut ids: Vec<String> = certificates.iter().map(|c| c.entity_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Puts certificates together with their entities, products (in position order per certificate)
/// and latest tokens (the first row per certificate, as queried newest first).
pub(super) fn assemble_details(
    certificates: Vec<CertificateRecord>,
    entities: Vec<EntityRow>,
    products: Vec<CertificateProductRow>,
    tokens: Vec<TokenRow>,
) -> StoreResult<Vec<CertificateDetail>> {
    let mut entities_by_id = HashMap::new();
    for row in entities {
        let entity = row.into_record()?;
        entities_by_id.insert(entity.id.clone(), entity);
    }
    let mut products_by_certificate: HashMap<String, Vec<ProductRow>> = HashMap::new();
    for row in products {
        products_by_certificate.entry(row.certificate_id).or_default().push(row.product);
    }
    let mut tokens_by_certificate: HashMap<String, TokenRecord> = HashMap::new();
    for row in tokens {
        let token = row.into_record();
        tokens_by_certificate.entry(token.certificate_id.clone()).or_insert(token);
    }
    certificates
        .into_iter()
        .map(|certificate| {
            let entity = entities_by_id.get(&certificate.entity_id).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("certificate {} has no entity", certificate.id))
            })?;
            let products = products_from(products_by_certificate.remove(&certificate.id).unwrap_or_default());
            let token = tokens_by_certificate.remove(&certificate.id);
            Ok(CertificateDetail { certificate, entity, products, token })
        })
        .collect()
}

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
            account_id: self.account_id,
        }
    }
}
