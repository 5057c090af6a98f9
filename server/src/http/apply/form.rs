//! `/apply`: the application form. One page for a new mark, a renewal (`?renew=ID`) and another
//! branch (`?branch=ID`), the last two filled in from the certificate. Every refusal comes back
//! next to its field and in a summary at the top; the form's one-time key makes a second
//! submission (a double click, a reload) return the first application instead of a copy.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use zp_shared::LegalForm;

use super::{Input, MaybeApplicant, Sent, error_for, error_summary, form_lang, input, said};
use crate::applications::form::{ApplicationForm, ContactPart, EntityPart};
use crate::applications::{ApplicationError, FieldError, Kind, Via, files};
use crate::http::AppState;
use crate::http::pages::{Lang, Params, href, legal_form_label};
use crate::http::panel::Fields;
use crate::issuer::{NewProduct, VOIVODESHIPS};

/// The form's fields as the page shows them.
fn blank(kind: Kind, lang: Lang) -> Fields {
    Fields::of([
        ("kind", kind.as_str().to_owned()),
        ("submission", crate::accounts::random_secret()),
        ("lang", lang.code().to_owned()),
        ("entity.legal_form", "social_cooperative".to_owned()),
    ])
}

/// Products one per line: `Name` or `Name = GTIN`.
fn product_lines(products: &[NewProduct]) -> String {
    products
        .iter()
        .map(|p| match &p.gtin {
            Some(gtin) => format!("{} = {gtin}", p.name),
            None => p.name.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_products(text: &str) -> Vec<NewProduct> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| match line.rsplit_once('=') {
            Some((name, gtin)) if gtin.trim().chars().all(|c| c.is_ascii_digit() || c == ' ') => {
                NewProduct { name: name.trim().to_owned(), gtin: Some(gtin.trim().to_owned()) }
            }
            _ => NewProduct { name: line.to_owned(), gtin: None },
        })
        .collect()
}

fn lines(text: &str) -> Vec<String> {
    text.split(['\n', ',', ';']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// The application a submitted form describes.
fn application(fields: &Fields) -> ApplicationForm {
    ApplicationForm {
        kind: Kind::parse(fields.get("kind")).unwrap_or_default(),
        certificate_id: fields.optional("certificate_id"),
        entity: EntityPart {
            name: fields.get("entity.name").to_owned(),
            legal_form: fields.get("entity.legal_form").to_owned(),
            domains: lines(fields.get("entity.domains")),
            nip: fields.optional("entity.nip"),
            regon: fields.optional("entity.regon"),
            krs: fields.optional("entity.krs"),
            address: fields.optional("entity.address"),
            city: fields.optional("entity.city"),
            voivodeship: fields.optional("entity.voivodeship"),
        },
        products: parse_products(fields.get("products")),
        quality: fields.get("quality").to_owned(),
        contact: ContactPart {
            name: fields.get("contact.name").to_owned(),
            email: fields.get("contact.email").to_owned(),
            phone: fields.optional("contact.phone"),
        },
        consent: fields.get("consent") == "yes",
        lang: Some(fields.get("lang").to_owned()),
        attachments: Vec::new(),
    }
}

/// `GET /apply`, perhaps `?renew=ID` or `?branch=ID`.
pub async fn page(
    State(state): State<AppState>,
    params: Params,
    MaybeApplicant(applicant): MaybeApplicant,
) -> Response {
    let lang = params.lang();
    let (kind, id) = match (params.get("renew"), params.get("branch")) {
        (Some(id), _) => (Kind::Renewal, Some(id.to_owned())),
        (None, Some(id)) => (Kind::Branch, Some(id.to_owned())),
        _ => (Kind::New, None),
    };
    let mut fields = blank(kind, lang);
    let mut errors = Vec::new();
    if let Some(id) = id {
        let found = match crate::ids::normalize_certificate_id(&id) {
            Some(id) => match state.issuer.store.certificate(&id).await {
                Ok(found) => found,
                Err(err) => {
                    tracing::error!(error = %err, "reading a certificate for a renewal form failed");
                    return super::unavailable(&state, lang);
                }
            },
            None => None,
        };
        match found {
            Some(detail) => {
                let e = &detail.entity;
                let products =
                    if kind == Kind::Renewal { product_lines(&products_of(&detail)) } else { String::new() };
                fields = Fields::of([
                    ("kind", kind.as_str().to_owned()),
                    ("submission", fields.get("submission").to_owned()),
                    ("lang", lang.code().to_owned()),
                    ("certificate_id", detail.certificate.id.clone()),
                    ("entity.name", e.name.clone()),
                    ("entity.legal_form", e.legal_form.clone()),
                    ("entity.nip", e.nip.clone().unwrap_or_default()),
                    ("entity.regon", e.regon.clone().unwrap_or_default()),
                    ("entity.krs", e.krs.clone().unwrap_or_default()),
                    ("entity.city", e.city.clone().unwrap_or_default()),
                    ("entity.voivodeship", e.voivodeship.clone().unwrap_or_default()),
                    ("entity.domains", e.domains.join("\n")),
                    ("products", products),
                    ("contact.email", applicant.as_ref().map(|a| a.email.clone()).unwrap_or_default()),
                ]);
            }
            None => errors.push(FieldError::new(
                "certificate_id",
                "not a certificate ID (8 characters, as in its QR code)",
            )),
        }
    } else if let Some(applicant) = &applicant {
        fields = Fields::of([
            ("kind", kind.as_str().to_owned()),
            ("submission", fields.get("submission").to_owned()),
            ("lang", lang.code().to_owned()),
            ("entity.legal_form", "social_cooperative".to_owned()),
            ("contact.email", applicant.email.clone()),
        ]);
    }
    form_page(&state, &params, lang, &fields, &errors, StatusCode::OK)
}

fn products_of(detail: &crate::store::CertificateDetail) -> Vec<NewProduct> {
    detail.products.iter().map(|p| NewProduct { name: p.name.clone(), gtin: p.gtin.clone() }).collect()
}

/// `POST /apply`: the form with its files.
pub async fn submit(
    State(state): State<AppState>,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    // A form another site makes visitors' browsers send would write to addresses of its choosing.
    if super::cross_site(&state, &method, &headers) {
        return super::message(
            &state,
            StatusCode::FORBIDDEN,
            Lang::Pl,
            "Żądanie odrzucone / Request refused",
            "Wniosek można wysłać tylko z formularza na tej stronie. / An application can be sent only from the form on this site.",
            ("/apply", "Formularz wniosku / The application form"),
        );
    }
    let Sent { fields, uploads, broken } = match multipart {
        Ok(multipart) => super::read_multipart(multipart).await,
        Err(_) => {
            let lang = Lang::Pl;
            return super::message(
                &state,
                StatusCode::BAD_REQUEST,
                lang,
                "Formularz nie dotarł w całości / The form did not arrive whole",
                "Otwórz formularz ponownie i wyślij go jeszcze raz. / Open the form again and send it once more.",
                ("/apply", "Formularz wniosku / The application form"),
            );
        }
    };
    let lang = form_lang(&fields);
    let params = Params::default();
    if let Some(broken) = broken {
        return form_page(&state, &params, lang, &fields, &[broken], StatusCode::PAYLOAD_TOO_LARGE);
    }
    let submission = fields.get("submission").to_owned();
    let via = if submission.len() >= 16 {
        Via::Form { submission }
    } else {
        return form_page(
            &state,
            &params,
            lang,
            &with_key(&fields, lang),
            &[FieldError::new("submission", "the form has expired; send it again")],
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state.applications.submit(application(&fields), uploads, via, state.now()).await {
        Ok(done) => Redirect::to(&href(&format!("/apply/received/{}", done.id), &[], lang)).into_response(),
        Err(ApplicationError::Invalid(errors)) => {
            form_page(&state, &params, lang, &fields, &errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => {
            tracing::error!(error = %err, "recording an application failed");
            super::unavailable(&state, lang)
        }
    }
}

/// The fields with a fresh one-time key.
fn with_key(fields: &Fields, lang: Lang) -> Fields {
    let mut pairs: Vec<(String, String)> = [
        "kind",
        "certificate_id",
        "entity.name",
        "entity.legal_form",
        "entity.nip",
        "entity.regon",
        "entity.krs",
        "entity.address",
        "entity.city",
        "entity.voivodeship",
        "entity.domains",
        "products",
        "quality",
        "contact.name",
        "contact.email",
        "contact.phone",
        "consent",
    ]
    .iter()
    .map(|name| ((*name).to_owned(), fields.get(name).to_owned()))
    .collect();
    pairs.push(("submission".into(), crate::accounts::random_secret()));
    pairs.push(("lang".into(), lang.code().to_owned()));
    Fields::from_pairs(pairs)
}

fn form_page(
    state: &AppState,
    params: &Params,
    lang: Lang,
    fields: &Fields,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let kind = Kind::parse(fields.get("kind")).unwrap_or_default();
    let title = match kind {
        Kind::New => {
            lang.pick("Wniosek o znak „Zakup Prospołeczny”", "Apply for the “Zakup Prospołeczny” mark")
        }
        Kind::Renewal => lang.pick("Wniosek o przedłużenie certyfikatu", "Apply to renew a certificate"),
        Kind::Branch => {
            lang.pick("Wniosek o nową gałąź działalności", "Apply for another branch of activity")
        }
    };
    let chosen_form = fields.get("entity.legal_form");
    let chosen_voivodeship = fields.get("entity.voivodeship");
    let select_error = |name: &str| error_for(errors, name);
    let files_error = error_for(errors, "attachments");
    let consent_error = error_for(errors, "consent");
    let action = href("/apply", &[], lang);
    let main = html! {
        h1 { (title) }
        p {
            (lang.pick(
                "Znak przyznaje regionalny ośrodek polityki społecznej na rok, za zgodą kapituły znaku. \
                 Po wysłaniu wniosku dostaniesz e-mail z linkiem do sprawy: tam zobaczysz jej stan, \
                 pytania kapituły i decyzję.",
                "The regional social policy centre grants the mark for a year, on the decision of the \
                 mark's board. After you send the application you get an e-mail with a link to the case: \
                 its state, the board's questions and the decision are there.",
            ))
        }
        p { (lang.pick("Pola oznaczone * są wymagane.", "Fields marked * are required.")) }
        (error_summary(errors, lang))
        form.stack method="post" action=(action) enctype="multipart/form-data" novalidate {
            input type="hidden" name="submission" value=(fields.get("submission"));
            input type="hidden" name="lang" value=(lang.code());
            input type="hidden" name="kind" value=(kind.as_str());
            @if kind != Kind::New {
                (input(Input { name: "certificate_id", label: lang.pick("Identyfikator certyfikatu", "Certificate ID"),
                    value: fields.get("certificate_id"), kind: "text", required: true,
                    hint: Some(lang.pick("8 znaków, jak w kodzie QR na opakowaniu.", "8 characters, as in the QR code on the packaging.")),
                    autocomplete: Some("off") }, errors, lang))
            }
            fieldset {
                legend { (lang.pick("Podmiot", "The entity")) }
                (input(Input { name: "entity.name", label: lang.pick("Pełna nazwa", "Full name"), value: fields.get("entity.name"),
                    kind: "text", required: true, hint: None, autocomplete: Some("organization") }, errors, lang))
                div.field {
                    label for="f-entity-legal_form" { (lang.pick("Forma prawna", "Legal form")) " " span aria-hidden="true" { "*" } }
                    select #f-entity-legal_form name="entity.legal_form" required
                        aria-invalid=[select_error("entity.legal_form").map(|_| "true")]
                        aria-describedby=[select_error("entity.legal_form").map(|_| "f-entity-legal_form-error")] {
                        @for form in LegalForm::ALL {
                            option value=(form.code()) selected[chosen_form == form.code()] { (legal_form_label(form.code(), lang)) }
                        }
                    }
                    @if let Some(error) = select_error("entity.legal_form") { p.error #f-entity-legal_form-error { (said(error, lang)) } }
                }
                (input(Input { name: "entity.nip", label: "NIP", value: fields.get("entity.nip"), kind: "text", required: false,
                    hint: Some(lang.pick("10 cyfr; myślniki i spacje są dozwolone.", "10 digits; hyphens and spaces are fine.")),
                    autocomplete: Some("off") }, errors, lang))
                (input(Input { name: "entity.regon", label: "REGON", value: fields.get("entity.regon"), kind: "text",
                    required: false, hint: None, autocomplete: Some("off") }, errors, lang))
                (input(Input { name: "entity.krs", label: "KRS", value: fields.get("entity.krs"), kind: "text",
                    required: false, hint: None, autocomplete: Some("off") }, errors, lang))
                (input(Input { name: "entity.address", label: lang.pick("Adres (ulica, numer, kod pocztowy)", "Address (street, number, postcode)"),
                    value: fields.get("entity.address"), kind: "text", required: false,
                    hint: None, autocomplete: Some("street-address") }, errors, lang))
                (input(Input { name: "entity.city", label: lang.pick("Miejscowość", "City"), value: fields.get("entity.city"),
                    kind: "text", required: false, hint: None, autocomplete: Some("address-level2") }, errors, lang))
                div.field {
                    label for="f-entity-voivodeship" { (lang.pick("Województwo", "Voivodeship")) }
                    select #f-entity-voivodeship name="entity.voivodeship"
                        aria-invalid=[select_error("entity.voivodeship").map(|_| "true")]
                        aria-describedby=[select_error("entity.voivodeship").map(|_| "f-entity-voivodeship-error")] {
                        option value="" { "—" }
                        @for name in VOIVODESHIPS {
                            option value=(name) selected[chosen_voivodeship == name] { (name) }
                        }
                    }
                    @if let Some(error) = select_error("entity.voivodeship") { p.error #f-entity-voivodeship-error { (said(error, lang)) } }
                }
                (input(Input { name: "entity.domains", label: lang.pick("Strony internetowe, na których pojawi się znak", "Websites where the badge will appear"),
                    value: fields.get("entity.domains"), kind: "textarea", required: true,
                    hint: Some(lang.pick("Po jednej w wierszu, np. spoldzielnia.pl.", "One per line, e.g. cooperative.pl.")),
                    autocomplete: None }, errors, lang))
            }
            fieldset {
                legend { (lang.pick("Produkty i usługi", "Products and services")) }
                (input(Input { name: "products", label: match kind {
                        Kind::Branch => lang.pick("Nowe produkty lub usługi", "The new products or services"),
                        _ => lang.pick("Produkty lub usługi, dla których wnioskujesz o znak", "Products or services the mark is for"),
                    },
                    value: fields.get("products"), kind: "textarea", required: true,
                    hint: Some(lang.pick("Po jednym w wierszu; numer GTIN (kod kreskowy) po znaku =, np. „Powidła = 5901234123457”.",
                        "One per line; a GTIN (barcode number) after =, e.g. “Plum jam = 5901234123457”.")),
                    autocomplete: None }, errors, lang))
                (input(Input { name: "quality", label: lang.pick("Jak dbacie o jakość", "How you ensure quality"),
                    value: fields.get("quality"), kind: "textarea", required: true,
                    hint: Some(if lang.is_pl() { "Receptury, kontrola, certyfikaty, opinie klientów… (do 4000 znaków)." } else { "Recipes, checks, certificates, customers' opinions… (up to 4000 characters)." }),
                    autocomplete: None }, errors, lang))
            }
            fieldset {
                legend { (lang.pick("Osoba do kontaktu", "Contact person")) }
                (input(Input { name: "contact.name", label: lang.pick("Imię i nazwisko", "Name"), value: fields.get("contact.name"),
                    kind: "text", required: true, hint: None, autocomplete: Some("name") }, errors, lang))
                (input(Input { name: "contact.email", label: "E-mail", value: fields.get("contact.email"), kind: "email", required: true,
                    hint: Some(lang.pick("Na ten adres wyślemy link do sprawy i decyzję.", "The link to the case and the decision go to this address.")),
                    autocomplete: Some("email") }, errors, lang))
                (input(Input { name: "contact.phone", label: lang.pick("Telefon", "Phone"), value: fields.get("contact.phone"),
                    kind: "tel", required: false, hint: None, autocomplete: Some("tel") }, errors, lang))
            }
            div.field {
                label for="f-attachments" { (lang.pick("Załączniki", "Attachments")) }
                p.hint #f-attachments-hint {
                    (if lang.is_pl() {
                        format!("PDF, JPEG lub PNG, do {} plików po najwyżej {} MB (np. statut, zdjęcia produktów, certyfikaty jakości). \
                                 Jeśli formularz wróci z błędami, dołącz pliki ponownie.", files::PER_SUBMISSION, files::MAX_BYTES / (1024 * 1024))
                    } else {
                        format!("PDF, JPEG or PNG, up to {} files of at most {} MB each (statutes, product photos, quality certificates). \
                                 If the form comes back with errors, attach the files again.", files::PER_SUBMISSION, files::MAX_BYTES / (1024 * 1024))
                    })
                }
                input #f-attachments type="file" name="attachments" multiple
                    accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
                    aria-invalid=[files_error.map(|_| "true")]
                    aria-describedby=(if files_error.is_some() { "f-attachments-hint f-attachments-error" } else { "f-attachments-hint" });
                @for error in errors.iter().filter(|e| e.field == "attachments") {
                    p.error #f-attachments-error { (said(error, lang)) }
                }
            }
            div.field {
                div.check {
                    input #f-consent type="checkbox" name="consent" value="yes" checked[fields.get("consent") == "yes"]
                        aria-invalid=[consent_error.map(|_| "true")] aria-describedby=[consent_error.map(|_| "f-consent-error")];
                    label for="f-consent" {
                        (lang.pick(
                            "Zgadzam się na przetwarzanie podanych danych przez wystawcę znaku w celu rozpatrzenia wniosku i prowadzenia rejestru znaku.",
                            "I agree that the issuer of the mark processes these data to review the application and keep the mark's register.",
                        ))
                        " " span aria-hidden="true" { "*" }
                    }
                }
                @if let Some(error) = consent_error { p.error #f-consent-error { (said(error, lang)) } }
            }
            @if let Some(error) = error_for(errors, "submission") { p.error { (said(error, lang)) } }
            div.buttons { button type="submit" { (lang.pick("Wyślij wniosek", "Send the application")) } }
        }
        p.hint { (lang.pick("Wcześniej składałeś wniosek? ", "Applied before? ")) a href=(href("/case", &[], lang)) { (lang.pick("Twoje sprawy", "Your cases")) } }
    };
    super::page(state, status, lang, params, title, main)
}

/// `GET /apply/received/{id}`: the acknowledgement after a submission.
pub async fn received(State(state): State<AppState>, Path(id): Path<String>, params: Params) -> Response {
    let lang = params.lang();
    let known = id.len() <= 20 && matches!(state.issuer.store.application(&id).await, Ok(Some(_)));
    if !known {
        return super::message(
            &state,
            StatusCode::NOT_FOUND,
            lang,
            lang.pick("Nie ma takiego wniosku", "No such application"),
            lang.pick("Sprawdź link albo złóż wniosek ponownie.", "Check the link, or apply again."),
            (&href("/apply", &[], lang), lang.pick("Formularz wniosku", "The application form")),
        );
    }
    let title = lang.pick("Wniosek przyjęty", "Application received");
    let main = html! {
        h1 { (title) }
        div.notice role="status" {
            p { (lang.pick("Numer wniosku: ", "Application number: ")) strong { (id) } }
        }
        p {
            (lang.pick(
                "Na adres e-mail osoby do kontaktu wysłaliśmy potwierdzenie z linkiem do sprawy. Link działa jeden raz; \
                 później możesz zamówić nowy na stronie „Twoje sprawy”.",
                "We have sent a confirmation with a link to the case to the contact person's e-mail. The link works once; \
                 later you can ask for a new one on the “Your cases” page.",
            ))
        }
        p { a href=(href("/case", &[], lang)) { (lang.pick("Twoje sprawy", "Your cases")) } }
    };
    super::page(&state, StatusCode::OK, lang, &params, title, main)
}
