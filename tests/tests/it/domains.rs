//! The badges without scripts follow the certificate's domains in a real browser (Debian's
//! Chromium through playwright-core) against the real server: a shop on another website cannot
//! frame `/embed/{ID}`, its `/badge/{ID}.svg` says "not valid on this site", and the verification
//! page its link leads to warns; on the listed websites all three show the mark as valid.
//! Screenshots land in `test-output/`.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::harness::Server;
use crate::{require_npm_package, run_node_json};

const FOREIGN: &str = "http://obcy-sklep.test/sklep";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// The image as the server sends it to a page on `referer`, fetched outside the browser.
fn badge_for(server: &Server, id: &str, referer: &str) -> String {
    let response =
        server.http.get(server.at(&format!("/badge/{id}.svg"))).header("referer", referer).send().unwrap();
    assert_eq!(response.status(), 200);
    response.text().unwrap()
}

#[test]
fn badges_without_scripts_follow_the_domains_in_a_real_browser() {
    require_npm_package("playwright-core");
    assert!(PathBuf::from("/usr/bin/chromium").is_file(), "Chromium is missing: apt-get install chromium");
    let server = Server::start();
    let entity = server.admin(
        "/entities",
        &json!({
            "name": "Spółdzielnia Socjalna „Tu i Teraz”",
            "legal_form": "social_cooperative",
            "domains": ["127.0.0.1", "sklep-testowy.test"],
            "city": "Lublin",
        }),
    );
    let certificate = server.certificate(entity["id"].as_str().unwrap());
    let id = certificate["id"].as_str().unwrap();
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    // The listed host on another port: another origin, which only the domain's source admits.
    let other_port = if port == 18_446 { 18_447 } else { 18_446 };
    let out_dir = workspace().join("test-output");
    std::fs::create_dir_all(&out_dir).unwrap();
    let plan = json!({
        "base": server.url,
        "id": id,
        "out_dir": out_dir,
        "shops": {
            "foreign": FOREIGN,
            "registry": server.at("/__domains/sklep"),
            "listed": format!("http://127.0.0.1:{other_port}/sklep"),
            "www": "http://www.sklep-testowy.test/sklep",
        },
        "expect_frame": { "foreign": false, "registry": true, "listed": true, "www": true },
    });
    let output = run_node_json("domains.mjs", &plan);
    assert!(output.success, "domains.mjs failed: {}", output.stderr);
    let seen = output.json;

    // Another website: Chromium refuses to render the frame, for its frame-ancestors.
    let foreign = &seen["foreign"];
    assert_eq!(foreign["frame_text"], Value::Null, "the frame rendered on another website: {foreign}");
    let refusals = foreign["refusals"].as_array().unwrap();
    assert!(
        refusals.iter().any(|r| r.as_str().unwrap().contains(&server.url)),
        "the browser names the refused frame: {foreign}"
    );
    // The image arrived, and says the mark is not valid there.
    let image = &foreign["image"];
    assert_eq!(image["status"], 200, "{foreign}");
    assert_eq!(image["referer"], "http://obcy-sklep.test/", "only the origin crosses sites: {foreign}");
    let body = image["body"].as_str().unwrap();
    assert!(body.contains(">Znak nieważny na tej stronie</text>"), "{body}");
    assert!(!body.contains("Znak ważny"), "{body}");
    assert_eq!(foreign["natural_width"], 320, "the image rendered: {foreign}");
    assert_eq!(
        body,
        badge_for(&server, id, "http://obcy-sklep.test/"),
        "the browser got what the server sends"
    );
    // The badge's link leads to a verification page that warns.
    let verify = &foreign["verify"];
    assert_eq!(verify["headline"], "Znak ważny", "{verify}");
    let warning = verify["warning"].as_str().unwrap_or_default();
    assert!(warning.contains("Trafiasz tu ze strony obcy-sklep.test"), "{verify}");
    assert!(warning.contains("której ten certyfikat nie obejmuje"), "{verify}");
    assert_eq!(verify["websites"], json!(["127.0.0.1", "sklep-testowy.test"]), "{verify}");
    assert!(out_dir.join("domains-foreign.png").is_file());
    assert!(out_dir.join("domains-foreign-verification.png").is_file());

    // The registry's own origin, the listed host on another port, and the listed domain's `www.`.
    for name in ["registry", "listed", "www"] {
        let shop = &seen[name];
        let text =
            shop["frame_text"].as_str().unwrap_or_else(|| panic!("{name}: the frame did not render: {shop}"));
        assert!(text.contains("Znak ważny"), "{name}: {shop}");
        assert!(text.contains("Tu i Teraz"), "{name}: {shop}");
        assert_eq!(shop["refusals"], json!([]), "{name}: {shop}");
        let body = shop["image"]["body"].as_str().unwrap();
        assert!(body.contains(">Znak ważny</text>"), "{name}: {body}");
        assert_eq!(shop["natural_width"], 320, "{name}: {shop}");
        assert_eq!(shop["verify"]["warning"], Value::Null, "{name}: {shop}");
        assert_eq!(shop["verify"]["headline"], "Znak ważny", "{name}: {shop}");
        assert!(out_dir.join(format!("domains-{name}.png")).is_file());
    }
    assert!(seen["www"]["image"]["referer"].as_str().unwrap().starts_with("http://www.sklep-testowy.test/"));
}
