use super::*;
use crate::store::sqlite::SqliteStore;

const NOW: i64 = 1_800_000_000;

async fn accounts(dir: &std::path::Path) -> Accounts {
    let store = SqliteStore::open(&dir.join("zp.sqlite3")).await.unwrap();
    Accounts::new(Arc::new(store), "http://127.0.0.1:8080")
}

/// Signs `email` in with a recovery code, the one way in that needs no browser; returns the
/// session's secret.
async fn signed_in_with_code(accounts: &Accounts, email: &str, role: Role) -> (String, Vec<String>) {
    let invitation = accounts.create("cli", email, None, role, NOW).await.unwrap();
    let codes = super::sessions::recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| hash(&super::sessions::normalize_code(c))).collect();
    let mut tx = accounts.store.begin().await.unwrap();
    tx.replace_recovery_codes(&invitation.account_id, &hashes).await.unwrap();
    tx.commit().await.unwrap();
    let secret = accounts.recovery_login(email, &codes[0], NOW).await.unwrap();
    (secret, codes)
}

#[test]
fn loopback_issuers_are_served_as_localhost_and_other_ips_have_no_passkeys() {
    let rp = RelyingParty::for_base_url("http://127.0.0.1:8080").unwrap();
    assert_eq!(rp.origin(), "http://localhost:8080");
    assert_eq!(
        RelyingParty::for_base_url("https://zp.rops.lublin.pl").unwrap().origin(),
        "https://zp.rops.lublin.pl"
    );
    assert!(RelyingParty::for_base_url("http://10.1.2.3:8080").is_none());
}

#[tokio::test]
async fn an_invitation_makes_a_single_use_enrolment_link_that_expires() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(dir.path()).await;
    let invitation =
        accounts.create("cli", " Anna@ROPS.example.pl ", Some("Anna Nowak"), Role::Admin, NOW).await.unwrap();
    assert_eq!(invitation.email, "anna@rops.example.pl");
    assert!(invitation.enrolment_url.starts_with("http://localhost:8080/panel/enrol/"));
    let link = invitation.enrolment_url.rsplit('/').next().unwrap();
    assert_eq!(accounts.enrolment_account(link, NOW + 60).await.unwrap().name, "Anna Nowak");
    assert!(matches!(
        accounts.enrolment_account(link, NOW + ENROLMENT_TTL).await,
        Err(AccountError::Refused(_))
    ));
    assert!(matches!(accounts.enrolment_account("not-a-link", NOW).await, Err(AccountError::Refused(_))));
    // The same e-mail twice is refused, naming the field.
    let again = accounts.create("cli", "anna@rops.example.pl", None, Role::Staff, NOW).await;
    assert!(matches!(again, Err(AccountError::Invalid { field: "email", .. })), "{again:?}");
}

#[test]
fn bad_emails_are_refused_naming_the_field() {
    for email in ["", "anna", "anna@", "@rops.pl", "anna@rops", "an na@rops.pl", "anna@.pl", "a@b@rops.pl"] {
        assert!(matches!(check_email(email), Err(AccountError::Invalid { field: "email", .. })), "{email:?}");
    }
    assert_eq!(check_email(" Anna@ROPS.pl\n").unwrap(), "anna@rops.pl");
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_never_again() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(dir.path()).await;
    let (secret, codes) = signed_in_with_code(&accounts, "anna@rops.pl", Role::Staff).await;
    assert_eq!(accounts.session(&secret, NOW + 1).await.unwrap().unwrap().role, Role::Staff);
    let again = accounts.recovery_login("anna@rops.pl", &codes[0], NOW + 2).await;
    assert!(matches!(again, Err(AccountError::Refused(_))), "{again:?}");
    // Typed in lower case with spaces, another code works.
    let typed = codes[1].to_lowercase().replace('-', " ");
    accounts.recovery_login("ANNA@rops.pl", &typed, NOW + 3).await.unwrap();
    assert_eq!(
        accounts
            .store
            .recovery_codes_left(&accounts.by_email("anna@rops.pl").await.unwrap().unwrap().id)
            .await
            .unwrap(),
        8
    );
    // A wrong e-mail or an unknown code gets the same answer.
    for (email, code) in [("nobody@rops.pl", codes[2].as_str()), ("anna@rops.pl", "AAAA-AAAA-AAAA")] {
        let refused = accounts.recovery_login(email, code, NOW + 4).await;
        assert!(matches!(refused, Err(AccountError::Refused(_))), "{refused:?}");
    }
}

#[tokio::test]
async fn sessions_end_when_idle_too_long_at_their_absolute_limit_and_at_logout() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(dir.path()).await;
    let t = accounts.timeouts;
    let (secret, _) = signed_in_with_code(&accounts, "anna@rops.pl", Role::Viewer).await;
    assert!(accounts.session(&secret, NOW + t.idle).await.unwrap().is_some());
    assert!(accounts.session(&secret, NOW + 2 * t.idle + 1).await.unwrap().is_none(), "idle too long");

    let (busy, _) = signed_in_with_code(&accounts, "ewa@rops.pl", Role::Viewer).await;
    let mut at = NOW;
    while at + t.idle / 2 <= NOW + t.absolute {
        at += t.idle / 2;
        assert!(accounts.session(&busy, at).await.unwrap().is_some(), "alive at +{}", at - NOW);
    }
    assert!(
        accounts.session(&busy, NOW + t.absolute + 1).await.unwrap().is_none(),
        "past the absolute limit"
    );

    let (leaving, _) = signed_in_with_code(&accounts, "jan@rops.pl", Role::Viewer).await;
    let signed_in = accounts.session(&leaving, NOW).await.unwrap().unwrap();
    accounts.logout(&signed_in).await.unwrap();
    assert!(accounts.session(&leaving, NOW).await.unwrap().is_none());
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_at_once_and_the_last_admin_stays() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(dir.path()).await;
    let (admin, _) = signed_in_with_code(&accounts, "admin@rops.pl", Role::Admin).await;
    let (staff, codes) = signed_in_with_code(&accounts, "staff@rops.pl", Role::Staff).await;
    let admin = accounts.session(&admin, NOW).await.unwrap().unwrap();
    let staff_id = accounts.session(&staff, NOW).await.unwrap().unwrap().account.id;

    accounts.set_disabled(&admin.actor(), &staff_id, true, NOW + 5).await.unwrap();
    assert!(accounts.session(&staff, NOW + 6).await.unwrap().is_none());
    let refused = accounts.recovery_login("staff@rops.pl", &codes[1], NOW + 7).await;
    assert!(matches!(refused, Err(AccountError::Refused(_))), "{refused:?}");

    accounts.set_disabled(&admin.actor(), &staff_id, false, NOW + 8).await.unwrap();
    accounts.recovery_login("staff@rops.pl", &codes[1], NOW + 9).await.unwrap();

    // The only admin can neither be disabled nor lose the role.
    let alone = accounts.set_disabled(&admin.actor(), &admin.account.id, true, NOW + 10).await;
    assert!(matches!(alone, Err(AccountError::Conflict(_))), "{alone:?}");
    let demoted = accounts.set_role(&admin.actor(), &admin.account.id, Role::Staff, NOW + 10).await;
    assert!(matches!(demoted, Err(AccountError::Conflict(_))), "{demoted:?}");

    // A change of role ends the sessions too, so the new role applies from the next request.
    let (viewer, _) = signed_in_with_code(&accounts, "viewer@rops.pl", Role::Viewer).await;
    let viewer_id = accounts.session(&viewer, NOW + 11).await.unwrap().unwrap().account.id;
    accounts.set_role(&admin.actor(), &viewer_id, Role::Staff, NOW + 12).await.unwrap();
    assert!(accounts.session(&viewer, NOW + 13).await.unwrap().is_none());
}

#[tokio::test]
async fn ceremonies_finish_once_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(dir.path()).await;
    let invitation = accounts.create("cli", "anna@rops.pl", None, Role::Admin, NOW).await.unwrap();
    let link = invitation.enrolment_url.rsplit('/').next().unwrap().to_owned();
    let ceremony = accounts.start_enrolment(&link, NOW).await.unwrap();
    assert!(ceremony.options["publicKey"]["challenge"].is_string(), "{}", ceremony.options);
    // A made-up answer is refused, and the ceremony is then gone.
    let refused = accounts.finish_enrolment(&link, &ceremony.ceremony, "{}", "laptop", NOW + 1).await;
    assert!(matches!(refused, Err(AccountError::Passkey(PasskeyError::Rejected(_)))), "{refused:?}");
    let again = accounts.finish_enrolment(&link, &ceremony.ceremony, "{}", "laptop", NOW + 2).await;
    assert!(matches!(again, Err(AccountError::Passkey(PasskeyError::Expired))), "{again:?}");
    // One left unanswered for longer than five minutes expires.
    let late = accounts.start_enrolment(&link, NOW).await.unwrap();
    let expired = accounts.finish_enrolment(&link, &late.ceremony, "{}", "laptop", NOW + 301).await;
    assert!(matches!(expired, Err(AccountError::Passkey(PasskeyError::Expired))), "{expired:?}");
}
