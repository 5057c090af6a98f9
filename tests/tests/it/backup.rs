//! `zp backup` of a running server in the middle of a burst of writes, `zp restore` into an empty
//! data directory, and a server on the restored registry.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Server, zp_binary};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs `zp --data-dir DATA ARGS` on a data directory of no running server.
fn zp(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(zp_binary()).arg("--data-dir").arg(data).args(args).output().expect("run zp")
}

/// Waits until `count()` reaches `n`; the writer is the only one who moves it.
fn wait_for(n: usize, count: impl Fn() -> usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count() < n {
        assert!(Instant::now() < deadline, "the writer stalled at {} certificates", count());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_backup_taken_during_writes_restores_a_registry_that_verifies_and_serves_the_same() {
    let server = Server::start();
    let entity = server.entity("Spółdzielnia Socjalna „Kopia”");
    let entity_id = entity["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("zp-2026-11-30.tar");
    let backup_arg = backup.to_str().unwrap();

    // Certificates whose issuance the server acknowledged, in order.
    let acknowledged = Mutex::new(Vec::<String>::new());
    let stop = AtomicBool::new(false);
    let count = || acknowledged.lock().unwrap().len();
    let (before, output) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // Bounded, in case the main thread fails before it says stop.
            for _ in 0..2_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let issued = server.certificate(&entity_id);
                acknowledged.lock().unwrap().push(issued["id"].as_str().unwrap().to_owned());
            }
        });
        wait_for(5, count);
        let before = acknowledged.lock().unwrap().clone();
        let output = server.cli(&["backup", backup_arg]);
        // The burst goes on after the backup too: it was taken in the middle of it.
        let after = count();
        wait_for(after + 3, count);
        stop.store(true, Ordering::SeqCst);
        writer.join().unwrap();
        (before, output)
    });
    assert!(output.status.success(), "zp backup: {}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["certificates"].as_u64().unwrap() >= before.len() as u64, "{report}");
    assert_eq!(mode(&backup), 0o600, "the backup holds the private keys");

    // Restored into a new data directory: private files, a chain that verifies.
    let restored = dir.path().join("restored");
    let output = zp(&restored, &["restore", backup_arg]);
    assert!(output.status.success(), "zp restore: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(mode(&restored), 0o700);
    assert_eq!(mode(&restored.join("zp.sqlite3")), 0o600);
    assert_eq!(mode(&restored.join("keys")), 0o700);
    let key_files: Vec<_> =
        std::fs::read_dir(restored.join("keys")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!key_files.is_empty());
    for file in &key_files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    let verify = zp(&restored, &["audit", "verify"]);
    assert!(verify.status.success(), "zp audit verify: {}", String::from_utf8_lossy(&verify.stderr));
    assert!(String::from_utf8_lossy(&verify.stdout).starts_with("audit log valid"));

    // A restore never writes into a directory that holds anything, and says which.
    let refused = zp(&restored, &["restore", backup_arg]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains(restored.to_str().unwrap()) && message.contains("not empty"), "{message}");

    // The restored registry has every certificate acknowledged before the backup began, exactly as
    // the original shows it, and publishes the same keys.
    let copy = Server::spawn(&restored, Some(&server.base), &[]);
    for id in &before {
        let path = format!("/api/v1/certificates/{id}");
        assert_eq!(copy.get_json(&path), server.get_json(&path), "{id}");
    }
    assert_eq!(copy.get_json("/.well-known/jwks.json"), server.get_json("/.well-known/jwks.json"));
}

#[test]
fn a_postgresql_registry_is_backed_up_with_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.tar");
    let output = Command::new(zp_binary())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--database-url", "postgres://zp@127.0.0.1:1/zp", "backup"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("pg_dump") && message.contains("Backups and moving to PostgreSQL"), "{message}");
    assert!(!backup.exists());
}
