//! The trust list: issuers added and removed through the CLI and the admin API, and the signed list
//! at `/.well-known/zp-trust-list.jwt` verified with the issuer's published keys, as a badge on
//! another issuer's page would.

use reqwest::blocking::Response;
use serde_json::{Value, json};
use zp_shared::trust_list::TRUST_LIST_PATH;
use zp_shared::{VerifiedTrustList, verify_trust_list};

use crate::harness::{Server, now};

const OPOLE: &str = "https://zp.rops.opole.pl";
const MAZOWSZE: &str = "https://zp.mcps.pl";

/// Fetches the trust list and checks how it is served; gives it verified, with its `max-age`.
fn fetch_trust_list(server: &Server) -> (VerifiedTrustList, u64) {
    let response = server
        .http
        .get(server.at(TRUST_LIST_PATH))
        .header("origin", "https://sklep.example.pl")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("content-type").as_deref(), Some("application/jwt"));
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    let cache_control = header("cache-control").unwrap();
    let max_age: u64 = cache_control
        .strip_prefix("public, max-age=")
        .and_then(|age| age.parse().ok())
        .unwrap_or_else(|| panic!("Cache-Control: {cache_control}"));
    let token = response.text().unwrap();
    let uri = format!("{}{TRUST_LIST_PATH}", server.base);
    let list = verify_trust_list(&token, &server.keys(), now(), &server.rules(), &uri)
        .unwrap_or_else(|err| panic!("the trust list does not verify: {err}"));
    assert!(max_age <= list.claims.ttl, "max-age {max_age} beyond ttl {}", list.claims.ttl);
    assert_eq!(list.claims.ttl, 300);
    assert_eq!(list.claims.exp, list.claims.iat + 300 + 60);
    (list, max_age)
}

fn listed(list: &VerifiedTrustList) -> Vec<&str> {
    let mut urls: Vec<&str> = list.claims.issuers.iter().map(|i| i.iss.as_str()).collect();
    urls.sort_unstable();
    urls
}

fn stderr_of(server: &Server, args: &[&str]) -> String {
    let output = server.cli(args);
    assert!(!output.status.success(), "zp {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn cli_adds_lists_and_removes_issuers_and_the_signed_list_follows() {
    let server = Server::start();
    let (empty, _) = fetch_trust_list(&server);
    assert!(empty.claims.issuers.is_empty());
    assert_eq!(empty.claims.iss, server.base);

    let added = server.cli_json(&[
        "issuers",
        "add",
        OPOLE,
        "--name",
        "Regionalny Ośrodek Polityki Społecznej w Opolu",
        "--voivodeship",
        "opolskie",
    ]);
    assert_eq!(added["iss"], OPOLE);
    assert_eq!(added["jwks_uri"], format!("{OPOLE}/.well-known/jwks.json"));
    server.cli_json(&["issuers", "add", MAZOWSZE, "--name", "Mazowieckie Centrum Polityki Społecznej"]);
    // http is allowed on loopback, so a second test issuer can be named.
    server.cli_json(&["issuers", "add", "http://127.0.0.1:9", "--name", "Test issuer"]);

    let table = server.cli(&["issuers", "list"]);
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("URL "), "{table}");
    assert!(table.contains(OPOLE) && table.contains("opolskie") && table.contains("Test issuer"), "{table}");
    let json = server.cli_json(&["issuers", "list", "--json"]);
    assert_eq!(json.as_array().unwrap().len(), 3);

    let (list, _) = fetch_trust_list(&server);
    assert_eq!(listed(&list), ["http://127.0.0.1:9", MAZOWSZE, OPOLE]);
    let opole = list.claims.issuers.iter().find(|i| i.iss == OPOLE).unwrap();
    assert_eq!(opole.name, "Regionalny Ośrodek Polityki Społecznej w Opolu");
    assert_eq!(opole.voivodeship.as_deref(), Some("opolskie"));
    assert_eq!(opole.jwks_uri, format!("{OPOLE}/.well-known/jwks.json"));

    let removed = server.cli_json(&["issuers", "remove", OPOLE]);
    assert_eq!(removed, json!({ "url": OPOLE, "removed": true }));
    let (list, _) = fetch_trust_list(&server);
    assert_eq!(listed(&list), ["http://127.0.0.1:9", MAZOWSZE]);
    assert!(stderr_of(&server, &["issuers", "remove", OPOLE]).contains("does not exist"));

    let actions: Vec<Value> =
        server.admin_get("/audit").as_array().unwrap().iter().map(|e| e["action"].clone()).collect();
    let trust_actions: Vec<&Value> =
        actions.iter().filter(|a| a.as_str().unwrap().starts_with("trusted_issuer.")).collect();
    assert_eq!(trust_actions.len(), 4, "{actions:?}");
}

#[test]
fn cli_refuses_bad_urls_naming_the_problem() {
    let server = Server::start();
    for (url, problem) in [
        ("http://zp.mcps.pl", "URL: must use https (http only on loopback)"),
        ("https://admin:secret@zp.mcps.pl", "URL: must not carry a user name or password"),
        ("https://zp.mcps.pl/", "URL: must not end with `/`"),
        ("https://zp.mcps.pl?x=1", "URL: must not have a query (`?`)"),
        ("zp.mcps.pl", "URL: must be an absolute URL"),
    ] {
        let stderr = stderr_of(&server, &["issuers", "add", url, "--name", "MCPS"]);
        assert!(stderr.contains(problem), "{url}: {stderr}");
    }
    let own = server.base.clone();
    assert!(
        stderr_of(&server, &["issuers", "add", &own, "--name", "Me"])
            .contains("url: is this issuer's own URL")
    );
    server.cli_json(&["issuers", "add", OPOLE, "--name", "ROPS"]);
    assert!(
        stderr_of(&server, &["issuers", "add", OPOLE, "--name", "ROPS"])
            .contains("already on the trust list")
    );
    assert!(
        stderr_of(&server, &["issuers", "add", MAZOWSZE, "--name", "MCPS", "--voivodeship", "mazowsze"])
            .contains("voivodeship: must be one of")
    );
    assert_eq!(server.cli_json(&["issuers", "list", "--json"]).as_array().unwrap().len(), 1);
}

fn admin_delete(server: &Server, url: &str, key: Option<&str>) -> Response {
    let target =
        reqwest::Url::parse_with_params(&server.at("/api/v1/admin/issuers"), [("url", url)]).unwrap();
    let mut request = server.http.delete(target);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().unwrap()
}

fn assert_error(response: Response, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["field"].as_str(), field, "{body}");
}

#[test]
fn admin_api_adds_lists_and_removes_issuers() {
    let server = Server::start();
    let issuers = server.at("/api/v1/admin/issuers");
    let body = json!({ "url": OPOLE, "name": "ROPS w Opolu", "voivodeship": "opolskie" });

    // Without a key nothing is read or changed.
    assert_error(server.http.get(&issuers).send().unwrap(), 401, "unauthorized", Some("Authorization"));
    assert_error(
        server.http.post(&issuers).json(&body).send().unwrap(),
        401,
        "unauthorized",
        Some("Authorization"),
    );
    assert_error(admin_delete(&server, OPOLE, None), 401, "unauthorized", Some("Authorization"));
    assert_error(admin_delete(&server, OPOLE, Some("zpk_wrong")), 401, "unauthorized", Some("Authorization"));

    let created = server.admin_post("/issuers", &body);
    assert_eq!(created.status(), 201);
    let created: Value = created.json().unwrap();
    assert_eq!(created["iss"], OPOLE);
    assert_eq!(created["voivodeship"], "opolskie");
    assert_eq!(server.admin_get("/issuers"), json!([created]));

    for (bad, status, code, field) in [
        (json!({ "url": "http://zp.mcps.pl", "name": "MCPS" }), 422, "invalid_field", "url"),
        (json!({ "url": "https://u@zp.mcps.pl", "name": "MCPS" }), 422, "invalid_field", "url"),
        (json!({ "url": MAZOWSZE, "name": "" }), 422, "invalid_field", "name"),
        (
            json!({ "url": MAZOWSZE, "name": "MCPS", "voivodeship": "Mazowsze" }),
            422,
            "invalid_field",
            "voivodeship",
        ),
        (
            json!({ "url": MAZOWSZE, "name": "MCPS", "jwks_uri": "https://evil.example/jwks" }),
            422,
            "invalid_field",
            "jwks_uri",
        ),
        (json!({ "name": "MCPS" }), 422, "invalid_field", "url"),
        (json!({ "url": OPOLE, "name": "Again" }), 409, "conflict", "url"),
    ] {
        let response = server.admin_post("/issuers", &bad);
        let status_found = response.status();
        let reply: Value = response.json().unwrap();
        assert_eq!(status_found, status, "{bad}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{bad}: {reply}");
        assert_eq!(reply["error"]["field"], field, "{bad}: {reply}");
    }
    let bad_url: Value =
        server.admin_post("/issuers", &json!({ "url": "http://zp.mcps.pl", "name": "MCPS" })).json().unwrap();
    assert_eq!(bad_url["error"]["message"], "url: must use https (http only on loopback)");
    assert_eq!(server.admin_get("/issuers").as_array().unwrap().len(), 1, "a refused change wrote something");

    let (list, _) = fetch_trust_list(&server);
    assert_eq!(listed(&list), [OPOLE]);

    let key = server.admin_key.clone();
    assert_eq!(admin_delete(&server, OPOLE, Some(&key)).status(), 204);
    assert_error(admin_delete(&server, OPOLE, Some(&key)), 404, "not_found", None);
    let no_url = server.http.delete(&issuers).bearer_auth(&key).send().unwrap();
    assert_eq!(no_url.status(), 422);
    assert_eq!(server.admin_get("/issuers"), json!([]));
    let (list, max_age) = fetch_trust_list(&server);
    assert!(list.claims.issuers.is_empty());
    assert!(max_age <= 300);
}
