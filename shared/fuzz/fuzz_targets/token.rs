//! Certificate tokens and status list tokens from untrusted bytes.
//!
//! The first byte picks a mode:
//!
//! * raw input, as UTF-8 when it is and always as lossy UTF-8, through every entry point;
//! * byte edits of a validly signed certificate or status list token: a changed token must
//!   never verify (no malleability);
//! * an arbitrary header or payload signed with the trusted key, to get past the signature into
//!   the header, claims and list checks; whatever verifies must satisfy the rules it was
//!   verified against and survive a sign/verify round trip.
//!
//! Nothing may panic.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use zp_shared::status_list::{STATUS_LIST_TYP, StatusListClaim};
use zp_shared::{
    CERT_TYP, Certificate, CertificateClaims, Entity, IssuerKey, KeySet, LegalForm, Product, Rules,
    StatusClaim, StatusList, StatusListClaims, StatusListRef, UntrustedToken, VerifiedClaims,
    VerifiedStatusList, verify_status_list,
};

const ISSUER: &str = "https://zp.example";
const LIST_URI: &str = "https://zp.example/api/v1/status-lists/1";
const IAT: i64 = 1_795_305_600;
const NBF: i64 = IAT;
const EXP: i64 = IAT + 365 * 86_400;
const NOW: i64 = IAT + 1_000;

struct Fixture {
    key: IssuerKey,
    keys: KeySet,
    rules: Rules,
    cert_header: Vec<u8>,
    list_header: Vec<u8>,
    cert_payload: Vec<u8>,
    list_payload: Vec<u8>,
    cert_token: String,
    list_token: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = IssuerKey::from_seed(&[7; 32]).expect("fixed seed");
    let mut keys = KeySet::new();
    keys.insert(key.public_key().clone()).expect("one key");
    // A second trusted key, so lookups by `kid` have a choice to get wrong.
    keys.insert(IssuerKey::from_seed(&[8; 32]).expect("fixed seed").public_key().clone()).expect("two keys");
    let claims = CertificateClaims {
        iss: ISSUER.into(),
        sub: "7K3QX9M2".into(),
        jti: "7K3QX9M2-1".into(),
        iat: IAT,
        nbf: NBF,
        exp: EXP,
        status: StatusClaim { status_list: StatusListRef { idx: 5, uri: LIST_URI.into() } },
        zp: Certificate {
            number: "ZP/LU/2026/0007".into(),
            entity: Entity {
                name: "Spółdzielnia Socjalna „Zielony Słoik”".into(),
                legal_form: LegalForm::SocialCooperative,
                nip: Some("7740001454".into()),
                krs: Some("0000123456".into()),
                regon: None,
                city: Some("Lublin".into()),
                voivodeship: Some("lubelskie".into()),
            },
            products: vec![
                Product { name: "Powidła śliwkowe".into(), gtin: Some("05901234123457".into()) },
                Product { name: "Usługi cateringowe".into(), gtin: None },
            ],
            domains: vec!["zielonysloik.pl".into()],
            verify_url: format!("{ISSUER}/v/7K3QX9M2"),
        },
    };
    let mut list = StatusList::new(2, 64).expect("small list");
    list.set(5, 1).expect("in range");
    list.set(6, 2).expect("in range");
    let list_claims = StatusListClaims {
        iss: ISSUER.into(),
        sub: LIST_URI.into(),
        iat: IAT,
        exp: EXP,
        ttl: 3_600,
        status_list: list.to_claim(),
    };
    let header = |typ: &str| serde_json::json!({ "alg": "EdDSA", "typ": typ, "kid": key.kid() }).to_string();
    let cert_header = header(CERT_TYP).into_bytes();
    let list_header = header(STATUS_LIST_TYP).into_bytes();
    let cert_payload = serde_json::to_vec(&claims).expect("serializable");
    let list_payload = serde_json::to_vec(&list_claims).expect("serializable");
    let cert_token = key.sign_raw(&cert_header, &cert_payload);
    let list_token = key.sign_raw(&list_header, &list_payload);
    let fixture = Fixture {
        key,
        keys,
        rules: Rules::new(ISSUER),
        cert_header,
        list_header,
        cert_payload,
        list_payload,
        cert_token,
        list_token,
    };
    // The unmutated tokens must verify, or the mutation modes test nothing.
    let verified =
        verify_cert(&fixture, &fixture.cert_token, NOW, &fixture.rules).expect("fixture certificate");
    assert_eq!(*verified.claims(), claims);
    let verified = verify_list(&fixture, &fixture.list_token, NOW, &fixture.rules).expect("fixture list");
    assert_eq!(verified.list, list);
    fixture
});

fn verify_cert(fx: &Fixture, token: &str, now: i64, rules: &Rules) -> Option<VerifiedClaims> {
    let parsed = UntrustedToken::parse(token);
    let result = match &parsed {
        Ok(untrusted) => {
            let _ = untrusted.kid();
            untrusted.verify(&fx.keys, now, rules)
        }
        Err(err) => Err(err.clone()),
    };
    // The one-call verifier must agree with parse-then-verify.
    assert_eq!(zp_shared::verify(token, &fx.keys, now, rules), result);
    match result {
        Ok(verified) => Some(verified),
        Err(err) => {
            let _ = (err.code(), err.is_time(), err.to_string());
            None
        }
    }
}

fn verify_list(fx: &Fixture, token: &str, now: i64, rules: &Rules) -> Option<VerifiedStatusList> {
    match verify_status_list(token, &fx.keys, now, rules, LIST_URI) {
        Ok(verified) => Some(verified),
        Err(err) => {
            let _ = (err.code(), err.is_time(), err.to_string());
            None
        }
    }
}

/// What verification promises about an accepted certificate.
fn check_accepted_cert(fx: &Fixture, verified: &VerifiedClaims, now: i64, rules: &Rules) {
    let claims = verified.claims();
    assert_eq!(claims.iss, rules.issuer);
    assert!(fx.keys.get(verified.kid()).is_some());
    assert!(now.saturating_sub(rules.leeway) < claims.exp);
    assert!(now.saturating_add(rules.leeway) >= claims.nbf);
    assert!(now.saturating_add(rules.leeway) >= claims.iat);
    // Re-signing what was accepted must give a token that verifies to the same claims.
    let token = zp_shared::token::sign(claims, &fx.key).expect("accepted claims serialize");
    let again = verify_cert(fx, &token, now, rules).expect("re-signed accepted claims verify");
    assert_eq!(again.claims(), claims);
}

/// What verification promises about an accepted status list.
fn check_accepted_list(fx: &Fixture, verified: &VerifiedStatusList, now: i64, rules: &Rules) {
    assert_eq!(verified.iss, rules.issuer);
    assert_eq!(verified.sub, LIST_URI);
    assert!(fx.keys.get(&verified.kid).is_some());
    assert!(now.saturating_sub(rules.leeway) < verified.exp);
    // No promise about `iat`: a list signed "in the future" of a slow clock is accepted, and the
    // badge takes its `iat` as the time.
    assert_eq!(StatusList::from_claim(&verified.list.to_claim()).as_ref(), Ok(&verified.list));
}

/// Arbitrary text through every entry point that takes untrusted text.
fn raw(fx: &Fixture, text: &str, now: i64, rules: &Rules) {
    if let Some(verified) = verify_cert(fx, text, now, rules) {
        check_accepted_cert(fx, &verified, now, rules);
    }
    if let Some(verified) = verify_list(fx, text, now, rules) {
        check_accepted_list(fx, &verified, now, rules);
    }
    let _ = KeySet::from_jwks_json(text);
}

/// Applies byte edits (overwrite, insert, delete, swap) chosen by `u` to `bytes`.
fn mutate(u: &mut Unstructured<'_>, bytes: &mut Vec<u8>) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \0";
    let edits = u.int_in_range(1..=8u8).unwrap_or(1);
    for _ in 0..edits {
        if u.is_empty() {
            break;
        }
        let op = u.int_in_range(0..=5u8).unwrap_or(0);
        let len = bytes.len();
        let pos = u.choose_index(len + 1).unwrap_or(0);
        let byte = u.arbitrary::<u8>().unwrap_or(0);
        let alpha = ALPHABET[usize::from(byte) % ALPHABET.len()];
        match op {
            0 if pos < len => bytes[pos] = alpha,
            1 if pos < len => bytes[pos] = byte,
            2 => bytes.insert(pos, alpha),
            3 if pos < len => {
                bytes.remove(pos);
            }
            4 if pos < len => {
                let other = u.choose_index(len).unwrap_or(0);
                bytes.swap(pos, other);
            }
            5 if pos < len => bytes[pos] ^= 1 << (byte % 8),
            _ => {}
        }
    }
}

/// Clock and leeway: mostly the sane ones, sometimes extremes.
fn clock(selector: u8) -> (i64, Rules) {
    let now = match selector % 8 {
        0 => IAT - 60,
        1 => EXP + 59,
        2 => EXP + 60,
        3 => i64::MIN,
        4 => i64::MAX,
        _ => NOW,
    };
    let leeway = match (selector / 8) % 8 {
        0 => 0,
        1 => -1,
        2 => i64::MAX,
        3 => i64::MIN,
        _ => zp_shared::DEFAULT_LEEWAY,
    };
    (now, Rules::new(ISSUER).with_leeway(leeway))
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let fx = &*FIXTURE;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (now, rules) = match rest.first() {
        Some(&selector) if mode & 0x80 != 0 => clock(selector),
        _ => (NOW, fx.rules.clone()),
    };
    let mut u = Unstructured::new(rest);
    match mode % 8 {
        // Raw bytes, strictly as UTF-8 and lossily.
        0 | 1 => {
            match std::str::from_utf8(rest) {
                Ok(text) => raw(fx, text, now, &rules),
                // Lossy decoding keeps whatever structure the invalid bytes surround.
                Err(_) => raw(fx, &text_of(rest), now, &rules),
            }
        }
        // Edits of a signed certificate token: a different token never verifies.
        2 => {
            let mut bytes = fx.cert_token.clone().into_bytes();
            mutate(&mut u, &mut bytes);
            let token = text_of(&bytes);
            if let Some(verified) = verify_cert(fx, &token, NOW, &fx.rules) {
                assert_eq!(token, fx.cert_token, "an altered certificate token verified");
                check_accepted_cert(fx, &verified, NOW, &fx.rules);
            }
            let _ = verify_list(fx, &token, NOW, &fx.rules);
        }
        // Edits of a signed status list token: same.
        3 => {
            let mut bytes = fx.list_token.clone().into_bytes();
            mutate(&mut u, &mut bytes);
            let token = text_of(&bytes);
            if let Some(verified) = verify_list(fx, &token, NOW, &fx.rules) {
                assert_eq!(token, fx.list_token, "an altered status list token verified");
                check_accepted_list(fx, &verified, NOW, &fx.rules);
            }
            let _ = verify_cert(fx, &token, NOW, &fx.rules);
        }
        // An arbitrary (or edited) header, validly signed, over valid payloads.
        4 => {
            let header = if rest.first().is_some_and(|b| b & 1 == 0) {
                rest.get(1..).unwrap_or_default().to_vec()
            } else {
                let mut header = fx.cert_header.clone();
                let _ = u.arbitrary::<u8>();
                mutate(&mut u, &mut header);
                header
            };
            let token = fx.key.sign_raw(&header, &fx.cert_payload);
            if let Some(verified) = verify_cert(fx, &token, now, &rules) {
                check_accepted_cert(fx, &verified, now, &rules);
            }
            let token = fx.key.sign_raw(&header, &fx.list_payload);
            if let Some(verified) = verify_list(fx, &token, now, &rules) {
                check_accepted_list(fx, &verified, now, &rules);
            }
        }
        // An arbitrary certificate payload, validly signed.
        5 => {
            let token = fx.key.sign_raw(&fx.cert_header, rest);
            if let Some(verified) = verify_cert(fx, &token, now, &rules) {
                check_accepted_cert(fx, &verified, now, &rules);
            }
        }
        // Edits of the valid certificate payload, validly signed.
        6 => {
            let mut payload = fx.cert_payload.clone();
            let _ = u.arbitrary::<u8>();
            mutate(&mut u, &mut payload);
            let token = fx.key.sign_raw(&fx.cert_header, &payload);
            if let Some(verified) = verify_cert(fx, &token, now, &rules) {
                check_accepted_cert(fx, &verified, now, &rules);
            }
        }
        // Status list payloads, validly signed: arbitrary bytes, edits of the valid one, or
        // valid claims around an arbitrary list.
        _ => {
            let payload = match u.int_in_range(0..=3u8).unwrap_or(0) {
                0 => u.take_rest().to_vec(),
                1 => {
                    let mut payload = fx.list_payload.clone();
                    mutate(&mut u, &mut payload);
                    payload
                }
                choice => {
                    let bits = match u.int_in_range(0..=4u8).unwrap_or(0) {
                        0 => 1,
                        1 => 2,
                        2 => 4,
                        3 => 8,
                        _ => u.arbitrary::<u64>().unwrap_or(0),
                    };
                    let bytes = u.take_rest();
                    let lst = if choice == 2 {
                        zp_shared::base64url::encode(miniz_oxide::deflate::compress_to_vec_zlib(bytes, 6))
                    } else {
                        text_of(bytes)
                    };
                    let claims = StatusListClaims {
                        iss: ISSUER.into(),
                        sub: LIST_URI.into(),
                        iat: IAT,
                        exp: EXP,
                        ttl: 3_600,
                        status_list: StatusListClaim { bits, lst },
                    };
                    let expected = StatusList::from_claim(&claims.status_list);
                    let token =
                        zp_shared::status_list::sign_status_list(&claims, &fx.key).expect("serializable");
                    let verified = verify_list(fx, &token, NOW, &fx.rules);
                    // Signature, issuer, subject and times are all good: the list decides.
                    assert_eq!(verified.as_ref().map(|v| &v.list), expected.as_ref().ok());
                    serde_json::to_vec(&claims).expect("serializable")
                }
            };
            let token = fx.key.sign_raw(&fx.list_header, &payload);
            if let Some(verified) = verify_list(fx, &token, now, &rules) {
                check_accepted_list(fx, &verified, now, &rules);
            }
        }
    }
});
