//! The applicants' pages: the application form `/apply` (a public contract), the case pages under
//! `/case` that an applicant opens with a single-use e-mail link, and `POST /api/v1/applications`
//! for support centres submitting on an entity's behalf. Server-rendered like the registry's
//! pages, Polish by default with `?lang=en`, and usable without JavaScript.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use super::pages::{Lang, Page, Params, shell};
use crate::applications::{Applicant, FieldError, Upload, files};

pub mod api;
pub mod board;
mod case;
mod form;

#[cfg(test)]
mod tests;

/// The largest request of a form with files: five files at their limit and the fields. A larger
/// one is read to its end and refused with a page that says why.
pub const UPLOAD_BODY: usize = files::PER_SUBMISSION * files::MAX_BYTES + 1024 * 1024;

/// The pages' policy: as the registry's, with forms only to this site.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/apply", get(form::page).post(form::submit))
        .route("/apply/received/{id}", get(form::received))
        .route("/case", get(case::home).post(case::request_link))
        .route("/case/login/{secret}", get(case::login_page).post(case::login))
        .route("/case/logout", post(case::logout))
        .route("/case/{id}", get(case::case).post(case::answer))
        .route("/case/{id}/files/{file}", get(case::file))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY))
        // Not over a policy of the response's own: an attachment's is stricter.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// An applicant's page: never cached or stored, since it shows one person's case.
fn page(
    state: &AppState,
    status: StatusCode,
    lang: Lang,
    params: &Params,
    title: &str,
    main: Markup,
) -> Response {
    let page = Page {
        lang,
        params,
        title: title.to_owned(),
        base_url: &state.issuer.settings.base_url,
        canonical: None,
        forms: true,
    };
    let mut response = (status, shell(&page, main)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.code()));
    response
}

/// A page that only says something, with a link onwards.
fn message(
    state: &AppState,
    status: StatusCode,
    lang: Lang,
    title: &str,
    text: &str,
    link: (&str, &str),
) -> Response {
    let main = html! {
        h1 { (title) }
        p { (text) }
        p { a href=(link.0) { (link.1) } }
    };
    page(state, status, lang, &Params::default(), title, main)
}

fn unavailable(state: &AppState, lang: Lang) -> Response {
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        lang.pick("Rejestr chwilowo nie odpowiada", "The registry is not answering"),
        lang.pick(
            "Nic nie zostało zapisane. Spróbuj ponownie za chwilę.",
            "Nothing was saved. Please try again in a moment.",
        ),
        ("/", lang.pick("Strona główna rejestru", "The registry's home page")),
    )
}

/// The cookie of an applicant's session. Sent on top-level navigation from the e-mail link's
/// page (`SameSite=Lax`), so a letter's link to a case opens it signed in; forms carry the
/// session's CSRF token and must come from this site.
fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) { "__Host-zp_case" } else { "zp_case" }
}

fn secure(state: &AppState) -> bool {
    state.issuer.settings.base_url.starts_with("https://")
}

fn set_cookie(state: &AppState, secret: &str) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let value = format!("{}={secret}; Path=/; HttpOnly; SameSite=Lax{secure}", cookie_name(state));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("zp_case=; Max-Age=0"))
}

fn clear_cookie(state: &AppState) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let value = format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}", cookie_name(state));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("zp_case=; Max-Age=0"))
}

/// The signed-in applicant of a request, if any.
#[derive(Debug, Clone)]
pub struct MaybeApplicant(pub Option<Applicant>);

impl FromRequestParts<AppState> for MaybeApplicant {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(secret) = super::panel::cookie(&parts.headers, cookie_name(state)) else {
            return Ok(MaybeApplicant(None));
        };
        match state.applications.session(secret, state.now()).await {
            Ok(applicant) => Ok(MaybeApplicant(applicant)),
            Err(err) => {
                tracing::error!(error = %err, "reading an applicant's session failed");
                let lang =
                    Params::from_request_parts(parts, state).await.map(|p| p.lang()).unwrap_or_default();
                Err(unavailable(state, lang))
            }
        }
    }
}

/// Whether a request that changes something came from another site: browsers say so in
/// `Sec-Fetch-Site` and `Origin`. Such a request is refused before anything is read.
fn cross_site(state: &AppState, method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD) {
        return false;
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    site.is_some_and(|site| site != "same-origin" && site != "none")
        || origin.is_some_and(|origin| origin != state.issuer.settings.base_url)
}

/// What a multipart form sent: its fields and its files.
#[derive(Debug, Default)]
pub struct Sent {
    pub fields: super::panel::Fields,
    pub uploads: Vec<Upload>,
    /// Why the form could not be read to its end, if it could not.
    pub broken: Option<FieldError>,
}

/// Reads a multipart form: the text fields (at most 64 KiB each) and the files, each kept up to
/// its limit and counted beyond it, so that a file too large is refused by name once the whole
/// request has arrived, rather than by a connection cut in the middle of the upload.
pub async fn read_multipart(mut multipart: Multipart) -> Sent {
    let mut pairs = Vec::new();
    let mut uploads = Vec::new();
    let mut broken = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => {
                broken = Some(unreadable(&err));
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let limit = if file_name.is_some() { files::MAX_BYTES } else { 64 * 1024 };
        let mut bytes = Vec::new();
        let mut dropped = 0usize;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    let room = limit.saturating_sub(bytes.len());
                    let kept = chunk.get(..room).unwrap_or(&chunk);
                    bytes.extend_from_slice(kept);
                    dropped += chunk.len() - kept.len();
                }
                Ok(None) => break,
                Err(err) => {
                    broken = Some(unreadable(&err));
                    break;
                }
            }
        }
        if broken.is_some() {
            break;
        }
        match file_name {
            // A file input left empty still sends a part, with no name and no bytes.
            Some(file_name) if file_name.is_empty() && bytes.is_empty() => {}
            Some(file_name) => uploads.push(Upload { name: file_name, bytes, dropped }),
            None if pairs.len() < 200 => {
                pairs.push((name, String::from_utf8_lossy(&bytes).into_owned()));
            }
            None => {}
        }
    }
    Sent { fields: super::panel::Fields::from_pairs(pairs), uploads, broken }
}

/// Why a multipart form could not be read: too large as a whole, or cut short.
fn unreadable(err: &axum::extract::multipart::MultipartError) -> FieldError {
    let message = if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the files together are more than {} MB", UPLOAD_BODY / (1024 * 1024))
    } else {
        "the form arrived incomplete; send it again".to_owned()
    };
    FieldError::new("attachments", message)
}

/// The language a form was sent in: its `lang` field.
fn form_lang(fields: &super::panel::Fields) -> Lang {
    if fields.get("lang") == "en" { Lang::En } else { Lang::Pl }
}

/// The `id` of the input a refusal names: `entity.nip` → `f-entity-nip`, `products[2].gtin` →
/// `f-products`.
fn input_id(field: &str) -> String {
    let base = field.split('[').next().unwrap_or(field);
    format!("f-{}", base.replace('.', "-"))
}

/// The refusal shown by an input named `name`, if any.
fn error_for<'a>(errors: &'a [FieldError], name: &str) -> Option<&'a FieldError> {
    errors.iter().find(|e| {
        e.field == name
            || e.field.starts_with(&format!("{name}["))
            || e.field.starts_with(&format!("{name}."))
    })
}

/// A refusal in the reader's language.
fn said(error: &FieldError, lang: Lang) -> String {
    if lang.is_pl() { crate::applications::form::polish(error) } else { error.message.clone() }
}

/// The error summary at the top of a form: every refusal, each a link to its field.
fn error_summary(errors: &[FieldError], lang: Lang) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error-summary role="alert" tabindex="-1" #errors {
                h2 { (lang.pick("Popraw formularz", "Please correct the form")) }
                ul {
                    @for error in errors {
                        li {
                            a href=(format!("#{}", input_id(&error.field))) {
                                (crate::applications::form::label(&error.field, lang.is_pl())) ": " (said(error, lang))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A labelled input: text, e-mail, tel or a textarea, with its hint and refusal.
struct Input<'a> {
    name: &'a str,
    label: &'a str,
    value: &'a str,
    kind: &'a str,
    required: bool,
    hint: Option<&'a str>,
    autocomplete: Option<&'a str>,
}

fn input(spec: Input<'_>, errors: &[FieldError], lang: Lang) -> Markup {
    let id = input_id(spec.name);
    let error = error_for(errors, spec.name);
    let described = match (error.is_some(), spec.hint.is_some()) {
        (true, true) => Some(format!("{id}-hint {id}-error")),
        (true, false) => Some(format!("{id}-error")),
        (false, true) => Some(format!("{id}-hint")),
        _ => None,
    };
    html! {
        div.field {
            label for=(id) { (spec.label) @if spec.required { " " span aria-hidden="true" { "*" } } }
            @if let Some(hint) = spec.hint { p.hint id=(format!("{id}-hint")) { (hint) } }
            @if spec.kind == "textarea" {
                textarea id=(id) name=(spec.name) rows="4" required[spec.required]
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()] { (spec.value) }
            } @else {
                input id=(id) type=(spec.kind) name=(spec.name) value=(spec.value) required[spec.required]
                    autocomplete=[spec.autocomplete]
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()];
            }
            @if let Some(error) = error { p.error id=(format!("{id}-error")) { (said(error, lang)) } }
        }
    }
}

/// Serves a stored attachment for download: never rendered by the browser, never sniffed.
pub(crate) fn download(name: &str, media_type: &str, content: Vec<u8>) -> Response {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' }).collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        super::pages::encode_component(name)
    );
    let mut response = Response::new(Body::from(content));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    response
}
