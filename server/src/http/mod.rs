//! The HTTP side: one router per area (public API, admin API, pages), merged here with the
//! layers every response gets.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::issuer::Issuer;

pub mod admin;
pub mod api;
pub mod error;
pub mod openapi;
pub mod pages;

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
}

impl AppState {
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
    Router::new()
        .merge(public)
        .nest("/api/v1/admin", admin::router(state.clone()))
        .merge(pages::router())
        .fallback(|| async { error::AppError::not_found("page") })
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .with_state(state)
}
