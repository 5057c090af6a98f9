//! One test per attack on the token (SPEC §4). Every forgery here is signed with the trusted key
//! unless the attack is about the signature itself, so each is refused by the rule under test and
//! not by an accident of the signature; each must give its own error.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use zp_shared::jws::MAX_TOKEN_LEN;
use zp_shared::{Error, KeySet, Part, UntrustedToken, verify};

use crate::common::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn check(token: &str) -> Result<zp_shared::VerifiedClaims, Error> {
    verify(token, &keys(), NOW, &rules())
}

fn with_header(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut header = header();
    change(header.as_object_mut().unwrap());
    forge_json(&header, &claims_json())
}

fn with_claims(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut claims = claims_json();
    change(claims.as_object_mut().unwrap());
    forge_json(&header(), &claims)
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

#[test]
fn genuine_token_verifies() {
    let verified = check(&token()).unwrap();
    assert_eq!(*verified.claims(), claims());
    assert_eq!(verified.kid(), key().kid());
}

#[test]
fn alg_none() {
    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "zp-cert+jwt", "kid": key().kid() });
        let unsigned = format!("{}.{}.", b64(header.to_string()), b64(claims_json().to_string()));
        assert_eq!(check(&unsigned).unwrap_err(), Error::AlgNone, "{alg}");
        let signed = forge_json(&header, &claims_json());
        assert_eq!(check(&signed).unwrap_err(), Error::AlgNone, "{alg}, signed");
    }
}

#[test]
fn hs256_keyed_with_the_public_key() {
    let header = json!({ "alg": "HS256", "typ": "zp-cert+jwt", "kid": key().kid() });
    let input = format!("{}.{}", b64(header.to_string()), b64(claims_json().to_string()));
    // The classic confusion: the attacker MACs with the public key, which everybody has.
    let mut mac = Hmac::<Sha256>::new_from_slice(key().public_key().as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let token = format!("{input}.{}", b64(mac.finalize().into_bytes()));
    assert_eq!(check(&token).unwrap_err(), Error::AlgSymmetric("HS256".into()));
    let jwk_text = serde_json::to_string(&key().public_jwk()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(jwk_text.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let token = format!("{input}.{}", b64(mac.finalize().into_bytes()));
    assert_eq!(check(&token).unwrap_err(), Error::AlgSymmetric("HS256".into()));
}

#[test]
fn any_other_alg() {
    for alg in ["RS256", "ES256", "PS256", "ES256K", "eddsa", "EdDSA ", "Ed448", ""] {
        let token = with_header(|h| {
            h.insert("alg".into(), json!(alg));
        });
        assert_eq!(check(&token).unwrap_err(), Error::AlgUnsupported(alg.into()), "{alg:?}");
    }
    let token = with_header(|h| {
        h.insert("alg".into(), json!(["EdDSA"]));
    });
    assert_eq!(check(&token).unwrap_err(), Error::AlgUnsupported(r#"["EdDSA"]"#.into()));
    let token = with_header(|h| {
        h.remove("alg");
    });
    assert_eq!(check(&token).unwrap_err(), Error::AlgMissing);
    // RFC 9864's fully specified name is accepted like EdDSA.
    let token = with_header(|h| {
        h.insert("alg".into(), json!("Ed25519"));
    });
    assert_eq!(check(&token).unwrap().into_claims(), claims());
}

#[test]
fn crit() {
    for crit in [json!(["exp"]), json!([]), json!("zp")] {
        let token = with_header(|h| {
            h.insert("crit".into(), crit.clone());
        });
        assert_eq!(check(&token).unwrap_err(), Error::Crit, "{crit}");
    }
}

#[test]
fn keys_carried_in_the_header() {
    // The attacker signs with a key of their own and offers it in the header in every form.
    let attacker = other_key();
    let attacker_jwk = serde_json::to_value(attacker.public_jwk()).unwrap();
    let offers = [
        ("jwk", attacker_jwk),
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
        ("x5t", json!("abc")),
        ("x5t#S256", json!("abc")),
    ];
    for (name, value) in offers {
        let header = json!({ "alg": "EdDSA", "typ": "zp-cert+jwt", "kid": attacker.kid(), name: value });
        let token = attacker.sign_raw(header.to_string().as_bytes(), claims_json().to_string().as_bytes());
        assert_eq!(check(&token).unwrap_err(), Error::EmbeddedKey(name.into()), "{name}");
        // Even naming our own kid does not help.
        let token = with_header(|h| {
            h.insert(name.into(), value.clone());
        });
        assert_eq!(check(&token).unwrap_err(), Error::EmbeddedKey(name.into()), "{name} with our kid");
    }
}

#[test]
fn unknown_header_members() {
    let token = with_header(|h| {
        h.insert("b64".into(), json!(false));
    });
    assert_eq!(check(&token).unwrap_err(), Error::UnexpectedHeader("b64".into()));
}

#[test]
fn hostile_kid() {
    let hostile = [
        json!("../../../../etc/passwd"),
        json!("' OR '1'='1' --"),
        json!("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4\u{0}"),
        json!("\u{0}"),
        json!("x".repeat(2_000)),
        json!(""),
        json!(42),
        json!(null),
        json!({ "$ne": null }),
    ];
    for kid in hostile {
        let token = with_header(|h| {
            h.insert("kid".into(), kid.clone());
        });
        assert_eq!(check(&token).unwrap_err(), Error::KidInvalid, "{kid}");
    }
    // Ten kilobytes of kid: refused for size before anything is decoded.
    let token = with_header(|h| {
        h.insert("kid".into(), json!("A".repeat(10 * 1024)));
    });
    assert!(matches!(check(&token).unwrap_err(), Error::TooLarge { max: MAX_TOKEN_LEN, .. }));
    let token = with_header(|h| {
        h.remove("kid");
    });
    assert_eq!(check(&token).unwrap_err(), Error::KidMissing);
}

#[test]
fn unknown_kid() {
    let stranger = other_key();
    let header = json!({ "alg": "EdDSA", "typ": "zp-cert+jwt", "kid": stranger.kid() });
    let token = stranger.sign_raw(header.to_string().as_bytes(), claims_json().to_string().as_bytes());
    assert_eq!(check(&token).unwrap_err(), Error::UnknownKey);
    // A well-formed kid of a key we do not know, over our own signature.
    let token = with_header(|h| {
        h.insert("kid".into(), json!(stranger.kid()));
    });
    assert_eq!(check(&token).unwrap_err(), Error::UnknownKey);
    // Nothing verifies against an empty key set.
    assert_eq!(
        verify(&crate::common::token(), &KeySet::new(), NOW, &rules()).unwrap_err(),
        Error::UnknownKey
    );
}

#[test]
fn duplicate_members() {
    let kid = key().kid().to_owned();
    let header = format!(r#"{{"alg":"EdDSA","alg":"none","typ":"zp-cert+jwt","kid":"{kid}"}}"#);
    assert_eq!(
        check(&forge(&header, &claims_json().to_string())).unwrap_err(),
        Error::DuplicateMember { part: Part::Header, name: "alg".into() }
    );
    let header = format!(r#"{{"alg":"EdDSA","typ":"zp-cert+jwt","kid":"{kid}","kid":"{kid}"}}"#);
    assert_eq!(
        check(&forge(&header, &claims_json().to_string())).unwrap_err(),
        Error::DuplicateMember { part: Part::Header, name: "kid".into() }
    );
    let payload = claims_json().to_string();
    let twice = payload.replacen(r#""exp":"#, &format!(r#""exp":{},"exp":"#, EXP + 10 * 365 * 86_400), 1);
    assert_eq!(
        check(&forge(&header_text(), &twice)).unwrap_err(),
        Error::DuplicateMember { part: Part::Payload, name: "exp".into() }
    );
    let escaped = payload.replacen(r#""sub":"#, r#""\u0073ub":"FORGED","sub":"#, 1);
    assert_eq!(
        check(&forge(&header_text(), &escaped)).unwrap_err(),
        Error::DuplicateMember { part: Part::Payload, name: "sub".into() }
    );
    let nested = payload.replacen(r#""name":"Sp"#, r#""name":"Someone else","name":"Sp"#, 1);
    assert_ne!(nested, payload);
    assert_eq!(
        check(&forge(&header_text(), &nested)).unwrap_err(),
        Error::DuplicateMember { part: Part::Payload, name: "name".into() }
    );
}

fn header_text() -> String {
    header().to_string()
}

#[test]
fn oversized_token() {
    let token = with_claims(|c| {
        c["zp"]["products"] = json!(vec![json!({ "name": "x".repeat(100) }); 80]);
    });
    assert!(token.len() > MAX_TOKEN_LEN);
    assert_eq!(check(&token).unwrap_err(), Error::TooLarge { len: token.len(), max: MAX_TOKEN_LEN });
    // The size check comes first: this is not even base64url.
    let garbage = "!".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(check(&garbage).unwrap_err(), Error::TooLarge { len: garbage.len(), max: MAX_TOKEN_LEN });
    // Under the limit, a large but sound token passes.
    let token = with_claims(|c| {
        c["zp"]["products"] = json!(vec![json!({ "name": "x".repeat(100) }); 40]);
    });
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert!(check(&token).is_ok());
}

#[test]
fn structure() {
    let token = token();
    let p = parts(&token);
    for broken in [
        String::new(),
        "..".into(),
        format!("{}.{}", p[0], p[1]),
        format!("{}.{}.{}.{}", p[0], p[1], p[2], p[2]),
        format!("{}.{}.{}.{}.{}", p[0], p[1], p[0], p[1], p[2]),
    ] {
        let err = check(&broken).unwrap_err();
        assert!(matches!(err, Error::Structure | Error::Json { .. }), "{broken:?}: {err:?}");
    }
    assert_eq!(check(&format!("{}.{}", p[0], p[1])).unwrap_err(), Error::Structure);
    let not_json = forge("{alg:EdDSA}", &claims_json().to_string());
    assert!(matches!(check(&not_json).unwrap_err(), Error::Json { part: Part::Header, .. }));
    let array = forge(r#"["EdDSA"]"#, &claims_json().to_string());
    assert_eq!(check(&array).unwrap_err(), Error::NotAnObject(Part::Header));
    let payload = forge(&header_text(), "[]");
    assert_eq!(check(&payload).unwrap_err(), Error::NotAnObject(Part::Payload));
}

#[test]
fn padding_and_non_canonical_base64url() {
    let token = token();
    let p = parts(&token);
    let cases = [
        (format!("{}=.{}.{}", p[0], p[1], p[2]), Part::Header),
        (format!("{}.{}.{}==", p[0], p[1], p[2]), Part::Signature),
        (format!("{}.{}.{}", p[0], p[1].replace('-', "+"), p[2]), Part::Payload),
        (format!("{}.{} .{}", p[0], p[1], p[2]), Part::Payload),
        (format!("{}.{}.{}\n", p[0], p[1], p[2]), Part::Signature),
    ];
    for (forged, part) in cases {
        assert_ne!(forged, token, "each case changes the token");
        assert_eq!(check(&forged).unwrap_err(), Error::Base64(part), "{forged}");
    }
    // 64 bytes encode to 86 characters whose last one carries two unused bits: setting them gives
    // a second spelling of the same signature, which must not verify.
    let last = p[2].chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let position = alphabet.find(last).unwrap();
    assert_eq!(position % 4, 0, "canonical encoding leaves the low bits clear");
    let sibling = alphabet.chars().nth(position + 1).unwrap();
    let forged = format!("{}.{}.{}{}", p[0], p[1], &p[2][..p[2].len() - 1], sibling);
    assert_eq!(zp_shared::base64url::decode(&forged[forged.rfind('.').unwrap() + 1..]), None);
    assert_eq!(check(&forged).unwrap_err(), Error::Base64(Part::Signature));
}

#[test]
fn malleated_signature_s_plus_l() {
    let token = token();
    let p = parts(&token);
    let signature = zp_shared::base64url::decode(&p[2]).unwrap();
    // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut malleated = signature.clone();
    let mut carry = 0u16;
    for (byte, l) in malleated[32..].iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let forged = format!("{}.{}.{}", p[0], p[1], b64(&malleated));
    assert_eq!(check(&forged).unwrap_err(), Error::NonCanonicalSignature);
    let short = format!("{}.{}.{}", p[0], p[1], b64(&signature[..63]));
    assert_eq!(check(&short).unwrap_err(), Error::SignatureLength(63));
    let long = format!("{}.{}.{}", p[0], p[1], b64([&signature[..], &[0]].concat()));
    assert_eq!(check(&long).unwrap_err(), Error::SignatureLength(65));
}

#[test]
fn tampered_payload_or_signature() {
    let token = token();
    let p = parts(&token);
    let mut changed = claims_json();
    changed["zp"]["entity"]["name"] = json!("Hurtownia Podróbek sp. z o.o.");
    let swapped = format!("{}.{}.{}", p[0], b64(changed.to_string()), p[2]);
    assert_eq!(check(&swapped).unwrap_err(), Error::BadSignature);
    let mut signature = zp_shared::base64url::decode(&p[2]).unwrap();
    signature[0] ^= 1;
    let flipped = format!("{}.{}.{}", p[0], p[1], b64(&signature));
    assert_eq!(check(&flipped).unwrap_err(), Error::BadSignature);
    let other = other_key();
    let foreign =
        format!("{}.{}.{}", p[0], p[1], b64(other.sign_bytes(format!("{}.{}", p[0], p[1]).as_bytes())));
    assert_eq!(check(&foreign).unwrap_err(), Error::BadSignature);
}

#[test]
fn wrong_typ() {
    for typ in ["JWT", "statuslist+jwt", "zp-cert", "zp-cert+jwt+x", ""] {
        let token = with_header(|h| {
            h.insert("typ".into(), json!(typ));
        });
        assert_eq!(
            check(&token).unwrap_err(),
            Error::WrongTyp { expected: "zp-cert+jwt", found: format!("{typ:?}") },
            "{typ}"
        );
    }
    let token = with_header(|h| {
        h.remove("typ");
    });
    assert_eq!(check(&token).unwrap_err(), Error::TypMissing);
    // RFC 7515 §4.1.9: media types compare case-insensitively, with or without `application/`.
    for typ in ["ZP-CERT+JWT", "application/zp-cert+jwt"] {
        let token = with_header(|h| {
            h.insert("typ".into(), json!(typ));
        });
        assert!(check(&token).is_ok(), "{typ}");
    }
}

#[test]
fn wrong_iss() {
    for iss in
        [json!("https://zp.rops.example/"), json!("https://evil.example"), json!(ISSUER.to_uppercase())]
    {
        let token = with_claims(|c| {
            c.insert("iss".into(), iss.clone());
        });
        assert!(matches!(check(&token).unwrap_err(), Error::WrongIssuer { .. }), "{iss}");
    }
    let token = with_claims(|c| {
        c.insert("iss".into(), json!(42));
    });
    assert_eq!(
        check(&token).unwrap_err(),
        Error::WrongIssuer { expected: ISSUER.into(), found: "42".into() }
    );
    let token = with_claims(|c| {
        c.remove("iss");
    });
    assert_eq!(check(&token).unwrap_err(), Error::MissingClaim("iss"));
}

#[test]
fn missing_exp() {
    let token = with_claims(|c| {
        c.remove("exp");
    });
    assert_eq!(check(&token).unwrap_err(), Error::MissingClaim("exp"));
}

#[test]
fn exp_of_the_wrong_json_type() {
    for exp in [
        json!(EXP.to_string()),
        json!(EXP as f64 + 0.5),
        json!(true),
        json!(null),
        json!([EXP]),
        json!(1e300),
    ] {
        let token = with_claims(|c| {
            c.insert("exp".into(), exp.clone());
        });
        assert_eq!(
            check(&token).unwrap_err(),
            Error::ClaimType { claim: "exp", expected: "an integer number of seconds" },
            "{exp}"
        );
    }
}

#[test]
fn expiry_at_the_leeway_boundary() {
    let token = token();
    let at = |now| verify(&token, &keys(), now, &rules());
    assert!(at(EXP - 1).is_ok());
    assert!(at(EXP + 59).is_ok(), "one second inside the leeway");
    assert_eq!(at(EXP + 60).unwrap_err(), Error::Expired { exp: EXP, now: EXP + 60 });
    assert_eq!(at(EXP + 61).unwrap_err(), Error::Expired { exp: EXP, now: EXP + 61 });
    // Without leeway the mark expires at the second of `exp`, as the badge shows it.
    let exact = rules().with_leeway(0);
    assert!(verify(&token, &keys(), EXP - 1, &exact).is_ok());
    assert_eq!(verify(&token, &keys(), EXP, &exact).unwrap_err(), Error::Expired { exp: EXP, now: EXP });
}

#[test]
fn not_yet_valid_at_the_leeway_boundary() {
    let start = NBF + 30 * 86_400;
    let token = with_claims(|c| {
        c.insert("nbf".into(), json!(start));
    });
    let at = |now| verify(&token, &keys(), now, &rules());
    assert!(at(start).is_ok());
    assert!(at(start - 59).is_ok());
    assert!(at(start - 60).is_ok(), "exactly at the leeway");
    assert_eq!(at(start - 61).unwrap_err(), Error::NotYetValid { nbf: start, now: start - 61 });
    let token = with_claims(|c| {
        c.insert("nbf".into(), json!(format!("{start}")));
    });
    assert_eq!(
        check(&token).unwrap_err(),
        Error::ClaimType { claim: "nbf", expected: "an integer number of seconds" }
    );
}

#[test]
fn issued_in_the_future() {
    let token = token();
    assert_eq!(
        verify(&token, &keys(), IAT - 61, &rules()).unwrap_err(),
        Error::NotYetValid { nbf: NBF, now: IAT - 61 },
        "nbf is checked first"
    );
    let later = with_claims(|c| {
        c.insert("iat".into(), json!(NOW + 3_600));
    });
    assert_eq!(check(&later).unwrap_err(), Error::IssuedInFuture { iat: NOW + 3_600, now: NOW });
}

#[test]
fn claims_of_the_wrong_shape() {
    let token = with_claims(|c| {
        c["zp"]["entity"]["legal_form"] = json!("sp_z_oo");
    });
    assert!(matches!(check(&token).unwrap_err(), Error::Claims(_)));
    let token = with_claims(|c| {
        c.remove("status");
    });
    assert!(matches!(check(&token).unwrap_err(), Error::Claims(_)));
}

#[test]
fn untrusted_token_exposes_no_claims_before_verification() {
    let token = token();
    let untrusted = UntrustedToken::parse(&token).unwrap();
    assert_eq!(untrusted.kid(), key().kid());
    assert_eq!(untrusted.verify(&keys(), NOW, &rules()).unwrap().into_claims(), claims());
}

#[test]
fn jwks_refuses_unsound_keys() {
    let jwk = |x: &str| json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": x }] }).to_string();
    let good = key().public_jwk().x;
    assert_eq!(KeySet::from_jwks_json(&jwk(&good)).unwrap().len(), 1);
    // Small-order points: the identity, and the point of order 2 (y = -1).
    let identity = b64({
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        bytes
    });
    assert_eq!(KeySet::from_jwks_json(&jwk(&identity)).unwrap_err(), Error::WeakKey);
    let order_two = b64({
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xec;
        bytes[31] = 0x7f;
        bytes
    });
    assert_eq!(KeySet::from_jwks_json(&jwk(&order_two)).unwrap_err(), Error::WeakKey);
    // y = p + 1: a non-canonical spelling of the identity.
    let non_canonical = b64({
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xee;
        bytes[31] = 0x7f;
        bytes
    });
    assert_eq!(KeySet::from_jwks_json(&jwk(&non_canonical)).unwrap_err(), Error::KeyNonCanonical);
    let raw = zp_shared::base64url::decode(&good).unwrap();
    assert_eq!(KeySet::from_jwks_json(&jwk(&b64(&raw[..31]))).unwrap_err(), Error::KeyLength(31));
    assert_eq!(
        KeySet::from_jwks_json(&jwk(&b64([&raw[..], &[0]].concat()))).unwrap_err(),
        Error::KeyLength(33)
    );
    assert!(matches!(
        KeySet::from_jwks_json(&jwk(&format!("{good}="))).unwrap_err(),
        Error::KeyParam("x", _)
    ));
    let private = serde_json::to_value(key().to_private_jwk()).unwrap();
    let set = json!({ "keys": [private] }).to_string();
    assert_eq!(KeySet::from_jwks_json(&set).unwrap_err(), Error::PrivateKeyPublished);
    let set = json!({ "keys": [{ "kty": "RSA", "n": "AQAB", "e": "AQAB" }] }).to_string();
    assert_eq!(KeySet::from_jwks_json(&set).unwrap_err(), Error::KeyType("RSA".into()));
    let set = json!({ "keys": [{ "kty": "OKP", "crv": "X25519", "x": good }] }).to_string();
    assert_eq!(KeySet::from_jwks_json(&set).unwrap_err(), Error::KeyCurve("X25519".into()));
    let set = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": good, "kid": "mine" }] }).to_string();
    assert!(matches!(KeySet::from_jwks_json(&set).unwrap_err(), Error::KidMismatch { .. }));
    let set = json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": good, "use": "enc" }] }).to_string();
    assert!(matches!(KeySet::from_jwks_json(&set).unwrap_err(), Error::KeyParam("use", _)));
    let set = json!({ "keys": [key().public_jwk(), key().public_jwk()] }).to_string();
    assert_eq!(KeySet::from_jwks_json(&set).unwrap_err(), Error::DuplicateKey(key().kid().into()));
    assert_eq!(KeySet::from_jwks_json(r#"{"keys":{}}"#).unwrap_err(), Error::JwksShape);
    assert!(matches!(
        KeySet::from_jwks_json(r#"{"keys":[],"keys":[]}"#).unwrap_err(),
        Error::DuplicateMember { .. }
    ));
    // What we publish loads back to the same set.
    let published = serde_json::to_string(&keys().to_jwks()).unwrap();
    assert_eq!(KeySet::from_jwks_json(&published).unwrap(), keys());
}

// That every cause has a code of its own, every variant of `Error` included, is a unit test of
// `shared/src/error.rs`: only inside the crate can a `match` on the enum be exhaustive.

#[test]
fn authentic_but_expired_claims_are_not_valid_claims() {
    let token = token();
    let untrusted = UntrustedToken::parse(&token).unwrap();
    let authentic = untrusted.authenticate(&keys(), &rules()).unwrap();
    assert_eq!(authentic.claims, claims());
    // Authenticity says nothing about time: the same claims are refused after `exp`.
    assert_eq!(authentic.clone().at(EXP + 60, 60).unwrap_err(), Error::Expired { exp: EXP, now: EXP + 60 });
    assert_eq!(
        authentic.clone().at(NBF - 61, 60).unwrap_err(),
        Error::NotYetValid { nbf: NBF, now: NBF - 61 }
    );
    assert_eq!(authentic.at(NOW, 60).unwrap().into_claims(), claims());
    // Everything but time is still checked.
    let stranger = other_key();
    let header = json!({ "alg": "EdDSA", "typ": "zp-cert+jwt", "kid": stranger.kid() });
    let foreign = stranger.sign_raw(header.to_string().as_bytes(), claims_json().to_string().as_bytes());
    assert_eq!(
        UntrustedToken::parse(&foreign).unwrap().authenticate(&keys(), &rules()).unwrap_err(),
        Error::UnknownKey
    );
}
