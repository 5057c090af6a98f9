//! `zp migrate --to postgres://…`: a SQLite registry copied into an empty PostgreSQL database
//! gives the same public answers when `zp serve` serves it from there with the same keys.

use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Server, now, zp_binary};

/// The status list's entries other than 0 (valid), verified against the server's own keys.
fn status_entries(server: &Server) -> Vec<(u64, u8)> {
    let uri = format!("{}/api/v1/status-lists/0", server.base);
    let token = server.get("/api/v1/status-lists/0").text().unwrap();
    let verified =
        zp_shared::verify_status_list(&token, &server.keys(), now(), &server.rules(), &uri).unwrap();
    (0..verified.list.len())
        .filter_map(|idx| Some((idx, verified.list.get(idx).unwrap())).filter(|(_, v)| *v != 0))
        .collect()
}

#[test]
fn a_migrated_registry_gives_the_same_public_answers_from_postgresql() {
    let server = Server::start();
    let a = server.entity("Spółdzielnia Socjalna „Przeprowadzka”");
    let b = server.entity("Zakład Aktywności Zawodowej „Most”");
    let mut ids = Vec::new();
    for entity in [&a, &a, &b, &b] {
        ids.push(server.certificate(entity["id"].as_str().unwrap())["id"].as_str().unwrap().to_owned());
    }
    server.admin(
        &format!("/certificates/{}/products", ids[0]),
        &json!({ "products": [{ "name": "Konfitury" }] }),
    );
    server.admin(&format!("/certificates/{}/suspend", ids[1]), &json!({ "note": "Kontrola jakości" }));
    server.admin(
        &format!("/certificates/{}/revoke", ids[2]),
        &json!({ "reason": "misuse", "note": "Znak na cudzym" }),
    );
    server.admin("/issuers", &json!({ "url": "https://zp.rops.opole.pl", "name": "ROPS w Opolu" }));
    // A key waiting to sign: published from the shared key directory on both sides.
    server.cli_json(&["key", "rotate"]);

    let url = crate::postgres::database("migrate");
    let report = server.cli_json(&["migrate", "--to", &url]);
    assert_eq!(report["rows"]["certificates"], 4, "{report}");
    assert_eq!(report["rows"]["entities"], 2, "{report}");
    assert_eq!(report["rows"]["products"], 5, "{report}");
    assert_eq!(report["rows"]["tokens"], 5, "{report}");
    assert_eq!(report["rows"]["trusted_issuers"], 1, "{report}");
    assert_eq!(report["rows"]["api_keys"], 1, "{report}");
    let audit: Value = server.admin_get("/audit?limit=1000");
    let entries = audit.as_array().unwrap();
    assert_eq!(report["audit_entries"], entries.len(), "{report}");
    assert_eq!(report["audit_head"], entries.last().unwrap()["hash"], "the chain is copied as it is");

    // Only into an empty database.
    let again = server.cli(&["migrate", "--to", &url]);
    assert!(!again.status.success());
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(message.contains("not empty") && message.contains("table meta"), "{message}");

    // Served from PostgreSQL with the same key directory.
    let data = tempfile::tempdir().unwrap();
    let keys_dir = server.data.join("keys");
    let mut pg = Server::spawn_with_db(data.path(), &url, &keys_dir, &server.base);
    // The admin API key came along.
    pg.admin_key = server.admin_key.clone();
    for id in &ids {
        let path = format!("/api/v1/certificates/{id}");
        assert_eq!(pg.get_json(&path), server.get_json(&path), "{id}");
        let token = format!("/api/v1/certificates/{id}/token");
        assert_eq!(pg.get(&token).text().unwrap(), server.get(&token).text().unwrap(), "{id}");
    }
    let entries = status_entries(&pg);
    assert_eq!(entries, status_entries(&server));
    assert_eq!(entries.len(), 2, "one suspended, one revoked: {entries:?}");
    assert_eq!(pg.get_json("/.well-known/jwks.json"), server.get_json("/.well-known/jwks.json"));
    assert_eq!(pg.keys().len(), 2);
    // The trust list names the same issuers.
    assert_eq!(pg.admin_get("/issuers"), server.admin_get("/issuers"));
    assert_eq!(pg.get("/.well-known/zp-trust-list.jwt").status(), 200);

    // The audit chain verifies in PostgreSQL, and the issuer URL came along: no --base-url needed.
    let verify = pg.cli(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let bare = Command::new(zp_binary())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--database-url", &url, "--keys-dir", keys_dir.to_str().unwrap(), "key", "list"])
        .output()
        .unwrap();
    assert!(bare.status.success(), "{}", String::from_utf8_lossy(&bare.stderr));
    // The registry goes on from where SQLite left it: the next status-list index, the next number.
    let next = pg.certificate(a["id"].as_str().unwrap());
    assert_eq!(next["status_list"]["idx"], 4, "{next}");
    let last = server.get_json(&format!("/api/v1/certificates/{}", ids[3]));
    let number =
        |c: &Value| c["number"].as_str().unwrap().rsplit('/').next().unwrap().parse::<u32>().unwrap();
    assert_eq!(number(&next), number(&last) + 1);
    let verify = pg.cli(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}
