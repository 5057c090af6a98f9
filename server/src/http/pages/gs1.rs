//! GS1 Digital Link resolver `/01/{GTIN}`: a product's own barcode URL leads to the verification
//! page of the certificate that lists it. Key qualifiers after the GTIN and the query (other than
//! `lang`) are accepted and ignored.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::{ErrorPage, Page, error_page, shell, text, truncate};
use super::{Lang, Params, href, html};
use crate::http::AppState;
use crate::ids::{GtinError, parse_gtin14};

pub async fn resolve(
    State(state): State<AppState>,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    params: Params,
) -> Response {
    let lang = params.lang();
    let base_url = &state.issuer.settings.base_url;
    let raw = path.ok().and_then(|Path(mut segments)| segments.remove("gtin")).unwrap_or_default();
    let gtin = match parse_gtin14(&raw) {
        Ok(gtin) => gtin,
        Err(err) => {
            let title = lang.pick("Nieprawidłowy numer GTIN", "Invalid GTIN");
            let main = html! {
                section.verdict.bad aria-labelledby="verdict" {
                    p.verdict-icon aria-hidden="true" { "!" }
                    h1 #verdict { (title) }
                    p { (gtin_problem(&raw, err, lang)) }
                }
                p {
                    (lang.pick(
                        "Numer został błędnie wpisany lub odczytany. Zeskanuj kod jeszcze raz albo ",
                        "The number was mistyped or misread. Scan the code again, or ",
                    ))
                    a href=(href("/", &[], lang)) { (lang.pick("wyszukaj produkt w rejestrze", "search for the product in the registry")) }
                    "."
                }
            };
            let page = Page {
                lang,
                params: &params,
                title: title.to_owned(),
                base_url,
                canonical: None,
                forms: false,
            };
            return html(StatusCode::BAD_REQUEST, lang, shell(&page, main));
        }
    };
    match state.issuer.store.certificate_by_gtin(&gtin).await {
        Ok(Some(id)) => {
            let target = href(&format!("/v/{id}"), &[], lang);
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(&target) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Ok(None) => {
            let title = lang.pick("Brak certyfikatu dla tego produktu", "No certificate for this product");
            let main = html! {
                section.verdict.bad aria-labelledby="verdict" {
                    p.verdict-icon aria-hidden="true" { "!" }
                    h1 #verdict { (title) }
                    p {
                        (lang.pick(
                            "Żaden certyfikat w rejestrze nie obejmuje produktu o numerze GTIN ",
                            "No certificate in the registry covers the product with GTIN ",
                        ))
                        span.nowrap { (gtin) } "."
                    }
                    p.strong {
                        (lang.pick(
                            "Jeśli na opakowaniu jest znak „Zakup Prospołeczny”, mógł zostać użyty bez prawa.",
                            "If the packaging shows the “Zakup Prospołeczny” mark, it may have been used without right.",
                        ))
                    }
                }
                p {
                    a href=(href("/", &[], lang)) { (lang.pick("Wyszukaj producenta w rejestrze", "Search for the maker in the registry")) }
                }
            };
            let page = Page {
                lang,
                params: &params,
                title: title.to_owned(),
                base_url,
                canonical: None,
                forms: false,
            };
            html(StatusCode::NOT_FOUND, lang, shell(&page, main))
        }
        Err(err) => {
            tracing::error!(error = %err, "GS1 resolver: store read failed");
            error_page(ErrorPage::Internal, &params, base_url)
        }
    }
}

fn gtin_problem(raw: &str, err: GtinError, lang: Lang) -> maud::Markup {
    let shown = truncate(raw, 40);
    match err {
        GtinError::Length => html! {
            (lang.pick("Numer GTIN ma 8, 12, 13 lub 14 cyfr, a „", "A GTIN has 8, 12, 13 or 14 digits, and “"))
            (text(&shown))
            (lang.pick("” tego warunku nie spełnia.", "” does not."))
        },
        GtinError::CheckDigit { found, expected } => html! {
            (lang.pick("Ostatnia cyfra numeru ", "The last digit of "))
            span.nowrap { (text(&shown)) }
            (lang.pick(" (cyfra kontrolna) to ", " (the check digit) is "))
            strong { (found) }
            (lang.pick(", a z poprzednich cyfr wynika ", ", but the digits before it give "))
            strong { (expected) }
            "."
        },
    }
}
