//! The badge bundle: the loader `zp-badge.js`, wasm-bindgen's glue and the WebAssembly module,
//! read once at start from the directory `cargo xtask widget` writes, and served with
//! content-hashed names, immutable caching, `application/wasm` and CORS.
//!
//! `/widget/zp-badge.js` keeps a stable name (short cache) for the two-line snippet; the same
//! loader also lives at a hashed name that the entity page quotes with its SRI hash.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use sha2::{Digest, Sha256, Sha384};

use super::AppState;
use super::error::AppError;

/// One file of the bundle.
#[derive(Debug, Clone)]
pub struct Asset {
    pub name: String,
    pub bytes: Bytes,
    pub content_type: &'static str,
}

#[derive(Debug, Clone)]
pub struct WidgetBundle {
    /// The loader, with the issuer URL and the hashed names written in.
    pub loader: Asset,
    pub glue: Asset,
    pub wasm: Asset,
    /// `sha384-…` of the loader, for `<script integrity>`.
    pub loader_integrity: String,
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes)).chars().take(16).collect()
}

fn hashed(stem: &str, ext: &str, bytes: Bytes, content_type: &'static str) -> Asset {
    Asset { name: format!("{stem}-{}.{ext}", short_hash(&bytes)), bytes, content_type }
}

impl WidgetBundle {
    /// Reads the bundle from `dir` (`target/widget/dist` after `cargo xtask widget`).
    pub fn load(dir: &Path, base_url: &str) -> std::io::Result<Self> {
        let read = |name: &str| std::fs::read(dir.join(name)).map(Bytes::from);
        let glue = hashed("zp-widget", "js", read("zp-widget.js")?, "text/javascript; charset=utf-8");
        let wasm = hashed("zp-widget", "wasm", read("zp-widget_bg.wasm")?, "application/wasm");
        let template = String::from_utf8_lossy(&read("zp-badge.js")?).into_owned();
        let issuer = serde_json::to_string(base_url).unwrap_or_default();
        let loader = template
            .replace("\"__ZP_ISSUER__\"", &issuer)
            .replace("__ZP_GLUE__", &glue.name)
            .replace("__ZP_WASM__", &wasm.name);
        let loader = hashed("zp-badge", "js", Bytes::from(loader), "text/javascript; charset=utf-8");
        let loader_integrity = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&loader.bytes))
        );
        Ok(WidgetBundle { loader, glue, wasm, loader_integrity })
    }

    fn by_name(&self, name: &str) -> Option<&Asset> {
        [&self.loader, &self.glue, &self.wasm].into_iter().find(|asset| asset.name == name)
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/widget/zp-badge.js", get(stable_loader)).route("/widget/{name}", get(hashed_asset))
}

fn bundle(state: &AppState) -> Result<&Arc<WidgetBundle>, AppError> {
    state.widget.as_ref().ok_or_else(|| {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "widget_not_built",
            "the badge bundle is not installed on this server (build it with `cargo xtask widget`)",
        )
    })
}

fn serve(asset: &Asset, cache: &'static str) -> Response {
    let mut response = asset.bytes.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Module scripts and WebAssembly are fetched with CORS from the shops' pages.
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    response
}

/// The stable loader URL of the snippet: cached briefly, so a new release reaches shops soon.
async fn stable_loader(State(state): State<AppState>) -> Result<Response, AppError> {
    Ok(serve(&bundle(&state)?.loader, "public, max-age=300"))
}

/// Content-hashed files never change under their name.
async fn hashed_asset(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, AppError> {
    let asset = bundle(&state)?.by_name(&name).ok_or_else(|| AppError::not_found("widget file"))?;
    Ok(serve(asset, "public, max-age=31536000, immutable"))
}
