//! The public check API (`/api/v1`, CORS `*`): certificates with their status, token
//! verification, registry search, status lists, keys.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use zp_shared::{CertificateClaims, Rules};

use super::error::{ApiJson, AppError};
use super::{AppState, CachedCertificate, fields};
use crate::ids;
use crate::issuer::{Issuer, RevocationReason, STATUS_LIST_SIZE, Verdict, fold, format_date};
use crate::store::{CertificateDetail, SearchQuery};

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/api/v1/certificates", get(search))
        .route("/api/v1/certificates/{id}", get(certificate))
        .route("/api/v1/certificates/{id}/token", get(current_token))
        .route("/api/v1/verify", post(verify))
        .route("/api/v1/status-lists/{list}", get(status_list))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntityView {
    pub id: String,
    pub name: String,
    pub legal_form: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regon: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub krs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voivodeship: Option<String>,
    pub domains: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevocationView {
    /// Reason code, e.g. `misuse`.
    pub reason: String,
    /// The reason in English.
    pub reason_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatusRefView {
    pub uri: String,
    pub idx: i64,
}

/// A certificate as the public sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    pub id: String,
    /// Human-readable number, e.g. `ZP/LU/2026/0007`.
    pub number: String,
    /// The verdict now: valid, expired, not_yet_valid, suspended or revoked.
    pub status: Verdict,
    pub entity: EntityView,
    pub products: Vec<ProductView>,
    /// First day of validity (UTC), `YYYY-MM-DD`.
    pub valid_from: String,
    /// First day after validity (UTC), `YYYY-MM-DD`.
    pub valid_until: String,
    pub valid_from_unix: i64,
    pub valid_until_unix: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspension_note: Option<String>,
    pub verify_url: String,
    pub status_list: StatusRefView,
    /// The current signed token (compact JWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl CertificateView {
    pub fn new(detail: CertificateDetail, issuer: &Issuer, now: i64) -> Self {
        Self::of(&detail, issuer, now)
    }

    /// The view of a detail that stays where it is (in the read cache).
    pub fn of(detail: &CertificateDetail, issuer: &Issuer, now: i64) -> Self {
        let c = &detail.certificate;
        let e = &detail.entity;
        let status = Verdict::of(c, now);
        let revocation = match (status, c.reason.as_deref().and_then(RevocationReason::parse)) {
            (Verdict::Revoked, Some(reason)) => Some(RevocationView {
                reason: reason.as_str().into(),
                reason_text: reason.label(false).into(),
                note: c.public_note.clone(),
            }),
            _ => None,
        };
        CertificateView {
            verify_url: issuer.verify_url(&c.id),
            status_list: StatusRefView {
                uri: issuer.status_list_uri(c.status_idx / STATUS_LIST_SIZE),
                idx: c.status_idx % STATUS_LIST_SIZE,
            },
            suspension_note: (status == Verdict::Suspended).then(|| c.public_note.clone()).flatten(),
            id: c.id.clone(),
            number: c.number.clone(),
            status,
            entity: EntityView {
                id: e.id.clone(),
                name: e.name.clone(),
                legal_form: e.legal_form.clone(),
                nip: e.nip.clone(),
                regon: e.regon.clone(),
                krs: e.krs.clone(),
                city: e.city.clone(),
                voivodeship: e.voivodeship.clone(),
                domains: e.domains.clone(),
            },
            products: detail
                .products
                .iter()
                .map(|p| ProductView { name: p.name.clone(), gtin: p.gtin.clone() })
                .collect(),
            valid_from: format_date(c.valid_from),
            valid_until: format_date(c.valid_until),
            valid_from_unix: c.valid_from,
            valid_until_unix: c.valid_until,
            revocation,
            token: detail.token.as_ref().map(|t| t.token.clone()),
        }
    }
}

fn no_cache(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Published signing keys (RFC 7517), for any JOSE library.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "public",
    responses((status = 200, description = "JWK Set of the issuer's Ed25519 keys", content_type = "application/json"),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn jwks(State(state): State<AppState>) -> Result<Response, AppError> {
    let jwks = state.issuer.jwks(state.now()).await?;
    let mut response = Json(jwks).into_response();
    // The same lifetime a rotated-in key waits before it signs: no cached JWKS lacks the signing key.
    let cache_control = format!("public, max-age={}", crate::keys::JWKS_MAX_AGE);
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}

/// A certificate by ID, with its status now.
#[utoipa::path(get, path = "/api/v1/certificates/{id}", tag = "public",
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The certificate", body = CertificateView),
              (status = 404, description = "No such certificate", body = super::error::ErrorEnvelope),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn certificate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let found = lookup(&state, &id).await?;
    let body = certificate_body(&state, &found, state.now()).ok_or_else(AppError::internal)?;
    Ok(json_bytes(body))
}

/// A certificate by the ID in a URL (any case, with or without dashes), through the read cache.
async fn lookup(state: &AppState, id: &str) -> Result<std::sync::Arc<CachedCertificate>, AppError> {
    let id = ids::normalize_certificate_id(id).ok_or_else(|| AppError::not_found("certificate"))?;
    let found = state.certificate(&id).await.map_err(crate::issuer::IssuerError::from)?;
    found.ok_or_else(|| AppError::not_found("certificate"))
}

/// The certificate's current token, for a badge whose token in the page has ended or is about to:
/// after a renewal or a new branch it is the newer one, which the badge verifies like any token.
/// Badges ask only then, so the answer may be cached for the status lists' `ttl`.
#[utoipa::path(get, path = "/api/v1/certificates/{id}/token", tag = "public",
    params(("id" = inline(fields::CertificateId), Path)),
    responses((status = 200, description = "The newest token of the certificate (compact JWS), whatever \
                                            its state: the status list says whether it is revoked",
               content_type = "application/jwt"),
              (status = 404, description = "No such certificate", body = super::error::ErrorEnvelope),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn current_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let found = lookup(&state, &id).await?;
    let token = found.detail.token.as_ref().ok_or_else(|| AppError::not_found("certificate token"))?;
    let mut response = token.token.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"));
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={}", state.issuer.settings.status_ttl))
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}

/// The check API's JSON of a certificate at `now`: rendered once per verdict while the
/// certificate stays in the read cache, and shared by the lookup and the verify answer.
fn certificate_body(state: &AppState, found: &CachedCertificate, now: i64) -> Option<Bytes> {
    found.body(Verdict::of(&found.detail.certificate, now), || {
        serde_json::to_vec(&CertificateView::of(&found.detail, &state.issuer, now)).ok().map(Bytes::from)
    })
}

/// A JSON body already serialised, not to be cached by clients.
fn json_bytes(body: impl Into<Bytes>) -> Response {
    let mut response = body.into().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    no_cache(response)
}

/// Most results on a page.
pub const LIMIT_MAX: u32 = 100;
/// How far into the results a page may start.
pub const OFFSET_MAX: u32 = 100_000;
/// Longest search text, in characters.
pub const QUERY_MAX_CHARS: usize = 200;

/// The registry search's query. Any other parameter is refused with 422.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Query>)]
    pub q: Option<String>,
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Limit>)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[param(inline, value_type = Option<fields::Offset>)]
    pub offset: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    pub items: Vec<CertificateView>,
    pub limit: u32,
    pub offset: u32,
}

pub fn search_query(
    q: Option<&str>,
    limit: Option<u32>,
    offset: Option<u32>,
) -> Result<SearchQuery, AppError> {
    let q = q.unwrap_or_default();
    if q.chars().count() > QUERY_MAX_CHARS {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("q: at most {QUERY_MAX_CHARS} characters"),
        )
        .field("q"));
    }
    let limit = limit.unwrap_or(20);
    if !(1..=LIMIT_MAX).contains(&limit) {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("limit: from 1 to {LIMIT_MAX}"),
        )
        .field("limit"));
    }
    let offset = offset.unwrap_or(0);
    if offset > OFFSET_MAX {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("offset: at most {OFFSET_MAX}"),
        )
        .field("offset"));
    }
    // Control characters separate words as spaces do: stored text has none (names and products
    // refuse them), and a NUL would cut an FTS5 phrase short in SQLite and is refused outright by
    // PostgreSQL, so none may reach the store.
    let terms = fold(q)
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|term| !term.is_empty())
        .take(8)
        .map(str::to_owned)
        .collect();
    Ok(SearchQuery { terms, limit, offset, ..SearchQuery::default() })
}

/// The public registry: certified entities and their certificates.
#[utoipa::path(get, path = "/api/v1/certificates", tag = "public", params(SearchParams),
    responses((status = 200, description = "Certificates in the registry, newest first", body = SearchResult),
              (status = 422, description = "A parameter is invalid or unknown; `field` names it when it is out of range", body = super::error::ErrorEnvelope),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn search(
    State(state): State<AppState>,
    query: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(params) = query
        .map_err(|err| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", err.body_text()))?;
    let query = search_query(params.q.as_deref(), params.limit, params.offset)?;
    let found = state.issuer.store.search(&query).await.map_err(crate::issuer::IssuerError::from)?;
    let items = found.into_iter().map(|d| CertificateView::new(d, &state.issuer, state.now())).collect();
    Ok(no_cache(Json(SearchResult { items, limit: query.limit, offset: query.offset }).into_response()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[schema(value_type = fields::Token)]
    pub token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reason {
    /// Stable cause, e.g. `bad_signature`, `expired`, `revoked`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyResponse {
    /// True only for a genuine, current, unrevoked, unsuspended certificate.
    pub valid: bool,
    /// valid, expired, not_yet_valid, suspended, revoked, invalid, or issuer_not_recognised (a
    /// token that names another issuer: verify it there). `invalid` is a token signed with the
    /// issuer's key that the registry does not know: reason `unknown_certificate` (no such
    /// certificate) or `unknown_token` (never issued, e.g. another `jti` or `exp`).
    pub verdict: String,
    pub reasons: Vec<Reason>,
    /// The certificate, when the token is genuine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateView>,
    /// Verified claims, when the token is genuine.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub claims: Option<CertificateClaims>,
}

/// Verifies a token with the same code as the badge, then checks the certificate's state.
#[utoipa::path(post, path = "/api/v1/verify", tag = "public", request_body = VerifyRequest,
    responses((status = 200, description = "A token signed with this issuer's key, with its verdict: `invalid` \
                  (reason `unknown_certificate` or `unknown_token`) when the registry never issued it", body = VerifyResponse),
              (status = 400, description = "Malformed JSON", body = super::error::ErrorEnvelope),
              (status = 413, description = "Body too large", body = super::error::ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = super::error::ErrorEnvelope),
              (status = 422, description = "Not a genuine token of this issuer (the code names the check \
                                            that failed), or a body without `token`", body = super::error::ErrorEnvelope),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn verify(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Response, AppError> {
    let now = state.now();
    let rules = Rules::new(state.issuer.settings.base_url.clone());
    // A token that names another issuer is that issuer's to judge: this one has no keys for it,
    // and calling it forged would be a false accusation. A distinct answer, neither valid nor
    // invalid, that says where to ask.
    if let Ok(untrusted) = zp_shared::UntrustedToken::parse(&request.token)
        && let Some(other) = untrusted.unverified_hints().issuer
        && other != rules.issuer
    {
        let message = format!(
            "the token names the issuer {other:?}, not this one ({:?}); verify it with that issuer",
            rules.issuer
        );
        return Ok(not_valid("issuer_not_recognised", "issuer_not_recognised", message));
    }
    let keys = state.issuer.verify_keys(now, false).await?;
    let verified = match zp_shared::verify(&request.token, &keys, now, &rules) {
        // Perhaps a key rotated in within this second: look again before calling it unknown.
        Err(zp_shared::Error::UnknownKey) => {
            let keys = state.issuer.verify_keys(now, true).await?;
            zp_shared::verify(&request.token, &keys, now, &rules)
        }
        other => other,
    };
    let verified = match verified {
        Ok(verified) => verified,
        // A genuine token outside its validity period is an answer, not bad input.
        Err(err @ (zp_shared::Error::Expired { .. } | zp_shared::Error::NotYetValid { .. })) => {
            let verdict =
                if matches!(err, zp_shared::Error::NotYetValid { .. }) { "not_yet_valid" } else { "expired" };
            return Ok(not_valid(verdict, err.code(), err.to_string()));
        }
        // Anything else means the token is not a genuine certificate of this issuer.
        Err(err) => {
            return Err(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, err.code(), format!("token: {err}"))
                .field("token"));
        }
    };
    let id = verified.claims().sub.clone();
    let found = state.certificate(&id).await.map_err(crate::issuer::IssuerError::from)?;
    let Some(found) = found else {
        return Ok(not_issued("unknown_certificate", format!("no certificate {id} in the registry")));
    };
    // The signature says the issuer's key signed it; only the registry says the issuer issued
    // it. A token made with a leaked key, or a genuine one with its `exp` changed and signed
    // again, names a real certificate but is none of the tokens issued for it.
    if !issued(&state, &found, &request.token, &verified.claims().jti).await? {
        return Ok(not_issued(
            "unknown_token",
            format!("token: signed with this issuer's key, but never issued for certificate {id}"),
        ));
    }
    let now = state.now();
    let certificate = certificate_body(&state, &found, now).ok_or_else(AppError::internal)?;
    let mut reasons = Vec::new();
    // The registry's verdict, without the token check's leeway: expired means expired.
    let verdict = match Verdict::of(&found.detail.certificate, now) {
        Verdict::Valid => "valid",
        other => {
            reasons.push(Reason {
                code: other.as_str().into(),
                message: format!("certificate {id} is {}", other.as_str().replace('_', " ")),
            });
            other.as_str()
        }
    };
    let body = genuine_body(verdict, &reasons, &certificate, verified.claims()).map_err(|err| {
        tracing::error!(error = %err, "verify answer not serialisable");
        AppError::internal()
    })?;
    Ok(json_bytes(body))
}

/// Whether `token` is, byte for byte, one this issuer issued for the certificate: its current
/// token (in the read cache, so a check of a current token costs no query), or an earlier one
/// found by `jti`.
async fn issued(
    state: &AppState,
    found: &CachedCertificate,
    token: &str,
    jti: &str,
) -> Result<bool, AppError> {
    if found.detail.token.as_ref().is_some_and(|current| current.token == token) {
        return Ok(true);
    }
    let stored = state.issuer.store.token(jti).await.map_err(crate::issuer::IssuerError::from)?;
    Ok(stored
        .is_some_and(|stored| stored.token == token && stored.certificate_id == found.detail.certificate.id))
}

/// The answer for a token signed with the issuer's key that the registry does not know.
fn not_issued(code: &str, message: String) -> Response {
    not_valid("invalid", code, message)
}

/// A verify answer that is not `valid` and names no certificate: `verdict` and one reason.
fn not_valid(verdict: &str, code: &str, message: String) -> Response {
    let body = VerifyResponse {
        valid: false,
        verdict: verdict.into(),
        reasons: vec![Reason { code: code.into(), message }],
        certificate: None,
        claims: None,
    };
    no_cache(Json(body).into_response())
}

/// The [`VerifyResponse`] of a genuine token, written around the certificate's check API JSON
/// as it is (the lookup's body, kept in the read cache) rather than building that view again and
/// serialising it a second time: the same bytes, in the same member order, as serialising a
/// `VerifyResponse` with the certificate's [`CertificateView`] would give.
fn genuine_body(
    verdict: &str,
    reasons: &[Reason],
    certificate: &[u8],
    claims: &CertificateClaims,
) -> serde_json::Result<Vec<u8>> {
    // The claims are about as long as the certificate's JSON without its token.
    let mut out = Vec::with_capacity(2 * certificate.len() + 256);
    out.extend_from_slice(b"{\"valid\":");
    serde_json::to_writer(&mut out, &reasons.is_empty())?;
    out.extend_from_slice(b",\"verdict\":");
    serde_json::to_writer(&mut out, verdict)?;
    out.extend_from_slice(b",\"reasons\":");
    serde_json::to_writer(&mut out, reasons)?;
    out.extend_from_slice(b",\"certificate\":");
    out.extend_from_slice(certificate);
    out.extend_from_slice(b",\"claims\":");
    serde_json::to_writer(&mut out, claims)?;
    out.push(b'}');
    Ok(out)
}

/// A signed status list (IETF Token Status List, 2 bits per certificate).
#[utoipa::path(get, path = "/api/v1/status-lists/{list}", tag = "public",
    params(("list" = inline(fields::StatusListNumber), Path)),
    responses((status = 200, description = "statuslist+jwt", content_type = "application/statuslist+jwt"),
              (status = 404, description = "No such list", body = super::error::ErrorEnvelope),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn status_list(
    State(state): State<AppState>,
    Path(list): Path<String>,
) -> Result<Response, AppError> {
    let list: i64 = list.parse().map_err(|_| AppError::not_found("status list"))?;
    let now = state.now();
    let (token, iat) =
        state.issuer.status_list(list, now).await?.ok_or_else(|| AppError::not_found("status list"))?;
    Ok(signed_list(token, "application/statuslist+jwt", state.issuer.settings.status_ttl, now, iat))
}

/// A signed list (status list, trust list) as a response that caches may keep only for what is
/// left of its `ttl`, counted from when it was signed (`iat`), not from when it was served.
/// `iat` and `now` are whole seconds, so up to a second more may have passed than their
/// difference says: a second is kept back, so that no cache serves a list past the moment a
/// verifier stops counting it fresh (`iat + ttl`), when the verifier would have to say it
/// cannot confirm.
pub(crate) fn signed_list(
    token: String,
    content_type: &'static str,
    ttl: u64,
    now: i64,
    iat: i64,
) -> Response {
    let left = ttl.saturating_sub(u64::try_from(now - iat).unwrap_or(0)).saturating_sub(1);
    let mut response = token.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={left}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::{NewCertificate, NewEntity, NewProduct};

    /// A control character in the search text separates words; a NUL inside a word once ended
    /// SQLite's full-text query early, and the search failed with 500.
    #[tokio::test]
    async fn control_characters_in_a_search_separate_words() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer = &state.issuer;
        let now = state.now();
        let entity = NewEntity {
            name: "Spółdzielnia Socjalna „Sad”".into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["sad.pl".into()],
            ..NewEntity::default()
        };
        let entity = issuer.create_entity("test", entity, now).await.unwrap();
        let products = vec![NewProduct { name: "Powidła śliwkowe".into(), gtin: None }];
        let input = NewCertificate { entity_id: entity.id, products, valid_from: None };
        let issued = issuer.issue("test", input, now).await.unwrap();
        for q in ["powidła\0śliwkowe", "powidła\u{1f}śliwkowe\u{7}", "\0"] {
            let query = search_query(Some(q), None, None).unwrap();
            assert!(query.terms.iter().all(|term| !term.contains(char::is_control)), "{q:?}");
            let found = issuer.store.search(&query).await.unwrap_or_else(|err| panic!("{q:?}: {err}"));
            assert_eq!(found.len(), 1, "{q:?}");
            assert_eq!(found[0].certificate.id, issued.certificate.id);
        }
    }

    /// The verify answer written around the cached check API body is byte for byte what
    /// serialising the whole [`VerifyResponse`] gives, for a valid and a suspended certificate.
    #[tokio::test]
    async fn genuine_body_is_the_serialised_response() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::http::testing::state(dir.path()).await;
        let issuer = &state.issuer;
        let now = state.now();
        let entity = NewEntity {
            name: "Spółdzielnia Socjalna „Cudzysłów \\\" i ukośnik”".into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["cudzyslow.pl".into()],
            ..NewEntity::default()
        };
        let entity = issuer.create_entity("test", entity, now).await.unwrap();
        let products = vec![NewProduct { name: "Chleb <żytni>".into(), gtin: None }];
        let input = NewCertificate { entity_id: entity.id, products, valid_from: None };
        let issued = issuer.issue("test", input, now).await.unwrap();
        let id = issued.certificate.id.clone();
        let token = issuer.store.certificate(&id).await.unwrap().unwrap().token.unwrap().token;
        let keys = issuer.verify_keys(now, false).await.unwrap();
        let rules = Rules::new(issuer.settings.base_url.clone());
        let claims = zp_shared::verify(&token, &keys, now, &rules).unwrap().into_claims();

        for suspend in [false, true] {
            if suspend {
                issuer.suspend("test", &id, Some("kontrola".into()), now).await.unwrap();
            }
            let found = state.certificate(&id).await.unwrap().unwrap();
            let view = CertificateView::of(&found.detail, issuer, now);
            let reasons: Vec<Reason> = match view.status {
                Verdict::Valid => Vec::new(),
                other => vec![Reason { code: other.as_str().into(), message: "why".into() }],
            };
            let verdict = view.status.as_str();
            assert_eq!(verdict, if suspend { "suspended" } else { "valid" });
            let whole = VerifyResponse {
                valid: reasons.is_empty(),
                verdict: verdict.into(),
                reasons: reasons
                    .iter()
                    .map(|r| Reason { code: r.code.clone(), message: r.message.clone() })
                    .collect(),
                certificate: Some(view),
                claims: Some(claims.clone()),
            };
            let certificate = certificate_body(&state, &found, now).unwrap();
            let spliced = genuine_body(verdict, &reasons, &certificate, &claims).unwrap();
            assert_eq!(String::from_utf8(spliced).unwrap(), serde_json::to_string(&whole).unwrap());
        }
    }
}
