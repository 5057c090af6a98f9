//! The board's review of applications: an inbox by status, the case file with the criteria's
//! checklist, questions to the applicant ("returned for completion") and the decision — approval
//! with the resolution, which issues, renews or extends the certificate in the same transaction,
//! or refusal with reasons. With `serve --second-approval` one person prepares an approval and
//! another confirms it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::auth::{Lenient, unavailable};
use super::{Form, Shell, Viewer, notice, page, shell};
use crate::accounts::{Role, SignedIn};
use crate::applications::{
    ApplicationError, ApplicationForm, Approval, CRITERIA, FieldError, Kind, Outcome, Status,
};
use crate::http::AppState;
use crate::http::pages::{Lang, encode_component, format_instant, legal_form_label};
use crate::issuer::Decision;
use crate::store::ApplicationRecord;

#[derive(Debug, Default, serde::Deserialize)]
pub struct InboxQuery {
    status: Option<String>,
    done: Option<String>,
}

fn status_of(application: &ApplicationRecord) -> Status {
    Status::parse(&application.status).unwrap_or(Status::Submitted)
}

fn form_of(application: &ApplicationRecord) -> ApplicationForm {
    serde_json::from_str(&application.form).unwrap_or_default()
}

/// `GET /panel/applications`: the inbox, by status (those waiting for the board first).
pub async fn inbox(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Lenient(query): Lenient<InboxQuery>,
) -> Response {
    let chosen = query.status.as_deref().and_then(Status::parse);
    let store = &state.issuer.store;
    let (Ok(counts), Ok(rows)) =
        (store.application_counts().await, store.applications(chosen.map(Status::as_str), 200).await)
    else {
        return unavailable(lang);
    };
    let count = |status: Status| counts.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n);
    let title = lang.pick("Wnioski", "Applications");
    let main = html! {
        h1 { (title) }
        nav aria-label=(lang.pick("Stan wniosku", "Application status")) {
            ul.counts {
                li { a href="/panel/applications" aria-current=[chosen.is_none().then_some("page")] { (lang.pick("Wszystkie", "All")) } }
                @for status in Status::ALL {
                    li {
                        a href=(format!("/panel/applications?status={}", status.as_str()))
                            aria-current=[(chosen == Some(status)).then_some("page")] {
                            (status.label(lang.is_pl())) ": " (count(status))
                        }
                    }
                }
            }
        }
        @if rows.is_empty() {
            p { (lang.pick("Brak wniosków w tym stanie.", "No applications in this state.")) }
        } @else {
            div.table-wrap {
                table {
                    caption { (lang.pick("Najdłużej czekające pierwsze", "Longest waiting first")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Numer", "Number")) }
                        th scope="col" { (lang.pick("Podmiot", "Entity")) }
                        th scope="col" { (lang.pick("Rodzaj", "Kind")) }
                        th scope="col" { (lang.pick("Stan", "State")) }
                        th scope="col" { (lang.pick("Ostatnia zmiana", "Last change")) }
                    } }
                    tbody {
                        @for application in &rows {
                            tr {
                                td { a href=(format!("/panel/applications/{}", application.id)) { (application.id) } }
                                td { bdi { (form_of(application).entity.name) } }
                                td { (Kind::parse(&application.kind).unwrap_or_default().label(lang.is_pl())) }
                                td { (status_of(application).label(lang.is_pl())) }
                                td { (format_instant(application.updated_at).0) }
                            }
                        }
                    }
                }
            }
        }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "/panel/applications" };
    page(StatusCode::OK, shell(&shell_, main))
}

/// `GET /panel/applications/{id}`: the case file.
pub async fn case(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Path(id): Path<String>,
    Lenient(query): Lenient<InboxQuery>,
) -> Response {
    case_page(&state, &person, lang, &id, query.done.as_deref(), None, StatusCode::OK).await
}

/// A refusal of one of the case's forms: which form, and the refusals.
type Refusal<'a> = (&'static str, &'a [FieldError]);

async fn case_page(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    id: &str,
    done: Option<&str>,
    refusal: Option<Refusal<'_>>,
    status: StatusCode,
) -> Response {
    let store = &state.issuer.store;
    let application = match store.application(id).await {
        Ok(Some(application)) => application,
        Ok(None) => return missing(person, lang),
        Err(_) => return unavailable(lang),
    };
    let (Ok(events), Ok(files)) = (store.application_events(id).await, store.application_files(id).await)
    else {
        return unavailable(lang);
    };
    let registered = match &application.certificate_id {
        Some(certificate) => store.certificate(certificate).await.ok().flatten(),
        None => None,
    };
    let form = form_of(&application);
    let case_status = status_of(&application);
    let ticked: Vec<String> = serde_json::from_str(&application.checklist).unwrap_or_default();
    let outcome: Option<Outcome> = application.decision.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let prepared: Option<Decision> =
        application.prepared.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let can_act = person.role >= Role::Staff && !case_status.closed();
    let csrf = &person.session.csrf;
    let errors_in =
        |name: &str| refusal.filter(|(form, _)| *form == name).map(|(_, errors)| errors).unwrap_or(&[]);
    let title = format!("{} {}", lang.pick("Wniosek", "Application"), application.id);
    let e = &form.entity;
    let main = html! {
        p { a href="/panel/applications" { "← " (lang.pick("Wnioski", "Applications")) } }
        h1 { (title) }
        (notice_of(lang, done))
        dl.facts {
            dt { (lang.pick("Stan", "State")) } dd { strong { (case_status.label(lang.is_pl())) } }
            dt { (lang.pick("Rodzaj", "Kind")) } dd { (Kind::parse(&application.kind).unwrap_or_default().label(lang.is_pl())) }
            @if let Some(certificate) = &application.certificate_id {
                dt { (lang.pick("Certyfikat", "Certificate")) }
                dd { a href=(format!("/panel/certificates/{certificate}")) { (registered.as_ref().map_or(certificate.as_str(), |d| d.certificate.number.as_str())) } }
            }
            dt { (lang.pick("Złożony", "Submitted")) } dd { (format_instant(application.created_at).0) " (" (if application.submitted_by == "api" { "API" } else { lang.pick("formularz", "form") }) ")" }
        }
        h2 { (lang.pick("Podmiot", "Entity")) }
        dl.facts {
            dt { (lang.pick("Nazwa", "Name")) } dd { bdi { (e.name) } }
            dt { (lang.pick("Forma prawna", "Legal form")) } dd { (legal_form_label(&e.legal_form, lang)) }
            @if let Some(nip) = &e.nip { dt { "NIP" } dd { (nip) } }
            @if let Some(regon) = &e.regon { dt { "REGON" } dd { (regon) } }
            @if let Some(krs) = &e.krs { dt { "KRS" } dd { (krs) } }
            @if let Some(address) = &e.address { dt { (lang.pick("Adres", "Address")) } dd { bdi { (address) } } }
            @if let Some(city) = &e.city { dt { (lang.pick("Miejscowość", "City")) } dd { bdi { (city) } } }
            @if let Some(v) = &e.voivodeship { dt { (lang.pick("Województwo", "Voivodeship")) } dd { (v) } }
            dt { (lang.pick("Strony internetowe", "Websites")) } dd { (e.domains.join(", ")) }
        }
        @if let Some(detail) = &registered {
            @if !detail.entity.contact.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case(&application.email)) {
                div.error-summary role="note" {
                    p {
                        strong { (lang.pick("Uwaga: ", "Note: ")) }
                        (lang.pick(
                            "adres wnioskodawcy nie jest adresem kontaktowym tego podmiotu w rejestrze (",
                            "the applicant's address is not this entity's contact in the registry (",
                        ))
                        (detail.entity.contact.clone().unwrap_or_else(|| "—".into())) "). "
                        (lang.pick(
                            "Upewnij się, że wniosek złożył posiadacz certyfikatu.",
                            "Make sure the certificate's holder made this application.",
                        ))
                    }
                }
            }
            @if detail.entity.name != e.name || detail.entity.domains != e.domains {
                p.notice {
                    (lang.pick("W rejestrze: ", "In the registry: ")) bdi { (detail.entity.name) } " — " (detail.entity.domains.join(", ")) ". "
                    (lang.pick("Zmiany danych podmiotu wprowadza się na jego stronie w panelu.", "Change the entity's details on its panel page."))
                }
            }
        }
        h2 { (lang.pick("Produkty i usługi", "Products and services")) }
        ul { @for p in &form.products { li { bdi { (p.name) } @if let Some(gtin) = &p.gtin { " (GTIN " (gtin) ")" } } } }
        h2 { (lang.pick("Jak dbają o jakość", "How they ensure quality")) }
        p.pre { (form.quality) }
        h2 { (lang.pick("Osoba do kontaktu", "Contact person")) }
        p { bdi { (form.contact.name) } ", " (application.email) @if let Some(phone) = &form.contact.phone { ", " (phone) } }
        h2 { (lang.pick("Załączniki", "Attachments")) }
        @if files.is_empty() { p { (lang.pick("Brak.", "None.")) } }
        ul {
            @for file in &files {
                li {
                    a href=(format!("/panel/applications/{}/files/{}", application.id, file.id)) { (file.name) }
                    " — " (file.media_type) ", " (file.size / 1024 + 1) " KB, SHA-256 " code { (&file.sha256[..16.min(file.sha256.len())]) } "…"
                }
            }
        }
        h2 { (lang.pick("Przebieg sprawy", "The case so far")) }
        ol.thread {
            @for event in &events {
                li {
                    p.hint { (format_instant(event.at).0) " — " (event.kind) " — " (event.author) }
                    @if !event.body.is_empty() { p.pre { (event.body) } }
                }
            }
        }
        @if let Some(outcome) = &outcome {
            h2 { (lang.pick("Decyzja", "Decision")) }
            p {
                strong { (if outcome.outcome == "approved" { lang.pick("Przyznano", "Granted") } else { lang.pick("Odmowa", "Refused") }) }
                @if let (Some(r), Some(d)) = (&outcome.resolution, &outcome.date) { " — " (lang.pick("uchwała nr ", "resolution no. ")) (r) ", " (d) }
                @if let Some(by) = &application.decided_by { " — " (by) }
            }
            @if let Some(reasons) = &outcome.reasons { p.pre { (reasons) } }
        }
        @if can_act {
            section aria-labelledby="checklist" {
                h2 #checklist { (lang.pick("Kryteria", "Criteria")) }
                form.stack method="post" action=(format!("/panel/applications/{}/checklist", application.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    fieldset {
                        legend { (lang.pick("Spełnione kryteria", "Criteria met")) }
                        @for (code, pl, en) in CRITERIA {
                            div.check {
                                input type="checkbox" id=(format!("k-{code}")) name="met" value=(code) checked[ticked.iter().any(|t| t == code)];
                                label for=(format!("k-{code}")) { (if lang.is_pl() { *pl } else { *en }) }
                            }
                        }
                    }
                    div.buttons { button type="submit" { (lang.pick("Zapisz listę", "Save the checklist")) } }
                }
            }
            section aria-labelledby="question" {
                h2 #question { (lang.pick("Zwróć do uzupełnienia", "Return for completion")) }
                (errors(errors_in("question"), lang))
                form.stack method="post" action=(format!("/panel/applications/{}/question", application.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    div.field {
                        label for="f-question" { (lang.pick("Pytanie do wnioskodawcy (dostanie je e-mailem)", "Question to the applicant (sent by e-mail)")) }
                        textarea #f-question name="question" rows="4" required {}
                    }
                    div.buttons { button type="submit" { (lang.pick("Wyślij pytanie", "Send the question")) } }
                }
            }
            section aria-labelledby="approve" {
                h2 #approve { (lang.pick("Przyznaj znak", "Grant the mark")) }
                (errors(errors_in("approve"), lang))
                @if let (Status::Prepared, Some(prepared)) = (case_status, &prepared) {
                    p {
                        (lang.pick("Przygotował(a): ", "Prepared by: ")) (application.prepared_by.clone().unwrap_or_default())
                        " — " (lang.pick("uchwała nr ", "resolution no. ")) (prepared.resolution) ", " (prepared.date) ". "
                        (lang.pick("Zatwierdzić musi inna osoba.", "Another person must confirm."))
                    }
                    form.stack method="post" action=(format!("/panel/applications/{}/approve", application.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        div.buttons { button type="submit" { (lang.pick("Zatwierdź i wydaj certyfikat", "Confirm and issue the certificate")) } }
                    }
                } @else {
                    p { (approve_effect(&application, lang)) }
                    form.stack method="post" action=(format!("/panel/applications/{}/approve", application.id)) {
                        input type="hidden" name="csrf" value=(csrf);
                        div.field {
                            label for="f-resolution" { (lang.pick("Numer uchwały kapituły", "Number of the board's resolution")) " " span aria-hidden="true" { "*" } }
                            input #f-resolution type="text" name="resolution" required;
                        }
                        div.field {
                            label for="f-resolution_date" { (lang.pick("Data uchwały", "Date of the resolution")) " " span aria-hidden="true" { "*" } }
                            input #f-resolution_date type="date" name="resolution_date" required;
                        }
                        div.buttons { button type="submit" { (if state.applications.second_approval { lang.pick("Przygotuj do zatwierdzenia", "Prepare for approval") } else { lang.pick("Przyznaj znak", "Grant the mark") }) } }
                    }
                }
            }
            section aria-labelledby="refuse" {
                h2 #refuse { (lang.pick("Odmów", "Refuse")) }
                (errors(errors_in("refuse"), lang))
                form.stack method="post" action=(format!("/panel/applications/{}/refuse", application.id)) {
                    input type="hidden" name="csrf" value=(csrf);
                    div.field {
                        label for="f-reasons" { (lang.pick("Uzasadnienie (wnioskodawca je przeczyta)", "Reasons (the applicant reads them)")) " " span aria-hidden="true" { "*" } }
                        textarea #f-reasons name="reasons" rows="4" required {}
                    }
                    div.buttons { button.danger type="submit" { (lang.pick("Odmów przyznania znaku", "Refuse the mark")) } }
                }
            }
        }
    };
    let shell_ = Shell { lang, title, person: Some(person), path: "/panel/applications" };
    page(status, shell(&shell_, main))
}

fn approve_effect(application: &ApplicationRecord, lang: Lang) -> &'static str {
    match Kind::parse(&application.kind).unwrap_or_default() {
        Kind::New => lang.pick(
            "Przyznanie wyda certyfikat na rok (podmiotowi zarejestrowanemu z tym NIP-em albo nowemu) i wyśle wnioskodawcy decyzję.",
            "Granting issues a certificate for a year (to the entity registered with this NIP, or a new one) and sends the decision to the applicant.",
        ),
        Kind::Renewal => lang.pick(
            "Przyznanie przedłuży certyfikat o rok i wyśle wnioskodawcy decyzję.",
            "Granting renews the certificate for a year and sends the decision to the applicant.",
        ),
        Kind::Branch => lang.pick(
            "Przyznanie doda te produkty i usługi do certyfikatu i wyśle wnioskodawcy decyzję.",
            "Granting adds these products and services to the certificate and sends the decision to the applicant.",
        ),
    }
}

fn errors(errors: &[FieldError], lang: Lang) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error-summary role="alert" tabindex="-1" {
                @for error in errors {
                    p { (lang.pick("Popraw: ", "Correct: ")) (error.field) " — " (error.message) }
                }
            }
        }
    }
}

fn notice_of(lang: Lang, done: Option<&str>) -> Markup {
    let text = match done {
        Some("checked") => lang.pick("Lista kryteriów zapisana.", "Checklist saved."),
        Some("asked") => lang.pick(
            "Pytanie wysłane; wniosek wrócił do wnioskodawcy.",
            "Question sent; the application is back with the applicant.",
        ),
        Some("prepared") => lang
            .pick("Przygotowano. Zatwierdzić musi druga osoba.", "Prepared. A second person must confirm."),
        Some("approved") => lang.pick(
            "Znak przyznany; certyfikat zapisany, wnioskodawca dostanie decyzję.",
            "Mark granted; the certificate is recorded and the applicant gets the decision.",
        ),
        Some("refused") => lang.pick(
            "Odmowa zapisana; wnioskodawca dostanie uzasadnienie.",
            "Refusal recorded; the applicant gets the reasons.",
        ),
        other => return notice(lang, other),
    };
    html! { p.notice role="status" { (text) } }
}

fn missing(person: &SignedIn, lang: Lang) -> Response {
    let title = lang.pick("Nie ma takiego wniosku", "No such application");
    let main = html! { h1 { (title) } p { a href="/panel/applications" { (lang.pick("Wnioski", "Applications")) } } };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "/panel/applications" };
    page(StatusCode::NOT_FOUND, shell(&shell_, main))
}

/// What a step of the board came to: back to the case with a notice, or the case with the
/// refusal next to the form.
async fn after(
    state: &AppState,
    person: &SignedIn,
    lang: Lang,
    id: &str,
    form: &'static str,
    result: Result<&'static str, ApplicationError>,
) -> Response {
    match result {
        Ok(done) => {
            Redirect::to(&format!("/panel/applications/{}?done={done}", encode_component(id))).into_response()
        }
        Err(ApplicationError::Invalid(errors)) => {
            case_page(state, person, lang, id, None, Some((form, &errors)), StatusCode::UNPROCESSABLE_ENTITY)
                .await
        }
        Err(ApplicationError::Conflict(message)) => {
            let errors = [FieldError::new(form, message)];
            case_page(state, person, lang, id, None, Some((form, &errors)), StatusCode::CONFLICT).await
        }
        Err(ApplicationError::NotFound(_)) => missing(person, lang),
        Err(err) => {
            tracing::error!(error = %err, "a step of an application failed");
            unavailable(lang)
        }
    }
}

pub async fn checklist(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    let met: Vec<String> = fields.all("met");
    let result = state.applications.tick(&person.actor(), &id, &met, state.now()).await.map(|()| "checked");
    after(&state, &person, lang, &id, "checklist", result).await
}

pub async fn question(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    let result = state
        .applications
        .ask(&person.actor(), &id, fields.get("question"), state.now())
        .await
        .map(|()| "asked");
    after(&state, &person, lang, &id, "question", result).await
}

pub async fn approve(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    let decision =
        match Decision::from_parts(fields.optional("resolution"), fields.optional("resolution_date")) {
            Ok(decision) => decision,
            Err(err) => return after(&state, &person, lang, &id, "approve", Err(err.into())).await,
        };
    let result =
        state.applications.approve(&person.actor(), &id, decision, state.now()).await.map(|approval| {
            match approval {
                Approval::Prepared => "prepared",
                Approval::Done { .. } => "approved",
            }
        });
    after(&state, &person, lang, &id, "approve", result).await
}

pub async fn refuse(State(state): State<AppState>, Path(id): Path<String>, form: Form<1>) -> Response {
    let Form { person, lang, fields } = form;
    let result = state
        .applications
        .refuse(&person.actor(), &id, fields.get("reasons"), state.now())
        .await
        .map(|()| "refused");
    after(&state, &person, lang, &id, "refuse", result).await
}

/// `GET /panel/applications/{id}/files/{file}`: an attachment, for download.
pub async fn file(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    match state.issuer.store.application_file(&id, &file).await {
        Ok(Some((record, content))) => {
            crate::http::apply::download(&record.name, &record.media_type, content)
        }
        Ok(None) => missing(&person, lang),
        Err(_) => unavailable(lang),
    }
}
