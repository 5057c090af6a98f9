//! The pages people see, through the real server: names render as text, the demo shows every
//! state, QR codes and GS1 Digital Link resolve.

use serde_json::{Value, json};

use crate::harness::Server;

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"' \u{202e}Spółdzielnia";

#[test]
fn hostile_entity_names_render_as_text_on_every_page() {
    let server = Server::start();
    let entity = server.admin(
        "/entities",
        &json!({ "name": HOSTILE, "legal_form": "social_cooperative", "domains": ["example.pl"], "city": "<b>Lublin</b>" }),
    );
    let entity_id = entity["id"].as_str().unwrap();
    let certificate = server.certificate(entity_id);
    let id = certificate["id"].as_str().unwrap();
    for path in [
        "/?q=spoldzielnia".to_owned(),
        format!("/v/{id}"),
        format!("/e/{entity_id}"),
        format!("/v/{id}?lang=en"),
    ] {
        let response = server.get(&path);
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
        assert!(csp.is_some_and(|csp| csp.contains("default-src 'none'")), "{path} has a strict CSP");
        let html = response.text().unwrap();
        assert!(!html.contains("<img src=x"), "{path} renders the name as markup");
        assert!(!html.contains("<b>Lublin"), "{path} renders the city as markup");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{path} shows the name as text");
        assert!(
            html.contains('\u{202e}') || html.contains("&#8238;"),
            "{path} keeps the right-to-left mark as text"
        );
    }
    // The API returns the name as data, unchanged.
    let view: Value = server.get_json(&format!("/api/v1/certificates/{id}"));
    assert_eq!(view["entity"]["name"], HOSTILE);
}

#[test]
fn demo_first_run_shows_every_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::spawn(&dir.path().join("data"), None, &["--demo"]);
    let all = server.get_json("/api/v1/certificates?limit=100");
    let mut states: Vec<&str> =
        all["items"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    states.sort_unstable();
    // The six the demo issues, and the one its approved application issued.
    assert_eq!(states, ["expired", "revoked", "suspended", "valid", "valid", "valid", "valid"]);
    let expiring = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "valid")
        .map(|c| c["valid_until_unix"].as_i64().unwrap() - crate::harness::now())
        .min()
        .unwrap();
    assert!(expiring < 7 * 86_400, "one valid certificate expires within days");
    for item in all["items"].as_array().unwrap() {
        let page = server.get(&format!("/v/{}", item["id"].as_str().unwrap()));
        assert_eq!(page.status(), 200);
    }
    assert!(dir.path().join("data").join("demo-admin-key.txt").is_file());
}

#[test]
fn qr_codes_and_gs1_digital_link() {
    let server = Server::start();
    let entity = server.entity("Spółdzielnia Socjalna „Kod”");
    let certificate = server.certificate(entity["id"].as_str().unwrap());
    let id = certificate["id"].as_str().unwrap();
    let svg = server.get(&format!("/v/{id}/qr.svg"));
    assert_eq!(svg.status(), 200);
    assert!(svg.headers()["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    assert!(svg.text().unwrap().contains("<svg"));
    let png = server.get(&format!("/v/{id}/qr.png"));
    assert_eq!(png.status(), 200);
    assert_eq!(&png.bytes().unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    // The GTIN of the harness's product, in its GTIN-13 and GTIN-14 forms.
    let client =
        reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for gtin in ["5901234123457", "05901234123457"] {
        let response = client.get(server.at(&format!("/01/{gtin}"))).send().unwrap();
        assert_eq!(response.status(), 303, "{gtin}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.ends_with(&format!("/v/{id}")), "{location}");
    }
    assert_eq!(client.get(server.at("/01/5901234123458")).send().unwrap().status(), 400);
    assert_eq!(client.get(server.at("/01/5901234000017")).send().unwrap().status(), 404);
}

/// axe-core finds no WCAG 2.2 A or AA violation on the public pages (home, search, the demo shop
/// with its badges, the verification page of a certificate in every state and of none, the
/// embed, the entity page), in Polish and English, at a phone's width and a desktop's, and at a
/// phone's width with scripts off.
#[test]
fn public_pages_pass_axe_core_wcag_2_2_aa() {
    let dir = tempfile::tempdir().unwrap();
    // The built badge too, so that the demo shop's badges are checked as shoppers meet them.
    let widget = crate::browser::widget_dir();
    let extra = ["--demo", "--widget-dir", widget.to_str().unwrap()];
    let server = Server::spawn(&dir.path().join("data"), None, &extra);
    let all = server.get_json("/api/v1/certificates?limit=100");
    let items = all["items"].as_array().unwrap();
    let first = &items[0];
    let mut urls = vec![
        server.at("/"),
        server.at("/?lang=en&q=sp%C3%B3%C5%82dzielnia"),
        server.at("/demo"),
        server.at(&format!("/embed/{}", first["id"].as_str().unwrap())),
        server.at(&format!("/e/{}?lang=en", first["entity"]["id"].as_str().unwrap())),
        server.at("/v/00000000"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for item in items {
        let state = item["status"].as_str().unwrap();
        if seen.insert(state.to_owned()) {
            let lang = if state == "valid" { "?lang=en" } else { "" };
            urls.push(server.at(&format!("/v/{}{lang}", item["id"].as_str().unwrap())));
        }
    }
    let output = crate::run_node_json("a11y.mjs", &serde_json::json!({ "urls": urls }));
    assert!(output.success, "a11y.mjs failed:\n{}", output.stderr);
    let results = output.json["results"].as_array().unwrap();
    assert_eq!(results.len(), urls.len() * 3, "every page at two widths, and with scripts off");
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r["violations"].as_array().unwrap().is_empty())
        .map(|r| {
            format!(
                "{} ({} px, scripts {}): {}",
                r["url"], r["width"], r["javaScriptEnabled"], r["violations"]
            )
        })
        .collect();
    assert!(failures.is_empty(), "axe-core violations:\n{}", failures.join("\n"));
    for result in results {
        // Even the smallest page (the embed) has its language, title, contrast and names checked.
        assert!(result["passes"].as_u64().unwrap() >= 5, "axe-core ran few rules on {result}");
        let missing = result["url"].as_str().unwrap().ends_with("/v/00000000");
        assert_eq!(result["status"], if missing { 404 } else { 200 }, "{result}");
    }
}
