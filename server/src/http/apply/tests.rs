//! The applicants' pages and API in-process: the form without scripts, its refusals, double
//! submission, uploads too large or not what they claim, the single-use links, the session's
//! guards, and the JSON API.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::http::testing::{Reply, get, send, state};
use crate::http::{AppState, router};

const BOUNDARY: &str = "zp-test-boundary";

/// A multipart body of text fields and files `(name, file name, bytes)`.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    for (name, file, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn post_form(path: &str, body: Vec<u8>, cookie: Option<&str>, site: &str) -> Request<Body> {
    let mut builder = Request::post(path)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("sec-fetch-site", site);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::from(body)).unwrap()
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n";

fn good_fields(submission: &str) -> Vec<(&'static str, String)> {
    vec![
        ("submission", submission.to_owned()),
        ("lang", "pl".into()),
        ("kind", "new".into()),
        ("entity.name", "Spółdzielnia Socjalna „Łąka”".into()),
        ("entity.legal_form", "social_cooperative".into()),
        ("entity.nip", "774-000-14-54".into()),
        ("entity.domains", "laka.pl".into()),
        ("products", "Powidła = 5901234123457\nCatering".into()),
        ("quality", "Receptury sprawdza technolog.".into()),
        ("contact.name", "Zofia Żak".into()),
        ("contact.email", "zofia@laka.pl".into()),
        ("consent", "yes".into()),
    ]
}

fn refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn applications(state: &AppState) -> usize {
    state.issuer.store.applications(None, 1000).await.unwrap().len()
}

#[tokio::test]
async fn the_form_refuses_bad_input_by_field_and_records_a_good_one_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let app = router(state.clone());
    let page = get(&app, "/apply").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("name=\"submission\"") && html.contains("enctype=\"multipart/form-data\""));
    assert!(!html.contains("<script"), "the form needs no script");

    let mut bad = good_fields("key-one-0123456789");
    bad[5].1 = "774-000-14-55".into(); // a wrong check digit
    bad[10].1 = "zofia(at)laka.pl".into();
    bad.pop(); // no consent
    let fake: &[u8] = b"<html>not a pdf</html>";
    let reply = send(
        &app,
        post_form(
            "/apply",
            multipart(&refs(&bad), &[("attachments", "statut.pdf", fake)]),
            None,
            "same-origin",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.text();
    for expected in [
        "f-entity-nip-error",
        "Cyfra kontrolna NIP",
        "f-contact-email-error",
        "f-consent-error",
        "to nie jest plik PDF",
    ] {
        assert!(html.contains(expected), "{expected} missing");
    }
    assert!(html.contains("value=\"Spółdzielnia Socjalna „Łąka”\""), "typed values are kept");
    assert_eq!(applications(&state).await, 0, "nothing half-written");

    let good = good_fields("key-two-0123456789");
    let first = send(
        &app,
        post_form(
            "/apply",
            multipart(&refs(&good), &[("attachments", "statut.pdf", PDF)]),
            None,
            "same-origin",
        ),
    )
    .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text());
    let location = first.header("location").unwrap().to_owned();
    assert!(location.starts_with("/apply/received/A"), "{location}");
    // A double click, or the form sent again after a reload: the same application.
    let again = send(
        &app,
        post_form(
            "/apply",
            multipart(&refs(&good), &[("attachments", "statut.pdf", PDF)]),
            None,
            "same-origin",
        ),
    )
    .await;
    assert_eq!(again.header("location"), Some(location.as_str()));
    assert_eq!(applications(&state).await, 1);
    let received = get(&app, &location).await;
    assert_eq!(received.status, StatusCode::OK);
    assert!(received.text().contains("Wniosek przyjęty"));
    assert!(!received.text().contains("zofia@laka.pl"), "the page does not show the address");
}

#[tokio::test]
async fn an_upload_of_50_mb_is_refused_by_name_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let app = router(state.clone());
    let mut big = PDF.to_vec();
    big.resize(50 * 1024 * 1024, b' ');
    let fields = good_fields("key-big-0123456789");
    let reply = send(
        &app,
        post_form(
            "/apply",
            multipart(&refs(&fields), &[("attachments", "skan.pdf", &big)]),
            None,
            "same-origin",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.text().contains("skan.pdf: 50.0 MB to więcej niż 10 MB"), "{}", reply.text());
    assert_eq!(applications(&state).await, 0);
    // Beyond the whole request's limit: a page that says so, not a cut connection.
    let mut huge = PDF.to_vec();
    huge.resize(super::UPLOAD_BODY + 1024, b' ');
    let reply = send(
        &app,
        post_form(
            "/apply",
            multipart(&refs(&fields), &[("attachments", "huge.pdf", &huge)]),
            None,
            "same-origin",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(reply.text().contains("Pliki razem mają więcej niż"), "{}", reply.text());
    assert_eq!(applications(&state).await, 0);
}

/// A sign-in link for `email`, made as the service makes them.
async fn link(state: &AppState, email: &str) -> String {
    let secret = crate::accounts::random_secret();
    let now = state.now();
    let mut tx = state.issuer.store.begin().await.unwrap();
    tx.insert_applicant_link(&crate::accounts::hash(&secret), email, now, now + 3600).await.unwrap();
    tx.commit().await.unwrap();
    secret
}

fn cookie_of(reply: &Reply) -> String {
    reply.header("set-cookie").unwrap().split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_case_opens_once_by_its_link_and_takes_answers_only_from_its_applicant() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let app = router(state.clone());
    let now = state.now();
    let form = crate::applications::tests::form();
    let id = state
        .applications
        .submit(
            form,
            vec![crate::applications::Upload { name: "statut.pdf".into(), bytes: PDF.to_vec(), dropped: 0 }],
            crate::applications::Via::Api,
            now,
        )
        .await
        .unwrap()
        .id;
    state.applications.ask("account:A1:anna@rops.test", &id, "Prosimy o statut.", now).await.unwrap();
    let secret = link(&state, "zofia@laka.pl").await;
    // Opening the link only shows a button: a mail scanner fetching it does not use it up.
    assert_eq!(get(&app, &format!("/case/login/{secret}")).await.status, StatusCode::OK);
    let cross = Request::post(format!("/case/login/{secret}"))
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, cross).await.status, StatusCode::FORBIDDEN);
    let used = Request::post(format!("/case/login/{secret}"))
        .header("sec-fetch-site", "same-origin")
        .body(Body::empty())
        .unwrap();
    let signed_in = send(&app, used).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let cookie = cookie_of(&signed_in);
    assert!(signed_in.header("set-cookie").unwrap().contains("HttpOnly"));
    let reused = Request::post(format!("/case/login/{secret}"))
        .header("sec-fetch-site", "same-origin")
        .body(Body::empty())
        .unwrap();
    let reused = send(&app, reused).await;
    assert_eq!(reused.status, StatusCode::GONE);
    assert!(reused.text().contains("Link już nie działa"));

    let with_cookie =
        |path: String| Request::get(path).header("cookie", &cookie).body(Body::empty()).unwrap();
    let home = send(&app, with_cookie("/case".into())).await;
    assert!(home.text().contains(&id), "the case is listed");
    let case = send(&app, with_cookie(format!("/case/{id}"))).await;
    assert_eq!(case.status, StatusCode::OK);
    let html = case.text();
    assert!(html.contains("Prosimy o statut.") && html.contains("zwrócony do uzupełnienia"));
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let files = state.issuer.store.application_files(&id).await.unwrap();
    let download = send(&app, with_cookie(format!("/case/{id}/files/{}", files[0].id))).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(download.header("content-disposition").unwrap().starts_with("attachment;"));
    assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(download.body, PDF);
    // Without the session, with a wrong token, or from another site: refused, nothing written.
    let answer = |csrf: &str| {
        multipart(
            &[("csrf", csrf), ("lang", "pl"), ("answer", "Statut w załączniku.")],
            &[("attachments", "statut2.pdf", PDF)],
        )
    };
    assert_eq!(
        send(&app, post_form(&format!("/case/{id}"), answer(&csrf), None, "same-origin")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, post_form(&format!("/case/{id}"), answer("forged"), Some(&cookie), "same-origin"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, post_form(&format!("/case/{id}"), answer(&csrf), Some(&cookie), "cross-site"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(state.issuer.store.application_events(&id).await.unwrap().len(), 2);
    let done =
        send(&app, post_form(&format!("/case/{id}"), answer(&csrf), Some(&cookie), "same-origin")).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(state.issuer.store.application(&id).await.unwrap().unwrap().status, "answered");
    assert_eq!(state.issuer.store.application_files(&id).await.unwrap().len(), 2);
    // Someone else's case is not there for this applicant.
    let other = crate::applications::form::ApplicationForm {
        contact: crate::applications::form::ContactPart {
            name: "Jan".into(),
            email: "jan@inny.pl".into(),
            phone: None,
        },
        ..crate::applications::tests::form()
    };
    let other =
        state.applications.submit(other, vec![], crate::applications::Via::Api, now).await.unwrap().id;
    assert_eq!(send(&app, with_cookie(format!("/case/{other}"))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &format!("/case/{id}")).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_api_records_an_application_and_names_the_field_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path()).await;
    let app = router(state.clone());
    let body = |value: serde_json::Value| {
        Request::post("/api/v1/applications")
            .header("content-type", "application/json")
            .body(Body::from(value.to_string()))
            .unwrap()
    };
    let mut good = serde_json::json!({
        "entity": {"name": "Fundacja „Dobre Ręce”", "legal_form": "foundation", "domains": ["dobrerece.pl"], "nip": "9462612475"},
        "products": [{"name": "Szycie na miarę"}],
        "quality": "Krawcowa z dyplomem mistrzowskim.",
        "contact": {"name": "Ewa Łuk", "email": "biuro@dobrerece.pl"},
        "consent": true,
        "attachments": [{"name": "statut.pdf", "content_base64": "JVBERi0xLjQKJSVFT0YK"}]
    });
    let reply = send(&app, body(good.clone())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.json()["status"], "submitted");
    assert_eq!(state.issuer.store.application_files(&id).await.unwrap().len(), 1);
    good["entity"]["nip"] = "9462612476".into();
    let reply = send(&app, body(good.clone())).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["error"]["field"], "entity.nip");
    good["entity"]["nip"] = "9462612475".into();
    good["attachments"][0]["content_base64"] = "PGh0bWw+".into(); // "<html>"
    let reply = send(&app, body(good.clone())).await;
    assert_eq!(reply.json()["error"]["field"], "attachments");
    good["unexpected"] = true.into();
    assert_eq!(send(&app, body(good)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(applications(&state).await, 1);
}
