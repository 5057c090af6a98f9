use super::*;
use crate::http::AppState;
use crate::issuer::NewProduct;

const NOW: i64 = 1_800_000_000;
const STAFF: &str = "account:A1:anna@rops.example.pl";
const SECOND: &str = "account:A2:jan@rops.example.pl";

async fn registry() -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().unwrap();
    let state = crate::http::testing::state(dir.path()).await;
    (dir, state)
}

pub fn form() -> ApplicationForm {
    ApplicationForm {
        entity: form::EntityPart {
            name: "Spółdzielnia Socjalna „Łąka”".into(),
            legal_form: "social_cooperative".into(),
            domains: vec!["laka.pl".into()],
            nip: Some("774-000-14-54".into()),
            city: Some("Lublin".into()),
            voivodeship: Some("lubelskie".into()),
            ..Default::default()
        },
        products: vec![NewProduct { name: "Powidła śliwkowe".into(), gtin: None }],
        quality: "Receptury sprawdzone przez technologa żywności.".into(),
        contact: form::ContactPart { name: "Zofia Żak".into(), email: "Zofia@Laka.pl".into(), phone: None },
        consent: true,
        ..Default::default()
    }
}

fn pdf() -> Upload {
    Upload { name: "statut.pdf".into(), bytes: b"%PDF-1.4\n%%EOF\n".to_vec(), dropped: 0 }
}

fn decision() -> Option<Decision> {
    Some(Decision { resolution: "12/2027".into(), date: crate::issuer::format_date(NOW - 86_400) })
}

async fn counts(state: &AppState) -> (usize, i64) {
    let apps = state.issuer.store.applications(None, 100).await.unwrap().len();
    (apps, state.issuer.store.audit_head().await.unwrap())
}

#[tokio::test]
async fn bad_input_names_every_field_and_writes_nothing() {
    let (_dir, state) = registry().await;
    let before = counts(&state).await;
    let mut bad = form();
    bad.entity.nip = Some("774-000-14-55".into());
    bad.contact.email = "zofia(at)laka.pl".into();
    bad.consent = false;
    bad.quality = "  ".into();
    bad.products.clear();
    let fake = Upload { name: "statut.pdf".into(), bytes: b"<html>".to_vec(), dropped: 0 };
    let Err(ApplicationError::Invalid(errors)) =
        state.applications.submit(bad, vec![fake], Via::Api, NOW).await
    else {
        panic!("accepted")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    for field in ["entity.nip", "contact.email", "consent", "quality", "products", "attachments"] {
        assert!(fields.contains(&field), "{field} not named in {errors:?}");
    }
    assert_eq!(counts(&state).await, before);
    // A renewal of a certificate that does not exist.
    let mut renewal = form();
    renewal.kind = Kind::Renewal;
    renewal.certificate_id = Some("7K3QX9M2".into());
    let refused = state.applications.submit(renewal, vec![], Via::Api, NOW).await;
    assert!(
        matches!(refused, Err(ApplicationError::Invalid(ref e)) if e[0].field == "certificate_id"),
        "{refused:?}"
    );
    assert_eq!(counts(&state).await, before);
}

#[tokio::test]
async fn a_form_submitted_twice_is_one_application() {
    let (_dir, state) = registry().await;
    let via = || Via::Form { submission: "one-time-key".into() };
    let first = state.applications.submit(form(), vec![pdf()], via(), NOW).await.unwrap();
    let again = state.applications.submit(form(), vec![pdf()], via(), NOW + 1).await.unwrap();
    assert!(!first.repeated && again.repeated);
    assert_eq!(first.id, again.id);
    assert_eq!(state.issuer.store.applications(None, 100).await.unwrap().len(), 1);
    assert_eq!(state.issuer.store.application_files(&first.id).await.unwrap().len(), 1);
}

/// The secret of the newest sign-in link, as the letter carries it.
async fn link_secret(state: &AppState, email: &str) -> String {
    // The link's secret is only in the letter; a test makes its own link the same way.
    let mut tx = state.issuer.store.begin().await.unwrap();
    let secret = crate::accounts::random_secret();
    tx.insert_applicant_link(&hash(&secret), email, NOW, NOW + LINK_HOURS * 3600).await.unwrap();
    tx.commit().await.unwrap();
    secret
}

#[tokio::test]
async fn a_link_signs_in_once_and_expires() {
    let (_dir, state) = registry().await;
    let apps = &state.applications;
    apps.submit(form(), vec![], Via::Api, NOW).await.unwrap();
    let secret = link_secret(&state, "zofia@laka.pl").await;
    let session = apps.sign_in(&secret, NOW + 10).await.unwrap().expect("signed in");
    assert!(apps.sign_in(&secret, NOW + 11).await.unwrap().is_none(), "a link works once");
    let applicant = apps.session(&session, NOW + 20).await.unwrap().expect("session");
    assert_eq!(applicant.email, "zofia@laka.pl");
    assert!(apps.session(&session, NOW + 20 + SESSION_IDLE).await.unwrap().is_none(), "idle session ends");
    let late = link_secret(&state, "zofia@laka.pl").await;
    assert!(apps.sign_in(&late, NOW + LINK_HOURS * 3600).await.unwrap().is_none(), "an expired link");
    assert!(apps.sign_in("made-up", NOW).await.unwrap().is_none());
}

#[tokio::test]
async fn questions_answers_and_approval_issue_the_certificate_in_one_step() {
    let (_dir, state) = registry().await;
    let apps = &state.applications;
    let id = apps.submit(form(), vec![pdf()], Via::Api, NOW).await.unwrap().id;
    apps.ask(STAFF, &id, "Prosimy o statut spółdzielni.", NOW + 60).await.unwrap();
    let secret = link_secret(&state, "zofia@laka.pl").await;
    let session = apps.sign_in(&secret, NOW + 100).await.unwrap().unwrap();
    let applicant = apps.session(&session, NOW + 100).await.unwrap().unwrap();
    // Another applicant cannot see or answer the case.
    let stranger = Applicant { email: "x@y.pl".into(), csrf: String::new(), hash: String::new() };
    assert!(matches!(apps.case_of(&stranger, &id).await, Err(ApplicationError::NotFound(_))));
    assert!(apps.answer(&stranger, &id, "nie", vec![], NOW + 110).await.is_err());
    apps.answer(&applicant, &id, "W załączeniu statut.", vec![pdf()], NOW + 120).await.unwrap();
    let case = apps.case_of(&applicant, &id).await.unwrap();
    assert_eq!(case.status, "answered");
    // An approval without a resolution is refused and changes nothing.
    assert!(matches!(apps.approve(STAFF, &id, None, NOW + 200).await, Err(ApplicationError::Invalid(_))));
    let Approval::Done { certificate_id } = apps.approve(STAFF, &id, decision(), NOW + 200).await.unwrap()
    else {
        panic!("not approved")
    };
    let detail = state.issuer.detail(&certificate_id).await.unwrap();
    assert_eq!(detail.entity.name, "Spółdzielnia Socjalna „Łąka”");
    assert_eq!(detail.entity.contact.as_deref(), Some("zofia@laka.pl"));
    assert_eq!(detail.products[0].name, "Powidła śliwkowe");
    let case = apps.case_of(&applicant, &id).await.unwrap();
    assert_eq!(
        (case.status.as_str(), case.certificate_id.as_deref()),
        ("approved", Some(certificate_id.as_str()))
    );
    let kinds: Vec<String> =
        state.issuer.store.application_events(&id).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["submitted", "question", "answer", "approved"]);
    // Decided: nothing more.
    assert!(matches!(apps.refuse(STAFF, &id, "nie", NOW + 300).await, Err(ApplicationError::Conflict(_))));
    assert!(matches!(
        apps.answer(&applicant, &id, "jeszcze", vec![], NOW + 300).await,
        Err(ApplicationError::Conflict(_))
    ));
    // The holder's renewal, approved, extends the same certificate by a year.
    let until = detail.certificate.valid_until;
    let mut renewal = form();
    renewal.kind = Kind::Renewal;
    renewal.certificate_id = Some(certificate_id.clone());
    let later = until - 30 * 86_400;
    let renewal = apps.submit(renewal, vec![], Via::Api, later).await.unwrap().id;
    let done = apps.approve(STAFF, &renewal, decision(), later).await.unwrap();
    assert_eq!(done, Approval::Done { certificate_id: certificate_id.clone() });
    let renewed = state.issuer.detail(&certificate_id).await.unwrap();
    let added = renewed.certificate.valid_until - until;
    assert!((365 * 86_400..=366 * 86_400).contains(&added), "renewed by {added} s");
    assert_eq!(state.issuer.store.entities(10, 0).await.unwrap().len(), 1, "the renewal made no new entity");
}

#[tokio::test]
async fn a_renewal_too_early_or_a_second_approval_by_the_same_person_changes_nothing() {
    let (_dir, mut state) = registry().await;
    state.applications = Arc::new(Applications {
        second_approval: true,
        ..Applications::new(state.issuer.clone(), state.outbox.clone())
    });
    let apps = &state.applications;
    let id = apps.submit(form(), vec![], Via::Api, NOW).await.unwrap().id;
    assert_eq!(apps.approve(STAFF, &id, decision(), NOW + 10).await.unwrap(), Approval::Prepared);
    let same = apps.approve(STAFF, &id, None, NOW + 20).await;
    assert!(matches!(same, Err(ApplicationError::Conflict(_))), "{same:?}");
    assert!(state.issuer.store.certificates_after("", 10).await.unwrap().is_empty());
    // The same person through their own API key, or a key that acts for nobody: refused too.
    let own_key = format!("api-key:K1:moj klucz {STAFF}");
    for other in [own_key.as_str(), "api-key:K2:cli"] {
        let refused = apps.approve(other, &id, None, NOW + 25).await;
        assert!(matches!(refused, Err(ApplicationError::Conflict(_))), "{other}: {refused:?}");
    }
    let Approval::Done { certificate_id } = apps.approve(SECOND, &id, None, NOW + 30).await.unwrap() else {
        panic!("not approved")
    };
    // A renewal asked for a year early: the board's approval is refused by the issuer's rule,
    // and the case stays open with nothing written.
    let mut renewal = form();
    renewal.kind = Kind::Renewal;
    renewal.certificate_id = Some(certificate_id.clone());
    let renewal = apps.submit(renewal, vec![], Via::Api, NOW + 40).await.unwrap().id;
    apps.approve(STAFF, &renewal, decision(), NOW + 50).await.unwrap();
    let head = state.issuer.store.audit_head().await.unwrap();
    let early = apps.approve(SECOND, &renewal, None, NOW + 60).await;
    assert!(
        matches!(early, Err(ApplicationError::Conflict(ref m)) if m.contains("can be renewed from")),
        "{early:?}"
    );
    assert_eq!(state.issuer.store.audit_head().await.unwrap(), head);
    assert_eq!(state.issuer.store.application(&renewal).await.unwrap().unwrap().status, "prepared");
}

#[tokio::test]
async fn the_weekly_digest_counts_open_applications() {
    let (_dir, state) = registry().await;
    let apps = &state.applications;
    let section = apps.digest_section().await.unwrap();
    assert_eq!(section.lines, ["brak / none"]);
    apps.submit(form(), vec![], Via::Api, NOW).await.unwrap();
    let asked = apps.submit(form(), vec![], Via::Api, NOW).await.unwrap().id;
    apps.ask(STAFF, &asked, "Pytanie?", NOW).await.unwrap();
    let lines = apps.digest_section().await.unwrap().lines;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("złożony") && l.ends_with(": 1")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("returned for completion: 1")), "{lines:?}");
}

#[tokio::test]
async fn sign_in_links_asked_for_are_limited_per_address() {
    let (_dir, state) = registry().await;
    let apps = &state.applications;
    apps.submit(form(), vec![], Via::Api, NOW).await.unwrap();
    for i in 0..5 {
        apps.request_link("zofia@laka.pl", "pl", NOW + i).await.unwrap();
    }
    let mut tx = state.issuer.store.begin().await.unwrap();
    assert_eq!(tx.count_applicant_links("zofia@laka.pl", 0).await.unwrap(), 3, "three in ten minutes");
    drop(tx);
    apps.request_link("zofia@laka.pl", "pl", NOW + 700).await.unwrap();
    // An address nobody applied from gets nothing, and the answer is the same.
    apps.request_link("nikt@nigdzie.pl", "pl", NOW).await.unwrap();
    let mut tx = state.issuer.store.begin().await.unwrap();
    assert_eq!(tx.count_applicant_links("zofia@laka.pl", 0).await.unwrap(), 4);
    assert_eq!(tx.count_applicant_links("nikt@nigdzie.pl", 0).await.unwrap(), 0);
}
