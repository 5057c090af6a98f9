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
