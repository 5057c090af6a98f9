//! `POST /api/v1/verify` answers `valid` only for a token this issuer issued: one signed with
//! its key but never issued (a leaked key, a changed `exp`) is not.

use serde_json::{Value, json};
use zp_shared::{CERT_TYP, IssuerKey, PrivateJwk};

use crate::harness::{Server, now};

/// The issuer's signing key, read from its key directory as someone who stole it would.
fn stolen_key(server: &Server) -> IssuerKey {
    let keys = server.data.join("keys");
    let file = std::fs::read_dir(&keys)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "jwk"))
        .expect("a key file");
    let jwk: PrivateJwk = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    IssuerKey::from_private_jwk(&jwk).unwrap()
}

fn verify(server: &Server, token: &str) -> Value {
    let response =
        server.http.post(server.at("/api/v1/verify")).json(&json!({ "token": token })).send().unwrap();
    assert_eq!(response.status(), 200, "{token}");
    response.json().unwrap()
}

#[test]
fn tokens_signed_with_the_issuers_key_but_never_issued_are_not_valid() {
    let server = Server::start();
    let entity = server.entity("Warsztat Terapii Zajęciowej „Klucz”");
    let certificate = server.certificate(entity["id"].as_str().unwrap());
    let token = certificate["token"].as_str().unwrap().to_owned();
    let claims = zp_shared::verify(&token, &server.keys(), now(), &server.rules()).unwrap().into_claims();
    let key = stolen_key(&server);
    assert_eq!(verify(&server, &token)["verdict"], "valid");

    let mut fresh = claims.clone();
    fresh.jti = format!("{}-999", claims.sub);
    let mut longer = claims.clone();
    longer.exp += 10 * 365 * 86_400;
    for (what, forged) in [("a fresh jti", fresh), ("a later exp", longer)] {
        let forged = key.sign_jwt(CERT_TYP, &forged).unwrap();
        zp_shared::verify(&forged, &server.keys(), now(), &server.rules()).expect("signed with the real key");
        let answer = verify(&server, &forged);
        assert_eq!(answer["valid"], false, "{what}: {answer}");
        assert_eq!(answer["verdict"], "invalid", "{what}: {answer}");
        assert_eq!(answer["reasons"][0]["code"], "unknown_token", "{what}: {answer}");
        assert!(answer.get("certificate").is_none() && answer.get("claims").is_none(), "{what}: {answer}");
    }

    // Tokens it did issue stay genuine: the first one, after a change signed another.
    let id = certificate["id"].as_str().unwrap();
    let changed = server
        .admin(&format!("/certificates/{id}/products"), &json!({ "products": [{ "name": "Konfitury" }] }));
    assert_ne!(changed["token"], token.as_str());
    for issued in [token.as_str(), changed["token"].as_str().unwrap()] {
        let answer = verify(&server, issued);
        assert_eq!(answer["valid"], true, "{answer}");
    }
}
