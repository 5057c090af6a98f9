//! The badge's logic with fixed clocks: every verdict, expiry to the second, a clock set back,
//! domain binding. Runs natively and, under wasm-bindgen-test, in headless Chromium.

#![cfg(test)]

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use zp_shared::trust_list::TrustedIssuer;
use zp_shared::{
    Certificate, CertificateClaims, Entity, Error, IssuerKey, KeySet, LegalForm, Part, Product, Rules,
    Status, StatusClaim, StatusList, StatusListRef,
};
use zp_widget::state::{
    Clock, StatusSnapshot, StatusView, Trust, TrustSnapshot, Verdict, ask_for_current_in_ms, effective_now,
    evaluate, next_change_ms, normalize_host, takes_over,
};
use zp_widget::text::{Lang, accessible_name, wording};

const ISSUER: &str = "https://zp.rops.example";
const NBF: i64 = 1_790_000_000;
const EXP: i64 = NBF + 365 * 86_400;
const NOW: i64 = NBF + 10 * 86_400;
const HOST: &str = "sklep.example.pl";

fn key() -> IssuerKey {
    IssuerKey::from_seed(&[9; 32]).unwrap()
}

fn keys() -> KeySet {
    let mut keys = KeySet::new();
    keys.insert(key().public_key().clone()).unwrap();
    keys
}

fn rules() -> Rules {
    Rules::new(ISSUER).with_leeway(0)
}

fn claims() -> CertificateClaims {
    CertificateClaims {
        iss: ISSUER.into(),
        sub: "7K3QX9M2".into(),
        jti: "7K3QX9M2-1".into(),
        iat: NBF,
        nbf: NBF,
        exp: EXP,
        status: StatusClaim {
            status_list: StatusListRef { idx: 3, uri: format!("{ISSUER}/api/v1/status-lists/0") },
        },
        zp: Certificate {
            number: "ZP/LU/2026/0001".into(),
            entity: Entity {
                name: "<img src=x onerror=alert(1)> Spółdzielnia".into(),
                legal_form: LegalForm::SocialCooperative,
                nip: None,
                krs: None,
                regon: None,
                city: None,
                voivodeship: None,
            },
            products: vec![Product { name: "Powidła".into(), gtin: None }],
            domains: vec!["sklep.example.pl".into(), "xn--zko-zna.pl".into()],
            verify_url: format!("{ISSUER}/v/7K3QX9M2"),
        },
    }
}

fn token() -> String {
    zp_shared::token::sign(&claims(), &key()).unwrap()
}

fn snapshot(status: Status, iat: i64, fetched_at: i64) -> StatusSnapshot {
    let mut list = StatusList::new(2, 16).unwrap();
    list.set(3, status.value()).unwrap();
    StatusSnapshot { list, iat, fetched_ms: fetched_at * 1_000, ttl: 300 }
}

fn verdict_at(status: &StatusView<'_>, host: &str, now: i64) -> Verdict {
    evaluate(&token(), Some(&keys()), &rules(), status, host, &Clock::at(now))
}

#[test]
fn verified_only_after_a_fresh_status_check() {
    let fresh = snapshot(Status::Valid, NOW - 10, NOW - 10);
    assert!(matches!(verdict_at(&StatusView::Known(&fresh), HOST, NOW), Verdict::Verified(_)));
    assert_eq!(verdict_at(&StatusView::Loading, HOST, NOW), Verdict::Checking);
    assert!(matches!(verdict_at(&StatusView::Unavailable, HOST, NOW), Verdict::CannotConfirm(Some(_))));
    // The list was fetched 301 s ago and could not be refreshed since: not green any more.
    let stale = snapshot(Status::Valid, NOW - 301, NOW - 301);
    assert!(matches!(verdict_at(&StatusView::Known(&stale), HOST, NOW), Verdict::CannotConfirm(_)));
    let edge = snapshot(Status::Valid, NOW - 300, NOW - 300);
    assert!(matches!(verdict_at(&StatusView::Known(&edge), HOST, NOW), Verdict::Verified(_)));
    // Keys still loading.
    assert_eq!(
        evaluate(&token(), None, &rules(), &StatusView::Loading, HOST, &Clock::at(NOW)),
        Verdict::Checking
    );
}

#[test]
fn revoked_and_suspended_from_the_status_list() {
    let revoked = snapshot(Status::Revoked, NOW, NOW);
    assert!(matches!(verdict_at(&StatusView::Known(&revoked), HOST, NOW), Verdict::Revoked(_)));
    let suspended = snapshot(Status::Suspended, NOW, NOW);
    assert!(matches!(verdict_at(&StatusView::Known(&suspended), HOST, NOW), Verdict::Suspended(_)));
    // A stale list that says revoked still says revoked.
    let old = snapshot(Status::Revoked, NOW - 9_000, NOW - 9_000);
    assert!(matches!(verdict_at(&StatusView::Known(&old), HOST, NOW), Verdict::Revoked(_)));
    // Revoked outranks expired and wrong site.
    assert!(matches!(verdict_at(&StatusView::Known(&revoked), "other.pl", EXP + 5), Verdict::Revoked(_)));
}

#[test]
fn expires_at_the_second_of_exp() {
    let at = |now: i64| {
        let list = snapshot(Status::Valid, now, now);
        verdict_at(&StatusView::Known(&list), HOST, now)
    };
    assert!(matches!(at(EXP - 1), Verdict::Verified(_)));
    assert!(matches!(at(EXP), Verdict::Expired(_)));
    let expired = at(EXP + 100);
    assert_eq!(
        expired.claims().unwrap().zp.entity.name,
        claims().zp.entity.name,
        "an expired badge still says whose"
    );
    assert!(matches!(at(NBF - 1), Verdict::NotYetValid(_)));
    assert!(matches!(at(NBF), Verdict::Verified(_)));
    // The badge wakes up exactly at `exp` when nothing else comes first.
    let list = snapshot(Status::Valid, EXP - 5, EXP - 5);
    let status = StatusView::Known(&list);
    let verdict = verdict_at(&status, HOST, EXP - 5);
    assert_eq!(next_change_ms(&verdict, &status, &Clock::at(EXP - 5)), Some(5_001));
}

#[test]
fn a_clock_set_back_does_not_revive_an_expired_mark() {
    // The device says it is before expiry, but the issuer signed a status list after it.
    let list = snapshot(Status::Valid, EXP + 3_600, NOW);
    let status = StatusView::Known(&list);
    assert_eq!(effective_now(&Clock::at(NOW), &status), EXP + 3_600);
    assert!(matches!(verdict_at(&status, HOST, NOW), Verdict::Expired(_)));
}

#[test]
fn a_clock_set_back_after_the_fetch_neither_revives_nor_freezes_the_badge() {
    // Fetched at NOW, ten seconds before `exp`... (a token ending soon after the fetch)
    let list = snapshot(Status::Valid, EXP - 10, EXP - 10);
    let status = StatusView::Known(&list);
    // ...then the device's wall clock is set back a day while 15 s pass on the monotonic clock.
    let later =
        Clock { device_ms: ((EXP - 10 - 86_400) * 1_000) as f64, monotonic_ms: ((EXP + 5) * 1_000) as f64 };
    assert_eq!(effective_now(&later, &status), EXP + 5);
    assert!(matches!(
        evaluate(&token(), Some(&keys()), &rules(), &status, HOST, &later),
        Verdict::Expired(_)
    ));
    // And a list fetched 301 s ago by the monotonic clock is stale whatever the wall clock says.
    let list = snapshot(Status::Valid, NOW, NOW);
    let status = StatusView::Known(&list);
    let set_back =
        Clock { device_ms: ((NOW - 86_400) * 1_000) as f64, monotonic_ms: ((NOW + 301) * 1_000) as f64 };
    assert!(matches!(
        evaluate(&token(), Some(&keys()), &rules(), &status, HOST, &set_back),
        Verdict::CannotConfirm(Some(_))
    ));
    assert_eq!(
        next_change_ms(&Verdict::CannotConfirm(None), &StatusView::Unavailable, &set_back),
        Some(30_000)
    );
}

#[test]
fn domain_binding() {
    let list = snapshot(Status::Valid, NOW, NOW);
    let status = StatusView::Known(&list);
    for host in [
        "sklep.example.pl",
        "SKLEP.example.PL",
        "www.sklep.example.pl",
        "sklep.example.pl.",
        "xn--zko-zna.pl",
    ] {
        assert!(matches!(verdict_at(&status, host, NOW), Verdict::Verified(_)), "{host}");
    }
    for host in ["example.pl", "sklep.example.pl.evil.com", "evil-sklep.example.pl", ""] {
        assert!(matches!(verdict_at(&status, host, NOW), Verdict::WrongSite(_)), "{host}");
    }
    assert_eq!(normalize_host("WWW.Example.PL."), "example.pl");
}

#[test]
fn forged_tampered_and_foreign_tokens_are_invalid() {
    let list = snapshot(Status::Valid, NOW, NOW);
    let status = StatusView::Known(&list);
    // Well-formed and signed by the issuer's key, but the signature is another token's: every
    // part decodes, so only the signature check can refuse it.
    let genuine = token();
    let mut other = claims();
    other.zp.entity.name = "Inna Spółdzielnia".into();
    let other = zp_shared::token::sign(&other, &key()).unwrap();
    let (signed, _) = genuine.rsplit_once('.').unwrap();
    let (_, other_signature) = other.rsplit_once('.').unwrap();
    let tampered = format!("{signed}.{other_signature}");
    // Claims changed under the genuine signature.
    let (_, genuine_signature) = genuine.rsplit_once('.').unwrap();
    let (other_signed, _) = other.rsplit_once('.').unwrap();
    let changed_claims = format!("{other_signed}.{genuine_signature}");
    let mut malformed = token();
    malformed.insert(30, 'x');
    let stranger = IssuerKey::from_seed(&[10; 32]).unwrap();
    let foreign = zp_shared::token::sign(&claims(), &stranger).unwrap();
    let mut other_issuer = claims();
    other_issuer.iss = "https://evil.example".into();
    let wrong_iss = zp_shared::token::sign(&other_issuer, &key()).unwrap();
    let wrong_issuer = Error::WrongIssuer { expected: ISSUER.into(), found: "https://evil.example".into() };
    for (name, bad, error) in [
        ("another token's signature", tampered, Error::BadSignature),
        ("changed claims", changed_claims, Error::BadSignature),
        ("malformed", malformed, Error::Base64(Part::Header)),
        ("foreign key", foreign, Error::UnknownKey),
        ("wrong issuer", wrong_iss, wrong_issuer),
        ("garbage", "x.y.z".into(), Error::Base64(Part::Header)),
        ("empty", String::new(), Error::Structure),
    ] {
        let verdict = evaluate(&bad, Some(&keys()), &rules(), &status, HOST, &Clock::at(NOW));
        assert_eq!(verdict, Verdict::Invalid(error), "{name}");
    }
    // A malformed token is refused even before the keys arrive.
    assert!(matches!(
        evaluate("x", None, &rules(), &StatusView::Loading, HOST, &Clock::at(NOW)),
        Verdict::Invalid(_)
    ));
}

#[test]
fn wording_in_both_languages_never_colour_alone() {
    let list = snapshot(Status::Valid, NOW, NOW);
    let verdicts = [
        Verdict::Checking,
        verdict_at(&StatusView::Known(&list), HOST, NOW),
        verdict_at(&StatusView::Known(&snapshot(Status::Valid, EXP, EXP)), HOST, EXP),
        verdict_at(&StatusView::Known(&snapshot(Status::Valid, NBF - 10, NBF - 10)), HOST, NBF - 10),
        verdict_at(&StatusView::Known(&snapshot(Status::Revoked, NOW, NOW)), HOST, NOW),
        verdict_at(&StatusView::Known(&snapshot(Status::Suspended, NOW, NOW)), HOST, NOW),
        verdict_at(&StatusView::Known(&list), "other.pl", NOW),
        evaluate("x", None, &rules(), &StatusView::Loading, HOST, &Clock::at(NOW)),
        verdict_at(&StatusView::Unavailable, HOST, NOW),
        Verdict::Unrecognised("https://zp.obcy.example".into()),
    ];
    let mut names: Vec<&str> = verdicts.iter().map(Verdict::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), verdicts.len(), "each state is distinct");
    let mut headlines = Vec::new();
    for verdict in &verdicts {
        for lang in [Lang::Pl, Lang::En] {
            let words = wording(verdict, lang);
            assert!(!words.icon.is_empty() && !words.headline.is_empty() && !words.detail.is_empty());
            headlines.push(words.headline);
            let name = accessible_name(verdict, lang);
            assert!(name.contains(words.headline) && name.contains("Zakup Prospołeczny"), "{name}");
        }
    }
    let before = headlines.len();
    headlines.sort_unstable();
    headlines.dedup();
    assert_eq!(headlines.len(), before, "every state has its own words in each language");
    assert_eq!(wording(&verdicts[1], Lang::Pl).headline, "Znak ważny");
    assert_eq!(wording(&verdicts[1], Lang::En).headline, "Mark verified");
    assert_eq!(Lang::parse(Some("EN-gb")), Lang::En);
    assert_eq!(Lang::parse(Some("de")), Lang::Pl);
}

#[test]
fn a_list_handed_over_late_is_fresh_only_until_its_iat_plus_ttl() {
    // Signed 250 s before NOW, fetched (from a cache) just now: 50 s of freshness left, not 300.
    let held = snapshot(Status::Valid, NOW - 250, NOW);
    let status = StatusView::Known(&held);
    assert_eq!(held.fresh_for_ms(&Clock::at(NOW)), 50_000);
    assert!(matches!(verdict_at(&status, HOST, NOW + 49), Verdict::Verified(_)));
    assert!(matches!(verdict_at(&status, HOST, NOW + 51), Verdict::CannotConfirm(Some(_))));
    // One signed before `ttl` ago is stale on arrival, and the badge asks again after a pause,
    // not in a loop.
    let old = snapshot(Status::Valid, NOW - 301, NOW);
    let status = StatusView::Known(&old);
    let verdict = verdict_at(&status, HOST, NOW);
    assert!(matches!(verdict, Verdict::CannotConfirm(Some(_))), "{verdict:?}");
    assert_eq!(next_change_ms(&verdict, &status, &Clock::at(NOW)), Some(30_000));
}

fn trust_list(members: &[&str], iat: i64) -> TrustSnapshot {
    TrustSnapshot {
        issuers: members
            .iter()
            .map(|iss| TrustedIssuer {
                iss: (*iss).into(),
                name: "ROPS".into(),
                voivodeship: None,
                jwks_uri: format!("{iss}/.well-known/jwks.json"),
            })
            .collect(),
        iat,
        ttl: 300,
        fetched_ms: iat * 1_000,
    }
}

#[test]
fn trust_comes_from_a_fresh_list_of_a_loaders_issuer() {
    let other = "https://zp.rops.kielce.example";
    let clock = Clock::at(NOW);
    let fresh = trust_list(&[other], NOW - 10);
    let stale = trust_list(&[other], NOW - 400);
    let empty = trust_list(&[], NOW - 10);
    assert_eq!(
        Trust::from_lists(other, [Some(&fresh)], &clock),
        Trust::Vouched { jwks_uri: format!("{other}/.well-known/jwks.json") }
    );
    assert!(Trust::from_lists(other, [Some(&empty), Some(&fresh)], &clock).jwks_uri(other).is_some());
    assert_eq!(Trust::from_lists(other, [Some(&empty)], &clock), Trust::Unrecognised);
    assert_eq!(Trust::from_lists(other, [], &clock), Trust::Unrecognised);
    assert_eq!(Trust::from_lists(other, [Some(&stale)], &clock), Trust::Stale);
    assert_eq!(Trust::from_lists(other, [None, Some(&empty)], &clock), Trust::Pending);
    assert_eq!(
        Trust::from_lists("https://zp.rops.kielce.example/", [Some(&fresh)], &clock),
        Trust::Unrecognised
    );
    assert_eq!(
        Trust::Loader.jwks_uri(ISSUER).as_deref(),
        Some("https://zp.rops.example/.well-known/jwks.json")
    );
    for untrusted in [Trust::Stale, Trust::Pending, Trust::Unrecognised] {
        assert_eq!(untrusted.jwks_uri(other), None, "{untrusted:?}");
    }
}

#[test]
fn a_renewed_token_takes_over_only_for_the_same_certificate_and_later() {
    let page = claims();
    let mut renewed = claims();
    renewed.iat = NOW;
    renewed.exp = EXP + 365 * 86_400;
    assert!(takes_over(&page, &renewed, NOW));
    // Not signed later, another certificate, another issuer, not begun: the page's token stays.
    let mut same_second = renewed.clone();
    same_second.iat = page.iat;
    assert!(takes_over(&page, &same_second, NOW), "a renewal in the same second as the grant");
    let mut same_age = renewed.clone();
    same_age.iat = page.iat;
    same_age.exp = page.exp;
    let mut older = renewed.clone();
    older.iat = page.iat - 1;
    let mut other_certificate = renewed.clone();
    other_certificate.sub = "AAAAAAAA".into();
    let mut other_issuer = renewed.clone();
    other_issuer.iss = "https://evil.example".into();
    let mut future = renewed.clone();
    future.nbf = NOW + 10;
    for (name, current) in [
        ("same age", same_age),
        ("other certificate", other_certificate),
        ("other issuer", other_issuer),
        ("future", future),
    ] {
        assert!(!takes_over(&page, &current, NOW), "{name}");
    }
    // Asked for when fewer than `ttl` seconds are left, and at once after the end.
    assert_eq!(ask_for_current_in_ms(EXP, 300, (EXP - 1_000) * 1_000), 700_000);
    assert_eq!(ask_for_current_in_ms(EXP, 300, (EXP - 300) * 1_000), 0);
    assert_eq!(ask_for_current_in_ms(EXP, 300, (EXP + 86_400) * 1_000), 0);
}
