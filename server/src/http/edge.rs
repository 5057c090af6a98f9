//! What every request goes through, as one middleware: the per-client rate limit, the request
//! counters and timings, the request log line, and the security headers.
//!
//! One layer rather than a stack of seven (trace span, metrics, limiter, four header layers): axum
//! applies `Router::layer` to every route and clones each route's layered service for every
//! request, one boxed allocation per layer, so the stack's cost was paid on every cheap request
//! (see the check API figures of `cargo xtask bench http`).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::ops::{Metrics, UNMATCHED};
use super::rate_limit::RateLimit;

use crate::clock;

/// The middleware's own state: one `Arc` to clone per request.
#[derive(Debug, Clone)]
pub struct Edge(Arc<EdgeState>);

#[derive(Debug)]
struct EdgeState {
    rate_limit: RateLimit,
    metrics: Metrics,
    /// Served over HTTPS: responses pin it with Strict-Transport-Security.
    https: bool,
}

impl Edge {
    pub fn new(rate_limit: RateLimit, metrics: Metrics, https: bool) -> Self {
        Edge(Arc::new(EdgeState { rate_limit, metrics, https }))
    }
}

/// The middleware. The limiter comes first, so that refusals are counted and logged too.
pub async fn edge(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let started = clock::instant();
    // The route template, never the raw path: clients choose paths freely.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let method = request.method().clone();
    let mut response = match edge.0.rate_limit.refusal(route, &request) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    };
    security_headers(response.headers_mut(), edge.0.https);
    let status = response.status();
    let elapsed = started.elapsed();
    edge.0.metrics.record_request(&method, route, status, elapsed);
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    // One line per request would cost more than the rest of a cached lookup (a JSON line written
    // to standard error, about 6 µs), and /metrics already counts and times every request. So:
    // failures always, the staff's admin calls at info, the public's requests at debug
    // (`ZP_LOG=info,zp_server::http::edge=debug` shows them).
    if status.is_server_error() {
        tracing::error!(%method, route, status = status.as_u16(), latency_us, "request failed");
    } else if route.starts_with("/api/v1/admin/") {
        tracing::info!(%method, route, status = status.as_u16(), latency_us, "request");
    } else {
        tracing::debug!(%method, route, status = status.as_u16(), latency_us, "request");
    }
    response
}

/// Headers every response gets. Pages set their own Content-Security-Policy, which stays; every
/// other response loads nothing and may not be framed.
fn security_headers(headers: &mut HeaderMap, https: bool) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(header::REFERRER_POLICY) {
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    }
    super::set_default_csp(headers);
    // Over plain HTTP (local runs, tests) the header would be ignored; over HTTPS it pins it.
    if https && !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
}
