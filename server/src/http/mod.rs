//! The HTTP side: one router per area (public API, admin API, pages), merged here with the
//! layers every response gets.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::issuer::Issuer;
pub use ops::Metrics;
pub use rate_limit::RateLimit;

pub mod admin;
pub mod api;
pub mod error;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod rate_limit;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
pub mod widget;

/// Largest request body accepted anywhere.
pub const MAX_BODY: usize = 64 * 1024;

/// Where "now" comes from: the system clock, or a fixed offset from it for demonstrations and
/// tests of expiry.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    pub offset: i64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        i64::try_from(secs).unwrap_or(i64::MAX).saturating_add(self.offset)
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
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
}

impl AppState {
    /// A state with fresh metrics. Tests pass [`RateLimit::disabled`].
    pub fn new(issuer: Arc<Issuer>, clock: Clock, rate_limit: RateLimit) -> Self {
        AppState { issuer, clock, metrics: Metrics::new(), rate_limit, widget: None, demo: false }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    // The JSON API, keys and status lists may be read from any origin; admin routes never.
    let public = api::router().merge(openapi::router()).layer(
        CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE]),
    );
    let https = state.issuer.settings.base_url.starts_with("https://");
    let router = Router::new()
        .merge(public)
        .nest("/api/v1/admin", admin::router(state.clone()))
        .merge(ops::router())
        .merge(pages::router())
        .merge(widget::router())
        .fallback(|| async { error::AppError::not_found("page") })
        // A limit on what extractors read, so an oversized body gets the JSON envelope.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(axum::middleware::map_response(default_csp));
    // Over plain HTTP (local runs, tests) the header would be ignored; over HTTPS it pins it.
    let router = if https {
        router.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ))
    } else {
        router
    };
    // Outermost: the limiter, then metrics and logs, so that those count and log refusals too.
    router
        .layer(axum::middleware::from_fn_with_state(state.rate_limit.clone(), rate_limit::enforce))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), ops::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route = ops::route_of(request),
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(DefaultOnFailure::new().level(Level::ERROR)),
        )
        .with_state(state)
}

/// Responses that are not pages (JSON, tokens, images, metrics) load nothing and may not be
/// framed; pages set their own policy, which this leaves alone.
async fn default_csp(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) && !is_html(headers) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"))
}
