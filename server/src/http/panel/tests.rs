//! The panel's guards, in-process: every route of [`ROUTES`] × (no session, viewer, staff, admin),
//! the CSRF token, and the same-origin check.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use super::*;
use crate::accounts::Accounts;
use crate::http::testing::{Reply, send, state};
use crate::issuer::{NewCertificate, NewEntity, NewProduct};

/// A signed-in person: the session cookie and the form token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(accounts: &Accounts, email: &str, role: Role, now: i64) -> (String, Session) {
    let invitation = accounts.create("test", email, None, role, now).await.unwrap();
    let code = "ABCD-EFGH-JKLM";
    let mut tx = accounts.store.begin().await.unwrap();
    tx.replace_recovery_codes(&invitation.account_id, &[crate::accounts::hash("ABCDEFGHJKLM")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let secret = accounts.recovery_login(email, code, now).await.unwrap();
    let signed_in = accounts.session(&secret, now).await.unwrap().unwrap();
    (invitation.account_id, Session { cookie: format!("zp_session={secret}"), csrf: signed_in.session.csrf })
}

async fn request(app: &Router, method: &str, path: &str, session: Option<&Session>, site: &str) -> Reply {
    let mut builder = Request::builder().method(method).uri(path).header("sec-fetch-site", site);
    if let Some(session) = session {
        builder = builder.header("cookie", &session.cookie);
    }
    let body = match (method, session) {
        ("POST", Some(session)) => {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
            Body::from(format!("csrf={}", session.csrf))
        }
        _ => Body::empty(),
    };
    send(app, builder.body(body).unwrap()).await
}

fn to_login(reply: &Reply) -> bool {
    reply.status == StatusCode::SEE_OTHER
        && reply.header("location").is_some_and(|l| l.starts_with("/panel/login"))
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let accounts = state.accounts.clone();
    let (_, admin) = sign_in(&accounts, "admin@rops.test", Role::Admin, now).await;
    let (_, staff) = sign_in(&accounts, "staff@rops.test", Role::Staff, now).await;
    let (_, viewer) = sign_in(&accounts, "viewer@rops.test", Role::Viewer, now).await;
    let (target, _) = sign_in(&accounts, "target@rops.test", Role::Viewer, now).await;
    let entity = NewEntity {
        name: "Spółdzielnia Socjalna Żółw".into(),
        legal_form: "social_cooperative".into(),
        domains: vec!["zolw.example.pl".into()],
        ..NewEntity::default()
    };
    let entity = state.issuer.create_entity("test", entity, now).await.unwrap();
    let products = vec![NewProduct { name: "Catering".into(), gtin: None }];
    let input = NewCertificate { entity_id: entity.id.clone(), products, valid_from: None };
    let certificate = state.issuer.issue("test", input, now).await.unwrap().certificate;
    let form = crate::applications::tests::form();
    let via = crate::applications::Via::Api;
    let application = state.applications.submit(form, vec![], via, now).await.unwrap().id;
    let letter = failed_letter(&state, false).await;
    let app = crate::http::router(state.clone());

    let mut routes: Vec<_> = ROUTES.iter().collect();
    // Signing out ends the session the rest of the walk uses.
    routes.sort_by_key(|(_, path, _)| *path == "/panel/logout");
    let mut checked = 0;
    for (method, template, needed) in routes {
        let path = template
            .replace("/entities/{id}", &format!("/entities/{}", entity.id))
            .replace("/certificates/{id}", &format!("/certificates/{}", certificate.id))
            .replace("/accounts/{id}", &format!("/accounts/{target}"))
            .replace("/applications/{id}", &format!("/applications/{application}"))
            .replace("{file}", "F0000")
            .replace("/keys/api/{id}", "/keys/api/K0000")
            .replace("/outbox/{id}", &format!("/outbox/{letter}"))
            .replace("{link}", "not-a-link")
            .replace("{code}", "en");
        let people = [
            (None, None),
            (Some(Role::Viewer), Some(&viewer)),
            (Some(Role::Staff), Some(&staff)),
            (Some(Role::Admin), Some(&admin)),
        ];
        for (role, session) in people {
            let reply = request(&app, method, &path, session, "same-origin").await;
            let who = role.map_or("nobody", Role::as_str);
            assert_ne!(
                reply.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{method} {path} as {who}: {}",
                reply.text()
            );
            match (needed, role) {
                (Some(_), None) => assert!(
                    to_login(&reply),
                    "{method} {path} as {who}: {} {:?}",
                    reply.status,
                    reply.header("location")
                ),
                (Some(needed), Some(role)) if role < *needed => {
                    assert_eq!(
                        reply.status,
                        StatusCode::FORBIDDEN,
                        "{method} {path} as {who}: {}",
                        reply.text()
                    )
                }
                // Signing out succeeds by going to the login page with the cookie cleared.
                (Some(_), Some(_)) if path == "/panel/logout" => {
                    assert!(
                        to_login(&reply)
                            && reply.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0"))
                    )
                }
                // The passkey steps refuse a request without the script's token header, after the role check.
                (Some(_), Some(_)) if path.ends_with("/start") || path.ends_with("/finish") => {
                    assert!(!to_login(&reply), "{method} {path} as {who}: {}", reply.status)
                }
                (Some(_), Some(_)) => assert!(
                    !to_login(&reply) && reply.status != StatusCode::FORBIDDEN,
                    "{method} {path} as {who} was refused: {} {}",
                    reply.status,
                    reply.text()
                ),
                (None, _) => {
                    assert!(!reply.status.is_server_error(), "{method} {path} as {who}: {}", reply.status)
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * 4);
}

#[tokio::test]
async fn a_form_from_another_site_or_without_the_token_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let (_, staff) = sign_in(&state.accounts, "staff@rops.test", Role::Staff, now).await;
    let entity = NewEntity {
        name: "Fundacja Ąę".into(),
        legal_form: "foundation".into(),
        domains: vec!["fundacja.example.pl".into()],
        ..NewEntity::default()
    };
    let entity = state.issuer.create_entity("test", entity, now).await.unwrap();
    let input = NewCertificate {
        entity_id: entity.id,
        products: vec![NewProduct { name: "Szycie".into(), gtin: None }],
        valid_from: None,
    };
    let id = state.issuer.issue("test", input, now).await.unwrap().certificate.id;
    let app = crate::http::router(state.clone());
    let path = format!("/panel/certificates/{id}/suspend");

    // A cross-site form with the session cookie and even the right token.
    let reply = request(&app, "POST", &path, Some(&staff), "cross-site").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let foreign = Request::post(&path)
        .header("cookie", &staff.cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}", staff.csrf)))
        .unwrap();
    assert_eq!(send(&app, foreign).await.status, StatusCode::FORBIDDEN);
    // The panel's own origin, without the token or with another one.
    for body in [String::new(), "csrf=forged".to_owned()] {
        let request = Request::post(&path)
            .header("cookie", &staff.cookie)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(send(&app, request).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(state.issuer.detail(&id).await.unwrap().certificate.state, crate::store::CertState::Active);
    // The same form, sent properly, works.
    let reply = request(&app, "POST", &path, Some(&staff), "same-origin").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(state.issuer.detail(&id).await.unwrap().certificate.state, crate::store::CertState::Suspended);
    let audit = state.issuer.store.audit_log(0, 100).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "certificate.suspend" && e.actor.contains("staff@rops.test")),
        "audited under the person"
    );
}

#[tokio::test]
async fn bad_input_in_panel_forms_comes_back_next_to_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let (_, staff) = sign_in(&state.accounts, "staff@rops.test", Role::Staff, now).await;
    let app = crate::http::router(state.clone());
    let body = format!(
        "csrf={}&name=Sp%C3%B3%C5%82dzielnia&legal_form=social_cooperative&nip=1234567890&domains=example.pl",
        staff.csrf
    );
    let request = Request::post("/panel/entities")
        .header("cookie", &staff.cookie)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.text();
    assert!(html.contains(r#"id="f-nip-error""#) && html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("Spółdzielnia"), "the form keeps what was typed");
    assert!(state.issuer.store.entities(10, 0).await.unwrap().is_empty(), "nothing written");
    // IDs in URLs that do not exist are a page that says so, not an error.
    for path in ["/panel/certificates/ZZZZ-ZZZZ", "/panel/entities/nope", "/panel/certificates/%00"] {
        let reply = request_as(&app, path, &staff).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.text());
    }
}

async fn request_as(app: &Router, path: &str, session: &Session) -> Reply {
    request(app, "GET", path, Some(session), "same-origin").await
}

#[tokio::test]
async fn a_persons_api_key_acts_with_their_role_and_stops_when_they_are_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let (admin_id, _) = sign_in(&state.accounts, "admin@rops.test", Role::Admin, now).await;
    let (staff_id, _) = sign_in(&state.accounts, "staff@rops.test", Role::Staff, now).await;
    let (viewer_id, _) = sign_in(&state.accounts, "viewer@rops.test", Role::Viewer, now).await;
    let app = crate::http::router(state.clone());
    let key = |owner: String| {
        let state = state.clone();
        async move { state.issuer.create_api_key_for("test", "key", Some(&owner), now).await.unwrap().1 }
    };
    let (staff_key, viewer_key, admin_key) =
        (key(staff_id.clone()).await, key(viewer_id).await, key(admin_id).await);
    let call = |method: &str, path: &str, key: &str, body: &str| {
        let mut request =
            Request::builder().method(method).uri(path).header("authorization", format!("Bearer {key}"));
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        request.body(Body::from(body.to_owned())).unwrap()
    };
    let entity = r#"{"name":"Fundacja Wrzos","legal_form":"foundation","domains":["wrzos.example.pl"]}"#;
    // A viewer's key reads but changes nothing; staff registers; only an admin rotates keys.
    assert_eq!(send(&app, call("GET", "/api/v1/admin/audit", &viewer_key, "")).await.status, StatusCode::OK);
    let refused = send(&app, call("POST", "/api/v1/admin/entities", &viewer_key, entity)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], "forbidden");
    let created = send(&app, call("POST", "/api/v1/admin/entities", &staff_key, entity)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(
        send(&app, call("POST", "/api/v1/admin/keys/rotate", &staff_key, "")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, call("POST", "/api/v1/admin/keys/rotate", &admin_key, "")).await.status,
        StatusCode::OK
    );
    let audit = state.issuer.store.audit_log(0, 100).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "entity.create" && e.actor.contains("staff@rops.test")),
        "audited under the person"
    );
    // Disabled, the person's key stops at once.
    state.accounts.set_disabled("test", &staff_id, true, now).await.unwrap();
    assert_eq!(
        send(&app, call("GET", "/api/v1/admin/audit", &staff_key, "")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn post_form(app: &Router, path: &str, session: &Session, fields: &str) -> Reply {
    let request = Request::post(path)
        .header("cookie", &session.cookie)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}&{fields}", session.csrf)))
        .unwrap();
    send(app, request).await
}

#[tokio::test]
async fn an_entity_is_edited_through_its_form_and_a_bad_nip_comes_back_next_to_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let (_, staff) = sign_in(&state.accounts, "staff@rops.test", Role::Staff, now).await;
    let (_, viewer) = sign_in(&state.accounts, "viewer@rops.test", Role::Viewer, now).await;
    let input = NewEntity {
        name: "Spółdzielnia Socjalna Żółw".into(),
        legal_form: "social_cooperative".into(),
        domains: vec!["zolw.example.pl".into(), "sklep.zolw.example.pl".into()],
        nip: Some("7740001454".into()),
        ..NewEntity::default()
    };
    let entity = state.issuer.create_entity("test", input, now).await.unwrap();
    let products = vec![NewProduct { name: "Catering".into(), gtin: None }];
    let input = NewCertificate { entity_id: entity.id.clone(), products, valid_from: None };
    let certificate = state.issuer.issue("test", input, now).await.unwrap();
    let app = crate::http::router(state.clone());
    let page = format!("/panel/entities/{}", entity.id);
    let edit = format!("{page}/edit");

    // Staff see the link and the form filled in; viewers neither.
    assert!(request_as(&app, &page, &staff).await.text().contains(&format!(r#"href="{edit}""#)));
    assert!(!request_as(&app, &page, &viewer).await.text().contains(&edit));
    let form = request_as(&app, &edit, &staff).await;
    assert_eq!(form.status, StatusCode::OK);
    let html = form.text();
    assert!(html.contains(&format!(r#"action="{page}""#)), "{html}");
    assert!(html.contains(r#"value="Spółdzielnia Socjalna Żółw""#) && html.contains(r#"value="7740001454""#));
    assert!(html.contains("zolw.example.pl\nsklep.zolw.example.pl"), "{html}");

    // A NIP that fails its check digit: the form again, the message at the field, nothing written.
    let head = state.issuer.store.audit_head().await.unwrap();
    let fields = "name=Sp%C3%B3%C5%82dzielnia+Socjalna+%C5%BB%C3%B3%C5%82w+w+Che%C5%82mie\
                  &legal_form=social_cooperative&nip=1234567890&domains=zolw.example.pl&city=Che%C5%82m";
    let reply = post_form(&app, &page, &staff, fields).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.text();
    assert!(html.contains(r#"id="f-nip-error""#) && html.contains(r#"aria-invalid="true""#), "{html}");
    assert!(html.contains("Spółdzielnia Socjalna Żółw w Chełmie"), "the form keeps what was typed");
    assert!(html.contains(&format!(r#"action="{page}""#)), "still the edit form");
    assert_eq!(state.issuer.store.audit_head().await.unwrap(), head, "nothing written");
    assert_eq!(state.issuer.store.entity(&entity.id).await.unwrap(), Some(entity.clone()));

    // A viewer may not save; staff may.
    let good = fields.replace("nip=1234567890", "nip=774-000-14-54");
    assert_eq!(post_form(&app, &page, &viewer, &good).await.status, StatusCode::FORBIDDEN);
    let reply = post_form(&app, &page, &staff, &good).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.header("location"), Some(format!("{page}?done=updated").as_str()));
    let saved = state.issuer.store.entity(&entity.id).await.unwrap().unwrap();
    assert_eq!(saved.name, "Spółdzielnia Socjalna Żółw w Chełmie");
    assert_eq!(saved.city.as_deref(), Some("Chełm"));
    assert_eq!(saved.domains, ["zolw.example.pl"]);
    let detail = state.issuer.detail(&certificate.certificate.id).await.unwrap();
    assert_ne!(detail.token, certificate.token, "the certificate has a new token");
    let audit = state.issuer.store.audit_log(0, 100).await.unwrap();
    let entry = audit.last().unwrap();
    assert_eq!(entry.action, "entity.update");
    assert!(entry.actor.contains("staff@rops.test"), "{}", entry.actor);
    let done = request_as(&app, &format!("{page}?done=updated"), &staff).await.text();
    assert!(done.contains("Zmiany zapisane.") && done.contains("w Chełmie"), "{done}");
}

#[tokio::test]
async fn the_boards_decision_goes_from_the_form_to_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let (_, staff) = sign_in(&state.accounts, "staff@rops.test", Role::Staff, now).await;
    let input = NewEntity {
        name: "Fundacja Ćma".into(),
        legal_form: "foundation".into(),
        domains: vec!["cma.example.pl".into()],
        ..NewEntity::default()
    };
    let entity = state.issuer.create_entity("test", input, now).await.unwrap();
    let app = crate::http::router(state.clone());
    let head = state.issuer.store.audit_head().await.unwrap();
    let issue = |decision: &str| format!("entity_id={}&products=Szycie{decision}", entity.id);

    // A number without a date: the issue form again, with the message at the date.
    let reply = post_form(&app, "/panel/certificates", &staff, &issue("&resolution=12%2F2026")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.text().contains(r#"id="f-issue-resolution_date-error""#), "{}", reply.text());
    assert_eq!(state.issuer.store.audit_head().await.unwrap(), head, "nothing written");

    let date = crate::issuer::format_date(now);
    let reply = post_form(
        &app,
        "/panel/certificates",
        &staff,
        &issue(&format!("&resolution=12%2F2026&resolution_date={date}")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let entry = state.issuer.store.audit_log(0, 100).await.unwrap().pop().unwrap();
    assert_eq!(entry.action, "certificate.issue");
    assert!(!entry.actor.contains("12/2026"), "the actor is only who acted: {}", entry.actor);
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details["decision"], serde_json::json!({ "resolution": "12/2026", "date": date }));
    let log = request_as(&app, "/panel/audit", &staff).await.text();
    assert!(log.contains(&format!("12/2026</bdi> z {date}")), "{log}");
}

/// A letter in the outbox that the SMTP server refused for good.
async fn failed_letter(state: &AppState, private_link: bool) -> i64 {
    let letter = crate::mail::Letter {
        kind: "reminder.30".into(),
        to: "biuro@laka.example.pl".into(),
        to_name: Some("Spółdzielnia „Łąka”".into()),
        subject: "Certyfikat wygasa za 30 dni <b>".into(),
        paragraphs: vec!["Dzień dobry,\n<script>x</script> zażółć".into()],
        link: Some(("Zaloguj".into(), "https://zp.example.pl/panel/enrol/SEKRET-LINK".into())),
        private_link,
        lang: "pl".into(),
    };
    let store = state.issuer.store.as_ref();
    let mut tx = store.begin().await.unwrap();
    let id = crate::mail::enqueue(&mut tx, &letter, state.now()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.claim_letter(id, state.now(), state.now() + 60).await.unwrap());
    store.mark_failed(id, "550 mailbox unavailable", state.now()).await.unwrap();
    id
}

#[tokio::test]
async fn the_outbox_lists_letters_by_state_hides_private_links_and_staff_resend_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let now = state.now();
    let (_, staff) = sign_in(&state.accounts, "staff@rops.test", Role::Staff, now).await;
    let (_, viewer) = sign_in(&state.accounts, "viewer@rops.test", Role::Viewer, now).await;
    let secret = failed_letter(&state, true).await;
    let plain = failed_letter(&state, false).await;
    let app = crate::http::router(state.clone());

    let list = request(&app, "GET", "/panel/outbox?state=failed", Some(&viewer), "same-origin").await;
    assert_eq!(list.status, StatusCode::OK);
    let text = list.text();
    assert!(text.contains("550 mailbox unavailable") && text.contains("biuro@laka.example.pl"), "{text}");
    assert!(text.contains("Certyfikat wygasa za 30 dni &lt;b&gt;"), "escaped: {text}");
    assert!(
        text.contains(r#"href="/panel/outbox" aria-current="page""#),
        "linked from the navigation: {text}"
    );
    let pending = request(&app, "GET", "/panel/outbox?state=pending", Some(&viewer), "same-origin").await;
    assert!(!pending.text().contains("biuro@laka.example.pl"), "filtered by state");

    let detail = request(&app, "GET", &format!("/panel/outbox/{secret}"), Some(&viewer), "same-origin").await;
    let text = detail.text();
    assert!(!text.contains("SEKRET-LINK"), "a private link is never shown: {text}");
    assert!(text.contains("&lt;script&gt;x&lt;/script&gt; zażółć"), "{text}");
    assert!(!text.contains("/resend"), "a viewer gets no resend button");
    let detail = request(&app, "GET", &format!("/panel/outbox/{plain}"), Some(&staff), "same-origin").await;
    assert!(detail.text().contains("SEKRET-LINK"), "a link that is no secret is shown");
    assert!(detail.text().contains(&format!("/panel/outbox/{plain}/resend")));
    let mut demo = state.clone();
    demo.demo = true;
    let demo_app = crate::http::router(demo);
    let shown =
        request(&demo_app, "GET", &format!("/panel/outbox/{secret}"), Some(&viewer), "same-origin").await;
    assert!(shown.text().contains("SEKRET-LINK"), "the demo shows it: there is no mail to read");

    // Staff resend a failed letter: a new pending letter, audited; a pending one is refused.
    let reply = post_form(&app, &format!("/panel/outbox/{secret}/resend"), &staff, "").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("/panel/outbox?done=resent"));
    let store = state.issuer.store.as_ref();
    let copy = store.letters(Some("pending"), 10, 0).await.unwrap();
    assert_eq!(copy.len(), 1);
    assert_eq!((copy[0].resent_from, copy[0].private_link), (Some(secret), 1));
    let entry = store.audit_log(0, 100).await.unwrap().pop().unwrap();
    assert_eq!(entry.action, "mail.resend");
    assert!(entry.actor.contains("staff@rops.test"), "{}", entry.actor);
    let refused = post_form(&app, &format!("/panel/outbox/{}/resend", copy[0].id), &staff, "").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let viewer_try = post_form(&app, &format!("/panel/outbox/{plain}/resend"), &viewer, "").await;
    assert_eq!(viewer_try.status, StatusCode::FORBIDDEN);
    let missing = request(&app, "GET", "/panel/outbox/99999", Some(&viewer), "same-origin").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
