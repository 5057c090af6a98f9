//! Operations: `/healthz` for load balancers, `/metrics` for Prometheus, and the counters and
//! timings of every request (recorded by the `edge` middleware). Neither endpoint is rate limited
//! or open to other origins, and `/metrics`, which shows the admin API's activity, is served only
//! on an address of its own (`zp serve --metrics-bind`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use serde::Serialize;

use super::AppState;
use super::error::AppError;

const REQUESTS: &str = "zp_http_requests_total";
const DURATION: &str = "zp_http_request_duration_seconds";
const CERTIFICATE_ACTIONS: &str = "zp_certificate_actions_total";

/// Label for requests that matched no route: their raw paths must never become labels.
pub const UNMATCHED: &str = "unmatched";

const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/healthz", get(healthz))
}

/// `/metrics` alone, for its own listener.
pub fn metrics_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(render))
        .fallback(|| async { AppError::not_found("page") })
        .with_state(state)
}

/// A Prometheus registry owned by one application state rather than installed process-wide,
/// so that several routers (as in tests) never share or fight over a global recorder.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    /// The request counter and histogram of each route, method and status met so far, so that a
    /// request costs two atomic updates rather than building and hashing two label sets. Routes are
    /// templates and methods and statuses few, so this stays small.
    requests: Arc<RwLock<HashMap<String, Vec<RequestHandles>>>>,
}

#[derive(Clone)]
struct RequestHandles {
    method: &'static str,
    status: StatusCode,
    count: metrics::Counter,
    duration: metrics::Histogram,
}

/// The handles of one route, method and status, if met before.
fn find_handles<'a>(
    handles: &'a HashMap<String, Vec<RequestHandles>>,
    route: &str,
    method: &str,
    status: StatusCode,
) -> Option<&'a RequestHandles> {
    handles.get(route)?.iter().find(|h| h.method == method && h.status == status)
}

impl RequestHandles {
    fn record(&self, seconds: f64) {
        self.count.increment(1);
        self.duration.record(seconds);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.into()), &DURATION_BUCKETS)
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "request duration buckets rejected; using summaries");
                PrometheusBuilder::new()
            });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics { recorder: Arc::new(recorder), handle, requests: Arc::default() };
        metrics.with(|| {
            metrics::describe_counter!(REQUESTS, "HTTP requests by method, route and status");
            metrics::describe_histogram!(
                DURATION,
                metrics::Unit::Seconds,
                "Time to produce the response, by method and route"
            );
            metrics::describe_counter!(
                CERTIFICATE_ACTIONS,
                "Certificate changes made through the admin API, by action"
            );
        });
        metrics
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    /// Records one finished request. `route` is the matched route template, never the raw path.
    /// The handles are used under the read lock, not cloned out of it: a clone is two reference
    /// counts up and down again on every request.
    pub fn record_request(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let method = method_label(method);
        let seconds = elapsed.as_secs_f64();
        if let Ok(handles) = self.requests.read()
            && let Some(found) = find_handles(&handles, route, method, status)
        {
            found.record(seconds);
            return;
        }
        let made = self.with(|| RequestHandles {
            method,
            status,
            count: metrics::counter!(
                REQUESTS,
                "method" => method,
                "route" => route.to_owned(),
                "status" => status.as_u16().to_string()
            ),
            duration: metrics::histogram!(DURATION, "method" => method, "route" => route.to_owned()),
        });
        if let Ok(mut handles) = self.requests.write()
            && find_handles(&handles, route, method, status).is_none()
        {
            handles.entry(route.to_owned()).or_default().push(made.clone());
        }
        made.record(seconds);
    }

    /// Counts a certificate change (`issue`, `renew`, `suspend`, `reinstate`, `revoke`, ...).
    pub fn certificate_action(&self, action: &'static str) {
        self.with(|| metrics::counter!(CERTIFICATE_ACTIONS, "action" => action).increment(1));
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histogram samples nobody has scraped yet; call now and then so memory stays flat
    /// when Prometheus is not scraping.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Known methods by name; anything else in one bucket, since clients choose methods freely.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
}

/// Liveness and readiness: answers only when the database answers.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.issuer.store.audit_head().await {
        Ok(_) => {
            let mut response = Json(Health { status: "ok" }).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "health check failed");
            AppError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the database is not answering")
                .into_response()
        }
    }
}

async fn render(State(state): State<AppState>) -> Response {
    let mut response = state.metrics.render().into_response();
    let headers = response.headers_mut();
    headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
