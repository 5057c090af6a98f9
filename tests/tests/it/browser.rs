//! The badge in a real browser (Debian's Chromium through playwright-core) against the real
//! server: every state, revocation within `ttl`, a CSP that blocks WebAssembly, hostile host
//! CSS, markup in names, twenty badges, keyboard and zoom. One browser run for all of it;
//! screenshots land in `test-output/` for people to look at.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::harness::{Server, now};
use crate::lifecycle::time_date;
use crate::{require_npm_package, run_node_json};

/// Status lists may be cached this long; short, so a revocation shows within the test.
/// Not shorter: a list is fresh for `ttl` from its signature, and on a loaded machine the first
/// verdict can come seconds after the server signed the list it reads.
const TTL: u64 = 10;

pub(crate) fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

pub(crate) fn widget_dir() -> PathBuf {
    let dir = workspace().join("target").join("widget").join("dist");
    assert!(
        dir.join("zp-widget_bg.wasm").is_file(),
        "the badge bundle is not built in {}: run `cargo xtask widget` (cargo xtask test does)",
        dir.display()
    );
    dir
}

pub(crate) fn issue(server: &Server, entity: &str, valid_from: Option<i64>) -> Value {
    let mut body = json!({ "entity_id": entity, "products": [{ "name": "Powidła śliwkowe" }] });
    if let Some(start) = valid_from {
        body["valid_from"] = json!(time_date(start));
    }
    server.admin("/certificates", &body)
}

pub(crate) fn entity(server: &Server, name: &str, domains: &[&str]) -> String {
    let body =
        json!({ "name": name, "legal_form": "social_cooperative", "domains": domains, "city": "Lublin" });
    server.admin("/entities", &body)["id"].as_str().unwrap().to_owned()
}

pub(crate) fn token(certificate: &Value) -> String {
    certificate["token"].as_str().unwrap().to_owned()
}

#[test]
fn badge_in_a_real_browser() {
    require_npm_package("playwright-core");
    assert!(PathBuf::from("/usr/bin/chromium").is_file(), "Chromium is missing: apt-get install chromium");
    let dist = widget_dir();
    let ttl = TTL.to_string();
    let server = Server::start_with(&["--status-ttl", &ttl, "--widget-dir", dist.to_str().unwrap()]);
    let here = entity(&server, "Spółdzielnia Socjalna „Tu i Teraz”", &["127.0.0.1"]);
    let elsewhere = entity(&server, "Spółdzielnia Socjalna „Gdzie Indziej”", &["innysklep.pl"]);
    let hostile = entity(&server, "<img src=x onerror=window.__zp_xss=1> Fundacja", &["127.0.0.1"]);
    let day = 86_400;

    let valid = issue(&server, &here, None);
    let expiring = issue(&server, &here, Some(now() - 362 * day));
    let expired = issue(&server, &here, Some(now() - 400 * day));
    let future = issue(&server, &here, Some(now() + 20 * day));
    let suspended = issue(&server, &here, None);
    server.admin(&format!("/certificates/{}/suspend", suspended["id"].as_str().unwrap()), &json!({}));
    let revoked = issue(&server, &here, None);
    server.admin(
        &format!("/certificates/{}/revoke", revoked["id"].as_str().unwrap()),
        &json!({ "reason": "misuse" }),
    );
    let copied = issue(&server, &elsewhere, None);
    let to_revoke = issue(&server, &here, None);
    let xss = issue(&server, &hostile, None);
    // A forged badge: the signature of a genuine token, altered.
    let genuine = token(&valid);
    let (signed, signature) = genuine.rsplit_once('.').unwrap();
    let flipped: String = signature
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 8 { if c == 'A' { 'B' } else { 'A' } } else { c })
        .collect();
    let forged = format!("{signed}.{flipped}");

    let badges = json!([
        { "name": "valid", "token": token(&valid), "state": "verified", "words": "Znak ważny" },
        { "name": "expiring-soon", "token": token(&expiring), "state": "verified", "words": "Znak ważny" },
        { "name": "expired", "token": token(&expired), "state": "expired", "words": "Certyfikat wygasł" },
        { "name": "not-yet-valid", "token": token(&future), "state": "not-yet-valid", "words": "Certyfikat jeszcze nieważny" },
        { "name": "suspended", "token": token(&suspended), "state": "suspended", "words": "Certyfikat zawieszony" },
        { "name": "revoked", "token": token(&revoked), "state": "revoked", "words": "Certyfikat cofnięty" },
        { "name": "forged", "token": forged, "state": "invalid", "words": "Znak nieprawidłowy" },
        { "name": "copied", "token": token(&copied), "state": "wrong-site", "words": "Znak nieważny na tej stronie" },
        { "name": "english-compact", "token": token(&valid), "extra": "lang=\"en\" variant=\"compact\"", "state": "verified", "words": "Mark verified" },
    ]);
    let out_dir = workspace().join("test-output");
    std::fs::create_dir_all(&out_dir).unwrap();
    // A server whose clock runs to two minutes before the next midnight (UTC), with a certificate
    // that ends at that midnight: the open page must flip to expired at that second.
    let midnight = (now() + 300).div_euclid(day) * day + day;
    let offset = midnight - 120 - now();
    let clocked =
        Server::start_with(&["--widget-dir", dist.to_str().unwrap(), "--clock-offset", &offset.to_string()]);
    let clocked_entity = entity(&clocked, "Spółdzielnia Socjalna „Północ”", &["127.0.0.1"]);
    let date = time_date(midnight);
    let year: i64 = date[..4].parse().unwrap();
    let start = match &date[4..] {
        "-02-29" => format!("{}-03-01", year - 1),
        rest => format!("{}{rest}", year - 1),
    };
    let ending = clocked.admin(
        "/certificates",
        &json!({ "entity_id": clocked_entity, "products": [{ "name": "Chleb" }], "valid_from": start }),
    );
    assert_eq!(ending["valid_until_unix"], midnight);
    let demo_dir = tempfile::tempdir().unwrap();
    let demo = Server::spawn(
        &demo_dir.path().join("data"),
        None,
        &["--demo", "--widget-dir", dist.to_str().unwrap()],
    );
    let plan = json!({
        "base": server.url,
        "admin_key": server.admin_key,
        "out_dir": out_dir,
        "badges": badges,
        "valid_token": token(&valid),
        "hostile_token": token(&xss),
        "revocation": { "token": token(&to_revoke), "id": to_revoke["id"], "ttl": TTL },
        "demo_url": demo.at("/demo"),
        "revoked_token": token(&revoked),
        "expiry": {
            "base": clocked.url,
            "token": token(&ending),
            "offset_ms": offset * 1000,
            "exp_ms": midnight * 1000,
        },
    });
    let output = run_node_json("e2e.mjs", &plan);
    assert!(output.success, "e2e.mjs failed: {}", output.stderr);
    let seen = output.json;

    // Every state shows its own words inside the shadow root, and says them to screen readers.
    for (expected, got) in badges.as_array().unwrap().iter().zip(seen["states"].as_array().unwrap()) {
        let name = &expected["name"];
        assert_eq!(got["state"], expected["state"], "{name}: {got}");
        let words = expected["words"].as_str().unwrap();
        assert!(got["text"].as_str().unwrap().contains(words), "{name} should say {words}: {got}");
        assert!(got["label"].as_str().unwrap().contains(words), "{name}: accessible name {got}");
    }
    let valid_seen = &seen["states"][0];
    assert!(valid_seen["text"].as_str().unwrap().contains("Tu i Teraz"), "the badge names the entity");
    assert_eq!(valid_seen["href"], format!("{}/v/{}", server.base, valid["id"].as_str().unwrap()));

    assert_eq!(
        seen["offline"]["state"], "cannot-confirm",
        "no green without a status check: {}",
        seen["offline"]
    );

    let twenty = &seen["twenty"];
    assert_eq!(twenty["states"].as_array().unwrap().len(), 20);
    assert!(twenty["states"].as_array().unwrap().iter().all(|s| s == "verified"), "{twenty}");
    assert_eq!(twenty["wasm"], 1, "one wasm fetch per page: {twenty}");
    assert_eq!(twenty["glue"], 1, "one glue fetch per page: {twenty}");
    assert_eq!(twenty["jwks"], 1, "one JWKS fetch per page: {twenty}");
    assert_eq!(twenty["lists"], 1, "one status-list fetch per page: {twenty}");

    let csp = &seen["strict_csp"];
    assert_eq!(csp["state"], "unavailable", "{csp}");
    assert_eq!(csp["shadow"], false, "{csp}");
    assert_eq!(csp["link_visible"], true, "the fallback link stays visible: {csp}");

    let css = &seen["hostile_css"];
    assert_eq!(css["plain"], css["hostile"], "host CSS must not change the badge");

    let xss_seen = &seen["xss"];
    assert_eq!(xss_seen["images"], 0);
    assert_eq!(xss_seen["fired"], false);
    assert!(
        xss_seen["text"].as_str().unwrap().contains("<img src=x onerror=window.__zp_xss=1>"),
        "{xss_seen}"
    );

    let keyboard = &seen["keyboard"];
    assert_eq!(keyboard["host"], "zakup-prospoleczny", "{keyboard}");
    assert!(keyboard["label"].as_str().unwrap().contains("Znak ważny"), "{keyboard}");
    assert_eq!(keyboard["opened"], format!("{}/v/{}", server.base, valid["id"].as_str().unwrap()));

    let zoom = &seen["zoom"];
    assert_eq!(zoom["overflow"], false, "{zoom}");
    assert!(zoom["right"].as_i64().unwrap() <= zoom["viewport"].as_i64().unwrap(), "{zoom}");

    let revocation = &seen["revocation"];
    assert_eq!(revocation["admin_status"], 200);
    assert_eq!(revocation["before"], "verified");
    assert_eq!(revocation["after"], "revoked", "{revocation}");
    assert!(revocation["seconds"].as_f64().unwrap() <= TTL as f64 + 3.0, "shown within ttl: {revocation}");

    let attributes = &seen["attributes"];
    assert_eq!(attributes["first"], "verified", "{attributes}");
    assert_eq!(attributes["changed"], "revoked", "a new token attribute re-renders: {attributes}");
    assert!(attributes["english"].as_str().unwrap().contains("Certificate revoked"), "{attributes}");
    assert_eq!(attributes["removed_text"], 0, "a removed badge is torn down: {attributes}");
    assert_eq!(attributes["readded"], "verified", "{attributes}");

    let expiry = &seen["expiry"];
    assert_eq!(expiry["settled"], "verified", "{expiry}");
    assert_eq!(expiry["second_before"], "verified", "{expiry}");
    assert_eq!(expiry["just_before"], "verified", "10 ms before exp: {expiry}");
    assert_eq!(expiry["after"], "expired", "10 ms after exp: {expiry}");
    // Watched, not sampled: the one change of state since it settled is to expired, at `exp`
    // by the page's clock (which the test moves past it in steps of 990 and 20 ms).
    let changes = expiry["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "one change, to expired: {expiry}");
    assert_eq!(changes[0]["state"], "expired", "{expiry}");
    let flipped_at = changes[0]["at_ms"].as_i64().unwrap();
    assert!(
        (midnight * 1000..=midnight * 1000 + 10).contains(&flipped_at),
        "flipped at {flipped_at}: {expiry}"
    );
    drop(clocked);

    let demo_states: Vec<&str> = seen["demo"]
        .as_array()
        .map(|d| d.iter().filter_map(|b| b["state"].as_str()).collect())
        .unwrap_or_default();
    for state in ["verified", "expired", "suspended", "revoked", "invalid", "wrong-site"] {
        assert!(demo_states.contains(&state), "the demo shop shows {state}: {}", seen["demo"]);
    }
    assert!(out_dir.join("demo-shop.png").is_file());
    // No page of any scenario threw or logged an error it was not meant to.
    assert_eq!(seen["errors"], json!([]), "errors on the pages");
    drop(demo);
}
