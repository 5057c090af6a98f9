//! Bad input, table-driven: every case gets a 4xx with the JSON error envelope naming the
//! problem; nothing is written; nothing returns 500.

use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

use crate::harness::Server;

#[derive(Clone, Copy)]
enum Auth {
    Key,
    Missing,
    Wrong,
    Basic,
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    auth: Auth,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    name: &'static str,
    path: &str,
    body: Value,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        name,
        method: "POST",
        path: path.to_owned(),
        auth: Auth::Key,
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        status,
        code,
        field,
    }
}

fn entity_with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut entity = json!({ "name": "Fundacja Próba", "legal_form": "foundation", "domains": ["proba.pl"] });
    change(entity.as_object_mut().unwrap());
    entity
}

fn send(server: &Server, case: &Case) -> RequestBuilder {
    let url = server.at(&case.path);
    let mut request = match case.method {
        "GET" => server.http.get(url),
        _ => server.http.post(url),
    };
    request = match case.auth {
        Auth::Key => request.bearer_auth(&server.admin_key),
        Auth::Missing => request,
        Auth::Wrong => request.bearer_auth("zpk_NOTAREALKEY000000000000000000000000000"),
        Auth::Basic => request.header("authorization", "Basic YWRtaW46YWRtaW4="),
    };
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    if case.method == "POST" { request.body(case.body.clone()) } else { request }
}

#[test]
fn bad_input_gets_a_named_4xx_and_writes_nothing() {
    let server = Server::start();
    let entity = server.entity("Spółdzielnia Socjalna Istniejąca");
    let entity_id = entity["id"].as_str().unwrap().to_owned();
    let certificate = server.certificate(&entity_id);
    let cert_id = certificate["id"].as_str().unwrap().to_owned();
    let token = certificate["token"].as_str().unwrap().to_owned();
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'Q' } else { 'A' });
    let (head, _) = token.rsplit_once('.').unwrap();
    let other_signature = format!("{head}.{}", "A".repeat(86));

    let mut cases = vec![
        Case {
            content_type: Some("application/json"),
            body: b"{\"name\":".to_vec(),
            ..case("truncated JSON", "/api/v1/admin/entities", json!(null), 400, "malformed_json", None)
        },
        Case {
            body: format!("{} trailing", entity_with(|_| {})).into_bytes(),
            ..case("trailing data", "/api/v1/admin/entities", json!(null), 400, "malformed_json", None)
        },
        Case {
            content_type: Some("text/plain"),
            ..case(
                "not JSON",
                "/api/v1/admin/entities",
                entity_with(|_| {}),
                415,
                "unsupported_media_type",
                None,
            )
        },
        Case {
            content_type: None,
            ..case(
                "no content type",
                "/api/v1/admin/entities",
                entity_with(|_| {}),
                415,
                "unsupported_media_type",
                None,
            )
        },
        case("array body", "/api/v1/admin/entities", json!([]), 422, "invalid_field", None),
        case(
            "name of the wrong type",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("name".into(), json!(5));
            }),
            422,
            "invalid_field",
            Some("name"),
        ),
        case(
            "domains of the wrong type",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("domains".into(), json!("proba.pl"));
            }),
            422,
            "invalid_field",
            Some("domains"),
        ),
        case(
            "unknown field",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("colour".into(), json!("red"));
            }),
            422,
            "invalid_field",
            Some("colour"),
        ),
        case(
            "missing name",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.remove("name");
            }),
            422,
            "invalid_field",
            Some("name"),
        ),
        case(
            "empty name",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("name".into(), json!("   "));
            }),
            422,
            "invalid_field",
            Some("name"),
        ),
        case(
            "name too long",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("name".into(), json!("x".repeat(201)));
            }),
            422,
            "invalid_field",
            Some("name"),
        ),
        case(
            "NIP check digit",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("nip".into(), json!("1234563217"));
            }),
            422,
            "invalid_field",
            Some("nip"),
        ),
        case(
            "NIP length",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("nip".into(), json!("123456321"));
            }),
            422,
            "invalid_field",
            Some("nip"),
        ),
        case(
            "REGON check digit",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("regon".into(), json!("123456786"));
            }),
            422,
            "invalid_field",
            Some("regon"),
        ),
        case(
            "REGON-14 prefix",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("regon".into(), json!("12345678612340"));
            }),
            422,
            "invalid_field",
            Some("regon"),
        ),
        case(
            "KRS length",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("krs".into(), json!("12345"));
            }),
            422,
            "invalid_field",
            Some("krs"),
        ),
        case(
            "legal form",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("legal_form".into(), json!("sp_z_oo"));
            }),
            422,
            "invalid_field",
            Some("legal_form"),
        ),
        case(
            "no domains",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("domains".into(), json!([]));
            }),
            422,
            "invalid_field",
            Some("domains"),
        ),
        case(
            "bad domain",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("domains".into(), json!(["exa mple.pl"]));
            }),
            422,
            "invalid_field",
            Some("domains[0]"),
        ),
        case(
            "voivodeship",
            "/api/v1/admin/entities",
            entity_with(|e| {
                e.insert("voivodeship".into(), json!("bawaria"));
            }),
            422,
            "invalid_field",
            Some("voivodeship"),
        ),
        case(
            "domains too long for a token",
            "/api/v1/admin/entities",
            entity_with(|e| {
                let label = |c: &str| c.repeat(60);
                let domains: Vec<String> = (0..20)
                    .map(|i| format!("{}{i}.{}.{}.{}.pl", label("a"), label("b"), label("c"), label("d")))
                    .collect();
                e.insert("domains".into(), json!(domains));
            }),
            422,
            "invalid_field",
            Some("domains"),
        ),
        Case {
            body: vec![b' '; 100 * 1024],
            ..case("oversized body", "/api/v1/admin/entities", json!(null), 413, "body_too_large", None)
        },
        case(
            "unknown entity",
            "/api/v1/admin/certificates",
            json!({ "entity_id": "ENOPE", "products": [{ "name": "x" }] }),
            422,
            "invalid_field",
            Some("entity_id"),
        ),
        case(
            "no products",
            "/api/v1/admin/certificates",
            json!({ "entity_id": entity_id, "products": [] }),
            422,
            "invalid_field",
            Some("products"),
        ),
        case(
            "bad GTIN",
            "/api/v1/admin/certificates",
            json!({ "entity_id": entity_id, "products": [{ "name": "x", "gtin": "5901234123458" }] }),
            422,
            "invalid_field",
            Some("products[0].gtin"),
        ),
        case(
            "product of the wrong type",
            "/api/v1/admin/certificates",
            json!({ "entity_id": entity_id, "products": ["x"] }),
            422,
            "invalid_field",
            Some("products[0]"),
        ),
        case(
            "bad date",
            "/api/v1/admin/certificates",
            json!({ "entity_id": entity_id, "products": [{ "name": "x" }], "valid_from": "2026-13-01" }),
            422,
            "invalid_field",
            Some("valid_from"),
        ),
        case(
            "date too far",
            "/api/v1/admin/certificates",
            json!({ "entity_id": entity_id, "products": [{ "name": "x" }], "valid_from": "2099-01-01" }),
            422,
            "invalid_field",
            Some("valid_from"),
        ),
        case(
            "too many products",
            "/api/v1/admin/certificates",
            json!({ "entity_id": entity_id, "products": vec![json!({ "name": "x" }); 51] }),
            422,
            "invalid_field",
            Some("products"),
        ),
        case(
            "products too long for a token",
            "/api/v1/admin/certificates",
            json!({ "entity_id": entity_id, "products": vec![json!({ "name": "ś".repeat(200) }); 50] }),
            422,
            "invalid_field",
            Some("products"),
        ),
        case("renew unknown", "/api/v1/admin/certificates/ZZZZZZZZ/renew", json!({}), 404, "not_found", None),
        case(
            "renew non-ID",
            "/api/v1/admin/certificates/..%2F..%2Fetc/renew",
            json!({}),
            404,
            "not_found",
            None,
        ),
        case(
            "revoke without reason",
            &format!("/api/v1/admin/certificates/{cert_id}/revoke"),
            json!({}),
            422,
            "invalid_field",
            Some("reason"),
        ),
        case(
            "revoke with unknown reason",
            &format!("/api/v1/admin/certificates/{cert_id}/revoke"),
            json!({ "reason": "dislike" }),
            422,
            "invalid_field",
            Some("reason"),
        ),
        case(
            "suspend with unknown field",
            &format!("/api/v1/admin/certificates/{cert_id}/suspend"),
            json!({ "note": "x", "until": "tomorrow" }),
            422,
            "invalid_field",
            Some("until"),
        ),
        case(
            "reinstate an active certificate",
            &format!("/api/v1/admin/certificates/{cert_id}/reinstate"),
            json!({}),
            409,
            "conflict",
            None,
        ),
        Case {
            auth: Auth::Missing,
            ..case(
                "no API key",
                "/api/v1/admin/entities",
                entity_with(|_| {}),
                401,
                "unauthorized",
                Some("Authorization"),
            )
        },
        Case {
            auth: Auth::Wrong,
            ..case(
                "wrong API key",
                "/api/v1/admin/entities",
                entity_with(|_| {}),
                401,
                "unauthorized",
                Some("Authorization"),
            )
        },
        Case {
            auth: Auth::Basic,
            ..case(
                "basic auth",
                &format!("/api/v1/admin/certificates/{cert_id}/revoke"),
                json!({ "reason": "misuse" }),
                401,
                "unauthorized",
                Some("Authorization"),
            )
        },
        Case {
            method: "GET",
            auth: Auth::Missing,
            ..case(
                "no key to list",
                "/api/v1/admin/entities",
                json!(null),
                401,
                "unauthorized",
                Some("Authorization"),
            )
        },
        Case {
            method: "GET",
            ..case(
                "unknown certificate",
                "/api/v1/certificates/ZZZZZZZZ",
                json!(null),
                404,
                "not_found",
                None,
            )
        },
        Case {
            method: "GET",
            ..case(
                "hostile certificate ID",
                "/api/v1/certificates/'%20OR%201=1",
                json!(null),
                404,
                "not_found",
                None,
            )
        },
        Case {
            method: "GET",
            ..case(
                "limit too large",
                "/api/v1/certificates?limit=1000",
                json!(null),
                422,
                "invalid_field",
                Some("limit"),
            )
        },
        Case {
            method: "GET",
            ..case(
                "limit not a number",
                "/api/v1/certificates?limit=many",
                json!(null),
                422,
                "invalid_query",
                None,
            )
        },
        Case {
            method: "GET",
            ..case(
                "query too long",
                &format!("/api/v1/certificates?q={}", "a".repeat(201)),
                json!(null),
                422,
                "invalid_field",
                Some("q"),
            )
        },
        Case {
            method: "GET",
            ..case("unknown status list", "/api/v1/status-lists/7", json!(null), 404, "not_found", None)
        },
        Case {
            method: "GET",
            ..case("status list not a number", "/api/v1/status-lists/x", json!(null), 404, "not_found", None)
        },
        case(
            "verify: forged signature",
            "/api/v1/verify",
            json!({ "token": forged }),
            422,
            "bad_base64",
            Some("token"),
        ),
        case(
            "verify: signature of zeros",
            "/api/v1/verify",
            json!({ "token": other_signature }),
            422,
            "bad_signature",
            Some("token"),
        ),
        case(
            "verify: alg none",
            "/api/v1/verify",
            json!({ "token": "eyJhbGciOiJub25lIn0.e30." }),
            422,
            "alg_none",
            Some("token"),
        ),
        case(
            "verify: garbage",
            "/api/v1/verify",
            json!({ "token": "hello" }),
            422,
            "malformed",
            Some("token"),
        ),
        case(
            "verify: oversized token",
            "/api/v1/verify",
            json!({ "token": "a".repeat(9_000) }),
            422,
            "too_large",
            Some("token"),
        ),
        case(
            "verify: token of the wrong type",
            "/api/v1/verify",
            json!({ "token": 42 }),
            422,
            "invalid_field",
            Some("token"),
        ),
        case("verify: no token", "/api/v1/verify", json!({}), 422, "invalid_field", Some("token")),
    ];
    // The forged token differs in its last character; depending on that character the change
    // lands in the signature's padding bits (non-canonical) or in the signature itself.
    if let Some(c) = cases.iter_mut().find(|c| c.name == "verify: forged signature") {
        let forged_last = forged.chars().last().unwrap();
        if "AQgw".contains(forged_last) {
            c.code = "bad_signature";
        }
    }

    let entities_before = server.admin_get("/entities?limit=100").as_array().unwrap().len();
    let audit_before = server.admin_get("/audit?limit=1000").as_array().unwrap().len();
    let mut failures = Vec::new();
    for case in &cases {
        let response = send(&server, case).send().unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let error = &body["error"];
        let ok = status == case.status
            && error["code"] == case.code
            && error["message"].as_str().is_some_and(|m| !m.is_empty())
            && error.get("field").and_then(Value::as_str) == case.field;
        if !ok {
            failures.push(format!(
                "{}: expected {} {} {:?}, got {status} {text}",
                case.name, case.status, case.code, case.field
            ));
        }
        assert_ne!(status, 500, "{}: {text}", case.name);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing was written by any of them.
    assert_eq!(server.admin_get("/entities?limit=100").as_array().unwrap().len(), entities_before);
    assert_eq!(server.admin_get("/audit?limit=1000").as_array().unwrap().len(), audit_before);
    let view = server.get_json(&format!("/api/v1/certificates/{cert_id}"));
    assert_eq!(view["status"], "valid");
    assert_eq!(view["token"], token.as_str());

    // A second entity with the same NIP is refused, naming the field.
    let nip = json!({ "name": "A", "legal_form": "cis", "domains": ["a.pl"], "nip": "7740001454" });
    assert_eq!(server.admin_post("/entities", &nip).status(), 201);
    let again = server.admin_post("/entities", &nip);
    assert_eq!(again.status(), 422);
    assert_eq!(again.json::<Value>().unwrap()["error"]["field"], "nip");
}

#[test]
fn cli_refuses_bad_input_with_the_field_named() {
    let server = Server::start();
    let output = server.cli(&[
        "entity",
        "create",
        "--name",
        "X",
        "--legal-form",
        "cis",
        "--domain",
        "x.pl",
        "--nip",
        "1234563217",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nip:") && stderr.contains("check digit"), "{stderr}");
    let output = server.cli(&["cert", "revoke", "ZZZZZZZZ", "--reason", "dislike"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("reason code"));
    let output = server.cli(&["cert", "renew", "../../x"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a certificate ID"));
    assert_eq!(server.admin_get("/entities").as_array().unwrap().len(), 0);
}
