//! Bulk work: a regional register imported from CSV (a dry run that lists every error by line and
//! column first, then the commit, all or nothing) and the register exported as CSV, with a BOM for
//! spreadsheet software when asked. The issuer's `register` does the work, as for the CLI.

use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Lenient, Staff, Viewer};
use super::{Shell, page, shell};
use crate::accounts::{SignedIn, same_secret};
use crate::http::AppState;
use crate::http::pages::Lang;
use crate::issuer::{IMPORT_MAX_BYTES, ImportReport, IssuerError};

/// Largest import request: the file's limit and room for the form's other fields.
pub const IMPORT_BODY: usize = IMPORT_MAX_BYTES + 64 * 1024;

pub async fn import_page(Staff { person, lang }: Staff) -> Response {
    import_view(&person, lang, None, None, StatusCode::OK)
}

fn import_form(person: &SignedIn, lang: Lang, error: Option<&str>) -> Markup {
    html! {
        form.stack method="post" action="/panel/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(person.session.csrf);
            div.field {
                label for="f-file" { (lang.pick("Plik CSV (UTF-8, z BOM albo bez)", "CSV file (UTF-8, with or without a BOM)")) }
                @if let Some(error) = error {
                    input #f-file type="file" name="file" accept=".csv,text/csv" required aria-invalid="true" aria-describedby="f-file-error";
                    p.error #f-file-error { (error) }
                } @else {
                    input #f-file type="file" name="file" accept=".csv,text/csv" required;
                }
            }
            div.buttons {
                button type="submit" name="commit" value="no" { (lang.pick("Sprawdź (bez zapisu)", "Check (dry run)")) }
                button type="submit" name="commit" value="yes" { (lang.pick("Importuj", "Import")) }
            }
        }
    }
}

fn import_view(
    person: &SignedIn,
    lang: Lang,
    report: Option<&ImportReport>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let title = lang.pick("Import rejestru z CSV", "Import a register from CSV");
    let main = html! {
        h1 { (title) }
        p {
            (lang.pick(
                "Kolumny: number, id, name, legal_form, nip, regon, krs, city, voivodeship, domains, contact, products, \
                 valid_from, valid_until, state, reason, note (wymagane: name, legal_form, domains, products, valid_from). \
                 Najpierw sprawdź plik: błędy są podane z numerem wiersza i nazwą kolumny. Import zapisuje wszystko albo nic.",
                "Columns: number, id, name, legal_form, nip, regon, krs, city, voivodeship, domains, contact, products, \
                 valid_from, valid_until, state, reason, note (required: name, legal_form, domains, products, valid_from). \
                 Check the file first: errors come with their line and column. The import writes everything or nothing.",
            ))
        }
        @if let Some(report) = report { (report_view(report, lang)) }
        (import_form(person, lang, error))
        p { a href="/panel/export" { (lang.pick("Eksport rejestru do CSV", "Export the register to CSV")) } }
    };
    let shell_ = Shell { lang, title: title.to_owned(), person: Some(person), path: "/panel/import" };
    page(status, shell(&shell_, main))
}

fn report_view(report: &ImportReport, lang: Lang) -> Markup {
    html! {
        @if report.errors.is_empty() {
            div.notice role="status" {
                p {
                    @if report.committed { (lang.pick("Zaimportowano. ", "Imported. ")) } @else { (lang.pick("Plik jest poprawny; nic jeszcze nie zapisano. ", "The file is correct; nothing is written yet. ")) }
                    (lang.pick("Certyfikaty: ", "Certificates: ")) (report.certificates)
                    (lang.pick("; nowe podmioty: ", "; new entities: ")) (report.entities)
                    (lang.pick("; podmioty już w rejestrze: ", "; entities already registered: ")) (report.reused_entities)
                    "."
                }
            }
        } @else {
            div.error-summary role="alert" tabindex="-1" {
                p {
                    (lang.pick("Nic nie zostało zapisane. Błędy: ", "Nothing was written. Errors: ")) (report.errors.len())
                }
            }
            div.table-wrap tabindex="0" role="region" aria-label=(lang.pick("Tabela (przewijana)", "Table (scrollable)")) {
                table {
                    caption { (lang.pick("Błędy w pliku", "Errors in the file")) }
                    thead { tr {
                        th scope="col" { (lang.pick("Wiersz", "Line")) }
                        th scope="col" { (lang.pick("Kolumna", "Column")) }
                        th scope="col" { (lang.pick("Błąd", "Error")) }
                    } }
                    tbody {
                        @for error in &report.errors {
                            tr { td { (error.row) } td { code { (error.column) } } td { (error.message) } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn import(
    State(state): State<AppState>,
    Staff { person, lang }: Staff,
    mut multipart: Multipart,
) -> Response {
    let mut csrf = String::new();
    let mut commit = false;
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let Ok(bytes) = field.bytes().await else {
                    let message =
                        lang.pick("plik jest za duży albo przerwany", "the file is too large or was cut off");
                    return import_view(&person, lang, None, Some(message), StatusCode::PAYLOAD_TOO_LARGE);
                };
                match name.as_str() {
                    "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
                    "commit" => commit = bytes.as_ref() == b"yes",
                    "file" => file = Some(bytes.to_vec()),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                let message =
                    lang.pick("plik jest za duży albo przerwany", "the file is too large or was cut off");
                return import_view(&person, lang, None, Some(message), StatusCode::BAD_REQUEST);
            }
        }
    }
    if !same_secret(&csrf, &person.session.csrf) {
        let message = lang
            .pick("formularz wygasł: otwórz stronę ponownie", "the form has expired: open the page again");
        return import_view(&person, lang, None, Some(message), StatusCode::FORBIDDEN);
    }
    let Some(file) = file.filter(|file| !file.is_empty()) else {
        return import_view(
            &person,
            lang,
            None,
            Some(lang.pick("wybierz plik", "choose a file")),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    match state.issuer.import_register(&person.actor(), &file, commit, state.now()).await {
        Ok(report) => {
            let status =
                if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
            import_view(&person, lang, Some(&report), None, status)
        }
        Err(IssuerError::Invalid { message, .. }) => {
            import_view(&person, lang, None, Some(&message), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => {
            tracing::error!(error = %err, "register import failed");
            super::auth::unavailable(lang)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    bom: Option<String>,
    #[serde(default)]
    download: Option<String>,
}

pub async fn export(
    State(state): State<AppState>,
    Viewer { person, lang }: Viewer,
    Lenient(query): Lenient<ExportQuery>,
) -> Response {
    if query.download.is_none() {
        let title = lang.pick("Eksport rejestru do CSV", "Export the register to CSV");
        let main = html! {
            h1 { (title) }
            form.stack method="get" action="/panel/export" {
                input type="hidden" name="download" value="1";
                div.check {
                    input #f-bom type="checkbox" name="bom" value="1";
                    label for="f-bom" { (lang.pick("Ze znacznikiem BOM (dla arkuszy kalkulacyjnych)", "With a BOM (for spreadsheet software)")) }
                }
                button type="submit" { (lang.pick("Pobierz CSV", "Download the CSV")) }
            }
        };
        let shell_ = Shell { lang, title: title.to_owned(), person: Some(&person), path: "/panel/export" };
        return page(StatusCode::OK, shell(&shell_, main));
    }
    match state.issuer.export_register(query.bom.is_some()).await {
        Ok(csv) => {
            let name = format!("rejestr-zakup-prospoleczny-{}.csv", crate::issuer::format_date(state.now()));
            let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                    (header::CONTENT_DISPOSITION, disposition),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                csv,
            )
                .into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "register export failed");
            super::auth::unavailable(lang)
        }
    }
}
