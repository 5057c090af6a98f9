//! Admin authentication under guessing: failures are throttled per client address, and no
//! other client is held up by them.

use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::Value;

use crate::harness::Server;

/// `GET /api/v1/admin/entities` with `key` from `client`: the status, `Retry-After` and body.
fn list(server: &Server, client: &Client, key: &str) -> (u16, Option<u64>, Value) {
    let response = client.get(server.at("/api/v1/admin/entities")).bearer_auth(key).send().unwrap();
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, response.json().unwrap())
}

#[test]
fn failed_admin_authentications_are_throttled_per_client() {
    let server = Server::start();
    let guesser = Server::client_from([127, 0, 0, 2]);
    let wrong = |i: usize| format!("zpk_{i:024}");

    let answers: Vec<(u16, Option<u64>, Value)> =
        (0..40).map(|i| list(&server, &guesser, &wrong(i))).collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(statuses[..10], [401; 10], "ten failures are answered: {statuses:?}");
    assert_eq!(statuses[10..], [429; 30], "then the address waits: {statuses:?}");
    let (_, retry, body) = &answers[10];
    assert_eq!(body["error"]["code"], "too_many_failures", "{body}");
    assert_eq!(body["error"]["field"], "Authorization", "{body}");
    let first_wait = retry.expect("Retry-After on a 429");
    assert!((1..=60).contains(&first_wait), "Retry-After {first_wait}");

    // While it waits, no key is checked from that address, the right one included: otherwise
    // the 429s would not slow guessing down at all.
    assert_eq!(list(&server, &guesser, &server.admin_key).0, 429);

    // Every other client is served as before: the right key, and a wrong one from elsewhere.
    assert_eq!(list(&server, &server.http, &server.admin_key).0, 200);
    assert_eq!(list(&server, &Server::client_from([127, 0, 0, 3]), &wrong(99)).0, 401);

    // After the wait, a further failure makes the next wait longer.
    std::thread::sleep(Duration::from_secs(first_wait) + Duration::from_millis(200));
    assert_eq!(list(&server, &guesser, &wrong(100)).0, 401);
    let (status, retry, _) = list(&server, &guesser, &wrong(101));
    assert_eq!(status, 429);
    assert!(retry.unwrap() > first_wait, "the wait grows: {retry:?} after {first_wait}");
}
