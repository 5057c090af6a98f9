//! One store test suite, written against `&dyn Store` and run against SQLite and PostgreSQL:
//! the issuer relies on both backends keeping the same promises. Stores are opened through the
//! CLI's `--database-url` handling, as the server opens them.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use zp_server::audit::{ChainCheck, ChainVerifier, GENESIS};
use zp_server::cli::Global;
use zp_server::store::*;

/// A database of one backend, empty at first; `open` may be called again for another handle
/// on the same data, as another replica or the CLI would have.
struct Backend {
    url: String,
    dir: tempfile::TempDir,
}

impl Backend {
    fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("zp.sqlite3").display());
        Backend { url, dir }
    }

    fn postgres() -> Backend {
        Backend { url: crate::postgres::database("store"), dir: tempfile::tempdir().unwrap() }
    }

    async fn open(&self) -> Arc<dyn Store> {
        let global = Global {
            data_dir: self.dir.path().join("data"),
            database_url: Some(self.url.clone()),
            keys_dir: None,
            base_url: None,
            region: "LU".into(),
            status_ttl: 300,
            clock_offset: 0,
        };
        global.open_store().await.unwrap()
    }

    /// Runs SQL on the database directly, past the store, as someone with access to the database
    /// could: `sqlite` on SQLite, `postgres` on PostgreSQL. Gives the database's error as text.
    async fn raw(&self, sqlite: &'static str, postgres: &'static str) -> Result<u64, String> {
        use sqlx::Connection;
        let done = if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(sqlite).execute(&mut conn).await.map(|done| done.rows_affected())
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::raw_sql(postgres).execute(&mut conn).await.map(|done| done.rows_affected())
        };
        done.map_err(|err| err.to_string())
    }

    /// [`Backend::raw`] with the same SQL on both backends.
    async fn sql(&self, sql: &'static str) -> Result<u64, String> {
        self.raw(sql, sql).await
    }
}

/// Each test once per backend: `store::sqlite::NAME` and `store::postgres::NAME`.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Backend::postgres()).await;
                }
            )*
        }
    };
}

suite!(
    meta_is_set_and_replaced,
    entities_read_back_and_nip_is_unique,
    entities_are_updated_in_place_with_their_certificates_listed,
    certificates_products_and_tokens,
    tokens_are_found_by_jti,
    duplicates_are_conflicts,
    status_indexes_and_entries,
    numbers_are_counted_by_exact_prefix,
    entities_by_nip_and_certificates_by_number,
    every_certificate_page_by_page,
    search_filters,
    gtin_lookup_prefers_active_certificates,
    api_keys_by_hash,
    api_keys_are_listed_and_revoked_once,
    audit_entries_chain,
    audit_log_refuses_updates_and_deletes,
    tampered_audit_log_is_broken,
    uncommitted_transactions_leave_nothing,
    writers_on_two_handles_are_serialised,
    trusted_issuers_are_added_listed_and_removed,
    accounts_sessions_and_ceremonies,
    letters_commit_with_their_cause,
    letters_are_claimed_once_and_their_attempts_recorded,
    reminders_are_recorded_once_per_threshold_and_validity,
    applications_cases_files_and_links,
);

fn entity(id: &str, name: &str, nip: Option<&str>) -> EntityRecord {
    EntityRecord {
        id: id.into(),
        name: name.into(),
        legal_form: "social_cooperative".into(),
        nip: nip.map(str::to_owned),
        regon: Some("123456785".into()),
        krs: None,
        city: Some("Lublin".into()),
        voivodeship: Some("lubelskie".into()),
        domains: vec!["sklep.example.pl".into(), "example.pl".into()],
        contact: Some("biuro@example.pl".into()),
        created_at: 1_760_000_000,
    }
}

fn certificate(id: &str, number: &str, entity_id: &str, status_idx: i64) -> CertificateRecord {
    CertificateRecord {
        id: id.into(),
        number: number.into(),
        entity_id: entity_id.into(),
        status_idx,
        state: CertState::Active,
        valid_from: 1_767_225_600,
        valid_until: 1_798_761_600,
        reason: None,
        public_note: None,
        search_text: format!("{} {} powidla", id.to_lowercase(), number.to_lowercase()),
        created_at: 1_767_225_600,
        updated_at: 1_767_225_600,
    }
}

fn token(jti: &str, certificate_id: &str, kid: &str, iat: i64, exp: i64) -> TokenRecord {
    TokenRecord {
        jti: jti.into(),
        certificate_id: certificate_id.into(),
        kid: kid.into(),
        token: format!("header.{jti}.signature"),
        iat,
        exp,
    }
}

fn audit(action: &str, subject: &str) -> AuditEntry {
    AuditEntry {
        at: 1_767_225_600,
        actor: "cli:tests".into(),
        action: action.into(),
        subject: subject.into(),
        details: json!({ "note": "zażółć gęślą jaźń", "n": 1 }),
    }
}

/// Commits one entity, for tests about what hangs off it.
async fn with_entity(store: &dyn Store, id: &str) -> EntityRecord {
    let record = entity(id, &format!("Podmiot {id}"), None);
    let mut tx = store.begin().await.unwrap();
    tx.insert_entity(&record).await.unwrap();
    tx.commit().await.unwrap();
    record
}

/// Commits certificates without products or tokens.
async fn with_certificates(store: &dyn Store, certificates: &[CertificateRecord]) {
    let mut tx = store.begin().await.unwrap();
    for c in certificates {
        tx.insert_certificate(c).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn meta_is_set_and_replaced(backend: Backend) {
    let store = backend.open().await;
    assert_eq!(store.meta("base_url").await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    tx.set_meta("base_url", "https://zp.example.pl").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.meta("base_url").await.unwrap().as_deref(), Some("https://zp.example.pl"));
    let mut tx = store.begin().await.unwrap();
    tx.set_meta("base_url", "https://zp.example.org").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.meta("base_url").await.unwrap().as_deref(), Some("https://zp.example.org"));
    // Another handle on the same database (a replica) reads the same value.
    assert_eq!(
        backend.open().await.meta("base_url").await.unwrap().as_deref(),
        Some("https://zp.example.org")
    );
}

async fn entities_read_back_and_nip_is_unique(backend: Backend) {
    let store = backend.open().await;
    let zeta = entity("EZETA", "Żak i Spółka", Some("5260250995"));
    let alfa = entity("EALFA", "Alfa Spółdzielnia", None);
    let beta = EntityRecord {
        regon: None,
        city: None,
        voivodeship: None,
        contact: None,
        ..entity("EBETA", "Beta", None)
    };
    let mut tx = store.begin().await.unwrap();
    for e in [&zeta, &alfa, &beta] {
        tx.insert_entity(e).await.unwrap();
    }
    assert_eq!(tx.entity("EZETA").await.unwrap().as_ref(), Some(&zeta), "visible inside its transaction");
    tx.commit().await.unwrap();
    assert_eq!(store.entity("EZETA").await.unwrap(), Some(zeta.clone()));
    assert_eq!(store.entity("EBETA").await.unwrap(), Some(beta.clone()));
    assert_eq!(store.entity("ENONE").await.unwrap(), None);
    let names: Vec<String> = store.entities(10, 0).await.unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["Alfa Spółdzielnia", "Beta", "Żak i Spółka"], "ordered by name");
    let page: Vec<String> = store.entities(1, 1).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(page, ["EBETA"]);

    let mut tx = store.begin().await.unwrap();
    let same_nip = entity("EOTHER", "Inny", Some("5260250995"));
    assert!(matches!(tx.insert_entity(&same_nip).await, Err(StoreError::Conflict(_))));
    drop(tx);
    // Entities without a NIP never clash.
    let mut tx = store.begin().await.unwrap();
    tx.insert_entity(&entity("ENONIP", "Bez NIP", None)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.entities(10, 0).await.unwrap().len(), 4);
}

async fn entities_are_updated_in_place_with_their_certificates_listed(backend: Backend) {
    let store = backend.open().await;
    let alfa = entity("EALFA", "Alfa", Some("5260250995"));
    let beta = entity("EBETA", "Beta", Some("7740001454"));
    let mut tx = store.begin().await.unwrap();
    tx.insert_entity(&alfa).await.unwrap();
    tx.insert_entity(&beta).await.unwrap();
    tx.commit().await.unwrap();
    with_certificates(
        store.as_ref(),
        &[
            certificate("7K3QX9M2", "ZP/LU/2026/0001", "EALFA", 0),
            certificate("2B4C6D8F", "ZP/LU/2026/0002", "EBETA", 1),
            certificate("3C5D7E9G", "ZP/LU/2026/0003", "EALFA", 2),
        ],
    )
    .await;

    let changed = EntityRecord {
        name: "Alfa Spółdzielnia Socjalna".into(),
        nip: None,
        city: Some("Chełm".into()),
        domains: vec!["alfa.example.pl".into()],
        contact: None,
        // Kept as registered, whatever the record says.
        created_at: 1,
        ..alfa.clone()
    };
    let mut tx = store.begin().await.unwrap();
    assert!(tx.update_entity(&changed).await.unwrap());
    let kept = EntityRecord { created_at: alfa.created_at, ..changed.clone() };
    assert_eq!(tx.entity("EALFA").await.unwrap(), Some(kept.clone()), "visible inside its transaction");
    let ids = |records: Vec<CertificateRecord>| records.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(tx.entity_certificates("EALFA").await.unwrap()), ["3C5D7E9G", "7K3QX9M2"], "in ID order");
    assert_eq!(ids(tx.entity_certificates("EBETA").await.unwrap()), ["2B4C6D8F"]);
    assert!(tx.entity_certificates("ENONE").await.unwrap().is_empty());
    assert!(!tx.update_entity(&entity("ENONE", "Nikt", None)).await.unwrap(), "no such entity");
    tx.commit().await.unwrap();
    assert_eq!(store.entity("EALFA").await.unwrap(), Some(kept.clone()));
    assert_eq!(store.entity("EBETA").await.unwrap(), Some(beta.clone()), "others untouched");

    // The NIP Alfa gave up is free for Beta; Beta's own for nobody else.
    let mut tx = store.begin().await.unwrap();
    let taken = EntityRecord { nip: Some("7740001454".into()), ..kept.clone() };
    assert!(matches!(tx.update_entity(&taken).await, Err(StoreError::Conflict(_))));
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let moved = EntityRecord { nip: Some("5260250995".into()), ..beta.clone() };
    assert!(tx.update_entity(&moved).await.unwrap());
    // Dropped without commit: nothing changes.
    drop(tx);
    assert_eq!(store.entity("EBETA").await.unwrap(), Some(beta));
    assert_eq!(store.entity("EALFA").await.unwrap(), Some(kept));
}

async fn certificates_products_and_tokens(backend: Backend) {
    let store = backend.open().await;
    let owner = with_entity(store.as_ref(), "EOWNER").await;
    let mut record = certificate("7K3QX9M2", "ZP/LU/2026/0001", "EOWNER", 0);
    let products = [
        ProductRecord {
            name: "Powidła śliwkowe".into(), gtin: Some("05901234123457".into()), added_at: 10
        },
        ProductRecord { name: "Catering".into(), gtin: None, added_at: 11 },
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_certificate(&record).await.unwrap();
    for (position, product) in products.iter().enumerate() {
        tx.insert_product(&record.id, position as i64, product).await.unwrap();
    }
    // Two tokens in the same second: the later insertion is the newest.
    tx.insert_token(&token("7K3QX9M2-A", &record.id, "kid-1", 100, 1_798_761_600)).await.unwrap();
    tx.insert_token(&token("7K3QX9M2-B", &record.id, "kid-2", 100, 1_798_761_600)).await.unwrap();
    assert_eq!(tx.certificate(&record.id).await.unwrap().as_ref(), Some(&record));
    assert_eq!(tx.products(&record.id).await.unwrap(), products);
    tx.commit().await.unwrap();

    let detail = store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(detail.certificate, record);
    assert_eq!(detail.entity, owner);
    assert_eq!(detail.products, products);
    assert_eq!(detail.token.as_ref().map(|t| t.jti.as_str()), Some("7K3QX9M2-B"));
    assert_eq!(detail.token.unwrap().token, "header.7K3QX9M2-B.signature");
    assert_eq!(store.certificate("00000000").await.unwrap(), None);
    assert_eq!(store.last_token_exp("kid-1").await.unwrap(), Some(1_798_761_600));
    assert_eq!(store.last_token_exp("kid-unknown").await.unwrap(), None);

    // A later token by time wins over insertion order.
    let mut tx = store.begin().await.unwrap();
    tx.insert_token(&token("7K3QX9M2-C", &record.id, "kid-1", 200, 1_830_297_600)).await.unwrap();
    tx.insert_token(&token("7K3QX9M2-D", &record.id, "kid-2", 150, 1_798_761_600)).await.unwrap();
    record.state = CertState::Revoked;
    record.reason = Some("misuse".into());
    record.public_note = Some("Decyzja z 2 lutego".into());
    record.updated_at += 60;
    tx.update_certificate(&record).await.unwrap();
    tx.commit().await.unwrap();
    let detail = store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(detail.certificate, record);
    assert_eq!(detail.token.map(|t| t.jti), Some("7K3QX9M2-C".to_owned()));
    assert_eq!(store.last_token_exp("kid-1").await.unwrap(), Some(1_830_297_600));

    // A certificate without products or tokens reads back with neither, and its entity.
    let plain = certificate("B0000000", "ZP/LU/2026/0002", "EOWNER", 1);
    let mut tx = store.begin().await.unwrap();
    tx.insert_certificate(&plain).await.unwrap();
    tx.commit().await.unwrap();
    let detail = store.certificate(&plain.id).await.unwrap().unwrap();
    assert_eq!(detail.certificate, plain);
    assert_eq!(detail.entity, owner);
    assert_eq!(detail.products, []);
    assert_eq!(detail.token, None);

    let mut tx = store.begin().await.unwrap();
    let missing = certificate("ZZZZZZZZ", "ZP/LU/2026/0099", "EOWNER", 99);
    assert!(matches!(tx.update_certificate(&missing).await, Err(StoreError::Corrupt(_))));
}

async fn tokens_are_found_by_jti(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EOWNER").await;
    with_certificates(store.as_ref(), &[certificate("7K3QX9M2", "ZP/LU/2026/0001", "EOWNER", 0)]).await;
    let first = token("7K3QX9M2-1", "7K3QX9M2", "kid-1", 100, 1_798_761_600);
    let second = token("7K3QX9M2-2", "7K3QX9M2", "kid-1", 200, 1_830_297_600);
    let mut tx = store.begin().await.unwrap();
    tx.insert_token(&first).await.unwrap();
    tx.insert_token(&second).await.unwrap();
    tx.commit().await.unwrap();
    // Every token ever issued, not only the newest.
    assert_eq!(store.token("7K3QX9M2-1").await.unwrap(), Some(first));
    assert_eq!(store.token("7K3QX9M2-2").await.unwrap(), Some(second));
    assert_eq!(store.token("7K3QX9M2-3").await.unwrap(), None);
    assert_eq!(store.token("7k3qx9m2-1").await.unwrap(), None, "IDs are compared exactly");
    assert_eq!(store.token("").await.unwrap(), None);
}

async fn duplicates_are_conflicts(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EOWNER").await;
    let first = certificate("AAAAAAAA", "ZP/LU/2026/0001", "EOWNER", 0);
    let mut tx = store.begin().await.unwrap();
    tx.insert_certificate(&first).await.unwrap();
    tx.insert_token(&token("AAAAAAAA-1", "AAAAAAAA", "kid", 1, 2)).await.unwrap();
    tx.insert_api_key(
        &ApiKeyRecord {
            id: "K1".into(),
            name: "a".into(),
            created_at: 1,
            revoked_at: None,
            account_id: None,
        },
        "h1",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Each clash in a transaction of its own: after a failed statement PostgreSQL accepts
    // nothing more in that transaction, and the issuer starts a new one to retry.
    let clashes = [
        certificate("AAAAAAAA", "ZP/LU/2026/0002", "EOWNER", 1),
        certificate("BBBBBBBB", "ZP/LU/2026/0001", "EOWNER", 1),
        certificate("BBBBBBBB", "ZP/LU/2026/0002", "EOWNER", 0),
    ];
    for clash in &clashes {
        let mut tx = store.begin().await.unwrap();
        let result = tx.insert_certificate(clash).await;
        assert!(matches!(result, Err(StoreError::Conflict(_))), "{clash:?}: {result:?}");
    }
    let mut tx = store.begin().await.unwrap();
    let result = tx.insert_token(&token("AAAAAAAA-1", "AAAAAAAA", "kid", 3, 4)).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let other =
        ApiKeyRecord { id: "K2".into(), name: "b".into(), created_at: 1, revoked_at: None, account_id: None };
    let result = tx.insert_api_key(&other, "h1").await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    drop(tx);
    // Nothing of the clashes stayed, and writing goes on.
    assert_eq!(store.max_status_idx().await.unwrap(), Some(0));
    with_certificates(store.as_ref(), &[certificate("BBBBBBBB", "ZP/LU/2026/0002", "EOWNER", 1)]).await;
    assert_eq!(store.max_status_idx().await.unwrap(), Some(1));
}

async fn status_indexes_and_entries(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EOWNER").await;
    assert_eq!(store.max_status_idx().await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.next_status_idx().await.unwrap(), 0);
    drop(tx);
    let mut certificates: Vec<CertificateRecord> = (0..4)
        .map(|i| certificate(&format!("CERT000{i}"), &format!("ZP/LU/2026/000{i}"), "EOWNER", i))
        .collect();
    certificates[1].state = CertState::Suspended;
    certificates[3].state = CertState::Revoked;
    with_certificates(store.as_ref(), &certificates).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.next_status_idx().await.unwrap(), 4);
    drop(tx);
    assert_eq!(store.max_status_idx().await.unwrap(), Some(3));
    let mut entries = store.status_entries().await.unwrap();
    entries.sort_by_key(|(idx, _)| *idx);
    assert_eq!(entries, [(1, CertState::Suspended), (3, CertState::Revoked)], "only certificates not active");
}

async fn numbers_are_counted_by_exact_prefix(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EOWNER").await;
    let numbers =
        ["ZP/LU/2026/0001", "ZP/LU/2026/0002", "ZP/LU/2025/0001", "ZP/MA/2026/0001", "ZP/LUX/2026/0001"];
    let certificates: Vec<CertificateRecord> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| certificate(&format!("NUMB000{i}"), n, "EOWNER", i as i64))
        .collect();
    with_certificates(store.as_ref(), &certificates).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.count_numbers("ZP/LU/2026/").await.unwrap(), 2);
    assert_eq!(tx.count_numbers("ZP/LU/2025/").await.unwrap(), 1);
    assert_eq!(tx.count_numbers("ZP/LU/2027/").await.unwrap(), 0);
    // The prefix is text, not a pattern.
    assert_eq!(tx.count_numbers("ZP/L_/2026/").await.unwrap(), 0);
    assert_eq!(tx.count_numbers("ZP/%").await.unwrap(), 0);
}

async fn entities_by_nip_and_certificates_by_number(backend: Backend) {
    let store = backend.open().await;
    let zeta = entity("EZETA", "Żak i Spółka", Some("5260250995"));
    let mut tx = store.begin().await.unwrap();
    tx.insert_entity(&zeta).await.unwrap();
    tx.insert_entity(&entity("ENONIP", "Bez NIP", None)).await.unwrap();
    tx.insert_certificate(&certificate("7K3QX9M2", "ZP/LU/2026/0007", "EZETA", 0)).await.unwrap();
    // Seen inside the transaction that wrote them, and after it commits.
    assert_eq!(tx.entity_by_nip("5260250995").await.unwrap().as_ref(), Some(&zeta));
    assert_eq!(tx.certificate_id_by_number("ZP/LU/2026/0007").await.unwrap().as_deref(), Some("7K3QX9M2"));
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.entity_by_nip("5260250995").await.unwrap(), Some(zeta));
    assert_eq!(tx.entity_by_nip("5260250996").await.unwrap(), None);
    assert_eq!(tx.entity_by_nip("").await.unwrap(), None, "entities without a NIP are not found by one");
    assert_eq!(tx.certificate_id_by_number("ZP/LU/2026/0007").await.unwrap().as_deref(), Some("7K3QX9M2"));
    // The number exactly: not a prefix, a pattern or another case.
    for other in ["ZP/LU/2026/000", "ZP/LU/2026/000_", "ZP/LU/2026/%", "zp/lu/2026/0007"] {
        assert_eq!(tx.certificate_id_by_number(other).await.unwrap(), None, "{other}");
    }
}

async fn every_certificate_page_by_page(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EOWNER").await;
    let ids = ["Z0000001", "A0000001", "M0000001", "00000001", "M0000002"];
    let certificates: Vec<CertificateRecord> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| certificate(id, &format!("ZP/LU/2026/{i:04}"), "EOWNER", i as i64))
        .collect();
    with_certificates(store.as_ref(), &certificates).await;
    let mut tx = store.begin().await.unwrap();
    let product = ProductRecord { name: "Powidła".into(), gtin: None, added_at: 1 };
    tx.insert_product("M0000001", 0, &product).await.unwrap();
    tx.insert_token(&token("J1", "M0000001", "K1", 5, 50)).await.unwrap();
    tx.commit().await.unwrap();

    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.certificates_after(&after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.certificate.id.clone();
        seen.extend(page);
    }
    let order: Vec<&str> = seen.iter().map(|detail| detail.certificate.id.as_str()).collect();
    assert_eq!(order, ["00000001", "A0000001", "M0000001", "M0000002", "Z0000001"], "in ID order, each once");
    // Each with its entity, products and newest token, as a lookup gives it.
    for detail in &seen {
        assert_eq!(Some(detail), store.certificate(&detail.certificate.id).await.unwrap().as_ref());
    }
    assert_eq!(seen[2].products, [product]);
    assert_eq!(seen[2].token.as_ref().map(|t| t.jti.as_str()), Some("J1"));
    assert!(store.certificates_after("Z0000001", 10).await.unwrap().is_empty());
}

async fn search_filters(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EONE").await;
    with_entity(store.as_ref(), "ETWO").await;
    let day = 86_400;
    let mut records = vec![
        certificate("SRCH0001", "ZP/LU/2026/0001", "EONE", 0),
        certificate("SRCH0002", "ZP/LU/2026/0002", "EONE", 1),
        certificate("SRCH0003", "ZP/LU/2026/0003", "ETWO", 2),
        certificate("SRCH0004", "ZP/LU/2026/0004", "ETWO", 3),
    ];
    records[0].search_text = "zloty sloik powidla sliwkowe lublin".into();
    records[1].search_text = "zloty sloik miod 100%_naturalny".into();
    records[2].search_text = "piekarnia chleb zytni lublin".into();
    records[3].search_text = "piekarnia bulki 100 procent".into();
    for (i, r) in records.iter_mut().enumerate() {
        r.valid_until = 1_800_000_000 + i as i64 * 10 * day;
    }
    records[2].state = CertState::Revoked;
    with_certificates(store.as_ref(), &records).await;
    let ids = |found: Vec<CertificateDetail>| -> Vec<String> {
        found.into_iter().map(|d| d.certificate.id).collect()
    };
    let query = |terms: &[&str]| SearchQuery {
        terms: terms.iter().map(|t| t.to_string()).collect(),
        limit: 50,
        ..SearchQuery::default()
    };

    // Newest validity end first.
    assert_eq!(
        ids(store.search(&query(&[])).await.unwrap()),
        ["SRCH0004", "SRCH0003", "SRCH0002", "SRCH0001"]
    );
    assert_eq!(ids(store.search(&query(&["lublin"])).await.unwrap()), ["SRCH0003", "SRCH0001"]);
    assert_eq!(ids(store.search(&query(&["zloty", "powidla"])).await.unwrap()), ["SRCH0001"], "every term");
    assert_eq!(ids(store.search(&query(&["sloik", "chleb"])).await.unwrap()), Vec::<String>::new());
    // Wildcards in terms match only themselves.
    assert_eq!(ids(store.search(&query(&["100%"])).await.unwrap()), ["SRCH0002"]);
    assert_eq!(ids(store.search(&query(&["%_"])).await.unwrap()), ["SRCH0002"]);
    assert_eq!(ids(store.search(&query(&["1_0"])).await.unwrap()), Vec::<String>::new());
    assert_eq!(
        ids(store.search(&query(&["'; DROP TABLE certificates; --"])).await.unwrap()),
        Vec::<String>::new()
    );

    let by_entity = SearchQuery { entity_id: Some("ETWO".into()), ..query(&[]) };
    assert_eq!(ids(store.search(&by_entity).await.unwrap()), ["SRCH0004", "SRCH0003"]);
    let ending =
        SearchQuery { ending: Some((1_800_000_000 + 10 * day, 1_800_000_000 + 30 * day)), ..query(&[]) };
    assert_eq!(ids(store.search(&ending).await.unwrap()), ["SRCH0003", "SRCH0002"], "[from, to)");
    let revoked = SearchQuery { state: Some(CertState::Revoked), ..query(&[]) };
    assert_eq!(ids(store.search(&revoked).await.unwrap()), ["SRCH0003"]);
    let all = SearchQuery {
        entity_id: Some("ETWO".into()),
        state: Some(CertState::Active),
        ending: Some((0, i64::MAX)),
        ..query(&["piekarnia"])
    };
    assert_eq!(ids(store.search(&all).await.unwrap()), ["SRCH0004"]);
    let page = SearchQuery { limit: 2, offset: 1, ..query(&[]) };
    assert_eq!(ids(store.search(&page).await.unwrap()), ["SRCH0003", "SRCH0002"]);
    // Results come with their entity.
    let found = store.search(&query(&["powidla"])).await.unwrap();
    assert_eq!(found[0].entity.id, "EONE");
    // Full-text query syntax in a term is text too, never an error.
    for term in ["\"sloik", "sloik\"", "slo*", "AND", "NOT", "NEAR(zloty", "^zloty", "zloty:", "{a b}"] {
        assert_eq!(ids(store.search(&query(&[term])).await.unwrap()), Vec::<String>::new(), "{term}");
    }
    assert_eq!(ids(store.search(&query(&["100", "procent"])).await.unwrap()), ["SRCH0004"]);
    // A changed text is searched as changed, in the same transaction as the change.
    let mut changed = records[3].clone();
    changed.search_text = "piekarnia bulki rogale".into();
    let mut tx = store.begin().await.unwrap();
    tx.update_certificate(&changed).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(store.search(&query(&["rogale"])).await.unwrap()), ["SRCH0004"]);
    assert_eq!(ids(store.search(&query(&["procent"])).await.unwrap()), Vec::<String>::new());
}

async fn gtin_lookup_prefers_active_certificates(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EOWNER").await;
    let mut revoked_later = certificate("GTIN0001", "ZP/LU/2026/0001", "EOWNER", 0);
    revoked_later.state = CertState::Revoked;
    revoked_later.valid_until += 1_000_000;
    let active = certificate("GTIN0002", "ZP/LU/2026/0002", "EOWNER", 1);
    let gtin = "05901234123457";
    let mut tx = store.begin().await.unwrap();
    for c in [&revoked_later, &active] {
        tx.insert_certificate(c).await.unwrap();
        let product = ProductRecord { name: "Powidła".into(), gtin: Some(gtin.into()), added_at: 1 };
        tx.insert_product(&c.id, 0, &product).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(store.certificate_by_gtin(gtin).await.unwrap().as_deref(), Some("GTIN0002"));
    assert_eq!(store.certificate_by_gtin("00000000000000").await.unwrap(), None);
}

async fn api_keys_by_hash(backend: Backend) {
    let store = backend.open().await;
    let live = ApiKeyRecord {
        id: "KLIVE".into(),
        name: "panel".into(),
        created_at: 5,
        revoked_at: None,
        account_id: None,
    };
    let revoked = ApiKeyRecord {
        id: "KOLD".into(),
        name: "stary".into(),
        created_at: 1,
        revoked_at: Some(3),
        account_id: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_key(&live, &"a".repeat(64)).await.unwrap();
    tx.insert_api_key(&revoked, &"b".repeat(64)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.api_key_by_hash(&"a".repeat(64)).await.unwrap(), Some(live));
    assert_eq!(store.api_key_by_hash(&"b".repeat(64)).await.unwrap(), Some(revoked));
    assert_eq!(store.api_key_by_hash(&"c".repeat(64)).await.unwrap(), None);
}

async fn api_keys_are_listed_and_revoked_once(backend: Backend) {
    let store = backend.open().await;
    assert!(store.api_keys().await.unwrap().is_empty());
    let key = |id: &str, created_at| ApiKeyRecord {
        id: id.into(),
        name: format!("klucz {id}"),
        created_at,
        revoked_at: None,
        account_id: None,
    };
    let (panel, cli, later) = (key("KPANEL", 5), key("KCLI", 5), key("KLATER", 9));
    let first = key("KZFIRST", 1);
    let mut tx = store.begin().await.unwrap();
    for (record, hash) in [(&later, "h1"), (&panel, "h2"), (&first, "h3"), (&cli, "h4")] {
        tx.insert_api_key(record, hash).await.unwrap();
    }
    tx.commit().await.unwrap();
    // Oldest first; in the same second, by ID.
    let listed = [first.clone(), cli.clone(), panel.clone(), later.clone()];
    assert_eq!(store.api_keys().await.unwrap(), listed);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.revoke_api_key("KPANEL", 20).await.unwrap());
    drop(tx);
    assert_eq!(store.api_keys().await.unwrap(), listed, "an uncommitted revocation changes nothing");
    assert_eq!(store.api_key_by_hash("h2").await.unwrap(), Some(panel.clone()));

    let mut tx = store.begin().await.unwrap();
    assert!(tx.revoke_api_key("KPANEL", 20).await.unwrap());
    assert!(!tx.revoke_api_key("KPANEL", 30).await.unwrap(), "revoked once, in the same transaction");
    assert!(!tx.revoke_api_key("KNONE", 20).await.unwrap(), "no such key");
    assert!(!tx.revoke_api_key("kpanel", 20).await.unwrap(), "IDs are compared exactly");
    tx.commit().await.unwrap();
    let mut tx = backend.open().await.begin().await.unwrap();
    assert!(!tx.revoke_api_key("KPANEL", 40).await.unwrap(), "revoked once, on any handle");
    tx.commit().await.unwrap();

    let revoked = ApiKeyRecord { revoked_at: Some(20), ..panel };
    assert_eq!(store.api_keys().await.unwrap(), [first, cli, revoked.clone(), later], "the first time stays");
    assert_eq!(store.api_key_by_hash("h2").await.unwrap(), Some(revoked));
}

async fn audit_entries_chain(backend: Backend) {
    let store = backend.open().await;
    assert_eq!(store.audit_head().await.unwrap(), 0);
    let mut tx = store.begin().await.unwrap();
    let first = tx.append_audit(&audit("entity.create", "E1")).await.unwrap();
    let second = tx.append_audit(&audit("certificate.issue", "C1")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = backend.open().await.begin().await.unwrap();
    let third = tx.append_audit(&audit("certificate.revoke", "C1")).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!((first.seq, second.seq, third.seq), (1, 2, 3));
    assert_eq!(first.prev_hash, GENESIS);
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(third.prev_hash, second.hash, "a second handle links to the committed head");
    assert_eq!(store.audit_head().await.unwrap(), 3);
    let all = store.audit_log(0, 100).await.unwrap();
    assert_eq!(all, [first.clone(), second.clone(), third.clone()], "stored exactly as returned");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&all[0].details).unwrap(), audit("", "").details);
    assert_eq!(store.audit_log(1, 1).await.unwrap(), [second]);
    assert!(store.audit_log(3, 10).await.unwrap().is_empty());
    let mut verifier = ChainVerifier::default();
    for record in &all {
        verifier.push(record).unwrap();
    }
    assert_eq!(verifier.finish(), ChainCheck::Valid { entries: 3, head: third.hash });
}

/// Walks the stored chain as `zp audit verify` does.
async fn walk_audit_log(store: &dyn Store) -> ChainCheck {
    let mut verifier = ChainVerifier::default();
    for record in store.audit_log(0, 100).await.unwrap() {
        if let Err(broken) = verifier.push(&record) {
            return broken;
        }
    }
    verifier.finish()
}

/// Commits four audit entries, subjects C1 to C4.
async fn with_audit_entries(store: &dyn Store) -> Vec<AuditRecord> {
    let mut tx = store.begin().await.unwrap();
    for subject in ["C1", "C2", "C3", "C4"] {
        tx.append_audit(&audit("certificate.issue", subject)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let records = store.audit_log(0, 100).await.unwrap();
    assert_eq!(records.len(), 4);
    records
}

async fn audit_log_refuses_updates_and_deletes(backend: Backend) {
    let store = backend.open().await;
    let records = with_audit_entries(store.as_ref()).await;
    for statement in [
        "UPDATE audit_log SET subject = 'C9' WHERE seq = 2",
        "UPDATE audit_log SET details = '{}'",
        "UPDATE audit_log SET seq = seq + 10 WHERE seq = 4",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 4",
        "DELETE FROM audit_log",
    ] {
        let refused = backend.sql(statement).await;
        assert!(
            refused.as_ref().is_err_and(|err| err.contains("the audit log is append-only")),
            "{statement}: {refused:?}"
        );
    }
    // PostgreSQL empties a table without deleting its rows one by one; that is refused too.
    // (SQLite has no TRUNCATE: its `DELETE FROM` without WHERE goes through the trigger above.)
    if !backend.url.starts_with("sqlite:") {
        let refused = backend.sql("TRUNCATE audit_log").await;
        assert!(refused.as_ref().is_err_and(|err| err.contains("append-only")), "TRUNCATE: {refused:?}");
    }
    assert_eq!(store.audit_log(0, 100).await.unwrap(), records, "every entry as it was");
    assert!(matches!(walk_audit_log(store.as_ref()).await, ChainCheck::Valid { entries: 4, .. }));
    // Appending still works.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.append_audit(&audit("certificate.revoke", "C1")).await.unwrap().seq, 5);
    tx.commit().await.unwrap();
}

/// With the triggers out of the way (someone with the database's owner rights), each kind of
/// tampering is found by the chain, at the entry where it was made.
async fn tampered_audit_log_is_broken(backend: Backend) {
    let store = backend.open().await;
    let records = with_audit_entries(store.as_ref()).await;
    let head = records[3].hash.clone();
    assert_eq!(walk_audit_log(store.as_ref()).await, ChainCheck::Valid { entries: 4, head: head.clone() });
    backend
        .raw(
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete",
            "DROP TRIGGER audit_log_no_change ON audit_log; DROP TRIGGER audit_log_no_truncate ON audit_log",
        )
        .await
        .unwrap();
    let broken = |seq, reason: &str| ChainCheck::Broken { seq, reason: reason.into() };

    // A changed field.
    assert_eq!(backend.sql("UPDATE audit_log SET subject = 'C9' WHERE seq = 2").await, Ok(1));
    assert_eq!(walk_audit_log(store.as_ref()).await, broken(2, "content does not match its hash"));
    assert_eq!(backend.sql("UPDATE audit_log SET subject = 'C2' WHERE seq = 2").await, Ok(1));
    assert_eq!(walk_audit_log(store.as_ref()).await, ChainCheck::Valid { entries: 4, head: head.clone() });
    assert_eq!(backend.sql("UPDATE audit_log SET at = at + 1 WHERE seq = 3").await, Ok(1));
    assert_eq!(walk_audit_log(store.as_ref()).await, broken(3, "content does not match its hash"));
    assert_eq!(backend.sql("UPDATE audit_log SET at = at - 1 WHERE seq = 3").await, Ok(1));

    // Two entries swapped, numbers kept in order.
    let swap = "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; \
                UPDATE audit_log SET seq = 3 WHERE seq = -2";
    backend.sql(swap).await.unwrap();
    assert_eq!(store.audit_log(0, 100).await.unwrap()[1].subject, "C3", "swapped");
    assert_eq!(walk_audit_log(store.as_ref()).await, broken(2, "does not link to the previous entry"));
    backend.sql(swap).await.unwrap();
    assert_eq!(store.audit_log(0, 100).await.unwrap(), records, "swapped back");
    assert_eq!(walk_audit_log(store.as_ref()).await, ChainCheck::Valid { entries: 4, head });

    // An entry removed.
    assert_eq!(backend.sql("DELETE FROM audit_log WHERE seq = 2").await, Ok(1));
    assert_eq!(walk_audit_log(store.as_ref()).await, broken(3, "expected entry 2, found 3"));
    // Renumbered to close the gap: the links give it away.
    backend
        .sql("UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4")
        .await
        .unwrap();
    assert_eq!(walk_audit_log(store.as_ref()).await, broken(2, "does not link to the previous entry"));
}

async fn uncommitted_transactions_leave_nothing(backend: Backend) {
    let store = backend.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.set_meta("base_url", "https://zp.example.pl").await.unwrap();
    tx.insert_entity(&entity("EGHOST", "Widmo", Some("5260250995"))).await.unwrap();
    tx.insert_certificate(&certificate("GHOST001", "ZP/LU/2026/0001", "EGHOST", 0)).await.unwrap();
    let product = ProductRecord { name: "Nic".into(), gtin: Some("05901234123457".into()), added_at: 1 };
    tx.insert_product("GHOST001", 0, &product).await.unwrap();
    tx.insert_token(&token("GHOST001-1", "GHOST001", "kid", 1, 2)).await.unwrap();
    let key = ApiKeyRecord {
        id: "KGHOST".into(),
        name: "x".into(),
        created_at: 1,
        revoked_at: None,
        account_id: None,
    };
    tx.insert_api_key(&key, "hash").await.unwrap();
    tx.append_audit(&audit("entity.create", "EGHOST")).await.unwrap();
    drop(tx);

    assert_eq!(store.meta("base_url").await.unwrap(), None);
    assert_eq!(store.entity("EGHOST").await.unwrap(), None);
    assert!(store.entities(10, 0).await.unwrap().is_empty());
    assert_eq!(store.certificate("GHOST001").await.unwrap(), None);
    assert_eq!(store.certificate_by_gtin("05901234123457").await.unwrap(), None);
    assert_eq!(store.max_status_idx().await.unwrap(), None);
    assert_eq!(store.last_token_exp("kid").await.unwrap(), None);
    assert_eq!(store.api_key_by_hash("hash").await.unwrap(), None);
    assert_eq!(store.audit_head().await.unwrap(), 0);
    // The write lock went with it: the same writes commit now, also through another handle.
    let mut tx = backend.open().await.begin().await.unwrap();
    tx.insert_entity(&entity("EGHOST", "Widmo", Some("5260250995"))).await.unwrap();
    let entry = tx.append_audit(&audit("entity.create", "EGHOST")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(entry.seq, 1);
    assert!(store.entity("EGHOST").await.unwrap().is_some());
}

/// What the issuer does for a certificate, on one of several handles at once: allocate a status
/// index and a number from committed data, insert, append to the audit chain.
async fn writers_on_two_handles_are_serialised(backend: Backend) {
    let handles = [backend.open().await, backend.open().await];
    with_entity(handles[0].as_ref(), "EOWNER").await;
    let writers: Vec<_> = (0..40)
        .map(|i| {
            let store = Arc::clone(&handles[i % 2]);
            tokio::spawn(async move {
                let mut tx = store.begin().await.unwrap();
                let idx = tx.next_status_idx().await.unwrap();
                let number = format!("ZP/LU/2026/{:04}", tx.count_numbers("ZP/LU/2026/").await.unwrap() + 1);
                // Let the other writers run while this one holds the lock.
                tokio::task::yield_now().await;
                let record = certificate(&format!("W{i:07}"), &number, "EOWNER", idx);
                tx.insert_certificate(&record).await.unwrap();
                tx.append_audit(&audit("certificate.issue", &record.id)).await.unwrap();
                tx.commit().await.unwrap();
                (idx, number)
            })
        })
        .collect();
    let mut indexes = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for writer in writers {
        let (idx, number) = writer.await.unwrap();
        indexes.insert(idx);
        numbers.insert(number);
    }
    assert_eq!(indexes, (0..40).collect::<BTreeSet<i64>>());
    assert_eq!(numbers, (1..=40).map(|n| format!("ZP/LU/2026/{n:04}")).collect::<BTreeSet<_>>());
    let mut verifier = ChainVerifier::default();
    for record in handles[1].audit_log(0, 100).await.unwrap() {
        verifier.push(&record).unwrap();
    }
    assert!(matches!(verifier.finish(), ChainCheck::Valid { entries: 40, .. }));
}

fn trusted(iss: &str, voivodeship: Option<&str>) -> TrustedIssuerRecord {
    TrustedIssuerRecord {
        iss: iss.into(),
        name: format!("Ośrodek {iss}"),
        voivodeship: voivodeship.map(str::to_owned),
        jwks_uri: format!("{iss}/.well-known/jwks.json"),
        added_at: 1_767_225_600,
    }
}

async fn trusted_issuers_are_added_listed_and_removed(backend: Backend) {
    let store = backend.open().await;
    assert!(store.trusted_issuers().await.unwrap().is_empty());
    let opole = trusted("https://zp.rops.opole.pl", Some("opolskie"));
    let mcps = trusted("https://zp.mcps.pl", None);
    let mut tx = store.begin().await.unwrap();
    tx.insert_trusted_issuer(&opole).await.unwrap();
    tx.insert_trusted_issuer(&mcps).await.unwrap();
    assert_eq!(
        tx.trusted_issuers().await.unwrap(),
        [mcps.clone(), opole.clone()],
        "the transaction sees its writes"
    );
    assert!(store.trusted_issuers().await.unwrap().is_empty(), "uncommitted writes are not seen");
    tx.append_audit(&audit("trusted_issuer.add", &opole.iss)).await.unwrap();
    tx.commit().await.unwrap();
    // By URL, on any handle.
    assert_eq!(backend.open().await.trusted_issuers().await.unwrap(), [mcps.clone(), opole.clone()]);

    let mut tx = store.begin().await.unwrap();
    let again = TrustedIssuerRecord { name: "Inna nazwa".into(), ..opole.clone() };
    assert!(matches!(tx.insert_trusted_issuer(&again).await, Err(StoreError::Conflict(_))));
    drop(tx);
    assert_eq!(store.trusted_issuers().await.unwrap(), [mcps.clone(), opole.clone()]);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_trusted_issuer(&opole.iss).await.unwrap());
    assert!(!tx.delete_trusted_issuer(&opole.iss).await.unwrap(), "deleted twice");
    assert!(!tx.delete_trusted_issuer("https://zp.example.pl").await.unwrap());
    drop(tx);
    assert_eq!(store.trusted_issuers().await.unwrap().len(), 2, "an uncommitted delete leaves the issuer");
    let mut tx = store.begin().await.unwrap();
    assert!(tx.delete_trusted_issuer(&opole.iss).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.trusted_issuers().await.unwrap(), [mcps]);
}

fn account(id: &str, email: &str, role: &str) -> AccountRecord {
    AccountRecord {
        id: id.into(),
        email: email.into(),
        name: format!("Osoba {id}"),
        role: role.into(),
        disabled_at: None,
        created_at: 1,
    }
}

fn session(hash: &str, account_id: &str, at: i64) -> SessionRecord {
    SessionRecord {
        hash: hash.into(),
        account_id: account_id.into(),
        created_at: at,
        seen_at: at,
        reauth_at: at,
        csrf: format!("csrf-{hash}"),
    }
}

/// The panel's people: accounts, enrolment links, passkeys, recovery codes, sessions and
/// ceremonies keep the same promises in both databases.
async fn accounts_sessions_and_ceremonies(backend: Backend) {
    let store = backend.open().await;
    // The dashboard's counts, on an empty registry: the statement runs in this database.
    assert_eq!(store.certificate_counts(0).await.unwrap(), Vec::<(String, i64)>::new());
    let anna = account("acc_A", "anna@rops.pl", "admin");
    let mut tx = store.begin().await.unwrap();
    tx.insert_account(&anna).await.unwrap();
    tx.insert_account(&account("acc_B", "jan@rops.pl", "staff")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let taken = tx.insert_account(&account("acc_C", "anna@rops.pl", "viewer")).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    drop(tx);
    assert_eq!(store.account("acc_A").await.unwrap(), Some(anna.clone()));
    assert_eq!(store.account_by_email("jan@rops.pl").await.unwrap().unwrap().id, "acc_B");
    let emails: Vec<String> = store.accounts().await.unwrap().into_iter().map(|a| a.email).collect();
    assert_eq!(emails, ["anna@rops.pl", "jan@rops.pl"]);

    // An enrolment link works once, and not after it expires.
    let mut tx = store.begin().await.unwrap();
    tx.insert_enrolment("link-1", "acc_A", 100).await.unwrap();
    tx.insert_enrolment("link-2", "acc_A", 100).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.enrolment("link-1", 50).await.unwrap().as_deref(), Some("acc_A"));
    assert_eq!(store.enrolment("link-1", 100).await.unwrap(), None, "expired");
    let mut tx = store.begin().await.unwrap();
    assert!(tx.use_enrolment("link-1", 60).await.unwrap());
    assert!(!tx.use_enrolment("link-1", 61).await.unwrap(), "used once");
    assert!(!tx.use_enrolment("link-2", 100).await.unwrap(), "expired");
    tx.commit().await.unwrap();
    assert_eq!(store.enrolment("link-1", 62).await.unwrap(), None);

    // Passkeys and recovery codes.
    let passkey = PasskeyRecord {
        id: "cred-1".into(),
        account_id: "acc_A".into(),
        name: "laptop służbowy".into(),
        passkey: "{\"counter\":0}".into(),
        created_at: 5,
        last_used_at: None,
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_passkey(&passkey).await.unwrap();
    tx.replace_recovery_codes("acc_A", &["h1".into(), "h2".into()]).await.unwrap();
    tx.replace_recovery_codes("acc_B", &["h1".into()]).await.unwrap();
    tx.commit().await.unwrap();
    store.update_passkey("cred-1", "{\"counter\":7}", 9).await.unwrap();
    let stored = store.passkeys("acc_A").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].passkey.as_str(), stored[0].last_used_at), ("{\"counter\":7}", Some(9)));
    assert_eq!(stored[0].name, "laptop służbowy");
    let mut tx = store.begin().await.unwrap();
    assert!(tx.use_recovery_code("acc_A", "h1", 10).await.unwrap());
    assert!(!tx.use_recovery_code("acc_A", "h1", 11).await.unwrap(), "a code works once");
    assert!(!tx.use_recovery_code("acc_A", "nope", 11).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.recovery_codes_left("acc_A").await.unwrap(), 1);
    assert_eq!(
        store.recovery_codes_left("acc_B").await.unwrap(),
        1,
        "another account's code of the same hash is its own"
    );

    // Sessions: read, touched, re-authenticated, ended one by one or all of an account at once.
    let mut tx = store.begin().await.unwrap();
    tx.insert_session(&session("s1", "acc_A", 100)).await.unwrap();
    tx.insert_session(&session("s2", "acc_A", 100)).await.unwrap();
    tx.insert_session(&session("s3", "acc_B", 100)).await.unwrap();
    tx.commit().await.unwrap();
    store.touch_session("s1", 150).await.unwrap();
    store.set_reauth("s2", 160).await.unwrap();
    assert_eq!(store.session("s1").await.unwrap().unwrap().seen_at, 150);
    let s2 = store.session("s2").await.unwrap().unwrap();
    assert_eq!((s2.reauth_at, s2.seen_at, s2.csrf.as_str()), (160, 160, "csrf-s2"));
    assert!(store.delete_session("s2").await.unwrap());
    assert!(!store.delete_session("s2").await.unwrap());
    let mut disabled = anna.clone();
    disabled.disabled_at = Some(170);
    let mut tx = store.begin().await.unwrap();
    tx.update_account(&disabled).await.unwrap();
    assert_eq!(tx.delete_sessions_of("acc_A").await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(store.session("s1").await.unwrap(), None);
    assert_eq!(store.account("acc_A").await.unwrap().unwrap().disabled_at, Some(170));
    // Idle (seen before 120) and absolute (begun before 50) limits.
    assert_eq!(store.purge_sessions(120, 50, 0).await.unwrap(), 1);
    assert_eq!(store.session("s3").await.unwrap(), None);

    // A ceremony is taken once, and not after it expires.
    let ceremony = CeremonyRecord { kind: "login".into(), subject: "acc_B".into(), state: "{}".into() };
    store.put_ceremony("c1", &ceremony, 200).await.unwrap();
    store.put_ceremony("c2", &ceremony, 200).await.unwrap();
    assert_eq!(store.take_ceremony("c1", 199).await.unwrap(), Some(ceremony.clone()));
    assert_eq!(store.take_ceremony("c1", 199).await.unwrap(), None, "finished once");
    assert_eq!(store.take_ceremony("c2", 200).await.unwrap(), None, "expired");
    store.purge_sessions(0, 0, 300).await.unwrap();

    // A person's API key remembers its owner.
    let key = ApiKeyRecord {
        id: "KP".into(),
        name: "OWES".into(),
        created_at: 1,
        revoked_at: None,
        account_id: Some("acc_B".into()),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_api_key(&key, "hash-kp").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.api_key_by_hash("hash-kp").await.unwrap(), Some(key));
}

fn letter(to: &str) -> zp_server::mail::Letter {
    zp_server::mail::Letter {
        kind: "reminder.30".into(),
        to: to.into(),
        to_name: Some("Spółdzielnia „Łąka”".into()),
        subject: "Certyfikat wygasa za 30 dni".into(),
        paragraphs: vec!["Zażółć gęślą jaźń.".into(), "Second paragraph.".into()],
        link: Some(("Odnów".into(), "https://zp.example.pl/apply?renew=ABCDEFGH".into())),
        private_link: false,
        lang: "pl".into(),
    }
}

/// A letter is written in the transaction of its cause: rolled back with it, it leaves nothing;
/// committed, it is pending with its Message-ID fixed.
async fn letters_commit_with_their_cause(backend: Backend) {
    let store = backend.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.set_meta("base_url", "https://zp.example.pl").await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.insert_entity(&entity("EGHOST", "Widmo", None)).await.unwrap();
    let ghost = zp_server::mail::enqueue(&mut tx, &letter("ghost@example.pl"), 100).await.unwrap();
    assert_eq!(tx.letter(ghost).await.unwrap().unwrap().to_addr, "ghost@example.pl", "seen inside");
    drop(tx);
    assert_eq!(store.letter(ghost).await.unwrap(), None);
    assert!(store.letters(None, 10, 0).await.unwrap().is_empty());
    assert!(store.due_letters(i64::MAX, 10).await.unwrap().is_empty());
    assert_eq!(store.letter_counts().await.unwrap(), Vec::<(String, i64)>::new());
    assert_eq!(store.entity("EGHOST").await.unwrap(), None);

    let mut tx = store.begin().await.unwrap();
    let id = zp_server::mail::enqueue(&mut tx, &letter("biuro@example.pl"), 100).await.unwrap();
    tx.commit().await.unwrap();
    let stored = store.letter(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state.as_str(), stored.attempts, stored.due_at, stored.created_at),
        ("pending", 0, 100, 100)
    );
    assert_eq!(stored.to_name.as_deref(), Some("Spółdzielnia „Łąka”"));
    assert_eq!(stored.paragraphs, r#"["Zażółć gęślą jaźń.","Second paragraph."]"#);
    assert!(stored.message_id.starts_with('<') && stored.message_id.ends_with("@zp.example.pl>"));
    assert_eq!(store.letter_counts().await.unwrap(), [("pending".to_owned(), 1)]);
}

/// The worker's bookkeeping: a claim is won by one handle only and holds until its lease ends;
/// a retry waits until its due time; sent and failed letters are claimed no more.
async fn letters_are_claimed_once_and_their_attempts_recorded(backend: Backend) {
    let (one, two) = (backend.open().await, backend.open().await);
    let mut tx = one.begin().await.unwrap();
    let a = zp_server::mail::enqueue(&mut tx, &letter("a@example.pl"), 100).await.unwrap();
    let b = zp_server::mail::enqueue(&mut tx, &letter("b@example.pl"), 100).await.unwrap();
    let c = zp_server::mail::enqueue(&mut tx, &letter("c@example.pl"), 100).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((a, b, c), (1, 2, 3));
    let ids: BTreeSet<String> =
        one.letters(None, 10, 0).await.unwrap().into_iter().map(|l| l.message_id).collect();
    assert_eq!(ids.len(), 3, "each letter has its own Message-ID");
    assert_eq!(one.due_letters(99, 10).await.unwrap(), Vec::<i64>::new(), "not due before it was written");
    assert_eq!(one.due_letters(100, 10).await.unwrap(), [a, b, c]);

    // Two workers race for the same letter: one wins.
    let (won_one, won_two) = tokio::join!(one.claim_letter(a, 100, 220), two.claim_letter(a, 100, 220));
    assert!(won_one.unwrap() ^ won_two.unwrap(), "exactly one claim wins");
    assert!(!one.claim_letter(a, 200, 320).await.unwrap(), "the lease holds until it ends");
    assert_eq!(two.due_letters(200, 10).await.unwrap(), [b, c], "a claimed letter is not offered");
    // The lease ran out (the worker died): another worker takes it.
    assert!(two.claim_letter(a, 221, 341).await.unwrap());
    assert!(one.mark_sent(a, 222).await.unwrap());
    assert!(!one.mark_sent(a, 223).await.unwrap(), "marked sent once");
    assert!(!one.claim_letter(a, 400, 520).await.unwrap(), "a sent letter is never claimed again");

    // A failed attempt waits for its retry, with the attempt and its error recorded.
    assert!(one.claim_letter(b, 100, 220).await.unwrap());
    one.mark_retry(b, "421 try later", 160).await.unwrap();
    assert_eq!(one.due_letters(159, 10).await.unwrap(), [c]);
    assert_eq!(one.due_letters(160, 10).await.unwrap(), [c, b], "soonest due first");
    let retried = one.letter(b).await.unwrap().unwrap();
    assert_eq!(
        (retried.attempts, retried.last_error.as_deref(), retried.lease_until),
        (1, Some("421 try later"), None)
    );
    assert!(!one.claim_letter(b, 159, 279).await.unwrap(), "not before it is due again");
    assert!(one.claim_letter(b, 160, 280).await.unwrap());
    one.mark_failed(b, "550 no such user", 161).await.unwrap();
    let failed = one.letter(b).await.unwrap().unwrap();
    assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 2));
    assert!(!one.claim_letter(b, 1_000, 1_120).await.unwrap(), "a failed letter waits for a person");
    assert_eq!(one.next_due().await.unwrap(), Some(100), "c is still pending");
    let counts = one.letter_counts().await.unwrap();
    assert_eq!(counts, [("failed".to_owned(), 1), ("pending".to_owned(), 1), ("sent".to_owned(), 1)]);
    let pending: Vec<i64> = one.letters(Some("pending"), 10, 0).await.unwrap().iter().map(|l| l.id).collect();
    assert_eq!(pending, [c]);

    // Sent again from the panel: a new letter with its own Message-ID, audited.
    let again = zp_server::mail::resend(one.as_ref(), "account:acc_A:anna@rops.pl", b, 500).await.unwrap();
    let copy = one.letter(again).await.unwrap().unwrap();
    assert_eq!(
        (copy.state.as_str(), copy.resent_from, copy.to_addr.as_str()),
        ("pending", Some(b), "b@example.pl")
    );
    assert_ne!(copy.message_id, failed.message_id);
    let entry = one.audit_log(0, 10).await.unwrap().pop().unwrap();
    assert_eq!((entry.action.as_str(), entry.subject), ("mail.resend", again.to_string()));
    assert!(matches!(
        zp_server::mail::resend(one.as_ref(), "x", c, 500).await,
        Err(zp_server::mail::ResendError::Pending(_))
    ));
}

/// A reminder is recorded once per certificate, end of validity and threshold; a renewal's new
/// end has its own.
async fn reminders_are_recorded_once_per_threshold_and_validity(backend: Backend) {
    let store = backend.open().await;
    with_entity(store.as_ref(), "EOWNER").await;
    let mut cert = certificate("CERT0001", "ZP/LU/2026/0001", "EOWNER", 0);
    with_certificates(store.as_ref(), &[cert.clone()]).await;
    let until = cert.valid_until;
    let found = store.reminder_candidates(until - 61 * 86_400, until - 30 * 86_400).await.unwrap();
    assert!(found.is_empty(), "ends after the window");
    let found = store.reminder_candidates(until - 60 * 86_400, until).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].contact.as_deref(), found[0].done), (Some("biuro@example.pl"), None));

    let mut tx = store.begin().await.unwrap();
    let id = zp_server::mail::enqueue(&mut tx, &letter("biuro@example.pl"), 1).await.unwrap();
    tx.insert_reminder("CERT0001", until, 30, Some(id), 1).await.unwrap();
    tx.insert_reminder("CERT0001", until, 60, None, 1).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let again = tx.insert_reminder("CERT0001", until, 30, None, 2).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.reminder_thresholds("CERT0001", until).await.unwrap(), [30, 60]);
    // The renewal: a new end, no reminder yet.
    assert!(tx.reminder_thresholds("CERT0001", until + 365 * 86_400).await.unwrap().is_empty());
    tx.insert_reminder("CERT0001", until + 365 * 86_400, 30, None, 3).await.unwrap();
    tx.commit().await.unwrap();
    let found = store.reminder_candidates(until - 60 * 86_400, until).await.unwrap();
    assert_eq!(found[0].done, Some(30), "the most urgent threshold given so far");

    // Suspended certificates get none.
    cert.state = CertState::Suspended;
    let mut tx = store.begin().await.unwrap();
    tx.update_certificate(&cert).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.reminder_candidates(until - 60 * 86_400, until).await.unwrap().is_empty());
}

fn application(id: &str, email: &str, status: &str, submission: Option<&str>, at: i64) -> ApplicationRecord {
    ApplicationRecord {
        id: id.into(),
        kind: "new".into(),
        status: status.into(),
        lang: "pl".into(),
        email: email.into(),
        certificate_id: None,
        entity_id: None,
        form: "{}".into(),
        checklist: "[]".into(),
        submitted_by: "form".into(),
        submission: submission.map(str::to_owned),
        prepared_by: None,
        prepared: None,
        decision: None,
        decided_by: None,
        decided_at: None,
        created_at: at,
        updated_at: at,
    }
}

/// Applications: one per submission key, listed by status and by e-mail, their thread in order,
/// attachments with their bytes, and sign-in links that work once and expire — the same in both
/// databases.
async fn applications_cases_files_and_links(backend: Backend) {
    let store = backend.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_application(&application("A1", "zofia@laka.pl", "submitted", Some("key-1"), 10)).await.unwrap();
    tx.insert_application(&application("A2", "zofia@laka.pl", "returned", None, 20)).await.unwrap();
    tx.insert_application(&application("A3", "jan@inny.pl", "submitted", None, 5)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let again = tx.insert_application(&application("A4", "x@y.pl", "submitted", Some("key-1"), 30)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    drop(tx);
    assert_eq!(store.application_by_submission("key-1").await.unwrap().as_deref(), Some("A1"));
    let ids = |list: Vec<ApplicationRecord>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(ids(store.applications(None, 10).await.unwrap()), ["A3", "A1", "A2"], "longest waiting first");
    assert_eq!(ids(store.applications(Some("submitted"), 10).await.unwrap()), ["A3", "A1"]);
    assert_eq!(ids(store.applications_of("zofia@laka.pl").await.unwrap()), ["A2", "A1"], "newest first");
    let counts = store.application_counts().await.unwrap();
    assert_eq!(counts, [("returned".to_owned(), 1), ("submitted".to_owned(), 2)]);

    // The thread, numbered per case; an attachment and its bytes.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.insert_application_event("A1", 11, "applicant:zofia@laka.pl", "submitted", "").await.unwrap(),
        1
    );
    assert_eq!(
        tx.insert_application_event("A1", 12, "account:1:anna@rops.pl", "question", "Statut?").await.unwrap(),
        2
    );
    assert_eq!(
        tx.insert_application_event("A2", 13, "applicant:zofia@laka.pl", "submitted", "").await.unwrap(),
        1
    );
    let file = ApplicationFileRecord {
        id: "F1".into(),
        application_id: "A1".into(),
        name: "statut spółdzielni.pdf".into(),
        media_type: "application/pdf".into(),
        size: 14,
        sha256: "00".into(),
        added_at: 12,
        added_by: "applicant:zofia@laka.pl".into(),
    };
    let bytes: &[u8] = b"%PDF-1.4\n\x00\xff%%EOF";
    tx.insert_application_file(&file, bytes).await.unwrap();
    assert_eq!(tx.count_application_files("A1").await.unwrap(), 1);
    let mut changed = tx.application_for_update("A1").await.unwrap().unwrap();
    changed.status = "approved".into();
    changed.certificate_id = Some("7K3QX9M2".into());
    changed.decided_at = Some(40);
    changed.updated_at = 40;
    tx.update_application(&changed).await.unwrap();
    tx.commit().await.unwrap();
    let events = store.application_events("A1").await.unwrap();
    assert_eq!(
        events.iter().map(|e| (e.seq, e.kind.as_str())).collect::<Vec<_>>(),
        [(1, "submitted"), (2, "question")]
    );
    assert_eq!(store.application_files("A1").await.unwrap(), std::slice::from_ref(&file));
    assert_eq!(store.application_file("A1", "F1").await.unwrap(), Some((file, bytes.to_vec())));
    assert_eq!(store.application_file("A2", "F1").await.unwrap(), None, "a file only through its own case");
    assert_eq!(store.application("A1").await.unwrap().unwrap(), changed);

    // Links: once, and not after they expire; sessions are kept and purged.
    let mut tx = store.begin().await.unwrap();
    tx.insert_applicant_link("h1", "zofia@laka.pl", 100, 200).await.unwrap();
    tx.insert_applicant_link("h2", "zofia@laka.pl", 100, 200).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.use_applicant_link("h1", 150).await.unwrap().as_deref(), Some("zofia@laka.pl"));
    assert_eq!(tx.use_applicant_link("h1", 151).await.unwrap(), None, "used");
    assert_eq!(tx.use_applicant_link("h2", 200).await.unwrap(), None, "expired");
    let session = ApplicantSessionRecord {
        hash: "s1".into(),
        email: "zofia@laka.pl".into(),
        created_at: 150,
        seen_at: 150,
        csrf: "c".into(),
    };
    tx.insert_applicant_session(&session).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.applicant_session("s1").await.unwrap(), Some(session));
    store.touch_applicant_session("s1", 160).await.unwrap();
    assert_eq!(store.applicant_session("s1").await.unwrap().unwrap().seen_at, 160);
    assert_eq!(store.purge_applicants(161, 0, 300).await.unwrap(), 3, "the idle session and both links");
    assert_eq!(store.applicant_session("s1").await.unwrap(), None);
    let entity = entity("E1", "Łąka", None);
    let mut tx = store.begin().await.unwrap();
    tx.insert_entity(&EntityRecord { contact: Some("Zofia@Laka.pl".into()), ..entity }).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.entities_of("zofia@laka.pl").await.unwrap().len(), 1, "contacts match in any case");
}
