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

/// ℓ, the order of the base point, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// ed25519-dalek's `verify_strict` behind the key checks of the JWKS loader: what
/// [`zp_shared::jws::verify_ed25519`] must answer.
fn reference_verdict(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else { return false };
    zp_shared::PublicKey::from_bytes(public).is_ok()
        && key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature)).is_ok()
}

/// A signature, key and message after one of the changes an attacker can make.
fn tampered(
    seed: [u8; 32],
    message: &[u8],
    change: u8,
    at: usize,
    noise: [u8; 64],
) -> ([u8; 32], Vec<u8>, [u8; 64]) {
    let key = IssuerKey::from_seed(&seed).unwrap();
    let mut public = *key.public_key().as_bytes();
    let mut message = message.to_vec();
    let mut signature = key.sign_bytes(&message);
    let torsion = |i: usize| curve25519_dalek::constants::EIGHT_TORSION[i % 8].compress().to_bytes();
    match change {
        // Genuine.
        0 => {}
        // One bit of the signature.
        1 => signature[at % 64] ^= 1 << (at / 64 % 8),
        // S + ℓ: the same scalar, not reduced.
        2 => {
            let mut carry = 0u16;
            for (s, l) in signature[32..].iter_mut().zip(ELL) {
                let sum = u16::from(*s) + u16::from(l) + carry;
                *s = sum as u8;
                carry = sum >> 8;
            }
        }
        // R of small order, with the signature's S or any other.
        3 => signature[..32].copy_from_slice(&torsion(at)),
        4 => {
            signature[..32].copy_from_slice(&torsion(at));
            signature[32..].copy_from_slice(&noise[32..]);
        }
        // A key of small order, or any 32 bytes.
        5 => public = torsion(at),
        6 => public.copy_from_slice(&noise[..32]),
        // Any signature, or any R.
        7 => signature = noise,
        8 => signature[..32].copy_from_slice(&noise[..32]),
        // Another message.
        _ => message.push(at as u8),
    }
    (public, message, signature)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The signature check gives ed25519-dalek's strict verdicts, and calls an unreduced S by
    /// its name.
    #[test]
    fn signature_check_agrees_with_verify_strict(
        seed in any::<[u8; 32]>(),
        message in prop::collection::vec(any::<u8>(), 0..80),
        change in 0u8..10,
        at in 0usize..4_096,
        noise in any::<[u8; 64]>(),
    ) {
        let (public, message, signature) = tampered(seed, &message, change, at, noise);
        let verdict = zp_shared::jws::verify_ed25519(&public, &message, &signature);
        prop_assert_eq!(verdict.is_ok(), reference_verdict(&public, &message, &signature), "change {}", change);
        let reduced = bool::from(curve25519_dalek::Scalar::from_canonical_bytes(signature[32..].try_into().unwrap()).is_some());
        if zp_shared::PublicKey::from_bytes(&public).is_ok() {
            prop_assert_eq!(verdict == Err(zp_shared::Error::NonCanonicalSignature), !reduced);
        }
        if change == 0 {
            prop_assert_eq!(verdict, Ok(()));
        }
    }
}
