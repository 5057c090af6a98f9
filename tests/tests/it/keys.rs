//! Key rotation: a rotated key is published at once and signs after the JWKS cache lifetime (at
//! once in an emergency); tokens signed before and after verify; the JWKS lists both keys.

use serde_json::{Value, json};

use crate::harness::{Server, now};

fn kid_of(certificate: &Value) -> String {
    zp_shared::UntrustedToken::parse(certificate["token"].as_str().unwrap()).unwrap().kid().to_owned()
}

fn published(server: &Server) -> Vec<String> {
    let jwks: Value = server.get_json("/.well-known/jwks.json");
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// Issues a certificate with `zp cert issue`, the CLI's clock `offset` seconds ahead.
fn issue_by_cli(server: &Server, entity_id: &str, offset: i64) -> Value {
    server.cli_json(&[
        "--clock-offset",
        &offset.to_string(),
        "cert",
        "issue",
        "--entity",
        entity_id,
        "--product",
        "Chleb",
    ])
}

#[test]
fn tokens_from_before_and_after_a_rotation_both_verify() {
    let server = Server::start();
    let entity = server.entity("Klub Integracji Społecznej „Razem”");
    let entity_id = entity["id"].as_str().unwrap();
    let before = server.certificate(entity_id);
    let old_kid = kid_of(&before);

    let rotated = server.cli_json(&["key", "rotate", "--now"]);
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let after = server.certificate(entity_id);
    assert_eq!(kid_of(&after), new_kid, "the server signs with the rotated key without a restart");

    let kids = published(&server);
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");
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

    // Rotation through the admin API too, audited: the next key is published at once.
    let again = server.admin("/keys/rotate", &json!({}));
    assert_ne!(again["kid"], new_kid.as_str());
    assert_eq!(server.keys().len(), 3);
    let audit = server.admin_get("/audit?limit=1000");
    let rotations: Vec<&Value> =
        audit.as_array().unwrap().iter().filter(|e| e["action"] == "key.rotate").collect();
    assert_eq!(rotations.len(), 2);
    assert_eq!(rotations[0]["subject"], new_kid.as_str());
    assert_eq!(rotations[1]["subject"], again["kid"]);
}

#[test]
fn a_rotated_key_is_published_at_once_and_signs_once_cached_jwks_have_expired() {
    let server = Server::start();
    let entity = server.entity("Spółdzielnia Socjalna „Zmiana”");
    let entity_id = entity["id"].as_str().unwrap();
    let current = kid_of(&server.certificate(entity_id));
    let jwks = server.get("/.well-known/jwks.json");
    let cache_control = jwks.headers()["cache-control"].to_str().unwrap().to_owned();
    assert_eq!(cache_control, "public, max-age=300");

    let started = now();
    let rotated = server.cli_json(&["key", "rotate"]);
    let next = rotated["kid"].as_str().unwrap().to_owned();
    let active_from = rotated["active_from"].as_i64().unwrap();
    assert!((started + 300..=now() + 300).contains(&active_from), "{rotated}");
    assert_eq!(rotated["withdrawn"], json!([]));

    // Right after: new tokens still carry the current kid, and the JWKS already lists the next.
    assert_eq!(kid_of(&server.certificate(entity_id)), current);
    assert_eq!(kid_of(&issue_by_cli(&server, entity_id, 0)), current);
    let kids = published(&server);
    assert!(kids.contains(&current) && kids.contains(&next), "{kids:?}");
    let uri = format!("{}/api/v1/status-lists/0", server.base);
    let list = server.get("/api/v1/status-lists/0").text().unwrap();
    let status = zp_shared::verify_status_list(&list, &server.keys(), now(), &server.rules(), &uri).unwrap();
    assert_eq!(status.kid, current);

    // Past the activation time: another process sharing the key directory signs with the next key…
    let later = issue_by_cli(&server, entity_id, 301);
    assert_eq!(kid_of(&later), next);
    // …and so does the server after a restart with a later clock: the time is kept on disk.
    let server = server.kill_hard_and_restart_with(&["--clock-offset", "301"]);
    let after = server.certificate(entity_id);
    assert_eq!(kid_of(&after), next);
    let kids = published(&server);
    assert!(kids.contains(&current) && kids.contains(&next), "old tokens still verify: {kids:?}");
    for token in [&later, &after] {
        zp_shared::verify(token["token"].as_str().unwrap(), &server.keys(), now() + 301, &server.rules())
            .unwrap();
    }

    // An emergency through the admin API (query or body) signs at once.
    let urgent: Value = server
        .http
        .post(server.at("/api/v1/admin/keys/rotate?now=true"))
        .bearer_auth(&server.admin_key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let urgent_kid = urgent["kid"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&server.certificate(entity_id)), urgent_kid);
    // A scheduled rotation waits; an emergency one afterwards withdraws it and signs at once.
    let waiting = server.admin("/keys/rotate", &json!({}));
    assert_eq!(kid_of(&server.certificate(entity_id)), urgent_kid);
    let emergency = server.admin("/keys/rotate", &json!({ "now": true }));
    assert_eq!(emergency["withdrawn"], json!([waiting["kid"]]));
    let emergency_kid = emergency["kid"].as_str().unwrap();
    assert_eq!(kid_of(&server.certificate(entity_id)), emergency_kid);
    assert!(!published(&server).contains(&waiting["kid"].as_str().unwrap().to_owned()));
    // The withdrawn key never takes over, even past its time.
    assert_eq!(kid_of(&issue_by_cli(&server, entity_id, 301 + 400)), emergency_kid);

    // The CLI's emergency rotation switches the server at once too.
    let cli_urgent = server.cli_json(&["--clock-offset", "301", "key", "rotate", "--now"]);
    assert_eq!(kid_of(&server.certificate(entity_id)), cli_urgent["kid"].as_str().unwrap());

    // An unknown option is refused, naming nothing rotated.
    let refused = server.admin_post("/keys/rotate", &json!({ "later": true }));
    assert_eq!(refused.status(), 422);
    let audit = server.cli(&["audit", "verify"]);
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
    let log = server.admin_get("/audit?limit=1000");
    let rotations: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "key.rotate")
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    let expected = [
        &next,
        &urgent_kid,
        waiting["kid"].as_str().unwrap(),
        emergency_kid,
        cli_urgent["kid"].as_str().unwrap(),
    ];
    assert_eq!(rotations, expected);
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
