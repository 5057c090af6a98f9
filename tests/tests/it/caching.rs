//! What caches may keep, as the server tells them (the README's table of `Cache-Control`): status
//! lists only for what is left of their `ttl` since they were signed, never more; the JWKS five
//! minutes; the badge bundle's hashed files for good.

use std::time::Duration;

use serde_json::Value;

use crate::browser::widget_dir;
use crate::harness::{Server, now};

/// The `max-age` of a response that must be `public, max-age=N`.
fn max_age(response: &reqwest::blocking::Response) -> u64 {
    let value = response.headers()["cache-control"].to_str().unwrap();
    let age = value.strip_prefix("public, max-age=").unwrap_or_else(|| panic!("cache-control: {value}"));
    age.parse().unwrap_or_else(|_| panic!("cache-control: {value}"))
}

/// The payload of a compact JWS, unverified: only its times are read here.
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&zp_shared::base64url::decode(part).unwrap()).unwrap()
}

#[test]
fn status_lists_are_cached_for_what_is_left_of_their_ttl() {
    const TTL: u64 = 30;
    let server = Server::start_with(&["--status-ttl", &TTL.to_string()]);
    let entity = server.entity("Spółdzielnia Socjalna „Pamięć Podręczna”");
    server.certificate(entity["id"].as_str().unwrap());
    let fetch = || {
        let before = now();
        let response = server.get("/api/v1/status-lists/0");
        let after = now();
        assert_eq!(response.status(), 200);
        let age = max_age(&response);
        let claims = payload(&response.text().unwrap());
        assert_eq!(claims["ttl"], TTL);
        let iat = claims["iat"].as_i64().unwrap();
        assert!(iat <= after, "signed at {iat}, after it was served ({after})");
        // What is left of `ttl` when the server answered, at some second from `before` to `after`,
        // less the second the server keeps back for the rounding of whole seconds: never more
        // than what is left.
        let least = TTL.saturating_sub((after - iat) as u64).saturating_sub(1);
        let most = TTL.saturating_sub((before - iat).max(0) as u64).saturating_sub(1);
        assert!((least..=most).contains(&age), "max-age {age}, signed at {iat}, served {before}..={after}");
        (iat, age)
    };
    let (first_iat, first_age) = fetch();
    // The server signs a list again only after half its `ttl`: the same list a few seconds later
    // has fewer seconds left, and says so.
    std::thread::sleep(Duration::from_millis(2_500));
    let (iat, age) = fetch();
    assert_eq!(iat, first_iat, "nothing changed and half the ttl has not passed: the same list");
    assert!(age + 2 <= first_age, "the same list, {age} s left after {first_age} s");
}

#[test]
fn jwks_is_cached_for_five_minutes() {
    let server = Server::start();
    let response = server.get("/.well-known/jwks.json");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    assert_eq!(max_age(&response), 300);
}

#[test]
fn hashed_bundle_files_are_immutable_and_the_loader_is_not() {
    let dist = widget_dir();
    let server = Server::start_with(&["--widget-dir", dist.to_str().unwrap()]);
    let stable = server.get("/widget/zp-badge.js");
    assert_eq!(stable.status(), 200);
    assert_eq!(
        stable.headers()["cache-control"],
        "public, max-age=300",
        "the snippet's loader follows releases"
    );
    let loader = stable.text().unwrap();
    // The hashed names the loader loads, and the pinned loader's own, from the entity page.
    let mut hashed: Vec<String> = loader
        .split('"')
        .filter(|part| part.starts_with("zp-widget-") && (part.ends_with(".js") || part.ends_with(".wasm")))
        .map(str::to_owned)
        .collect();
    hashed.dedup();
    assert!(hashed.iter().any(|name| name.ends_with(".js")), "no glue named in the loader: {hashed:?}");
    assert!(hashed.iter().any(|name| name.ends_with(".wasm")), "no module named in the loader: {hashed:?}");
    let entity = server.entity("Spółdzielnia Socjalna „Niezmienna”");
    // The entity page offers snippets for its certificates.
    server.certificate(entity["id"].as_str().unwrap());
    let page = server.get(&format!("/e/{}", entity["id"].as_str().unwrap())).text().unwrap();
    let pinned = page.split("/widget/").skip(1).find(|rest| rest.starts_with("zp-badge-")).unwrap();
    hashed.push(pinned[..pinned.find("&quot;").unwrap()].to_owned());
    for name in &hashed {
        let response = server.get(&format!("/widget/{name}"));
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable", "{name}");
    }
}
