//! The badge bundle as the real server sends it: compressed by the server itself, and pinned
//! snippets that survive an upgrade. A shop's snippet pinned with Subresource Integrity names one
//! loader's hashed name; after a new bundle is deployed (with the earlier releases kept, as
//! `cargo xtask widget` keeps them) that loader, and the glue and module it loads, must still be
//! served byte for byte, and the badge must still turn green in a real browser.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha384};

use crate::browser::widget_dir;
use crate::harness::Server;
use crate::{require_npm_package, run_node_json};

/// What the build keeps of a release: the loader template, the glue, the module, and the
/// compressed files beside them when the build wrote them.
const RELEASE_FILES: [&str; 7] = [
    "zp-badge.js",
    "zp-widget.js",
    "zp-widget.js.br",
    "zp-widget.js.gz",
    "zp-widget_bg.wasm",
    "zp-widget_bg.wasm.br",
    "zp-widget_bg.wasm.gz",
];

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn sri(bytes: &[u8]) -> String {
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes)))
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("{start:?} not found in {text}")) + start.len();
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap()]
}

/// GET with `Accept-Encoding`; the body as sent, not decoded.
fn get_encoded(server: &Server, path: &str, accept: &str) -> (Option<String>, Option<String>, Vec<u8>) {
    let response = server.http.get(server.at(path)).header("accept-encoding", accept).send().unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let (encoding, length) = (header("content-encoding"), header("content-length"));
    (encoding, length, response.bytes().unwrap().to_vec())
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out).unwrap();
    out
}

#[test]
fn a_pinned_snippet_survives_a_bundle_upgrade() {
    require_npm_package("playwright-core");
    assert!(PathBuf::from("/usr/bin/chromium").is_file(), "Chromium is missing: apt-get install chromium");
    let dist_dir = tempfile::tempdir().unwrap();
    let dist = dist_dir.path();
    copy_dir(&widget_dir(), dist);
    let widget = dist.to_str().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().join("data");

    let mut server = Server::spawn(&data, None, &["--widget-dir", widget]);
    server.admin_key =
        server.cli_json(&["api-key", "create", "--name", "tests"])["key"].as_str().unwrap().to_owned();
    let entity = server.admin(
        "/entities",
        &json!({ "name": "Spółdzielnia Socjalna „Przypięta”", "legal_form": "social_cooperative",
                 "domains": ["127.0.0.1"], "city": "Lublin" }),
    );
    let entity_id = entity["id"].as_str().unwrap();
    let certificate = server
        .admin("/certificates", &json!({ "entity_id": entity_id, "products": [{ "name": "Powidła" }] }));
    let token = certificate["token"].as_str().unwrap().to_owned();

    // The pinned snippet, as a shop copies it from the entity page.
    let page = server.get(&format!("/e/{entity_id}")).text().unwrap();
    let widget_url = format!("{}/widget/", server.base);
    let pinned_name = format!("zp-badge-{}", between(&page, &format!("{widget_url}zp-badge-"), "&quot;"));
    let pinned_sri = between(&page, &format!("{pinned_name}&quot; integrity=&quot;"), "&quot;").to_owned();
    let pinned_path = format!("/widget/{pinned_name}");
    let pinned_bytes = server.get(&pinned_path).bytes().unwrap().to_vec();
    assert_eq!(sri(&pinned_bytes), pinned_sri, "the entity page quotes the hash of the loader it names");
    let stable_before = server.get("/widget/zp-badge.js").bytes().unwrap().to_vec();
    assert_eq!(stable_before, pinned_bytes, "before the upgrade the stable name is the pinned loader");

    // The server compresses the bundle itself: brotli when asked, with the right length, and the
    // hash still that of the decoded loader.
    let (encoding, length, body) = get_encoded(&server, &pinned_path, "gzip, deflate, br");
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(length, Some(body.len().to_string()));
    assert!(body.len() < pinned_bytes.len());
    assert_eq!(unbrotli(&body), pinned_bytes);
    let (encoding, _, body) = get_encoded(&server, &pinned_path, "br;q=0, gzip;q=0");
    assert_eq!(encoding, None);
    assert_eq!(body, pinned_bytes);

    // The upgrade, as `cargo xtask widget` makes it: the running release kept in releases/ (the
    // build may have put it there already; a second copy is harmless), and a new release on top.
    let kept = dist.join("releases").join("before-the-upgrade");
    std::fs::create_dir_all(&kept).unwrap();
    for file in RELEASE_FILES {
        if dist.join(file).is_file() {
            std::fs::copy(dist.join(file), kept.join(file)).unwrap();
        }
    }
    let mut template = std::fs::read_to_string(dist.join("zp-badge.js")).unwrap();
    template.push_str("\n// A later release of the loader.\n");
    std::fs::write(dist.join("zp-badge.js"), &template).unwrap();

    // The new bundle is read at start: restart on the same data and address (the issuer URL is
    // written into the loader, so the pinned loader's bytes depend on it).
    let base = server.base.clone();
    let address = server.url.strip_prefix("http://").unwrap().to_owned();
    drop(server);
    let server = Server::spawn(&data, Some(&base), &["--bind", &address, "--widget-dir", widget]);
    assert_eq!(server.url, base);

    let stable_after = server.get("/widget/zp-badge.js").bytes().unwrap().to_vec();
    assert_ne!(stable_after, stable_before, "the stable name gives the new release");
    assert!(String::from_utf8_lossy(&stable_after).contains("A later release of the loader."));
    let response = server.get(&pinned_path);
    assert_eq!(response.status(), 200, "the pinned loader is still served");
    let old = response.bytes().unwrap().to_vec();
    assert_eq!(old, pinned_bytes, "byte for byte");
    assert_eq!(sri(&old), pinned_sri, "so its Subresource Integrity hash still matches");
    let (encoding, _, body) = get_encoded(&server, &pinned_path, "br");
    assert_eq!(encoding.as_deref(), Some("br"));
    assert_eq!(unbrotli(&body), pinned_bytes);

    let plan = json!({
        "base": server.url,
        "token": token,
        "pinned": { "src": format!("{base}{pinned_path}"), "integrity": pinned_sri },
        "tampered_integrity": sri(b"some other loader"),
    });
    let output = run_node_json("bundle.mjs", &plan);
    assert!(output.success, "bundle.mjs failed: {}", output.stderr);
    let seen = output.json;

    let pinned = &seen["pinned"];
    assert_eq!(pinned["state"], "verified", "the pinned badge after the upgrade: {pinned}");
    assert_eq!(pinned["errors"], json!([]), "{pinned}");
    let files = pinned["files"].as_array().unwrap();
    let fetched = |what: &str, test: &dyn Fn(&str) -> bool| {
        files
            .iter()
            .find(|f| test(f["url"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("no {what} fetch: {pinned}"))
    };
    let loader = fetched("loader", &|url| url.ends_with(&pinned_name));
    let glue = fetched("glue", &|url| url.contains("/widget/zp-widget-") && url.ends_with(".js"));
    let wasm = fetched("wasm", &|url| url.ends_with(".wasm"));
    for (what, file) in [("loader", loader), ("glue", glue), ("wasm", wasm)] {
        assert_eq!(file["status"], 200, "{what}: {file}");
        // Chromium asks for gzip at least; for br too, over HTTPS and (as here) on localhost
        // when it does so. Whatever it asked for, it got the best of it, and SRI still held.
        let accept = file["accept"].as_str().unwrap_or_default();
        let expected = if accept.split(',').any(|c| c.trim() == "br") { "br" } else { "gzip" };
        assert_eq!(file["encoding"], expected, "{what} compressed by the server: {file}");
    }

    let tampered = &seen["tampered"];
    assert_eq!(tampered["state"], Value::Null, "a wrong hash stops the loader: {tampered}");
    assert!(
        tampered["errors"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("integrity")),
        "the browser says why: {tampered}"
    );

    let stable = &seen["stable"];
    assert_eq!(stable["state"], "verified", "the two-line snippet runs the new release: {stable}");
    let stable_files = stable["files"].as_array().unwrap();
    assert!(
        stable_files.iter().any(|f| f["url"].as_str().unwrap().ends_with("/widget/zp-badge.js")),
        "{stable}"
    );
    assert!(!stable_files.iter().any(|f| f["url"].as_str().unwrap().contains(&pinned_name)), "{stable}");
}
