//! `zp audit verify` on a real data directory: valid after the server's writes, and broken, at
//! the entry that was touched, once someone with access to the database file edits or removes an
//! entry past the append-only triggers.

use sqlx::Connection;

use crate::harness::Server;

/// Runs SQL on the server's SQLite database directly, as someone with the file could.
fn tamper(server: &Server, sql: &'static str) {
    let url = format!("sqlite:{}", server.data.join("zp.sqlite3").display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    });
}

/// `zp audit verify`: whether it passed, and what it printed on standard output and error.
fn audit_verify(server: &Server) -> (bool, String) {
    let output = server.cli(&["audit", "verify"]);
    let printed =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

#[test]
fn audit_verify_finds_an_edited_or_removed_entry() {
    let server = Server::start();
    for name in ["Spółdzielnia Socjalna „Pierwsza”", "Spółdzielnia Socjalna „Druga”"] {
        let entity = server.entity(name);
        server.certificate(entity["id"].as_str().unwrap());
    }
    // The API key, two entities and two certificates.
    let (valid, printed) = audit_verify(&server);
    assert!(valid, "{printed}");
    assert!(printed.contains("audit log valid: 5 entries"), "{printed}");

    tamper(&server, "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete");
    tamper(&server, "UPDATE audit_log SET actor = 'someone else' WHERE seq = 3");
    let (valid, printed) = audit_verify(&server);
    assert!(!valid, "an edited entry: {printed}");
    assert!(printed.contains("audit log broken at entry 3: content does not match its hash"), "{printed}");

    tamper(&server, "DELETE FROM audit_log WHERE seq = 3");
    let (valid, printed) = audit_verify(&server);
    assert!(!valid, "a removed entry: {printed}");
    assert!(printed.contains("audit log broken at entry 4: expected entry 3, found 4"), "{printed}");
}
