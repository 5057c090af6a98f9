//! The pages driven in-process through the whole router, over demo data in a temporary store.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use sha2::{Digest, Sha256};
use zp_shared::{KeySet, Rules};

use super::CONTENT_SECURITY_POLICY;
use crate::cli::demo::seed;
use crate::http::testing::{Reply, get, send, state_with};
use crate::http::widget::WidgetBundle;
use crate::http::{AppState, RateLimit, router};
use crate::issuer::{Issuer, NewCertificate, NewEntity, NewProduct};
use crate::store::CertState;

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"' \u{202e}";
const ESCAPED: &str = "&lt;img src=x onerror=alert(1)&gt;&quot;' \u{202e}";

struct Demo {
    app: Router,
    issuer: Arc<Issuer>,
    /// (certificate ID, what the demo did to it)
    certificates: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Demo {
    fn id(&self, fate: &str) -> &str {
        self.certificates.iter().find(|(_, f)| f == fate).map(|(id, _)| id.as_str()).unwrap()
    }
}

async fn demo() -> Demo {
    demo_with(|_, _| {}).await
}

/// The demo data, with `configure` given the state and the data directory before the router is
/// made.
async fn demo_with(configure: impl FnOnce(&mut AppState, &std::path::Path)) -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let mut state = state_with(dir.path(), "https://zp.rops.lublin.pl", RateLimit::disabled()).await;
    let now = state.now();
    let seeded = seed(&state.issuer, dir.path(), now).await.unwrap().unwrap();
    let mut certificates = seeded.certificates;
    // The demo has no certificate that starts in the future; add one.
    let entity = NewEntity {
        name: "Warsztat Terapii Zajęciowej „Jutro”".into(),
        legal_form: "wtz".into(),
        domains: vec!["jutro.example.pl".into()],
        city: Some("Lublin".into()),
        ..NewEntity::default()
    };
    let entity = state.issuer.create_entity("test", entity, now).await.unwrap();
    let start = crate::issuer::format_date(now + 20 * 86_400);
    let input = NewCertificate {
        entity_id: entity.id,
        products: vec![NewProduct { name: "Kartki okolicznościowe".into(), gtin: None }],
        valid_from: Some(start),
    };
    let future = state.issuer.issue("test", input, now).await.unwrap();
    certificates.push((future.certificate.id, "future".into()));
    configure(&mut state, dir.path());
    Demo { issuer: state.issuer.clone(), app: router(state), certificates, _dir: dir }
}

fn assert_page(reply: &Reply, status: u16, path: &str) {
    assert_eq!(reply.status.as_u16(), status, "{path}: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
    assert_eq!(reply.header("content-security-policy"), Some(CONTENT_SECURITY_POLICY), "{path}");
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
    assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
    let html = reply.text();
    assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
    assert!(html.contains("<main id=\"main\""), "{path}");
}

#[tokio::test]
async fn verification_page_of_each_state_says_so_in_both_languages() {
    let demo = demo().await;
    let cases = [
        ("valid", "✓", "Znak ważny", "Mark verified"),
        ("expiring soon", "✓", "Znak ważny", "Mark verified"),
        ("expired", "✗", "Certyfikat wygasł", "Certificate expired"),
        ("future", "◔", "Certyfikat jeszcze nieważny", "Certificate not yet valid"),
        ("suspended", "‖", "Certyfikat zawieszony", "Certificate suspended"),
        ("revoked", "⊘", "Certyfikat cofnięty", "Certificate revoked"),
    ];
    for (fate, icon, pl, en) in cases {
        let id = demo.id(fate);
        let path = format!("/v/{id}");
        let reply = get(&demo.app, &path).await;
        assert_page(&reply, 200, &path);
        let html = reply.text();
        assert!(html.contains("<html lang=\"pl\">"), "{fate}");
        assert!(html.contains(&format!("<h1 id=\"verdict\">{pl}</h1>")), "{fate}: {html}");
        assert!(html.contains(&format!("aria-hidden=\"true\">{icon}</p>")), "{fate}");
        assert!(html.contains(&format!("src=\"/v/{id}/qr.svg\"")), "{fate}");
        assert!(html.contains("href=\"?lang=en\""), "{fate}: a switch to English");

        let path = format!("/v/{id}?lang=en");
        let reply = get(&demo.app, &path).await;
        assert_page(&reply, 200, &path);
        let html = reply.text();
        assert!(html.contains("<html lang=\"en\">"), "{fate}");
        assert!(html.contains(&format!("<h1 id=\"verdict\">{en}</h1>")), "{fate}");
        assert!(html.contains("href=\"?lang=pl\""), "{fate}: a switch back to Polish");
    }

    let revoked = get(&demo.app, &format!("/v/{}", demo.id("revoked"))).await.text();
    assert!(revoked.contains("znak był używany na produktach lub usługach, których nie obejmuje"));
    assert!(revoked.contains("Znak użyto na produktach spoza certyfikatu"));
    let revoked_en = get(&demo.app, &format!("/v/{}?lang=en", demo.id("revoked"))).await.text();
    assert!(revoked_en.contains("the mark was used on products or services it does not cover"));
    let suspended = get(&demo.app, &format!("/v/{}", demo.id("suspended"))).await.text();
    assert!(suspended.contains("Kontrola jakości w toku"));
    let valid = get(&demo.app, &format!("/v/{}", demo.id("valid"))).await.text();
    assert!(valid.contains("Powidła węgierkowe"));
    assert!(valid.contains("05901234000017"));
    assert!(valid.contains("spółdzielnia socjalna"));
    assert!(valid.contains("5260181596"));
}

#[tokio::test]
async fn qr_url_form_and_any_case_lead_to_the_same_page() {
    let demo = demo().await;
    let id = demo.id("valid");
    for path in [format!("/V/{id}"), format!("/V/{}", id.to_lowercase()), format!("/v/{}", id.to_lowercase())]
    {
        let reply = get(&demo.app, &path).await;
        assert_page(&reply, 200, &path);
        assert!(reply.text().contains("Znak ważny"), "{path}");
        assert!(
            reply.text().contains(&format!("rel=\"canonical\" href=\"https://zp.rops.lublin.pl/v/{id}\""))
        );
    }
}

#[tokio::test]
async fn unknown_certificate_warns_of_forgery() {
    let demo = demo().await;
    for path in ["/v/7K3QX9M2", "/v/not-an-id", "/v/%3Cscript%3E", "/V/ZZZZZZZZ?lang=en"] {
        let reply = get(&demo.app, path).await;
        assert_page(&reply, 404, path);
        let html = reply.text();
        assert!(
            html.contains("Certyfikat nie istnieje w rejestrze")
                || html.contains("This certificate does not exist in the registry"),
            "{path}"
        );
        assert!(html.contains("podrobiony") || html.contains("forged"), "{path}");
        assert!(!html.contains("<script"), "{path}");
    }
}

#[tokio::test]
async fn hostile_names_render_as_text_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with(dir.path(), "https://zp.rops.lublin.pl", RateLimit::disabled()).await;
    let now = state.now();
    let entity = NewEntity {
        name: HOSTILE.into(),
        legal_form: "social_cooperative".into(),
        domains: vec!["example.pl".into()],
        city: Some("<b>Lublin</b>".into()),
        ..NewEntity::default()
    };
    let entity = state.issuer.create_entity("test", entity, now).await.unwrap();
    let product = NewProduct { name: "<script>alert(1)</script>".into(), gtin: None };
    let input = NewCertificate { entity_id: entity.id.clone(), products: vec![product], valid_from: None };
    let id = state.issuer.issue("test", input, now).await.unwrap().certificate.id;
    let app = router(state);
    for path in
        ["/?q=img".to_owned(), format!("/v/{id}"), format!("/e/{}", entity.id), format!("/v/{id}?lang=en")]
    {
        let reply = get(&app, &path).await;
        assert_page(&reply, 200, &path);
        let html = reply.text();
        assert!(!html.contains("<img src=x"), "{path}: the name became markup");
        assert!(!html.contains("<b>Lublin"), "{path}: the city became markup");
        assert!(!html.contains("<script"), "{path}: a product became markup");
        assert!(html.contains(ESCAPED), "{path}: the name is shown as text");
        // The right-to-left override stays inside an isolate and out of the title.
        assert!(html.contains(&format!("<bdi>{ESCAPED}</bdi>")), "{path}");
        let title = html.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap();
        assert!(!title.contains('\u{202e}'), "{path}: {title}");
    }
}

#[tokio::test]
async fn registry_search_and_entity_page() {
    let demo = demo().await;
    let home = get(&demo.app, "/").await;
    assert_page(&home, 200, "/");
    let html = home.text();
    for words in
        ["Smaki Roztocza", "Pszczela Dolina", "/api/v1/openapi.json", "/.well-known/jwks.json", "O znaku"]
    {
        assert!(html.contains(words), "{words}");
    }
    // Folded search: no diacritics needed.
    let found = get(&demo.app, "/?q=chelm&lang=en").await;
    assert_page(&found, 200, "/?q=chelm");
    let html = found.text();
    assert!(html.contains("Centrum Integracji Społecznej w Chełmie"));
    assert!(!html.contains("Smaki Roztocza"));
    assert!(html.contains("social integration centre"));
    assert!(html.contains(&format!("href=\"/v/{}?lang=en\"", demo.id("expiring soon"))));
    assert!(html.contains("href=\"?q=chelm&amp;lang=pl\""), "the switch keeps the query");
    let none = get(&demo.app, "/?q=nothing-like-this").await;
    assert!(none.text().contains("Nie znaleziono"));
    let long = get(&demo.app, &format!("/?q={}", "a".repeat(201))).await;
    assert_page(&long, 422, "/?q=aaa…");
    assert!(long.text().contains("aria-invalid=\"true\""));
    // Bad paging input is not an error.
    assert_page(&get(&demo.app, "/?offset=-5").await, 200, "/?offset=-5");
    assert_page(&get(&demo.app, "/?offset=%FF%FE").await, 200, "/?offset=%FF%FE");

    // The entity page of the valid certificate, reached through its verification page.
    let valid = get(&demo.app, &format!("/v/{}", demo.id("valid"))).await.text();
    let entity_path = valid.split("href=\"/e/").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let path = format!("/e/{entity_path}");
    let entity = get(&demo.app, &path).await;
    assert_page(&entity, 200, &path);
    let html = entity.text();
    assert!(html.contains(
        "&lt;script type=&quot;module&quot; src=&quot;https://zp.rops.lublin.pl/widget/zp-badge.js&quot;&gt;"
    ));
    assert!(html.contains("&lt;zakup-prospoleczny token=&quot;eyJ"));
    assert!(
        html.contains(&format!(
            "&lt;a href=&quot;https://zp.rops.lublin.pl/v/{}&quot;&gt;",
            demo.id("valid")
        ))
    );
    assert!(html.contains(&format!(
        "&lt;iframe src=&quot;https://zp.rops.lublin.pl/embed/{}&quot;",
        demo.id("valid")
    )));
    assert!(html.contains(&format!("href=\"/v/{}/qr.png\"", demo.id("valid"))));
    assert!(!html.contains("<zakup-prospoleczny"), "the snippet is shown, not run");

    let revoked = get(&demo.app, &format!("/v/{}", demo.id("revoked"))).await.text();
    let entity_path = revoked.split("href=\"/e/").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let html = get(&demo.app, &format!("/e/{entity_path}")).await.text();
    assert!(html.contains("Certyfikat cofnięty"));
    assert!(!html.contains("zp-badge.js"), "no snippet for a revoked certificate");

    for path in ["/e/ENOTHERE0000", "/e/..%2F..%2Fetc", "/e/%00"] {
        assert_page(&get(&demo.app, path).await, 404, path);
    }
}

#[tokio::test]
async fn qr_images() {
    let demo = demo().await;
    let id = demo.id("valid");
    let svg = get(&demo.app, &format!("/v/{id}/qr.svg")).await;
    assert_eq!(svg.status.as_u16(), 200);
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.text().contains("<svg"));
    let png = get(&demo.app, &format!("/v/{}/qr.png", id.to_lowercase())).await;
    assert_eq!(png.status.as_u16(), 200);
    assert_eq!(png.header("content-type"), Some("image/png"));
    let decoder = png::Decoder::new(std::io::Cursor::new(png.body));
    let info = decoder.read_info().unwrap();
    // Version 2 for this issuer: 25 modules, a 4-module quiet zone each side, 8 px per module.
    assert_eq!(info.info().width, (25 + 8) * 8);
    assert_page(&get(&demo.app, "/v/7K3QX9M2/qr.svg").await, 404, "unknown QR");
}

#[tokio::test]
async fn gs1_digital_link() {
    let demo = demo().await;
    let valid = demo.id("valid");
    for path in ["/01/05901234000017", "/01/5901234000017", "/01/05901234000017/10/LOT42?x=1"] {
        let reply = get(&demo.app, path).await;
        assert_eq!(reply.status.as_u16(), 303, "{path}");
        assert_eq!(reply.header("location"), Some(format!("/v/{valid}").as_str()), "{path}");
    }
    let english = get(&demo.app, "/01/05901234000017?lang=en").await;
    assert_eq!(english.header("location"), Some(format!("/v/{valid}?lang=en").as_str()));

    let bad = get(&demo.app, "/01/05901234000018").await;
    assert_page(&bad, 400, "bad check digit");
    let html = bad.text();
    assert!(html.contains("cyfra kontrolna"), "{html}");
    assert!(html.contains("<strong>8</strong>") && html.contains("<strong>7</strong>"));
    let short = get(&demo.app, "/01/123?lang=en").await;
    assert_page(&short, 400, "short GTIN");
    assert!(short.text().contains("8, 12, 13 or 14 digits"));
    assert_page(&get(&demo.app, "/01/%3Cimg%3E").await, 400, "markup GTIN");

    let unknown = get(&demo.app, "/01/4006381333931").await;
    assert_page(&unknown, 404, "unlisted GTIN");
    assert!(unknown.text().contains("Brak certyfikatu dla tego produktu"));
}

#[tokio::test]
async fn stylesheet_is_cached_by_version() {
    let demo = demo().await;
    let home = get(&demo.app, "/").await.text();
    let href = home.split("rel=\"stylesheet\" href=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
    let css = get(&demo.app, href).await;
    assert_eq!(css.status.as_u16(), 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert!(css.text().contains(":focus-visible"));
    let stale = get(&demo.app, "/assets/site.css?v=old").await;
    assert_eq!(stale.header("cache-control"), Some("public, max-age=300"));
}

/// The text between `open` and the next `close` after it.
fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).map(|i| i + open.len()).unwrap_or_else(|| panic!("no {open:?} in {text}"));
    let rest = &text[start..];
    &rest[..rest.find(close).unwrap_or_else(|| panic!("no {close:?} after {open:?}"))]
}

/// The demo cases that can reach the no-script badges, with the script badge's words.
const BADGE_WORDS: [(&str, &str, &str); 6] = [
    ("valid", "Znak ważny", "Mark verified"),
    ("expiring soon", "Znak ważny", "Mark verified"),
    ("expired", "Certyfikat wygasł", "Certificate expired"),
    ("future", "Certyfikat jeszcze nieważny", "Certificate not yet valid"),
    ("suspended", "Certyfikat zawieszony", "Certificate suspended"),
    ("revoked", "Certyfikat cofnięty", "Certificate revoked"),
];

/// `frame_ancestors`: how the directive begins (`'self'` for a certificate, `*` without one).
fn assert_frameable(reply: &Reply, status: u16, path: &str, frame_ancestors: &str) {
    assert_eq!(reply.status.as_u16(), status, "{path}: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"), "{path}");
    assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
    assert_eq!(reply.header("x-frame-options"), None, "{path}: frame-ancestors alone decides");
    let csp = reply.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'none';"), "{path}: {csp}");
    assert!(csp.contains(&format!("; frame-ancestors {frame_ancestors}")), "{path}: {csp}");
    // The one inline style is allowed by its hash, and nothing else runs.
    let html = reply.text();
    let style = between(&html, "<style>", "</style>");
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, Sha256::digest(style));
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{path}: {csp}");
    assert!(!html.contains("<script"), "{path}");
    assert!(!html.contains(" style="), "{path}: no inline style attributes");
}

#[tokio::test]
async fn embed_page_states_the_verdict_and_may_be_framed() {
    let demo = demo().await;
    for (fate, pl, en) in BADGE_WORDS {
        let id = demo.id(fate);
        let path = format!("/embed/{}", id.to_lowercase());
        let reply = get(&demo.app, &path).await;
        assert_frameable(&reply, 200, &path, "'self' ");
        let html = reply.text();
        assert!(html.contains("<html lang=\"pl\">"), "{fate}");
        // The link's own text states the verdict and whose mark it is.
        let link = between(&html, "<a ", "</a>");
        assert!(link.contains(&format!("href=\"https://zp.rops.lublin.pl/v/{id}\"")), "{fate}: {link}");
        assert!(link.contains("target=\"_blank\" rel=\"noopener\""), "{fate}: {link}");
        assert!(link.contains(&format!(">{pl}<")), "{fate}: {link}");
        assert!(link.contains("Zakup Prospołeczny"), "{fate}");
        assert!(link.contains("(otwiera się w nowej karcie)"), "{fate}");

        let path = format!("/embed/{id}?lang=en");
        let reply = get(&demo.app, &path).await;
        assert_frameable(&reply, 200, &path, "'self' ");
        let html = reply.text();
        assert!(html.contains("<html lang=\"en\">"), "{fate}");
        let link = between(&html, "<a ", "</a>");
        assert!(link.contains(&format!(">{en}<")), "{fate}: {link}");
        assert!(link.contains(&format!("href=\"https://zp.rops.lublin.pl/v/{id}?lang=en\"")), "{fate}");
    }
    let valid = get(&demo.app, &format!("/embed/{}", demo.id("valid"))).await.text();
    assert!(valid.contains("<bdi>Spółdzielnia Socjalna „Smaki Roztocza”</bdi>"));

    for path in ["/embed/7K3QX9M2", "/embed/%3Cscript%3E", "/embed/ZZZZZZZZ?lang=en"] {
        let reply = get(&demo.app, path).await;
        // No certificate, no websites to keep it to: any site may show that it is not registered.
        assert_frameable(&reply, 404, path, "*");
        let html = reply.text();
        assert!(
            html.contains(">Certyfikatu nie ma w rejestrze<")
                || html.contains(">Certificate not in the registry<"),
            "{path}: {html}"
        );
    }
}

#[tokio::test]
async fn svg_badge_states_the_verdict() {
    let demo = demo().await;
    for (fate, pl, en) in BADGE_WORDS {
        let id = demo.id(fate);
        for (query, words) in [("", pl), ("?lang=en", en)] {
            let path = format!("/badge/{id}.svg{query}");
            // Shown on the registry's own pages, as the demo shop shows it.
            let reply = get_from(&demo.app, &path, Some("https://zp.rops.lublin.pl/demo")).await;
            assert_eq!(reply.status.as_u16(), 200, "{path}");
            assert_eq!(reply.header("content-type"), Some("image/svg+xml"), "{path}");
            assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
            assert_eq!(reply.header("access-control-allow-origin"), Some("*"), "{path}");
            let svg = reply.text();
            assert!(
                svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"64\""),
                "{path}"
            );
            assert!(svg.ends_with("</svg>"), "{path}");
            assert_eq!(svg.matches("<text ").count(), svg.matches("</text>").count(), "{path}");
            let title = between(&svg, "<title id=\"zp-title\">", "</title>");
            assert!(title.starts_with(&format!("Zakup Prospołeczny: {words} — ")), "{path}: {title}");
            assert!(svg.contains(&format!(">{words}</text>")), "{path}");
        }
    }
    let lower = get(&demo.app, &format!("/badge/{}.svg", demo.id("valid").to_lowercase())).await;
    assert_eq!(lower.status.as_u16(), 200);

    let unknown = get(&demo.app, "/badge/7K3QX9M2.svg").await;
    assert_eq!(unknown.status.as_u16(), 404);
    assert_eq!(unknown.header("content-type"), Some("image/svg+xml"));
    assert!(unknown.text().contains(">Certyfikatu nie ma w rejestrze</text>"));
    assert_eq!(get(&demo.app, "/badge/7K3QX9M2").await.status.as_u16(), 404);
}

#[tokio::test]
async fn svg_badge_escapes_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with(dir.path(), "https://zp.rops.lublin.pl", RateLimit::disabled()).await;
    let now = state.now();
    for name in [HOSTILE.to_owned(), format!("{HOSTILE} and a much longer tail to be cut off")] {
        let entity = NewEntity {
            name,
            legal_form: "social_cooperative".into(),
            domains: vec!["example.pl".into()],
            ..NewEntity::default()
        };
        let entity = state.issuer.create_entity("test", entity, now).await.unwrap();
        let product = NewProduct { name: "Chleb".into(), gtin: None };
        let input = NewCertificate { entity_id: entity.id, products: vec![product], valid_from: None };
        let id = state.issuer.issue("test", input, now).await.unwrap().certificate.id;
        let app = router(state.clone());
        let svg = get(&app, &format!("/badge/{id}.svg")).await.text();
        assert!(!svg.contains("<img"), "{svg}");
        assert!(!svg.contains('\u{202e}'), "bidirectional controls are dropped");
        let title = between(&svg, "<title id=\"zp-title\">", "</title>");
        assert!(title.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&apos;"), "{title}");
        let embed = get(&app, &format!("/embed/{id}")).await.text();
        assert!(!embed.contains("<img"), "{embed}");
        assert!(embed.contains(&format!("<bdi>{ESCAPED}")), "{embed}");
    }
}

/// The badge elements of a page: (token, the element's content).
fn badge_elements(html: &str) -> Vec<(String, String)> {
    html.split("<zakup-prospoleczny ")
        .skip(1)
        .map(|element| {
            let token = between(element, "token=\"", "\"").to_owned();
            let content = between(element, ">", "</zakup-prospoleczny>").to_owned();
            (token, content)
        })
        .collect()
}

async fn key_set(issuer: &Issuer) -> KeySet {
    let mut keys = KeySet::new();
    for jwk in issuer.jwks(issuer_now()).await.unwrap().keys {
        let bytes = zp_shared::base64url::decode(&jwk.x).unwrap();
        keys.insert(zp_shared::PublicKey::from_bytes(&bytes).unwrap()).unwrap();
    }
    keys
}

fn issuer_now() -> i64 {
    crate::clock::Clock::default().now()
}

#[tokio::test]
async fn demo_shop_exists_only_under_demo() {
    let plain = demo().await;
    let reply = get(&plain.app, "/demo").await;
    assert_eq!(reply.status.as_u16(), 404);
    assert!(!reply.text().contains("zakup-prospoleczny"));
}

#[tokio::test]
async fn demo_shop_shows_a_real_badge_for_each_case() {
    let demo = demo_with(|state, _| state.demo = true).await;
    let reply = get(&demo.app, "/demo").await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        reply.header("content-security-policy"),
        Some(
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' \
             https://zp.rops.lublin.pl; img-src 'self' data:; style-src 'self'; frame-src 'self'; base-uri \
             'none'; form-action 'self'; frame-ancestors 'none'"
        )
    );
    let html = reply.text();
    assert!(html.contains("Sklep Dobre Zakupy"));
    assert!(html.contains("href=\"?lang=en\""), "a switch to English");
    // The loader is the only script, and nothing runs inline.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script type=\"module\" src=\"/widget/zp-badge.js\"></script>"));
    assert!(html.contains("zbuduj go poleceniem") || html.contains("Zbuduj go poleceniem"), "no bundle here");

    let badges = badge_elements(&html);
    assert_eq!(badges.len(), 7, "{html}");
    for (token, content) in &badges {
        assert!(token.starts_with("eyJ") && token.split('.').count() == 3, "{token}");
        assert!(content.trim_start().starts_with("<a href=\"/v/"), "a fallback link: {content}");
    }
    // Each card's badge, checked for what its case says it shows.
    let cards: Vec<(&str, &str)> = html
        .split("data-case=\"")
        .skip(1)
        .map(|card| (&card[..card.find('"').unwrap()], between(card, "<zakup-prospoleczny token=\"", "\"")))
        .collect();
    let cases: Vec<&str> = cards.iter().map(|(case, _)| *case).collect();
    assert_eq!(cases, ["valid", "expiring", "expired", "suspended", "revoked", "forged", "elsewhere"]);
    let keys = key_set(&demo.issuer).await;
    let rules = Rules::new("https://zp.rops.lublin.pl");
    let now = issuer_now();
    let day = 86_400;
    let state = |id: String| {
        let issuer = demo.issuer.clone();
        async move { issuer.store.certificate(&id).await.unwrap().unwrap().certificate.state }
    };
    let local = |claims: &zp_shared::CertificateClaims| claims.zp.domains.iter().any(|d| d == "127.0.0.1");
    let (_, valid_token) = cards[0];
    for (case, token) in &cards {
        let verified = zp_shared::verify(token, &keys, now, &rules);
        // The fate the demo seeding gave the certificate the card must show.
        let (fate, expected_state) = match *case {
            "valid" => ("valid", CertState::Active),
            "expiring" => ("expiring soon", CertState::Active),
            "expired" => ("expired", CertState::Active),
            "suspended" => ("suspended", CertState::Suspended),
            "revoked" => ("revoked", CertState::Revoked),
            "forged" => ("valid", CertState::Active),
            "elsewhere" => ("other domain", CertState::Active),
            other => panic!("unexpected demo case {other}"),
        };
        match *case {
            "expired" => {
                assert!(matches!(verified, Err(zp_shared::Error::Expired { .. })), "{case}: {verified:?}")
            }
            "forged" => {
                assert_eq!(verified, Err(zp_shared::Error::BadSignature), "{case}");
                let signed = |token: &str| token.rsplit_once('.').unwrap().0.to_owned();
                assert_eq!(signed(token), signed(valid_token), "the valid badge's token, signature changed");
                assert_ne!(token, &valid_token);
            }
            _ => {
                let claims = verified.as_ref().unwrap_or_else(|err| panic!("{case}: {err:?}")).claims();
                assert_eq!(local(claims), *case != "elsewhere", "{case}: {:?}", claims.zp.domains);
                match *case {
                    "valid" => assert!(claims.exp > now + 30 * day, "{case}: ends at {}", claims.exp),
                    "expiring" => assert!(claims.exp < now + 7 * day, "{case}: ends at {}", claims.exp),
                    "elsewhere" => assert!(claims.zp.domains.contains(&"innysklep.pl".to_owned()), "{case}"),
                    // Genuine and current: what the badge shows comes from the status list, so
                    // the certificate's state in the registry is checked below.
                    _ => {}
                }
            }
        }
        // Whose mark it is: the forged badge carries the valid one's claims.
        let genuine = if *case == "forged" { valid_token } else { token };
        let claims =
            zp_shared::UntrustedToken::parse(genuine).unwrap().authenticate(&keys, &rules).unwrap().claims;
        assert_eq!(claims.sub, demo.id(fate), "{case}");
        assert_eq!(state(claims.sub.clone()).await, expected_state, "{case}");
    }
    for words in [
        "Certyfikat ważny",
        "Certyfikat wygasa za",
        "Certyfikat wygasł",
        "Certyfikat zawieszony",
        "Certyfikat cofnięty",
        "Podrobiony podpis",
        "Znak skopiowany z innej strony",
        "innysklep.pl",
    ] {
        assert!(html.contains(words), "{words}");
    }
    // The badges without scripts, for the valid certificate.
    let valid = demo.id("valid");
    assert!(html.contains(&format!("<iframe src=\"/embed/{valid}\"")), "{html}");
    assert!(html.contains(&format!("<img src=\"/badge/{valid}.svg\"")), "{html}");

    let english = get(&demo.app, "/demo?lang=en").await.text();
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("Forged signature"));
    assert!(badge_elements(&english).iter().all(|(_, content)| content.contains("?lang=en")));
    assert_eq!(english.matches("lang=\"en\">").count(), 1 + 7, "the page and each badge");
}

#[tokio::test]
async fn entity_page_offers_a_pinned_snippet_when_the_bundle_is_built() {
    let mut bundle = None;
    let pinned = demo_with(|state, dir| {
        let dist = dir.join("dist");
        std::fs::create_dir(&dist).unwrap();
        let loader = "const I = \"__ZP_ISSUER__\"; import(\"./__ZP_GLUE__\"); fetch(\"./__ZP_WASM__\");";
        std::fs::write(dist.join("zp-badge.js"), loader).unwrap();
        std::fs::write(dist.join("zp-widget.js"), "export default function init() {}").unwrap();
        std::fs::write(dist.join("zp-widget_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let loaded = Arc::new(WidgetBundle::load(&dist, "https://zp.rops.lublin.pl").unwrap());
        state.widget = Some(loaded.clone());
        bundle = Some(loaded);
    })
    .await;
    let bundle = bundle.unwrap();
    let valid = get(&pinned.app, &format!("/v/{}", pinned.id("valid"))).await.text();
    let entity_path = format!("/e/{}", between(&valid, "href=\"/e/", "\""));
    let html = get(&pinned.app, &entity_path).await.text();
    assert!(bundle.loader.name.starts_with("zp-badge-"));
    assert!(html.contains(&format!(
        "&lt;script type=&quot;module&quot; src=&quot;https://zp.rops.lublin.pl/widget/{}&quot; \
         integrity=&quot;{}&quot; crossorigin=&quot;anonymous&quot;&gt;&lt;/script&gt;",
        bundle.loader.name, bundle.loader_integrity
    )));
    // The hash the snippet quotes is that of the loader the server sends under that name.
    let quoted = between(&html, "integrity=&quot;", "&quot;");
    let served = get(&pinned.app, &format!("/widget/{}", bundle.loader.name)).await;
    assert_eq!(served.status.as_u16(), 200);
    assert!(
        String::from_utf8_lossy(&served.body).contains("https://zp.rops.lublin.pl"),
        "the loader as served"
    );
    let digest = sha2::Sha384::digest(&served.body);
    assert_eq!(quoted, format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(digest)));
    assert!(html.contains("nigdy się nie zmienia"));
    // The plain snippet that follows updates is still there, first.
    let stable = html.find("/widget/zp-badge.js&quot;").unwrap();
    assert!(stable < html.find("integrity=").unwrap());
    assert!(html.contains(&format!(
        "&lt;img src=&quot;https://zp.rops.lublin.pl/badge/{}.svg&quot;",
        pinned.id("valid")
    )));

    // Without a bundle there is no pinned version to offer.
    let plain = demo().await;
    let valid = get(&plain.app, &format!("/v/{}", plain.id("valid"))).await.text();
    let html = get(&plain.app, &format!("/e/{}", between(&valid, "href=\"/e/", "\""))).await.text();
    assert!(html.contains("/widget/zp-badge.js"));
    assert!(!html.contains("integrity="));
}

/// `GET path` with a `Referer`, as a browser sends it from the page that loads or links it.
async fn get_from(app: &Router, path: &str, referer: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(referer) = referer {
        request = request.header("referer", referer);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

/// The sources of a policy's `frame-ancestors` directive.
fn frame_ancestors(reply: &Reply) -> Vec<String> {
    let csp = reply.header("content-security-policy").unwrap();
    let directive = csp.split(';').map(str::trim).find(|d| d.starts_with("frame-ancestors ")).unwrap();
    directive.split_whitespace().skip(1).map(str::to_owned).collect()
}

#[tokio::test]
async fn embed_page_may_be_framed_only_on_the_certificates_websites() {
    let demo = demo().await;
    let expected = [
        ("valid", "'self' smakiroztocza.pl:* www.smakiroztocza.pl:* localhost:* www.localhost:* 127.0.0.1:*"),
        (
            "revoked",
            "'self' pszczeladolina.pl:* www.pszczeladolina.pl:* localhost:* www.localhost:* 127.0.0.1:*",
        ),
        ("other domain", "'self' innysklep.pl:* www.innysklep.pl:*"),
        ("future", "'self' jutro.example.pl:* www.jutro.example.pl:*"),
    ];
    for (fate, sources) in expected {
        for query in ["", "?lang=en"] {
            let path = format!("/embed/{}{query}", demo.id(fate));
            let reply = get(&demo.app, &path).await;
            assert_frameable(&reply, 200, &path, "'self' ");
            assert_eq!(frame_ancestors(&reply).join(" "), sources, "{fate}");
            // Everything else in the policy stays.
            let csp = reply.header("content-security-policy").unwrap();
            for directive in
                ["default-src 'none'", "style-src 'sha256-", "base-uri 'none'", "form-action 'none'"]
            {
                assert!(csp.contains(directive), "{fate}: {csp}");
            }
            assert_eq!(csp.matches("frame-ancestors").count(), 1, "{csp}");
        }
    }
    // Where the page is framed from changes nothing in what it sends: the browser decides.
    let valid = format!("/embed/{}", demo.id("valid"));
    let framed = get_from(&demo.app, &valid, Some("https://obcy-sklep.pl/")).await;
    assert_eq!(
        framed.header("content-security-policy"),
        get(&demo.app, &valid).await.header("content-security-policy")
    );
    // (It varies by the encoding it may be compressed with, never by the Referer.)
    assert!(!framed.header("vary").unwrap_or_default().to_ascii_lowercase().contains("referer"));
}

#[tokio::test]
async fn svg_badge_is_valid_only_on_the_certificates_websites() {
    let demo = demo().await;
    let valid = demo.id("valid");
    let svg = |reply: &Reply| {
        assert_eq!(reply.header("content-type"), Some("image/svg+xml"));
        assert_eq!(reply.header("cache-control"), Some("no-cache"));
        assert_eq!(reply.header("vary"), Some("Referer"), "the image depends on the Referer");
        reply.text()
    };
    let green = "#136c2e";
    let red = "#a4141c";

    for referer in [
        "https://smakiroztocza.pl/",
        "https://www.smakiroztocza.pl/",
        "http://SMAKIROZTOCZA.PL.:8080/",
        "http://127.0.0.1:8080/",
        "https://zp.rops.lublin.pl/e/E1",
    ] {
        let shown = svg(&get_from(&demo.app, &format!("/badge/{valid}.svg"), Some(referer)).await);
        assert!(shown.contains(">Znak ważny</text>"), "{referer}: {shown}");
        assert!(shown.contains(green), "{referer}");
    }

    for referer in
        ["https://obcy-sklep.pl/", "https://smakiroztocza.pl.obcy.pl/", "https://sklep.smakiroztocza.pl/"]
    {
        let shown = svg(&get_from(&demo.app, &format!("/badge/{valid}.svg"), Some(referer)).await);
        assert!(shown.contains(">Znak nieważny na tej stronie</text>"), "{referer}: {shown}");
        assert!(shown.contains(red) && !shown.contains(green), "{referer}: red, not green");
        assert!(!shown.contains("Znak ważny"), "{referer}");
        let title = between(&shown, "<title id=\"zp-title\">", "</title>");
        assert_eq!(
            title,
            "Zakup Prospołeczny: Znak nieważny na tej stronie — Spółdzielnia Socjalna „Smaki Roztocza”"
        );
        let english = svg(&get_from(&demo.app, &format!("/badge/{valid}.svg?lang=en"), Some(referer)).await);
        assert!(english.contains(">Not valid on this site</text>"), "{english}");
    }

    // Without a Referer the image cannot know where it is: it claims nothing.
    let unknown = svg(&get(&demo.app, &format!("/badge/{valid}.svg")).await);
    assert!(unknown.contains(">Sprawdź u wystawcy</text>"), "{unknown}");
    assert!(!unknown.contains(green) && !unknown.contains(red), "neutral: {unknown}");
    assert!(!unknown.contains("Znak ważny"));
    let english = svg(&get(&demo.app, &format!("/badge/{valid}.svg?lang=en")).await);
    assert!(english.contains(">Check at the issuer</text>"), "{english}");

    // Another certificate's websites are not this one's.
    let other = demo.id("other domain");
    let here =
        svg(&get_from(&demo.app, &format!("/badge/{other}.svg"), Some("http://127.0.0.1:8080/")).await);
    assert!(here.contains(">Znak nieważny na tej stronie</text>"), "{here}");
    let own = svg(&get_from(&demo.app, &format!("/badge/{other}.svg"), Some("https://innysklep.pl/")).await);
    assert!(own.contains(">Znak ważny</text>"), "{own}");

    // Every other state is shown as it is, wherever the image is: no website makes it green.
    for (fate, words) in [
        ("revoked", "Certyfikat cofnięty"),
        ("suspended", "Certyfikat zawieszony"),
        ("expired", "Certyfikat wygasł"),
        ("future", "Certyfikat jeszcze nieważny"),
    ] {
        for referer in [
            None,
            Some("https://obcy-sklep.pl/"),
            Some("http://127.0.0.1/"),
            Some("https://jutro.example.pl/"),
        ] {
            let shown = svg(&get_from(&demo.app, &format!("/badge/{}.svg", demo.id(fate)), referer).await);
            assert!(shown.contains(&format!(">{words}</text>")), "{fate} from {referer:?}: {shown}");
            assert!(!shown.contains(green), "{fate} from {referer:?}");
        }
    }

    // No certificate: as before, whatever the Referer.
    let missing = get_from(&demo.app, "/badge/7K3QX9M2.svg", Some("https://obcy-sklep.pl/")).await;
    assert_eq!(missing.status.as_u16(), 404);
    assert!(svg(&missing).contains(">Certyfikatu nie ma w rejestrze</text>"));
}

#[tokio::test]
async fn verification_page_lists_the_websites_and_warns_of_another_one() {
    let demo = demo().await;
    let valid = format!("/v/{}", demo.id("valid"));
    let warning = "id=\"elsewhere\"";

    let plain = get(&demo.app, &valid).await;
    assert_page(&plain, 200, &valid);
    assert_eq!(plain.header("vary"), Some("Referer"));
    let html = plain.text();
    assert!(html.contains("Strony objęte certyfikatem"), "{html}");
    let listed = between(&html, "<ul class=\"websites\">", "</ul>");
    for domain in ["smakiroztocza.pl", "localhost", "127.0.0.1"] {
        assert!(listed.contains(&format!("<li><bdi>{domain}</bdi></li>")), "{domain}: {listed}");
    }
    assert!(!listed.contains("<a "), "the websites are named, not linked");
    assert!(html.contains("znak mógł zostać skopiowany"));
    assert!(!html.contains(warning), "no Referer, no warning");

    for referer in [
        "https://www.smakiroztocza.pl/powidla",
        "http://localhost:8080/",
        "https://zp.rops.lublin.pl/?q=smaki",
    ] {
        let html = get_from(&demo.app, &valid, Some(referer)).await.text();
        assert!(!html.contains(warning), "{referer}: a listed website or the registry");
        assert!(html.contains("<h1 id=\"verdict\">Znak ważny</h1>"));
    }

    let copied = get_from(&demo.app, &valid, Some("https://obcy-sklep.pl/")).await;
    assert_page(&copied, 200, &valid);
    assert_eq!(copied.header("vary"), Some("Referer"));
    let html = copied.text();
    assert!(html.contains(warning), "{html}");
    let shown = between(&html, warning, "</section>");
    assert!(shown.contains("Trafiasz tu ze strony"), "{shown}");
    assert!(shown.contains("<bdi>obcy-sklep.pl</bdi>"), "{shown}");
    assert!(shown.contains("której ten certyfikat nie obejmuje"), "{shown}");
    assert!(shown.contains("zgłoś to wystawcy znaku"), "{shown}");
    assert!(html.find(warning) < html.find("id=\"verdict\""), "the warning comes first");
    let english =
        get_from(&demo.app, &format!("{valid}?lang=en"), Some("https://obcy-sklep.pl/")).await.text();
    assert!(english.contains("You came here from"), "{english}");
    assert!(english.contains("a website this certificate does not cover"));
    assert!(english.contains("Websites the certificate covers"));

    // A revoked certificate stays revoked, with the warning too.
    let revoked = format!("/v/{}", demo.id("revoked"));
    for referer in [None, Some("https://obcy-sklep.pl/"), Some("https://pszczeladolina.pl/")] {
        let html = get_from(&demo.app, &revoked, referer).await.text();
        assert!(html.contains("<h1 id=\"verdict\">Certyfikat cofnięty</h1>"), "{referer:?}");
        assert!(!html.contains("Znak ważny"), "{referer:?}");
        assert_eq!(html.contains(warning), referer == Some("https://obcy-sklep.pl/"), "{referer:?}");
    }
    let expired = get_from(&demo.app, &format!("/v/{}", demo.id("expired")), Some("https://obcy.pl/")).await;
    assert!(expired.text().contains("<h1 id=\"verdict\">Certyfikat wygasł</h1>"));

    // The Referer is shown as text, never as markup.
    let hostile = get_from(&demo.app, &valid, Some("https://<script>alert(1)</script>.pl/")).await;
    assert_page(&hostile, 200, &valid);
    let html = hostile.text();
    assert!(html.contains(warning));
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

#[tokio::test]
async fn entity_page_says_where_the_badges_show_as_valid() {
    let demo = demo().await;
    let valid = get(&demo.app, &format!("/v/{}", demo.id("valid"))).await.text();
    let path = format!("/e/{}", between(&valid, "href=\"/e/", "\""));
    for (query, words) in [
        (
            "",
            [
                "Strony, na których znak jest ważny",
                "„Znak nieważny na tej stronie”",
                "„Sprawdź u wystawcy”",
                "Aby dodać stronę, poproś o to wystawcę znaku",
            ],
        ),
        (
            "?lang=en",
            [
                "Websites where the badge shows as valid",
                "“Not valid on this site”",
                "“Check at the issuer”",
                "To add a website, ask the issuer of the mark",
            ],
        ),
    ] {
        let html = get(&demo.app, &format!("{path}{query}")).await.text();
        for phrase in words {
            assert!(html.contains(phrase), "{phrase}: {html}");
        }
        let section = between(&html, words[0], "<pre");
        assert!(section.contains("<li><bdi>smakiroztocza.pl</bdi></li>"), "{section}");
        assert!(section.contains("<li><bdi>127.0.0.1</bdi></li>"), "{section}");
        assert!(
            html.contains("referrerpolicy=&quot;strict-origin-when-cross-origin&quot;"),
            "the image snippet asks for the origin"
        );
    }
}

/// The verification page, the embed and the SVG badge state a verdict in the words of the shared
/// table, as the script badge does (`zp_shared::words`).
#[test]
fn pages_state_verdicts_in_the_shared_words() {
    use crate::http::pages::embed::Shown;
    use crate::issuer::Verdict;
    for verdict in
        [Verdict::Valid, Verdict::Expired, Verdict::NotYetValid, Verdict::Suspended, Verdict::Revoked]
    {
        let words = verdict.shown().headline();
        for (lang, expected) in [(super::Lang::Pl, words.pl), (super::Lang::En, words.en)] {
            assert_eq!(super::layout::headline(verdict, lang), expected);
            assert_eq!(Shown::Verdict(verdict).headline(lang), expected);
        }
    }
}
