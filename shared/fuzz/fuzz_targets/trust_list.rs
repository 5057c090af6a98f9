//! Trust list tokens and issuer URLs from untrusted bytes.
//!
//! The first byte picks a mode:
//!
//! * raw input as a token, and as an issuer URL;
//! * an arbitrary payload signed with the trusted key, to get past the signature into the claims
//!   and content checks: whatever verifies must keep every content rule (at most 100 members,
//!   each URL allowed, no issuer twice) and survive a sign/verify round trip;
//! * byte edits of a validly signed list: a changed token must never verify.
//!
//! Nothing may panic.

#![no_main]

use std::collections::BTreeSet;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use zp_shared::trust_list::{MAX_TRUSTED_ISSUERS, MAX_URL_LEN, TRUST_LIST_PATH};
use zp_shared::{
    IssuerKey, KeySet, Rules, TRUST_LIST_TYP, TrustListClaims, TrustedIssuer, check_issuer_url,
    is_allowed_issuer_url, sign_trust_list, verify_trust_list,
};

const ISSUER: &str = "https://zp.example";
const NOW: i64 = 1_795_305_600;

struct Fixture {
    key: IssuerKey,
    keys: KeySet,
    rules: Rules,
    uri: String,
    header: Vec<u8>,
    token: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = IssuerKey::from_seed(&[7; 32]).expect("fixed seed");
    let mut keys = KeySet::new();
    keys.insert(key.public_key().clone()).expect("one key");
    let uri = format!("{ISSUER}{TRUST_LIST_PATH}");
    let claims = TrustListClaims {
        iss: ISSUER.into(),
        sub: uri.clone(),
        iat: NOW - 10,
        exp: NOW + 360,
        ttl: 300,
        issuers: vec![TrustedIssuer {
            iss: "https://zp.rops.opole.pl".into(),
            name: "ROPS w Opolu".into(),
            voivodeship: Some("opolskie".into()),
            jwks_uri: "https://zp.rops.opole.pl/.well-known/jwks.json".into(),
        }],
    };
    let token = sign_trust_list(&claims, &key).expect("sign the fixture");
    let header = serde_json::json!({ "alg": "EdDSA", "typ": TRUST_LIST_TYP, "kid": key.kid() })
        .to_string()
        .into_bytes();
    Fixture { key, keys, rules: Rules::new(ISSUER), uri, header, token }
});

fn check_url(url: &str) {
    let allowed = check_issuer_url(url).is_ok();
    assert_eq!(allowed, is_allowed_issuer_url(url));
    if allowed {
        assert!(url.len() <= MAX_URL_LEN);
        assert!(url.starts_with("https://") || url.starts_with("http://"), "{url}");
        assert!(!url.ends_with('/') && !url.contains(['?', '#', '\\', ' ']), "{url}");
        let rest = url.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
        let authority = rest.split('/').next().unwrap_or_default();
        assert!(!authority.contains('@') && !authority.is_empty(), "{url}");
    }
}

fn check_verified(token: &str) {
    let f = &*FIXTURE;
    let Ok(list) = verify_trust_list(token, &f.keys, NOW, &f.rules, &f.uri) else { return };
    let claims = &list.claims;
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.sub, f.uri);
    assert!(claims.ttl >= 1);
    assert!(claims.issuers.len() <= MAX_TRUSTED_ISSUERS);
    let mut seen = BTreeSet::new();
    for member in &claims.issuers {
        assert!(is_allowed_issuer_url(&member.iss), "{}", member.iss);
        assert!(seen.insert(member.iss.clone()), "{} twice", member.iss);
    }
    let again = sign_trust_list(claims, &f.key).expect("a verified list signs again");
    assert_eq!(
        verify_trust_list(&again, &f.keys, NOW, &f.rules, &f.uri).map(|l| l.claims).as_ref(),
        Ok(claims)
    );
}

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    let Some((mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            check_url(&text);
            check_verified(&text);
        }
        1 => check_verified(&f.key.sign_raw(&f.header, rest)),
        _ => {
            let mut bytes = f.token.clone().into_bytes();
            for pair in rest.chunks(2) {
                if let [at, value] = pair {
                    let at = usize::from(*at) * bytes.len() / 256;
                    bytes[at] = *value;
                }
            }
            let edited = String::from_utf8_lossy(&bytes);
            if edited != f.token {
                assert!(
                    verify_trust_list(&edited, &f.keys, NOW, &f.rules, &f.uri).is_err(),
                    "edited list verified"
                );
            }
        }
    }
});
