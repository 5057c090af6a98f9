//! kill -9 in the middle of a burst of admin writes loses no acknowledged write and leaves the
//! audit chain valid on restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::Server;

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let server = Server::start();
    let entity = server.entity("Spółdzielnia Socjalna Trwałość");
    let entity_id = entity["id"].as_str().unwrap().to_owned();
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let url = server.url.clone();
    let key = server.admin_key.clone();
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let acknowledged = Arc::clone(&acknowledged);
            let stop = Arc::clone(&stop);
            let (url, key, entity_id) = (url.clone(), key.clone(), entity_id.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let (path, body, kind) = if n % 2 == 0 {
                        ("/api/v1/admin/entities", json!({ "name": format!("Podmiot {worker}-{n}"), "legal_form": "cis", "domains": ["a.pl"] }), "entity")
                    } else {
                        ("/api/v1/admin/certificates", json!({ "entity_id": entity_id, "products": [{ "name": format!("Produkt {worker}-{n}") }] }), "certificate")
                    };
                    let Ok(response) = http.post(format!("{url}{path}")).bearer_auth(&key).json(&body).send() else { break };
                    if response.status() != 201 {
                        break;
                    }
                    let Ok(value) = response.json::<serde_json::Value>() else { break };
                    acknowledged.lock().unwrap().push((kind.to_owned(), value["id"].as_str().unwrap().to_owned()));
                }
            })
        })
        .collect();
    // Kill once the burst is well under way, while the workers are still writing. A server that
    // refuses or stalls writes fails the test here, rather than leaving it waiting for good.
    const WAIT: Duration = Duration::from_secs(120);
    let deadline = Instant::now() + WAIT;
    loop {
        // Looked at before the count, so that a count taken after is final when all stopped.
        let stopped = workers.iter().all(|worker| worker.is_finished());
        let done = acknowledged.lock().unwrap().len();
        if done >= 40 {
            break;
        }
        assert!(
            !stopped,
            "every writer stopped after {done} acknowledged writes: the server refused or failed a write"
        );
        assert!(
            Instant::now() < deadline,
            "only {done} of 40 writes were acknowledged in {} s: the server is not taking writes",
            WAIT.as_secs()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let server = server.kill_hard_and_restart();
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 40);
    for (kind, id) in &acknowledged {
        let path = match kind.as_str() {
            "entity" => format!("/api/v1/admin/entities/{id}"),
            _ => format!("/api/v1/certificates/{id}"),
        };
        let response = server.http.get(server.at(&path)).bearer_auth(&server.admin_key).send().unwrap();
        assert_eq!(response.status(), 200, "acknowledged {kind} {id} was lost");
    }
    let output = server.cli(&["audit", "verify"]);
    assert!(
        output.status.success(),
        "audit chain after kill -9: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every acknowledged write has its audit entry (plus the API key and the first entity).
    let audit = server.admin_get("/audit?limit=1000");
    assert!(audit.as_array().unwrap().len() >= acknowledged.len() + 2);
}

/// How many kill -9 cycles [`kill_9_cycles_lose_no_acknowledged_write`] runs: `ZP_KILL_CYCLES`, or
/// a few in the test command (`cargo xtask durability N` runs N).
fn kill_cycles() -> usize {
    std::env::var("ZP_KILL_CYCLES").ok().and_then(|n| n.parse().ok()).unwrap_or(3)
}

/// Many kill -9 cycles on one registry, each at a random point of a burst of writes: after each
/// restart every write acknowledged before the kill is there, and at the end the audit chain
/// verifies and holds an entry for every acknowledged write.
#[test]
fn kill_9_cycles_lose_no_acknowledged_write() {
    use rand::Rng;
    let cycles = kill_cycles();
    let mut server = Server::start();
    let entity = server.entity("Spółdzielnia Socjalna Wytrwałość");
    let entity_id = entity["id"].as_str().unwrap().to_owned();
    let mut rng = rand::thread_rng();
    let mut total = 0usize;
    let started = std::time::Instant::now();
    for cycle in 1..=cycles {
        let acknowledged = Arc::new(Mutex::new(Vec::<(&'static str, String)>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..3)
            .map(|worker| {
                let (acknowledged, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
                let (url, key, entity_id) = (server.url.clone(), server.admin_key.clone(), entity_id.clone());
                std::thread::spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let (path, body, kind) = if (n + worker) % 3 == 0 {
                            let name = format!("Podmiot {cycle}-{worker}-{n}");
                            (
                                "/api/v1/admin/entities",
                                json!({ "name": name, "legal_form": "cis", "domains": ["a.pl"] }),
                                "entity",
                            )
                        } else {
                            let product = format!("Produkt {cycle}-{worker}-{n}");
                            let body = json!({ "entity_id": entity_id, "products": [{ "name": product }] });
                            ("/api/v1/admin/certificates", body, "certificate")
                        };
                        let sent = http.post(format!("{url}{path}")).bearer_auth(&key).json(&body).send();
                        // The kill cuts a request off; any answer, though, is a success.
                        let Ok(response) = sent else { break };
                        assert_eq!(response.status(), 201, "{path}: {:?}", response.text());
                        let Ok(value) = response.json::<serde_json::Value>() else { break };
                        let id = value["id"].as_str().unwrap().to_owned();
                        acknowledged.lock().unwrap().push((kind, id));
                    }
                })
            })
            .collect();
        // The kill lands at a random point of the burst: after 1 to 30 acknowledged writes.
        let target = rng.gen_range(1..=30);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while acknowledged.lock().unwrap().len() < target {
            assert!(
                std::time::Instant::now() < deadline,
                "cycle {cycle}: the server acknowledged {} of {target} writes in 60 s",
                acknowledged.lock().unwrap().len()
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        server = server.kill_hard_and_restart();
        stop.store(true, Ordering::SeqCst);
        for worker in workers {
            worker.join().unwrap();
        }
        let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
        for (kind, id) in &acknowledged {
            let path = match *kind {
                "entity" => format!("/api/v1/admin/entities/{id}"),
                _ => format!("/api/v1/certificates/{id}"),
            };
            let response = server.http.get(server.at(&path)).bearer_auth(&server.admin_key).send().unwrap();
            assert_eq!(response.status(), 200, "cycle {cycle}: acknowledged {kind} {id} was lost");
        }
        total += acknowledged.len();
        if cycle % 50 == 0 || cycle == cycles {
            eprintln!(
                "kill -9 cycle {cycle}/{cycles}: {total} acknowledged writes, none lost ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let output = server.cli(&["audit", "verify"]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "audit chain after {cycles} kill -9 cycles: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // "audit log valid: N entries, head H": an entry for every acknowledged write, the API key's
    // and the first entity's.
    let entries: usize = printed
        .split_whitespace()
        .nth(3)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("zp audit verify printed {printed:?}"));
    assert!(entries >= total + 2, "{entries} audit entries for {total} acknowledged writes");
    eprintln!("after {cycles} kill -9 cycles: {total} acknowledged writes, none lost; {}", printed.trim());
}
