//! The bundle as served: the coding chosen by `Accept-Encoding`, the compressed files made once
//! and decoding to the served bytes, and earlier releases still served after an upgrade.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use base64::Engine;
use sha2::{Digest, Sha384};

use super::{Coding, WidgetBundle, brotli_compress, brotli_decompress, choose_coding, gzip_decompress};
use crate::http::router;
use crate::http::testing::{Reply, get, send, state};

const BASE: &str = "http://zp.test";

/// A loader template like the real one, long enough that compression shows.
fn template(extra: &str) -> String {
    let body: String =
        (0..40).map(|i| format!("// line {i} of the loader, as a module script would have\n")).collect();
    format!(
        "const ISSUER = \"__ZP_ISSUER__\";\nconst GLUE = \"__ZP_GLUE__\";\nconst WASM = \"__ZP_WASM__\";\n{body}{extra}"
    )
}

/// Writes a bundle (loader template, glue, module) into `dir`, as `cargo xtask widget` does
/// without its compressed files.
fn write_release(dir: &Path, template: &str, glue: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("zp-badge.js"), template).unwrap();
    std::fs::write(dir.join("zp-widget.js"), glue).unwrap();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(glue.bytes().cycle().take(3000));
    std::fs::write(dir.join("zp-widget_bg.wasm"), wasm).unwrap();
}

fn glue(version: &str) -> String {
    (0..60).map(|i| format!("export function f{i}() {{ return \"{version}\"; }}\n")).collect()
}

async fn app_with(dist: &Path) -> (Router, Arc<WidgetBundle>, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut state = state(data.path()).await;
    let bundle = Arc::new(WidgetBundle::load(dist, BASE).unwrap());
    state.widget = Some(bundle.clone());
    (router(state), bundle, data)
}

async fn get_with(app: &Router, path: &str, accept: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT_ENCODING, accept);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

fn accept(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn the_coding_follows_accept_encoding_and_its_q_values() {
    assert_eq!(choose_coding(&HeaderMap::new()), Coding::Identity, "nothing asked for");
    for (header, expected) in [
        ("gzip, deflate, br, zstd", Coding::Brotli),
        ("gzip, deflate", Coding::Gzip),
        ("BR", Coding::Brotli),
        ("x-gzip", Coding::Gzip),
        ("identity", Coding::Identity),
        ("", Coding::Identity),
        ("deflate", Coding::Identity),
        ("br;q=0, gzip;q=0", Coding::Identity),
        ("br;q=0", Coding::Identity),
        ("gzip, br;q=0", Coding::Gzip),
        ("br;q=0.5, gzip", Coding::Gzip),
        ("gzip;q=0.8, br;q=0.801", Coding::Brotli),
        ("gzip;q=0.5, br;q=0.5", Coding::Brotli),
        ("gzip ; q=1.000 , br ; Q=0.999", Coding::Gzip),
        ("*", Coding::Brotli),
        ("*;q=0", Coding::Identity),
        ("*, br;q=0", Coding::Gzip),
        ("br;q=0, *;q=0.1", Coding::Gzip),
        // Malformed items count for nothing.
        ("br;q=2", Coding::Identity),
        ("br;q=0.5000, gzip;q=x", Coding::Identity),
        ("br;q", Coding::Identity),
    ] {
        assert_eq!(choose_coding(&accept(header)), expected, "Accept-Encoding: {header}");
    }
    // Several header lines are one list.
    let mut headers = accept("br;q=0.1");
    headers.append(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    assert_eq!(choose_coding(&headers), Coding::Gzip);
}

#[tokio::test]
async fn widget_files_come_precompressed_by_accept_encoding() {
    let dir = tempfile::tempdir().unwrap();
    write_release(dir.path(), &template(""), &glue("1"));
    let (app, bundle, _data) = app_with(dir.path()).await;
    let paths = [
        "/widget/zp-badge.js".to_owned(),
        format!("/widget/{}", bundle.loader.name),
        format!("/widget/{}", bundle.glue.name),
        format!("/widget/{}", bundle.wasm.name),
    ];
    for path in &paths {
        let plain = get(&app, path).await;
        assert_eq!(plain.status, StatusCode::OK, "{path}");
        assert_eq!(plain.header("content-encoding"), None, "{path}: nothing asked for");
        assert_eq!(plain.header("vary"), Some("accept-encoding"), "{path}");
        assert_eq!(plain.header("content-length"), Some(plain.body.len().to_string().as_str()), "{path}");
        for (accept, coding) in
            [("gzip, deflate, br", "br"), ("br", "br"), ("gzip", "gzip"), ("gzip, br;q=0.5", "gzip")]
        {
            let reply = get_with(&app, path, Some(accept)).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            assert_eq!(reply.header("content-encoding"), Some(coding), "{path} for {accept}");
            assert_eq!(reply.header("vary"), Some("accept-encoding"), "{path}");
            assert_eq!(reply.header("content-length"), Some(reply.body.len().to_string().as_str()), "{path}");
            assert!(reply.body.len() < plain.body.len(), "{path}: {coding} is smaller");
            let decoded = match coding {
                "br" => brotli_decompress(&reply.body).unwrap(),
                _ => gzip_decompress(&reply.body).unwrap(),
            };
            assert_eq!(decoded, plain.body, "{path}: {coding} decodes to the plain file");
            for name in [
                "content-type",
                "cache-control",
                "access-control-allow-origin",
                "cross-origin-resource-policy",
            ] {
                assert_eq!(reply.header(name), plain.header(name), "{path}: {name}");
            }
        }
        for refused in ["br;q=0, gzip;q=0", "identity", "*;q=0"] {
            let reply = get_with(&app, path, Some(refused)).await;
            assert_eq!(reply.header("content-encoding"), None, "{path} for {refused}");
            assert_eq!(reply.body, plain.body, "{path} for {refused}");
            assert_eq!(reply.header("vary"), Some("accept-encoding"), "{path}");
        }
    }
    // Subresource Integrity is checked after decoding: the hash stays that of the plain loader.
    let loader = get(&app, &paths[1]).await;
    let sri =
        format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&loader.body)));
    assert_eq!(bundle.loader_integrity, sri);
    assert!(String::from_utf8(loader.body).unwrap().contains(&bundle.glue.name));
}

#[tokio::test]
async fn compressed_files_written_by_the_build_are_served_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let glue_text = glue("1");
    write_release(dir.path(), &template(""), &glue_text);
    // A valid brotli file the server would not have made itself (quality 1): served byte for
    // byte. A gzip file of other contents (left from another build) is not served.
    let mut quick = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 1, ..Default::default() };
    brotli::BrotliCompress(&mut glue_text.as_bytes(), &mut quick, &params).unwrap();
    assert_ne!(quick, brotli_compress(glue_text.as_bytes()).unwrap());
    std::fs::write(dir.path().join("zp-widget.js.br"), &quick).unwrap();
    std::fs::write(dir.path().join("zp-widget.js.gz"), super::gzip_compress(b"an older glue").unwrap())
        .unwrap();
    let (app, bundle, _data) = app_with(dir.path()).await;
    let path = format!("/widget/{}", bundle.glue.name);
    let br = get_with(&app, &path, Some("br")).await;
    assert_eq!(br.body, quick);
    let gzip = get_with(&app, &path, Some("gzip")).await;
    assert_eq!(gzip_decompress(&gzip.body).unwrap(), glue_text.as_bytes());
}

#[tokio::test]
async fn earlier_releases_stay_served_under_their_hashed_names() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    write_release(&dist, &template(""), &glue("1"));
    let before = WidgetBundle::load(&dist, BASE).unwrap();

    // An upgrade as `cargo xtask widget` makes it: the old release kept in releases/, a new one
    // on top. Beside it, a release cut short and a copy still being written.
    let releases = dist.join(super::RELEASES);
    write_release(&releases.join("0123456789abcdef"), &template(""), &glue("1"));
    write_release(&dist, &template("// release 2\n"), &glue("2"));
    write_release(&releases.join("fedcba9876543210"), &template("// release 2\n"), &glue("2"));
    write_release(&releases.join("broken"), &template("// broken\n"), &glue("broken"));
    std::fs::remove_file(releases.join("broken").join("zp-widget_bg.wasm")).unwrap();
    write_release(&releases.join(".partial"), &template("// partial\n"), &glue("partial"));
    std::fs::write(releases.join("README"), "not a release").unwrap();

    let (app, after, _data) = app_with(&dist).await;
    assert_ne!(after.loader.name, before.loader.name);
    assert_ne!(after.loader_integrity, before.loader_integrity);
    assert_eq!(after.hashed_names(), 6, "two releases of three files; the broken and partial ones left out");

    // The stable name gives the new loader; the old one is still there, byte for byte, and so
    // are the glue and module it loads.
    let stable = get(&app, "/widget/zp-badge.js").await;
    assert_eq!(stable.body, after.loader.bytes);
    for asset in [&before.loader, &before.glue, &before.wasm, &after.loader, &after.glue, &after.wasm] {
        let reply = get(&app, &format!("/widget/{}", asset.name)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", asset.name);
        assert_eq!(reply.body, asset.bytes, "{}", asset.name);
        assert_eq!(reply.header("cache-control"), Some("public, max-age=31536000, immutable"));
        let br = get_with(&app, &format!("/widget/{}", asset.name), Some("br")).await;
        assert_eq!(brotli_decompress(&br.body).unwrap(), asset.bytes, "{}", asset.name);
    }
    let old = get(&app, &format!("/widget/{}", before.loader.name)).await;
    let sri =
        format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&old.body)));
    assert_eq!(sri, before.loader_integrity, "a snippet pinned before the upgrade still matches");
    assert!(String::from_utf8(old.body).unwrap().contains(&before.glue.name));
    assert_eq!(get(&app, "/widget/zp-widget-0000000000000000.js").await.status, StatusCode::NOT_FOUND);

    // A bundle directory without releases/ is a bundle of one release.
    let single = tempfile::tempdir().unwrap();
    write_release(single.path(), &template(""), &glue("1"));
    assert_eq!(WidgetBundle::load(single.path(), BASE).unwrap().hashed_names(), 3);
    // The current release must be whole: without it there is nothing to serve.
    std::fs::remove_file(single.path().join("zp-widget.js")).unwrap();
    assert!(WidgetBundle::load(single.path(), BASE).is_err());
}
