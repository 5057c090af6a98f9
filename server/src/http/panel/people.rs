//! People and their traces: accounts (invite, change role, disable, enable, a new enrolment
//! link), the signed-in person's own page with fresh recovery codes, and the audit log with its
//! filters and chain check. Account changes need a passkey check within the last five minutes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Admin, Form, Lenient, Viewer};
use super::{Shell, notice, page, shell};
use crate::accounts::{AccountError, Invitation, Role, SignedIn};
use crate::audit::{ChainCheck, ChainVerifier};
use crate::http::AppState;
use crate::http::pages::{Lang, encode_component};
use crate::issuer::format_date;
use crate::store::{AccountRecord, AuditRecord};

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

fn instant(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// The reauthentication page, coming back to `back` after.
fn reauth_first(back: &str) -> Response {
    Redirect::to(&format!("/panel/reauth?next={}", encode_component(back))).into_response()
}

pub async fn accounts(
    State(state): State<AppState>,
    Admin { person, lang }: Admin,
    Lenient(query): Lenient<Done>,
) -> Response {
    accounts_page(&state, &person, lang, query.done.as_deref(), None, None, StatusCode::OK).await
}

async fn accounts_page(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    done: Option<&str>,
    invitation: Option<&Invitation>,
    error: Option<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let Ok(list) = state.accounts.list().await else {
        return super::auth::unavailable(lang);
    };
    let confirmed = person.recently_authenticated(state.now(), &state.accounts.timeouts);
    let title = lang.pick("Konta", "Accounts");
    let main = html! {
        h1 { (title) }
        (notice(lang, done))
        @if let Some(invitation) = invitation {
            div.notice role="status" {
                p {
                    (lang.pick("Link do rejestracji dla ", "Enrolment link for ")) strong { bdi { (invitation.email) } }
                    (lang.pick(" (działa raz, przez trzy dni; przekaż go tej osobie):", " (works once, for three days; give it to this person):"))
                }
                pre.snippet { (invitation.enrolment_url) }
            }
        }
        div.table-wrap tabindex="0" role="region" aria-label=(lang.pick("Tabela (przewijana)", "Table (scrollable)")) {
            table {
                thead { tr {
                    th scope="col" { (lang.pick("E-mail", "E-mail")) }
                    th scope="col" { (lang.pick("Imię i nazwisko", "Name")) }
                    th scope="col" { (lang.pick("Rola", "Role")) }
                    th scope="col" { (lang.pick("Stan", "Status")) }
                    @if confirmed { th scope="col" { (lang.pick("Zmiany", "Changes")) } }
                } }
                tbody {
                    @for account in &list {
                        (account_row(account, person, lang, confirmed))
                    }
                }
            }
        }
        section aria-labelledby="invite" {
            h2 #invite { (lang.pick("Zaproś osobę", "Invite a person")) }
            @if confirmed {
                form.stack method="post" action="/panel/accounts" novalidate {
                    input type="hidden" name="csrf" value=(person.session.csrf);
                    div.field {
                        label for="f-email" { (lang.pick("Adres e-mail", "E-mail address")) }
                        @if let Some(("email", message)) = error.as_ref().map(|(f, m)| (*f, m)) {
                            input #f-email type="email" name="email" required aria-invalid="true" aria-describedby="f-email-error";
                            p.error #f-email-error { (message) }
                        } @else {
                            input #f-email type="email" name="email" required;
                        }
                    }
                    div.field {
                        label for="f-name" { (lang.pick("Imię i nazwisko", "Name")) }
                        input #f-name type="text" name="name" maxlength="200";
                    }
                    div.field {
                        label for="f-role" { (lang.pick("Rola", "Role")) }
                        select #f-role name="role" {
                            @for role in Role::ALL { option value=(role.as_str()) { (role.label(lang.is_pl())) } }
                        }
                    }
                    button type="submit" { (lang.pick("Utwórz konto i link", "Create the account and link")) }
                }
            } @else {
                p {
                    (lang.pick("Zmiany kont wymagają potwierdzenia kluczem dostępu. ", "Account changes need your passkey first. "))
                    a href="/panel/reauth?next=%2Fpanel%2Faccounts" { (lang.pick("Potwierdź", "Confirm")) }
                }
            }
            @if let Some((field, message)) = error.as_ref().filter(|(f, _)| *f != "email") {
                p.error role="alert" { (field) ": " (message) }
            }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "/panel/accounts" };
    page(status, shell(&shell_, main))
}

fn account_row(account: &AccountRecord, person: &SignedIn, lang: Lang, confirmed: bool) -> Markup {
    let base = format!("/panel/accounts/{}", account.id);
    let role = Role::parse(&account.role).unwrap_or(Role::Viewer);
    html! {
        tr {
            td { bdi { (account.email) } }
            td { bdi { (account.name) } }
            td { (role.label(lang.is_pl())) }
            td {
                @if let Some(at) = account.disabled_at {
                    (lang.pick("wyłączone od ", "disabled since ")) (format_date(at))
                } @else { (lang.pick("aktywne", "enabled")) }
            }
            @if confirmed {
                td {
                    @if account.id != person.account.id {
                        form.inline method="post" action=(format!("{base}/role")) {
                            input type="hidden" name="csrf" value=(person.session.csrf);
                            label.visually-hidden for=(format!("role-{}", account.id)) { (lang.pick("Nowa rola dla ", "New role for ")) (account.email) }
                            select id=(format!("role-{}", account.id)) name="role" {
                                @for option in Role::ALL { option value=(option.as_str()) selected[option == role] { (option.label(lang.is_pl())) } }
                            }
                            button type="submit" { (lang.pick("Zmień rolę", "Change role")) }
                        }
                        @if account.disabled_at.is_some() {
                            form.inline method="post" action=(format!("{base}/enable")) {
                                input type="hidden" name="csrf" value=(person.session.csrf);
                                button type="submit" { (lang.pick("Włącz", "Enable")) span.visually-hidden { " " (account.email) } }
                            }
                        } @else {
                            form.inline method="post" action=(format!("{base}/disable")) {
                                input type="hidden" name="csrf" value=(person.session.csrf);
                                button.danger type="submit" { (lang.pick("Wyłącz", "Disable")) span.visually-hidden { " " (account.email) } }
                            }
                        }
                    }
                    form.inline method="post" action=(format!("{base}/enrol")) {
                        input type="hidden" name="csrf" value=(person.session.csrf);
                        button type="submit" { (lang.pick("Nowy link", "New link")) span.visually-hidden { " " (account.email) } }
                    }
                }
            }
        }
    }
}

/// An account change: it needs a recent passkey check, then shows the accounts page again.
async fn account_change(
    state: &AppState,
    form: Form<2>,
    run: impl AsyncFnOnce(&AppState, &SignedIn) -> Result<Option<Invitation>, AccountError>,
) -> Response {
    let Form { person, lang, .. } = form;
    if !person.recently_authenticated(state.now(), &state.accounts.timeouts) {
        return reauth_first("/panel/accounts");
    }
    match run(state, &person).await {
        Ok(None) => Redirect::to("/panel/accounts?done=changed").into_response(),
        Ok(Some(invitation)) => {
            accounts_page(state, &person, lang, None, Some(&invitation), None, StatusCode::OK).await
        }
        Err(AccountError::Invalid { field, message }) => {
            accounts_page(
                state,
                &person,
                lang,
                None,
                None,
                Some((field, message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AccountError::Conflict(message)) => {
            accounts_page(state, &person, lang, None, None, Some(("account", message)), StatusCode::CONFLICT)
                .await
        }
        Err(AccountError::NotFound(id)) => {
            let message = format!("{id}: {}", lang.pick("nie ma takiego konta", "no such account"));
            accounts_page(state, &person, lang, None, None, Some(("account", message)), StatusCode::NOT_FOUND)
                .await
        }
        Err(err) => {
            tracing::error!(error = %err, "account change failed");
            super::auth::unavailable(lang)
        }
    }
}

pub async fn invite(State(state): State<AppState>, form: Form<2>) -> Response {
    let email = form.fields.get("email").to_owned();
    let name = form.fields.optional("name");
    let role = Role::parse(form.fields.get("role"));
    account_change(&state, form, async |state, person| {
        let role = role.ok_or(AccountError::Invalid {
            field: "role",
            message: "choose viewer, staff or admin".into(),
        })?;
        let invitation =
            state.accounts.create(&person.actor(), &email, name.as_deref(), role, state.now()).await?;
        Ok(Some(invitation))
    })
    .await
}

pub async fn set_role(State(state): State<AppState>, Path(id): Path<String>, form: Form<2>) -> Response {
    let role = Role::parse(form.fields.get("role"));
    account_change(&state, form, async |state, person| {
        let role = role.ok_or(AccountError::Invalid {
            field: "role",
            message: "choose viewer, staff or admin".into(),
        })?;
        state.accounts.set_role(&person.actor(), &id, role, state.now()).await?;
        Ok(None)
    })
    .await
}

pub async fn disable(State(state): State<AppState>, Path(id): Path<String>, form: Form<2>) -> Response {
    account_change(&state, form, async |state, person| {
        state.accounts.set_disabled(&person.actor(), &id, true, state.now()).await?;
        Ok(None)
    })
    .await
}

pub async fn enable(State(state): State<AppState>, Path(id): Path<String>, form: Form<2>) -> Response {
    account_change(&state, form, async |state, person| {
        state.accounts.set_disabled(&person.actor(), &id, false, state.now()).await?;
        Ok(None)
    })
    .await
}

pub async fn reenrol(State(state): State<AppState>, Path(id): Path<String>, form: Form<2>) -> Response {
    account_change(&state, form, async |state, person| {
        Ok(Some(state.accounts.reenrol(&person.actor(), &id, state.now()).await?))
    })
    .await
}

pub async fn me(State(state): State<AppState>, Viewer { person, lang }: Viewer) -> Response {
    me_page(&state, &person, lang, None).await
}

async fn me_page(state: &AppState, person: &SignedIn, lang: Lang, codes: Option<Vec<String>>) -> Response {
    let passkeys = state.accounts.stored_passkeys(&person.account.id).await;
    let left = state.accounts.store.recovery_codes_left(&person.account.id).await;
    let (Ok(passkeys), Ok(left)) = (passkeys, left) else {
        return super::auth::unavailable(lang);
    };
    let title = lang.pick("Moje konto", "My account");
    let main = html! {
        h1 { (title) }
        dl.facts {
            dt { (lang.pick("E-mail", "E-mail")) } dd { bdi { (person.account.email) } }
            dt { (lang.pick("Rola", "Role")) } dd { (person.role.label(lang.is_pl())) }
            dt { (lang.pick("Pozostałe kody odzyskiwania", "Recovery codes left")) } dd { (left) }
        }
        h2 { (lang.pick("Klucze dostępu", "Passkeys")) }
        ul {
            @for (record, _) in &passkeys {
                li {
                    bdi { (record.name) } " — " (lang.pick("dodany ", "added ")) (format_date(record.created_at))
                    @if let Some(used) = record.last_used_at { ", " (lang.pick("ostatnio użyty ", "last used ")) (instant(used)) }
                }
            }
        }
        @if let Some(codes) = codes {
            section aria-labelledby="new-codes" {
                h2 #new-codes { (lang.pick("Nowe kody odzyskiwania", "New recovery codes")) }
                p.strong { (lang.pick("Zapisz je teraz; poprzednie przestały działać.", "Write them down now; the earlier ones no longer work.")) }
                ol.codes { @for code in &codes { li { (code) } } }
            }
        } @else {
            form.stack method="post" action="/panel/me/recovery-codes" {
                input type="hidden" name="csrf" value=(person.session.csrf);
                button type="submit" { (lang.pick("Wygeneruj nowe kody odzyskiwania", "Make new recovery codes")) }
            }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "/panel/me" };
    page(StatusCode::OK, shell(&shell_, main))
}

pub async fn recovery_codes(State(state): State<AppState>, form: Form<0>) -> Response {
    let Form { person, lang, .. } = form;
    if !person.recently_authenticated(state.now(), &state.accounts.timeouts) {
        return reauth_first("/panel/me");
    }
    match state.accounts.renew_recovery_codes(&person, state.now()).await {
        Ok(codes) => me_page(&state, &person, lang, Some(codes)).await,
        Err(err) => {
            tracing::error!(error = %err, "renewing recovery codes failed");
            super::auth::unavailable(lang)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    person: String,
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Newest entries shown at most, after the filters.
const AUDIT_ROWS: usize = 200;

pub async fn audit(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Lenient(query): Lenient<AuditQuery>,
) -> Response {
    let store = state.issuer.store.as_ref();
    // The whole chain is read to check it; a register's log is thousands of entries, not millions.
    let mut verifier = ChainVerifier::default();
    let mut broken = None;
    let mut entries: Vec<AuditRecord> = Vec::new();
    let mut after = 0;
    loop {
        let Ok(batch) = store.audit_log(after, 1_000).await else {
            return super::auth::unavailable(lang);
        };
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for record in batch {
            if broken.is_none()
                && let Err(ChainCheck::Broken { seq, reason }) = verifier.push(&record)
            {
                broken = Some((seq, reason));
            }
            entries.push(record);
        }
    }
    let check = match broken {
        Some(broken) => Err(broken),
        None => Ok(verifier.finish()),
    };
    let day = |text: &str, end: bool| {
        crate::issuer::parse_date(text.trim())
            .map(|date| crate::issuer::day_start(date) + if end { 86_400 } else { 0 })
    };
    let (from, to) = (day(&query.from, false), day(&query.to, true));
    let needle = |value: &str| value.trim().to_lowercase();
    let (who, what, cert) = (needle(&query.person), needle(&query.action), needle(&query.certificate));
    let shown: Vec<AuditRecord> = entries
        .into_iter()
        .rev()
        .filter(|e| who.is_empty() || e.actor.to_lowercase().contains(&who))
        .filter(|e| what.is_empty() || e.action.to_lowercase().contains(&what))
        .filter(|e| {
            cert.is_empty()
                || e.subject.to_lowercase().contains(&cert)
                || e.details.to_lowercase().contains(&cert)
        })
        .filter(|e| from.is_none_or(|from| e.at >= from) && to.is_none_or(|to| e.at < to))
        .take(AUDIT_ROWS)
        .collect();
    let title = lang.pick("Dziennik zdarzeń", "Audit log");
    let main = html! {
        h1 { (title) }
        @match &check {
            Ok(ChainCheck::Valid { entries, .. }) => p.notice role="status" {
                (lang.pick("Łańcuch skrótów jest spójny: ", "The hash chain verifies: ")) (entries) (lang.pick(" wpisów.", " entries."))
            },
            Ok(ChainCheck::Broken { seq, reason }) | Err((seq, reason)) => div.error-summary role="alert" {
                p { (lang.pick("Łańcuch skrótów jest przerwany przy wpisie ", "The hash chain is broken at entry ")) (seq) ": " (reason) }
            },
        }
        form.filters method="get" action="/panel/audit" {
            div.field { label for="a-person" { (lang.pick("Osoba", "Person")) } input #a-person type="text" name="person" value=(query.person); }
            div.field { label for="a-certificate" { (lang.pick("Certyfikat lub podmiot", "Certificate or entity")) } input #a-certificate type="text" name="certificate" value=(query.certificate); }
            div.field { label for="a-action" { (lang.pick("Działanie", "Action")) } input #a-action type="text" name="action" value=(query.action); }
            div.field { label for="a-from" { (lang.pick("Od dnia", "From")) } input #a-from type="date" name="from" value=(query.from); }
            div.field { label for="a-to" { (lang.pick("Do dnia", "To")) } input #a-to type="date" name="to" value=(query.to); }
            button type="submit" { (lang.pick("Filtruj", "Filter")) }
        }
        (audit_table(&shown, lang))
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "/panel/audit" };
    page(StatusCode::OK, shell(&shell_, main))
}

/// Who an audit entry names, as people read it: a person (`account:ID:e-mail`, alone or after
/// the API key they used) by the e-mail; anything else (the command line, a key of its own) as
/// written.
fn who(actor: &str) -> String {
    match actor.split_once("account:") {
        Some((before, person)) => {
            let email = person.split_once(':').map_or(person, |(_, email)| email);
            let key = before.trim();
            if key.is_empty() { email.to_owned() } else { format!("{email} ({key})") }
        }
        None => actor.to_owned(),
    }
}

/// Audit entries as a table, in the order given.
pub fn audit_table(entries: &[AuditRecord], lang: Lang) -> Markup {
    html! {
        @if entries.is_empty() {
            p { (lang.pick("Brak wpisów.", "No entries.")) }
        } @else {
            div.table-wrap tabindex="0" role="region" aria-label=(lang.pick("Tabela (przewijana)", "Table (scrollable)")) {
                table {
                    thead { tr {
                        th scope="col" { "#" }
                        th scope="col" { (lang.pick("Kiedy", "When")) }
                        th scope="col" { (lang.pick("Kto", "Who")) }
                        th scope="col" { (lang.pick("Działanie", "Action")) }
                        th scope="col" { (lang.pick("Czego dotyczy", "Subject")) }
                    } }
                    tbody {
                        @for entry in entries {
                            tr {
                                td { (entry.seq) }
                                td.nowrap { (instant(entry.at)) }
                                td { bdi { (who(&entry.actor)) } }
                                td {
                                    code { (entry.action) }
                                    @let (decision, internal_note) = recorded(&entry.details);
                                    @if let Some((resolution, date)) = decision {
                                        br;
                                        small { (lang.pick("uchwała ", "resolution ")) bdi { (resolution) } (lang.pick(" z ", " of ")) (date) }
                                    }
                                    @if let Some(note) = internal_note {
                                        br;
                                        small { (lang.pick("notatka wewnętrzna: ", "internal note: ")) bdi { (note) } }
                                    }
                                }
                                td { bdi { (entry.subject) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The board's decision (resolution, date) and the internal note an entry's details record.
fn recorded(details: &str) -> (Option<(String, String)>, Option<String>) {
    let Ok(details) = serde_json::from_str::<serde_json::Value>(details) else {
        return (None, None);
    };
    let text =
        |value: Option<&serde_json::Value>| value.and_then(serde_json::Value::as_str).map(str::to_owned);
    let decision = details.get("decision");
    let decision =
        text(decision.and_then(|d| d.get("resolution"))).zip(text(decision.and_then(|d| d.get("date"))));
    (decision, text(details.get("internal_note")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_entries_name_people_by_their_email() {
        assert_eq!(super::who("account:acc_X1:anna@rops.pl"), "anna@rops.pl");
        assert_eq!(
            super::who("api-key:K1:OWES account:acc_X1:anna@rops.pl"),
            "anna@rops.pl (api-key:K1:OWES)"
        );
        assert_eq!(super::who("cli:root"), "cli:root");
    }
}
