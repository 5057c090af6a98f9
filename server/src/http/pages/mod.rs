//! Server-rendered pages for shoppers and procurement officers: the registry with search, the
//! verification page a QR code leads to, entity pages with the embed snippets, QR images, the
//! GS1 Digital Link resolver, the badges without scripts (iframe page and SVG image) and the demo
//! shop. Polish by default, English with `?lang=en`; no scripts but the demo shop's badges.
//!
//! Every stored string is rendered as escaped text by maud and wrapped in `<bdi>`, so neither
//! markup nor bidirectional-override characters in a name can change the page around it.

use std::convert::Infallible;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::Markup;
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;

mod demo;
mod embed;
mod entity;
mod gs1;
mod home;
mod layout;
mod verify;

/// The applicants' pages share the shell, the wording and the badge kit.
pub(crate) use entity::badge_snippet;
/// The panel names legal forms as the public pages do.
pub(crate) use layout::legal_form_label;
pub(crate) use layout::{Page, format_instant, last_day, shell, short, text};

#[cfg(test)]
mod tests;

/// The pages' policy: our stylesheet and images only, no scripts, never framed. The widget and
/// iframe embed routes, which must be framed or loaded cross-site, carry their own headers.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                                           form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("site.css");
/// The rules of forms, for the pages that have them (the applicants' and the panel's), so the
/// registry's pages do not carry them.
const FORMS: &str = include_str!("forms.css");

/// Short content hash of the stylesheet: its URL changes with it, so it can be cached for a year.
static STYLESHEET_VERSION: LazyLock<String> =
    LazyLock::new(|| hex::encode(Sha256::digest(STYLESHEET.as_bytes())).chars().take(12).collect());

pub fn stylesheet_href() -> String {
    format!("/assets/site.css?v={}", *STYLESHEET_VERSION)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::page))
        .route("/v/{id}", get(verify::page))
        .route("/V/{id}", get(verify::page))
        .route("/v/{id}/qr.svg", get(verify::qr_svg))
        .route("/v/{id}/qr.png", get(verify::qr_png))
        .route("/e/{id}", get(entity::page))
        .route("/01/{gtin}", get(gs1::resolve))
        .route("/01/{gtin}/{*qualifiers}", get(gs1::resolve))
        .route("/assets/site.css", get(stylesheet))
        .route("/assets/forms.css", get(forms_stylesheet))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Added after the layers above, so these keep their own headers: the embed page may be
        // framed by any site, the badge image loaded from any, and the demo shop runs the widget.
        .route("/embed/{id}", get(embed::embed))
        .route("/badge/{file}", get(embed::badge_svg))
        .route("/demo", get(demo::page))
}

async fn stylesheet(params: Params) -> Response {
    // Long caching only for the URL that names this version; a stale `v` must not pin old CSS.
    let cache = if params.get("v") == Some(STYLESHEET_VERSION.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn forms_stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        FORMS,
    )
        .into_response()
}

/// The language of a page: Polish unless the query asks for English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Pl,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Pl => "pl",
            Lang::En => "en",
        }
    }

    pub fn pick<'a>(self, pl: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Pl => pl,
            Lang::En => en,
        }
    }

    pub fn is_pl(self) -> bool {
        self == Lang::Pl
    }
}

/// Query parameters of a page. Never rejects: a malformed query is treated as empty, so bad
/// input cannot turn a page into an error.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// More than this many parameters is not a person following a link.
const MAX_PARAMS: usize = 16;

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| pairs.into_iter().take(MAX_PARAMS).collect())
            .unwrap_or_default();
        Ok(Params { pairs })
    }
}

impl Params {
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Params { pairs: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn lang(&self) -> Lang {
        match self.get("lang").map(str::trim) {
            Some(code) if code.eq_ignore_ascii_case("en") => Lang::En,
            _ => Lang::Pl,
        }
    }

    /// A relative link to this same page in `to`, keeping every other parameter.
    pub fn switch_href(&self, to: Lang) -> String {
        let mut query: Vec<String> = self
            .pairs
            .iter()
            .filter(|(key, _)| key != "lang")
            .map(|(key, value)| format!("{}={}", encode_component(key), encode_component(value)))
            .collect();
        query.push(format!("lang={}", to.code()));
        format!("?{}", query.join("&"))
    }
}

/// The request's `Referer`, when it has a readable one. Browsers send only the origin across
/// sites (`strict-origin-when-cross-origin`), and nothing when the page asks for `no-referrer`.
#[derive(Debug, Clone, Default)]
pub struct Referer(Option<String>);

/// Longer than any origin a browser sends; a longer header is read as absent.
const MAX_REFERER: usize = 2048;

impl<S: Send + Sync> FromRequestParts<S> for Referer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::REFERER)
            .filter(|value| value.len() <= MAX_REFERER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Referer(value))
    }
}

impl Referer {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A site-internal link that keeps the reader's language. Empty values are left out.
pub fn href(path: &str, params: &[(&str, &str)], lang: Lang) -> String {
    let mut query: Vec<String> = params
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", encode_component(value)))
        .collect();
    if lang == Lang::En {
        query.push("lang=en".into());
    }
    if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) }
}

/// An HTML response that caches must revalidate, so a revocation shows at once.
pub fn html(status: StatusCode, lang: Lang, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(HeaderName::from_static("content-language"), HeaderValue::from_static(lang.code()));
    response
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn language_from_query() {
        assert_eq!(Params::default().lang(), Lang::Pl);
        assert_eq!(Params::from_pairs(&[("lang", "en")]).lang(), Lang::En);
        assert_eq!(Params::from_pairs(&[("lang", "EN")]).lang(), Lang::En);
        assert_eq!(Params::from_pairs(&[("lang", "pl")]).lang(), Lang::Pl);
        assert_eq!(Params::from_pairs(&[("lang", "de")]).lang(), Lang::Pl);
    }

    #[test]
    fn language_switch_keeps_other_parameters() {
        let params = Params::from_pairs(&[("q", "złoty słoik"), ("lang", "pl"), ("offset", "20")]);
        assert_eq!(params.switch_href(Lang::En), "?q=z%C5%82oty%20s%C5%82oik&offset=20&lang=en");
        assert_eq!(Params::default().switch_href(Lang::Pl), "?lang=pl");
        let hostile = Params::from_pairs(&[("a&b", "\"><x")]);
        assert_eq!(hostile.switch_href(Lang::En), "?a%26b=%22%3E%3Cx&lang=en");
    }

    #[test]
    fn internal_links() {
        assert_eq!(href("/", &[], Lang::Pl), "/");
        assert_eq!(href("/", &[("q", "")], Lang::En), "/?lang=en");
        assert_eq!(href("/", &[("q", "a b&c"), ("offset", "20")], Lang::Pl), "/?q=a%20b%26c&offset=20");
        assert_eq!(href("/v/7K3QX9M2", &[], Lang::En), "/v/7K3QX9M2?lang=en");
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(encode_component("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            encode_component("/?#[]@!$&'()*+,;= %"),
            "%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%20%25"
        );
        assert_eq!(encode_component("ą"), "%C4%85");
    }

    #[test]
    fn stylesheet_url_is_versioned() {
        let href = stylesheet_href();
        assert!(href.starts_with("/assets/site.css?v="));
        assert_eq!(href.len(), "/assets/site.css?v=".len() + 12);
    }
}
