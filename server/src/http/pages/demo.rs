//! The demo shop `/demo`, served only under `zp serve --demo`: a fictional shop, "Sklep Dobre
//! Zakupy", whose product cards carry real badges, one for each case a shopper can meet — valid,
//! expiring soon, expired, suspended, revoked, a forged signature and a badge copied to a site its
//! certificate does not cover — and, for sites without scripts, the iframe and the image badge.
//!
//! The certificates are found in the registry by what they are, not by the IDs the demo seeding
//! printed, so the page also works on a data directory seeded earlier.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use zp_shared::words::Shown as Said;

use super::layout::{ErrorPage, error_page, lang_switch, said, text};
use super::{Lang, Params, href, html, stylesheet_href};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::issuer::Verdict;
use crate::store::{CertificateDetail, SearchQuery};

/// The widget needs its loader and WebAssembly (`'wasm-unsafe-eval'`) and talks to the registry;
/// nothing inline runs.
const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; \
                   img-src 'self' data:; style-src 'self'; frame-src 'self'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The page's policy: [`CSP`], with the issuer's own origin allowed to be fetched too, for when
/// the page is opened under another name of this machine (`localhost` for `127.0.0.1`).
fn policy(base_url: &str) -> HeaderValue {
    let origin = base_url
        .split_once("://")
        .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()));
    origin
        .map(|origin| CSP.replace("connect-src 'self'", &format!("connect-src 'self' {origin}")))
        .and_then(|csp| HeaderValue::from_str(&csp).ok())
        .unwrap_or_else(|| HeaderValue::from_static(CSP))
}

/// Hosts of this machine; demo certificates that list one show as valid on the demo page.
const LOCAL_HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];

fn is_local(detail: &CertificateDetail) -> bool {
    detail.entity.domains.iter().any(|domain| LOCAL_HOSTS.contains(&domain.as_str()))
}

/// The demo certificates, each found by what it is.
#[derive(Debug, Default)]
struct Picked<'a> {
    valid: Option<&'a CertificateDetail>,
    expiring: Option<&'a CertificateDetail>,
    expired: Option<&'a CertificateDetail>,
    suspended: Option<&'a CertificateDetail>,
    revoked: Option<&'a CertificateDetail>,
    /// Valid, but for another site only.
    elsewhere: Option<&'a CertificateDetail>,
}

impl<'a> Picked<'a> {
    fn from(found: &'a [CertificateDetail], now: i64) -> Self {
        let with_token = || found.iter().filter(|d| d.token.is_some());
        // Prefer a certificate whose badge this machine may show, so only its state differs.
        let first = |verdict: Verdict| {
            let all: Vec<&CertificateDetail> =
                with_token().filter(|d| Verdict::of(&d.certificate, now) == verdict).collect();
            all.iter().find(|d| is_local(d)).or(all.first()).copied()
        };
        let mut valid: Vec<&CertificateDetail> = with_token()
            .filter(|d| Verdict::of(&d.certificate, now) == Verdict::Valid && is_local(d))
            .collect();
        valid.sort_by_key(|d| (d.certificate.valid_until, d.certificate.id.clone()));
        let expiring = if valid.len() > 1 { valid.first().copied() } else { None };
        Picked {
            valid: valid.last().copied(),
            expiring,
            expired: first(Verdict::Expired),
            suspended: first(Verdict::Suspended),
            revoked: first(Verdict::Revoked),
            elsewhere: with_token()
                .find(|d| Verdict::of(&d.certificate, now) == Verdict::Valid && !is_local(d)),
        }
    }
}

/// The token with the first ten characters of its signature changed: it still parses, but no
/// longer verifies.
pub fn forge(token: &str) -> Option<String> {
    let mut parts = token.splitn(3, '.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let rest = signature.get(10..)?;
    let changed: String = signature.chars().take(10).map(|c| if c == 'A' { 'B' } else { 'A' }).collect();
    Some(format!("{header}.{payload}.{changed}{rest}"))
}

/// One product card: a product, its badge and what the badge demonstrates.
struct Card<'a> {
    /// Machine name of the case, for styling and tests.
    case: &'static str,
    caption: String,
    explain: String,
    /// The headline the badge should show.
    expect: &'static str,
    price_grosze: u32,
    found: Option<(&'a CertificateDetail, String, &'a str)>,
}

fn days_left(detail: &CertificateDetail, now: i64) -> i64 {
    (detail.certificate.valid_until - now + 86_399).div_euclid(86_400).max(0)
}

/// A certificate with its current token and the name of its product number `product` (or its
/// first).
fn with_token(
    detail: Option<&CertificateDetail>,
    product: usize,
) -> Option<(&CertificateDetail, String, &str)> {
    let detail = detail?;
    let token = detail.token.as_ref()?.token.clone();
    let product =
        detail.products.get(product).or_else(|| detail.products.first()).map_or("", |p| p.name.as_str());
    Some((detail, token, product))
}

fn cards<'a>(picked: &Picked<'a>, now: i64, lang: Lang) -> Vec<Card<'a>> {
    let expiring_caption = match (picked.expiring.map(|d| days_left(d, now)), lang) {
        (Some(1), Lang::Pl) => "Certyfikat wygasa jutro".to_owned(),
        (Some(1), Lang::En) => "Certificate expiring tomorrow".to_owned(),
        (Some(days), Lang::Pl) => format!("Certyfikat wygasa za {days} dni"),
        (Some(days), Lang::En) => format!("Certificate expiring in {days} days"),
        (None, _) => lang.pick("Certyfikat wkrótce wygasa", "Certificate expiring soon").to_owned(),
    };
    let forged = picked.valid.and_then(|d| {
        let (detail, token, product) = with_token(Some(d), 1)?;
        Some((detail, forge(&token)?, product))
    });
    let elsewhere_domains = picked.elsewhere.map(|d| d.entity.domains.join(", ")).unwrap_or_default();
    vec![
        Card {
            case: "valid",
            caption: lang.pick("Certyfikat ważny", "Valid certificate").to_owned(),
            explain: lang
                .pick(
                    "Producent ma ważny certyfikat, a znak stoi na stronie, którą certyfikat obejmuje.",
                    "The producer holds a valid certificate and the badge is on a site the certificate covers.",
                )
                .to_owned(),
            expect: said(Said::Valid.headline(), lang),
            price_grosze: 1890,
            found: with_token(picked.valid, 0),
        },
        Card {
            case: "expiring",
            caption: expiring_caption,
            explain: lang
                .pick(
                    "Znak jest jeszcze ważny. W chwili wygaśnięcia zmieni się sam, bez przeładowania strony.",
                    "The badge is still valid. It changes by itself the moment the certificate expires, \
                     without a reload.",
                )
                .to_owned(),
            expect: said(Said::Valid.headline(), lang),
            price_grosze: 12000,
            found: with_token(picked.expiring, 0),
        },
        Card {
            case: "expired",
            caption: lang.pick("Certyfikat wygasł", "Expired certificate").to_owned(),
            explain: lang
                .pick(
                    "Sklep nie zdjął znaku, choć certyfikat już się skończył.",
                    "The shop did not take the badge down after the certificate ended.",
                )
                .to_owned(),
            expect: said(Said::Expired.headline(), lang),
            price_grosze: 6500,
            found: with_token(picked.expired, 0),
        },
        Card {
            case: "suspended",
            caption: lang.pick("Certyfikat zawieszony", "Suspended certificate").to_owned(),
            explain: lang
                .pick(
                    "Wystawca czasowo zawiesił certyfikat; znak mówi o tym od razu.",
                    "The issuer has suspended the certificate for now; the badge says so at once.",
                )
                .to_owned(),
            expect: said(Said::Suspended.headline(), lang),
            price_grosze: 750,
            found: with_token(picked.suspended, 0),
        },
        Card {
            case: "revoked",
            caption: lang.pick("Certyfikat cofnięty", "Revoked certificate").to_owned(),
            explain: lang
                .pick(
                    "Wystawca cofnął certyfikat, a znak został w kodzie sklepu.",
                    "The issuer revoked the certificate, but the badge stayed in the shop's code.",
                )
                .to_owned(),
            expect: said(Said::Revoked.headline(), lang),
            price_grosze: 3900,
            found: with_token(picked.revoked, 0),
        },
        Card {
            case: "forged",
            caption: lang.pick("Podrobiony podpis", "Forged signature").to_owned(),
            explain: lang
                .pick(
                    "Ktoś zmienił podpis w kodzie znaku prawdziwego certyfikatu; podpis się nie zgadza.",
                    "Someone changed the signature in the badge code of a real certificate; it does not match.",
                )
                .to_owned(),
            expect: said(Said::Invalid.headline(), lang),
            price_grosze: 2190,
            found: forged,
        },
        Card {
            case: "elsewhere",
            caption: lang.pick("Znak skopiowany z innej strony", "Badge copied from another site").to_owned(),
            explain: match lang {
                Lang::Pl => format!("Certyfikat obejmuje tylko stronę {elsewhere_domains}, a nie ten sklep."),
                Lang::En => format!("The certificate covers only {elsewhere_domains}, not this shop."),
            },
            expect: said(Said::WrongSite.headline(), lang),
            price_grosze: 8900,
            found: with_token(picked.elsewhere, 0),
        },
    ]
}

fn price(grosze: u32, lang: Lang) -> String {
    let (zl, gr) = (grosze / 100, grosze % 100);
    match lang {
        Lang::Pl => format!("{zl},{gr:02} zł"),
        Lang::En => format!("PLN {zl}.{gr:02}"),
    }
}

pub async fn page(State(state): State<AppState>, params: Params) -> Response {
    if !state.demo {
        return AppError::not_found("page").into_response();
    }
    let base_url = &state.issuer.settings.base_url;
    let query = SearchQuery { limit: 500, ..SearchQuery::default() };
    let mut response = match state.issuer.store.search(&query).await {
        Ok(found) => render(&state, &found, &params),
        Err(err) => {
            tracing::error!(error = %err, "demo page: certificate search failed");
            error_page(ErrorPage::Internal, &params, base_url)
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy(base_url));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn render(state: &AppState, found: &[CertificateDetail], params: &Params) -> Response {
    let lang = params.lang();
    let now = state.now();
    let base_url = &state.issuer.settings.base_url;
    let picked = Picked::from(found, now);
    let cards = cards(&picked, now, lang);
    let shop = "Sklep Dobre Zakupy";
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (shop) " — " (lang.pick("demonstracja znaku Zakup Prospołeczny", "a demo of the Zakup Prospołeczny mark")) }
                link rel="stylesheet" href=(stylesheet_href());
                script type="module" src="/widget/zp-badge.js" {}
            }
            body.shop {
                a.skip href="#main" { (lang.pick("Przejdź do treści", "Skip to content")) }
                p.demo-note {
                    (lang.pick(
                        "Strona demonstracyjna: ten sklep jest fikcyjny, znaki na nim są prawdziwe. ",
                        "A demo page: this shop is fictional, the badges on it are real. ",
                    ))
                    a href=(href("/", &[], lang)) { (lang.pick("Rejestr certyfikatów", "Certificate registry")) }
                }
                header.site {
                    div.bar {
                        div {
                            a.shop-brand href=(href("/demo", &[], lang)) { (shop) }
                            p.shop-tagline {
                                (lang.pick(
                                    "Produkty i usługi podmiotów ekonomii społecznej",
                                    "Products and services of social-economy entities",
                                ))
                            }
                        }
                        (lang_switch(lang, params))
                    }
                }
                main #main tabindex="-1" {
                    h1 { (lang.pick("Nasze produkty", "Our products")) }
                    p.lead {
                        (lang.pick(
                            "Każda karta pokazuje znak „Zakup Prospołeczny” w innej sytuacji. Znak sprawdza w \
                             przeglądarce podpis certyfikatu, stronę, na której stoi, i aktualny stan w rejestrze ",
                            "Each card shows the “Zakup Prospołeczny” badge in a different situation. In the \
                             browser, the badge checks the certificate's signature, the site it is on, and the \
                             current status in the registry at ",
                        ))
                        span.nowrap { (base_url) }
                        "."
                    }
                    p {
                        (lang.pick(
                            "Bez skryptów lub WebAssembly zamiast znaku widać zwykły odnośnik do strony weryfikacji.",
                            "Without scripts or WebAssembly, a plain link to the verification page shows instead.",
                        ))
                    }
                    @if state.widget.is_none() {
                        p.error role="note" {
                            (lang.pick(
                                "Pakiet znaku nie jest zbudowany na tym serwerze, więc widać tylko odnośniki. \
                                 Zbuduj go poleceniem ",
                                "The badge bundle is not built on this server, so only the links show. Build it \
                                 with ",
                            ))
                            code { "cargo xtask widget" }
                            "."
                        }
                    }
                    h2.visually-hidden { (lang.pick("Produkty", "Products")) }
                    ul.shelf {
                        @for card in &cards {
                            li { (product_card(card, lang)) }
                        }
                    }
                    (no_script_examples(picked.valid, lang))
                }
                footer.site {
                    p {
                        (lang.pick(
                            "Sklep Dobre Zakupy nie istnieje; ceny i oferta są przykładowe. Podmioty i certyfikaty \
                             pochodzą z danych demonstracyjnych rejestru.",
                            "Sklep Dobre Zakupy does not exist; prices and offer are examples. The entities and \
                             certificates are the registry's demo data.",
                        ))
                    }
                    ul.links {
                        li { a href=(href("/", &[], lang)) { (lang.pick("Rejestr certyfikatów", "Certificate registry")) } }
                    }
                }
            }
        }
    };
    html(StatusCode::OK, lang, markup)
}

fn product_card(card: &Card<'_>, lang: Lang) -> Markup {
    let heading = format!("product-{}", card.case);
    html! {
        article.product aria-labelledby=(heading) data-case=(card.case) {
            p.demo-state { (lang.pick("Pokaz: ", "Demo: ")) (card.caption) }
            @match &card.found {
                Some((detail, token, product)) => {
                    h3 #(heading) { (text(product)) }
                    p.maker { (lang.pick("Producent: ", "Made by: ")) (text(&detail.entity.name)) }
                    p.price { (price(card.price_grosze, lang)) }
                    div.badge-slot {
                        zakup-prospoleczny token=(token) lang=(lang.code()) {
                            a href=(href(&format!("/v/{}", detail.certificate.id), &[], lang)) {
                                (lang.pick("Zakup Prospołeczny: sprawdź certyfikat ", "Zakup Prospołeczny: check certificate "))
                                span.nowrap { (text(&detail.certificate.number)) }
                            }
                        }
                    }
                    p { (card.explain) }
                    p.expect { (lang.pick("Znak powinien pokazać: ", "The badge should show: ")) strong { (lang.pick("„", "“")) (card.expect) "”" } }
                },
                None => {
                    h3 #(heading) { (card.caption) }
                    p {
                        (lang.pick(
                            "W rejestrze nie ma certyfikatu do tego pokazu. Dane demonstracyjne trafiają tylko do \
                             pustego rejestru: uruchom serwer z --demo na nowym katalogu danych.",
                            "The registry has no certificate for this case. Demo data only fills an empty registry: \
                             start the server with --demo on a new data directory.",
                        ))
                    }
                },
            }
        }
    }
}

/// The iframe and the image badge, for sites that allow no third-party scripts.
fn no_script_examples(valid: Option<&CertificateDetail>, lang: Lang) -> Markup {
    let Some(detail) = valid else {
        return html! {};
    };
    let id = &detail.certificate.id;
    let suffix = if lang == Lang::En { "?lang=en" } else { "" };
    let verify = href(&format!("/v/{id}"), &[], lang);
    html! {
        section aria-labelledby="no-script-h" {
            h2 #no-script-h { (lang.pick("Znak bez skryptów", "The badge without scripts")) }
            p {
                (lang.pick(
                    "Dla sklepów, które nie mogą wczytać skryptu znaku: ramka (iframe) i obrazek SVG. Oba pokazują \
                     stan certyfikatu w rejestrze w chwili wyświetlenia.",
                    "For shops that cannot load the badge script: a frame (iframe) and an SVG image. Both show the \
                     certificate's status in the registry when they are displayed.",
                ))
            }
            div.embeds {
                figure {
                    iframe src=(format!("/embed/{id}{suffix}")) width="320" height="120" loading="lazy"
                        title=(format!("{} {}", lang.pick("Znak Zakup Prospołeczny — certyfikat", "Zakup Prospołeczny mark — certificate"), detail.certificate.number)) {}
                    figcaption { (lang.pick("Ramka: ", "Frame: ")) code { "/embed/" (id) } }
                }
                figure {
                    a href=(verify) {
                        img src=(format!("/badge/{id}.svg{suffix}")) width="320" height="64"
                            alt=(format!("{} {}", lang.pick("Znak Zakup Prospołeczny — sprawdź certyfikat", "Zakup Prospołeczny mark — check certificate"), detail.certificate.number));
                    }
                    figcaption { (lang.pick("Obrazek: ", "Image: ")) code { "/badge/" (id) ".svg" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forging_changes_only_the_signature() {
        let token = "aGVhZGVy.cGF5bG9hZA.AAAAAAAAAAAAxyz";
        let forged = forge(token).unwrap();
        assert_eq!(forged, "aGVhZGVy.cGF5bG9hZA.BBBBBBBBBBAAxyz");
        assert_eq!(forge("a.b.short"), None);
        assert_eq!(forge("no-dots"), None);
    }

    #[test]
    fn policy_allows_the_issuer_origin() {
        let csp = policy("http://127.0.0.1:8080");
        let csp = csp.to_str().unwrap();
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:8080;"), "{csp}");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"));
        let csp = policy("https://zp.example.pl/registry");
        assert_eq!(
            csp.to_str().unwrap(),
            CSP.replace("connect-src 'self'", "connect-src 'self' https://zp.example.pl")
        );
    }

    #[test]
    fn prices() {
        assert_eq!(price(1890, Lang::Pl), "18,90 zł");
        assert_eq!(price(750, Lang::En), "PLN 7.50");
    }
}
