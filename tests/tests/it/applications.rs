//! The application cycle against the real binary and a real SMTP server (the mail tests' sink):
//! the acknowledgement and its single-use link, a link that expires, the board's question and the
//! applicant's answer, the approval that issues the certificate, a renewal that extends it, and
//! letters written while the SMTP server is down arriving once it is back — each exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::harness::{Server, now};
use crate::mail::{Received, Sink, outbox, wait_outbox};

const DAY: i64 = 86_400;
const BOUNDARY: &str = "zp-case-boundary";

fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn application(email: &str) -> Value {
    json!({
        "entity": {
            "name": "Spółdzielnia Socjalna „Żuraw”",
            "legal_form": "social_cooperative",
            "domains": ["zuraw.example.pl"],
            "nip": "774-000-14-54",
            "city": "Kraśnik",
            "voivodeship": "lubelskie"
        },
        "products": [{ "name": "Pierogi z kaszą gryczaną" }],
        "quality": "Lepimy ręcznie, z mąki z lokalnego młyna; każda partia jest opisana.",
        "contact": { "name": "Łucja Źrebiec", "email": email },
        "consent": true,
        "attachments": [{ "name": "statut.pdf", "content_base64": "JVBERi0xLjQKJSVFT0YK" }]
    })
}

fn submit(server: &Server, body: &Value) -> String {
    let response = client().post(server.at("/api/v1/applications")).json(body).send().unwrap();
    let status = response.status();
    let text = response.text().unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str::<Value>(&text).unwrap()["id"].as_str().unwrap().to_owned()
}

/// The link in a letter's plain-text part that starts with `prefix`.
fn link_in(letter: &Received, prefix: &str) -> String {
    let (text, html) = letter.parts();
    assert!(html.contains(prefix), "the HTML part has the link too");
    let start = text.find(prefix).unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// Uses a sign-in link as the page's button does: the session cookie, or the status.
fn sign_in(server: &Server, link: &str) -> Result<String, StatusCode> {
    let path = link.strip_prefix(&server.base).unwrap();
    let response = client().post(server.at(path)).header("sec-fetch-site", "same-origin").send().unwrap();
    if response.status() != StatusCode::SEE_OTHER {
        return Err(response.status());
    }
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    Ok(cookie.split(';').next().unwrap().to_owned())
}

/// Asks for a new sign-in link on `/case`.
fn ask_link(server: &Server, email: &str) {
    let asked = client()
        .post(server.at("/case"))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("lang=pl&email={email}"))
        .send()
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
}

/// Answers the board on the case's page, with a file.
fn answer(server: &Server, cookie: &str, id: &str, text: &str) {
    let page = client()
        .get(server.at(&format!("/case/{id}")))
        .header("cookie", cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let mut body = String::new();
    for (name, value) in [("csrf", csrf), ("lang", "pl"), ("answer", text)] {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"wyniki.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\n%%EOF\n\r\n--{BOUNDARY}--\r\n"
    ));
    let response = client()
        .post(server.at(&format!("/case/{id}")))
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().unwrap());
}

/// The server once every letter it wrote is marked sent: killed while a letter is between the
/// SMTP server's acceptance and that mark, it would send it again after the restart (with the
/// same Message-ID) — the documented gap of a kill -9, which these restarts are not about.
fn settled(server: Server) -> Server {
    wait_outbox(&server, Duration::from_secs(30), "every letter sent", |rows| {
        rows.iter().all(|r| r.state == "sent")
    });
    server
}

/// Every message-ID the sink received, with how many times.
fn received_ids(sink: &Sink) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for message in sink.messages() {
        *seen.entry(message.message_id()).or_insert(0) += 1;
    }
    seen
}

fn yesterday() -> String {
    crate::lifecycle::time_date(now() - DAY)
}

#[test]
fn the_cycle_by_mail_from_application_to_certificate_and_renewal() {
    let _busy = crate::busy();
    let mail = tempfile::tempdir().unwrap();
    let sink = Sink::start(mail.path(), 0);
    let smtp = sink.url();
    let port = sink.port;
    let server = Server::start_with(&["--smtp-url", &smtp, "--mail-retry-after", "1"]);
    let email = "lucja@zuraw.example.pl";

    // The acknowledgement, with a link that works once.
    let id = submit(&server, &application(email));
    let ack = &sink.wait_for(1, Duration::from_secs(30))[0];
    assert_eq!(ack.header("Subject"), format!("Wniosek {id} przyjęty — Zakup Prospołeczny"));
    assert!(ack.header("To").contains(email));
    let (text, _) = ack.parts();
    assert!(text.contains("„Spółdzielnia Socjalna „Żuraw”") || text.contains("Żuraw"), "{text}");
    let link = link_in(ack, &format!("{}/case/login/", server.base));
    sign_in(&server, &link).expect("the link signs in");
    assert_eq!(sign_in(&server, &link), Err(StatusCode::GONE), "a link works once");

    // A new link asked for on /case, unused for 73 hours, has expired.
    ask_link(&server, email);
    let letters = sink.wait_for(2, Duration::from_secs(30));
    let late_link = link_in(&letters[1], &format!("{}/case/login/", server.base));
    let server = settled(server).kill_hard_and_restart_with(&[
        "--smtp-url",
        &smtp,
        "--mail-retry-after",
        "1",
        "--clock-offset",
        &(73 * 3600).to_string(),
    ]);
    assert_eq!(sign_in(&server, &late_link), Err(StatusCode::GONE), "an expired link");
    let server =
        settled(server).kill_hard_and_restart_with(&["--smtp-url", &smtp, "--mail-retry-after", "1"]);

    // The sessions of before the clock jumped have ended: a fresh link.
    ask_link(&server, email);
    let letters = sink.wait_for(3, Duration::from_secs(30));
    let cookie = sign_in(&server, &link_in(&letters[2], &format!("{}/case/login/", server.base))).unwrap();

    // The board asks; the applicant answers on the case's page; the board approves.
    server.admin(
        &format!("/applications/{id}/question"),
        &json!({ "question": "Prosimy o wyniki badań sanepidu." }),
    );
    let letters = sink.wait_for(4, Duration::from_secs(30));
    assert_eq!(letters[3].header("Subject"), format!("Wniosek {id}: prośba o uzupełnienie"));
    assert!(letters[3].parts().0.contains("Prosimy o wyniki badań sanepidu."));
    answer(&server, &cookie, &id, "Wyniki w załączniku.");
    assert_eq!(server.admin_get(&format!("/applications/{id}"))["status"], "answered");
    let approved = server.admin(
        &format!("/applications/{id}/approve"),
        &json!({ "resolution": "3/2026", "resolution_date": yesterday() }),
    );
    assert_eq!(approved["status"], "approved");
    let certificate = approved["certificate_id"].as_str().unwrap().to_owned();
    let issued = server.get_json(&format!("/api/v1/certificates/{certificate}"));
    assert_eq!(issued["status"], "valid");
    assert_eq!(issued["entity"]["name"], "Spółdzielnia Socjalna „Żuraw”");
    let letters = sink.wait_for(5, Duration::from_secs(30));
    let number = issued["number"].as_str().unwrap();
    assert_eq!(
        letters[4].header("Subject"),
        format!("Wniosek {id} rozpatrzony pozytywnie — certyfikat {number}")
    );
    assert!(letters[4].parts().0.contains(&format!("{}/v/{certificate}", server.base)));
    let audit = server.admin_get("/audit?limit=1000");
    let issue = audit.as_array().unwrap().iter().find(|e| e["action"] == "certificate.issue").unwrap();
    let details: Value = serde_json::from_str(issue["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["decision"]["resolution"], "3/2026", "the resolution is in the audit entry");

    // A renewal applied for 30 days before the end, approved: the same certificate, a year longer.
    let until = issued["valid_until_unix"].as_i64().unwrap();
    let offset = (until - 30 * DAY - now()).to_string();
    let server = settled(server).kill_hard_and_restart_with(&[
        "--smtp-url",
        &smtp,
        "--mail-retry-after",
        "1",
        "--clock-offset",
        &offset,
    ]);
    let mut renewal = application(email);
    renewal["kind"] = "renewal".into();
    renewal["certificate_id"] = certificate.clone().into();
    let renewal = submit(&server, &renewal);
    let resolution_date = crate::lifecycle::time_date(until - 31 * DAY);
    let renewed = server.admin(
        &format!("/applications/{renewal}/approve"),
        &json!({ "resolution": "9/2027", "resolution_date": resolution_date }),
    );
    assert_eq!(renewed["certificate_id"], certificate.as_str());
    let after = server.get_json(&format!("/api/v1/certificates/{certificate}"));
    let added = after["valid_until_unix"].as_i64().unwrap() - until;
    assert!((365 * DAY..=366 * DAY).contains(&added), "renewed by {added} s");
    assert_eq!(server.admin_get("/entities").as_array().unwrap().len(), 1, "no second entity");

    // The SMTP server goes down; an application and a refusal write letters that wait.
    // Only once the server has heard the SMTP server accept each letter: a server killed between
    // receiving a message and answering it would leave the sender to try again (the same
    // Message-ID, which receivers recognise), and that is not what this part shows.
    sink.wait_for(7, Duration::from_secs(30));
    wait_outbox(&server, Duration::from_secs(30), "every letter so far sent", |rows| {
        rows.iter().all(|r| r.state == "sent")
    });
    let before = received_ids(&sink);
    sink.stop();
    let other = submit(&server, &application("biuro@inny.example.pl"));
    server.admin(
        &format!("/applications/{other}/refuse"),
        &json!({ "reasons": "Brak dokumentów założycielskich." }),
    );
    wait_outbox(&server, Duration::from_secs(20), "two letters tried and waiting", |rows| {
        rows.iter().filter(|r| r.state == "pending" && r.attempts > 0).count() >= 2
    });
    let sink = Sink::start(mail.path(), port);
    let rows = wait_outbox(&server, Duration::from_secs(60), "every letter sent", |rows| {
        rows.iter().all(|r| r.state == "sent")
    });
    sink.wait_for(rows.len(), Duration::from_secs(30));
    let after = received_ids(&sink);
    assert_eq!(after.len(), rows.len(), "one message per letter: {after:?}");
    assert!(after.values().all(|&n| n == 1), "none twice: {after:?}");
    assert!(before.keys().all(|id| after.contains_key(id)));
    let subjects: Vec<String> = sink.messages().iter().map(|m| m.header("Subject")).collect();
    assert!(subjects.iter().any(|s| s == &format!("Wniosek {other}: decyzja odmowna")), "{subjects:?}");
    assert_eq!(outbox(&server).len(), rows.len());
}

fn step<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("apply.mjs never reached {name:?}: {result:#}"))
}

fn run(plan: &Value) -> Value {
    let output = crate::run_node_json("apply.mjs", plan);
    let result = output.json.clone();
    assert!(
        result["error"].is_null(),
        "apply.mjs stopped at {}: {}\n{}\n{}",
        result["failedAt"],
        result["error"],
        result["failedText"],
        output.stderr
    );
    assert!(output.success, "apply.mjs failed:\n{}", output.stderr);
    assert_eq!(result["pageErrors"], json!([]), "scripts failed on the pages");
    for check in result["axe"].as_array().unwrap() {
        assert_eq!(check["violations"], json!([]), "axe-core on {}: {check:#}", check["name"]);
    }
    result
}

/// The id in a `/apply/received/{id}` URL.
fn received_id(url: &str) -> String {
    url.split("/apply/received/").nth(1).unwrap().split('?').next().unwrap().to_owned()
}

#[test]
fn applicants_and_staff_in_a_real_browser() {
    let _busy = crate::busy();
    let mail = tempfile::tempdir().unwrap();
    let sink = Sink::start(mail.path(), 0);
    let server = Server::start_with(&["--smtp-url", &sink.url(), "--mail-retry-after", "1"]);
    let created = server.cli(&["user", "create", "--email", "kapitula@rops.test", "--role", "staff"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let printed = String::from_utf8_lossy(&created.stdout);
    let enrol = printed.lines().find(|l| l.contains("/panel/enrol/")).unwrap().trim().to_owned();
    let port = server.url.rsplit(':').next().unwrap();
    let files = tempfile::tempdir().unwrap();
    let pdf = files.path().join("zdjęcia sit.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").unwrap();
    let fake = files.path().join("statut.pdf");
    std::fs::write(&fake, b"<html><body>not a PDF</body></html>").unwrap();
    let shots = crate::browser::workspace().join("test-output");
    std::fs::create_dir_all(&shots).unwrap();
    let emails = ["jozef@sitarze.example.pl", "ogrod@fundacja-ogrod.example.pl"];

    let applied = run(&json!({
        "phase": "apply", "base": server.base, "emails": emails, "pdf": pdf, "fakePdf": fake, "shots": shots,
    }));
    let refused = step(&applied, "refused");
    let errors = refused["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e.as_str().unwrap().contains("Cyfra kontrolna NIP")), "{errors:?}");
    assert!(errors.iter().any(|e| e.as_str().unwrap().contains("to nie jest plik PDF")), "{errors:?}");
    assert_eq!(refused["kept"], "Spółdzielnia Socjalna „Sitarze”");
    let first = received_id(step(&applied, "received without scripts")["url"].as_str().unwrap());
    let second = received_id(step(&applied, "received with scripts")["url"].as_str().unwrap());
    let listed = server.admin_get("/applications");
    assert_eq!(listed.as_array().unwrap().len(), 2, "the refused form recorded nothing: {listed:#}");
    let stored = server.admin_get(&format!("/applications/{first}"));
    assert_eq!(stored["application"]["products"][0]["gtin"], "5901234123457");

    // The acknowledgements, with their links.
    let letters = sink.wait_for(2, Duration::from_secs(30));
    let link_for = |email: &str| {
        let letter = letters.iter().find(|l| l.header("To").contains(email)).unwrap();
        link_in(letter, &format!("{}/case/login/", server.base))
    };
    let links = [link_for(emails[0]), link_for(emails[1])];
    let english = letters
        .iter()
        .find(|l| l.header("Subject") == format!("Application {second} received — Zakup Prospołeczny"))
        .expect("the English applicant's letter is in English");
    assert!(english.parts().1.contains(r#"<html lang="en">"#), "and says so to screen readers");

    let decided = run(&json!({
        "phase": "decide", "base": server.base, "panel": format!("http://localhost:{port}"), "enrol": enrol,
        "links": links, "ids": [first, second], "pdf": pdf, "shots": shots, "resolutionDate": yesterday(),
    }));
    assert!(step(&decided, "case opened")["state"].as_str().unwrap().contains("złożony"));
    assert!(step(&decided, "link reused")["heading"].as_str().unwrap().contains("Link już nie działa"));
    assert!(step(&decided, "answered")["state"].as_str().unwrap().contains("uzupełniony"));
    let certificate = step(&decided, "approved")["certificate"].as_str().unwrap().to_owned();
    assert_eq!(server.get_json(&format!("/api/v1/certificates/{certificate}"))["status"], "valid");
    assert!(step(&decided, "decision seen")["text"].as_str().unwrap().contains("uchwałą nr 14/2026"));
    let renewal = step(&decided, "renewal form");
    assert_eq!(renewal["entity"], "Spółdzielnia Socjalna „Sitarze”");
    assert_eq!(renewal["kind"], "renewal");
    assert!(renewal["snippet"].as_str().unwrap().contains("<zakup-prospoleczny token=\"eyJ"));
    assert!(step(&decided, "refusal seen")["text"].as_str().unwrap().contains("nie prowadzi działalności"));
    let stored = server.admin_get(&format!("/applications/{first}"));
    assert_eq!(stored["status"], "approved");
    assert_eq!(
        server.get_json(&format!("/api/v1/certificates/{certificate}"))["number"]
            .as_str()
            .map(|n| n.starts_with("ZP/")),
        Some(true)
    );
    // Every letter went out once: two acknowledgements, the question, the decision and the refusal.
    let rows = wait_outbox(&server, Duration::from_secs(30), "every letter sent", |rows| {
        rows.len() >= 5 && rows.iter().all(|r| r.state == "sent")
    });
    sink.wait_for(rows.len(), Duration::from_secs(30));
    let ids = received_ids(&sink);
    assert_eq!(ids.len(), rows.len(), "{ids:?}");
    assert!(ids.values().all(|&n| n == 1), "none twice: {ids:?}");
}
