//! The HTTP side: one router per area (public API, admin API, pages), merged here with the
//! layers every response gets.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{Any, CorsLayer};

use crate::accounts::Accounts;
use crate::applications::Applications;
use crate::clock::Clock;
use crate::issuer::Issuer;
use crate::store::StoreResult;
pub use cache::{CachedCertificate, CertificateCache};
pub use ops::Metrics;
pub use rate_limit::RateLimit;

pub mod admin;
pub mod api;
pub mod apply;
pub mod cache;
pub mod conn;
pub mod edge;
pub mod error;
pub mod fields;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod panel;
pub mod rate_limit;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
pub mod throttle;
pub mod trust;
pub mod widget;

/// Largest request body accepted anywhere.
pub const MAX_BODY: usize = 64 * 1024;

/// What every handler reads: one `Arc`, so that the per-request copies axum makes (one in each
/// route's service, one for each `State` extractor) cost one reference count each rather than one
/// per field. Fields read through `Deref`; setting one (before the router is built) goes through
/// `DerefMut`, which copies the shared part only if it is already shared, as setting a field of a
/// plain cloned struct would.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`].
#[derive(Debug, Clone)]
pub struct Shared {
    pub issuer: Arc<Issuer>,
    pub clock: Clock,
    /// Request and certificate counters, rendered at `/metrics`; one registry per state.
    pub metrics: Metrics,
    /// The per-client limit on public routes (`zp serve --rate-limit`).
    pub rate_limit: RateLimit,
    /// The badge bundle, when it is built (`zp serve --widget-dir`).
    pub widget: Option<Arc<widget::WidgetBundle>>,
    /// Whether the demo pages are served (`zp serve --demo`).
    pub demo: bool,
    /// Certificate details read recently, while the database is unchanged (SQLite only).
    pub certificates: Arc<CertificateCache>,
    /// Failed admin authentications per client (`zp serve --admin-auth-failures`); panel sign-ins
    /// count against the same limit.
    pub admin_throttle: throttle::AdminThrottle,
    /// The panel's people: accounts, passkeys and sessions.
    pub accounts: Arc<Accounts>,
    /// The application cycle: the `/apply` form, applicants' cases, the board's review.
    pub applications: Arc<Applications>,
    /// Wakes this process's mail worker after a commit that wrote letters.
    pub outbox: crate::mail::Outbox,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

impl AppState {
    /// A state with fresh metrics and no admin throttle. Tests pass [`RateLimit::disabled`].
    pub fn new(issuer: Arc<Issuer>, clock: Clock, rate_limit: RateLimit) -> Self {
        let accounts = Arc::new(Accounts::new(issuer.store.clone(), &issuer.settings.base_url));
        let outbox = crate::mail::Outbox::default();
        let applications = Arc::new(Applications::new(issuer.clone(), outbox.clone()));
        AppState(Arc::new(Shared {
            issuer,
            clock,
            metrics: Metrics::new(),
            rate_limit,
            widget: None,
            demo: false,
            certificates: Arc::new(CertificateCache::disabled()),
            admin_throttle: throttle::AdminThrottle::disabled(),
            accounts,
            applications,
            outbox,
        }))
    }

    /// A certificate by its normalised ID, through the read cache when it is on.
    pub async fn certificate(&self, id: &str) -> StoreResult<Option<Arc<CachedCertificate>>> {
        self.certificates.certificate(self.issuer.store.as_ref(), id).await
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    // The JSON API, keys, status lists and the trust list may be read from any origin; admin
    // routes never.
    let public =
        api::router().merge(openapi::router()).merge(trust::router()).merge(apply::api::router()).layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE]),
        );
    let https = state.issuer.settings.base_url.starts_with("https://");
    let edge = edge::Edge::new(state.rate_limit.clone(), state.metrics.clone(), https);
    let compressed = Router::new()
        .merge(public)
        .nest("/api/v1/admin", admin::router(state.clone()))
        .merge(ops::router())
        .merge(pages::router())
        .merge(apply::router())
        .merge(panel::router(state.clone()))
        .layer(compression());
    Router::new()
        .merge(compressed)
        // Outside the compression layer: the bundle is compressed once, at build or start.
        .merge(widget::router())
        .fallback(|| async { error::AppError::not_found("page") })
        // One layer for all of it (see `edge`): the limit, metrics, log line and security headers,
        // and inside it a limit on what extractors read, so an oversized body gets the JSON
        // envelope.
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(edge, edge::edge))
                .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)),
        )
        .with_state(state)
}

/// Responses smaller than this go as they are: compressing them saves less than it costs.
pub const COMPRESS_FROM: u16 = 860;

/// Brotli or gzip on the fly, by the request's `Accept-Encoding`, for responses of
/// [`COMPRESS_FROM`] bytes or more, except images other than SVG (already compressed). It adds
/// `Vary: Accept-Encoding` to every response it could compress.
fn compression() -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(COMPRESS_FROM.into())
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::SSE);
    CompressionLayer::new().br(true).gzip(true).compress_when(predicate)
}

/// Responses that are not pages (JSON, tokens, images, metrics) load nothing and may not be
/// framed; pages set their own policy, which this leaves alone.
pub(crate) fn set_default_csp(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) && !is_html(headers) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
}

/// [`set_default_csp`] as a response mapper, for routers tested on their own.
#[cfg(test)]
async fn default_csp(mut response: axum::response::Response) -> axum::response::Response {
    set_default_csp(response.headers_mut());
    response
}

fn is_html(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes().trim_ascii_start();
        v.get(..9).is_some_and(|start| start.eq_ignore_ascii_case(b"text/html"))
    })
}
