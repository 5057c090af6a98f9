//! Signed status lists: what the widget fetches to learn of revocations.

use serde_json::json;
use zp_shared::status_list::{STATUS_LIST_TYP, StatusListClaim, sign_status_list};
use zp_shared::{Error, Status, StatusList, StatusListClaims, verify_status_list};

use crate::common::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn uri() -> String {
    claims().status.status_list.uri
}

fn list_claims(list: &StatusList) -> StatusListClaims {
    StatusListClaims {
        iss: ISSUER.into(),
        sub: uri(),
        iat: NOW - 10,
        exp: NOW + 86_400,
        ttl: 300,
        status_list: list.to_claim(),
    }
}

#[test]
fn signed_list_verifies_and_reads_each_state() {
    let mut list = StatusList::new(2, 1024).unwrap();
    list.set(5, Status::Revoked.value()).unwrap();
    list.set(6, Status::Suspended.value()).unwrap();
    let token = sign_status_list(&list_claims(&list), &key()).unwrap();
    let verified = verify_status_list(&token, &keys(), NOW, &rules(), &uri()).unwrap();
    assert_eq!(verified.ttl, 300);
    assert_eq!(verified.kid, key().kid());
    assert_eq!(verified.list, list);
    assert_eq!(verified.list.status(4), Ok(Status::Valid));
    assert_eq!(verified.list.status(5), Ok(Status::Revoked));
    assert_eq!(verified.list.status(6), Ok(Status::Suspended));
    assert_eq!(verified.list.status(1024), Err(Error::StatusIndex { idx: 1024, len: 1024 }));
}

#[test]
fn list_for_another_uri_is_refused() {
    let list = StatusList::new(2, 16).unwrap();
    let mut claims = list_claims(&list);
    claims.sub = format!("{ISSUER}/api/v1/status-lists/2");
    let token = sign_status_list(&claims, &key()).unwrap();
    assert_eq!(
        verify_status_list(&token, &keys(), NOW, &rules(), &uri()).unwrap_err(),
        Error::StatusListUri { expected: uri(), found: claims.sub }
    );
}

#[test]
fn expired_list_is_refused() {
    let list = StatusList::new(2, 16).unwrap();
    let claims = list_claims(&list);
    let token = sign_status_list(&claims, &key()).unwrap();
    let late = claims.exp + 60;
    assert_eq!(
        verify_status_list(&token, &keys(), late, &rules(), &uri()).unwrap_err(),
        Error::StatusListExpired { exp: claims.exp, now: late }
    );
}

#[test]
fn certificate_token_is_not_a_status_list_and_back() {
    assert_eq!(
        verify_status_list(&token(), &keys(), NOW, &rules(), &uri()).unwrap_err(),
        Error::WrongTyp { expected: STATUS_LIST_TYP, found: "\"zp-cert+jwt\"".into() }
    );
    let list = sign_status_list(&list_claims(&StatusList::new(2, 16).unwrap()), &key()).unwrap();
    assert!(matches!(zp_shared::verify(&list, &keys(), NOW, &rules()).unwrap_err(), Error::WrongTyp { .. }));
}

#[test]
fn forged_or_hostile_lists_are_refused() {
    let list = StatusList::new(2, 16).unwrap();
    let stranger = other_key();
    let token = sign_status_list(&list_claims(&list), &stranger).unwrap();
    assert_eq!(verify_status_list(&token, &keys(), NOW, &rules(), &uri()).unwrap_err(), Error::UnknownKey);
    let header = json!({ "alg": "EdDSA", "typ": "statuslist+jwt", "kid": key().kid() });
    let mut claims = serde_json::to_value(list_claims(&list)).unwrap();
    claims["status_list"] = json!({ "bits": 3, "lst": list.to_claim().lst });
    let token = forge_json(&header, &claims);
    assert_eq!(verify_status_list(&token, &keys(), NOW, &rules(), &uri()).unwrap_err(), Error::StatusBits(3));
    claims["status_list"] = json!({ "bits": 2, "lst": "not base64!" });
    let token = forge_json(&header, &claims);
    assert!(verify_status_list(&token, &keys(), NOW, &rules(), &uri()).is_err());
    let claim = StatusListClaim { bits: 2, lst: b64([0x78, 0x9c, 0xff, 0xff]) };
    assert!(matches!(StatusList::from_claim(&claim), Err(Error::StatusInflate { .. })));
}

#[test]
fn a_list_from_the_future_of_a_slow_clock_is_accepted() {
    // The device clock is an hour behind the issuer's: the list is still genuine and current.
    let list = StatusList::new(2, 16).unwrap();
    let claims = list_claims(&list);
    let token = sign_status_list(&claims, &key()).unwrap();
    let verified = verify_status_list(&token, &keys(), claims.iat - 3_600, &rules(), &uri()).unwrap();
    assert_eq!(verified.iat, claims.iat);
}
