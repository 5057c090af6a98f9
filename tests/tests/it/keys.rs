//! Key rotation: tokens signed before and after verify; the JWKS lists both keys.

use serde_json::{Value, json};

use crate::harness::{Server, now};

#[test]
fn tokens_from_before_and_after_a_rotation_both_verify() {
    let server = Server::start();
    let entity = server.entity("Klub Integracji Społecznej „Razem”");
    let entity_id = entity["id"].as_str().unwrap();
    let before = server.certificate(entity_id);
    let old_kid =
        zp_shared::UntrustedToken::parse(before["token"].as_str().unwrap()).unwrap().kid().to_owned();

    let rotated = server.cli_json(&["key", "rotate"]);
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let after = server.certificate(entity_id);
    let token_kid =
        zp_shared::UntrustedToken::parse(after["token"].as_str().unwrap()).unwrap().kid().to_owned();
    assert_eq!(token_kid, new_kid, "the server signs with the rotated key without a restart");

    let jwks: Value = server.get_json("/.well-known/jwks.json");
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    let keys = server.keys();
    for certificate in [&before, &after] {
        let token = certificate["token"].as_str().unwrap();
        zp_shared::verify(token, &keys, now(), &server.rules()).unwrap();
        let verdict: Value = server
            .http
            .post(server.at("/api/v1/verify"))
            .json(&json!({ "token": token }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(verdict["valid"], true, "{verdict}");
    }
    // The status list is now signed by the new key, and verifies with the published set.
    let uri = format!("{}/api/v1/status-lists/0", server.base);
    let list = server.get("/api/v1/status-lists/0").text().unwrap();
    let verified = zp_shared::verify_status_list(&list, &keys, now(), &server.rules(), &uri).unwrap();
    assert_eq!(verified.kid, new_kid);

    // Rotation through the admin API too, audited.
    let again = server.admin("/keys/rotate", &json!({}));
    assert_ne!(again["kid"], new_kid.as_str());
    assert_eq!(server.keys().len(), 3);
}

#[test]
fn a_revoked_api_key_is_refused_at_once() {
    let server = Server::start();
    let created = server.cli_json(&["api-key", "create", "--name", "panel"]);
    let key = created["key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    let list = |key: &str| {
        server.http.get(server.at("/api/v1/admin/entities")).bearer_auth(key).send().unwrap().status()
    };
    assert_eq!(list(key), 200);
    let listed = server.cli_json(&["api-key", "list"]);
    assert!(listed.as_array().unwrap().iter().any(|k| k["id"] == id && k["revoked_at"].is_null()));
    server.cli_json(&["api-key", "revoke", id]);
    assert_eq!(list(key), 401);
    assert_eq!(list(&server.admin_key), 200, "other keys still work");
    let again = server.cli(&["api-key", "revoke", id]);
    assert!(!again.status.success());
    let audit = server.admin_get("/audit?limit=1000");
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "api_key.revoke" && e["subject"] == id));
}
