//! Keys, claims and raw signing helpers for the conformance tests.

use zp_shared::{
    Certificate, CertificateClaims, Entity, IssuerKey, KeySet, LegalForm, Product, Rules, StatusClaim,
    StatusListRef,
};

pub const ISSUER: &str = "https://zp.rops.example";
/// 2026-11-22T00:00:00Z.
pub const IAT: i64 = 1_795_305_600;
pub const NBF: i64 = IAT;
pub const EXP: i64 = IAT + 365 * 86_400;
pub const NOW: i64 = IAT + 1_000;

pub fn key() -> IssuerKey {
    IssuerKey::from_seed(&[1; 32]).unwrap()
}

pub fn other_key() -> IssuerKey {
    IssuerKey::from_seed(&[2; 32]).unwrap()
}

pub fn keys() -> KeySet {
    let mut set = KeySet::new();
    set.insert(key().public_key().clone()).unwrap();
    set
}

pub fn rules() -> Rules {
    Rules::new(ISSUER)
}

pub fn claims() -> CertificateClaims {
    CertificateClaims {
        iss: ISSUER.into(),
        sub: "7K3QX9M2".into(),
        jti: "7K3QX9M2-1".into(),
        iat: IAT,
        nbf: NBF,
        exp: EXP,
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

/// The header we sign with, as a JSON value to be altered by the attacks.
pub fn header() -> serde_json::Value {
    serde_json::json!({ "alg": "EdDSA", "typ": "zp-cert+jwt", "kid": key().kid() })
}

pub fn claims_json() -> serde_json::Value {
    serde_json::to_value(claims()).unwrap()
}

/// Signs raw header and payload text with the trusted key.
pub fn forge(header: &str, payload: &str) -> String {
    key().sign_raw(header.as_bytes(), payload.as_bytes())
}

pub fn forge_json(header: &serde_json::Value, payload: &serde_json::Value) -> String {
    forge(&header.to_string(), &payload.to_string())
}

pub fn token() -> String {
    zp_shared::token::sign(&claims(), &key()).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    zp_shared::base64url::encode(bytes)
}

pub fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}
