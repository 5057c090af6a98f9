//! Helpers for driving the router in-process in unit tests: a state over a temporary data
//! directory and a one-call request runner.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;

use super::{AppState, RateLimit};
use crate::cli::Global;

/// A state over a fresh SQLite store and key ring in `dir`, for the issuer at `base_url`.
pub async fn state_with(dir: &Path, base_url: &str, rate_limit: RateLimit) -> AppState {
    let global = Global {
        data_dir: dir.to_path_buf(),
        database_url: None,
        keys_dir: None,
        base_url: Some(base_url.to_owned()),
        region: "LU".into(),
        status_ttl: 300,
        clock_offset: 0,
    };
    let issuer = global.open(None).await.expect("open the issuer");
    let mut state = AppState::new(Arc::new(issuer), global.clock(), rate_limit);
    // As `zp serve` runs: lookups through the read cache.
    state.certificates =
        Arc::new(super::CertificateCache::sqlite(&dir.join("zp.sqlite3"), super::cache::DEFAULT_ENTRIES));
    state
}

/// A state for `http://zp.test` without a rate limit.
pub async fn state(dir: &Path) -> AppState {
    state_with(dir, "http://zp.test", RateLimit::disabled()).await
}

/// What came back from one request.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request through a clone of `router`.
pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("read the body");
    Reply { status, headers, body: body.to_vec() }
}

/// `GET path`.
pub async fn get(router: &Router, path: &str) -> Reply {
    send(router, Request::get(path).body(Body::empty()).expect("a valid request")).await
}
