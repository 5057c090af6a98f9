//! Operations: `/healthz` for load balancers, `/metrics` for Prometheus, and the middleware that
//! counts and times every request. Neither endpoint is rate limited or open to other origins.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
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
const UNMATCHED: &str = "unmatched";

const DURATION_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/healthz", get(healthz)).route("/metrics", get(render))
}

/// A Prometheus registry owned by one application state rather than installed process-wide,
/// so that several routers (as in tests) never share or fight over a global recorder.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
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
        let metrics = Metrics { recorder: Arc::new(recorder), handle };
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
    pub fn record_request(&self, method: &Method, route: &str, status: StatusCode, elapsed: Duration) {
        let method = method_label(method);
        let route = route.to_owned();
        self.with(|| {
            metrics::counter!(
                REQUESTS,
                "method" => method,
                "route" => route.clone(),
                "status" => status.as_u16().to_string()
            )
            .increment(1);
            metrics::histogram!(DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
        });
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

/// The route template a request matched, e.g. `/api/v1/certificates/{id}`.
pub fn route_of<B>(request: &axum::http::Request<B>) -> &str {
    request.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str)
}

/// Middleware: counts and times every request by its matched route.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = route_of(&request).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record_request(&method, &route, response.status(), started.elapsed());
    response
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
