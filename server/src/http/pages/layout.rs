//! The page shell (header, language switch, footer), the wording of verdicts, and the error pages
//! every route shares.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Timelike};
use maud::{DOCTYPE, Markup, html};
use zp_shared::LegalForm;

use super::{Lang, Params, href, html, stylesheet_href};
use crate::issuer::{Verdict, format_date};

/// What the shell needs besides the main content.
#[derive(Debug)]
pub struct Page<'a> {
    pub lang: Lang,
    pub params: &'a Params,
    pub title: String,
    pub base_url: &'a str,
    /// Absolute URL of the page's canonical form, e.g. `/v/ID` for `/V/id`.
    pub canonical: Option<String>,
    /// Whether the page has forms to style (`/assets/forms.css`).
    pub forms: bool,
}

pub fn shell(page: &Page<'_>, main: Markup) -> Markup {
    let lang = page.lang;
    let site =
        lang.pick("Zakup Prospołeczny — rejestr certyfikatów", "Zakup Prospołeczny — certificate registry");
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) " · Zakup Prospołeczny" }
                link rel="stylesheet" href=(stylesheet_href());
                @if page.forms {
                    link rel="stylesheet" href="/assets/forms.css";
                }
                @if let Some(canonical) = &page.canonical {
                    link rel="canonical" href=(canonical);
                }
                meta name="referrer" content="strict-origin-when-cross-origin";
            }
            body {
                a.skip href="#main" { (lang.pick("Przejdź do treści", "Skip to content")) }
                header.site {
                    div.bar {
                        a.brand href=(href("/", &[], lang)) {
                            span.mark aria-hidden="true" { "♥" }
                            " " (site)
                        }
                        (lang_switch(lang, page.params))
                    }
                }
                main #main tabindex="-1" { (main) }
                footer.site {
                    p {
                        (lang.pick("Rejestr prowadzi wystawca znaku: ", "Registry kept by the issuer of the mark: "))
                        span.nowrap { (page.base_url) }
                    }
                    ul.links {
                        li { a href=(href("/", &[], lang)) { (lang.pick("Wyszukiwarka rejestru", "Search the registry")) } }
                        li { a href="/api/v1/openapi.json" { (lang.pick("Publiczne API (OpenAPI)", "Public API (OpenAPI)")) } }
                        li { a href="/.well-known/jwks.json" { (lang.pick("Klucze publiczne (JWKS)", "Public keys (JWKS)")) } }
                    }
                }
            }
        }
    }
}

/// The language switch: links to this same page in the other language.
pub fn lang_switch(lang: Lang, params: &Params) -> Markup {
    html! {
        nav.langs aria-label=(lang.pick("Język", "Language")) {
            ul {
                li {
                    @if lang.is_pl() {
                        span aria-current="true" { "Polski" }
                    } @else {
                        a href=(params.switch_href(Lang::Pl)) hreflang="pl" lang="pl" { "Polski" }
                    }
                }
                li {
                    @if lang.is_pl() {
                        a href=(params.switch_href(Lang::En)) hreflang="en" lang="en" { "English" }
                    } @else {
                        span aria-current="true" { "English" }
                    }
                }
            }
        }
    }
}

/// A stored string as isolated text: escaped by maud, and in `<bdi>` so that bidirectional
/// control characters in it cannot reorder the text around it.
pub fn text(value: &str) -> Markup {
    html! { bdi { (value) } }
}

/// A stored string for places where `<bdi>` cannot go (the `<title>`, attributes): without
/// bidirectional controls.
pub fn plain(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect()
}

/// The label of a stored legal form (its snake_case name); an unknown one is shown as stored.
pub fn legal_form_label(stored: &str, lang: Lang) -> String {
    match LegalForm::from_code(stored) {
        Some(form) if lang.is_pl() => form.label_pl().to_owned(),
        Some(form) => form.label_en().to_owned(),
        None => stored.to_owned(),
    }
}

/// "Zamość, woj. lubelskie" / "Zamość, Lubelskie Voivodeship".
pub fn place(city: Option<&str>, voivodeship: Option<&str>, lang: Lang) -> Option<String> {
    let region = voivodeship.map(|v| match lang {
        Lang::Pl => format!("woj. {v}"),
        Lang::En => {
            let mut chars = v.chars();
            let capital: String =
                chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            format!("{capital} Voivodeship")
        }
    });
    match (city, region) {
        (Some(city), Some(region)) => Some(format!("{city}, {region}")),
        (Some(city), None) => Some(city.to_owned()),
        (None, region) => region,
    }
}

/// The last day of validity: certificates end at the start of `valid_until` (UTC).
pub fn last_day(valid_until: i64) -> String {
    format_date(valid_until.saturating_sub(86_400))
}

/// `2026-05-01 12:34 UTC`, and the same instant for a `datetime` attribute.
pub fn format_instant(unix: i64) -> (String, String) {
    let at = DateTime::from_timestamp(unix, 0).unwrap_or(DateTime::UNIX_EPOCH);
    let date = format_date(unix);
    let shown = format!("{date} {:02}:{:02} UTC", at.hour(), at.minute());
    let machine = format!("{date}T{:02}:{:02}:{:02}Z", at.hour(), at.minute(), at.second());
    (shown, machine)
}

pub fn icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Valid => "✓",
        Verdict::Expired => "✗",
        Verdict::NotYetValid => "◔",
        Verdict::Suspended => "‖",
        Verdict::Revoked => "⊘",
    }
}

/// One or two words for lists and badges.
pub fn short(verdict: Verdict, lang: Lang) -> &'static str {
    match verdict {
        Verdict::Valid => lang.pick("ważny", "valid"),
        Verdict::Expired => lang.pick("wygasł", "expired"),
        Verdict::NotYetValid => lang.pick("jeszcze nieważny", "not yet valid"),
        Verdict::Suspended => lang.pick("zawieszony", "suspended"),
        Verdict::Revoked => lang.pick("cofnięty", "revoked"),
    }
}

/// The heading of a verification page: the badge's headline.
pub fn headline(verdict: Verdict, lang: Lang) -> &'static str {
    said(verdict.shown().headline(), lang)
}

/// A text of the shared table in the page's language.
pub fn said(text: zp_shared::words::Bilingual, lang: Lang) -> &'static str {
    lang.pick(text.pl, text.en)
}

/// CSS class of a verdict's colours; the icon and words carry the meaning on their own.
pub fn tone(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Valid => "ok",
        Verdict::Expired | Verdict::NotYetValid | Verdict::Suspended => "warn",
        Verdict::Revoked => "bad",
    }
}

pub fn badge(verdict: Verdict, lang: Lang) -> Markup {
    html! {
        span class={ "badge " (tone(verdict)) } {
            span.icon aria-hidden="true" { (icon(verdict)) }
            " "
            span.visually-hidden { (lang.pick("Stan certyfikatu: ", "Certificate status: ")) }
            (short(verdict, lang))
        }
    }
}

/// The shared error pages.
#[derive(Debug)]
pub enum ErrorPage<'a> {
    /// No certificate with this ID: the mark may be forged.
    UnknownCertificate {
        shown_id: &'a str,
    },
    UnknownEntity,
    Internal,
}

pub fn error_page(kind: ErrorPage<'_>, params: &Params, base_url: &str) -> Response {
    let lang = params.lang();
    let (status, title, body) = match kind {
        ErrorPage::UnknownCertificate { shown_id } => (
            StatusCode::NOT_FOUND,
            lang.pick(
                "Certyfikat nie istnieje w rejestrze",
                "This certificate does not exist in the registry",
            ),
            html! {
                p {
                    (lang.pick(
                        "W rejestrze znaku „Zakup Prospołeczny” prowadzonym przez ",
                        "The registry of the “Zakup Prospołeczny” mark kept by ",
                    ))
                    span.nowrap { (base_url) }
                    (lang.pick(" nie ma certyfikatu o identyfikatorze ", " has no certificate with the ID "))
                    code { (text(&truncate(shown_id, 40))) } "."
                }
                p.strong {
                    (lang.pick(
                        "Jeśli ten adres pochodzi z kodu QR na produkcie albo ze znaku na stronie internetowej, \
                         znak może być podrobiony. Nie traktuj go jako potwierdzenia.",
                        "If this address came from a QR code on a product or from a badge on a website, the \
                         mark may be forged. Do not treat it as a confirmation.",
                    ))
                }
                p {
                    (lang.pick("Sprawdź, czy identyfikator jest wpisany poprawnie, albo ", "Check that the ID is typed correctly, or "))
                    a href=(href("/", &[], lang)) { (lang.pick("wyszukaj podmiot w rejestrze", "search for the entity in the registry")) }
                    "."
                }
            },
        ),
        ErrorPage::UnknownEntity => (
            StatusCode::NOT_FOUND,
            lang.pick("Nie ma takiego podmiotu w rejestrze", "No such entity in the registry"),
            html! {
                p {
                    (lang.pick("Ten adres nie prowadzi do żadnego podmiotu. ", "This address leads to no entity. "))
                    a href=(href("/", &[], lang)) { (lang.pick("Wyszukaj podmiot w rejestrze", "Search the registry")) }
                    "."
                }
            },
        ),
        ErrorPage::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            lang.pick("Nie udało się sprawdzić", "The check could not be completed"),
            html! {
                p {
                    (lang.pick(
                        "Rejestr chwilowo nie odpowiada. Spróbuj ponownie za chwilę.",
                        "The registry is not answering right now. Please try again in a moment.",
                    ))
                }
            },
        ),
    };
    let warn = status == StatusCode::NOT_FOUND;
    let main = html! {
        section.verdict.bad[warn].neutral[!warn] aria-labelledby="verdict" {
            p.verdict-icon aria-hidden="true" { "!" }
            h1 #verdict { (title) }
            (body)
        }
    };
    let page = Page { lang, params, title: title.to_owned(), base_url, canonical: None, forms: false };
    html(status, lang, shell(&page, main))
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(value: &str, max: usize) -> String {
    let mut out: String = value.chars().take(max).collect();
    if value.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_forms() {
        assert_eq!(legal_form_label("social_cooperative", Lang::Pl), "spółdzielnia socjalna");
        assert_eq!(legal_form_label("cis", Lang::En), "social integration centre");
        assert_eq!(legal_form_label("something_new", Lang::Pl), "something_new");
    }

    #[test]
    fn places() {
        assert_eq!(
            place(Some("Zamość"), Some("lubelskie"), Lang::Pl).as_deref(),
            Some("Zamość, woj. lubelskie")
        );
        assert_eq!(
            place(Some("Łódź"), Some("łódzkie"), Lang::En).as_deref(),
            Some("Łódź, Łódzkie Voivodeship")
        );
        assert_eq!(place(None, Some("lubelskie"), Lang::Pl).as_deref(), Some("woj. lubelskie"));
        assert_eq!(place(Some("Chełm"), None, Lang::En).as_deref(), Some("Chełm"));
        assert_eq!(place(None, None, Lang::En), None);
    }

    #[test]
    fn dates_and_times() {
        // 2027-01-01T00:00:00Z: the last valid day is the day before.
        assert_eq!(last_day(1_798_761_600), "2026-12-31");
        let (shown, machine) = format_instant(1_777_638_896);
        assert_eq!(shown, "2026-05-01 12:34 UTC");
        assert_eq!(machine, "2026-05-01T12:34:56Z");
    }

    #[test]
    fn every_verdict_has_its_own_icon_and_words() {
        let all =
            [Verdict::Valid, Verdict::Expired, Verdict::NotYetValid, Verdict::Suspended, Verdict::Revoked];
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(icon(*a), icon(*b));
                for lang in [Lang::Pl, Lang::En] {
                    assert_ne!(short(*a, lang), short(*b, lang));
                    assert_ne!(headline(*a, lang), headline(*b, lang));
                }
            }
        }
    }

    #[test]
    fn bidi_controls_are_dropped_from_plain_text() {
        assert_eq!(plain("abc\u{202e}def\u{2066}g"), "abcdefg");
        assert_eq!(plain("Smaki „Roztocza”"), "Smaki „Roztocza”");
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("żółw", 2), "żó…");
    }
}
