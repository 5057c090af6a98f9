//! Registry search (`/api/v1/certificates?q=` and the home page) with control characters in the
//! words, on SQLite and on PostgreSQL: they separate words as spaces do, never a 500.

use crate::harness::Server;

fn control_characters_separate_words(server: &Server) {
    let entity = server.entity("Spółdzielnia Socjalna „Zerowy Bajt”");
    let id = server.certificate(entity["id"].as_str().unwrap())["id"].as_str().unwrap().to_owned();
    for q in ["abc%00def", "%00", "%00%00%00", "zerowy%00bajt", "zero%01%1Fwy", "bajt%7F", "%0D%0Azerowy%09"]
    {
        let response = server.get(&format!("/api/v1/certificates?q={q}"));
        assert_eq!(response.status(), 200, "q={q}");
        let found: serde_json::Value = response.json().unwrap();
        let ids: Vec<&str> =
            found["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        let page = server.get(&format!("/?q={q}"));
        assert_eq!(page.status(), 200, "/?q={q}");
        let html = page.text().unwrap();
        if q.contains("zero") || q.contains("bajt") {
            assert_eq!(ids, [id.as_str()], "q={q}");
            assert!(html.contains(&format!("/v/{id}")), "/?q={q} lists {id}");
        } else if q == "abc%00def" {
            assert!(ids.is_empty(), "q={q}: {ids:?}");
        }
    }
    // Two words that are both in the entry, or one that is not.
    let both = server.get_json("/api/v1/certificates?q=zerowy%00bajt");
    assert_eq!(both["items"].as_array().unwrap().len(), 1);
    let one_missing = server.get_json("/api/v1/certificates?q=zerowy%00brak");
    assert!(one_missing["items"].as_array().unwrap().is_empty());
}

#[test]
fn control_characters_in_search_words_on_sqlite() {
    control_characters_separate_words(&Server::start());
}

#[test]
fn control_characters_in_search_words_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::postgres::database("search");
    let mut server = Server::spawn_with_db(
        &dir.path().join("data"),
        &database,
        &dir.path().join("keys"),
        "http://zp.search.test",
    );
    let created = server.cli_json(&["api-key", "create", "--name", "search"]);
    server.admin_key = created["key"].as_str().unwrap().to_owned();
    control_characters_separate_words(&server);
}
