//! The whole life of a certificate through the CLI and the admin API; after every step the check
//! API, the verification page, the signed status list and the JWKS must tell the same story.

use serde_json::{Value, json};
use zp_shared::{Status, verify_status_list};

use crate::harness::{Server, now};

/// What every public source must say about a certificate at one moment.
pub(crate) struct Expect {
    verdict: &'static str,
    status: Status,
    /// Words of the verification page (Polish, the default).
    page: &'static str,
}

pub(crate) const VALID: Expect = Expect { verdict: "valid", status: Status::Valid, page: "Znak ważny" };
const SUSPENDED: Expect = Expect { verdict: "suspended", status: Status::Suspended, page: "zawieszony" };
pub(crate) const REVOKED: Expect = Expect { verdict: "revoked", status: Status::Revoked, page: "cofnięty" };

pub(crate) fn agree(server: &Server, id: &str, token: &str, expect: &Expect) {
    // The check API.
    let view = server.get_json(&format!("/api/v1/certificates/{id}"));
    assert_eq!(view["status"], expect.verdict, "check API for {id}");
    // Verification of the token, as a third party would post it.
    let verdict: Value = server
        .http
        .post(server.at("/api/v1/verify"))
        .json(&json!({ "token": token }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(verdict["verdict"], expect.verdict, "verify API for {id}: {verdict}");
    assert_eq!(verdict["valid"], expect.verdict == "valid");
    // The page people reach from the QR code, in any case.
    let page = server.get(&format!("/v/{}", id.to_lowercase()));
    assert_eq!(page.status(), 200);
    let cache = page.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(cache.as_deref(), Some("no-cache"), "the page must not be cached past a revocation");
    let html = page.text().unwrap();
    assert!(html.contains(expect.page), "page of {id} should say {:?}", expect.page);
    // The status list, fetched and verified with the published keys like the widget does.
    let keys = server.keys();
    let untrusted = zp_shared::UntrustedToken::parse(token).unwrap();
    assert!(keys.get(untrusted.kid()).is_some(), "the JWKS lists the token's key");
    let claims = zp_shared::verify(token, &keys, now(), &server.rules())
        .expect("the token itself stays genuine")
        .into_claims();
    let uri = &claims.status.status_list.uri;
    let path = uri.strip_prefix(&server.base).expect("status list on this issuer");
    let list_token = server.get(path).text().unwrap();
    let list =
        verify_status_list(&list_token, &keys, now(), &server.rules(), uri).expect("signed status list");
    assert_eq!(
        list.list.status(claims.status.status_list.idx).unwrap(),
        expect.status,
        "status list for {id}"
    );
}

#[test]
fn life_of_a_certificate() {
    let server = Server::start();
    // Register through the API, issue through the CLI.
    let entity = server.entity("Spółdzielnia Socjalna „Dobre Ręce”");
    let entity_id = entity["id"].as_str().unwrap();
    // Issued 300 days ago, so that it is inside its renewal window.
    let start = time_date(now() - 300 * 86_400);
    let issued = server.cli_json(&[
        "cert",
        "issue",
        "--entity",
        entity_id,
        "--product",
        "Pierogi ruskie=5901234123457",
        "--valid-from",
        &start,
    ]);
    let id = issued["id"].as_str().unwrap().to_owned();
    let first_token = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(issued["status"], "valid");
    assert_eq!(id.len(), 8);
    assert!(issued["number"].as_str().unwrap().starts_with("ZP/LU/"));
    agree(&server, &id, &first_token, &VALID);

    // Renew through the API: a new token with a new jti, a year later.
    let renewed = server.admin(&format!("/certificates/{id}/renew"), &json!({}));
    let renewed_token = renewed["token"].as_str().unwrap().to_owned();
    assert_ne!(renewed_token, first_token);
    assert!(
        renewed["valid_until_unix"].as_i64().unwrap() - issued["valid_until_unix"].as_i64().unwrap()
            >= 365 * 86_400
    );
    let keys = server.keys();
    let first = zp_shared::verify(&first_token, &keys, now(), &server.rules()).unwrap().into_claims();
    let second = zp_shared::verify(&renewed_token, &keys, now(), &server.rules()).unwrap().into_claims();
    assert_ne!(first.jti, second.jti);
    assert!(second.exp > first.exp);
    agree(&server, &id, &renewed_token, &VALID);
    // A repeated renewal does not add another year.
    let twice = server.admin_post(&format!("/certificates/{id}/renew"), &json!({}));
    assert_eq!(twice.status(), 409);
    assert!(twice.text().unwrap().contains("can be renewed from"));

    // Add a branch through the CLI: another new token listing it.
    let added = server.cli_json(&["cert", "add-product", &id, "--product", "Catering"]);
    let added_token = added["token"].as_str().unwrap().to_owned();
    let claims =
        zp_shared::verify(&added_token, &server.keys(), now(), &server.rules()).unwrap().into_claims();
    let names: Vec<&str> = claims.zp.products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Pierogi ruskie", "Catering"]);
    agree(&server, &id, &added_token, &VALID);

    // Suspend through the API: every token of the certificate is affected.
    let suspended =
        server.admin(&format!("/certificates/{id}/suspend"), &json!({ "note": "Kontrola jakości" }));
    assert_eq!(suspended["status"], "suspended");
    for token in [&first_token, &renewed_token, &added_token] {
        agree(&server, &id, token, &SUSPENDED);
    }

    // Reinstate through the CLI.
    server.cli_json(&["cert", "reinstate", &id]);
    agree(&server, &id, &added_token, &VALID);

    // Revoke through the API: visible at once, on every public source.
    let revoked = server.admin(
        &format!("/certificates/{id}/revoke"),
        &json!({ "reason": "misuse", "note": "Znak na produktach spoza certyfikatu" }),
    );
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation"]["reason"], "misuse");
    for token in [&first_token, &added_token] {
        agree(&server, &id, token, &REVOKED);
    }
    // Revocation is final.
    let again = server.admin_post(&format!("/certificates/{id}/reinstate"), &json!({}));
    assert_eq!(again.status(), 409);
    let renew = server.admin_post(&format!("/certificates/{id}/renew"), &json!({}));
    assert_eq!(renew.status(), 409);

    // Every step is in the audit log, and the chain holds.
    let output = server.cli(&["audit", "verify"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let audit = server.admin_get("/audit?limit=1000");
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in [
        "api_key.create",
        "entity.create",
        "certificate.issue",
        "certificate.renew",
        "certificate.add_products",
        "certificate.suspend",
        "certificate.reinstate",
        "certificate.revoke",
    ] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
}

#[test]
fn expiring_and_search() {
    let server = Server::start();
    let entity = server.entity("Warsztat Terapii Zajęciowej w Łęcznej");
    let id = entity["id"].as_str().unwrap();
    let start = crate::harness::now() - 362 * 86_400;
    let date = time_date(start);
    let expiring = server.admin(
        "/certificates",
        &json!({ "entity_id": id, "products": [{ "name": "Świece sojowe" }], "valid_from": date }),
    );
    let fresh = server.certificate(id);
    let soon = server.admin_get("/certificates?expiring_within_days=7");
    let ids: Vec<&str> =
        soon["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [expiring["id"].as_str().unwrap()]);
    // Search folds case and Polish diacritics.
    let found = server.get_json("/api/v1/certificates?q=LECZNEJ%20swiece");
    let ids: Vec<&str> =
        found["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [expiring["id"].as_str().unwrap()]);
    let found = server.get_json("/api/v1/certificates?q=warsztat");
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    assert_ne!(fresh["id"], expiring["id"]);
}

/// `YYYY-MM-DD` of a Unix time, computed without a date library.
pub fn time_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
