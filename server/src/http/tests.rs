//! The assembled router driven in-process: OpenAPI document, health, metrics, CORS, security
//! headers and the rate limit.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};

use super::testing::{Reply, get, send, state, state_with};
use super::{AppState, RateLimit, router};
use crate::issuer::{Issuer, IssuerSettings};
use crate::keys::KeyRing;
use crate::store::*;

fn with_origin(method: &str, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("origin", "https://shop.example.com")
        .body(Body::empty())
        .unwrap()
}

fn preflight(path: &str, method: &str) -> Request<Body> {
    Request::builder()
        .method("OPTIONS")
        .uri(path)
        .header("origin", "https://shop.example.com")
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "content-type, authorization")
        .body(Body::empty())
        .unwrap()
}

fn post_json(path: &str, body: &str, key: Option<&str>) -> Request<Body> {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

fn assert_envelope(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.json()["error"]["code"], code, "{}", reply.text());
    assert!(reply.header("content-type").unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn openapi_document_is_served_to_any_origin() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()).await);
    let reply = send(&app, with_origin("GET", "/api/v1/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("content-security-policy"), Some("default-src 'none'; frame-ancestors 'none'"));
    let doc = reply.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert_eq!(doc["servers"][0]["url"], "http://zp.test");
    for (method, path) in super::openapi::ROUTES {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} not documented");
    }
}

/// Each route in the OpenAPI test list reaches a handler: neither the "page not found"
/// fallback nor a 405 answers it.
#[tokio::test]
async fn every_listed_route_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()).await);
    for (method, path) in super::openapi::ROUTES {
        let uri = path.replace("{id}", "ABCDEFGH").replace("{list}", "0");
        let request = match *method {
            "get" => Request::get(&uri).body(Body::empty()).unwrap(),
            "delete" => Request::delete(&uri).body(Body::empty()).unwrap(),
            "put" => {
                Request::put(&uri).header("content-type", "application/json").body(Body::from("{}")).unwrap()
            }
            _ => post_json(&uri, "{}", None),
        };
        let reply = send(&app, request).await;
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}");
        if reply.status == StatusCode::NOT_FOUND {
            assert_ne!(reply.json()["error"]["message"], "page not found", "{method} {path}");
        }
        if path.starts_with("/api/v1/admin/") {
            assert_envelope(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
}

#[tokio::test]
async fn healthz_answers_when_the_store_does() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()).await);
    let reply = get(&app, "/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), serde_json::json!({ "status": "ok" }));
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

/// A store whose database is gone.
struct DownStore;

fn down<T>() -> StoreResult<T> {
    Err(StoreError::Corrupt("the database is down".into()))
}

#[async_trait]
impl Store for DownStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        down()
    }
    async fn meta(&self, _: &str) -> StoreResult<Option<String>> {
        down()
    }
    async fn entity(&self, _: &str) -> StoreResult<Option<EntityRecord>> {
        down()
    }
    async fn entities(&self, _: u32, _: u32) -> StoreResult<Vec<EntityRecord>> {
        down()
    }
    async fn certificate(&self, _: &str) -> StoreResult<Option<CertificateDetail>> {
        down()
    }
    async fn search(&self, _: &SearchQuery) -> StoreResult<Vec<CertificateDetail>> {
        down()
    }
    async fn certificates_after(&self, _: &str, _: u32) -> StoreResult<Vec<CertificateDetail>> {
        down()
    }
    async fn certificate_by_gtin(&self, _: &str) -> StoreResult<Option<String>> {
        down()
    }
    async fn status_entries(&self) -> StoreResult<Vec<(i64, CertState)>> {
        down()
    }
    async fn max_status_idx(&self) -> StoreResult<Option<i64>> {
        down()
    }
    async fn certificate_counts(&self, _: i64) -> StoreResult<Vec<(String, i64)>> {
        down()
    }
    async fn audit_head(&self) -> StoreResult<i64> {
        down()
    }
    async fn audit_log(&self, _: i64, _: u32) -> StoreResult<Vec<AuditRecord>> {
        down()
    }
    async fn api_key_by_hash(&self, _: &str) -> StoreResult<Option<ApiKeyRecord>> {
        down()
    }
    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        down()
    }
    async fn last_token_exp(&self, _: &str) -> StoreResult<Option<i64>> {
        down()
    }
    async fn token(&self, _: &str) -> StoreResult<Option<TokenRecord>> {
        down()
    }

    async fn trusted_issuers(&self) -> StoreResult<Vec<TrustedIssuerRecord>> {
        down()
    }
}

#[async_trait]
impl ApplicationStore for DownStore {
    async fn application(&self, _: &str) -> StoreResult<Option<ApplicationRecord>> {
        down()
    }
    async fn applications(&self, _: Option<&str>, _: u32) -> StoreResult<Vec<ApplicationRecord>> {
        down()
    }
    async fn applications_of(&self, _: &str) -> StoreResult<Vec<ApplicationRecord>> {
        down()
    }
    async fn application_by_submission(&self, _: &str) -> StoreResult<Option<String>> {
        down()
    }
    async fn application_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        down()
    }
    async fn application_events(&self, _: &str) -> StoreResult<Vec<ApplicationEventRecord>> {
        down()
    }
    async fn application_files(&self, _: &str) -> StoreResult<Vec<ApplicationFileRecord>> {
        down()
    }
    async fn application_file(
        &self,
        _: &str,
        _: &str,
    ) -> StoreResult<Option<(ApplicationFileRecord, Vec<u8>)>> {
        down()
    }
    async fn entities_of(&self, _: &str) -> StoreResult<Vec<EntityRecord>> {
        down()
    }
    async fn applicant_session(&self, _: &str) -> StoreResult<Option<ApplicantSessionRecord>> {
        down()
    }
    async fn touch_applicant_session(&self, _: &str, _: i64) -> StoreResult<()> {
        down()
    }
    async fn delete_applicant_session(&self, _: &str) -> StoreResult<()> {
        down()
    }
    async fn purge_applicants(&self, _: i64, _: i64, _: i64) -> StoreResult<u64> {
        down()
    }
}

#[async_trait]
impl AccountStore for DownStore {
    async fn account(&self, _: &str) -> StoreResult<Option<AccountRecord>> {
        down()
    }
    async fn account_by_email(&self, _: &str) -> StoreResult<Option<AccountRecord>> {
        down()
    }
    async fn accounts(&self) -> StoreResult<Vec<AccountRecord>> {
        down()
    }
    async fn passkeys(&self, _: &str) -> StoreResult<Vec<PasskeyRecord>> {
        down()
    }
    async fn recovery_codes_left(&self, _: &str) -> StoreResult<i64> {
        down()
    }
    async fn enrolment(&self, _: &str, _: i64) -> StoreResult<Option<String>> {
        down()
    }
    async fn session(&self, _: &str) -> StoreResult<Option<SessionRecord>> {
        down()
    }
    async fn touch_session(&self, _: &str, _: i64) -> StoreResult<()> {
        down()
    }
    async fn set_reauth(&self, _: &str, _: i64) -> StoreResult<()> {
        down()
    }
    async fn delete_session(&self, _: &str) -> StoreResult<bool> {
        down()
    }
    async fn purge_sessions(&self, _: i64, _: i64, _: i64) -> StoreResult<u64> {
        down()
    }
    async fn put_ceremony(&self, _: &str, _: &CeremonyRecord, _: i64) -> StoreResult<()> {
        down()
    }
    async fn take_ceremony(&self, _: &str, _: i64) -> StoreResult<Option<CeremonyRecord>> {
        down()
    }
    async fn update_passkey(&self, _: &str, _: &str, _: i64) -> StoreResult<()> {
        down()
    }
}

#[async_trait]
impl crate::store::OutboxStore for DownStore {
    async fn letter(&self, _: i64) -> StoreResult<Option<crate::store::OutboxRecord>> {
        down()
    }
    async fn letters(&self, _: Option<&str>, _: u32, _: u32) -> StoreResult<Vec<crate::store::OutboxRecord>> {
        down()
    }
    async fn letter_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        down()
    }
    async fn letters_since(&self, _: i64) -> StoreResult<Vec<(String, String, i64)>> {
        down()
    }
    async fn due_letters(&self, _: i64, _: u32) -> StoreResult<Vec<i64>> {
        down()
    }
    async fn next_due(&self) -> StoreResult<Option<i64>> {
        down()
    }
    async fn claim_letter(&self, _: i64, _: i64, _: i64) -> StoreResult<bool> {
        down()
    }
    async fn mark_sent(&self, _: i64, _: i64) -> StoreResult<bool> {
        down()
    }
    async fn mark_retry(&self, _: i64, _: &str, _: i64) -> StoreResult<()> {
        down()
    }
    async fn mark_failed(&self, _: i64, _: &str, _: i64) -> StoreResult<()> {
        down()
    }
    async fn reminder_candidates(&self, _: i64, _: i64) -> StoreResult<Vec<crate::store::ReminderCandidate>> {
        down()
    }
}

#[tokio::test]
async fn healthz_is_503_in_the_envelope_when_the_store_fails() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyRing::open(&dir.path().join("keys"), 1_800_000_000).unwrap();
    let settings = IssuerSettings { base_url: "http://zp.test".into(), region: "LU".into(), status_ttl: 300 };
    let issuer = Issuer::new(Arc::new(DownStore), Arc::new(keys), settings);
    let app = router(AppState::new(Arc::new(issuer), crate::clock::Clock::default(), RateLimit::disabled()));
    let reply = get(&app, "/healthz").await;
    assert_envelope(&reply, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    assert!(!reply.text().contains("down"), "internal cause leaked: {}", reply.text());
}

#[tokio::test]
async fn metrics_label_requests_by_route_template() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let app = router(state.clone());
    let metrics = super::ops::metrics_router(state);
    assert_eq!(get(&app, "/api/v1/certificates/ABCDEFGH").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/api/v1/admin/certificates/QWERTYUP").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&app, "/no/such/page/12345").await.status, StatusCode::NOT_FOUND);
    let reply = get(&metrics, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").unwrap().starts_with("text/plain"));
    let text = reply.text();
    assert!(
        text.contains(
            r#"zp_http_requests_total{method="GET",route="/api/v1/certificates/{id}",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"zp_http_requests_total{method="GET",route="/api/v1/admin/certificates/{id}",status="401"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404"} 1"#), "{text}");
    assert!(
        text.contains(
            r#"zp_http_request_duration_seconds_bucket{method="GET",route="/api/v1/certificates/{id}""#
        ),
        "{text}"
    );
    for raw in ["ABCDEFGH", "QWERTYUP", "12345"] {
        assert!(!text.contains(raw), "raw path in a label: {text}");
    }
    // Only on the metrics listener's router, never on the public one.
    assert_eq!(get(&app, "/metrics").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&metrics, "/healthz").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_certificate_actions() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let (_, key) = state.issuer.create_api_key("test", "metrics", state.now()).await.unwrap();
    let metrics = super::ops::metrics_router(state.clone());
    let app = router(state);
    let entity =
        r#"{"name":"Spółdzielnia Socjalna Test","legal_form":"social_cooperative","domains":["example.pl"]}"#;
    let reply = send(&app, post_json("/api/v1/admin/entities", entity, Some(&key))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let entity_id = reply.json()["id"].as_str().unwrap().to_owned();
    let issue = format!(r#"{{"entity_id":"{entity_id}","products":[{{"name":"Chleb"}}]}}"#);
    let reply = send(&app, post_json("/api/v1/admin/certificates", &issue, Some(&key))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let text = get(&metrics, "/metrics").await.text();
    assert!(text.contains(r#"zp_certificate_actions_total{action="issue"} 1"#), "{text}");
}

#[tokio::test]
async fn admin_routes_send_no_cors_headers_and_public_ones_send_star() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()).await);
    for path in ["/api/v1/admin/entities", "/api/v1/admin/certificates/ABCDEFGH/revoke"] {
        let reply = send(&app, preflight(path, "POST")).await;
        assert!(
            !reply.headers.keys().any(|name| name.as_str().starts_with("access-control-")),
            "{path}: {:?}",
            reply.headers
        );
        let reply = send(&app, with_origin("GET", path)).await;
        assert_eq!(reply.header("access-control-allow-origin"), None, "{path}");
    }
    for path in ["/api/v1/certificates", "/.well-known/jwks.json", "/api/v1/status-lists/0"] {
        let reply = send(&app, with_origin("GET", path)).await;
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"), "{path}");
    }
    let reply = send(&app, preflight("/api/v1/verify", "POST")).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()).await);
    for path in ["/api/v1/certificates", "/api/v1/admin/audit", "/healthz", "/nowhere"] {
        let reply = get(&app, path).await;
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(reply.header("referrer-policy"), Some("strict-origin-when-cross-origin"), "{path}");
        assert_eq!(
            reply.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(reply.header("strict-transport-security"), None, "{path}: plain HTTP");
    }

    let dir = tempfile::tempdir().unwrap();
    let app = router(state_with(dir.path(), "https://zp.example.pl", RateLimit::disabled()).await);
    let reply = get(&app, "/api/v1/certificates").await;
    assert_eq!(reply.header("strict-transport-security"), Some("max-age=31536000"));
}

#[tokio::test]
async fn pages_keep_their_own_content_security_policy() {
    use axum::response::IntoResponse;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let page = || async {
        (
            [("content-security-policy", "default-src 'self'"), ("content-type", "text/html; charset=utf-8")],
            "<!doctype html>",
        )
            .into_response()
    };
    let bare = || async { axum::response::Html("<!doctype html>") };
    let app = router(state.clone()).merge(
        axum::Router::new()
            .route("/test-page", axum::routing::get(page))
            .route("/bare-page", axum::routing::get(bare))
            .layer(axum::middleware::map_response(super::default_csp)),
    );
    assert_eq!(get(&app, "/test-page").await.header("content-security-policy"), Some("default-src 'self'"));
    assert_eq!(get(&app, "/bare-page").await.header("content-security-policy"), None);
}

#[tokio::test]
async fn rate_limit_refuses_in_the_envelope_per_client() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with(dir.path(), "http://zp.test", RateLimit::per_second(1)).await;
    let from = |ip: [u8; 4]| router(state.clone()).layer(MockConnectInfo(SocketAddr::from((ip, 40000))));
    let first = from([192, 0, 2, 1]);
    // A burst of two, then refusals.
    for _ in 0..2 {
        assert_eq!(get(&first, "/api/v1/certificates").await.status, StatusCode::OK);
    }
    let reply = get(&first, "/api/v1/certificates").await;
    assert_envelope(&reply, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    // One budget for every public route, pages and unknown paths included.
    assert_eq!(get(&first, "/.well-known/jwks.json").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(get(&first, "/nowhere").await.status, StatusCode::TOO_MANY_REQUESTS);
    // Never limited: admin, health.
    for _ in 0..3 {
        assert_eq!(get(&first, "/api/v1/admin/audit").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(get(&first, "/healthz").await.status, StatusCode::OK);
    }
    // Another client has its own budget.
    let second = from([192, 0, 2, 2]);
    assert_eq!(get(&second, "/api/v1/certificates").await.status, StatusCode::OK);
    // Refusals are counted.
    let text = get(&super::ops::metrics_router(state), "/metrics").await.text();
    assert!(text.contains(r#"route="/api/v1/certificates",status="429"} 1"#), "{text}");
}

#[tokio::test]
async fn without_a_limit_no_peer_address_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(dir.path()).await);
    for _ in 0..200 {
        assert_eq!(get(&app, "/api/v1/certificates").await.status, StatusCode::OK);
    }
}

fn with_accept_encoding(path: &str, accept: &str) -> Request<Body> {
    Request::get(path).header("accept-encoding", accept).body(Body::empty()).unwrap()
}

/// Every `Vary` value of a reply, in one lower-case list.
fn vary(reply: &Reply) -> String {
    let values: Vec<_> = reply.headers.get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect();
    values.join(", ").to_ascii_lowercase()
}

#[tokio::test]
async fn pages_json_and_keys_are_compressed_when_asked() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let demo = crate::cli::demo::seed(&state.issuer, dir.path(), now).await.unwrap().unwrap();
    let id = &demo.certificates[0].0;
    let app = router(state.clone());
    let limit = usize::from(super::COMPRESS_FROM);

    // One key makes a JWKS too small to be worth compressing: it goes as it is.
    let small = send(&app, with_accept_encoding("/.well-known/jwks.json", "gzip, deflate, br")).await;
    assert!(small.body.len() < limit, "{}", small.text());
    assert_eq!(small.header("content-encoding"), None);
    // Retired keys stay published for a while: a few rotations make it large enough.
    while get(&app, "/.well-known/jwks.json").await.body.len() < limit {
        state.issuer.rotate_key("test", crate::keys::Activation::AfterCaches, now).await.unwrap();
    }

    for path in [
        "/".to_owned(),
        "/.well-known/jwks.json".to_owned(),
        format!("/badge/{id}.svg"),
        "/api/v1/openapi.json".to_owned(),
        format!("/api/v1/certificates/{id}"),
    ] {
        let plain = get(&app, &path).await;
        assert_eq!(plain.status, StatusCode::OK, "{path}");
        assert!(plain.body.len() >= limit, "{path} is {} bytes", plain.body.len());
        assert_eq!(plain.header("content-encoding"), None, "{path}: nothing asked for");
        assert!(vary(&plain).contains("accept-encoding"), "{path}: Vary {}", vary(&plain));
        for (accept, coding) in
            [("gzip, deflate, br", "br"), ("br", "br"), ("gzip", "gzip"), ("br;q=0.1, gzip", "gzip")]
        {
            let reply = send(&app, with_accept_encoding(&path, accept)).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            assert_eq!(reply.header("content-encoding"), Some(coding), "{path} for {accept}");
            assert!(vary(&reply).contains("accept-encoding"), "{path}: Vary {}", vary(&reply));
            // Streamed as it is compressed: no length announced that the body would not match.
            if let Some(length) = reply.header("content-length") {
                assert_eq!(length, reply.body.len().to_string(), "{path}");
            }
            let mut decoded = Vec::new();
            match coding {
                "br" => brotli::Decompressor::new(&reply.body[..], 4096).read_to_end(&mut decoded),
                _ => flate2::read::GzDecoder::new(&reply.body[..]).read_to_end(&mut decoded),
            }
            .unwrap();
            assert!(decoded == plain.body, "{path}: {coding} decodes to the plain response");
            assert!(reply.body.len() < plain.body.len(), "{path}");
            assert_eq!(reply.header("content-type"), plain.header("content-type"), "{path}");
        }
        let refused = send(&app, with_accept_encoding(&path, "br;q=0, gzip;q=0")).await;
        assert_eq!(refused.status, StatusCode::OK, "{path}");
        assert_eq!(refused.header("content-encoding"), None, "{path}");
        assert!(refused.body == plain.body, "{path}");
        assert!(vary(&refused).contains("accept-encoding"), "{path}");
    }

    // Small answers are not worth compressing.
    let reply = send(&app, with_accept_encoding("/healthz", "gzip, deflate, br")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.len() < limit);
    assert_eq!(reply.header("content-encoding"), None);

    // Images other than SVG are compressed already (the QR code's PNG is smaller than the limit,
    // so a larger one shows it).
    use axum::http::header::CONTENT_TYPE;
    let images = axum::Router::new()
        .route("/big.png", axum::routing::get(|| async { ([(CONTENT_TYPE, "image/png")], vec![7u8; 4096]) }))
        .route(
            "/big.svg",
            axum::routing::get(|| async { ([(CONTENT_TYPE, "image/svg+xml")], vec![b' '; 4096]) }),
        )
        .layer(super::compression());
    let png = send(&images, with_accept_encoding("/big.png", "gzip, deflate, br")).await;
    assert_eq!(png.header("content-encoding"), None);
    assert_eq!(png.body.len(), 4096);
    let svg = send(&images, with_accept_encoding("/big.svg", "gzip, deflate, br")).await;
    assert_eq!(svg.header("content-encoding"), Some("br"));
}
