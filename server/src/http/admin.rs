//! The admin API (`/api/v1/admin`): bearer API keys, no CORS. Every change goes through
//! [`crate::issuer::Issuer`], which writes the audit log in the same transaction.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::api::{CertificateView, SearchResult, search_query};
use super::error::{ApiJson, ApiQuery, AppError, ErrorEnvelope};
use super::rate_limit::client_of;
use super::{AppState, fields};
use crate::accounts::Role;
use crate::ids;
use crate::issuer::{IssuerError, KeyRotation, NewCertificate, NewEntity, NewProduct, RevocationReason};
use crate::keys::Activation;
use crate::store::{AuditRecord, CertState, EntityRecord, TrustedIssuerRecord};

pub fn router(state: AppState) -> Router<AppState> {
    let _ = state;
    Router::new()
        .route("/entities", post(create_entity).get(list_entities))
        .route("/entities/{id}", get(entity).put(update_entity))
        .route("/certificates", post(issue).get(list_certificates))
        .route("/certificates/{id}", get(certificate))
        .route("/certificates/{id}/renew", post(renew))
        .route("/certificates/{id}/products", post(add_products))
        .route("/certificates/{id}/suspend", post(suspend))
        .route("/certificates/{id}/reinstate", post(reinstate))
        .route("/certificates/{id}/revoke", post(revoke))
        .route("/keys/rotate", post(rotate_key))
        .route("/audit", get(audit))
        .route("/issuers", get(list_trusted_issuers).post(add_trusted_issuer).delete(remove_trusted_issuer))
        .merge(super::apply::board::router())
}

/// The caller, authenticated by `Authorization: Bearer <API key>`: a key made from the command
/// line acts as admin; a person's key acts for that person, with their role at this moment.
#[derive(Debug, Clone)]
pub struct Admin {
    pub actor: String,
    pub role: Role,
}

/// A caller whose role is at least `ROLE` (1 staff, 2 admin); any other is refused with 403.
/// Handlers that change something take this rather than check a role themselves.
#[derive(Debug, Clone)]
pub struct AtLeast<const ROLE: u8>(pub Admin);

impl<const ROLE: u8> FromRequestParts<AppState> for AtLeast<ROLE> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let admin = Admin::from_request_parts(parts, state).await?;
        let needed = if ROLE >= 2 { Role::Admin } else { Role::Staff };
        if admin.role < needed {
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this key acts for a person with the role {}; this needs {}",
                    admin.role.as_str(),
                    needed.as_str()
                ),
            )
            .field("Authorization")
            .into_response());
        }
        Ok(AtLeast(admin))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Failures are throttled per client, and a waiting client is answered before its key is
        // looked at (`throttle` says why).
        let client = client_of(&parts.extensions);
        if let Some(wait) = state.admin_throttle.attempt(client, crate::clock::instant()) {
            tracing::warn!(%client, retry_after = wait, "admin authentication throttled");
            let mut response = AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failures",
                format!("too many failed authentications from this address; try again in {wait} s"),
            )
            .field("Authorization")
            .into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return Err(response);
        }
        let admin = authenticate(parts, state).await.map_err(IntoResponse::into_response)?;
        state.admin_throttle.succeeded(client);
        Ok(admin)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Admin, AppError> {
    let unauthorized = |message: &str| {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).field("Authorization")
    };
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("send an API key as `Authorization: Bearer <key>`"))?;
    let secret = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 200)
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <key>`"))?;
    let Some(key) = state.issuer.authenticate(secret).await? else {
        return Err(unauthorized("unknown or revoked API key"));
    };
    let actor = format!("api-key:{}:{}", key.id, key.name);
    let Some(owner) = &key.account_id else {
        return Ok(Admin { actor, role: Role::Admin });
    };
    // A person's key follows the person: disabled, it stops; demoted, it can do less.
    let account = state.issuer.store.account(owner).await.map_err(crate::issuer::IssuerError::from)?;
    match account.filter(|account| account.disabled_at.is_none()) {
        Some(account) => Ok(Admin {
            actor: format!("{actor} {}", crate::accounts::actor(&account)),
            role: Role::parse(&account.role).unwrap_or(Role::Viewer),
        }),
        None => Err(unauthorized("this key's owner is disabled")),
    }
}

fn cert_id(id: &str) -> Result<String, AppError> {
    ids::normalize_certificate_id(id).ok_or_else(|| AppError::not_found("certificate"))
}

fn created(view: impl Serialize) -> Response {
    (StatusCode::CREATED, Json(view)).into_response()
}

/// Registers a social-economy entity.
#[utoipa::path(post, path = "/api/v1/admin/entities", tag = "admin", security(("bearer" = [])),
    request_body = NewEntity,
    responses((status = 201, description = "The entity as stored", body = EntityRecord),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "A field is invalid or the NIP is taken; `field` names it", body = ErrorEnvelope)))]
pub async fn create_entity(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    ApiJson(input): ApiJson<NewEntity>,
) -> Result<Response, AppError> {
    let entity = state.issuer.create_entity(&admin.actor, input, state.now()).await?;
    Ok(created(entity))
}

/// Replaces an entity's details (all of them, as when it was registered; its ID stays) and signs
/// a new token for each of its certificates that is not revoked.
#[utoipa::path(put, path = "/api/v1/admin/entities/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Entity ID")),
    request_body = NewEntity,
    responses((status = 200, description = "The entity as stored", body = EntityRecord),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such entity", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "A field is invalid or the NIP is another entity's; `field` names it", body = ErrorEnvelope)))]
pub async fn update_entity(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewEntity>,
) -> Result<Json<EntityRecord>, AppError> {
    Ok(Json(state.issuer.update_entity(&admin.actor, &id, input, state.now()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Limit>)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Offset>)]
    pub offset: Option<u32>,
}

/// Registered entities, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/entities", tag = "admin", security(("bearer" = [])), params(Page),
    responses((status = 200, description = "A page of entities", body = Vec<EntityRecord>),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 422, description = "A parameter is invalid or unknown; `field` names it when it is out of range", body = ErrorEnvelope)))]
pub async fn list_entities(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<EntityRecord>>, AppError> {
    let query = search_query(None, page.limit, page.offset)?;
    let entities = state.issuer.store.entities(query.limit, query.offset).await.map_err(IssuerError::from)?;
    Ok(Json(entities))
}

/// One entity, with its contact details.
#[utoipa::path(get, path = "/api/v1/admin/entities/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Entity ID")),
    responses((status = 200, description = "The entity", body = EntityRecord),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such entity", body = ErrorEnvelope)))]
pub async fn entity(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<EntityRecord>, AppError> {
    let entity = state.issuer.store.entity(id.trim()).await.map_err(IssuerError::from)?;
    entity.map(Json).ok_or_else(|| AppError::not_found("entity"))
}

/// Issues a certificate for a year and signs its first token.
#[utoipa::path(post, path = "/api/v1/admin/certificates", tag = "admin", security(("bearer" = [])),
    request_body = NewCertificate,
    responses((status = 201, description = "The new certificate with its token", body = CertificateView),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 409, description = "No free certificate ID was drawn; retry", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "A field is invalid or the entity unknown; `field` names it", body = ErrorEnvelope)))]
pub async fn issue(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    ApiJson(input): ApiJson<NewCertificate>,
) -> Result<Response, AppError> {
    let detail = state.issuer.issue(&admin.actor, input, state.now()).await?;
    state.metrics.certificate_action("issue");
    Ok(created(CertificateView::new(detail, &state.issuer, state.now())))
}

/// The widest window of `expiring_within_days`: ten years.
pub const EXPIRING_WITHIN_DAYS_MAX: u32 = 3_660;

/// The admin certificate list's query. Any other parameter is refused with 422.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CertificateFilter {
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Query>)]
    pub q: Option<String>,
    #[serde(default)]
    #[param(inline, value_type = Option<fields::ExpiringWithinDays>)]
    pub expiring_within_days: Option<u32>,
    /// Only certificates in this state.
    #[serde(default)]
    pub state: Option<CertState>,
    /// Only certificates of this entity.
    #[serde(default)]
    pub entity_id: Option<String>,
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Limit>)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Offset>)]
    pub offset: Option<u32>,
}

/// Certificates in any state, filtered.
#[utoipa::path(get, path = "/api/v1/admin/certificates", tag = "admin", security(("bearer" = [])),
    params(CertificateFilter),
    responses((status = 200, description = "A page of certificates, newest first", body = SearchResult),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 422, description = "A parameter is invalid or unknown; `field` names it when it is out of range", body = ErrorEnvelope)))]
pub async fn list_certificates(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<CertificateFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResult>, AppError> {
    let Query(filter) = query
        .map_err(|err| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", err.body_text()))?;
    let mut query = search_query(filter.q.as_deref(), filter.limit, filter.offset)?;
    let now = state.now();
    if let Some(days) = filter.expiring_within_days {
        if days > EXPIRING_WITHIN_DAYS_MAX {
            return Err(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("expiring_within_days: at most {EXPIRING_WITHIN_DAYS_MAX}"),
            )
            .field("expiring_within_days"));
        }
        query.ending = Some((now, now + i64::from(days) * 86_400));
    }
    query.state = filter.state;
    query.entity_id = filter.entity_id;
    let found = state.issuer.store.search(&query).await.map_err(IssuerError::from)?;
    let items = found.into_iter().map(|d| CertificateView::new(d, &state.issuer, now)).collect();
    Ok(Json(SearchResult { items, limit: query.limit, offset: query.offset }))
}

/// One certificate, in any state.
#[utoipa::path(get, path = "/api/v1/admin/certificates/{id}", tag = "admin", security(("bearer" = [])),
    operation_id = "admin_certificate",
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The certificate", body = CertificateView),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such certificate", body = ErrorEnvelope)))]
pub async fn certificate(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<CertificateView>, AppError> {
    let detail = state.issuer.detail(&cert_id(&id)?).await?;
    Ok(Json(CertificateView::new(detail, &state.issuer, state.now())))
}

/// Extends a certificate by a year (from the end of its validity, or from today once expired) and
/// signs a new token.
#[utoipa::path(post, path = "/api/v1/admin/certificates/{id}/renew", tag = "admin", security(("bearer" = [])),
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The certificate as it is now", body = CertificateView),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such certificate", body = ErrorEnvelope),
              (status = 409, description = "The certificate is revoked", body = ErrorEnvelope)))]
pub async fn renew(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
) -> Result<Json<CertificateView>, AppError> {
    let detail = state.issuer.renew(&admin.actor, &cert_id(&id)?, state.now()).await?;
    state.metrics.certificate_action("renew");
    Ok(Json(CertificateView::new(detail, &state.issuer, state.now())))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddProducts {
    /// Products or services to add to the certificate (1 to 50). The certificate then lists at
    /// most 50 in a token of at most 8 KiB; more is refused with 422 naming `products`.
    #[schema(min_items = 1, max_items = 50)]
    pub products: Vec<NewProduct>,
}

/// Adds products to a certificate and signs a new token listing them.
#[utoipa::path(post, path = "/api/v1/admin/certificates/{id}/products", tag = "admin",
    security(("bearer" = [])), request_body = AddProducts,
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The certificate as it is now", body = CertificateView),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such certificate", body = ErrorEnvelope),
              (status = 409, description = "The certificate is revoked", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "A field is invalid; `field` names it", body = ErrorEnvelope)))]
pub async fn add_products(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AddProducts>,
) -> Result<Json<CertificateView>, AppError> {
    let id = cert_id(&id)?;
    let detail = state.issuer.add_products(&admin.actor, &id, &input.products, state.now()).await?;
    state.metrics.certificate_action("add_products");
    Ok(Json(CertificateView::new(detail, &state.issuer, state.now())))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Note {
    #[serde(default)]
    #[schema(value_type = Option<fields::PublicNote>)]
    pub note: Option<String>,
}

/// Suspends an active certificate; its status list entry changes at once.
#[utoipa::path(post, path = "/api/v1/admin/certificates/{id}/suspend", tag = "admin",
    security(("bearer" = [])), request_body = Note,
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The certificate as it is now", body = CertificateView),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such certificate", body = ErrorEnvelope),
              (status = 409, description = "The certificate is not active", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "A field is invalid; `field` names it", body = ErrorEnvelope)))]
pub async fn suspend(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Note>,
) -> Result<Json<CertificateView>, AppError> {
    let detail = state.issuer.suspend(&admin.actor, &cert_id(&id)?, input.note, state.now()).await?;
    state.metrics.certificate_action("suspend");
    Ok(Json(CertificateView::new(detail, &state.issuer, state.now())))
}

/// Lifts a suspension.
#[utoipa::path(post, path = "/api/v1/admin/certificates/{id}/reinstate", tag = "admin",
    security(("bearer" = [])),
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The certificate as it is now", body = CertificateView),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such certificate", body = ErrorEnvelope),
              (status = 409, description = "The certificate is not suspended", body = ErrorEnvelope)))]
pub async fn reinstate(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
) -> Result<Json<CertificateView>, AppError> {
    let detail = state.issuer.reinstate(&admin.actor, &cert_id(&id)?, state.now()).await?;
    state.metrics.certificate_action("reinstate");
    Ok(Json(CertificateView::new(detail, &state.issuer, state.now())))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    pub reason: RevocationReason,
    #[serde(default)]
    #[schema(value_type = Option<fields::PublicNote>)]
    pub note: Option<String>,
}

/// Revokes a certificate for good.
#[utoipa::path(post, path = "/api/v1/admin/certificates/{id}/revoke", tag = "admin",
    security(("bearer" = [])), request_body = Revoke,
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The certificate as it is now", body = CertificateView),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such certificate", body = ErrorEnvelope),
              (status = 409, description = "The certificate is already revoked", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "A field is invalid; `field` names it", body = ErrorEnvelope)))]
pub async fn revoke(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<Revoke>,
) -> Result<Json<CertificateView>, AppError> {
    let id = cert_id(&id)?;
    let detail = state.issuer.revoke(&admin.actor, &id, input.reason, input.note, state.now()).await?;
    state.metrics.certificate_action("revoke");
    Ok(Json(CertificateView::new(detail, &state.issuer, state.now())))
}

/// How to rotate, in the query (`?now=true`) or the JSON body (`{"now": true}`); both optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RotateOptions {
    /// Sign with the new key at once, for a leaked key, and withdraw keys still waiting to sign;
    /// then purge `/.well-known/jwks.json` from every cache. Default: false, the new key signs
    /// once every cached JWKS lists it (300 s).
    #[serde(default)]
    pub now: bool,
}

/// Publishes a new signing key at once; it signs once every cached JWKS lists it (`active_from`,
/// 300 s later), or at once with `now`. Old public keys stay in the JWKS while their tokens live.
/// The rotation's audit entry commits before the key file is written.
#[utoipa::path(post, path = "/api/v1/admin/keys/rotate", tag = "admin", security(("bearer" = [])),
    params(RotateOptions),
    request_body(content = RotateOptions, content_type = "application/json",
                 description = "Optional: `{\"now\": true}` for an emergency rotation; no body (and no \
                                Content-Type) or `{}` for a scheduled one"),
    responses((status = 200, description = "The new key and the second it starts signing", body = KeyRotation),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "A body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "An unknown option, or `now` not a boolean", body = ErrorEnvelope)))]
pub async fn rotate_key(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<2>,
    ApiQuery(query): ApiQuery<RotateOptions>,
    body: Option<ApiJson<RotateOptions>>,
) -> Result<Json<KeyRotation>, AppError> {
    let now = query.now || body.is_some_and(|ApiJson(body)| body.now);
    let activation = if now { Activation::Now } else { Activation::AfterCaches };
    let rotation = state.issuer.rotate_key(&admin.actor, activation, state.now()).await?;
    if activation == Activation::Now {
        // At once means by the time the caller hears back.
        state.clock.wait_until(rotation.active_from).await;
    }
    Ok(Json(rotation))
}

/// Most audit entries on a page.
pub const AUDIT_LIMIT_MAX: u32 = 1_000;

/// The audit log's query. Any other parameter is refused with 422.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditPage {
    /// Entries after this sequence number; from the start when omitted.
    #[serde(default)]
    pub after: Option<i64>,
    #[serde(default)]
    #[param(inline, value_type = Option<fields::AuditLimit>)]
    pub limit: Option<u32>,
}

/// The hash-chained audit log, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditPage),
    responses((status = 200, description = "A page of the log", body = Vec<AuditRecord>),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 422, description = "A parameter is invalid or unknown; `field` names it when it is out of range", body = ErrorEnvelope)))]
pub async fn audit(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(page): ApiQuery<AuditPage>,
) -> Result<Json<Vec<AuditRecord>>, AppError> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=AUDIT_LIMIT_MAX).contains(&limit) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("limit: from 1 to {AUDIT_LIMIT_MAX}"),
        )
        .field("limit"));
    }
    let records =
        state.issuer.store.audit_log(page.after.unwrap_or(0), limit).await.map_err(IssuerError::from)?;
    Ok(Json(records))
}

/// An issuer to put on the trust list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTrustedIssuer {
    #[schema(value_type = fields::IssuerUrl)]
    pub url: String,
    /// Its name.
    #[schema(value_type = fields::Name)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<fields::Voivodeship>)]
    pub voivodeship: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrustedIssuerUrl {
    /// The issuer's base URL, as the list shows it.
    pub url: String,
}

/// The issuers this issuer's trust list names, by URL.
#[utoipa::path(get, path = "/api/v1/admin/issuers", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The issuers on the trust list", body = Vec<TrustedIssuerRecord>),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope)))]
pub async fn list_trusted_issuers(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<TrustedIssuerRecord>>, AppError> {
    Ok(Json(state.issuer.trusted_issuers().await?))
}

/// Puts an issuer on the trust list (`/.well-known/zp-trust-list.jwt`); the next list signed
/// names it.
#[utoipa::path(post, path = "/api/v1/admin/issuers", tag = "admin", security(("bearer" = [])),
    request_body = NewTrustedIssuer,
    responses((status = 201, description = "The issuer as listed", body = TrustedIssuerRecord),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 409, description = "The URL is already listed, or the list is full; `field` is `url`", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 422, description = "A field is invalid; `field` names it", body = ErrorEnvelope)))]
pub async fn add_trusted_issuer(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<2>,
    ApiJson(input): ApiJson<NewTrustedIssuer>,
) -> Result<Response, AppError> {
    let added = state
        .issuer
        .add_trusted_issuer(&admin.actor, &input.url, &input.name, input.voivodeship.as_deref(), state.now())
        .await
        .map_err(|err| match err {
            // Both conflicts (listed already, list full) are about adding this URL.
            IssuerError::Conflict(_) => AppError::from(err).field("url"),
            other => other.into(),
        })?;
    Ok(created(added))
}

/// Takes an issuer off the trust list; the next list signed leaves it out.
#[utoipa::path(delete, path = "/api/v1/admin/issuers", tag = "admin", security(("bearer" = [])),
    params(TrustedIssuerUrl),
    responses((status = 204, description = "Removed"),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No issuer with this URL is listed", body = ErrorEnvelope),
              (status = 422, description = "No `url` in the query, or another parameter", body = ErrorEnvelope)))]
pub async fn remove_trusted_issuer(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<2>,
    ApiQuery(query): ApiQuery<TrustedIssuerUrl>,
) -> Result<StatusCode, AppError> {
    state.issuer.remove_trusted_issuer(&admin.actor, &query.url, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
