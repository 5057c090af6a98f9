//! Badges for sites that cannot run the script badge: `/embed/{ID}`, a small page to show in an
//! iframe, and `/badge/{ID}.svg`, an image for the simplest sites. Both state the certificate's
//! verdict in the registry now, with the words, icon and colour of the script badge, and caches
//! must revalidate them, so a suspension or revocation shows at once.
//!
//! Both follow the certificate's domains, as the script badge does: only the registry and those
//! websites may frame the embed page (`frame-ancestors`), and the image says the mark is valid
//! only when the `Referer` names one of them; without a `Referer` it asks to check at the issuer.

use std::sync::{Arc, LazyLock};

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use super::layout::{plain, text, truncate};
use super::{Lang, Params, Referer, encode_component, html};
use crate::http::error::AppError;
use crate::http::{AppState, CachedCertificate};
use crate::ids::{self, Referrer};
use crate::issuer::Verdict;
use crate::store::StoreError;

/// The mark's name, the same in both languages.
pub const MARK: &str = "Zakup Prospołeczny";

/// What a badge shows: a certificate's verdict, that a valid mark is shown on a website its
/// certificate does not cover, that the image cannot tell where it is shown, that the registry
/// has no such certificate, or that the registry could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Verdict(Verdict),
    WrongSite,
    CheckAtIssuer,
    Unknown,
    CannotConfirm,
}

impl Shown {
    /// The headline, worded as the script badge words it.
    pub fn headline(self, lang: Lang) -> &'static str {
        use zp_shared::words::Shown as Said;
        let said = match self {
            Shown::Verdict(verdict) => verdict.shown(),
            Shown::WrongSite => Said::WrongSite,
            Shown::CheckAtIssuer => Said::CheckAtIssuer,
            Shown::Unknown => Said::NotInRegistry,
            Shown::CannotConfirm => Said::CannotConfirm,
        };
        super::layout::said(said.headline(), lang)
    }

    /// The line under the headline when there is no entity to name.
    fn note(self, lang: Lang) -> &'static str {
        match self {
            Shown::CannotConfirm => {
                lang.pick("Rejestr chwilowo nie odpowiada.", "The registry is not answering.")
            }
            _ => lang.pick("Znak może być podrobiony.", "The mark may be forged."),
        }
    }

    /// The state colour of the script badge; it meets WCAG AA as text on white.
    pub fn colour(self) -> &'static str {
        match self {
            Shown::Verdict(Verdict::Valid) => "#136c2e",
            Shown::Verdict(Verdict::Expired | Verdict::NotYetValid | Verdict::Suspended)
            | Shown::CannotConfirm => "#8a4b00",
            Shown::Verdict(Verdict::Revoked) | Shown::WrongSite | Shown::Unknown => "#a4141c",
            Shown::CheckAtIssuer => "#4a4a4a",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Shown::Verdict(Verdict::Valid) => "ok",
            Shown::Verdict(Verdict::Expired | Verdict::NotYetValid | Verdict::Suspended)
            | Shown::CannotConfirm => "warn",
            Shown::Verdict(Verdict::Revoked) | Shown::WrongSite | Shown::Unknown => "bad",
            Shown::CheckAtIssuer => "neutral",
        }
    }

    /// The icon of the script badge: strokes on a 20×20 grid, drawn in white over the colour.
    fn glyph(self) -> &'static str {
        match self {
            Shown::Verdict(Verdict::Valid) => r#"<path d="M5 10.5l3.2 3.2L15 7"/>"#,
            Shown::Verdict(Verdict::Revoked) => r#"<path d="M6 6l8 8M14 6l-8 8"/>"#,
            Shown::Verdict(Verdict::Expired | Verdict::NotYetValid) => {
                r#"<circle cx="10" cy="10" r="5.5"/><path d="M10 7v3.3l2.2 1.5"/>"#
            }
            Shown::Verdict(Verdict::Suspended) => r#"<path d="M8 6v8M12 6v8"/>"#,
            Shown::WrongSite => {
                r#"<path d="M10 4.2L16.2 15H3.8z"/><path d="M10 8.4v3"/><path d="M10 13.3v.2"/>"#
            }
            Shown::CheckAtIssuer => r#"<circle cx="8.8" cy="8.8" r="4.3"/><path d="M12 12l3.6 3.6"/>"#,
            Shown::Unknown => r#"<path d="M10 5.5v5.5"/><path d="M10 14.2v.3"/>"#,
            Shown::CannotConfirm => {
                r#"<path d="M7.6 7.6a2.5 2.5 0 1 1 3.4 2.3c-.7.3-1 .8-1 1.5v.4"/><path d="M10 14.2v.3"/>"#
            }
        }
    }
}

/// Looks up a certificate by an ID in any case.
async fn lookup(state: &AppState, raw: &str) -> Result<Option<Arc<CachedCertificate>>, StoreError> {
    match ids::normalize_certificate_id(raw) {
        Some(id) => state.certificate(&id).await,
        None => Ok(None),
    }
}

/// What a badge needs to know, whatever the lookup found.
struct Subject {
    shown: Shown,
    entity: Option<String>,
    /// The websites the certificate covers; `None` when there is no certificate to show.
    domains: Option<Vec<String>>,
    status: StatusCode,
    /// The verification page, in the reader's language.
    link: String,
}

async fn subject(state: &AppState, raw: &str, lang: Lang) -> Subject {
    let suffix = if lang == Lang::En { "?lang=en" } else { "" };
    match lookup(state, raw).await {
        Ok(Some(found)) => Subject {
            shown: Shown::Verdict(Verdict::of(&found.detail.certificate, state.now())),
            entity: Some(found.detail.entity.name.clone()),
            domains: Some(found.detail.entity.domains.clone()),
            status: StatusCode::OK,
            link: format!("{}{suffix}", state.issuer.verify_url(&found.detail.certificate.id)),
        },
        found => {
            let (shown, status) = match found {
                Err(err) => {
                    tracing::error!(error = %err, "badge: store read failed");
                    (Shown::CannotConfirm, StatusCode::INTERNAL_SERVER_ERROR)
                }
                Ok(_) => (Shown::Unknown, StatusCode::NOT_FOUND),
            };
            let shown_id: String = raw.chars().take(40).collect();
            let link =
                format!("{}/v/{}{suffix}", state.issuer.settings.base_url, encode_component(&shown_id));
            Subject { shown, entity: None, domains: None, status, link }
        }
    }
}

// ---- /embed/{ID} ------------------------------------------------------------------------------

/// The embed page's only style, inline so the badge is one request; the policy names its hash.
const EMBED_CSS: &str = "\
*{box-sizing:border-box}\
html,body{margin:0;background:transparent}\
body{padding:4px;font:15px/1.3 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"DejaVu Sans\",sans-serif}\
.zp{--c:#4a4a4a;display:flex;align-items:center;gap:10px;width:100%;max-width:340px;min-height:48px;\
padding:8px 12px 8px 10px;border:2px solid var(--c);border-radius:10px;background:#fff;color:var(--c);\
text-decoration:none}\
.zp:focus-visible{outline:3px solid #1a4fd6;outline-offset:2px}\
.zp:hover .headline{text-decoration:underline}\
.ok{--c:#136c2e}.warn{--c:#8a4b00}.bad{--c:#a4141c}\
.icon{flex:none;display:flex;align-items:center;justify-content:center;width:34px;height:34px;\
border-radius:50%;background:var(--c);color:#fff}\
.text{display:flex;flex-direction:column;min-width:0}\
.mark{font-size:12px;font-weight:600;letter-spacing:.02em;text-transform:uppercase}\
.headline{font-size:16px;font-weight:700}\
.entity{font-size:13px;font-weight:500;color:#262626;overflow:hidden;overflow-wrap:anywhere;\
display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2}\
.more{font-size:12px;font-weight:500;color:#0b4fb3;text-decoration:underline}\
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}\
@media (forced-colors:active){.zp{border-color:LinkText}\
.icon{forced-color-adjust:none;background:CanvasText;color:Canvas}}";

/// The embed page's policy but for `frame-ancestors`: `default-src 'none'` with the inline style
/// allowed by its hash.
static EMBED_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(EMBED_CSS.as_bytes()));
    format!("default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'")
});

/// Who may frame the embed page of a certificate for `domains`: the registry itself and each
/// domain with and without `www.`, on any port. The sources have no scheme, so they match the
/// embed page's own scheme and its upgrade (http: also https; https: only https), and a copy of
/// the iframe on any other website is not rendered. `None` (no such certificate, or the registry
/// could not be read): the page only says so, and any site may show that.
fn frame_ancestors(domains: Option<&[String]>) -> String {
    let Some(domains) = domains else { return "*".to_owned() };
    let mut sources = vec!["'self'".to_owned()];
    // Normalised again so that nothing but a host name can reach the header.
    for domain in domains.iter().filter_map(|domain| ids::normalize_domain(domain).ok()) {
        sources.push(format!("{domain}:*"));
        // An all-numeric name is an IPv4 address, which has no `www.` form.
        if !domain.split('.').all(|label| label.bytes().all(|b| b.is_ascii_digit())) {
            sources.push(format!("www.{domain}:*"));
        }
    }
    sources.join(" ")
}

fn embed_csp(domains: Option<&[String]>) -> HeaderValue {
    let policy = format!("{}; frame-ancestors {}", *EMBED_POLICY, frame_ancestors(domains));
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'self'"))
}

pub async fn embed(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Response {
    let raw = path.map(|Path(raw)| raw).unwrap_or_default();
    let lang = params.lang();
    let subject = subject(&state, &raw, lang).await;
    let mut response = html(subject.status, lang, embed_page(&subject, lang));
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, embed_csp(subject.domains.as_deref()));
    response
}

fn embed_page(subject: &Subject, lang: Lang) -> Markup {
    let shown = subject.shown;
    let headline = shown.headline(lang);
    let title = match &subject.entity {
        Some(name) => format!("{MARK}: {headline} — {}", plain(name)),
        None => format!("{MARK}: {headline}"),
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (PreEscaped(EMBED_CSS)) }
            }
            body {
                a class={ "zp " (shown.class()) } href=(subject.link) target="_blank" rel="noopener" {
                    span.icon aria-hidden="true" { (icon_svg(shown, 22)) }
                    span.text {
                        span.mark { (MARK) span.vh { ": " } }
                        span.headline { (headline) span.vh { ". " } }
                        @match &subject.entity {
                            Some(name) => span.entity { (text(&truncate(name, 90))) span.vh { ". " } },
                            None => span.entity { (shown.note(lang)) " " },
                        }
                        span.more {
                            (lang.pick("Sprawdź w rejestrze", "Check in the registry"))
                            span.vh { (lang.pick(" (otwiera się w nowej karcie)", " (opens in a new tab)")) }
                        }
                    }
                }
            }
        }
    }
}

fn icon_svg(shown: Shown, size: u32) -> Markup {
    html! {
        svg viewBox="0 0 20 20" width=(size) height=(size) focusable="false" fill="none" stroke="currentColor"
            stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" {
            (PreEscaped(shown.glyph()))
        }
    }
}

// ---- /badge/{ID}.svg --------------------------------------------------------------------------

/// What the image shows on the page that loads it: a valid mark is valid only on its
/// certificate's websites (or the registry's own pages), and where the page is unknown the image
/// claims nothing. Every other state is shown as it is: no website turns a revoked mark green.
fn shown_at(shown: Shown, domains: Option<&[String]>, referer: Option<&str>, issuer_url: &str) -> Shown {
    match (shown, domains) {
        (Shown::Verdict(Verdict::Valid), Some(domains)) => {
            match ids::referrer(referer, domains, issuer_url) {
                Referrer::Covered => shown,
                Referrer::Elsewhere(_) => Shown::WrongSite,
                Referrer::Unknown => Shown::CheckAtIssuer,
            }
        }
        _ => shown,
    }
}

pub async fn badge_svg(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
    referer: Referer,
) -> Response {
    let file = path.map(|Path(file)| file).unwrap_or_default();
    let Some(raw) = file.strip_suffix(".svg") else {
        return AppError::not_found("page").into_response();
    };
    let lang = params.lang();
    let mut subject = subject(&state, raw, lang).await;
    subject.shown =
        shown_at(subject.shown, subject.domains.as_deref(), referer.get(), &state.issuer.settings.base_url);
    let mut response = (subject.status, svg(&subject, lang)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("Referer"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.code()));
    response
}

/// Characters allowed in XML 1.0 text, without bidirectional controls, escaped.
fn xml_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in plain(value).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, cut at a word when that keeps most of it, with an ellipsis.
fn shorten(value: &str, max: usize) -> String {
    let value = value.trim();
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let cut: String = value.chars().take(max).collect();
    let ends_a_word = value.chars().nth(max) == Some(' ');
    let at_word = cut.rfind(' ').filter(|&i| !ends_a_word && cut[..i].chars().count() >= max * 2 / 3);
    let mut kept = at_word.map_or(cut.as_str(), |i| &cut[..i]).trim_end_matches([' ', ',', '-', '—', '–']);
    // A one-letter word ("w", "i") left dangling before the ellipsis goes too.
    if let Some((before, last)) = kept.rsplit_once(' ')
        && at_word.is_some()
        && last.chars().count() == 1
    {
        kept = before;
    }
    format!("{kept}…")
}

/// Widest entity name that fits the 320-pixel badge at 12 px.
const SVG_NAME_CHARS: usize = 38;

fn svg(subject: &Subject, lang: Lang) -> String {
    let shown = subject.shown;
    let colour = shown.colour();
    let headline = shown.headline(lang);
    let (title, last_line) = match &subject.entity {
        Some(name) => {
            (format!("{MARK}: {headline} — {}", plain(name)), shorten(&plain(name), SVG_NAME_CHARS))
        }
        None => (format!("{MARK}: {headline}. {}", shown.note(lang)), shown.note(lang).to_owned()),
    };
    // The longest headlines get a smaller size, so that they stay inside the frame.
    let headline_size = match headline.chars().count() {
        0..=22 => "15",
        23..=26 => "14",
        _ => "13",
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"64\" viewBox=\"0 0 320 64\" \
         role=\"img\" aria-labelledby=\"zp-title\" lang=\"{code}\">\
         <title id=\"zp-title\">{title}</title>\
         <rect x=\"1\" y=\"1\" width=\"318\" height=\"62\" rx=\"10\" fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"2\"/>\
         <circle cx=\"32\" cy=\"32\" r=\"19\" fill=\"{colour}\"/>\
         <g transform=\"translate(19 19) scale(1.3)\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.2\" \
         stroke-linecap=\"round\" stroke-linejoin=\"round\">{glyph}</g>\
         <g font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'DejaVu Sans', sans-serif\" \
         aria-hidden=\"true\">\
         <text x=\"62\" y=\"20\" font-size=\"11\" font-weight=\"600\" letter-spacing=\".3\" fill=\"{colour}\">{mark}</text>\
         <text x=\"62\" y=\"38\" font-size=\"{headline_size}\" font-weight=\"700\" fill=\"{colour}\">{headline}</text>\
         <text x=\"62\" y=\"55\" font-size=\"12\" fill=\"#262626\">{last_line}</text>\
         </g></svg>",
        code = lang.code(),
        title = xml_text(&title),
        glyph = shown.glyph(),
        mark = xml_text(&MARK.to_uppercase()),
        headline = xml_text(headline),
        last_line = xml_text(&last_line),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_drops_what_xml_cannot_carry() {
        assert_eq!(
            xml_text("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(xml_text("a\u{0}b\u{1b}c\td\u{202e}e"), "abc de");
    }

    #[test]
    fn names_are_shortened_at_a_word() {
        assert_eq!(shorten("Smaki Roztocza", 38), "Smaki Roztocza");
        assert_eq!(
            shorten("Spółdzielnia Socjalna „Smaki Roztocza” w Zamościu i okolicach", 38),
            "Spółdzielnia Socjalna „Smaki Roztocza”…"
        );
        assert_eq!(shorten(&"x".repeat(50), 10), format!("{}…", "x".repeat(10)));
        assert_eq!(shorten("żółw żółw żółw", 6), "żółw…");
        assert_eq!(shorten("Fundacja Ceramiki Lubelskiej", 17), "Fundacja Ceramiki…");
        assert_eq!(shorten("Centrum Integracji Społecznej w Chełmie", 38), "Centrum Integracji Społecznej…");
    }

    #[test]
    fn frame_ancestors_are_the_registry_and_the_websites() {
        let domains = ["las.pl".to_owned(), "127.0.0.1".to_owned(), "localhost".to_owned()];
        assert_eq!(
            frame_ancestors(Some(&domains)),
            "'self' las.pl:* www.las.pl:* 127.0.0.1:* localhost:* www.localhost:*"
        );
        assert_eq!(frame_ancestors(Some(&[])), "'self'");
        assert_eq!(frame_ancestors(None), "*");
        // Whatever is stored, nothing but host names reaches the header.
        let hostile = ["a.pl; script-src *".to_owned(), "b.pl 'unsafe-inline'".to_owned()];
        assert_eq!(frame_ancestors(Some(&hostile)), "'self'");
        let csp = embed_csp(Some(&domains));
        let csp = csp.to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
        assert!(csp.ends_with(
            "; frame-ancestors 'self' las.pl:* www.las.pl:* 127.0.0.1:* localhost:* www.localhost:*"
        ));
    }

    #[test]
    fn only_a_valid_mark_depends_on_where_it_is_shown() {
        let domains = ["las.pl".to_owned()];
        let issuer = "https://zp.rops.lublin.pl";
        let valid = Shown::Verdict(Verdict::Valid);
        let at = |shown, referer| shown_at(shown, Some(&domains), referer, issuer);
        assert_eq!(at(valid, Some("https://www.las.pl/")), valid);
        assert_eq!(at(valid, Some("https://zp.rops.lublin.pl/demo")), valid);
        assert_eq!(at(valid, Some("https://obcy.pl/")), Shown::WrongSite);
        assert_eq!(at(valid, None), Shown::CheckAtIssuer);
        for verdict in [Verdict::Expired, Verdict::NotYetValid, Verdict::Suspended, Verdict::Revoked] {
            for referer in [None, Some("https://las.pl/"), Some("https://obcy.pl/")] {
                assert_eq!(
                    at(Shown::Verdict(verdict), referer),
                    Shown::Verdict(verdict),
                    "{verdict:?} {referer:?}"
                );
            }
        }
        for shown in [Shown::Unknown, Shown::CannotConfirm] {
            assert_eq!(shown_at(shown, None, Some("https://obcy.pl/"), issuer), shown);
        }
    }

    #[test]
    fn every_state_has_words_and_a_colour() {
        let all = [
            Shown::Verdict(Verdict::Valid),
            Shown::Verdict(Verdict::Expired),
            Shown::Verdict(Verdict::NotYetValid),
            Shown::Verdict(Verdict::Suspended),
            Shown::Verdict(Verdict::Revoked),
            Shown::WrongSite,
            Shown::CheckAtIssuer,
            Shown::Unknown,
            Shown::CannotConfirm,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in all.iter().skip(i + 1) {
                assert_ne!(a.headline(Lang::Pl), b.headline(Lang::Pl));
                assert_ne!(a.headline(Lang::En), b.headline(Lang::En));
            }
            assert!(a.colour().starts_with('#'));
        }
    }
}
