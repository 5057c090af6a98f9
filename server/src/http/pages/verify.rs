//! The verification page `/v/{ID}` (also `/V/{ID}`, the form QR codes carry) and the QR images
//! that lead to it.
//!
//! The page lists the websites the certificate covers, and warns when the `Referer` names
//! another one: a shopper who followed a copied badge learns it there.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::layout::{
    ErrorPage, Page, badge, error_page, format_instant, headline, icon, last_day, legal_form_label, place,
    plain, shell, text, tone,
};
use super::{Lang, Params, Referer, href, html};
use crate::http::{AppState, CachedCertificate};
use crate::ids::{self, Referrer};
use crate::issuer::{RevocationReason, Verdict, format_date};
use crate::qr;
use crate::store::CertificateDetail;

/// Looks up a certificate by a typed or scanned ID; `Err` is the page to show instead.
async fn find(state: &AppState, raw: &str, params: &Params) -> Result<Arc<CachedCertificate>, Response> {
    let base_url = &state.issuer.settings.base_url;
    let unknown = || error_page(ErrorPage::UnknownCertificate { shown_id: raw }, params, base_url);
    let Some(id) = ids::normalize_certificate_id(raw) else {
        return Err(unknown());
    };
    match state.certificate(&id).await {
        Ok(Some(detail)) => Ok(detail),
        Ok(None) => Err(unknown()),
        Err(err) => {
            tracing::error!(error = %err, "verification page: store read failed");
            Err(error_page(ErrorPage::Internal, params, base_url))
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
    referer: Referer,
) -> Response {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    let found = match find(&state, &raw, &params).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let detail = &found.detail;
    let lang = params.lang();
    let now = state.now();
    let base_url = &state.issuer.settings.base_url;
    let verdict = Verdict::of(&detail.certificate, now);
    let came_from = ids::referrer(referer.get(), &detail.entity.domains, base_url);
    let page = Page {
        lang,
        params: &params,
        title: format!("{} — {}", headline(verdict, lang), plain(&detail.entity.name)),
        base_url,
        canonical: Some(state.issuer.verify_url(&detail.certificate.id)),
        forms: false,
    };
    let main = render(detail, verdict, &came_from, now, base_url, lang);
    let mut response = html(StatusCode::OK, lang, shell(&page, main));
    // The warning depends on where the reader came from: caches keep a copy per `Referer`.
    response.headers_mut().append(header::VARY, HeaderValue::from_static("Referer"));
    response
}

fn render(
    detail: &CertificateDetail,
    verdict: Verdict,
    came_from: &Referrer,
    now: i64,
    base_url: &str,
    lang: Lang,
) -> Markup {
    let c = &detail.certificate;
    let e = &detail.entity;
    let (checked, checked_machine) = format_instant(now);
    let reason = c.reason.as_deref().and_then(RevocationReason::parse);
    let qr_svg = format!("/v/{}/qr.svg", c.id);
    let qr_png = format!("/v/{}/qr.png", c.id);
    html! {
        @if let Referrer::Elsewhere(host) = came_from {
            (elsewhere_warning(host, base_url, lang))
        }
        section class={ "verdict " (tone(verdict)) } aria-labelledby="verdict" {
            p.verdict-icon aria-hidden="true" { (icon(verdict)) }
            h1 #verdict { (headline(verdict, lang)) }
            p.entity-name { (text(&e.name)) }
            @match verdict {
                Verdict::Valid => p {
                    (lang.pick(
                        "Ten podmiot ekonomii społecznej ma ważny certyfikat znaku „Zakup Prospołeczny” na \
                         produkty i usługi wymienione poniżej. Ważny do ",
                        "This social-economy entity holds a valid “Zakup Prospołeczny” certificate for the \
                         products and services listed below. Valid through ",
                    ))
                    strong.nowrap { (last_day(c.valid_until)) }
                    (lang.pick(" włącznie.", "."))
                },
                Verdict::Expired => p {
                    (lang.pick("Ważność certyfikatu skończyła się ", "The certificate's validity ended on "))
                    strong.nowrap { (last_day(c.valid_until)) }
                    (lang.pick(
                        ". Znak na produkcie lub stronie internetowej nie jest już potwierdzony.",
                        ". The mark on a product or website is no longer confirmed.",
                    ))
                },
                Verdict::NotYetValid => p {
                    (lang.pick("Certyfikat zacznie obowiązywać ", "The certificate takes effect on "))
                    strong.nowrap { (format_date(c.valid_from)) }
                    (lang.pick(". Do tego dnia znak nie jest potwierdzony.", ". Until then the mark is not confirmed."))
                },
                Verdict::Suspended => p {
                    (lang.pick(
                        "Wystawca czasowo zawiesił ten certyfikat. Dopóki zawieszenie trwa, znak nie jest potwierdzony.",
                        "The issuer has temporarily suspended this certificate. While it is suspended, the mark is \
                         not confirmed.",
                    ))
                },
                Verdict::Revoked => p {
                    (lang.pick(
                        "Wystawca cofnął ten certyfikat. Znak nie może być używany.",
                        "The issuer has revoked this certificate. The mark may no longer be used.",
                    ))
                },
            }
            @if verdict == Verdict::Revoked {
                dl.facts {
                    @if let Some(reason) = reason {
                        dt { (lang.pick("Powód", "Reason")) }
                        dd { (reason.label(lang.is_pl())) }
                    }
                    dt { (lang.pick("Data cofnięcia", "Revoked on")) }
                    dd { (format_date(c.updated_at)) }
                    @if let Some(note) = &c.public_note {
                        dt { (lang.pick("Informacja wystawcy", "Issuer's note")) }
                        dd { (text(note)) }
                    }
                }
            }
            @if verdict == Verdict::Suspended {
                dl.facts {
                    dt { (lang.pick("Zawieszony od", "Suspended since")) }
                    dd { (format_date(c.updated_at)) }
                    @if let Some(note) = &c.public_note {
                        dt { (lang.pick("Informacja wystawcy", "Issuer's note")) }
                        dd { (text(note)) }
                    }
                }
            }
            p.checked {
                (lang.pick("Sprawdzono w rejestrze: ", "Checked in the registry: "))
                time datetime=(checked_machine) { (checked) }
            }
        }
        p.hint {
            (lang.pick(
                "Wynik jest wiarygodny tylko na stronie wystawcy znaku: ",
                "Trust this result only on the issuer's own site: ",
            ))
            strong.nowrap { (base_url) }
            "."
        }

        (websites(&e.domains, base_url, lang))

        section aria-labelledby="entity-h" {
            h2 #entity-h { (lang.pick("Podmiot", "Entity")) }
            dl.facts {
                dt { (lang.pick("Nazwa", "Name")) }
                dd { (text(&e.name)) }
                dt { (lang.pick("Forma prawna", "Legal form")) }
                dd { (text(&legal_form_label(&e.legal_form, lang))) }
                @if let Some(place) = place(e.city.as_deref(), e.voivodeship.as_deref(), lang) {
                    dt { (lang.pick("Siedziba", "Seat")) }
                    dd { (text(&place)) }
                }
                @if let Some(nip) = &e.nip { dt { "NIP" } dd { (text(nip)) } }
                @if let Some(krs) = &e.krs { dt { "KRS" } dd { (text(krs)) } }
                @if let Some(regon) = &e.regon { dt { "REGON" } dd { (text(regon)) } }
            }
            p {
                a href=(href(&format!("/e/{}", e.id), &[], lang)) {
                    (lang.pick("Strona podmiotu i wszystkie jego certyfikaty", "Entity page and all its certificates"))
                }
            }
        }

        section aria-labelledby="products-h" {
            h2 #products-h { (lang.pick("Certyfikowane produkty i usługi", "Certified products and services")) }
            (products(detail, lang))
        }

        section aria-labelledby="certificate-h" {
            h2 #certificate-h { (lang.pick("Certyfikat", "Certificate")) }
            dl.facts {
                dt { (lang.pick("Numer", "Number")) }
                dd { (text(&c.number)) }
                dt { (lang.pick("Identyfikator", "ID")) }
                dd { code { (c.id) } }
                dt { (lang.pick("Stan", "Status")) }
                dd { (badge(verdict, lang)) }
                dt { (lang.pick("Ważny od", "Valid from")) }
                dd { (format_date(c.valid_from)) }
                dt { (lang.pick("Ważny do (włącznie)", "Valid through")) }
                dd { (last_day(c.valid_until)) }
                dt { (lang.pick("Wystawca", "Issuer")) }
                dd.nowrap { (base_url) }
            }
        }

        section aria-labelledby="qr-h" {
            h2 #qr-h { (lang.pick("Kod QR tej strony", "QR code of this page")) }
            img.qr src=(qr_svg) width="264" height="264"
                alt=(format!("{} {}", lang.pick("Kod QR prowadzący do weryfikacji certyfikatu", "QR code leading to the verification of certificate"), c.id));
            ul.links {
                li { a href=(qr_svg) download=(format!("zp-{}.svg", c.id)) { (lang.pick("Pobierz kod QR (SVG)", "Download the QR code (SVG)")) } }
                li { a href=(qr_png) download=(format!("zp-{}.png", c.id)) { (lang.pick("Pobierz kod QR (PNG)", "Download the QR code (PNG)")) } }
            }
        }
    }
}

/// The warning for a reader who came from a website the certificate does not cover, shown above
/// the verdict: a valid certificate says nothing about the mark on that website.
fn elsewhere_warning(host: &str, base_url: &str, lang: Lang) -> Markup {
    html! {
        section.verdict.bad.elsewhere aria-labelledby="elsewhere" {
            p.verdict-icon aria-hidden="true" { "!" }
            p.lead #elsewhere {
                strong {
                    (lang.pick("Trafiasz tu ze strony ", "You came here from "))
                    span.nowrap { (text(&ids::display_domain(host))) }
                    (lang.pick(
                        ", której ten certyfikat nie obejmuje.",
                        ", a website this certificate does not cover.",
                    ))
                }
            }
            p {
                (lang.pick(
                    "Znak „Zakup Prospołeczny” na tamtej stronie mógł zostać skopiowany: certyfikat obejmuje tylko \
                     strony wymienione niżej. Nie traktuj go tam jako potwierdzenia i zgłoś to wystawcy znaku, ",
                    "The “Zakup Prospołeczny” mark on that website may have been copied: the certificate covers \
                     only the websites listed below. Do not take it as a confirmation there, and report it to the \
                     issuer of the mark, ",
                ))
                span.nowrap { (base_url) }
                "."
            }
            p { a href="#websites-h" { (lang.pick("Strony objęte certyfikatem", "Websites the certificate covers")) } }
        }
    }
}

/// The websites where the mark may appear, and what a mark anywhere else means.
fn websites(domains: &[String], base_url: &str, lang: Lang) -> Markup {
    html! {
        section aria-labelledby="websites-h" {
            h2 #websites-h { (lang.pick("Strony objęte certyfikatem", "Websites the certificate covers")) }
            @if domains.is_empty() {
                p {
                    (lang.pick(
                        "Certyfikat nie wymienia żadnej strony internetowej: nie obejmuje znaku na żadnej stronie.",
                        "The certificate names no website: it covers the mark on no website.",
                    ))
                }
            } @else {
                p {
                    (lang.pick(
                        "Znak „Zakup Prospołeczny” tego podmiotu może się pojawiać tylko na tych stronach \
                         internetowych (także z przedrostkiem www.):",
                        "This entity may show the “Zakup Prospołeczny” mark only on these websites (also with \
                         the www. prefix):",
                    ))
                }
                ul.websites {
                    @for domain in domains { li { (text(&ids::display_domain(domain))) } }
                }
            }
            p {
                (lang.pick(
                    "Jeśli trafiasz tu ze znaku na innej stronie, znak mógł zostać skopiowany: certyfikat obejmuje \
                     tylko strony wymienione tutaj. Zgłoś to wystawcy znaku, ",
                    "If you came here from a mark on another website, the mark may have been copied: the \
                     certificate covers only the websites listed here. Report it to the issuer of the mark, ",
                ))
                span.nowrap { (base_url) }
                "."
            }
        }
    }
}

/// The certified products and services, with their GTINs.
pub fn products(detail: &CertificateDetail, lang: Lang) -> Markup {
    html! {
        ul.products {
            @for product in &detail.products {
                li {
                    (text(&product.name))
                    @if let Some(gtin) = &product.gtin {
                        br;
                        span.meta { "GTIN " span.nowrap { (gtin) } }
                    }
                }
            }
            @if detail.products.is_empty() {
                li { (lang.pick("(brak)", "(none)")) }
            }
        }
    }
}

/// The certificate's QR payload, or the page to show when there is no such certificate.
async fn qr_code(
    state: &AppState,
    path: Result<Path<String>, PathRejection>,
    params: &Params,
) -> Result<(String, qrcode::QrCode), Response> {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    let found = find(state, &raw, params).await?;
    let id = found.detail.certificate.id.clone();
    match qr::encode(&qr::payload(&state.issuer.settings.base_url, &id)) {
        Ok(code) => Ok((id, code)),
        Err(err) => {
            tracing::error!(error = %err, "QR code could not be made");
            Err(error_page(ErrorPage::Internal, params, &state.issuer.settings.base_url))
        }
    }
}

fn image(content_type: &'static str, filename: String, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The code depends only on the ID and the issuer's URL, which never change.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

pub async fn qr_svg(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    match qr_code(&state, path, &params).await {
        Ok((id, code)) => image("image/svg+xml", format!("zp-{id}.svg"), qr::svg(&code).into_bytes()),
        Err(response) => response,
    }
}

pub async fn qr_png(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    let (id, code) = match qr_code(&state, path, &params).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match qr::png(&code, qr::PNG_MODULE_PX) {
        Ok(bytes) => image("image/png", format!("zp-{id}.png"), bytes),
        Err(err) => {
            tracing::error!(error = %err, "QR PNG could not be made");
            error_page(ErrorPage::Internal, &params, &state.issuer.settings.base_url)
        }
    }
}
