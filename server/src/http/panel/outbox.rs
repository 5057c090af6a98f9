//! The mail outbox: every letter the issuer wrote (reminders, digests, …) with its state, for
//! everyone to read; staff can send a failed or sent letter again. A letter whose link is a
//! secret (a single-use sign-in link) never shows that link here, except in the demo.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Form, Lenient, Viewer};
use super::{Shell, page, shell};
use crate::accounts::{Role, SignedIn};
use crate::http::AppState;
use crate::http::pages::Lang;
use crate::mail::{FAILED, PENDING, ResendError, SENT, compose};
use crate::store::OutboxRecord;

/// Letters listed per page.
const ROWS: u32 = 100;

#[derive(Debug, Default, Deserialize)]
pub struct OutboxQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: u32,
    #[serde(default)]
    done: Option<String>,
}

fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map_or_else(String::new, |at| at.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn state_label(lang: Lang, state: &str) -> &'static str {
    match state {
        PENDING => lang.pick("czeka", "pending"),
        SENT => lang.pick("wysłana", "sent"),
        FAILED => lang.pick("nieudana", "failed"),
        _ => lang.pick("nieznany", "unknown"),
    }
}

pub async fn outbox(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Lenient(query): Lenient<OutboxQuery>,
) -> Response {
    let store = state.issuer.store.as_ref();
    let filter = [PENDING, SENT, FAILED].into_iter().find(|s| *s == query.state);
    let offset = query.page.saturating_mul(ROWS);
    let (Ok(letters), Ok(counts)) =
        (store.letters(filter, ROWS + 1, offset).await, store.letter_counts().await)
    else {
        return super::auth::unavailable(lang);
    };
    let more = letters.len() > ROWS as usize;
    let letters: Vec<OutboxRecord> = letters.into_iter().take(ROWS as usize).collect();
    let count = |s: &str| counts.iter().find(|(state, _)| state == s).map_or(0, |(_, n)| *n);
    let title = lang.pick("Poczta wychodząca", "Outbox");
    let link = |state: &str, page: u32| {
        let mut href = "/panel/outbox".to_owned();
        let mut params = Vec::new();
        if !state.is_empty() {
            params.push(format!("state={state}"));
        }
        if page > 0 {
            params.push(format!("page={page}"));
        }
        if !params.is_empty() {
            href.push('?');
            href.push_str(&params.join("&"));
        }
        href
    };
    let current = filter.unwrap_or("");
    let main = html! {
        h1 { (title) }
        @if query.done.as_deref() == Some("resent") {
            p.notice role="status" { (lang.pick("Wiadomość dodana do wysłania ponownie.", "The letter is queued to be sent again.")) }
        }
        p {
            (lang.pick(
                "Wiadomości czekają tu, aż serwer SMTP je przyjmie; bez skonfigurowanego serwera (--smtp-url) pozostają w stanie „czeka”.",
                "Letters wait here until the SMTP server accepts them; without a configured server (--smtp-url) they stay pending.",
            ))
        }
        nav aria-label=(lang.pick("Filtr stanu", "State filter")) {
            ul.filters-states {
                @for (state, label) in [("", lang.pick("wszystkie", "all")), (PENDING, state_label(lang, PENDING)), (SENT, state_label(lang, SENT)), (FAILED, state_label(lang, FAILED))] {
                    li {
                        @let text = if state.is_empty() { label.to_owned() } else { format!("{label} ({})", count(state)) };
                        @if state == current {
                            a href=(link(state, 0)) aria-current="page" { (text) }
                        } @else {
                            a href=(link(state, 0)) { (text) }
                        }
                    }
                }
            }
        }
        @if letters.is_empty() {
            p { (lang.pick("Brak wiadomości.", "No letters.")) }
        } @else {
            div.table-wrap tabindex="0" role="region" aria-label=(lang.pick("Wiadomości (tabela przewijana)", "Letters (scrollable table)")) {
                table {
                    thead { tr {
                        th scope="col" { "#" }
                        th scope="col" { (lang.pick("Rodzaj", "Kind")) }
                        th scope="col" { (lang.pick("Do", "To")) }
                        th scope="col" { (lang.pick("Temat", "Subject")) }
                        th scope="col" { (lang.pick("Stan", "State")) }
                        th scope="col" { (lang.pick("Próby", "Attempts")) }
                        th scope="col" { (lang.pick("Ostatni błąd", "Last error")) }
                        th scope="col" { (lang.pick("Utworzona", "Created")) }
                        th scope="col" { (lang.pick("Wysłana / następna próba", "Sent / next attempt")) }
                    } }
                    tbody {
                        @for letter in &letters {
                            tr {
                                td { a href=(format!("/panel/outbox/{}", letter.id)) { (letter.id) } }
                                td { code { (letter.kind) } }
                                td { bdi { (letter.to_addr) } }
                                td { a href=(format!("/panel/outbox/{}", letter.id)) { bdi { (letter.subject) } } }
                                td { (state_label(lang, &letter.state)) }
                                td { (letter.attempts) }
                                td { @if let Some(error) = &letter.last_error { bdi { (error) } } }
                                td { (when(letter.created_at)) }
                                td {
                                    @if let Some(at) = letter.sent_at { (when(at)) }
                                    @else if letter.state == PENDING { (when(letter.due_at)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if query.page > 0 || more {
            nav aria-label=(lang.pick("Strony", "Pages")) {
                ul.filters-states {
                    @if query.page > 0 { li { a href=(link(current, query.page - 1)) { (lang.pick("Nowsze", "Newer")) } } }
                    @if more { li { a href=(link(current, query.page + 1)) { (lang.pick("Starsze", "Older")) } } }
                }
            }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "/panel/outbox" };
    page(StatusCode::OK, shell(&shell_, main))
}

fn not_found(lang: Lang, person: &SignedIn) -> Response {
    let title = lang.pick("Nie ma takiej wiadomości", "No such letter");
    let main = html! {
        h1 { (title) }
        p { a href="/panel/outbox" { (lang.pick("Wróć do poczty wychodzącej", "Back to the outbox")) } }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "" };
    page(StatusCode::NOT_FOUND, shell(&shell_, main))
}

pub async fn letter(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Viewer { person, lang }: Viewer,
) -> Response {
    let Ok(id) = id.parse::<i64>() else { return not_found(lang, &person) };
    match state.issuer.store.letter(id).await {
        Ok(Some(letter)) => letter_page(&state, &person, lang, &letter, None, StatusCode::OK),
        Ok(None) => not_found(lang, &person),
        Err(_) => super::auth::unavailable(lang),
    }
}

fn letter_page(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    letter: &OutboxRecord,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let paragraphs = compose::paragraphs(letter).unwrap_or_default();
    // A secret link (a single-use sign-in link) is for its recipient alone; the demo shows it, as
    // there is no mail to read it in.
    let hidden = letter.private_link != 0 && !state.demo;
    let title = format!("{} #{}", lang.pick("Wiadomość", "Letter"), letter.id);
    let dl: Markup = html! {
        dl.facts {
            dt { (lang.pick("Rodzaj", "Kind")) } dd { code { (letter.kind) } }
            dt { (lang.pick("Do", "To")) } dd {
                @if let Some(name) = &letter.to_name { bdi { (name) } " " }
                "<" bdi { (letter.to_addr) } ">"
            }
            dt { (lang.pick("Temat", "Subject")) } dd { bdi { (letter.subject) } }
            dt { (lang.pick("Stan", "State")) } dd { (state_label(lang, &letter.state)) }
            dt { (lang.pick("Próby", "Attempts")) } dd { (letter.attempts) }
            @if let Some(error) = &letter.last_error { dt { (lang.pick("Ostatni błąd", "Last error")) } dd { bdi { (error) } } }
            dt { (lang.pick("Utworzona", "Created")) } dd { (when(letter.created_at)) }
            @if let Some(at) = letter.sent_at { dt { (lang.pick("Wysłana", "Sent")) } dd { (when(at)) } }
            @if letter.state == PENDING { dt { (lang.pick("Następna próba", "Next attempt")) } dd { (when(letter.due_at)) } }
            dt { "Message-ID" } dd { code { (letter.message_id) } }
            @if let Some(from) = letter.resent_from {
                dt { (lang.pick("Ponowienie wiadomości", "Sends again letter")) } dd { a href=(format!("/panel/outbox/{from}")) { "#" (from) } }
            }
        }
    };
    let main = html! {
        h1 { (title) }
        @if let Some(error) = error { div.error-summary role="alert" { p { (error) } } }
        (dl)
        section aria-labelledby="letter-text" {
            h2 #letter-text { (lang.pick("Treść", "Text")) }
            div.letter lang="pl" {
                @for paragraph in &paragraphs {
                    p { @for (i, line) in paragraph.lines().enumerate() { @if i > 0 { br; } (line) } }
                }
                @if let (Some(label), Some(url)) = (&letter.link_label, &letter.link_url) {
                    p {
                        (label) ": "
                        @if hidden {
                            em { (lang.pick("[link poufny — widzi go tylko adresat]", "[private link — only its recipient sees it]")) }
                        } @else {
                            a href=(url) { (url) }
                        }
                    }
                }
            }
        }
        @if person.role >= Role::Staff && letter.state != PENDING {
            form.stack method="post" action=(format!("/panel/outbox/{}/resend", letter.id)) {
                input type="hidden" name="csrf" value=(person.session.csrf);
                button type="submit" { (lang.pick("Wyślij ponownie", "Send again")) }
            }
        }
        p { a href="/panel/outbox" { (lang.pick("Wróć do poczty wychodzącej", "Back to the outbox")) } }
    };
    let shell_ = Shell { lang, title, person: Some(person), path: "/panel/outbox" };
    page(status, shell(&shell_, main))
}

pub async fn resend(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let Form { person, lang, .. } = form;
    let Ok(id) = id.parse::<i64>() else { return not_found(lang, &person) };
    let store = state.issuer.store.as_ref();
    match crate::mail::resend(store, &person.actor(), id, state.now()).await {
        Ok(_) => {
            state.outbox.wake();
            Redirect::to("/panel/outbox?done=resent").into_response()
        }
        Err(ResendError::NotFound(_)) => not_found(lang, &person),
        Err(ResendError::Pending(_)) => match store.letter(id).await {
            Ok(Some(letter)) => letter_page(
                &state,
                &person,
                lang,
                &letter,
                Some(lang.pick(
                    "Ta wiadomość jeszcze czeka na wysłanie; ponowienie nie jest potrzebne.",
                    "This letter is still waiting to be sent; there is nothing to send again.",
                )),
                StatusCode::CONFLICT,
            ),
            _ => super::auth::unavailable(lang),
        },
        Err(ResendError::Store(err)) => {
            tracing::error!(error = %err, "resending a letter failed");
            super::auth::unavailable(lang)
        }
    }
}
