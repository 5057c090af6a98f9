//! External Ed25519 and JWS vectors from `../shared/vectors`, read where they are at build time.
//! The expected verdicts are the upstream ones; where a suite leaves the choice to the verifier
//! (CCTV, speccheck), they are the strict verdicts of SPEC §4 (`verify_strict`, sound keys).

use serde_json::Value;
use zp_shared::jws::verify_ed25519;
use zp_shared::{Error, IssuerKey, KeySet, UntrustedToken};

use crate::common::unhex;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! vector {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/", $file))
    };
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn str_of<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_else(|| panic!("vector member {name} missing"))
}

#[test]
fn wycheproof_ed25519() {
    let doc = json(vector!("wycheproof_ed25519_test.json"));
    assert_eq!(doc["schema"], "eddsa_verify_schema_v1.json");
    let mut count = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let pk = unhex(str_of(&group["publicKey"], "pk"));
        for case in group["tests"].as_array().unwrap() {
            let verdict = verify_ed25519(&pk, &unhex(str_of(case, "msg")), &unhex(str_of(case, "sig")));
            let expected = str_of(case, "result");
            assert!(
                matches!((expected, &verdict), ("valid", Ok(())) | ("invalid", Err(_))),
                "tcId {} ({}): expected {expected}, got {verdict:?}",
                case["tcId"],
                case["comment"]
            );
            count += 1;
        }
    }
    assert_eq!(count, doc["numberOfTests"].as_u64().unwrap());
    assert_eq!(count, 151);
}

#[test]
fn rfc8032_section_7_1() {
    let cases = json(vector!("rfc8032_7.1_ed25519.json"));
    assert_eq!(cases.as_array().unwrap().len(), 5);
    for case in cases.as_array().unwrap() {
        let name = str_of(case, "name");
        let seed: [u8; 32] = unhex(str_of(case, "secret_key")).try_into().unwrap();
        let key = IssuerKey::from_seed(&seed).unwrap();
        let public = unhex(str_of(case, "public_key"));
        let message = unhex(str_of(case, "message"));
        let signature = unhex(str_of(case, "signature"));
        assert_eq!(key.public_key().as_bytes().as_slice(), public, "{name}: public key");
        assert_eq!(key.sign_bytes(&message).as_slice(), signature, "{name}: signature");
        assert_eq!(verify_ed25519(&public, &message, &signature), Ok(()), "{name}");
    }
}

#[test]
fn rfc8037_appendix_a() {
    let a = json(vector!("rfc8037_appendixA_ed25519.json"));
    // A.1: the private key.
    let private: zp_shared::PrivateJwk = serde_json::from_value(a["A1_private_jwk"].clone()).unwrap();
    let key = IssuerKey::from_private_jwk(&private).unwrap();
    // A.2 and A.3: the public key and its thumbprint, through the JWKS loader.
    let jwks = serde_json::json!({ "keys": [a["A2_public_jwk"]] }).to_string();
    let set = KeySet::from_jwks_json(&jwks).unwrap();
    let thumbprint = str_of(&a, "A3_thumbprint_b64url");
    assert_eq!(key.kid(), thumbprint);
    assert_eq!(set.get(thumbprint).unwrap().as_bytes(), key.public_key().as_bytes());
    assert_eq!(
        hex::encode(zp_shared::base64url::decode(thumbprint).unwrap()),
        str_of(&a, "A3_thumbprint_sha256_hex")
    );
    // A.4: signing reproduces the JWS byte for byte.
    let jws = key.sign_raw(str_of(&a, "A4_protected_header").as_bytes(), str_of(&a, "A4_payload").as_bytes());
    assert_eq!(jws, str_of(&a, "A4_A5_compact_jws"));
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts[0], str_of(&a, "A4_protected_b64"));
    assert_eq!(parts[1], str_of(&a, "A4_payload_b64"));
    assert_eq!(parts[2], str_of(&a, "A4_signature_b64"));
    // A.5: the signature verifies.
    let signature = zp_shared::base64url::decode(parts[2]).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    assert_eq!(verify_ed25519(key.public_key().as_bytes(), input.as_bytes(), &signature), Ok(()));
    // As a certificate token it is refused: it names no `typ` and no `kid`.
    assert_eq!(UntrustedToken::parse(&jws).unwrap_err(), Error::TypMissing);
}

#[test]
fn speccheck_strict_verdicts() {
    let cases = json(vector!("speccheck_cases.json"));
    let verdicts: String = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let ok = verify_ed25519(
                &unhex(str_of(case, "pub_key")),
                &unhex(str_of(case, "message")),
                &unhex(str_of(case, "signature")),
            )
            .is_ok();
            if ok { 'V' } else { 'X' }
        })
        .collect();
    // Upstream results table, row "Dalek strict": only case 3 (a plain valid signature) passes.
    assert_eq!(verdicts, "XXXVXXXXXXXX");
}

#[test]
fn cctv_edge_cases() {
    let cases = json(vector!("cctv_ed25519vectors.json"));
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 914);
    let never = ["low_order_A", "low_order_R", "non_canonical_A", "non_canonical_R", "low_order_residue"];
    let mut accepted = 0;
    for case in cases {
        let verdict = verify_ed25519(
            &unhex(str_of(case, "key")),
            str_of(case, "msg").as_bytes(),
            &unhex(str_of(case, "sig")),
        );
        if verdict.is_ok() {
            accepted += 1;
            let flags: Vec<&str> = case["flags"]
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert!(
                !flags.iter().any(|flag| never.contains(flag)),
                "vector {} accepted despite {flags:?}",
                case["number"]
            );
        }
    }
    assert_eq!(accepted, 43, "strict verification accepts exactly the 43 vectors that verify_strict does");
}

#[test]
fn supercop_sign_input() {
    let mut count = 0;
    for line in vector!("dalek_TESTVECTORS_supercop_sign_input.txt").lines().filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(':').collect();
        assert_eq!(fields.len(), 5, "line {count}");
        let secret = unhex(fields[0]);
        let public = unhex(fields[1]);
        let message = unhex(fields[2]);
        let signed = unhex(fields[3]);
        let seed: [u8; 32] = secret[..32].try_into().unwrap();
        let key = IssuerKey::from_seed(&seed).unwrap();
        assert_eq!(key.public_key().as_bytes().as_slice(), public, "line {count}: public key");
        let signature = key.sign_bytes(&message);
        assert_eq!(signature.as_slice(), &signed[..64], "line {count}: signature");
        assert_eq!(verify_ed25519(&public, &message, &signature), Ok(()), "line {count}");
        count += 1;
    }
    assert_eq!(count, 128);
}
