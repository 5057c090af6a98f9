//! Properties over generated claims: signing and verification are inverse, and no single bit of
//! a token can change without the token being refused.

use proptest::prelude::*;
use zp_shared::{
    Certificate, CertificateClaims, Entity, IssuerKey, KeySet, LegalForm, Product, Rules, StatusClaim,
    StatusListRef, verify,
};

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including HTML, quotes, right-to-left marks and control characters.
    prop_oneof![any::<String>(), "[\\PC]{0,40}", Just("<img src=x onerror=alert(1)>\"'\u{202e}".to_owned())]
}

prop_compose! {
    fn arb_claims()(
        iss in "https://[a-z]{1,12}\\.pl",
        sub in "[0-9A-HJKMNP-TV-Z]{8}",
        jti in "[0-9A-Za-z_-]{1,24}",
        iat in 0i64..4_000_000_000,
        nbf_offset in 0i64..86_400,
        len in 1i64..=366 * 86_400,
        idx in any::<u64>(),
        name in text(),
        legal_form in prop::sample::select(LegalForm::ALL.to_vec()),
        nip in proptest::option::of("[0-9]{10}"),
        city in proptest::option::of(text()),
        products in prop::collection::vec((text(), proptest::option::of("[0-9]{14}")), 1..5),
        domains in prop::collection::vec("[a-z0-9-]{1,20}\\.pl", 0..4),
    ) -> CertificateClaims {
        CertificateClaims {
            iss: iss.clone(),
            sub: sub.clone(),
            jti,
            iat,
            nbf: iat + nbf_offset,
            exp: iat + nbf_offset + len,
            status: StatusClaim { status_list: StatusListRef { idx, uri: format!("{iss}/api/v1/status-lists/1") } },
            zp: Certificate {
                number: format!("ZP/LU/2026/{idx}"),
                entity: Entity { name, legal_form, nip, krs: None, regon: None, city, voivodeship: None },
                products: products.into_iter().map(|(name, gtin)| Product { name, gtin }).collect(),
                domains,
                verify_url: format!("{iss}/v/{sub}"),
            },
        }
    }
}

fn setup(seed: [u8; 32]) -> (IssuerKey, KeySet) {
    let key = IssuerKey::from_seed(&seed).unwrap();
    let mut keys = KeySet::new();
    keys.insert(key.public_key().clone()).unwrap();
    (key, keys)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sign_then_verify_returns_the_same_claims(claims in arb_claims(), seed in any::<[u8; 32]>()) {
        let (key, keys) = setup(seed);
        let token = zp_shared::token::sign(&claims, &key).unwrap();
        prop_assume!(token.len() <= zp_shared::jws::MAX_TOKEN_LEN);
        let rules = Rules::new(claims.iss.clone());
        let verified = verify(&token, &keys, claims.nbf, &rules).unwrap();
        prop_assert_eq!(verified.claims(), &claims);
        prop_assert_eq!(verified.kid(), key.kid());
    }

    #[test]
    fn any_flipped_bit_is_refused(claims in arb_claims(), seed in any::<[u8; 32]>(), position in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (key, keys) = setup(seed);
        let token = zp_shared::token::sign(&claims, &key).unwrap();
        prop_assume!(token.len() <= zp_shared::jws::MAX_TOKEN_LEN);
        let mut bytes = token.into_bytes();
        let at = position.index(bytes.len());
        bytes[at] ^= 1 << bit;
        // A flip that leaves ASCII cannot even be handed to the verifier as text.
        if let Ok(forged) = String::from_utf8(bytes) {
            let rules = Rules::new(claims.iss.clone());
            prop_assert!(verify(&forged, &keys, claims.nbf, &rules).is_err(), "byte {} bit {} accepted", at, bit);
        }
    }
}
