//! The register in the panel: the dashboard, entities (search, create), certificates (issue,
//! renew, add a branch, suspend, reinstate, revoke) with a preview of the public page and the
//! badge kit. Every change calls the issuer, as the CLI and admin API do, and bad input comes
//! back as the same form with the message next to the field.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Fields, Form, Lenient, Staff, Viewer};
use super::{Shell, notice, page, shell};
use crate::accounts::SignedIn;
use crate::http::AppState;
use crate::http::pages::{Lang, legal_form_label};
use crate::ids;
use crate::issuer::{
    Decision, IssuerError, NewCertificate, NewEntity, NewProduct, Revocation, RevocationReason, VOIVODESHIPS,
    Verdict, fold, format_date,
};
use crate::store::{CertState, CertificateDetail, EntityRecord, SearchQuery};
use zp_shared::LegalForm;

const DAY: i64 = 86_400;
/// Rows on one page of a list.
const PAGE: u32 = 50;

/// A failure that is not the person's input: logged, and shown as a page that says so.
fn failed(err: IssuerError, lang: Lang, person: &SignedIn) -> Response {
    let (status, text) = match &err {
        IssuerError::NotFound { .. } => (
            StatusCode::NOT_FOUND,
            lang.pick("Nie ma takiego wpisu w rejestrze.", "No such record in the registry."),
        ),
        IssuerError::Conflict(_) => {
            (StatusCode::CONFLICT, lang.pick("Tej zmiany nie można wykonać.", "This change cannot be made."))
        }
        _ => {
            tracing::error!(error = %err, "panel action failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                lang.pick("Rejestr chwilowo nie odpowiada.", "The registry is not answering right now."),
            )
        }
    };
    let detail = match &err {
        IssuerError::Conflict(message) => Some(message.clone()),
        _ => None,
    };
    let main = html! {
        h1 { (text) }
        @if let Some(detail) = detail { p { (detail) } }
        p { a href="/panel" { (lang.pick("Wróć do pulpitu", "Back to the dashboard")) } }
    };
    let shell_ = Shell { lang, title: text.to_owned(), person: Some(person), path: "" };
    page(status, shell(&shell_, main))
}

fn state_label(verdict: Verdict, lang: Lang) -> &'static str {
    match verdict {
        Verdict::Valid => lang.pick("ważny", "valid"),
        Verdict::Expired => lang.pick("wygasł", "expired"),
        Verdict::NotYetValid => lang.pick("jeszcze nieważny", "not yet valid"),
        Verdict::Suspended => lang.pick("zawieszony", "suspended"),
        Verdict::Revoked => lang.pick("unieważniony", "revoked"),
    }
}

fn certificate_rows(rows: &[CertificateDetail], lang: Lang, now: i64) -> Markup {
    html! {
        @if rows.is_empty() {
            p { (lang.pick("Brak certyfikatów.", "No certificates.")) }
        } @else {
            div.table-wrap tabindex="0" role="region" aria-label=(lang.pick("Tabela (przewijana)", "Table (scrollable)")) {
                table {
                    thead { tr {
                        th scope="col" { (lang.pick("Numer", "Number")) }
                        th scope="col" { (lang.pick("Podmiot", "Entity")) }
                        th scope="col" { (lang.pick("Stan", "State")) }
                        th scope="col" { (lang.pick("Ważny do", "Valid until")) }
                    } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { a href=(format!("/panel/certificates/{}", row.certificate.id)) { (row.certificate.number) } }
                                td { bdi { (row.entity.name) } }
                                td { (state_label(Verdict::of(&row.certificate, now), lang)) }
                                td { (format_date(row.certificate.valid_until - DAY)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn dashboard(State(state): State<AppState>, Viewer { person, lang }: Viewer) -> Response {
    let now = state.now();
    let store = state.issuer.store.as_ref();
    let ending = |from: i64, to: i64| SearchQuery {
        ending: Some((from, to)),
        state: Some(CertState::Active),
        limit: PAGE,
        ..SearchQuery::default()
    };
    let soon = store.search(&ending(now, now + 30 * DAY)).await;
    let later = store.search(&ending(now + 30 * DAY, now + 60 * DAY)).await;
    let counts = store.certificate_counts(now).await;
    let head = store.audit_head().await;
    let (Ok(soon), Ok(later), Ok(counts), Ok(head)) = (soon, later, counts, head) else {
        return super::auth::unavailable(lang);
    };
    let verdicts =
        [Verdict::Valid, Verdict::NotYetValid, Verdict::Expired, Verdict::Suspended, Verdict::Revoked];
    let counts: Vec<(Verdict, i64)> = verdicts
        .into_iter()
        .map(|verdict| {
            let n = counts.iter().find(|(name, _)| name == verdict.as_str()).map_or(0, |(_, n)| *n);
            (verdict, n)
        })
        .collect();
    let recent = match store.audit_log((head - 10).max(0), 10).await {
        Ok(mut recent) => {
            recent.reverse();
            recent
        }
        Err(_) => return super::auth::unavailable(lang),
    };
    let title = lang.pick("Pulpit", "Dashboard");
    let main = html! {
        h1 { (title) }
        section aria-labelledby="by-state" {
            h2 #by-state { (lang.pick("Certyfikaty według stanu", "Certificates by state")) }
            ul.counts {
                @for (verdict, count) in &counts {
                    li { strong { (count) } " " (state_label(*verdict, lang)) }
                }
            }
        }
        section aria-labelledby="soon" {
            h2 #soon { (lang.pick("Kończą się w ciągu 30 dni", "Ending within 30 days")) }
            (certificate_rows(&soon, lang, now))
        }
        section aria-labelledby="later" {
            h2 #later { (lang.pick("Kończą się za 30–60 dni", "Ending in 30–60 days")) }
            (certificate_rows(&later, lang, now))
        }
        section aria-labelledby="recent" {
            h2 #recent { (lang.pick("Ostatnie działania", "Recent actions")) }
            (super::people::audit_table(&recent, lang))
            p { a href="/panel/audit" { (lang.pick("Cały dziennik zdarzeń", "The whole audit log")) } }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "/panel" };
    page(StatusCode::OK, shell(&shell_, main))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    done: Option<String>,
}

fn search_form(action: &str, q: &str, lang: Lang, states: bool, chosen: &str) -> Markup {
    html! {
        form.search method="get" action=(action) role="search" {
            label for="q" { (lang.pick("Szukaj", "Search")) }
            div.row {
                input #q type="search" name="q" value=(q) maxlength="200";
                @if states {
                    label.visually-hidden for="state" { (lang.pick("Stan", "State")) }
                    select #state name="state" {
                        option value="" selected[chosen.is_empty()] { (lang.pick("każdy stan", "any state")) }
                        @for (value, pl, en) in [("active", "aktywne", "active"), ("suspended", "zawieszone", "suspended"), ("revoked", "unieważnione", "revoked")] {
                            option value=(value) selected[chosen == value] { (lang.pick(pl, en)) }
                        }
                    }
                }
                button type="submit" { (lang.pick("Szukaj", "Search")) }
            }
        }
    }
}

pub async fn entities(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Lenient(query): Lenient<ListQuery>,
) -> Response {
    let q = query.q.unwrap_or_default();
    let Ok(all) = state.issuer.store.entities(10_000, 0).await else {
        return super::auth::unavailable(lang);
    };
    let wanted = fold(q.trim());
    let found: Vec<&EntityRecord> = all
        .iter()
        .filter(|e| {
            wanted.is_empty()
                || [Some(&e.name), e.nip.as_ref(), e.krs.as_ref(), e.regon.as_ref(), e.city.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|value| fold(value).contains(&wanted))
        })
        .take(200)
        .collect();
    let title = lang.pick("Podmioty", "Entities");
    let main = html! {
        h1 { (title) }
        (notice(lang, query.done.as_deref()))
        @if person.role >= crate::accounts::Role::Staff {
            p { a.button href="/panel/entities/new" { (lang.pick("Zarejestruj podmiot", "Register an entity")) } }
        }
        (search_form("/panel/entities", &q, lang, false, ""))
        @if found.is_empty() {
            p { (lang.pick("Nic nie znaleziono.", "Nothing found.")) }
        } @else {
            div.table-wrap tabindex="0" role="region" aria-label=(lang.pick("Tabela (przewijana)", "Table (scrollable)")) {
                table {
                    thead { tr {
                        th scope="col" { (lang.pick("Nazwa", "Name")) }
                        th scope="col" { "NIP" }
                        th scope="col" { (lang.pick("Miejscowość", "City")) }
                    } }
                    tbody {
                        @for entity in &found {
                            tr {
                                td { a href=(format!("/panel/entities/{}", entity.id)) { bdi { (entity.name) } } }
                                td { (entity.nip.as_deref().unwrap_or("—")) }
                                td { bdi { (entity.city.as_deref().unwrap_or("—")) } }
                            }
                        }
                    }
                }
            }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "/panel/entities" };
    page(StatusCode::OK, shell(&shell_, main))
}

/// A labelled input with its error, if the last submission had one for this field.
fn field(
    name: &str,
    label: &str,
    value: &str,
    error: Option<&(String, String)>,
    kind: &str,
    required: bool,
    hint: Option<&str>,
) -> Markup {
    let message =
        error.filter(|(field, _)| field == name || field.starts_with(&format!("{name}["))).map(|(_, m)| m);
    let id = format!("f-{name}");
    let described = match (message.is_some(), hint.is_some()) {
        (true, _) => Some(format!("{id}-error")),
        (false, true) => Some(format!("{id}-hint")),
        _ => None,
    };
    html! {
        div.field {
            label for=(id) { (label) @if required { " " span aria-hidden="true" { "*" } } }
            @if let Some(hint) = hint { p.hint id=(format!("{id}-hint")) { (hint) } }
            @if kind == "textarea" {
                textarea id=(id) name=(name) rows="4" required[required] aria-invalid=[message.map(|_| "true")] aria-describedby=[described.as_deref()] { (value) }
            } @else {
                input id=(id) type=(kind) name=(name) value=(value) required[required] aria-invalid=[message.map(|_| "true")] aria-describedby=[described.as_deref()];
            }
            @if let Some(message) = message { p.error id=(format!("{id}-error")) { (message) } }
        }
    }
}

/// Where an entity form is sent and what its button says: a new entity, or changes to one.
struct EntityAction<'a> {
    url: &'a str,
    button: &'a str,
}

fn entity_form(
    fields: &Fields,
    error: Option<&(String, String)>,
    lang: Lang,
    csrf: &str,
    action: &EntityAction<'_>,
) -> Markup {
    let chosen_form = fields.get("legal_form");
    let chosen_voivodeship = fields.get("voivodeship");
    let form_error = error.filter(|(f, _)| f == "legal_form").map(|(_, m)| m);
    let voivodeship_error = error.filter(|(f, _)| f == "voivodeship").map(|(_, m)| m);
    html! {
        @if let Some((field, message)) = error {
            div.error-summary role="alert" tabindex="-1" {
                p { (lang.pick("Popraw pole: ", "Correct the field: ")) a href=(format!("#f-{}", field.split('[').next().unwrap_or(field))) { (field) } " — " (message) }
            }
        }
        form.stack method="post" action=(action.url) novalidate {
            input type="hidden" name="csrf" value=(csrf);
            (field("name", lang.pick("Pełna nazwa", "Full name"), fields.get("name"), error, "text", true, None))
            div.field {
                label for="f-legal_form" { (lang.pick("Forma prawna", "Legal form")) " " span aria-hidden="true" { "*" } }
                select #f-legal_form name="legal_form" required aria-invalid=[form_error.map(|_| "true")] {
                    @for form in LegalForm::ALL {
                        option value=(form.code()) selected[chosen_form == form.code()] { (legal_form_label(form.code(), lang)) }
                    }
                }
                @if let Some(message) = form_error { p.error { (message) } }
            }
            (field("nip", "NIP", fields.get("nip"), error, "text", false, Some(lang.pick("10 cyfr, z cyfrą kontrolną.", "10 digits, with a check digit."))))
            (field("regon", "REGON", fields.get("regon"), error, "text", false, None))
            (field("krs", "KRS", fields.get("krs"), error, "text", false, None))
            (field("city", lang.pick("Miejscowość", "City"), fields.get("city"), error, "text", false, None))
            div.field {
                label for="f-voivodeship" { (lang.pick("Województwo", "Voivodeship")) }
                select #f-voivodeship name="voivodeship" aria-invalid=[voivodeship_error.map(|_| "true")] {
                    option value="" { "—" }
                    @for name in VOIVODESHIPS {
                        option value=(name) selected[chosen_voivodeship == name] { (name) }
                    }
                }
                @if let Some(message) = voivodeship_error { p.error { (message) } }
            }
            (field("domains", lang.pick("Strony internetowe, na których pojawi się znak (po jednej w wierszu)", "Websites where the badge will appear (one per line)"), fields.get("domains"), error, "textarea", true, None))
            (field("contact", lang.pick("Kontakt (niepubliczny)", "Contact (not published)"), fields.get("contact"), error, "text", false, None))
            button type="submit" { (action.button) }
        }
    }
}

pub async fn new_entity(Staff { person, lang }: Staff) -> Response {
    entity_form_page(&person, lang, None, &Fields::default(), None, StatusCode::OK)
}

/// The form of a new entity (`editing` none) or of changes to the entity with this ID.
fn entity_form_page(
    person: &SignedIn,
    lang: Lang,
    editing: Option<&str>,
    fields: &Fields,
    error: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let (title, url, button) = match editing {
        None => (
            lang.pick("Nowy podmiot", "New entity"),
            "/panel/entities".to_owned(),
            lang.pick("Zarejestruj podmiot", "Register the entity"),
        ),
        Some(id) => (
            lang.pick("Zmiana danych podmiotu", "Edit the entity"),
            format!("/panel/entities/{id}"),
            lang.pick("Zapisz zmiany", "Save the changes"),
        ),
    };
    let action = EntityAction { url: &url, button };
    let main = html! {
        h1 { (title) }
        @if editing.is_some() {
            p { (lang.pick(
                "Zapisanie zmian podpisuje nowe tokeny wszystkich nieunieważnionych certyfikatów podmiotu.",
                "Saving signs new tokens for every certificate of the entity that is not revoked.",
            )) }
        }
        (entity_form(fields, error.as_ref(), lang, &person.session.csrf, &action))
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "/panel/entities" };
    page(status, shell(&shell_, main))
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// The entity a submitted entity form describes.
fn entity_input(fields: &Fields) -> NewEntity {
    NewEntity {
        name: fields.get("name").to_owned(),
        legal_form: fields.get("legal_form").to_owned(),
        domains: lines(fields.get("domains")),
        nip: fields.optional("nip"),
        regon: fields.optional("regon"),
        krs: fields.optional("krs"),
        city: fields.optional("city"),
        voivodeship: fields.optional("voivodeship"),
        contact: fields.optional("contact"),
    }
}

pub async fn create_entity(State(state): State<AppState>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    match state.issuer.create_entity(&person.actor(), entity_input(&fields), state.now()).await {
        Ok(entity) => Redirect::to(&format!("/panel/entities/{}?done=created", entity.id)).into_response(),
        Err(IssuerError::Invalid { field, message }) => entity_form_page(
            &person,
            lang,
            None,
            &fields,
            Some((field, message)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(err) => failed(err, lang, &person),
    }
}

/// The form of an entity's details, filled in with them.
pub async fn edit_entity(
    State(state): State<AppState>,
    Staff { person, lang }: Staff,
    Path(id): Path<String>,
) -> Response {
    let entity = match state.issuer.store.entity(&id).await {
        Ok(Some(entity)) => entity,
        Ok(None) => return failed(IssuerError::NotFound { what: "entity", id }, lang, &person),
        Err(err) => return failed(err.into(), lang, &person),
    };
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let fields = Fields::of([
        ("name", entity.name.clone()),
        ("legal_form", entity.legal_form.clone()),
        ("nip", text(&entity.nip)),
        ("regon", text(&entity.regon)),
        ("krs", text(&entity.krs)),
        ("city", text(&entity.city)),
        ("voivodeship", text(&entity.voivodeship)),
        ("domains", entity.domains.join("\n")),
        ("contact", text(&entity.contact)),
    ]);
    entity_form_page(&person, lang, Some(&entity.id), &fields, None, StatusCode::OK)
}

pub async fn update_entity(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    match state.issuer.update_entity(&person.actor(), &id, entity_input(&fields), state.now()).await {
        Ok(entity) => Redirect::to(&format!("/panel/entities/{}?done=updated", entity.id)).into_response(),
        Err(IssuerError::Invalid { field, message }) => entity_form_page(
            &person,
            lang,
            Some(&id),
            &fields,
            Some((field, message)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(err) => failed(err, lang, &person),
    }
}

pub async fn entity(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Path(id): Path<String>,
    Lenient(query): Lenient<ListQuery>,
) -> Response {
    entity_page(&state, &person, lang, &id, query.done.as_deref(), &Fields::default(), None, StatusCode::OK)
        .await
}

#[allow(clippy::too_many_arguments)]
async fn entity_page(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    id: &str,
    done: Option<&str>,
    fields: &Fields,
    error: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let entity = match state.issuer.store.entity(id).await {
        Ok(Some(entity)) => entity,
        Ok(None) => return failed(IssuerError::NotFound { what: "entity", id: id.to_owned() }, lang, person),
        Err(err) => return failed(err.into(), lang, person),
    };
    let query = SearchQuery { entity_id: Some(entity.id.clone()), limit: PAGE, ..SearchQuery::default() };
    let Ok(certificates) = state.issuer.store.search(&query).await else {
        return super::auth::unavailable(lang);
    };
    let now = state.now();
    let form_name = legal_form_label(&entity.legal_form, lang);
    let main = html! {
        h1 { bdi { (entity.name) } }
        (notice(lang, done))
        dl.facts {
            dt { (lang.pick("Forma prawna", "Legal form")) } dd { (form_name) }
            dt { "NIP" } dd { (entity.nip.as_deref().unwrap_or("—")) }
            dt { "REGON" } dd { (entity.regon.as_deref().unwrap_or("—")) }
            dt { "KRS" } dd { (entity.krs.as_deref().unwrap_or("—")) }
            dt { (lang.pick("Miejscowość", "City")) } dd { bdi { (entity.city.as_deref().unwrap_or("—")) } }
            dt { (lang.pick("Województwo", "Voivodeship")) } dd { (entity.voivodeship.as_deref().unwrap_or("—")) }
            dt { (lang.pick("Strony ze znakiem", "Websites with the badge")) } dd { (entity.domains.join(", ")) }
            dt { (lang.pick("Kontakt", "Contact")) } dd { bdi { (entity.contact.as_deref().unwrap_or("—")) } }
        }
        @if person.role >= crate::accounts::Role::Staff {
            p { a.button href=(format!("/panel/entities/{}/edit", entity.id)) { (lang.pick("Edytuj", "Edit")) } }
        }
        p { a href=(format!("/e/{}", entity.id)) { (lang.pick("Publiczna strona podmiotu z kodem do osadzenia", "Public entity page with the embed code")) } }
        section aria-labelledby="certs" {
            h2 #certs { (lang.pick("Certyfikaty", "Certificates")) }
            (certificate_rows(&certificates, lang, now))
        }
        @if person.role >= crate::accounts::Role::Staff {
            section aria-labelledby="issue" {
                h2 #issue { (lang.pick("Wydaj certyfikat", "Issue a certificate")) }
                @if let Some((field, message)) = &error {
                    div.error-summary role="alert" { p { (field) ": " (message) } }
                }
                form.stack method="post" action="/panel/certificates" novalidate {
                    input type="hidden" name="csrf" value=(person.session.csrf);
                    input type="hidden" name="entity_id" value=(entity.id);
                    (products_field(fields, error.as_ref(), lang))
                    (field("valid_from", lang.pick("Początek ważności (pusty: dziś)", "Valid from (empty: today)"), fields.get("valid_from"), error.as_ref(), "date", false, None))
                    (decision_fields("issue", fields, error.as_ref(), lang))
                    button type="submit" { (lang.pick("Wydaj certyfikat na rok", "Issue the certificate for a year")) }
                }
            }
        }
    };
    let shell_ = Shell { lang, title: entity.name.clone(), person: Some(person), path: "/panel/entities" };
    page(status, shell(&shell_, main))
}

/// The board's decision (resolution number and date), recorded with the action in the audit log.
/// `form` keeps the fields' IDs apart on a page with several forms.
fn decision_fields(form: &str, fields: &Fields, error: Option<&(String, String)>, lang: Lang) -> Markup {
    let inputs = [
        ("resolution", lang.pick("Numer uchwały", "Resolution number"), "text"),
        ("resolution_date", lang.pick("Data uchwały", "Resolution date"), "date"),
    ];
    html! {
        fieldset {
            legend { (lang.pick("Decyzja Kapituły", "The board's decision")) }
            @for (name, label, kind) in inputs {
                @let id = format!("f-{form}-{name}");
                @let message = error.filter(|(field, _)| field == name).map(|(_, m)| m);
                div.field {
                    label for=(id) { (label) }
                    input id=(id) type=(kind) name=(name) maxlength=[(kind == "text").then_some(crate::issuer::RESOLUTION_MAX)] value=(fields.get(name)) aria-invalid=[message.map(|_| "true")] aria-describedby=[message.map(|_| format!("{id}-error"))];
                    @if let Some(message) = message { p.error id=(format!("{id}-error")) { (message) } }
                }
            }
        }
    }
}

fn products_field(fields: &Fields, error: Option<&(String, String)>, lang: Lang) -> Markup {
    field(
        "products",
        lang.pick(
            "Produkty i usługi (po jednym w wierszu; GTIN po znaku |)",
            "Products and services (one per line; a GTIN after |)",
        ),
        fields.get("products"),
        error,
        "textarea",
        true,
        Some(lang.pick(
            "Np. „Catering okolicznościowy” albo „Miód wielokwiatowy | 5901234123457”.",
            "E.g. “Event catering” or “Wildflower honey | 5901234123457”.",
        )),
    )
}

fn products(text: &str) -> Vec<NewProduct> {
    lines(text)
        .into_iter()
        .map(|line| match line.split_once('|') {
            Some((name, gtin)) => NewProduct {
                name: name.trim().to_owned(),
                gtin: Some(gtin.trim().to_owned()).filter(|g| !g.is_empty()),
            },
            None => NewProduct { name: line, gtin: None },
        })
        .collect()
}

pub async fn issue(State(state): State<AppState>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    let entity_id = fields.get("entity_id").to_owned();
    let input = NewCertificate {
        entity_id: entity_id.clone(),
        products: products(fields.get("products")),
        valid_from: fields.optional("valid_from"),
    };
    let result = match decision(&fields) {
        Ok(decision) => state.issuer.issue_decided(&person.actor(), input, decision, state.now()).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(detail) => Redirect::to(&format!("/panel/certificates/{}?done=issued", detail.certificate.id))
            .into_response(),
        Err(IssuerError::Invalid { field, message }) if field != "entity_id" => {
            entity_page(
                &state,
                &person,
                lang,
                &entity_id,
                None,
                &fields,
                Some((field, message)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => failed(err, lang, &person),
    }
}

/// The board's decision a form names (resolution number and date), both or neither.
fn decision(fields: &Fields) -> Result<Option<Decision>, IssuerError> {
    Decision::from_parts(fields.optional("resolution"), fields.optional("resolution_date"))
}

pub async fn certificates(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Lenient(query): Lenient<ListQuery>,
) -> Response {
    let q = query.q.clone().unwrap_or_default();
    let chosen = query.state.clone().unwrap_or_default();
    let page_no = query.page.unwrap_or(0).min(1_000);
    let search = SearchQuery {
        terms: fold(&q)
            .split_whitespace()
            .filter(|t| !t.chars().any(char::is_control))
            .take(8)
            .map(str::to_owned)
            .collect(),
        state: CertState::parse(&chosen).ok(),
        limit: PAGE,
        offset: page_no * PAGE,
        ..SearchQuery::default()
    };
    let Ok(rows) = state.issuer.store.search(&search).await else {
        return super::auth::unavailable(lang);
    };
    let title = lang.pick("Certyfikaty", "Certificates");
    let more = rows.len() as u32 == PAGE;
    let next = format!(
        "/panel/certificates?q={}&state={}&page={}",
        crate::http::pages::encode_component(&q),
        chosen,
        page_no + 1
    );
    let main = html! {
        h1 { (title) }
        (search_form("/panel/certificates", &q, lang, true, &chosen))
        (certificate_rows(&rows, lang, state.now()))
        @if more { p { a href=(next) { (lang.pick("Następna strona", "Next page")) } } }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "/panel/certificates" };
    page(StatusCode::OK, shell(&shell_, main))
}

pub async fn certificate(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Path(id): Path<String>,
    Lenient(query): Lenient<ListQuery>,
) -> Response {
    certificate_page(&state, &person, lang, &id, query.done.as_deref(), None, StatusCode::OK).await
}

/// A refusal of one of the forms on a certificate's page: which form (`renew`, `revoke`…),
/// then the field and the message.
type Refusal = (&'static str, (String, String));

async fn certificate_page(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    id: &str,
    done: Option<&str>,
    refusal: Option<Refusal>,
    status: StatusCode,
) -> Response {
    let (form, error) = match refusal {
        Some((form, error)) => (form, Some(error)),
        None => ("", None),
    };
    let error_in = |name: &str| error.as_ref().filter(|_| form == name);
    let Some(id) = ids::normalize_certificate_id(id) else {
        return failed(IssuerError::NotFound { what: "certificate", id: id.to_owned() }, lang, person);
    };
    let detail = match state.issuer.detail(&id).await {
        Ok(detail) => detail,
        Err(err) => return failed(err, lang, person),
    };
    let now = state.now();
    let c = &detail.certificate;
    let verdict = Verdict::of(c, now);
    let staff = person.role >= crate::accounts::Role::Staff;
    let confirmed = person.recently_authenticated(now, &state.accounts.timeouts);
    let here = format!("/panel/certificates/{}", c.id);
    let headline = lang.pick(verdict.shown().headline().pl, verdict.shown().headline().en);
    let main = html! {
        h1 { (lang.pick("Certyfikat ", "Certificate ")) (c.number) }
        (notice(lang, done))
        @if let Some((field, message)) = &error {
            div.error-summary role="alert" { p { (field) ": " (message) } }
        }
        dl.facts {
            dt { (lang.pick("Podmiot", "Entity")) } dd { a href=(format!("/panel/entities/{}", detail.entity.id)) { bdi { (detail.entity.name) } } }
            dt { (lang.pick("Stan", "State")) } dd { (state_label(verdict, lang)) }
            dt { (lang.pick("Ważny od", "Valid from")) } dd { (format_date(c.valid_from)) }
            dt { (lang.pick("Ważny do (włącznie)", "Valid until (inclusive)")) } dd { (format_date(c.valid_until - DAY)) }
            dt { (lang.pick("Identyfikator", "ID")) } dd { code { (c.id) } }
            @if let Some(reason) = c.reason.as_deref().and_then(RevocationReason::parse) {
                dt { (lang.pick("Powód", "Reason")) } dd { (reason.label(lang.is_pl())) }
            }
            @if let Some(note) = &c.public_note {
                dt { (lang.pick("Nota publiczna", "Public note")) } dd { bdi { (note) } }
            }
        }
        h2 { (lang.pick("Produkty i usługi", "Products and services")) }
        ul.products {
            @for product in &detail.products {
                li { bdi { (product.name) } @if let Some(gtin) = &product.gtin { " (GTIN " (gtin) ")" } }
            }
        }
        section aria-labelledby="preview" {
            h2 #preview { (lang.pick("Co pokaże strona weryfikacji", "What the verification page will say")) }
            p.preview { strong { (headline) } }
            p { a href=(format!("/v/{}", c.id)) { (lang.pick("Otwórz publiczną stronę weryfikacji", "Open the public verification page")) } }
        }
        section aria-labelledby="kit" {
            h2 #kit { (lang.pick("Pakiet znaku", "Badge kit")) }
            ul.links {
                li { a href=(format!("/v/{}/qr.svg", c.id)) download { (lang.pick("Kod QR (SVG, do druku na opakowaniach)", "QR code (SVG, for printing on packaging)")) } }
                li { a href=(format!("/v/{}/qr.png", c.id)) download { (lang.pick("Kod QR (PNG)", "QR code (PNG)")) } }
                li { a href=(format!("/badge/{}.svg", c.id)) download { (lang.pick("Znak jako obraz SVG", "Badge as an SVG image")) } }
                li { a href=(format!("/e/{}#embed", detail.entity.id)) { (lang.pick("Kod do osadzenia na stronie i ramka iframe", "Embed snippet and iframe")) } }
            }
        }
        @if staff {
            section aria-labelledby="actions" {
                h2 #actions { (lang.pick("Działania", "Actions")) }
                @if c.state != CertState::Revoked {
                    form.stack method="post" action=(format!("{here}/renew")) {
                        input type="hidden" name="csrf" value=(person.session.csrf);
                        h3 { (lang.pick("Przedłużenie o rok", "Renew for a year")) }
                        (decision_fields("renew", &Fields::default(), error_in("renew"), lang))
                        button type="submit" { (lang.pick("Przedłuż", "Renew")) }
                    }
                    form.stack method="post" action=(format!("{here}/products")) novalidate {
                        input type="hidden" name="csrf" value=(person.session.csrf);
                        h3 { (lang.pick("Dodaj gałąź działalności", "Add a branch of activity")) }
                        (products_field(&Fields::default(), error_in("products"), lang))
                        button type="submit" { (lang.pick("Dodaj", "Add")) }
                    }
                }
                @if c.state == CertState::Active {
                    form.stack method="post" action=(format!("{here}/suspend")) {
                        input type="hidden" name="csrf" value=(person.session.csrf);
                        h3 { (lang.pick("Zawieszenie", "Suspend")) }
                        (field("note", lang.pick("Nota publiczna (opcjonalna)", "Public note (optional)"), "", None, "text", false, None))
                        button type="submit" { (lang.pick("Zawieś", "Suspend")) }
                    }
                }
                @if c.state == CertState::Suspended {
                    form.stack method="post" action=(format!("{here}/reinstate")) {
                        input type="hidden" name="csrf" value=(person.session.csrf);
                        h3 { (lang.pick("Przywrócenie", "Reinstate")) }
                        button type="submit" { (lang.pick("Przywróć", "Reinstate")) }
                    }
                }
                @if c.state != CertState::Revoked {
                    h3 #revoke { (lang.pick("Unieważnienie", "Revoke")) }
                    @if confirmed {
                        form.stack method="post" action=(format!("{here}/revoke")) {
                            input type="hidden" name="csrf" value=(person.session.csrf);
                            div.field {
                                label for="f-reason" { (lang.pick("Powód", "Reason")) }
                                select #f-reason name="reason" required {
                                    @for reason in RevocationReason::ALL {
                                        option value=(reason.as_str()) { (reason.label(lang.is_pl())) }
                                    }
                                }
                            }
                            (field("note", lang.pick("Nota publiczna (na stronie weryfikacji)", "Public note (on the verification page)"), "", error_in("revoke"), "text", false, None))
                            (field("internal_note", lang.pick("Notatka wewnętrzna (tylko w dzienniku zdarzeń)", "Internal note (audit log only)"), "", error_in("revoke"), "text", false, None))
                            (decision_fields("revoke", &Fields::default(), error_in("revoke"), lang))
                            button.danger type="submit" { (lang.pick("Unieważnij certyfikat", "Revoke the certificate")) }
                        }
                    } @else {
                        p {
                            (lang.pick("Unieważnienie wymaga potwierdzenia kluczem dostępu. ", "Revocation needs your passkey first. "))
                            a href=(format!("/panel/reauth?next={}", crate::http::pages::encode_component(&format!("{here}#revoke")))) {
                                (lang.pick("Potwierdź, aby unieważnić", "Confirm to revoke"))
                            }
                        }
                    }
                }
            }
        }
    };
    let shell_ = Shell { lang, title: c.number.clone(), person: Some(person), path: "/panel/certificates" };
    page(status, shell(&shell_, main))
}

/// Runs a change of a certificate and shows its page again: with the message on success, with
/// the field's error on bad input.
async fn change(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    id: &str,
    form: &'static str,
    result: Result<CertificateDetail, IssuerError>,
) -> Response {
    let done = match form {
        "renew" => "renewed",
        "suspend" => "suspended",
        "reinstate" => "reinstated",
        "revoke" => "revoked",
        other => other,
    };
    match result {
        Ok(detail) => Redirect::to(&format!("/panel/certificates/{}?done={done}", detail.certificate.id))
            .into_response(),
        Err(IssuerError::Invalid { field, message }) => {
            certificate_page(
                state,
                person,
                lang,
                id,
                None,
                Some((form, (field, message))),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => failed(err, lang, person),
    }
}

fn cert_id(id: &str) -> String {
    ids::normalize_certificate_id(id).unwrap_or_else(|| id.to_owned())
}

pub async fn renew(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let result = match decision(&form.fields) {
        Ok(decision) => {
            state.issuer.renew_decided(&form.person.actor(), &cert_id(&id), decision, state.now()).await
        }
        Err(err) => Err(err),
    };
    change(&state, &form.person, form.lang, &id, "renew", result).await
}

pub async fn add_products(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let new = products(form.fields.get("products"));
    let result = state.issuer.add_products(&form.person.actor(), &cert_id(&id), &new, state.now()).await;
    change(&state, &form.person, form.lang, &id, "products", result).await
}

pub async fn suspend(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let result = state
        .issuer
        .suspend(&form.person.actor(), &cert_id(&id), form.fields.optional("note"), state.now())
        .await;
    change(&state, &form.person, form.lang, &id, "suspend", result).await
}

pub async fn reinstate(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let result = state.issuer.reinstate(&form.person.actor(), &cert_id(&id), state.now()).await;
    change(&state, &form.person, form.lang, &id, "reinstate", result).await
}

pub async fn revoke(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    let now = state.now();
    if !person.recently_authenticated(now, &state.accounts.timeouts) {
        let back = format!("/panel/certificates/{}#revoke", cert_id(&id));
        return Redirect::to(&format!("/panel/reauth?next={}", crate::http::pages::encode_component(&back)))
            .into_response();
    }
    let Some(reason) = RevocationReason::parse(fields.get("reason")) else {
        let error = (
            "reason".to_owned(),
            lang.pick("wybierz powód z listy", "choose a reason from the list").to_owned(),
        );
        return certificate_page(
            &state,
            &person,
            lang,
            &id,
            None,
            Some(("revoke", error)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let result = match decision(&fields) {
        Ok(decision) => {
            let revocation = Revocation {
                reason,
                note: fields.optional("note"),
                decision,
                internal_note: fields.optional("internal_note"),
            };
            state.issuer.revoke_decided(&person.actor(), &cert_id(&id), revocation, now).await
        }
        Err(err) => Err(err),
    };
    change(&state, &person, lang, &id, "revoke", result).await
}
