//! Certificate tokens and trust lists against `jose` (npm), an independent and widely used JOSE
//! implementation: what we sign verifies there, what it signs with our key verifies here, and both
//! refuse what they must. The JavaScript side is `tests/js/jose-interop.mjs`.

use serde_json::{Value, json};
use zp_shared::{
    CERT_TYP, Certificate, CertificateClaims, Entity, Error, IssuerKey, KeySet, LegalForm, Product, Rules,
    StatusClaim, StatusListRef, TRUST_LIST_TYP, TrustListClaims, TrustedIssuer, sign_trust_list, verify,
    verify_trust_list,
};

use crate::{NodeOutput, require_npm_package, run_node_json};

const SCRIPT: &str = "jose-interop.mjs";
const ISSUER: &str = "https://zp.rops.lublin.pl";
/// 2025-12-15T10:30:00Z: issued ahead of the validity year.
const IAT: i64 = 1_765_794_600;
/// 2026-01-01T00:00:00Z.
const NBF: i64 = 1_767_225_600;
/// 2027-01-01T00:00:00Z: one year after `NBF`.
const EXP: i64 = 1_798_761_600;
/// 2026-03-14T12:00:00Z: the verifiers' clock on both sides.
const NOW: i64 = 1_773_489_600;

fn issuer_key() -> IssuerKey {
    let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(11));
    IssuerKey::from_seed(&seed).expect("a valid seed")
}

fn claims() -> CertificateClaims {
    CertificateClaims {
        iss: ISSUER.into(),
        sub: "4QZ8M1KD".into(),
        jti: "4QZ8M1KD-3".into(),
        iat: IAT,
        nbf: NBF,
        exp: EXP,
        status: StatusClaim {
            status_list: StatusListRef { idx: 1_337, uri: format!("{ISSUER}/api/v1/status-lists/1") },
        },
        zp: Certificate {
            number: "ZP/LU/2026/0042".into(),
            entity: Entity {
                name: "Spółdzielnia Socjalna „Zielony Słoik”".into(),
                legal_form: LegalForm::SocialCooperative,
                nip: Some("7740001454".into()),
                krs: Some("0000123456".into()),
                regon: None,
                city: Some("Zamość".into()),
                voivodeship: Some("lubelskie".into()),
            },
            products: vec![
                Product {
                    name: "Powidła śliwkowe z Łęczycy".into(), gtin: Some("05901234123457".into())
                },
                Product { name: "Żurek na zakwasie — słoik 0,5 l".into(), gtin: None },
                Product { name: "Usługi cateringowe dla szkół i przedszkoli".into(), gtin: None },
            ],
            domains: vec!["zielonysloik.pl".into(), "sklep.zielonysloik.pl".into()],
            verify_url: format!("{ISSUER}/v/4QZ8M1KD"),
        },
    }
}

/// Our key set, and the JWKS document it publishes.
fn key_set(key: &IssuerKey) -> (KeySet, Value) {
    let jwks = serde_json::to_value(zp_shared::Jwks { keys: vec![key.public_jwk()] }).expect("JWKS to JSON");
    let keys = KeySet::from_jwks_json(&jwks.to_string()).expect("our JWKS loads");
    assert_eq!(serde_json::to_value(keys.to_jwks()).expect("JWKS to JSON"), jwks);
    (keys, jwks)
}

fn run_jose(request: &Value) -> Value {
    require_npm_package("jose");
    let NodeOutput { json, success, stderr } = run_node_json(SCRIPT, request);
    assert!(success, "{SCRIPT} failed: {json}\nstderr:\n{stderr}");
    json
}

fn signed_token(response: &Value) -> &str {
    response["signed_token"].as_str().unwrap_or_else(|| panic!("jose signed nothing: {response}"))
}

fn decoded_header(token: &str) -> Value {
    let header = token.split('.').next().expect("a header part");
    let bytes = zp_shared::base64url::decode(header).expect("canonical base64url header");
    serde_json::from_slice(&bytes).expect("a JSON header")
}

#[test]
fn tokens_round_trip_between_our_implementation_and_jose() {
    let key = issuer_key();
    let (keys, jwks) = key_set(&key);
    let claims = claims();
    let claims_json = serde_json::to_value(&claims).expect("claims to JSON");
    let ours = key.sign_jwt(CERT_TYP, &claims).expect("sign");
    // Our own verifier accepts it, so whatever jose says is about jose, not a broken token.
    assert_eq!(
        verify(&ours, &keys, NOW, &Rules::new(ISSUER)).map(zp_shared::VerifiedClaims::into_claims),
        Ok(claims.clone())
    );

    let response = run_jose(&json!({
        "jwks": jwks,
        "token": ours,
        "issuer": ISSUER,
        "now": NOW,
        "private_jwk": key.to_private_jwk(),
        "claims": claims_json,
    }));

    assert_eq!(response.get("error"), None, "jose refused our token: {response}");
    assert_eq!(
        response["jwks_thumbprints"],
        json!([key.kid()]),
        "jose's RFC 7638 thumbprint differs from our kid"
    );
    assert_eq!(response["verified_payload"], claims_json, "jose read other claims than we signed");
    assert_eq!(response["protected_header"], json!({ "alg": "EdDSA", "typ": CERT_TYP, "kid": key.kid() }));

    let theirs = signed_token(&response);
    assert_eq!(decoded_header(theirs), json!({ "alg": "EdDSA", "typ": CERT_TYP, "kid": key.kid() }));
    let verified = verify(theirs, &keys, NOW, &Rules::new(ISSUER))
        .unwrap_or_else(|err| panic!("we refused jose's token ({err}): {theirs}"));
    assert_eq!(verified.kid(), key.kid());
    assert_eq!(*verified.claims(), claims);
    assert_eq!(serde_json::to_value(verified.claims()).expect("claims to JSON"), claims_json);
    assert_eq!(verified.claims().zp.entity.name, "Spółdzielnia Socjalna „Zielony Słoik”");
}

#[test]
fn jose_refuses_our_token_with_one_signature_character_changed() {
    let key = issuer_key();
    let (keys, jwks) = key_set(&key);
    let token = key.sign_jwt(CERT_TYP, &claims()).expect("sign");

    // A character inside the signature's R half: every bit of it counts, unlike the last
    // character's padding bits, so the signature bytes do change.
    let at = token.rfind('.').expect("three parts") + 1 + 10;
    let original = token.as_bytes()[at];
    let replacement = if original == b'A' { "B" } else { "A" };
    let mut tampered = token.clone();
    tampered.replace_range(at..=at, replacement);
    assert_ne!(tampered, token);
    assert_eq!(verify(&tampered, &keys, NOW, &Rules::new(ISSUER)), Err(Error::BadSignature));

    let response = run_jose(&json!({ "jwks": jwks, "token": tampered, "issuer": ISSUER, "now": NOW }));
    assert_eq!(response.get("verified_payload"), None, "jose accepted a tampered token: {response}");
    assert_eq!(response["error"], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "{response}");
}

#[test]
fn we_refuse_a_token_jose_signs_with_a_key_outside_our_jwks() {
    let key = issuer_key();
    let (keys, jwks) = key_set(&key);
    let claims = claims();

    let response = run_jose(&json!({ "private_jwk": "generate", "claims": claims }));
    let token = signed_token(&response);
    let header = decoded_header(token);
    assert_ne!(header["kid"], json!(key.kid()), "jose generated our own key");
    assert_eq!(verify(token, &keys, NOW, &Rules::new(ISSUER)), Err(Error::UnknownKey));

    // Control: once its key is published the same token verifies, so the refusal above was
    // about the key alone. Loading the key also checks jose's `kid` against our thumbprint.
    let mut published = jwks.clone();
    published["keys"].as_array_mut().expect("a keys array").push(response["signing_jwk"].clone());
    let with_their_key = KeySet::from_jwks_json(&published.to_string()).expect("jose's public key loads");
    let verified = verify(token, &with_their_key, NOW, &Rules::new(ISSUER)).expect("verifies with its key");
    assert_eq!(verified.kid(), header["kid"].as_str().expect("a string kid"));
    assert_eq!(*verified.claims(), claims);
}

fn trust_list_claims() -> TrustListClaims {
    let member = |host: &str, name: &str, voivodeship: Option<&str>| TrustedIssuer {
        iss: format!("https://{host}"),
        name: name.into(),
        voivodeship: voivodeship.map(str::to_owned),
        jwks_uri: format!("https://{host}/.well-known/jwks.json"),
    };
    TrustListClaims {
        iss: ISSUER.into(),
        sub: format!("{ISSUER}/.well-known/zp-trust-list.jwt"),
        iat: NOW - 30,
        exp: NOW + 330,
        ttl: 300,
        issuers: vec![
            member("zp.rops.opole.pl", "Regionalny Ośrodek Polityki Społecznej w Opolu", Some("opolskie")),
            member("zp.mcps.pl", "Mazowieckie Centrum Polityki Społecznej", Some("mazowieckie")),
            member("zp.koordynator.example.pl", "Koordynator krajowy", None),
        ],
    }
}

#[test]
fn trust_lists_round_trip_between_our_implementation_and_jose() {
    let key = issuer_key();
    let (keys, jwks) = key_set(&key);
    let claims = trust_list_claims();
    let claims_json = serde_json::to_value(&claims).expect("claims to JSON");
    let ours = sign_trust_list(&claims, &key).expect("sign");
    let rules = Rules::new(ISSUER);
    assert_eq!(
        verify_trust_list(&ours, &keys, NOW, &rules, &claims.sub).map(|v| v.claims),
        Ok(claims.clone())
    );

    let response = run_jose(&json!({
        "jwks": jwks,
        "token": ours,
        "issuer": ISSUER,
        "typ": TRUST_LIST_TYP,
        "now": NOW,
        "private_jwk": key.to_private_jwk(),
        "claims": claims_json,
    }));
    assert_eq!(response.get("error"), None, "jose refused our trust list: {response}");
    assert_eq!(response["verified_payload"], claims_json, "jose read other claims than we signed");
    assert_eq!(
        response["protected_header"],
        json!({ "alg": "EdDSA", "typ": TRUST_LIST_TYP, "kid": key.kid() })
    );

    let theirs = signed_token(&response);
    assert_eq!(decoded_header(theirs), json!({ "alg": "EdDSA", "typ": TRUST_LIST_TYP, "kid": key.kid() }));
    let verified = verify_trust_list(theirs, &keys, NOW, &rules, &claims.sub)
        .unwrap_or_else(|err| panic!("we refused jose's trust list ({err}): {theirs}"));
    assert_eq!(verified.kid, key.kid());
    assert_eq!(verified.claims, claims);
}

#[test]
fn jose_refuses_a_trust_list_of_another_signer_or_taken_for_a_certificate() {
    let key = issuer_key();
    let (_, jwks) = key_set(&key);
    let token = sign_trust_list(&trust_list_claims(), &key).expect("sign");
    let verify_with = |issuer: &str, typ: &str| {
        run_jose(&json!({ "jwks": jwks, "token": token, "issuer": issuer, "typ": typ, "now": NOW }))
    };
    // Control: the same request with the right signer and `typ` is accepted.
    assert_eq!(verify_with(ISSUER, TRUST_LIST_TYP).get("error"), None);
    for (issuer, typ) in [("https://zp.rops.opole.pl", TRUST_LIST_TYP), (ISSUER, CERT_TYP)] {
        let response = verify_with(issuer, typ);
        assert_eq!(response.get("verified_payload"), None, "jose accepted it as {issuer} {typ}: {response}");
        assert_eq!(response["error"], "ERR_JWT_CLAIM_VALIDATION_FAILED", "{issuer} {typ}: {response}");
    }
}
