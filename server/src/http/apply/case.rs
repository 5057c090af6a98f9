//! `/case`: an applicant's cases and certificates, opened without a password. A single-use link
//! from a letter (`/case/login/{secret}`) asks for one click — so that a mail scanner opening the
//! link does not use it up — and then starts a session; `/case` asks for a new link by e-mail.

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{Input, MaybeApplicant, Sent, cross_site, error_summary, form_lang, input, page};
use crate::applications::{Applicant, ApplicationError, FieldError, Kind, Outcome, Status};
use crate::http::AppState;
use crate::http::pages::{Lang, Params, badge_snippet, format_instant, href, last_day, text};
use crate::http::panel::Fields;
use crate::issuer::{Verdict, format_date};
use crate::store::{ApplicationRecord, SearchQuery};

fn refused_cross_site(state: &AppState, lang: Lang) -> Response {
    super::message(
        state,
        StatusCode::FORBIDDEN,
        lang,
        lang.pick("Żądanie odrzucone", "Request refused"),
        lang.pick(
            "Ten formularz można wysłać tylko z naszej strony. Nic nie zostało zmienione.",
            "This form can be sent only from this site. Nothing was changed.",
        ),
        (&href("/case", &[], lang), lang.pick("Twoje sprawy", "Your cases")),
    )
}

/// `GET /case`: the signed-in applicant's cases and certificates, or the form asking for a link.
pub async fn home(
    State(state): State<AppState>,
    params: Params,
    MaybeApplicant(applicant): MaybeApplicant,
) -> Response {
    let lang = params.lang();
    match applicant {
        None => link_form(&state, &params, lang, "", &[], StatusCode::OK),
        Some(applicant) => match overview(&state, &applicant, lang).await {
            Ok(main) => {
                page(&state, StatusCode::OK, lang, &params, lang.pick("Twoje sprawy", "Your cases"), main)
            }
            Err(err) => {
                tracing::error!(error = %err, "reading an applicant's cases failed");
                super::unavailable(&state, lang)
            }
        },
    }
}

fn link_form(
    state: &AppState,
    params: &Params,
    lang: Lang,
    email: &str,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let title = lang.pick("Twoje sprawy", "Your cases");
    let main = html! {
        h1 { (title) }
        p {
            (lang.pick(
                "Wnioski i certyfikaty otwiera link wysłany e-mailem — bez hasła. Podaj adres osoby do kontaktu z wniosku \
                 albo adres kontaktowy podmiotu, a wyślemy nowy link (działa jeden raz).",
                "Your applications and certificates open with a link sent by e-mail — no password. Give the contact \
                 person's address from the application, or the entity's contact address, and we will send a new link \
                 (it works once).",
            ))
        }
        (error_summary(errors, lang))
        form.stack method="post" action=(href("/case", &[], lang)) novalidate {
            input type="hidden" name="lang" value=(lang.code());
            (input(Input { name: "email", label: "E-mail", value: email, kind: "email", required: true, hint: None,
                autocomplete: Some("email") }, errors, lang))
            div.buttons { button type="submit" { (lang.pick("Wyślij link", "Send the link")) } }
        }
        p { a href=(href("/apply", &[], lang)) { (lang.pick("Złóż nowy wniosek", "Apply for the mark")) } }
    };
    page(state, status, lang, params, title, main)
}

/// `POST /case`: a new sign-in link, by e-mail. The answer is the same whether or not the
/// address has a case.
pub async fn request_link(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let lang = form_lang(&fields);
    if cross_site(&state, &method, &headers) {
        return refused_cross_site(&state, lang);
    }
    let email = fields.get("email");
    match state.applications.request_link(email, lang.code(), state.now()).await {
        Ok(()) => super::message(
            &state,
            StatusCode::OK,
            lang,
            lang.pick("Sprawdź skrzynkę", "Check your inbox"),
            lang.pick(
                "Jeśli pod tym adresem jest wniosek albo certyfikat, wysłaliśmy na niego link. Działa jeden raz, przez 72 godziny.",
                "If this address has an application or a certificate, we have sent a link to it. It works once, for 72 hours.",
            ),
            (&href("/case", &[], lang), lang.pick("Twoje sprawy", "Your cases")),
        ),
        Err(ApplicationError::Invalid(errors)) => {
            link_form(&state, &Params::default(), lang, email, &errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => {
            tracing::error!(error = %err, "sending a sign-in link failed");
            super::unavailable(&state, lang)
        }
    }
}

/// `GET /case/login/{secret}`: one button that uses the link.
pub async fn login_page(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    params: Params,
) -> Response {
    let lang = params.lang();
    let title = lang.pick("Otwórz swoje sprawy", "Open your cases");
    let action = href(&format!("/case/login/{}", crate::http::pages::encode_component(&secret)), &[], lang);
    let main = html! {
        h1 { (title) }
        p { (lang.pick("Link działa jeden raz. Kliknij, aby otworzyć wnioski i certyfikaty.", "The link works once. Click to open your applications and certificates.")) }
        form.stack method="post" action=(action) {
            input type="hidden" name="lang" value=(lang.code());
            div.buttons { button type="submit" { (lang.pick("Otwórz", "Open")) } }
        }
    };
    page(&state, StatusCode::OK, lang, &params, title, main)
}

/// `POST /case/login/{secret}`: uses the link and starts a session.
pub async fn login(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let lang = form_lang(&Fields::parse(&body));
    if cross_site(&state, &method, &headers) {
        return refused_cross_site(&state, lang);
    }
    let signed_in =
        if secret.len() > 128 { Ok(None) } else { state.applications.sign_in(&secret, state.now()).await };
    match signed_in {
        Ok(Some(session)) => {
            let mut response = Redirect::to(&href("/case", &[], lang)).into_response();
            response.headers_mut().insert(header::SET_COOKIE, super::set_cookie(&state, &session));
            response
        }
        Ok(None) => super::message(
            &state,
            StatusCode::GONE,
            lang,
            lang.pick("Link już nie działa", "The link no longer works"),
            lang.pick(
                "Ten link został już użyty albo wygasł. Zamów nowy — wyślemy go na adres z wniosku.",
                "This link has been used already or has expired. Ask for a new one — we will send it to the address in the application.",
            ),
            (&href("/case", &[], lang), lang.pick("Zamów nowy link", "Ask for a new link")),
        ),
        Err(err) => {
            tracing::error!(error = %err, "using a sign-in link failed");
            super::unavailable(&state, lang)
        }
    }
}

/// `POST /case/logout`.
pub async fn logout(
    State(state): State<AppState>,
    MaybeApplicant(applicant): MaybeApplicant,
    method: Method,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let lang = form_lang(&fields);
    if cross_site(&state, &method, &headers) {
        return refused_cross_site(&state, lang);
    }
    if let Some(applicant) = applicant
        && crate::accounts::same_secret(fields.get("csrf"), &applicant.csrf)
        && let Err(err) = state.applications.sign_out(&applicant).await
    {
        tracing::warn!(error = %err, "ending an applicant's session failed");
    }
    let mut response = Redirect::to(&href("/case", &[], lang)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, super::clear_cookie(&state));
    response
}

fn status_of(application: &ApplicationRecord) -> Status {
    Status::parse(&application.status).unwrap_or(Status::Submitted)
}

fn entity_name(application: &ApplicationRecord) -> String {
    serde_json::from_str::<crate::applications::ApplicationForm>(&application.form)
        .map(|form| form.entity.name)
        .unwrap_or_default()
}

async fn overview(
    state: &AppState,
    applicant: &Applicant,
    lang: Lang,
) -> Result<Markup, crate::store::StoreError> {
    let store = &state.issuer.store;
    let applications = store.applications_of(&applicant.email).await?;
    let entities = store.entities_of(&applicant.email).await?;
    let mut certificates = Vec::new();
    for entity in &entities {
        let query = SearchQuery { entity_id: Some(entity.id.clone()), limit: 50, ..SearchQuery::default() };
        certificates.extend(store.search(&query).await?);
    }
    let now = state.now();
    let base = &state.issuer.settings.base_url;
    Ok(html! {
        h1 { (lang.pick("Twoje sprawy", "Your cases")) }
        p { (lang.pick("Zalogowano jako ", "Signed in as ")) strong { (applicant.email) } }
        h2 { (lang.pick("Wnioski", "Applications")) }
        @if applications.is_empty() {
            p { (lang.pick("Brak wniosków z tego adresu.", "No applications from this address.")) }
        } @else {
            ul {
                @for application in &applications {
                    li {
                        a href=(href(&format!("/case/{}", application.id), &[], lang)) {
                            (lang.pick("Wniosek ", "Application ")) (application.id)
                        }
                        " — " (text(&entity_name(application))) ", "
                        (Kind::parse(&application.kind).unwrap_or_default().label(lang.is_pl())) ", "
                        strong { (status_of(application).label(lang.is_pl())) }
                    }
                }
            }
        }
        p { a href=(href("/apply", &[], lang)) { (lang.pick("Złóż nowy wniosek", "Apply for the mark")) } }
        h2 { (lang.pick("Certyfikaty", "Certificates")) }
        @if certificates.is_empty() {
            p { (lang.pick("Ten adres nie jest adresem kontaktowym żadnego podmiotu ze znakiem.", "This address is not the contact of any entity with the mark.")) }
        }
        @for detail in &certificates {
            @let c = &detail.certificate;
            @let verdict = Verdict::of(c, now);
            section.card aria-labelledby=(format!("c-{}", c.id)) {
                h3 #(format!("c-{}", c.id)) { (lang.pick("Certyfikat ", "Certificate ")) (c.number) " — " (text(&detail.entity.name)) }
                p {
                    (crate::http::pages::short(verdict, lang)) ". "
                    (lang.pick("Ważny od ", "Valid from ")) (format_date(c.valid_from))
                    (lang.pick(" do ", " to ")) (last_day(c.valid_until)) (lang.pick(" włącznie.", " inclusive."))
                }
                ul {
                    li { a href=(href(&format!("/v/{}", c.id), &[], lang)) { (lang.pick("Strona weryfikacji (cel kodu QR)", "Verification page (the QR code's target)")) } }
                    li { a href=(format!("/v/{}/qr.svg", c.id)) download { (lang.pick("Kod QR (SVG)", "QR code (SVG)")) } }
                    li { a href=(format!("/v/{}/qr.png", c.id)) download { (lang.pick("Kod QR (PNG)", "QR code (PNG)")) } }
                    li { a href=(format!("/badge/{}.svg", c.id)) download { (lang.pick("Znak jako obraz (SVG)", "The badge as an image (SVG)")) } }
                    li { a href=(href(&format!("/e/{}", detail.entity.id), &[], lang)) { (lang.pick("Wszystkie kody do osadzenia (iframe, wersja przypięta)", "Every embed code (iframe, pinned version)")) } }
                    @if c.state != crate::store::CertState::Revoked {
                        li { a href=(href("/apply", &[("renew", &c.id)], lang)) { (lang.pick("Wniosek o przedłużenie (wypełniony)", "Apply to renew (filled in)")) } }
                        li { a href=(href("/apply", &[("branch", &c.id)], lang)) { (lang.pick("Wniosek o nową gałąź działalności", "Apply for another branch")) } }
                    }
                }
                @if let Some(token) = &detail.token {
                    h4 { label for=(format!("s-{}", c.id)) { (lang.pick("Kod znaku do wklejenia na stronę", "The badge's snippet for your website")) } }
                    textarea.snippet #(format!("s-{}", c.id)) readonly rows="6" {
                        (badge_snippet(base, &c.id, &c.number, &token.token, lang))
                    }
                }
            }
        }
        form method="post" action=(href("/case/logout", &[], lang)) {
            input type="hidden" name="csrf" value=(applicant.csrf);
            input type="hidden" name="lang" value=(lang.code());
            button type="submit" { (lang.pick("Wyloguj", "Sign out")) }
        }
    })
}

fn not_signed_in(state: &AppState, lang: Lang) -> Response {
    super::message(
        state,
        StatusCode::UNAUTHORIZED,
        lang,
        lang.pick("Otwórz sprawę linkiem z e-maila", "Open the case with the link from the e-mail"),
        lang.pick(
            "Sprawa otwiera się linkiem wysłanym e-mailem. Jeśli link wygasł, zamów nowy.",
            "A case opens with the link sent by e-mail. If the link has expired, ask for a new one.",
        ),
        (&href("/case", &[], lang), lang.pick("Zamów link", "Ask for a link")),
    )
}

fn no_case(state: &AppState, lang: Lang) -> Response {
    super::message(
        state,
        StatusCode::NOT_FOUND,
        lang,
        lang.pick("Nie ma takiej sprawy", "No such case"),
        lang.pick(
            "Tej sprawy nie ma wśród spraw tego adresu e-mail.",
            "This case is not among the cases of this e-mail address.",
        ),
        (&href("/case", &[], lang), lang.pick("Twoje sprawy", "Your cases")),
    )
}

/// `GET /case/{id}`: the case, its thread, its decision and the answer form while it is open.
pub async fn case(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
    MaybeApplicant(applicant): MaybeApplicant,
) -> Response {
    let lang = params.lang();
    let Some(applicant) = applicant else { return not_signed_in(&state, lang) };
    case_page(&state, &params, lang, &applicant, &id, "", &[], StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)]
async fn case_page(
    state: &AppState,
    params: &Params,
    lang: Lang,
    applicant: &Applicant,
    id: &str,
    answer: &str,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let application = match state.applications.case_of(applicant, id).await {
        Ok(application) => application,
        Err(ApplicationError::NotFound(_)) => return no_case(state, lang),
        Err(err) => {
            tracing::error!(error = %err, "reading a case failed");
            return super::unavailable(state, lang);
        }
    };
    let store = &state.issuer.store;
    let (events, files) = match (store.application_events(id).await, store.application_files(id).await) {
        (Ok(events), Ok(files)) => (events, files),
        _ => return super::unavailable(state, lang),
    };
    let case_status = status_of(&application);
    let outcome: Option<Outcome> = application.decision.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let title = format!("{} {}", lang.pick("Wniosek", "Application"), application.id);
    let main = html! {
        p { a href=(href("/case", &[], lang)) { "← " (lang.pick("Twoje sprawy", "Your cases")) } }
        h1 { (title) }
        dl.facts {
            dt { (lang.pick("Podmiot", "Entity")) } dd { (text(&entity_name(&application))) }
            dt { (lang.pick("Rodzaj", "Kind")) } dd { (Kind::parse(&application.kind).unwrap_or_default().label(lang.is_pl())) }
            dt { (lang.pick("Stan", "State")) } dd { strong { (case_status.label(lang.is_pl())) } }
            dt { (lang.pick("Złożony", "Submitted")) } dd { (format_instant(application.created_at).0) }
        }
        @if let Some(outcome) = &outcome {
            section.notice aria-labelledby="decision" {
                h2 #decision { (lang.pick("Decyzja", "Decision")) }
                @if outcome.outcome == "approved" {
                    p {
                        (lang.pick("Kapituła przyznała znak", "The board granted the mark"))
                        @if let (Some(r), Some(d)) = (&outcome.resolution, &outcome.date) {
                            (lang.pick(" uchwałą nr ", " by resolution no. ")) (r) (lang.pick(" z dnia ", " of ")) (d)
                        } "."
                    }
                    @if let Some(certificate) = &application.certificate_id {
                        p { a href=(href(&format!("/v/{certificate}"), &[], lang)) { (lang.pick("Zobacz certyfikat", "See the certificate")) } }
                    }
                } @else {
                    p { (lang.pick("Kapituła nie przyznała znaku. Uzasadnienie:", "The board did not grant the mark. Its reasons:")) }
                    p.pre { (outcome.reasons.clone().unwrap_or_default()) }
                }
            }
        }
        h2 { (lang.pick("Przebieg sprawy", "The case so far")) }
        ol.thread {
            @for event in &events {
                li {
                    p.hint { (format_instant(event.at).0) " — " (event_label(&event.kind, lang)) }
                    @if !event.body.is_empty() { p.pre { (event.body) } }
                }
            }
        }
        @if !files.is_empty() {
            h2 { (lang.pick("Załączniki", "Attachments")) }
            ul {
                @for file in &files {
                    li { a href=(format!("/case/{}/files/{}", application.id, file.id)) { (file.name) } " (" (file.size / 1024 + 1) " KB)" }
                }
            }
        }
        @if !case_status.closed() {
            h2 #answer-heading { (lang.pick("Odpowiedz lub dodaj pliki", "Answer or add files")) }
            (error_summary(errors, lang))
            form.stack method="post" action=(href(&format!("/case/{}", application.id), &[], lang)) enctype="multipart/form-data" novalidate {
                input type="hidden" name="csrf" value=(applicant.csrf);
                input type="hidden" name="lang" value=(lang.code());
                (input(Input { name: "answer", label: lang.pick("Odpowiedź dla kapituły", "Your answer to the board"), value: answer,
                    kind: "textarea", required: false, hint: None, autocomplete: None }, errors, lang))
                div.field {
                    label for="f-attachments" { (lang.pick("Pliki (PDF, JPEG, PNG)", "Files (PDF, JPEG, PNG)")) }
                    input #f-attachments type="file" name="attachments" multiple accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png";
                }
                div.buttons { button type="submit" { (lang.pick("Wyślij", "Send")) } }
            }
        }
    };
    page(state, status, lang, params, &title, main)
}

fn event_label(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "submitted" => lang.pick("Wniosek złożony", "Application submitted"),
        "question" => lang.pick("Pytanie kapituły", "The board's question"),
        "answer" => lang.pick("Odpowiedź wnioskodawcy", "The applicant's answer"),
        "prepared" => lang.pick("Przygotowano do zatwierdzenia", "Prepared for approval"),
        "approved" => lang.pick("Znak przyznany", "Mark granted"),
        "refused" => lang.pick("Odmowa", "Refused"),
        _ => lang.pick("Zdarzenie", "Event"),
    }
}

/// `POST /case/{id}`: the applicant's answer, with files.
pub async fn answer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    MaybeApplicant(applicant): MaybeApplicant,
    method: Method,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    // Who is asking and from where, before a byte of the upload is read.
    let lang = if uri_lang_en(&headers) { Lang::En } else { Lang::Pl };
    if cross_site(&state, &method, &headers) {
        return refused_cross_site(&state, lang);
    }
    let Some(applicant) = applicant else { return not_signed_in(&state, lang) };
    let Ok(multipart) = multipart else {
        return not_signed_in(&state, lang);
    };
    let Sent { fields, uploads, broken } = super::read_multipart(multipart).await;
    let lang = form_lang(&fields);
    let params = Params::default();
    if !crate::accounts::same_secret(fields.get("csrf"), &applicant.csrf) {
        return refused_cross_site(&state, lang);
    }
    let text_ = fields.get("answer").to_owned();
    if let Some(broken) = broken {
        return case_page(
            &state,
            &params,
            lang,
            &applicant,
            &id,
            &text_,
            &[broken],
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
    }
    match state.applications.answer(&applicant, &id, &text_, uploads, state.now()).await {
        Ok(()) => Redirect::to(&href(&format!("/case/{id}"), &[], lang)).into_response(),
        Err(ApplicationError::Invalid(errors)) => {
            case_page(
                &state,
                &params,
                lang,
                &applicant,
                &id,
                &text_,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(ApplicationError::NotFound(_)) => no_case(&state, lang),
        Err(ApplicationError::Conflict(_)) => {
            case_page(
                &state,
                &params,
                lang,
                &applicant,
                &id,
                &text_,
                &[FieldError::new(
                    "answer",
                    if lang.is_pl() {
                        "Sprawa jest już rozstrzygnięta."
                    } else {
                        "The case is already decided."
                    },
                )],
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(err) => {
            tracing::error!(error = %err, "recording an answer failed");
            super::unavailable(&state, lang)
        }
    }
}

/// Whether the page the form came from was in English (its `Referer` asks `lang=en`), for the
/// refusals given before the form is read.
fn uri_lang_en(headers: &HeaderMap) -> bool {
    headers.get(header::REFERER).and_then(|v| v.to_str().ok()).is_some_and(|r| r.contains("lang=en"))
}

/// `GET /case/{id}/files/{file}`: an attachment of the applicant's own case.
pub async fn file(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    params: Params,
    MaybeApplicant(applicant): MaybeApplicant,
) -> Response {
    let lang = params.lang();
    let Some(applicant) = applicant else { return not_signed_in(&state, lang) };
    if state.applications.case_of(&applicant, &id).await.is_err() {
        return no_case(&state, lang);
    }
    match state.issuer.store.application_file(&id, &file).await {
        Ok(Some((record, content))) => super::download(&record.name, &record.media_type, content),
        Ok(None) => no_case(&state, lang),
        Err(err) => {
            tracing::error!(error = %err, "reading an attachment failed");
            super::unavailable(&state, lang)
        }
    }
}
