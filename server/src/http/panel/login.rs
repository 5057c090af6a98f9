//! Getting in and out: enrolment from the link `zp user create` or an admin gave, sign-in with a
//! passkey or a recovery code, re-authentication before sensitive changes, sign-out, and the
//! language switch. Sign-in failures are throttled per client, like the admin API's, and logged.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Fields, Form, Lenient, Viewer, clear_session, lang_of, set_session, signed_in};
use super::{Shell, page, shell};
use crate::accounts::{AccountError, SignedIn, same_secret};
use crate::http::AppState;
use crate::http::pages::Lang;
use crate::http::rate_limit::client_of;

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a page of the panel, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with("/panel") && !next.contains("//") && !next.contains('\\') => {
            next.to_owned()
        }
        _ => "/panel".to_owned(),
    }
}

/// A JSON refusal the panel's script shows as it is.
fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": { "message": message } }))).into_response()
}

/// How an accounts error reads to the person, in their language.
fn said(err: &AccountError, lang: Lang) -> (StatusCode, String) {
    match err {
        AccountError::Refused(_) | AccountError::Passkey(_) => {
            tracing::warn!(error = %err, "panel sign-in step refused");
            let text = match err {
                AccountError::Passkey(crate::accounts::PasskeyError::Expired) => lang.pick(
                    "Ten krok wygasł albo został już użyty. Spróbuj jeszcze raz.",
                    "This step has expired or was already used. Please try again.",
                ),
                AccountError::Passkey(crate::accounts::PasskeyError::Unavailable) => lang.pick(
                    "Klucze dostępu wymagają nazwy domeny wystawcy (adres IP nie wystarcza).",
                    "Passkeys need the issuer to have a domain name (an IP address will not do).",
                ),
                _ => lang.pick(
                    "Logowanie nie powiodło się. Sprawdź adres e-mail i klucz dostępu albo kod.",
                    "Sign-in did not succeed. Check the e-mail address and the passkey or code.",
                ),
            };
            (StatusCode::UNAUTHORIZED, text.to_owned())
        }
        AccountError::Invalid { field, message } => {
            (StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {message}"))
        }
        other => {
            tracing::error!(error = %other, "panel sign-in failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                lang.pick("Rejestr chwilowo nie odpowiada.", "The registry is not answering right now.")
                    .to_owned(),
            )
        }
    }
}

/// Counts a sign-in attempt against the client's address; `Some(response)` when it must wait.
fn throttled(state: &AppState, parts_client: std::net::IpAddr, lang: Lang) -> Option<Response> {
    let wait = state.admin_throttle.attempt(parts_client, crate::clock::instant())?;
    tracing::warn!(client = %parts_client, retry_after = wait, "panel sign-in throttled");
    let message = format!(
        "{} {wait} s.",
        lang.pick(
            "Zbyt wiele nieudanych prób z tego adresu. Spróbuj ponownie za",
            "Too many failed attempts from this address. Try again in"
        )
    );
    let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, &message);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    Some(response)
}

/// The client's address, as the throttle counts it.
pub struct Client(std::net::IpAddr);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Client(client_of(&parts.extensions)))
    }
}

fn with_session(state: &AppState, secret: &str, mut response: Response) -> Response {
    response.headers_mut().append(header::SET_COOKIE, set_session(state, secret));
    response
}

/// The error paragraph a passkey form's script fills, and the note for browsers without scripts.
fn passkey_notes(lang: Lang) -> Markup {
    html! {
        p.error hidden tabindex="-1" {}
        noscript {
            p.hint {
                (lang.pick(
                    "Klucz dostępu wymaga włączonego JavaScriptu. Bez niego możesz zalogować się kodem odzyskiwania.",
                    "A passkey needs JavaScript. Without it you can sign in with a recovery code.",
                ))
            }
        }
    }
}

fn passkey_data(lang: Lang) -> (&'static str, &'static str) {
    (
        lang.pick("Nie udało się:", "It did not work:"),
        lang.pick("Ta przeglądarka nie obsługuje kluczy dostępu.", "This browser does not support passkeys."),
    )
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Lenient(next): Lenient<Next>,
) -> Response {
    let lang = lang_of(&headers);
    let next = safe_next(next.next.as_deref());
    if let Ok(Some(_)) = signed_in(&headers, &state).await {
        return Redirect::to(&next).into_response();
    }
    login_view(lang, &next, "", None, StatusCode::OK)
}

fn login_view(
    lang: Lang,
    next: &str,
    email: &str,
    recovery_error: Option<&str>,
    status: StatusCode,
) -> Response {
    let title = lang.pick("Logowanie do panelu", "Sign in to the panel");
    let (failed, unsupported) = passkey_data(lang);
    let main = html! {
        h1 { (title) }
        section aria-labelledby="with-passkey" {
            h2 #with-passkey { (lang.pick("Kluczem dostępu", "With a passkey")) }
            form.stack data-passkey="login" data-endpoint="/panel/login" data-failed=(failed) data-unsupported=(unsupported) {
                input type="hidden" name="next" value=(next);
                label for="login-email" { (lang.pick("Adres e-mail", "E-mail address")) }
                input #login-email type="email" name="email" required autocomplete="username webauthn";
                button type="submit" disabled { (lang.pick("Zaloguj kluczem dostępu", "Sign in with a passkey")) }
                (passkey_notes(lang))
            }
        }
        section aria-labelledby="with-code" {
            h2 #with-code { (lang.pick("Kodem odzyskiwania", "With a recovery code")) }
            p.hint {
                (lang.pick(
                    "Każdy kod działa jeden raz. Po zalogowaniu dodaj nowy klucz dostępu albo poproś administratora o nowy link.",
                    "Each code works once. Once signed in, ask an admin for a new enrolment link if your passkey is lost.",
                ))
            }
            form.stack method="post" action="/panel/login/recovery" {
                input type="hidden" name="next" value=(next);
                label for="code-email" { (lang.pick("Adres e-mail", "E-mail address")) }
                input #code-email type="email" name="email" value=(email) required autocomplete="username";
                label for="code" { (lang.pick("Kod odzyskiwania", "Recovery code")) }
                @if let Some(error) = recovery_error {
                    input #code type="text" name="code" required autocomplete="one-time-code" aria-invalid="true" aria-describedby="code-error";
                    p.error #code-error { (error) }
                } @else {
                    input #code type="text" name="code" required autocomplete="one-time-code";
                }
                button type="submit" { (lang.pick("Zaloguj kodem", "Sign in with the code")) }
            }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: None, path: "/panel/login" };
    page(status, shell(&shell_, main))
}

#[derive(Debug, Deserialize)]
pub struct Start {
    #[serde(default)]
    email: String,
}

pub async fn login_start(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Json(start): Json<Start>,
) -> Response {
    let lang = lang_of(&headers);
    if let Some(wait) = throttled(&state, client, lang) {
        return wait;
    }
    match state.accounts.start_login(&start.email, state.now()).await {
        Ok(ceremony) => Json(ceremony).into_response(),
        Err(err) => {
            let (status, message) = said(&err, lang);
            refusal(status, &message)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Finish {
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

pub async fn login_finish(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Json(finish): Json<Finish>,
) -> Response {
    let lang = lang_of(&headers);
    match state.accounts.finish_login(&finish.ceremony, &finish.credential, state.now()).await {
        Ok(secret) => {
            state.admin_throttle.succeeded(client);
            let next = safe_next(finish.next.as_deref());
            with_session(&state, &secret, Json(serde_json::json!({ "next": next })).into_response())
        }
        Err(err) => {
            let (status, message) = said(&err, lang);
            refusal(status, &message)
        }
    }
}

pub async fn recovery(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let fields = Fields::parse(&body);
    let next = safe_next(Some(fields.get("next")));
    if let Some(wait) = throttled(&state, client, lang) {
        let message = lang.pick(
            "Zbyt wiele nieudanych prób. Spróbuj ponownie później.",
            "Too many failed attempts. Try again later.",
        );
        let mut response =
            login_view(lang, &next, fields.get("email"), Some(message), StatusCode::TOO_MANY_REQUESTS);
        if let Some(retry) = wait.headers().get(header::RETRY_AFTER).cloned() {
            response.headers_mut().insert(header::RETRY_AFTER, retry);
        }
        return response;
    }
    match state.accounts.recovery_login(fields.get("email"), fields.get("code"), state.now()).await {
        Ok(secret) => {
            state.admin_throttle.succeeded(client);
            with_session(&state, &secret, Redirect::to(&next).into_response())
        }
        Err(err) => {
            let (status, message) = said(&err, lang);
            login_view(lang, &next, fields.get("email"), Some(&message), status)
        }
    }
}

pub async fn enrol_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(link): Path<String>,
) -> Response {
    let lang = lang_of(&headers);
    let title = lang.pick("Rejestracja klucza dostępu", "Register your passkey");
    let account = match state.accounts.enrolment_account(&link, state.now()).await {
        Ok(account) => account,
        Err(AccountError::Refused(_)) => {
            let main = html! {
                h1 { (lang.pick("Link jest nieaktualny", "This link no longer works")) }
                p {
                    (lang.pick(
                        "Link do rejestracji działa jeden raz i przez trzy dni. Poproś administratora o nowy.",
                        "An enrolment link works once, for three days. Ask an admin for a new one.",
                    ))
                }
                p { a href="/panel/login" { (lang.pick("Przejdź do logowania", "Go to sign-in")) } }
            };
            let shell_ = Shell { lang, title: title.to_owned(), person: None, path: "" };
            return page(StatusCode::GONE, shell(&shell_, main));
        }
        Err(err) => {
            tracing::error!(error = %err, "reading an enrolment link failed");
            return super::auth::unavailable(lang);
        }
    };
    let (failed, unsupported) = passkey_data(lang);
    let endpoint = format!("/panel/enrol/{link}");
    let main = html! {
        h1 { (title) }
        p {
            (lang.pick("Konto: ", "Account: ")) strong { bdi { (account.email) } }
            " (" (crate::accounts::Role::parse(&account.role).map_or("", |r| r.label(lang.is_pl()))) ")"
        }
        p {
            (lang.pick(
                "Klucz dostępu zastępuje hasło: to klucz zapisany w tym urządzeniu (albo w kluczu sprzętowym), \
                 odblokowywany odciskiem palca, twarzą lub PIN-em.",
                "A passkey replaces a password: a key kept on this device (or a security key), unlocked with \
                 your fingerprint, face or PIN.",
            ))
        }
        form.stack data-passkey="enrol" data-endpoint=(endpoint) data-failed=(failed) data-unsupported=(unsupported) {
            label for="passkey-name" { (lang.pick("Nazwa klucza (np. laptop służbowy)", "Name of the passkey (e.g. work laptop)")) }
            input #passkey-name type="text" name="name" maxlength="60" autocomplete="off";
            button type="submit" disabled { (lang.pick("Zarejestruj klucz dostępu", "Register the passkey")) }
            (passkey_notes(lang))
        }
        section #recovery-codes hidden aria-labelledby="codes-title" {
            h2 #codes-title tabindex="-1" { (lang.pick("Twoje kody odzyskiwania", "Your recovery codes")) }
            p.strong {
                (lang.pick(
                    "Zapisz je teraz w bezpiecznym miejscu: każdy pozwala zalogować się raz bez klucza dostępu. \
                     Nie zobaczysz ich ponownie.",
                    "Write them down somewhere safe now: each signs you in once without your passkey. \
                     You will not see them again.",
                ))
            }
            ol.codes {}
            p { a href="/panel" { (lang.pick("Przejdź do panelu", "Go to the panel")) } }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: None, path: "" };
    page(StatusCode::OK, shell(&shell_, main))
}

pub async fn enrol_start(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(link): Path<String>,
) -> Response {
    let lang = lang_of(&headers);
    if let Some(wait) = throttled(&state, client, lang) {
        return wait;
    }
    match state.accounts.start_enrolment(&link, state.now()).await {
        Ok(ceremony) => {
            state.admin_throttle.succeeded(client);
            Json(ceremony).into_response()
        }
        Err(err) => {
            let (status, message) = said(&err, lang);
            refusal(status, &message)
        }
    }
}

pub async fn enrol_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(link): Path<String>,
    Json(finish): Json<Finish>,
) -> Response {
    let lang = lang_of(&headers);
    let name = finish.name.as_deref().unwrap_or_default();
    match state
        .accounts
        .finish_enrolment(&link, &finish.ceremony, &finish.credential, name, state.now())
        .await
    {
        Ok((secret, codes)) => with_session(
            &state,
            &secret,
            Json(serde_json::json!({ "codes": codes, "next": "/panel" })).into_response(),
        ),
        Err(err) => {
            let (status, message) = said(&err, lang);
            refusal(status, &message)
        }
    }
}

pub async fn reauth_page(Viewer { person, lang }: Viewer, Lenient(next): Lenient<Next>) -> Response {
    let next = safe_next(next.next.as_deref());
    let title = lang.pick("Potwierdź, że to Ty", "Confirm it is you");
    let (failed, unsupported) = passkey_data(lang);
    let main = html! {
        h1 { (title) }
        p {
            (lang.pick(
                "Unieważnienie certyfikatu, zmiany kont i rotacja kluczy wymagają potwierdzenia kluczem dostępu \
                 w ciągu ostatnich 5 minut.",
                "Revocation, account changes and key rotation need your passkey within the last 5 minutes.",
            ))
        }
        form.stack data-passkey="reauth" data-endpoint="/panel/reauth" data-csrf=(person.session.csrf)
            data-failed=(failed) data-unsupported=(unsupported) {
            input type="hidden" name="next" value=(next);
            button type="submit" disabled { (lang.pick("Potwierdź kluczem dostępu", "Confirm with the passkey")) }
            (passkey_notes(lang))
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "" };
    page(StatusCode::OK, shell(&shell_, main))
}

/// The script's CSRF header matches the session's token.
fn csrf_header_ok(headers: &HeaderMap, person: &SignedIn) -> bool {
    headers
        .get("x-csrf-token")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|token| same_secret(token, &person.session.csrf))
}

pub async fn reauth_start(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    headers: HeaderMap,
) -> Response {
    if !csrf_header_ok(&headers, &person) {
        return refusal(StatusCode::FORBIDDEN, lang.pick("Formularz wygasł.", "The form has expired."));
    }
    match state.accounts.start_reauth(&person, state.now()).await {
        Ok(ceremony) => Json(ceremony).into_response(),
        Err(err) => {
            let (status, message) = said(&err, lang);
            refusal(status, &message)
        }
    }
}

pub async fn reauth_finish(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    headers: HeaderMap,
    Json(finish): Json<Finish>,
) -> Response {
    if !csrf_header_ok(&headers, &person) {
        return refusal(StatusCode::FORBIDDEN, lang.pick("Formularz wygasł.", "The form has expired."));
    }
    match state.accounts.finish_reauth(&person, &finish.ceremony, &finish.credential, state.now()).await {
        Ok(()) => Json(serde_json::json!({ "next": safe_next(finish.next.as_deref()) })).into_response(),
        Err(err) => {
            let (status, message) = said(&err, lang);
            refusal(status, &message)
        }
    }
}

pub async fn logout(State(state): State<AppState>, form: Form<0>) -> Response {
    if let Err(err) = state.accounts.logout(&form.person).await {
        tracing::error!(error = %err, "ending a panel session failed");
    }
    let mut response = Redirect::to("/panel/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, clear_session(&state));
    response
}

pub async fn set_lang(Path(code): Path<String>, Lenient(next): Lenient<Next>) -> Response {
    let code = if code == "en" { "en" } else { "pl" };
    let mut response = Redirect::to(&safe_next(next.next.as_deref())).into_response();
    let cookie = format!("zp_lang={code}; Path=/panel; Max-Age=31536000; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
