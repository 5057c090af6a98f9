//! The entity page `/e/{ID}`: who the entity is, its certificates, and for each the snippet that
//! puts the live badge on the entity's website, with the websites where the badge shows as valid.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::embed::Shown;
use super::layout::{
    ErrorPage, Page, badge, error_page, format_instant, last_day, legal_form_label, place, plain, shell, text,
};
use super::verify::products;
use super::{Lang, Params, href, html};
use crate::http::AppState;
use crate::http::widget::WidgetBundle;
use crate::ids;
use crate::issuer::{Verdict, format_date};
use crate::store::{CertificateDetail, EntityRecord, SearchQuery};

/// Entity IDs are short and plain; anything else cannot name one.
fn plausible_entity_id(id: &str) -> bool {
    (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub async fn page(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    let base_url = &state.issuer.settings.base_url;
    let id = path.map(|Path(id)| id.trim().to_ascii_uppercase()).unwrap_or_default();
    if !plausible_entity_id(&id) {
        return error_page(ErrorPage::UnknownEntity, &params, base_url);
    }
    let store = &state.issuer.store;
    let entity = match store.entity(&id).await {
        Ok(Some(entity)) => entity,
        Ok(None) => return error_page(ErrorPage::UnknownEntity, &params, base_url),
        Err(err) => {
            tracing::error!(error = %err, "entity page: store read failed");
            return error_page(ErrorPage::Internal, &params, base_url);
        }
    };
    let query = SearchQuery { entity_id: Some(entity.id.clone()), limit: 100, ..SearchQuery::default() };
    let certificates = match store.search(&query).await {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(error = %err, "entity page: certificate search failed");
            return error_page(ErrorPage::Internal, &params, base_url);
        }
    };
    let lang = params.lang();
    let now = state.now();
    let main = html! {
        (details(&entity, lang))
        section aria-labelledby="certificates-h" {
            h2 #certificates-h { (lang.pick("Certyfikaty", "Certificates")) }
            @if certificates.is_empty() {
                p { (lang.pick("Ten podmiot nie ma jeszcze certyfikatu.", "This entity has no certificate yet.")) }
            }
            @for detail in &certificates {
                (certificate(detail, base_url, now, lang, state.widget.as_deref()))
            }
        }
        p.meta {
            (lang.pick("Stan z chwili: ", "Status as of: "))
            @let (shown, machine) = format_instant(now);
            time datetime=(machine) { (shown) }
        }
    };
    let page = Page {
        lang,
        params: &params,
        title: plain(&entity.name),
        base_url,
        canonical: Some(format!("{base_url}/e/{}", entity.id)),
        forms: false,
    };
    html(StatusCode::OK, lang, shell(&page, main))
}

fn details(entity: &EntityRecord, lang: Lang) -> Markup {
    html! {
        h1 { (text(&entity.name)) }
        dl.facts {
            dt { (lang.pick("Forma prawna", "Legal form")) }
            dd { (text(&legal_form_label(&entity.legal_form, lang))) }
            @if let Some(place) = place(entity.city.as_deref(), entity.voivodeship.as_deref(), lang) {
                dt { (lang.pick("Siedziba", "Seat")) }
                dd { (text(&place)) }
            }
            @if let Some(nip) = &entity.nip { dt { "NIP" } dd { (text(nip)) } }
            @if let Some(krs) = &entity.krs { dt { "KRS" } dd { (text(krs)) } }
            @if let Some(regon) = &entity.regon { dt { "REGON" } dd { (text(regon)) } }
            @if !entity.domains.is_empty() {
                dt { (lang.pick("Strony, na których może być znak", "Websites that may show the badge")) }
                dd {
                    ul.inline {
                        @for domain in &entity.domains { li { (text(domain)) } }
                    }
                }
            }
        }
    }
}

fn certificate(
    detail: &CertificateDetail,
    base_url: &str,
    now: i64,
    lang: Lang,
    widget: Option<&WidgetBundle>,
) -> Markup {
    let c = &detail.certificate;
    let verdict = Verdict::of(c, now);
    let heading_id = format!("cert-{}", c.id);
    html! {
        article.card aria-labelledby=(heading_id) {
            h3 #(heading_id) { (lang.pick("Certyfikat ", "Certificate ")) span.nowrap { (text(&c.number)) } }
            p { (badge(verdict, lang)) }
            dl.facts {
                dt { (lang.pick("Ważny od", "Valid from")) }
                dd { (format_date(c.valid_from)) }
                dt { (lang.pick("Ważny do (włącznie)", "Valid through")) }
                dd { (last_day(c.valid_until)) }
            }
            h4 { (lang.pick("Produkty i usługi", "Products and services")) }
            (products(detail, lang))
            p {
                a href=(href(&format!("/v/{}", c.id), &[], lang)) {
                    (lang.pick("Strona weryfikacji certyfikatu", "Verification page of the certificate"))
                }
            }
            @match (&detail.token, verdict) {
                (_, Verdict::Revoked) => p.strong {
                    (lang.pick(
                        "Certyfikat cofnięty: nie wolno już pokazywać znaku na stronie ani na produktach.",
                        "Certificate revoked: the mark may no longer be shown on a website or on products.",
                    ))
                },
                (Some(token), _) => (embed(detail, &token.token, base_url, lang, widget)),
                (None, _) => {},
            }
        }
    }
}

/// Escapes text for the HTML snippet that sites paste; the page then escapes the snippet itself.
fn snippet_escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The badge element, with a plain link inside that stays visible where scripts or WebAssembly
/// are blocked.
fn element_snippet(base_url: &str, id: &str, number: &str, token: &str, lang: Lang) -> String {
    let link_text = match lang {
        Lang::Pl => format!("Zakup Prospołeczny: sprawdź certyfikat {}", snippet_escape(number)),
        Lang::En => format!("Zakup Prospołeczny: check certificate {}", snippet_escape(number)),
    };
    let lang_suffix = if lang == Lang::En { "?lang=en" } else { "" };
    format!(
        "<zakup-prospoleczny token=\"{token}\" lang=\"{code}\">\n  \
         <a href=\"{base}/v/{id}{lang_suffix}\">{link_text}</a>\n\
         </zakup-prospoleczny>",
        base = snippet_escape(base_url),
        token = snippet_escape(token),
        code = lang.code(),
        id = snippet_escape(id),
    )
}

/// The two-line badge snippet: the loader under its stable name, which follows updates, and the
/// element.
pub fn badge_snippet(base_url: &str, id: &str, number: &str, token: &str, lang: Lang) -> String {
    format!(
        "<script type=\"module\" src=\"{}/widget/zp-badge.js\"></script>\n{}",
        snippet_escape(base_url),
        element_snippet(base_url, id, number, token, lang)
    )
}

/// The same badge with the loader pinned: its content-hashed name and Subresource Integrity
/// hash, so the browser runs exactly this version or nothing.
pub fn pinned_badge_snippet(
    base_url: &str,
    widget: &WidgetBundle,
    id: &str,
    number: &str,
    token: &str,
    lang: Lang,
) -> String {
    format!(
        "<script type=\"module\" src=\"{}/widget/{}\" integrity=\"{}\" crossorigin=\"anonymous\"></script>\n{}",
        snippet_escape(base_url),
        snippet_escape(&widget.loader.name),
        snippet_escape(&widget.loader_integrity),
        element_snippet(base_url, id, number, token, lang)
    )
}

/// A linked image of the badge, for sites that allow neither scripts nor frames. The image says
/// the mark is valid only when the browser names the page's website in `Referer`: the attribute
/// asks for the origin even where the page's own policy sends no referrer.
pub fn image_snippet(base_url: &str, id: &str, number: &str, lang: Lang) -> String {
    let lang_suffix = if lang == Lang::En { "?lang=en" } else { "" };
    let alt = match lang {
        Lang::Pl => "Znak Zakup Prospołeczny — sprawdź certyfikat",
        Lang::En => "Zakup Prospołeczny mark — check certificate",
    };
    format!(
        "<a href=\"{base}/v/{id}{lang_suffix}\"><img src=\"{base}/badge/{id}.svg{lang_suffix}\" \
         alt=\"{alt} {number}\" width=\"320\" height=\"64\" referrerpolicy=\"strict-origin-when-cross-origin\"></a>",
        base = snippet_escape(base_url),
        id = snippet_escape(id),
        number = snippet_escape(number),
    )
}

/// The iframe alternative, for sites that forbid third-party scripts.
pub fn iframe_snippet(base_url: &str, id: &str, number: &str, lang: Lang) -> String {
    let lang_suffix = if lang == Lang::En { "?lang=en" } else { "" };
    let title = match lang {
        Lang::Pl => "Znak Zakup Prospołeczny — certyfikat",
        Lang::En => "Zakup Prospołeczny mark — certificate",
    };
    format!(
        "<iframe src=\"{base}/embed/{id}{lang_suffix}\" title=\"{title} {number}\" width=\"320\" height=\"120\" \
         style=\"border:0\" loading=\"lazy\"></iframe>",
        base = snippet_escape(base_url),
        id = snippet_escape(id),
        number = snippet_escape(number),
    )
}

fn embed(
    detail: &CertificateDetail,
    token: &str,
    base_url: &str,
    lang: Lang,
    widget: Option<&WidgetBundle>,
) -> Markup {
    let c = &detail.certificate;
    let snippet = badge_snippet(base_url, &c.id, &c.number, token, lang);
    let pinned = widget.map(|widget| pinned_badge_snippet(base_url, widget, &c.id, &c.number, token, lang));
    let iframe = iframe_snippet(base_url, &c.id, &c.number, lang);
    let image = image_snippet(base_url, &c.id, &c.number, lang);
    let qr_svg = format!("/v/{}/qr.svg", c.id);
    let qr_png = format!("/v/{}/qr.png", c.id);
    html! {
        (websites(&detail.entity.domains, base_url, lang))
        h4 { (lang.pick("Znak na stronę internetową", "Badge for a website")) }
        p {
            (lang.pick(
                "Wklej ten kod w miejscu, w którym ma się pojawić znak. Znak sam sprawdza, czy certyfikat jest \
                 ważny; bez skryptów pokazuje się zwykły odnośnik do strony weryfikacji.",
                "Paste this code where the badge should appear. The badge checks by itself that the \
                 certificate is valid; without scripts a plain link to the verification page shows instead.",
            ))
        }
        pre.snippet { code { (snippet) } }
        @if let Some(pinned) = pinned {
            h4 { (lang.pick("Wersja przypięta (Subresource Integrity)", "Pinned version (Subresource Integrity)")) }
            p {
                (lang.pick(
                    "Kod powyżej zawsze ładuje najnowszą wersję znaku. Ten poniżej ładuje jedną, przypiętą wersję, \
                     która nigdy się nie zmienia: przeglądarka sprawdza jej skrót (atrybut integrity) i nie uruchomi \
                     innego pliku. Aby przejść na nowszą wersję, wklej ponownie kod z tej strony.",
                    "The code above always loads the newest version of the badge. The one below loads a single \
                     pinned version that never changes: the browser checks its hash (the integrity attribute) and \
                     runs no other file. To move to a newer version, paste the code from this page again.",
                ))
            }
            pre.snippet { code { (pinned) } }
        }
        h4 { (lang.pick("Wersja bez skryptów (iframe)", "Without scripts (iframe)")) }
        p {
            (lang.pick(
                "Dla stron, które nie pozwalają na skrypty innych serwisów:",
                "For sites that do not allow third-party scripts:",
            ))
        }
        pre.snippet { code { (iframe) } }
        h4 { (lang.pick("Obrazek znaku (SVG)", "Badge image (SVG)")) }
        p {
            (lang.pick(
                "Dla najprostszych stron: obrazek pokazuje stan certyfikatu w chwili wyświetlenia i prowadzi do \
                 strony weryfikacji.",
                "For the simplest sites: the image shows the certificate's status when it is displayed and \
                 leads to the verification page.",
            ))
        }
        pre.snippet { code { (image) } }
        h4 { (lang.pick("Kod QR na opakowania", "QR code for packaging")) }
        ul.links {
            li { a href=(qr_svg) download=(format!("zp-{}.svg", c.id)) { (lang.pick("Pobierz kod QR (SVG, do druku)", "Download the QR code (SVG, for print)")) } }
            li { a href=(qr_png) download=(format!("zp-{}.png", c.id)) { (lang.pick("Pobierz kod QR (PNG)", "Download the QR code (PNG)")) } }
        }
    }
}

/// Where the badges show the mark as valid, and how to add a website.
fn websites(domains: &[String], base_url: &str, lang: Lang) -> Markup {
    html! {
        h4 { (lang.pick("Strony, na których znak jest ważny", "Websites where the badge shows as valid")) }
        @if domains.is_empty() {
            p {
                (lang.pick(
                    "Certyfikat nie wymienia żadnej strony internetowej, więc znak nie pokaże się jako ważny na \
                     żadnej stronie.",
                    "The certificate names no website, so the badge shows as valid on no website.",
                ))
            }
        } @else {
            p {
                (lang.pick(
                    "Znak ze skryptem, ramka (iframe) i obrazek SVG pokazują znak jako ważny tylko na stronach \
                     wymienionych w certyfikacie (także z przedrostkiem www.):",
                    "The script badge, the iframe and the SVG image show the mark as valid only on the websites \
                     the certificate names (also with the www. prefix):",
                ))
            }
            ul.inline {
                @for domain in domains { li { (text(&ids::display_domain(domain))) } }
            }
        }
        p {
            (lang.pick("Na innej stronie znak ze skryptem i obrazek pokazują „", "On any other website the script badge and the image say “"))
            (Shown::WrongSite.headline(lang))
            (lang.pick(
                "”, a ramka się nie wyświetla. Obrazek na stronie, której adresu przeglądarka nie podaje, pokazuje „",
                "”, and the iframe does not show. The image on a page whose address the browser does not send says “",
            ))
            (Shown::CheckAtIssuer.headline(lang))
            "”."
        }
        p {
            (lang.pick(
                "Aby dodać stronę, poproś o to wystawcę znaku, ",
                "To add a website, ask the issuer of the mark, ",
            ))
            span.nowrap { (base_url) }
            (lang.pick(
                ". Potem wklej ponownie kod z tej strony: kod ze skryptem niesie listę stron w podpisanym tokenie.",
                ". Then paste the code from this page again: the script badge carries the list of websites in \
                 its signed token.",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_ids() {
        assert!(plausible_entity_id("E7K3QX9M2ABCD"));
        assert!(!plausible_entity_id(""));
        assert!(!plausible_entity_id("E7K3/../x"));
        assert!(!plausible_entity_id(&"E".repeat(41)));
    }

    #[test]
    fn badge_snippet_has_script_element_and_fallback_link() {
        let snippet =
            badge_snippet("https://zp.rops.lublin.pl", "7K3QX9M2", "ZP/LU/2026/0007", "eyJ.x.y", Lang::Pl);
        assert_eq!(
            snippet,
            "<script type=\"module\" src=\"https://zp.rops.lublin.pl/widget/zp-badge.js\"></script>\n\
             <zakup-prospoleczny token=\"eyJ.x.y\" lang=\"pl\">\n  \
             <a href=\"https://zp.rops.lublin.pl/v/7K3QX9M2\">Zakup Prospołeczny: sprawdź certyfikat ZP/LU/2026/0007</a>\n\
             </zakup-prospoleczny>"
        );
        let english = badge_snippet("https://zp.rops.lublin.pl", "7K3QX9M2", "N", "T", Lang::En);
        assert!(english.contains("lang=\"en\""));
        assert!(english.contains("/v/7K3QX9M2?lang=en\">Zakup Prospołeczny: check certificate N</a>"));
    }

    #[test]
    fn snippets_escape_what_they_quote() {
        let snippet = badge_snippet("https://x.pl\"><b", "ID", "<n>", "t\"", Lang::Pl);
        assert!(!snippet.contains("<b"));
        assert!(!snippet.contains("<n>"));
        assert!(snippet.contains("token=\"t&quot;\""));
        let iframe = iframe_snippet("https://zp.rops.lublin.pl", "7K3QX9M2", "ZP/LU/2026/0007", Lang::Pl);
        assert!(iframe.starts_with("<iframe src=\"https://zp.rops.lublin.pl/embed/7K3QX9M2\" title=\""));
        let image = image_snippet("https://zp.rops.lublin.pl", "7K3QX9M2", "ZP/\"LU", Lang::En);
        assert_eq!(
            image,
            "<a href=\"https://zp.rops.lublin.pl/v/7K3QX9M2?lang=en\"><img \
             src=\"https://zp.rops.lublin.pl/badge/7K3QX9M2.svg?lang=en\" alt=\"Zakup Prospołeczny mark — check \
             certificate ZP/&quot;LU\" width=\"320\" height=\"64\" referrerpolicy=\"strict-origin-when-cross-origin\"></a>"
        );
    }
}
