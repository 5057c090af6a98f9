//! The registry home `/`: what the mark is, and a search over certified entities.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{ErrorPage, Page, badge, error_page, legal_form_label, place, shell, text};
use super::{Lang, Params, href, html};
use crate::http::AppState;
use crate::http::api::search_query;
use crate::issuer::Verdict;
use crate::store::CertificateDetail;

const PAGE_SIZE: u32 = 20;

pub async fn page(State(state): State<AppState>, params: Params) -> Response {
    let lang = params.lang();
    let base_url = &state.issuer.settings.base_url;
    let q = params.get("q").unwrap_or_default().trim().to_owned();
    let offset = params.get("offset").and_then(|o| o.trim().parse::<u32>().ok()).unwrap_or(0);
    let (status, results) = match search_query(Some(&q), Some(PAGE_SIZE), Some(offset)) {
        Err(err) => {
            let message = match err.field.as_deref() {
                Some("q") => lang.pick("Wpisz najwyżej 200 znaków.", "Type at most 200 characters."),
                _ => lang.pick("Nie ma takiej strony wyników.", "There is no such page of results."),
            };
            (StatusCode::UNPROCESSABLE_ENTITY, Err(message))
        }
        Ok(query) => match state.issuer.store.search(&query).await {
            Ok(found) => (StatusCode::OK, Ok(found)),
            Err(err) => {
                tracing::error!(error = %err, "registry search failed");
                return error_page(ErrorPage::Internal, &params, base_url);
            }
        },
    };
    let title = if q.is_empty() {
        lang.pick("Rejestr certyfikatów", "Certificate registry").to_owned()
    } else {
        format!(
            "{} „{}”",
            lang.pick("Wyszukiwanie", "Search for"),
            super::layout::plain(&super::layout::truncate(&q, 60))
        )
    };
    let now = state.now();
    let main = html! {
        h1 { (lang.pick("Rejestr znaku „Zakup Prospołeczny”", "Registry of the “Zakup Prospołeczny” mark")) }
        p.lead {
            (lang.pick(
                "Sprawdź, czy podmiot ekonomii społecznej ma ważny certyfikat znaku i na jakie produkty lub usługi.",
                "Check whether a social-economy entity holds a valid certificate of the mark, and for which \
                 products or services.",
            ))
        }
        (search_form(&q, results.as_ref().err().copied(), lang))
        @match &results {
            Ok(found) => (results_list(found, &q, offset, now, lang)),
            Err(_) => {},
        }
        (about(lang))
    };
    let page = Page { lang, params: &params, title, base_url, canonical: None, forms: false };
    html(status, lang, shell(&page, main))
}

fn search_form(q: &str, error: Option<&str>, lang: Lang) -> Markup {
    html! {
        form.search role="search" method="get" action="/" {
                label for="q" {
                    (lang.pick(
                        "Nazwa podmiotu, miejscowość, produkt, NIP, KRS lub numer certyfikatu",
                        "Entity name, town, product, NIP, KRS or certificate number",
                    ))
                }
                div.row {
                    @if error.is_some() {
                        input #q type="search" name="q" value=(q) maxlength="200" autocomplete="off"
                            aria-invalid="true" aria-describedby="q-error";
                    } @else {
                        input #q type="search" name="q" value=(q) maxlength="200" autocomplete="off";
                    }
                    @if lang == Lang::En {
                        input type="hidden" name="lang" value="en";
                    }
                    button type="submit" { (lang.pick("Szukaj", "Search")) }
                }
                @if let Some(error) = error {
                    p #q-error .error { span aria-hidden="true" { "! " } (error) }
                }
        }
    }
}

fn results_list(found: &[CertificateDetail], q: &str, offset: u32, now: i64, lang: Lang) -> Markup {
    let more = found.len() as u32 >= PAGE_SIZE;
    let first = offset.saturating_add(1);
    let last = offset.saturating_add(found.len() as u32);
    html! {
        section aria-labelledby="results-h" {
            h2 #results-h {
                @if q.is_empty() {
                    (lang.pick("Certyfikaty w rejestrze", "Certificates in the registry"))
                } @else {
                    (lang.pick("Wyniki dla ", "Results for ")) "„" (text(q)) "”"
                }
            }
            @if found.is_empty() {
                p {
                    @if offset > 0 {
                        (lang.pick("Nie ma więcej wyników.", "There are no more results."))
                    } @else {
                        (lang.pick(
                            "Nie znaleziono żadnego certyfikatu. Sprawdź pisownię albo wpisz krótszy fragment nazwy.",
                            "No certificate found. Check the spelling or type a shorter part of the name.",
                        ))
                    }
                }
            } @else {
                p.meta {
                    (lang.pick("Pozycje ", "Items ")) (first) "–" (last)
                }
                ol.results start=(first) {
                    @for detail in found {
                        (result(detail, now, lang))
                    }
                }
            }
            @if offset > 0 || more {
                nav.pager aria-label=(lang.pick("Strony wyników", "Result pages")) {
                    @if offset > 0 {
                        a rel="prev" href=(href("/", &[("q", q), ("offset", &offset.saturating_sub(PAGE_SIZE).to_string())], lang)) {
                            "← " (lang.pick("Poprzednie", "Previous"))
                        }
                    }
                    @if more {
                        a rel="next" href=(href("/", &[("q", q), ("offset", &last.to_string())], lang)) {
                            (lang.pick("Następne", "Next")) " →"
                        }
                    }
                }
            }
        }
    }
}

fn result(detail: &CertificateDetail, now: i64, lang: Lang) -> Markup {
    let c = &detail.certificate;
    let e = &detail.entity;
    let verdict = Verdict::of(c, now);
    html! {
        li.card {
            h3 { a href=(href(&format!("/v/{}", c.id), &[], lang)) { (text(&e.name)) } }
            p.meta {
                (text(&legal_form_label(&e.legal_form, lang)))
                @if let Some(place) = place(e.city.as_deref(), None, lang) {
                    " · " (text(&place))
                }
            }
            p {
                (badge(verdict, lang))
                " "
                span.meta { (lang.pick("nr ", "no. ")) span.nowrap { (text(&c.number)) } }
            }
        }
    }
}

fn about(lang: Lang) -> Markup {
    html! {
        section aria-labelledby="about-h" {
            h2 #about-h { (lang.pick("O znaku", "About the mark")) }
            p {
                (lang.pick(
                    "„Zakup Prospołeczny” to znak promocyjny ekonomii społecznej. Regionalny ośrodek polityki \
                     społecznej przyznaje go podmiotom ekonomii społecznej — spółdzielniom socjalnym, centrom i \
                     klubom integracji społecznej, zakładom aktywności zawodowej, warsztatom terapii zajęciowej, \
                     fundacjom i stowarzyszeniom — za produkty i usługi dobrej jakości. Certyfikat jest ważny \
                     przez rok i można go przedłużyć.",
                    "“Zakup Prospołeczny” (pro-social purchase) is the promotional mark of the Polish social \
                     economy. A regional social policy centre grants it to social-economy entities — social \
                     cooperatives, social integration centres and clubs, vocational activity establishments, \
                     occupational therapy workshops, foundations and associations — for products and services \
                     of good quality. A certificate is valid for one year and can be renewed.",
                ))
            }
            p {
                (lang.pick(
                    "Kod QR na opakowaniu i znak na stronie sklepu prowadzą do strony weryfikacji w tym rejestrze. \
                     Widać na niej, czy znak jest ważny, kto go otrzymał i na jakie produkty lub usługi.",
                    "The QR code on packaging and the badge on a shop's website lead to a verification page in \
                     this registry. It shows whether the mark is valid, who holds it and for which products or \
                     services.",
                ))
            }
            h3 { (lang.pick("Dla programistów", "For developers")) }
            ul.links {
                li { a href="/api/v1/openapi.json" { (lang.pick("Dokumentacja publicznego API (OpenAPI 3.1)", "Public API description (OpenAPI 3.1)")) } }
                li { a href="/.well-known/jwks.json" { (lang.pick("Klucze publiczne do weryfikacji certyfikatów (JWKS)", "Public keys for verifying certificates (JWKS)")) } }
            }
        }
    }
}
