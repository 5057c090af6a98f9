//! What a ROPS does with certificates, written once for the CLI and the admin API: validate the
//! input, change the store in one transaction with its audit entry, sign the new token.

use std::sync::{Arc, Mutex};

use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, Month, OffsetDateTime, Time};
use zp_shared::status_list::{self, StatusListClaims};
use zp_shared::{
    Certificate, CertificateClaims, Entity, Jwks, KeySet, LegalForm, Product, StatusClaim, StatusList,
    StatusListRef,
};

use crate::http::fields;
use crate::ids;
use crate::keys::{Activation, KeyError, KeyRing, RingKey};
use crate::store::*;

mod trust_list;

pub use trust_list::trusted_issuer_record;

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

/// Why a certificate was revoked; shown on the verification page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The products or services no longer meet the quality criteria.
    QualityCriteria,
    /// The entity is no longer a social-economy entity.
    NotSocialEconomy,
    /// The mark was used on products or services it does not cover.
    Misuse,
    /// The application contained false information.
    FalseInformation,
    /// The entity asked for the certificate to end.
    EntityRequest,
    /// The entity has ceased to exist.
    EntityDissolved,
    /// The certificate was issued by mistake.
    IssuedInError,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::QualityCriteria => "quality_criteria",
            RevocationReason::NotSocialEconomy => "not_social_economy",
            RevocationReason::Misuse => "misuse",
            RevocationReason::FalseInformation => "false_information",
            RevocationReason::EntityRequest => "entity_request",
            RevocationReason::EntityDissolved => "entity_dissolved",
            RevocationReason::IssuedInError => "issued_in_error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }

    pub fn label(self, pl: bool) -> &'static str {
        match (self, pl) {
            (RevocationReason::QualityCriteria, true) => {
                "produkty lub usługi przestały spełniać kryteria jakości"
            }
            (RevocationReason::QualityCriteria, false) => {
                "the products or services no longer meet the quality criteria"
            }
            (RevocationReason::NotSocialEconomy, true) => {
                "podmiot przestał być podmiotem ekonomii społecznej"
            }
            (RevocationReason::NotSocialEconomy, false) => "the entity is no longer a social-economy entity",
            (RevocationReason::Misuse, true) => {
                "znak był używany na produktach lub usługach, których nie obejmuje"
            }
            (RevocationReason::Misuse, false) => {
                "the mark was used on products or services it does not cover"
            }
            (RevocationReason::FalseInformation, true) => "wniosek zawierał nieprawdziwe informacje",
            (RevocationReason::FalseInformation, false) => "the application contained false information",
            (RevocationReason::EntityRequest, true) => "na wniosek podmiotu",
            (RevocationReason::EntityRequest, false) => "at the entity's request",
            (RevocationReason::EntityDissolved, true) => "podmiot zakończył działalność",
            (RevocationReason::EntityDissolved, false) => "the entity has ceased to exist",
            (RevocationReason::IssuedInError, true) => "certyfikat wydano omyłkowo",
            (RevocationReason::IssuedInError, false) => "the certificate was issued in error",
        }
    }
}

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
}

pub type IssuerResult<T> = Result<T, IssuerError>;

fn invalid(field: impl Into<String>, message: impl Into<String>) -> IssuerError {
    IssuerError::Invalid { field: field.into(), message: message.into() }
}

// The JSON Schemas of these fields (`http::fields`) say exactly what the checks below accept.

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntity {
    /// Full name, as registered.
    #[schema(value_type = fields::Name)]
    pub name: String,
    #[schema(value_type = fields::LegalFormCode)]
    pub legal_form: String,
    /// Web domains where the entity shows the badge (1 to 20), listed once each however written.
    #[schema(value_type = Vec<fields::Domain>, min_items = 1, max_items = 20)]
    pub domains: Vec<String>,
    /// A NIP already registered is refused with 422 naming `nip`.
    #[serde(default)]
    #[schema(value_type = Option<fields::Nip>)]
    pub nip: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Regon>)]
    pub regon: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Krs>)]
    pub krs: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::City>)]
    pub city: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<fields::Voivodeship>)]
    pub voivodeship: Option<String>,
    /// Contact e-mail or phone, for the issuer's staff; not published.
    #[serde(default)]
    #[schema(value_type = Option<fields::Contact>)]
    pub contact: Option<String>,
}

/// Read only from a JSON object (see [`crate::http::error::ObjectOnly`]): the derived code is
/// `NewProduct::deserialize`, which the `Deserialize` impl below calls through it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewProduct {
    #[schema(value_type = fields::Name)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<fields::Gtin>)]
    pub gtin: Option<String>,
}

impl<'de> Deserialize<'de> for NewProduct {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        NewProduct::deserialize(crate::http::error::ObjectOnly(deserializer))
    }
}

impl Serialize for NewProduct {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        NewProduct::serialize(self, serializer)
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCertificate {
    /// The entity's ID; one that does not exist is refused with 422 naming `entity_id`.
    pub entity_id: String,
    /// Certified products and services (1 to 50). The certificate's token lists them and must fit
    /// in 8 KiB: a list too long for it is refused with 422 naming `products`.
    #[schema(min_items = 1, max_items = 50)]
    pub products: Vec<NewProduct>,
    /// First day of the validity year; today when omitted.
    #[serde(default)]
    #[schema(value_type = Option<fields::ValidFrom>)]
    pub valid_from: Option<String>,
}

/// A certificate's verdict at a given time, as the check API and the page report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Expired,
    NotYetValid,
    Suspended,
    Revoked,
}

impl Verdict {
    pub fn of(certificate: &CertificateRecord, now: i64) -> Self {
        match certificate.state {
            CertState::Revoked => Verdict::Revoked,
            CertState::Suspended => Verdict::Suspended,
            CertState::Active if now >= certificate.valid_until => Verdict::Expired,
            CertState::Active if now < certificate.valid_from => Verdict::NotYetValid,
            CertState::Active => Verdict::Valid,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Expired => "expired",
            Verdict::NotYetValid => "not_yet_valid",
            Verdict::Suspended => "suspended",
            Verdict::Revoked => "revoked",
        }
    }
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

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KeyRotation {
    /// Key ID of the new key; the JWKS lists it from now on.
    pub kid: String,
    /// Unix seconds from which it signs: once no cached JWKS can lack it (300 s), or at once for
    /// an emergency rotation.
    pub active_from: i64,
    /// Key IDs of keys that were still waiting to sign, withdrawn by an emergency rotation.
    pub withdrawn: Vec<String>,
}

/// A move between certificate states.
struct Change<'a> {
    from: &'a [CertState],
    to: CertState,
    reason: Option<&'a str>,
    note: Option<String>,
}

#[derive(Debug, Clone)]
struct CachedList {
    head: i64,
    list: i64,
    kid: String,
    made_at: i64,
    token: String,
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

/// Lowercases and strips Polish diacritics, so "zloty sloik" finds "Złoty Słoik".
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            other => other,
        })
        .collect()
}

/// The folded text registry search matches against: the certificate's ID and number, the
/// entity's name, place and identifiers, and its products.
pub fn search_text(
    certificate_id: &str,
    number: &str,
    entity: &EntityRecord,
    products: &[ProductRecord],
) -> String {
    let mut parts = vec![certificate_id, number, &entity.name];
    parts.extend(
        [&entity.city, &entity.voivodeship, &entity.nip, &entity.krs, &entity.regon]
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    parts.extend(products.iter().map(|p| p.name.as_str()));
    parts.extend(products.iter().filter_map(|p| p.gtin.as_deref()));
    fold(&parts.join(" \u{1f} "))
}

/// Longest entity name, product or service name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest city name.
pub const CITY_MAX: usize = 100;
/// Longest contact line.
pub const CONTACT_MAX: usize = 200;
/// Longest public note on a suspension or revocation.
pub const NOTE_MAX: usize = 500;
/// Most web domains an entity may list.
pub const DOMAINS_MAX: usize = 20;
/// Most products or services a certificate may list.
pub const PRODUCTS_MAX: usize = 50;

/// Refuses control characters anywhere in a text field, and more than `max` characters, before
/// any trimming: what the OpenAPI document says of every such field (`maxLength`, and a pattern
/// without U+0000–U+001F and U+007F–U+009F). Returns the text without surrounding whitespace.
fn checked_text<'a>(field: &str, value: &'a str, max: usize) -> IssuerResult<&'a str> {
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    Ok(value.trim())
}

/// A required text field: [`checked_text`], and not blank.
pub fn clean_text(field: &str, value: &str, max: usize) -> IssuerResult<String> {
    let value = checked_text(field, value, max)?;
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(value.to_owned())
}

/// An optional text field: [`checked_text`]; blank is the same as absent.
pub fn optional_text(field: &str, value: &Option<String>, max: usize) -> IssuerResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(text) => {
            let text = checked_text(field, text, max)?;
            Ok((!text.is_empty()).then(|| text.to_owned()))
        }
    }
}

/// One of [`VOIVODESHIPS`], exactly as listed there (lowercase), or none.
pub fn optional_voivodeship(value: &Option<String>) -> IssuerResult<Option<String>> {
    match value.as_deref() {
        None => Ok(None),
        Some(region) if VOIVODESHIPS.contains(&region) => Ok(Some(region.to_owned())),
        Some(_) => Err(invalid("voivodeship", format!("must be one of {}", VOIVODESHIPS.join(", ")))),
    }
}

/// A register identifier (NIP, REGON, KRS) checked by `check`; blank is the same as absent.
pub fn optional_ident(
    field: &str,
    value: &Option<String>,
    check: fn(&str) -> Result<String, zp_shared::Error>,
) -> IssuerResult<Option<String>> {
    match optional_text(field, value, usize::MAX)? {
        None => Ok(None),
        Some(text) => check(&text).map(Some).map_err(|err| invalid(field, err.to_string())),
    }
}

/// The code of a [`LegalForm`], exactly.
pub fn parse_legal_form(value: &str) -> IssuerResult<LegalForm> {
    LegalForm::from_code(value).ok_or_else(|| {
        let names: Vec<&str> = LegalForm::ALL.iter().map(|form| form.code()).collect();
        invalid("legal_form", format!("must be one of {}", names.join(", ")))
    })
}

/// The products of a new certificate, or of an addition to one: 1 to [`PRODUCTS_MAX`], each
/// with a name and perhaps a GTIN.
pub fn validate_products(field: &str, products: &[NewProduct], now: i64) -> IssuerResult<Vec<ProductRecord>> {
    if products.is_empty() {
        return Err(invalid(field, "list at least one product or service"));
    }
    if products.len() > PRODUCTS_MAX {
        return Err(invalid(field, format!("at most {PRODUCTS_MAX} products or services")));
    }
    products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = clean_text(&format!("{field}[{i}].name"), &p.name, NAME_MAX)?;
            let field = format!("{field}[{i}].gtin");
            let gtin = match optional_text(&field, &p.gtin, usize::MAX)? {
                None => None,
                Some(g) => Some(ids::gtin14(&g).map_err(|m| invalid(field, m))?),
            };
            Ok(ProductRecord { name, gtin, added_at: now })
        })
        .collect()
}

/// The entity a [`NewEntity`] describes, checked field by field, with a new ID. The store and the
/// token budget ([`Issuer::create_entity`]) come after.
pub fn entity_record(input: NewEntity, now: i64) -> IssuerResult<EntityRecord> {
    let name = clean_text("name", &input.name, NAME_MAX)?;
    let legal_form = parse_legal_form(&input.legal_form)?;
    if input.domains.is_empty() {
        return Err(invalid("domains", "list at least one domain where the badge will be shown"));
    }
    if input.domains.len() > DOMAINS_MAX {
        return Err(invalid("domains", format!("at most {DOMAINS_MAX} domains")));
    }
    let mut domains = Vec::new();
    for (i, domain) in input.domains.iter().enumerate() {
        let field = format!("domains[{i}]");
        let domain = checked_text(&field, domain, usize::MAX)?;
        let domain = ids::normalize_domain(domain).map_err(|m| invalid(field, m))?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    let voivodeship = optional_voivodeship(&input.voivodeship)?;
    Ok(EntityRecord {
        id: ids::new_id("E", &mut OsRng),
        name,
        legal_form: legal_form.code().to_owned(),
        nip: optional_ident("nip", &input.nip, zp_shared::ident::nip)?,
        regon: optional_ident("regon", &input.regon, zp_shared::ident::regon)?,
        krs: optional_ident("krs", &input.krs, zp_shared::ident::krs)?,
        city: optional_text("city", &input.city, CITY_MAX)?,
        voivodeship,
        domains,
        contact: optional_text("contact", &input.contact, CONTACT_MAX)?,
        created_at: now,
    })
}

/// The first day of a new certificate's validity: `valid_from` (`YYYY-MM-DD`, at most two years
/// back and one ahead), or today when it is absent or blank.
pub fn validity_start(valid_from: &Option<String>, now: i64) -> IssuerResult<Date> {
    let start = match optional_text("valid_from", valid_from, usize::MAX)? {
        None => date_of(now),
        Some(text) => Date::parse(&text, &time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| invalid("valid_from", "must be a date written YYYY-MM-DD"))?,
    };
    // Certificates granted on paper may be entered late, but not from years ago; a year ahead
    // at most.
    let days = (start - date_of(now)).whole_days();
    if !(-731..=366).contains(&days) {
        return Err(invalid("valid_from", "must be at most two years before today and one year after"));
    }
    Ok(start)
}

/// Midnight UTC at the start of `date`.
fn day_start(date: Date) -> i64 {
    date.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp()
}

/// The same calendar day a year later (29 February becomes 1 March).
fn plus_one_year(date: Date) -> Date {
    let year = date.year() + 1;
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, Month::March, 1))
        .unwrap_or(date)
}

fn date_of(unix: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(unix).map(OffsetDateTime::date).unwrap_or(Date::MIN)
}

pub fn format_date(unix: i64) -> String {
    let d = date_of(unix);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub fn hash_api_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
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

    pub async fn create_entity(&self, actor: &str, input: NewEntity, now: i64) -> IssuerResult<EntityRecord> {
        let entity = entity_record(input, now)?;
        self.check_token_budget(&entity)?;
        let mut tx = self.store.begin().await?;
        tx.insert_entity(&entity).await.map_err(|err| match err {
            StoreError::Conflict(_) => invalid("nip", "an entity with this NIP is already registered"),
            other => other.into(),
        })?;
        let details =
            serde_json::json!({ "name": entity.name, "nip": entity.nip, "domains": entity.domains });
        tx.append_audit(&Self::audit(actor, "entity.create", &entity.id, details, now)).await?;
        tx.commit().await?;
        Ok(entity)
    }

    /// The claims a token of this certificate carries. Public so that bulk fills (the benchmarks'
    /// seeder) sign exactly what [`Issuer::issue`] would.
    pub fn claims(
        &self,
        certificate: &CertificateRecord,
        entity: &EntityRecord,
        products: &[ProductRecord],
        jti: &str,
        now: i64,
    ) -> IssuerResult<CertificateClaims> {
        Ok(CertificateClaims {
            iss: self.settings.base_url.clone(),
            sub: certificate.id.clone(),
            jti: jti.to_owned(),
            iat: now,
            nbf: certificate.valid_from,
            exp: certificate.valid_until,
            status: StatusClaim {
                status_list: StatusListRef {
                    idx: (certificate.status_idx % STATUS_LIST_SIZE) as u64,
                    uri: self.status_list_uri(certificate.status_idx / STATUS_LIST_SIZE),
                },
            },
            zp: Certificate {
                number: certificate.number.clone(),
                entity: Entity {
                    name: entity.name.clone(),
                    legal_form: parse_legal_form(&entity.legal_form)?,
                    nip: entity.nip.clone(),
                    krs: entity.krs.clone(),
                    regon: entity.regon.clone(),
                    city: entity.city.clone(),
                    voivodeship: entity.voivodeship.clone(),
                },
                products: products
                    .iter()
                    .map(|p| Product { name: p.name.clone(), gtin: p.gtin.clone() })
                    .collect(),
                domains: entity.domains.clone(),
                verify_url: self.verify_url(&certificate.id),
            },
        })
    }

    /// Refuses an entity whose own details leave too little of the 8 KiB token for its products:
    /// better now, naming the field, than at every certificate later.
    fn check_token_budget(&self, entity: &EntityRecord) -> IssuerResult<()> {
        let probe = CertificateRecord {
            id: "00000000".into(),
            number: format!("ZP/{}/0000/0000", self.settings.region),
            entity_id: entity.id.clone(),
            status_idx: STATUS_LIST_SIZE * 1_000,
            state: CertState::Active,
            valid_from: 0,
            valid_until: 0,
            reason: None,
            public_note: None,
            search_text: String::new(),
            created_at: 0,
            updated_at: 0,
        };
        let claims = self.claims(&probe, entity, &[], "0000000000000000000000", 0)?;
        let size = serde_json::to_vec(&claims).map(|json| json.len()).unwrap_or(usize::MAX);
        // Base64url grows the claims by a third; keep 2 KiB for products and the header.
        if size.saturating_mul(4) / 3 > zp_shared::jws::MAX_TOKEN_LEN - 2_048 {
            let field = if entity.domains.iter().map(String::len).sum::<usize>() > entity.name.len() {
                "domains"
            } else {
                "name"
            };
            return Err(invalid(
                field,
                "too long: the certificate token (at most 8 KiB) would have no room left for products",
            ));
        }
        Ok(())
    }

    /// Signs a new token for the certificate's current state and records it.
    async fn mint(
        &self,
        tx: &mut Box<dyn Tx>,
        certificate: &CertificateRecord,
        entity: &EntityRecord,
        products: &[ProductRecord],
        now: i64,
    ) -> IssuerResult<TokenRecord> {
        let key = self.keys.active(now)?;
        let jti: String = format!("{}-{}", certificate.id, ids::new_id("", &mut OsRng));
        let claims = self.claims(certificate, entity, products, &jti, now)?;
        let token = zp_shared::token::sign(&claims, &key.key)?;
        if token.len() > zp_shared::jws::MAX_TOKEN_LEN {
            return Err(invalid(
                "products",
                "the certificate would not fit in one token: shorten the product names or list fewer",
            ));
        }
        let record = TokenRecord {
            jti,
            certificate_id: certificate.id.clone(),
            kid: key.key.kid().to_owned(),
            token,
            iat: now,
            exp: certificate.valid_until,
        };
        tx.insert_token(&record).await?;
        Ok(record)
    }

    pub async fn issue(
        &self,
        actor: &str,
        input: NewCertificate,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let products = validate_products("products", &input.products, now)?;
        let start = validity_start(&input.valid_from, now)?;
        let entity_id = input.entity_id.trim();
        for _attempt in 0..5 {
            let mut tx = self.store.begin().await?;
            let entity = tx
                .entity(entity_id)
                .await?
                .ok_or_else(|| invalid("entity_id", format!("no entity has the ID {entity_id:?}")))?;
            let id = ids::new_certificate_id(&mut OsRng);
            let prefix = format!("ZP/{}/{}/", self.settings.region, start.year());
            let number = format!("{prefix}{:04}", tx.count_numbers(&prefix).await? + 1);
            let certificate = CertificateRecord {
                search_text: search_text(&id, &number, &entity, &products),
                id,
                number,
                entity_id: entity.id.clone(),
                status_idx: tx.next_status_idx().await?,
                state: CertState::Active,
                valid_from: day_start(start),
                valid_until: day_start(plus_one_year(start)),
                reason: None,
                public_note: None,
                created_at: now,
                updated_at: now,
            };
            match tx.insert_certificate(&certificate).await {
                Err(StoreError::Conflict(_)) => continue, // an ID collision: draw again
                other => other?,
            }
            for (position, product) in products.iter().enumerate() {
                tx.insert_product(&certificate.id, position as i64, product).await?;
            }
            let token = self.mint(&mut tx, &certificate, &entity, &products, now).await?;
            let details = serde_json::json!({
                "number": certificate.number,
                "entity_id": entity.id,
                "products": input.products,
                "valid_from": format_date(certificate.valid_from),
                "valid_until": format_date(certificate.valid_until),
                "jti": token.jti,
            });
            tx.append_audit(&Self::audit(actor, "certificate.issue", &certificate.id, details, now)).await?;
            tx.commit().await?;
            return self.detail(&certificate.id).await;
        }
        Err(IssuerError::Conflict("could not draw a free certificate ID; try again".into()))
    }

    pub async fn detail(&self, id: &str) -> IssuerResult<CertificateDetail> {
        self.store
            .certificate(id)
            .await?
            .ok_or_else(|| IssuerError::NotFound { what: "certificate", id: id.to_owned() })
    }

    /// Loads a certificate for a change inside `tx`, refusing revoked ones unless `allow_revoked`.
    async fn load(
        &self,
        tx: &mut Box<dyn Tx>,
        id: &str,
    ) -> IssuerResult<(CertificateRecord, EntityRecord, Vec<ProductRecord>)> {
        let certificate = tx
            .certificate(id)
            .await?
            .ok_or_else(|| IssuerError::NotFound { what: "certificate", id: id.to_owned() })?;
        let entity = tx
            .entity(&certificate.entity_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("certificate {id} has no entity")))?;
        let products = tx.products(id).await?;
        Ok((certificate, entity, products))
    }

    pub async fn renew(&self, actor: &str, id: &str, now: i64) -> IssuerResult<CertificateDetail> {
        let mut tx = self.store.begin().await?;
        let (mut certificate, entity, products) = self.load(&mut tx, id).await?;
        if certificate.state == CertState::Revoked {
            return Err(IssuerError::Conflict(format!("certificate {id} is revoked and cannot be renewed")));
        }
        let opens = certificate.valid_until - RENEWAL_WINDOW_DAYS * 86_400;
        if now < opens {
            // Only the coming year can be renewed: a repeated request does not add years.
            return Err(IssuerError::Conflict(format!(
                "certificate {id} is valid until {}; it can be renewed from {}",
                format_date(certificate.valid_until),
                format_date(opens)
            )));
        }
        if now < certificate.valid_until {
            // Renewed while valid: the mark continues for another year without a gap.
            certificate.valid_until = day_start(plus_one_year(date_of(certificate.valid_until)));
        } else {
            let today = date_of(now);
            certificate.valid_from = day_start(today);
            certificate.valid_until = day_start(plus_one_year(today));
        }
        certificate.updated_at = now;
        tx.update_certificate(&certificate).await?;
        let token = self.mint(&mut tx, &certificate, &entity, &products, now).await?;
        let details = serde_json::json!({
            "valid_from": format_date(certificate.valid_from),
            "valid_until": format_date(certificate.valid_until),
            "jti": token.jti,
        });
        tx.append_audit(&Self::audit(actor, "certificate.renew", id, details, now)).await?;
        tx.commit().await?;
        self.detail(id).await
    }

    pub async fn add_products(
        &self,
        actor: &str,
        id: &str,
        new: &[NewProduct],
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let added = validate_products("products", new, now)?;
        let mut tx = self.store.begin().await?;
        let (mut certificate, entity, mut products) = self.load(&mut tx, id).await?;
        if certificate.state == CertState::Revoked {
            return Err(IssuerError::Conflict(format!("certificate {id} is revoked and cannot be changed")));
        }
        if products.len() + added.len() > PRODUCTS_MAX {
            return Err(invalid(
                "products",
                format!("a certificate lists at most {PRODUCTS_MAX} products or services"),
            ));
        }
        for product in added {
            tx.insert_product(id, products.len() as i64, &product).await?;
            products.push(product);
        }
        certificate.search_text = search_text(&certificate.id, &certificate.number, &entity, &products);
        certificate.updated_at = now;
        tx.update_certificate(&certificate).await?;
        let token = self.mint(&mut tx, &certificate, &entity, &products, now).await?;
        let details = serde_json::json!({ "added": new, "jti": token.jti });
        tx.append_audit(&Self::audit(actor, "certificate.add_products", id, details, now)).await?;
        tx.commit().await?;
        self.detail(id).await
    }

    /// Moves a certificate between states; every token of it is affected at once through the
    /// status list, so no new token is signed.
    async fn transition(
        &self,
        actor: &str,
        id: &str,
        change: Change<'_>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let Change { from, to, reason, note } = change;
        let note = optional_text("note", &note, NOTE_MAX)?;
        let mut tx = self.store.begin().await?;
        let (mut certificate, _, _) = self.load(&mut tx, id).await?;
        if !from.contains(&certificate.state) {
            return Err(IssuerError::Conflict(format!(
                "certificate {id} is {}; it cannot become {}",
                certificate.state.as_str(),
                to.as_str()
            )));
        }
        certificate.state = to;
        certificate.reason = reason.map(str::to_owned);
        certificate.public_note = note.clone();
        certificate.updated_at = now;
        tx.update_certificate(&certificate).await?;
        let action = match to {
            CertState::Active => "certificate.reinstate",
            CertState::Suspended => "certificate.suspend",
            CertState::Revoked => "certificate.revoke",
        };
        let details = serde_json::json!({ "reason": reason, "note": note });
        tx.append_audit(&Self::audit(actor, action, id, details, now)).await?;
        tx.commit().await?;
        self.detail(id).await
    }

    pub async fn suspend(
        &self,
        actor: &str,
        id: &str,
        note: Option<String>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let change = Change { from: &[CertState::Active], to: CertState::Suspended, reason: None, note };
        self.transition(actor, id, change, now).await
    }

    pub async fn reinstate(&self, actor: &str, id: &str, now: i64) -> IssuerResult<CertificateDetail> {
        let change =
            Change { from: &[CertState::Suspended], to: CertState::Active, reason: None, note: None };
        self.transition(actor, id, change, now).await
    }

    pub async fn revoke(
        &self,
        actor: &str,
        id: &str,
        reason: RevocationReason,
        note: Option<String>,
        now: i64,
    ) -> IssuerResult<CertificateDetail> {
        let from = &[CertState::Active, CertState::Suspended];
        let change = Change { from, to: CertState::Revoked, reason: Some(reason.as_str()), note };
        self.transition(actor, id, change, now).await
    }

    /// Creates an admin API key; the secret is shown once and only its hash is kept.
    pub async fn create_api_key(
        &self,
        actor: &str,
        name: &str,
        now: i64,
    ) -> IssuerResult<(ApiKeyRecord, String)> {
        let name = clean_text("name", name, 100)?;
        let secret = format!(
            "zpk_{}",
            ids::new_id("", &mut OsRng) + &ids::new_id("", &mut OsRng) + &ids::new_id("", &mut OsRng)
        );
        let record =
            ApiKeyRecord { id: ids::new_id("K", &mut OsRng), name, created_at: now, revoked_at: None };
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&record, &hash_api_key(&secret)).await?;
        let details = serde_json::json!({ "name": record.name });
        tx.append_audit(&Self::audit(actor, "api_key.create", &record.id, details, now)).await?;
        tx.commit().await?;
        Ok((record, secret))
    }

    /// Revokes an admin API key at once; its holder is refused from the next request.
    pub async fn revoke_api_key(&self, actor: &str, id: &str, now: i64) -> IssuerResult<()> {
        let mut tx = self.store.begin().await?;
        if !tx.revoke_api_key(id.trim(), now).await? {
            return Err(IssuerError::NotFound { what: "unrevoked API key", id: id.to_owned() });
        }
        tx.append_audit(&Self::audit(actor, "api_key.revoke", id.trim(), serde_json::json!({}), now)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn authenticate(&self, secret: &str) -> IssuerResult<Option<ApiKeyRecord>> {
        Ok(self.store.api_key_by_hash(&hash_api_key(secret)).await?.filter(|k| k.revoked_at.is_none()))
    }

    /// Rotates the signing key: the new key is published at once and signs from `active_from`
    /// (see [`Activation`]). The audit entry commits before the key file is written, so a crash
    /// between the two leaves a record of a key that never signed, never a key without a record.
    pub async fn rotate_key(
        &self,
        actor: &str,
        activation: Activation,
        now: i64,
    ) -> IssuerResult<KeyRotation> {
        let rotation = loop {
            match self.keys.try_begin_rotation(now, activation)? {
                Some(rotation) => break rotation,
                None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let done = KeyRotation {
            kid: rotation.key.key.kid().to_owned(),
            active_from: rotation.key.active_from,
            withdrawn: rotation.withdrawn.iter().map(|k| k.key.kid().to_owned()).collect(),
        };
        let details = serde_json::json!({
            "kid": done.kid,
            "active_from": done.active_from,
            "immediate": activation == Activation::Now,
            "withdrawn": done.withdrawn,
        });
        let mut tx = self.store.begin().await?;
        tx.append_audit(&Self::audit(actor, "key.rotate", &done.kid, details, now)).await?;
        tx.commit().await?;
        if let Err(err) = rotation.install() {
            // Say so in the log as well, so that the entry above is not taken for a key in use.
            let mut tx = self.store.begin().await?;
            let details = serde_json::json!({ "error": err.to_string() });
            tx.append_audit(&Self::audit(actor, "key.rotate_failed", &done.kid, details, now)).await?;
            tx.commit().await?;
            return Err(err.into());
        }
        self.status_cache.lock().map(|mut cache| cache.clear()).ok();
        Ok(done)
    }

    /// The published keys: the signing key, and older keys while a token they signed is unexpired
    /// or a status list they signed may still be cached.
    pub async fn jwks(&self, now: i64) -> IssuerResult<Jwks> {
        Ok(Jwks { keys: self.published_keys(now).await?.iter().map(|k| k.key.public_jwk()).collect() })
    }

    /// The published keys as a verifier's key set: what `/api/v1/verify` checks tokens with.
    pub async fn key_set(&self, now: i64) -> IssuerResult<KeySet> {
        let mut set = KeySet::new();
        for key in self.published_keys(now).await? {
            set.insert(key.key.public_key().clone())?;
        }
        Ok(set)
    }

    /// [`Issuer::key_set`] for verifying tokens at `now`, made at most once a second unless
    /// `refresh`: building it reads the key directory, which would otherwise happen on every call of
    /// the verify API. Within a second the published keys change only by a rotation, which adds a
    /// key; a caller that meets a `kid` missing from the set asks again with `refresh`, so tokens of a
    /// key rotated in by another replica verify at once.
    pub async fn verify_keys(&self, now: i64, refresh: bool) -> IssuerResult<Arc<KeySet>> {
        if !refresh
            && let Ok(cached) = self.verify_keys.lock()
            && let Some((at, set)) = cached.as_ref()
            && *at == now
        {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(self.key_set(now).await?);
        if let Ok(mut cached) = self.verify_keys.lock() {
            *cached = Some((now, Arc::clone(&set)));
        }
        Ok(set)
    }

    /// The keys to publish, newest first.
    async fn published_keys(&self, now: i64) -> IssuerResult<Vec<RingKey>> {
        let ring = self.keys.keys()?;
        let mut keys = Vec::new();
        for (i, key) in ring.iter().enumerate() {
            let retired_at = ring.get(i + 1).map(|next| next.active_from);
            let keep = match retired_at {
                None => true,
                Some(retired) => {
                    now < retired + RETIRED_KEY_GRACE
                        || self.store.last_token_exp(key.key.kid()).await?.is_some_and(|exp| exp > now)
                }
            };
            if keep {
                keys.push(key.clone());
            }
        }
        keys.reverse();
        Ok(keys)
    }

    /// The signed status list `list`, re-signed when a state changed or it has used half its
    /// `ttl` (a minute at most), so a verifier always gets at least half a `ttl` of freshness.
    pub async fn status_list(&self, list: i64, now: i64) -> IssuerResult<Option<(String, i64)>> {
        let max = self.store.max_status_idx().await?.unwrap_or(-1);
        if list < 0 || list > max.max(0) / STATUS_LIST_SIZE {
            return Ok(None);
        }
        let head = self.store.audit_head().await?;
        let key = self.keys.active(now)?;
        let reuse_for = i64::try_from(self.settings.status_ttl / 2).unwrap_or(60).min(60);
        if let Ok(cache) = self.status_cache.lock()
            && let Some(hit) = cache.iter().find(|c| {
                c.list == list && c.head == head && c.kid == key.key.kid() && now - c.made_at < reuse_for
            })
        {
            return Ok(Some((hit.token.clone(), hit.made_at)));
        }
        let mut bits = StatusList::new(status_list::BITS, STATUS_LIST_SIZE as u64)?;
        for (idx, state) in self.store.status_entries().await? {
            if idx / STATUS_LIST_SIZE == list {
                bits.set((idx % STATUS_LIST_SIZE) as u64, state.status().value())?;
            }
        }
        let claims = StatusListClaims {
            iss: self.settings.base_url.clone(),
            sub: self.status_list_uri(list),
            iat: now,
            exp: now + i64::try_from(self.settings.status_ttl).unwrap_or(i64::MAX / 2) + STATUS_LIST_GRACE,
            ttl: self.settings.status_ttl,
            status_list: bits.to_claim(),
        };
        let token = status_list::sign_status_list(&claims, &key.key)?;
        if let Ok(mut cache) = self.status_cache.lock() {
            cache.retain(|c| c.list != list);
            cache.push(CachedList {
                head,
                list,
                kid: key.key.kid().to_owned(),
                made_at: now,
                token: token.clone(),
            });
        }
        Ok(Some((token, now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kids(jwks: &Jwks) -> Vec<String> {
        jwks.keys.iter().map(|k| k.kid.clone()).collect()
    }

    #[tokio::test]
    async fn retired_keys_stay_published_until_their_last_token_expires() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer = &state.issuer;
        let now = state.now();
        let entity = NewEntity {
            name: "Spółdzielnia Socjalna „Klucz”".into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["klucz.pl".into()],
            ..NewEntity::default()
        };
        let entity = issuer.create_entity("test", entity, now).await.unwrap();
        let products = vec![NewProduct { name: "Chleb".into(), gtin: None }];
        let input = NewCertificate { entity_id: entity.id, products, valid_from: None };
        let issued = issuer.issue("test", input, now).await.unwrap();
        let first = issued.token.unwrap();
        let unused = issuer.rotate_key("test", Activation::AfterCaches, now).await.unwrap();
        // Published at once, signing only after the JWKS cache lifetime.
        assert_eq!(unused.active_from, now + crate::keys::JWKS_MAX_AGE);
        assert_eq!(kids(&issuer.jwks(now).await.unwrap()), [unused.kid.clone(), first.kid.clone()]);
        assert_eq!(issuer.keys.active(now).unwrap().key.kid(), first.kid);
        let active = issuer.rotate_key("test", Activation::AfterCaches, now).await.unwrap();
        let (unused, active) = (unused.kid, active.kid);
        assert_eq!(
            kids(&issuer.jwks(now).await.unwrap()),
            [active.clone(), unused.clone(), first.kid.clone()]
        );
        // After the grace for cached status lists, a key that signed no token leaves; the first key
        // stays while its token is valid.
        let later = now + crate::keys::JWKS_MAX_AGE + 1 + RETIRED_KEY_GRACE + 10;
        assert_eq!(issuer.keys.active(later).unwrap().key.kid(), active);
        assert_eq!(kids(&issuer.jwks(later).await.unwrap()), [active.clone(), first.kid.clone()]);
        // Once that token has expired, only the signing key is left.
        assert_eq!(kids(&issuer.jwks(first.exp).await.unwrap()), [active]);
    }

    #[tokio::test]
    async fn a_rotation_is_audited_before_its_key_signs() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer = &state.issuer;
        // Some seconds after the first key's, which was made at the opening.
        let now = state.now() + 10;
        let first = issuer.keys.active(now).unwrap().key.kid().to_owned();
        let waiting = issuer.rotate_key("test", Activation::AfterCaches, now).await.unwrap();
        let urgent = issuer.rotate_key("test", Activation::Now, now).await.unwrap();
        assert_eq!(urgent.withdrawn, std::slice::from_ref(&waiting.kid));
        assert_eq!(urgent.active_from, now);
        assert_eq!(issuer.keys.active(now).unwrap().key.kid(), urgent.kid);
        assert_eq!(kids(&issuer.jwks(now).await.unwrap()), [urgent.kid.clone(), first]);
        let log = issuer.store.audit_log(0, 100).await.unwrap();
        let rotations: Vec<serde_json::Value> = log
            .iter()
            .filter(|e| e.action == "key.rotate")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        assert_eq!(
            rotations,
            [
                serde_json::json!({ "kid": waiting.kid, "active_from": waiting.active_from,
                                    "immediate": false, "withdrawn": [] }),
                serde_json::json!({ "kid": urgent.kid, "active_from": now,
                                    "immediate": true, "withdrawn": [waiting.kid] }),
            ]
        );
    }

    /// Rotations wait for each other without holding a runtime thread: more of them at once than
    /// the runtime has threads all finish, each with its own second.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_rotations_queue_up() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let now = state.now();
        let rotations: Vec<_> = (0..4)
            .map(|_| {
                let issuer = Arc::clone(&state.issuer);
                tokio::spawn(async move { issuer.rotate_key("test", Activation::AfterCaches, now).await })
            })
            .collect();
        let mut starts = Vec::new();
        for rotation in rotations {
            starts.push(rotation.await.unwrap().unwrap().active_from);
        }
        starts.sort_unstable();
        let expected: Vec<i64> = (0..4).map(|i| now + crate::keys::JWKS_MAX_AGE + i).collect();
        assert_eq!(starts, expected);
        assert_eq!(state.issuer.keys.keys().unwrap().len(), 5);
    }
}
