//! The badge bundle: the loader `zp-badge.js`, wasm-bindgen's glue and the WebAssembly module,
//! read once at start from the directory `cargo xtask widget` writes, and served with
//! content-hashed names, immutable caching, `application/wasm`, CORS, and brotli or gzip made
//! once rather than per request.
//!
//! `/widget/zp-badge.js` keeps a stable name (short cache) for the two-line snippet; the same
//! loader also lives at a hashed name that the entity page quotes with its SRI hash. The earlier
//! releases the build keeps in `releases/` stay served under their hashed names, so a snippet
//! pinned before an upgrade keeps loading the exact bytes its SRI hash names.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use sha2::{Digest, Sha256, Sha384};

use super::AppState;
use super::error::AppError;

/// The subdirectory of the bundle directory holding earlier releases, one directory each, laid
/// out as the bundle directory itself (loader template, glue, module, compressed variants).
pub const RELEASES: &str = "releases";

/// One file of the bundle, with its compressed variants.
#[derive(Debug, Clone)]
pub struct Asset {
    pub name: String,
    pub bytes: Bytes,
    /// `bytes` compressed with brotli, quality 11.
    pub br: Bytes,
    /// `bytes` compressed with gzip, level 9.
    pub gzip: Bytes,
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
    /// Every hashed name served: this release's files and those of the earlier releases.
    files: HashMap<String, Asset>,
}

/// One release: the files of one build, as served.
#[derive(Debug)]
struct Release {
    loader: Asset,
    glue: Asset,
    wasm: Asset,
}

fn short_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes)).chars().take(16).collect()
}

/// Brotli at its best quality and largest window, as `cargo xtask widget` writes it.
fn brotli_compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

/// Gzip at level 9, as `cargo xtask widget` writes it.
fn gzip_compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(bytes)?;
    gzip.finish()
}

fn brotli_decompress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut out)?;
    Ok(out)
}

fn gzip_decompress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// The variant the build wrote beside `file` (`<file>.<ext>`) when it decodes to `bytes`;
/// otherwise (missing, or left over from another build) one made now.
fn variant(
    dir: &Path,
    file: &str,
    ext: &str,
    bytes: &[u8],
    compress: fn(&[u8]) -> std::io::Result<Vec<u8>>,
    decompress: fn(&[u8]) -> std::io::Result<Vec<u8>>,
) -> std::io::Result<Bytes> {
    let path = dir.join(format!("{file}.{ext}"));
    match std::fs::read(&path) {
        Ok(stored) if decompress(&stored).is_ok_and(|decoded| decoded == bytes) => return Ok(stored.into()),
        Ok(_) => {
            tracing::warn!(file = %path.display(), "compressed file does not match its original; compressing again")
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    compress(bytes).map(Bytes::from)
}

/// A file of `dir` under its content-hashed name, with its compressed variants.
fn hashed_file(
    dir: &Path,
    file: &str,
    stem: &str,
    ext: &str,
    content_type: &'static str,
) -> std::io::Result<Asset> {
    let bytes = std::fs::read(dir.join(file))?;
    let br = variant(dir, file, "br", &bytes, brotli_compress, brotli_decompress)?;
    let gzip = variant(dir, file, "gz", &bytes, gzip_compress, gzip_decompress)?;
    Ok(Asset {
        name: format!("{stem}-{}.{ext}", short_hash(&bytes)),
        bytes: bytes.into(),
        br,
        gzip,
        content_type,
    })
}

impl Release {
    /// Reads the release in `dir`; the loader is written out for `base_url` and compressed here,
    /// since its bytes exist only now.
    fn load(dir: &Path, base_url: &str) -> std::io::Result<Release> {
        let glue = hashed_file(dir, "zp-widget.js", "zp-widget", "js", "text/javascript; charset=utf-8")?;
        let wasm = hashed_file(dir, "zp-widget_bg.wasm", "zp-widget", "wasm", "application/wasm")?;
        let template = String::from_utf8_lossy(&std::fs::read(dir.join("zp-badge.js"))?).into_owned();
        let issuer = serde_json::to_string(base_url).unwrap_or_default();
        let loader = template
            .replace("\"__ZP_ISSUER__\"", &issuer)
            .replace("__ZP_GLUE__", &glue.name)
            .replace("__ZP_WASM__", &wasm.name)
            .into_bytes();
        let loader = Asset {
            name: format!("zp-badge-{}.js", short_hash(&loader)),
            br: brotli_compress(&loader)?.into(),
            gzip: gzip_compress(&loader)?.into(),
            bytes: loader.into(),
            content_type: "text/javascript; charset=utf-8",
        };
        Ok(Release { loader, glue, wasm })
    }

    fn files(self) -> [Asset; 3] {
        [self.loader, self.glue, self.wasm]
    }
}

impl WidgetBundle {
    /// Reads the bundle from `dir` (`target/widget/dist` after `cargo xtask widget`): the
    /// current release at its top, and every earlier release in `dir/releases/`. An earlier
    /// release that cannot be read is left out with a warning; it never stops the server.
    pub fn load(dir: &Path, base_url: &str) -> std::io::Result<Self> {
        let current = Release::load(dir, base_url)?;
        let loader_integrity = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&current.loader.bytes))
        );
        let mut files = HashMap::new();
        let mut releases = 0;
        for release in earlier_releases(&dir.join(RELEASES)) {
            match Release::load(&release, base_url) {
                // The same build twice gives the same names with the same bytes.
                Ok(loaded) => {
                    files.extend(loaded.files().map(|asset| (asset.name.clone(), asset)));
                    releases += 1;
                }
                Err(err) => {
                    tracing::warn!(release = %release.display(), error = %err, "badge release skipped: it cannot be read");
                }
            }
        }
        let Release { loader, glue, wasm } = current;
        files.extend([&loader, &glue, &wasm].map(|asset| (asset.name.clone(), asset.clone())));
        tracing::info!(dir = %dir.display(), releases, files = files.len(), "badge bundle loaded");
        Ok(WidgetBundle { loader, glue, wasm, loader_integrity, files })
    }

    fn by_name(&self, name: &str) -> Option<&Asset> {
        self.files.get(name)
    }

    /// How many hashed names are served, over all releases.
    pub fn hashed_names(&self) -> usize {
        self.files.len()
    }
}

/// The release directories in `releases`, in name order; none when it does not exist. Names
/// starting with a dot are a build's work in progress.
fn earlier_releases(releases: &Path) -> Vec<std::path::PathBuf> {
    let entries = match std::fs::read_dir(releases) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            tracing::warn!(dir = %releases.display(), error = %err, "earlier badge releases cannot be listed");
            return Vec::new();
        }
    };
    let mut dirs: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
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

/// A content coding the bundle is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

/// The coding to send for a request's `Accept-Encoding`: the acceptable one with the highest
/// q-value, brotli before gzip when they tie; the bytes as they are when neither is acceptable
/// (none asked for, or `q=0`).
pub fn choose_coding(headers: &HeaderMap) -> Coding {
    let (mut br, mut gzip, mut any) = (None, None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let Some(q) = quality(parts) else { continue };
            if coding.eq_ignore_ascii_case("br") {
                br = Some(q);
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(q);
            } else if coding == "*" {
                any = Some(q);
            }
        }
    }
    let br = br.or(any).unwrap_or(0);
    let gzip = gzip.or(any).unwrap_or(0);
    if br > 0 && br >= gzip {
        Coding::Brotli
    } else if gzip > 0 {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// The q-value among an `Accept-Encoding` item's parameters, in thousandths (1000 without one);
/// `None` when it is malformed.
fn quality<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut q = 1000;
    for param in params {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = parse_q(value.trim())?;
        }
    }
    Some(q)
}

/// `0`, `0.5`, `1.000`… (RFC 9110 §12.4.2) in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths =
        fraction.bytes().zip([100, 10, 1]).map(|(digit, weight)| u16::from(digit - b'0') * weight).sum();
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn serve(asset: &Asset, cache: &'static str, request: &HeaderMap) -> Response {
    let (body, coding) = match choose_coding(request) {
        Coding::Brotli => (asset.br.clone(), Some("br")),
        Coding::Gzip => (asset.gzip.clone(), Some("gzip")),
        Coding::Identity => (asset.bytes.clone(), None),
    };
    let length = HeaderValue::from(body.len());
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CONTENT_LENGTH, length);
    if let Some(coding) = coding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    // Caches keep one copy per coding.
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Module scripts and WebAssembly are fetched with CORS from the shops' pages.
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    response
}

/// The stable loader URL of the snippet: cached briefly, so a new release reaches shops soon.
async fn stable_loader(State(state): State<AppState>, request: HeaderMap) -> Result<Response, AppError> {
    Ok(serve(&bundle(&state)?.loader, "public, max-age=300", &request))
}

/// Content-hashed files never change under their name.
async fn hashed_asset(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    request: HeaderMap,
) -> Result<Response, AppError> {
    let asset = bundle(&state)?.by_name(&name).ok_or_else(|| AppError::not_found("widget file"))?;
    Ok(serve(asset, "public, max-age=31536000, immutable", &request))
}

#[cfg(test)]
mod tests;
