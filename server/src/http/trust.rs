//! The trust list at `/.well-known/zp-trust-list.jwt`: the signed list of the issuers this issuer
//! vouches for. Public and open to any origin, like the JWKS, so badges on any page can read it.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use zp_shared::trust_list::TRUST_LIST_PATH;

use super::AppState;
use super::api::signed_list;
use super::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new().route(TRUST_LIST_PATH, get(trust_list))
}

/// The issuers this issuer vouches for: a compact JWS (`typ` `zp-trust-list+jwt`, EdDSA, a `kid`
/// of the issuer's JWKS) whose claims are `iss` (this issuer), `sub` (this URL), `iat`, `exp`,
/// `ttl` and `issuers` (`[{iss, name, voivodeship?, jwks_uri}]`). Caches may keep it for what is
/// left of `ttl` since `iat`.
#[utoipa::path(get, path = "/.well-known/zp-trust-list.jwt", tag = "public",
    responses((status = 200, description = "zp-trust-list+jwt", content_type = "application/jwt"),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn trust_list(State(state): State<AppState>) -> Result<Response, AppError> {
    let now = state.now();
    let (token, iat) = state.issuer.trust_list(now).await?;
    Ok(signed_list(token, "application/jwt", state.issuer.settings.status_ttl, now, iat))
}
