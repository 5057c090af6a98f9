//! The badge follows its certificate: a renewal reaches a page that still carries the first
//! token, badges of several issuers share one page, trust lists vouch for other issuers (and are
//! refused when tampered with), and a status list kept past its ttl stops counting. Real servers
//! on loopback, real Chromium (`tests/js/issuers.mjs`), no mocks.

use serde_json::{Value, json};

use crate::browser::{entity, issue, token, widget_dir, workspace};
use crate::harness::{Server, now, zp_binary};
use crate::lifecycle::time_date;
use crate::{require_npm_package, run_node_json};

/// Status lists and trust lists may be cached this long: short, so changes show within the test.
/// Not shorter: a list is fresh for `ttl` from its signature, and on a loaded machine the first
/// verdict can come seconds after the server signed the list it reads.
const TTL: u64 = 10;
/// The stale-list scenario needs a list that is fresh when the page opens.
const STALE_TTL: u64 = 6;
const DAY: i64 = 86_400;

/// The last day of validity of a certificate ending at `valid_until`, as the badge reports it.
fn last_day(valid_until: i64) -> String {
    time_date(valid_until - DAY)
}

#[test]
fn badges_follow_renewals_and_issuers() {
    // It measures how soon an open page follows a trust list's change (within the list's ttl).
    let _timed = crate::timed();
    require_npm_package("playwright-core");
    let dist = widget_dir();
    let dist = dist.to_str().unwrap();
    let ttl = TTL.to_string();
    let start = || Server::start_with(&["--status-ttl", &ttl, "--widget-dir", dist]);
    let (a, b, c) = (start(), start(), start());
    let here = ["127.0.0.1"];

    // A certificate whose year ended yesterday, renewed today.
    let lapsing = entity(&a, "Spółdzielnia Socjalna „Odnowa”", &here);
    let lapsed = issue(&a, &lapsing, Some(now() - 366 * DAY));
    let lapsed_until = lapsed["valid_until_unix"].as_i64().unwrap();
    assert!(lapsed_until <= now() && lapsed_until > now() - 2 * DAY, "ended yesterday: {lapsed}");
    let renewed = a.admin(&format!("/certificates/{}/renew", lapsed["id"].as_str().unwrap()), &json!({}));
    let renewed_until = renewed["valid_until_unix"].as_i64().unwrap();
    assert!(renewed_until > now() + 300 * DAY, "{renewed}");

    let a_cert = issue(&a, &entity(&a, "Spółdzielnia Socjalna „Lublin”", &here), None);
    let b_cert = issue(&b, &entity(&b, "Spółdzielnia Socjalna „Kielce”", &here), None);
    let c_cert = issue(&c, &entity(&c, "Fundacja „Obca”", &here), None);

    // A server whose clock runs to two minutes before the next midnight (UTC), with a certificate
    // that ends at that midnight and was renewed already.
    let midnight = (now() + 300).div_euclid(DAY) * DAY + DAY;
    let offset = midnight - 120 - now();
    let clocked = Server::start_with(&["--widget-dir", dist, "--clock-offset", &offset.to_string()]);
    let ending = issue(
        &clocked,
        &entity(&clocked, "Spółdzielnia Socjalna „Północ”", &here),
        Some(midnight - 365 * DAY),
    );
    let ending = if ending["valid_until_unix"] == midnight {
        ending
    } else {
        // A leap day in the last year: start a day later or earlier so the year ends at midnight.
        issue(
            &clocked,
            &entity(&clocked, "Spółdzielnia Socjalna „Północ 2”", &here),
            Some(midnight - 366 * DAY),
        )
    };
    assert_eq!(ending["valid_until_unix"], midnight, "{ending}");
    let extended =
        clocked.admin(&format!("/certificates/{}/renew", ending["id"].as_str().unwrap()), &json!({}));
    let extended_until = extended["valid_until_unix"].as_i64().unwrap();
    assert!(extended_until > midnight + 300 * DAY, "{extended}");

    // The stale-list scenario: its own issuer, with a ttl long enough to show green first.
    let stale_ttl = STALE_TTL.to_string();
    let d = Server::start_with(&["--status-ttl", &stale_ttl, "--widget-dir", dist]);
    let d_cert = issue(&d, &entity(&d, "Spółdzielnia Socjalna „Pamięć”", &here), None);

    let out_dir = workspace().join("test-output");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut global = vec!["--data-dir".to_owned(), a.data.to_str().unwrap().to_owned()];
    global.extend(a.global.iter().cloned());
    let plan = json!({
        "issuers": [a.base, b.base, c.base],
        "ttl": TTL,
        "out_dir": out_dir,
        "zp": { "binary": zp_binary(), "global": global },
        "lapsed": { "old_token": token(&lapsed) },
        "a_token": token(&a_cert),
        "b_token": token(&b_cert),
        "c_token": token(&c_cert),
        "renewal": {
            "base": clocked.base,
            "offset_ms": offset * 1000,
            "old_token": token(&ending),
            "old_exp_ms": midnight * 1000,
        },
        "stale": {
            "base": d.base,
            "ttl": STALE_TTL,
            "token": token(&d_cert),
            "list_url": d_cert["status_list"]["uri"],
            "revoke_url": d.at(&format!("/api/v1/admin/certificates/{}/revoke", d_cert["id"].as_str().unwrap())),
            "admin_key": d.admin_key,
        },
    });
    let output = run_node_json("issuers.mjs", &plan);
    assert!(output.success, "issuers.mjs failed: {}", output.stderr);
    let seen = output.json;

    // 1. The old token in the page, the renewed certificate on it.
    let lapsed_seen = &seen["lapsed"];
    assert_eq!(lapsed_seen["state"], "verified", "{lapsed_seen}");
    assert_eq!(lapsed_seen["through"], last_day(renewed_until), "{lapsed_seen}");
    assert!(
        lapsed_seen["label"].as_str().unwrap().contains(&last_day(renewed_until)),
        "the badge says the new end date: {lapsed_seen}"
    );

    // 2. Asked only when the token ends.
    assert_eq!(seen["quiet"]["state"], "verified", "{}", seen["quiet"]);
    assert_eq!(seen["quiet"]["token_requests"], 0, "{}", seen["quiet"]);

    // 3. Across the old end date, never "expired".
    let renewal = &seen["renewal"];
    for moment in ["first", "before", "after", "later"] {
        assert_eq!(renewal[moment]["state"], "verified", "{moment}: {renewal}");
    }
    assert_eq!(renewal["after"]["through"], last_day(extended_until), "{renewal}");
    let states: Vec<&str> =
        renewal["seen"].as_array().unwrap().iter().filter_map(|s| s["state"].as_str()).collect();
    assert!(!states.contains(&"expired"), "never expired: {states:?}");

    // 4. Two issuers' loaders, in both orders.
    for name in ["loaders_ab", "loaders_ba"] {
        let page = &seen[name];
        let states: Vec<&str> =
            page["seen"].as_array().unwrap().iter().map(|b| b["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["verified", "verified", "issuer-unrecognised"], "{name}: {page}");
        let counts = &page["counts"];
        assert_eq!(counts["wasm"], 1, "{name}: {counts}");
        for issuer in [&a.base, &b.base] {
            assert_eq!(counts["jwks"][issuer], 1, "{name}: one JWKS fetch of {issuer}: {counts}");
            assert_eq!(counts["lists"][issuer], 1, "{name}: one status-list fetch of {issuer}: {counts}");
        }
        assert!(
            counts["jwks"][&c.base].is_null(),
            "nothing is fetched from an unrecognised issuer: {counts}"
        );
        assert!(counts["lists"][&c.base].is_null(), "{counts}");
        let c_seen = &page["seen"][2];
        assert!(c_seen["text"].as_str().unwrap().contains("Wystawca nierozpoznany"), "{c_seen}");
        assert_eq!(c_seen["href"], format!("{}/v/{}", c.base, c_cert["id"].as_str().unwrap()), "{c_seen}");
    }

    // 5. A vouches for B: B's mark verifies on a page with A's loader alone.
    let vouched = &seen["vouched"];
    assert_eq!(vouched["seen"][0]["state"], "verified", "{vouched}");
    assert_eq!(vouched["seen"][1]["state"], "issuer-unrecognised", "{vouched}");
    assert_eq!(vouched["counts"]["jwks"][&b.base], 1, "{vouched}");
    assert_eq!(vouched["counts"]["lists"][&b.base], 1, "{vouched}");

    // 6. Tampered trust lists vouch for nobody.
    for case in ["bad_signature", "other_key"] {
        assert_eq!(seen["tampered"][case]["state"], "issuer-unrecognised", "{case}: {}", seen["tampered"]);
    }

    // 7. Removed from A's list: the open page falls back within the list's ttl.
    let unvouched = &seen["unvouched"];
    assert_eq!(unvouched["before"], "verified", "{unvouched}");
    assert_eq!(unvouched["after"], "issuer-unrecognised", "{unvouched}");
    assert!(unvouched["seconds"].as_f64().unwrap() <= TTL as f64 + 4.0, "{unvouched}");

    // 8. A status list held past its ttl by a proxy stops keeping the revoked mark green.
    let stale = &seen["stale"];
    assert_eq!(stale["after"], "cannot-confirm", "{stale}");
    let states: Vec<&str> = stale["seen"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(states.contains(&"verified"), "green while the held list was fresh: {stale}");
    let flipped = stale["flipped_after_iat_s"].as_f64().unwrap();
    assert!(flipped <= STALE_TTL as f64 + 3.0, "not green past iat + ttl: {stale}");
    // The real list says revoked.
    let real = d.get_json(&format!("/api/v1/certificates/{}", d_cert["id"].as_str().unwrap()));
    assert_eq!(real["status"], "revoked");
}

/// The current-token endpoint gives the newest token, to anyone, cacheably; the verify API calls
/// a token of another issuer neither valid nor forged; status lists expire soon after their ttl.
#[test]
fn current_token_foreign_issuers_and_short_lived_lists() {
    let server = Server::start_with(&["--status-ttl", "120"]);
    let other = Server::start();
    let here = entity(&server, "Spółdzielnia Socjalna „Teraz”", &["sklep.pl"]);
    let first = issue(&server, &here, Some(now() - 300 * DAY));
    let id = first["id"].as_str().unwrap();
    let url = format!("/api/v1/certificates/{}/token", id.to_lowercase());
    let reply = server.http.get(server.at(&url)).header("origin", "https://sklep.pl").send().unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/jwt");
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");
    assert_eq!(reply.headers()["cache-control"], "public, max-age=120");
    assert_eq!(reply.text().unwrap(), token(&first));
    let renewed = server.admin(&format!("/certificates/{id}/renew"), &json!({}));
    let current = server.get(&url).text().unwrap();
    assert_eq!(current, token(&renewed));
    assert_ne!(current, token(&first));
    assert_eq!(server.get("/api/v1/certificates/ZZZZZZZZ/token").status(), 404);
    assert_eq!(server.get("/api/v1/certificates/not%20an%20id/token").status(), 404);

    // Another issuer's genuine token: a distinct verdict, not "invalid".
    let theirs = issue(&other, &entity(&other, "Fundacja „Gdzie Indziej”", &["sklep.pl"]), None);
    let reply = server
        .http
        .post(server.at("/api/v1/verify"))
        .json(&json!({ "token": token(&theirs) }))
        .send()
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().unwrap();
    assert_eq!(body["valid"], false, "{body}");
    assert_eq!(body["verdict"], "issuer_not_recognised", "{body}");
    assert!(body["reasons"][0]["message"].as_str().unwrap().contains(&other.base), "{body}");
    // This issuer's own tokens are judged as before.
    let mine =
        server.http.post(server.at("/api/v1/verify")).json(&json!({ "token": current })).send().unwrap();
    assert_eq!(mine.json::<Value>().unwrap()["verdict"], "valid");

    // A status list expires a minute after its ttl, not a day later.
    let list = server
        .get(renewed["status_list"]["uri"].as_str().unwrap().trim_start_matches(&server.base))
        .text()
        .unwrap();
    let payload = list.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&zp_shared::base64url::decode(payload).unwrap()).unwrap();
    assert_eq!(claims["ttl"], 120);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120 + 60, "{claims}");
}
