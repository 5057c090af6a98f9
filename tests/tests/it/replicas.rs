//! Two `zp serve` processes on one PostgreSQL database, sharing a key directory and an issuer
//! URL, as replicas behind a load balancer: what one writes the other serves at once, concurrent
//! writes through both never share an ID, number or status index, and killing one mid-write
//! loses nothing it acknowledged.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, now, zp_binary};
use crate::lifecycle::{REVOKED, VALID, agree};

/// The issuer URL of both replicas: what a load balancer in front of them would answer to.
const BASE: &str = "http://zp.replicas.test";

struct Replicas {
    a: Server,
    b: Server,
    _dir: tempfile::TempDir,
}

/// Starts two replicas together on a fresh database and an empty key directory, and gives
/// both one admin API key (it lives in the database).
fn replicas() -> Replicas {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::postgres::database("replicas");
    let keys = dir.path().join("keys");
    let start = |name: &str| Server::spawn_with_db(&dir.path().join(name), &database, &keys, BASE);
    let (mut a, mut b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| start("a"));
        let b = scope.spawn(|| start("b"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let created = a.cli_json(&["api-key", "create", "--name", "replicas"]);
    let key = created["key"].as_str().unwrap().to_owned();
    a.admin_key = key.clone();
    b.admin_key = key;
    Replicas { a, b, _dir: dir }
}

fn token_of(certificate: &Value) -> String {
    certificate["token"].as_str().unwrap().to_owned()
}

#[test]
fn replicas_started_together_share_one_key_and_one_issuer() {
    let Replicas { a, b, _dir } = replicas();
    let jwks_a: Value = a.get_json("/.well-known/jwks.json");
    let jwks_b: Value = b.get_json("/.well-known/jwks.json");
    assert_eq!(jwks_a, jwks_b);
    assert_eq!(jwks_a["keys"].as_array().unwrap().len(), 1, "one first key, not one per replica");
    // The issuer URL is in the database: another process on it may omit it, not change it.
    let shared = &a.global[..a.global.iter().position(|arg| arg == "--base-url").unwrap()];
    let zp = |extra: &[&str]| {
        Command::new(zp_binary())
            .arg("--data-dir")
            .arg(a.data.join("elsewhere"))
            .args(shared)
            .args(extra)
            .args(["cert", "list"])
            .output()
            .unwrap()
    };
    assert!(zp(&[]).status.success());
    let other = zp(&["--base-url", "http://other.test"]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains(&format!("belongs to the issuer {BASE}")));
}

#[test]
fn a_certificate_issued_through_one_replica_is_visible_through_the_other() {
    let Replicas { a, b, _dir } = replicas();
    let entity = a.entity("Spółdzielnia Socjalna „Dwa Brzegi”");
    let entity_id = entity["id"].as_str().unwrap();
    let through_a = a.certificate(entity_id);
    let id = through_a["id"].as_str().unwrap();
    // B serves it at once, with the same token, which B's JWKS verifies.
    let on_b = b.get_json(&format!("/api/v1/certificates/{id}"));
    assert_eq!(on_b["number"], through_a["number"]);
    assert_eq!(on_b["token"], through_a["token"]);
    assert_eq!(b.admin_get(&format!("/entities/{entity_id}"))["name"], entity["name"]);
    agree(&b, id, &token_of(&through_a), &VALID);
    // And the other way round.
    let through_b = b.certificate(entity_id);
    let id_b = through_b["id"].as_str().unwrap();
    agree(&a, id_b, &token_of(&through_b), &VALID);
    assert_ne!(through_a["number"], through_b["number"]);
    for server in [&a, &b] {
        let found = server.get_json("/api/v1/certificates?q=brzegi");
        assert_eq!(found["items"].as_array().map(Vec::len), Some(2), "{found}");
    }
}

#[test]
fn a_revocation_through_one_replica_shows_on_the_other_at_once() {
    let Replicas { a, b, _dir } = replicas();
    let entity = a.entity("Fundacja Wspólny Stół");
    let issued = a.certificate(entity["id"].as_str().unwrap());
    let id = issued["id"].as_str().unwrap();
    let token = token_of(&issued);
    // A has signed and cached the status list with the certificate valid.
    agree(&a, id, &token, &VALID);
    let revoked = b.admin(&format!("/certificates/{id}/revoke"), &json!({ "reason": "misuse" }));
    assert_eq!(revoked["status"], "revoked");
    // No waiting: A's check API, verify API, page and signed status list all say revoked.
    agree(&a, id, &token, &REVOKED);
}

#[test]
fn concurrent_issuance_through_both_replicas_allocates_distinct_ids_numbers_and_indexes() {
    const TOTAL: usize = 200;
    const THREADS: usize = 16;
    let Replicas { a, b, _dir } = replicas();
    let entity = a.entity("Centrum Integracji Społecznej w Chełmie");
    let entity_id = entity["id"].as_str().unwrap().to_owned();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let issued = Arc::new(Mutex::new(Vec::<Value>::new()));
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let replica = if thread % 2 == 0 { &a } else { &b };
            let (next, issued, entity_id) = (Arc::clone(&next), Arc::clone(&issued), entity_id.clone());
            scope.spawn(move || {
                while next.fetch_add(1, Ordering::SeqCst) < TOTAL {
                    let certificate = replica.certificate(&entity_id);
                    issued.lock().unwrap().push(certificate);
                }
            });
        }
    });
    let issued = issued.lock().unwrap().clone();
    assert_eq!(issued.len(), TOTAL);
    let ids: BTreeSet<&str> = issued.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let numbers: BTreeSet<&str> = issued.iter().map(|c| c["number"].as_str().unwrap()).collect();
    let indexes: BTreeSet<i64> = issued.iter().map(|c| c["status_list"]["idx"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), TOTAL, "distinct IDs");
    assert_eq!(indexes, (0..TOTAL as i64).collect(), "distinct, consecutive status indexes");
    // Consecutive numbers: 0001 to 0200 of this year.
    let prefix = issued[0]["number"].as_str().unwrap().rsplit_once('/').unwrap().0.to_owned();
    let expected: BTreeSet<String> = (1..=TOTAL).map(|n| format!("{prefix}/{n:04}")).collect();
    assert_eq!(numbers, expected.iter().map(String::as_str).collect(), "distinct, consecutive numbers");
    // Each token names its own index, and both replicas serve every certificate.
    let keys = a.keys();
    for certificate in &issued {
        let claims =
            zp_shared::verify(&token_of(certificate), &keys, now(), &a.rules()).unwrap().into_claims();
        assert_eq!(claims.status.status_list.idx as i64, certificate["status_list"]["idx"].as_i64().unwrap());
    }
    for id in ids.iter().step_by(20) {
        assert_eq!(a.get(&format!("/api/v1/certificates/{id}")).status(), 200);
        assert_eq!(b.get(&format!("/api/v1/certificates/{id}")).status(), 200);
    }
    audit_chain_is_valid(&b);
}

/// `zp audit verify` on the shared database.
fn audit_chain_is_valid(server: &Server) {
    let output = server.cli(&["audit", "verify"]);
    assert!(output.status.success(), "audit verify: {}", String::from_utf8_lossy(&output.stderr));
}

/// Writes entities and certificates through `server` until `stop`, recording what was
/// acknowledged; gives up at the first failed request (its replica died).
fn writer(
    server: &Server,
    entity_id: String,
    worker: usize,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<(String, String)>>>,
) -> impl FnOnce() + Send + 'static {
    let (url, key) = (server.url.clone(), server.admin_key.clone());
    move || {
        let http = reqwest::blocking::Client::new();
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let (path, body, kind) = if n % 2 == 0 {
                let name = format!("Podmiot {worker}-{n}");
                (
                    "/api/v1/admin/entities",
                    json!({ "name": name, "legal_form": "cis", "domains": ["a.pl"] }),
                    "entity",
                )
            } else {
                let products = [json!({ "name": format!("Produkt {worker}-{n}") })];
                (
                    "/api/v1/admin/certificates",
                    json!({ "entity_id": entity_id, "products": products }),
                    "certificate",
                )
            };
            let Ok(response) = http.post(format!("{url}{path}")).bearer_auth(&key).json(&body).send() else {
                break;
            };
            if response.status() != 201 {
                break;
            }
            let Ok(value) = response.json::<Value>() else { break };
            let id = value["id"].as_str().unwrap().to_owned();
            acknowledged.lock().unwrap().push((kind.to_owned(), id));
        }
    }
}

fn count(acknowledged: &Mutex<Vec<(String, String)>>) -> usize {
    acknowledged.lock().unwrap().len()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_of_one_replica_loses_no_acknowledged_write() {
    let Replicas { a, b, _dir } = replicas();
    let entity = a.entity("Spółdzielnia Socjalna Trwałość");
    let entity_id = entity["id"].as_str().unwrap().to_owned();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|worker| {
            let replica = if worker % 2 == 0 { &a } else { &b };
            let job =
                writer(replica, entity_id.clone(), worker, Arc::clone(&stop), Arc::clone(&acknowledged));
            std::thread::spawn(job)
        })
        .collect();
    // Kill A once the burst is well under way, while every worker is still writing.
    wait_for("writes before the kill", || count(&acknowledged) >= 60);
    let a = a.kill_hard_and_restart();
    // B goes on writing: nothing A held (its transaction, the write lock) outlived it.
    let at_kill = count(&acknowledged);
    wait_for("writes through B after the kill", || count(&acknowledged) >= at_kill + 30);
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    for (kind, id) in &acknowledged {
        let path = match kind.as_str() {
            "entity" => format!("/api/v1/admin/entities/{id}"),
            _ => format!("/api/v1/certificates/{id}"),
        };
        for server in [&a, &b] {
            let response = server.http.get(server.at(&path)).bearer_auth(&server.admin_key).send().unwrap();
            assert_eq!(response.status(), 200, "acknowledged {kind} {id} was lost ({})", server.url);
        }
    }
    audit_chain_is_valid(&a);
    // Every acknowledged write has its audit entry (plus the API key and the first entity).
    let audit = b.admin_get("/audit?limit=1000");
    assert!(audit.as_array().unwrap().len() >= acknowledged.len() + 2);
}
