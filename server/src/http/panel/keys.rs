//! Keys, for admins: the admin API's keys (made with the secret shown once, revoked at once) and
//! the signing key's rotation, planned (the next key published now, signing once cached key sets
//! have expired) or at once in an emergency. Both need a passkey check within five minutes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::auth::{Admin, Form, Lenient};
use super::{Shell, page, shell};
use crate::accounts::SignedIn;
use crate::http::AppState;
use crate::http::pages::{Lang, encode_component};
use crate::issuer::{IssuerError, KeyRotation, format_date};
use crate::keys::Activation;

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// What a successful change shows once: a new API key's secret, or the rotation's outcome.
enum Shown {
    Secret { name: String, secret: String },
    Rotation(KeyRotation),
}

pub async fn keys(
    State(state): State<AppState>,
    Admin { person, lang }: Admin,
    Lenient(query): Lenient<Done>,
) -> Response {
    keys_page(&state, &person, lang, query.done.as_deref(), None, None, StatusCode::OK).await
}

async fn keys_page(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    done: Option<&str>,
    shown: Option<Shown>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let now = state.now();
    let (Ok(api_keys), Ok(published), Ok(people)) =
        (state.issuer.store.api_keys().await, state.issuer.jwks(now).await, state.accounts.list().await)
    else {
        return super::auth::unavailable(lang);
    };
    let owner_of = |key: &crate::store::ApiKeyRecord| match &key.account_id {
        Some(id) => people.iter().find(|p| &p.id == id).map_or_else(|| id.clone(), |p| p.email.clone()),
        None => lang.pick("wiersz poleceń (administrator)", "command line (admin)").to_owned(),
    };
    let confirmed = person.recently_authenticated(now, &state.accounts.timeouts);
    let title = lang.pick("Klucze", "Keys");
    let main = html! {
        h1 { (title) }
        @if done == Some("revoked") { p.notice role="status" { (lang.pick("Klucz API unieważniony.", "API key revoked.")) } }
        @if let Some(error) = &error { div.error-summary role="alert" { p { (error) } } }
        @match &shown {
            Some(Shown::Secret { name, secret }) => div.notice role="status" {
                p { (lang.pick("Nowy klucz API „", "New API key “")) bdi { (name) } (lang.pick("”. Skopiuj go teraz: nie zostanie pokazany ponownie.", "”. Copy it now: it will not be shown again.")) }
                pre.snippet { (secret) }
            },
            Some(Shown::Rotation(rotation)) => div.notice role="status" {
                p {
                    (lang.pick("Nowy klucz podpisu ", "New signing key ")) code { (rotation.kid) }
                    (lang.pick(" jest już opublikowany; podpisuje od ", " is published now; it signs from "))
                    (chrono::DateTime::from_timestamp(rotation.active_from, 0).map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()))
                    "."
                }
            },
            None => {},
        }
        @if !confirmed {
            p {
                (lang.pick("Zmiany kluczy wymagają potwierdzenia kluczem dostępu. ", "Key changes need your passkey first. "))
                a href=(format!("/panel/reauth?next={}", encode_component("/panel/keys"))) { (lang.pick("Potwierdź", "Confirm")) }
            }
        }
        section aria-labelledby="api-keys" {
            h2 #api-keys { (lang.pick("Klucze API administratora", "Admin API keys")) }
            div.table-wrap tabindex="0" role="region" aria-label=(lang.pick("Klucze API", "API keys")) {
                table {
                    thead { tr {
                        th scope="col" { (lang.pick("Nazwa", "Name")) }
                        th scope="col" { (lang.pick("Działa w imieniu", "Acts for")) }
                        th scope="col" { (lang.pick("Utworzony", "Created")) }
                        th scope="col" { (lang.pick("Stan", "Status")) }
                    } }
                    tbody {
                        @for key in &api_keys {
                            tr {
                                td { bdi { (key.name) } " " code { (key.id) } }
                                td { bdi { (owner_of(key)) } }
                                td { (format_date(key.created_at)) }
                                td {
                                    @if let Some(at) = key.revoked_at {
                                        (lang.pick("unieważniony ", "revoked ")) (format_date(at))
                                    } @else if confirmed {
                                        form.inline method="post" action=(format!("/panel/keys/api/{}/revoke", key.id)) {
                                            input type="hidden" name="csrf" value=(person.session.csrf);
                                            button.danger type="submit" { (lang.pick("Unieważnij", "Revoke")) span.visually-hidden { " " (key.name) } }
                                        }
                                    } @else {
                                        (lang.pick("aktywny", "active"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if confirmed {
                form.stack method="post" action="/panel/keys/api" {
                    input type="hidden" name="csrf" value=(person.session.csrf);
                    div.field {
                        label for="f-key-name" { (lang.pick("Kto lub co będzie go używać (np. system OWES)", "Who or what will use it (e.g. a support centre's system)")) }
                        input #f-key-name type="text" name="name" maxlength="100" required;
                    }
                    div.field {
                        label for="f-owner" { (lang.pick("Działa w imieniu osoby (z jej rolą)", "Acts for the person (with their role)")) }
                        select #f-owner name="owner" {
                            @for account in people.iter().filter(|a| a.disabled_at.is_none()) {
                                option value=(account.id) selected[account.id == person.account.id] { (account.email) }
                            }
                        }
                    }
                    button type="submit" { (lang.pick("Utwórz klucz API", "Create an API key")) }
                }
            }
        }
        section aria-labelledby="signing" {
            h2 #signing { (lang.pick("Klucze podpisu certyfikatów", "Certificate signing keys")) }
            p { (lang.pick("Opublikowane teraz (JWKS): ", "Published now (JWKS): ")) }
            ul { @for key in &published.keys { li { code { (key.kid) } } } }
            @if confirmed {
                form.stack method="post" action="/panel/keys/rotate" {
                    input type="hidden" name="csrf" value=(person.session.csrf);
                    div.check {
                        input #f-now type="checkbox" name="now" value="1";
                        label for="f-now" {
                            (lang.pick(
                                "Natychmiast (tylko gdy klucz wyciekł: weryfikatory z kluczami w pamięci podręcznej do 5 minut nie potwierdzą nowych certyfikatów)",
                                "At once (only when the key has leaked: verifiers with cached keys cannot confirm new certificates for up to 5 minutes)",
                            ))
                        }
                    }
                    button type="submit" { (lang.pick("Wymień klucz podpisu", "Rotate the signing key")) }
                }
            }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "/panel/keys" };
    page(status, shell(&shell_, main))
}

/// A key change by a person who confirmed with the passkey recently; else to the confirmation.
fn needs_reauth(state: &AppState, person: &SignedIn) -> Option<Response> {
    (!person.recently_authenticated(state.now(), &state.accounts.timeouts)).then(|| {
        Redirect::to(&format!("/panel/reauth?next={}", encode_component("/panel/keys"))).into_response()
    })
}

fn issuer_error(err: &IssuerError, lang: Lang) -> (StatusCode, String) {
    match err {
        IssuerError::Invalid { field, message } => {
            (StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {message}"))
        }
        IssuerError::NotFound { .. } => {
            (StatusCode::NOT_FOUND, lang.pick("Nie ma takiego klucza.", "No such key.").to_owned())
        }
        other => {
            tracing::error!(error = %other, "key change failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                lang.pick("Rejestr chwilowo nie odpowiada.", "The registry is not answering.").to_owned(),
            )
        }
    }
}

pub async fn create_api_key(State(state): State<AppState>, form: Form<2>) -> Response {
    let Form { person, lang, fields } = form;
    if let Some(redirect) = needs_reauth(&state, &person) {
        return redirect;
    }
    let owner = match state.accounts.get(fields.get("owner")).await {
        Ok(owner) if owner.disabled_at.is_none() => owner,
        _ => {
            let message =
                format!("owner: {}", lang.pick("wybierz osobę z listy", "choose a person from the list"));
            return keys_page(
                &state,
                &person,
                lang,
                None,
                None,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match state
        .issuer
        .create_api_key_for(&person.actor(), fields.get("name"), Some(&owner.id), state.now())
        .await
    {
        Ok((record, secret)) => {
            let shown = Shown::Secret { name: record.name, secret };
            keys_page(&state, &person, lang, None, Some(shown), None, StatusCode::OK).await
        }
        Err(err) => {
            let (status, message) = issuer_error(&err, lang);
            keys_page(&state, &person, lang, None, None, Some(message), status).await
        }
    }
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: Form<2>,
) -> Response {
    let Form { person, lang, .. } = form;
    if let Some(redirect) = needs_reauth(&state, &person) {
        return redirect;
    }
    match state.issuer.revoke_api_key(&person.actor(), &id, state.now()).await {
        Ok(()) => Redirect::to("/panel/keys?done=revoked").into_response(),
        Err(err) => {
            let (status, message) = issuer_error(&err, lang);
            keys_page(&state, &person, lang, None, None, Some(message), status).await
        }
    }
}

pub async fn rotate(State(state): State<AppState>, form: Form<2>) -> Response {
    let Form { person, lang, fields } = form;
    if let Some(redirect) = needs_reauth(&state, &person) {
        return redirect;
    }
    let activation = if fields.get("now") == "1" { Activation::Now } else { Activation::AfterCaches };
    match state.issuer.rotate_key(&person.actor(), activation, state.now()).await {
        Ok(rotation) => {
            keys_page(&state, &person, lang, None, Some(Shown::Rotation(rotation)), None, StatusCode::OK)
                .await
        }
        Err(err) => {
            let (status, message) = issuer_error(&err, lang);
            keys_page(&state, &person, lang, None, None, Some(message), status).await
        }
    }
}
