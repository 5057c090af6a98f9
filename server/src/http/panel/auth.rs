//! Who is asking, and may they: the session cookie, the role extractors every panel handler takes,
//! the CSRF-checked form, and the same-origin guard on everything that changes state.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::{Shell, page, shell};
use crate::accounts::{Role, SignedIn, same_secret};
use crate::http::AppState;
use crate::http::pages::{Lang, encode_component};

/// The cookie that holds a session's secret. With an https base URL it is `__Host-` prefixed, so
/// the browser keeps it only when set `Secure`, for this host, on `/`.
pub fn session_cookie_name(state: &AppState) -> &'static str {
    if secure(state) { "__Host-zp_session" } else { "zp_session" }
}

fn secure(state: &AppState) -> bool {
    state.accounts.panel_url.starts_with("https://")
}

/// `Set-Cookie` for a new session: only for this host, never sent by other sites' requests, out
/// of scripts' reach. It lasts as long as the browser's session; the server ends it sooner.
pub fn set_session(state: &AppState, secret: &str) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let value = format!("{}={secret}; Path=/; HttpOnly; SameSite=Strict{secure}", session_cookie_name(state));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("zp_session=; Max-Age=0"))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session(state: &AppState) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let value =
        format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}", session_cookie_name(state));
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("zp_session=; Max-Age=0"))
}

/// A cookie's value by name.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// The panel's language: the `zp_lang` cookie the switch sets, Polish by default.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    match cookie(headers, "zp_lang") {
        Some("en") => Lang::En,
        _ => Lang::Pl,
    }
}

/// The signed-in person of a request, if any.
pub async fn signed_in(headers: &HeaderMap, state: &AppState) -> Result<Option<SignedIn>, Response> {
    let Some(secret) = cookie(headers, session_cookie_name(state)) else {
        return Ok(None);
    };
    state.accounts.session(secret, state.now()).await.map_err(|err| {
        tracing::error!(error = %err, "reading a panel session failed");
        unavailable(lang_of(headers))
    })
}

/// A signed-in person whose role is at least `ROLE` (0 viewer, 1 staff, 2 admin). Without a
/// session the request is redirected to the login page, which returns to it; with too small a
/// role it is refused with 403.
#[derive(Debug, Clone)]
pub struct AtLeast<const ROLE: u8> {
    pub person: SignedIn,
    pub lang: Lang,
}

pub type Viewer = AtLeast<0>;
pub type Staff = AtLeast<1>;
pub type Admin = AtLeast<2>;

const fn role_of(rank: u8) -> Role {
    match rank {
        0 => Role::Viewer,
        1 => Role::Staff,
        _ => Role::Admin,
    }
}

impl<const ROLE: u8> FromRequestParts<AppState> for AtLeast<ROLE> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = lang_of(&parts.headers);
        let Some(person) = signed_in(&parts.headers, state).await? else {
            return Err(to_login(parts));
        };
        if person.role < role_of(ROLE) {
            return Err(forbidden(lang, &person, role_of(ROLE)));
        }
        Ok(AtLeast { person, lang })
    }
}

/// The login page, to come back to this page after (only a path of the panel, never elsewhere).
fn to_login(parts: &Parts) -> Response {
    let back = if parts.method == Method::GET {
        parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/panel")
    } else {
        "/panel"
    };
    Redirect::to(&format!("/panel/login?next={}", encode_component(back))).into_response()
}

fn forbidden(lang: Lang, person: &SignedIn, needed: Role) -> Response {
    let title = lang.pick("Brak uprawnień", "Not allowed");
    let main = html! {
        h1 { (title) }
        p {
            (lang.pick("Ta strona wymaga roli: ", "This page needs the role: "))
            strong { (needed.label(lang.is_pl())) }
            (lang.pick(". Twoja rola: ", ". Your role: "))
            strong { (person.role.label(lang.is_pl())) } "."
        }
        p { a href="/panel" { (lang.pick("Wróć do pulpitu", "Back to the dashboard")) } }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "" };
    page(StatusCode::FORBIDDEN, shell(&shell_, main))
}

pub fn unavailable(lang: Lang) -> Response {
    let title = lang.pick("Rejestr chwilowo nie odpowiada", "The registry is not answering");
    let main = html! {
        h1 { (title) }
        p { (lang.pick("Spróbuj ponownie za chwilę.", "Please try again in a moment.")) }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: None, path: "" };
    page(StatusCode::SERVICE_UNAVAILABLE, shell(&shell_, main))
}

/// The fields of a submitted form, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Fields(url::form_urlencoded::parse(body).into_owned().take(200).collect())
    }

    /// Fields as a reader other than [`Fields::parse`] found them (a multipart form's).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }

    /// Fields with these values, as a form that shows a stored record starts.
    pub fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        Fields(pairs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect())
    }

    /// A field's value, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.as_str())
    }

    /// Every value of a field that may repeat (checkboxes of one name).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.clone()).collect()
    }

    /// A field's value, trimmed, or `None` when absent or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim()).filter(|value| !value.is_empty()).map(str::to_owned)
    }
}

/// A form a signed-in person with at least `ROLE` submitted from a panel page: its CSRF token
/// matches the session's, or the request is refused before the handler runs.
#[derive(Debug)]
pub struct Form<const ROLE: u8> {
    pub person: SignedIn,
    pub lang: Lang,
    pub fields: Fields,
}

impl<const ROLE: u8> FromRequest<AppState> for Form<ROLE> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let AtLeast { person, lang } = AtLeast::<ROLE>::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields = Fields::parse(&bytes);
        if !same_secret(fields.get("csrf"), &person.session.csrf) {
            return Err(stale_form(lang, &person));
        }
        Ok(Form { person, lang, fields })
    }
}

fn stale_form(lang: Lang, person: &SignedIn) -> Response {
    let title = lang.pick("Formularz wygasł", "The form has expired");
    let main = html! {
        h1 { (title) }
        p {
            (lang.pick(
                "Ten formularz pochodzi z wcześniejszej sesji albo z innej strony. Nic nie zostało zmienione. \
                 Otwórz stronę ponownie i wyślij go jeszcze raz.",
                "This form comes from an earlier session or from another site. Nothing was changed. \
                 Open the page again and submit it once more.",
            ))
        }
        p { a href="/panel" { (lang.pick("Wróć do pulpitu", "Back to the dashboard")) } }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "" };
    page(StatusCode::FORBIDDEN, shell(&shell_, main))
}

/// Refuses any request that would change something unless it comes from the panel's own pages:
/// browsers say where a request comes from in `Sec-Fetch-Site` (and `Origin`), and a form
/// another site submits says `cross-site` there, with the session cookie or without. This holds
/// before any CSRF token is looked at, and for the sign-in steps that have no session yet.
///
/// A panel opened on a loopback address is sent to `localhost`, the name its passkeys belong to.
pub async fn same_origin(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let headers = request.headers();
    let lang = lang_of(headers);
    if let Some(redirect) = to_panel_host(&state, &request) {
        return redirect;
    }
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let cross_site = site.is_some_and(|site| site != "same-origin");
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let foreign_origin = origin.is_some_and(|origin| origin != state.accounts.panel_url);
        if cross_site || foreign_origin {
            tracing::warn!(site, origin, path = %request.uri().path(), "cross-site request to the panel refused");
            let title = lang.pick("Żądanie odrzucone", "Request refused");
            let main = html! {
                h1 { (title) }
                p {
                    (lang.pick(
                        "Zmiany w panelu można wysyłać tylko z jego własnych stron. Nic nie zostało zmienione.",
                        "Changes can be sent to the panel only from its own pages. Nothing was changed.",
                    ))
                }
            };
            let shell_ = Shell { lang, title: title.to_owned(), person: None, path: "" };
            return page(StatusCode::FORBIDDEN, shell(&shell_, main));
        }
    }
    next.run(request).await
}

/// A redirect from `127.0.0.1:PORT` (or `[::1]:PORT`) to the panel's `localhost:PORT`.
fn to_panel_host(state: &AppState, request: &Request<Body>) -> Option<Response> {
    let panel = state.accounts.panel_url.strip_prefix("http://")?;
    let panel_host = panel.split('/').next()?;
    if !panel_host.starts_with("localhost") {
        return None;
    }
    let host = request.headers().get(header::HOST)?.to_str().ok()?;
    let loopback = host.starts_with("127.") || host.starts_with("[::1]");
    if !loopback || request.method() != Method::GET {
        return None;
    }
    let path = request.uri().path_and_query().map_or("/panel", |pq| pq.as_str());
    Some(Redirect::temporary(&format!("{}{path}", state.accounts.panel_url)).into_response())
}

/// A page's query, read leniently: a malformed one counts as empty, so a bad link cannot turn a
/// page into an error.
#[derive(Debug, Clone, Default)]
pub struct Lenient<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> FromRequestParts<S> for Lenient<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lenient(axum::extract::Query::<T>::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default()))
    }
}
