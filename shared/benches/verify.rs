//! Token verification on one core: the full verification path against the bare Ed25519 check of
//! the same token's signature. `cargo xtask bench` runs this and reports the ratio.
//!
//! Group `verify`: `full` is `zp_shared::verify` (form, header, signature, claims, times, issuer);
//! `raw` is `VerifyingKey::verify_strict` over the token's signing input and decoded signature.

#![allow(clippy::expect_used, reason = "a benchmark with fixed inputs: a failure is a broken setup")]

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;

    use criterion::Criterion;
    use ed25519_dalek::{Signature, VerifyingKey};
    use zp_shared::{
        Certificate, CertificateClaims, Entity, IssuerKey, KeySet, LegalForm, Product, Rules, StatusClaim,
        StatusListRef,
    };

    const ISSUER: &str = "https://zp.rops.example";
    const IAT: i64 = 1_795_305_600;
    const NOW: i64 = IAT + 1_000;

    /// A certificate the size of a typical one: two products, one domain, full identifiers.
    fn claims() -> CertificateClaims {
        CertificateClaims {
            iss: ISSUER.into(),
            sub: "7K3QX9M2".into(),
            jti: "7K3QX9M2-1".into(),
            iat: IAT,
            nbf: IAT,
            exp: IAT + 365 * 86_400,
            status: StatusClaim {
                status_list: StatusListRef { idx: 5, uri: format!("{ISSUER}/api/v1/status-lists/1") },
            },
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
        }
    }

    pub fn main() {
        let key = IssuerKey::from_seed(&[1; 32]).expect("seed");
        let token = zp_shared::token::sign(&claims(), &key).expect("sign");
        let mut keys = KeySet::new();
        keys.insert(key.public_key().clone()).expect("key");
        let rules = Rules::new(ISSUER);
        zp_shared::verify(&token, &keys, NOW, &rules).expect("the token verifies");

        let (signing_input, signature) = token.rsplit_once('.').expect("three parts");
        let signature = zp_shared::base64url::decode(signature).expect("base64url signature");
        let signature = Signature::from_slice(&signature).expect("64-byte signature");
        let verifying = VerifyingKey::from_bytes(key.public_key().as_bytes()).expect("public key");
        verifying.verify_strict(signing_input.as_bytes(), &signature).expect("raw signature verifies");

        let mut criterion = Criterion::default().configure_from_args();
        let mut group = criterion.benchmark_group("verify");
        group.bench_function("full", |b| {
            b.iter(|| zp_shared::verify(black_box(&token), black_box(&keys), NOW, black_box(&rules)))
        });
        group.bench_function("raw", |b| {
            b.iter(|| {
                black_box(&verifying)
                    .verify_strict(black_box(signing_input.as_bytes()), black_box(&signature))
            })
        });
        group.finish();
        criterion.final_summary();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
