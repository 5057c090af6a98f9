//! Copies a SQLite registry into an empty PostgreSQL database (`zp migrate`): every table row for
//! row, in one PostgreSQL transaction read from one SQLite snapshot, the audit log with its
//! sequence numbers and hashes as they are, so that its chain verifies unchanged.

use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use super::postgres::{PgStore, WRITE_LOCK};
use super::rows::AuditRow;
use super::sqlite::SqliteStore;
use super::*;
use crate::audit::{ChainCheck, ChainVerifier};

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the PostgreSQL database is not empty (table {0} has rows): migrate only into an empty database, \
         so that nothing in it is mixed with the registry"
    )]
    NotEmpty(&'static str),
    #[error("the SQLite registry has {0}, which this version of zp does not know how to copy")]
    UnknownSchema(String),
    #[error("the copied audit log does not verify at entry {seq}: {reason}")]
    AuditChain { seq: i64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Bytes,
}

use Kind::{Bytes, Int, Text};

/// A table to copy and its columns, the same in both schemas. Rows go in rowid order, which keeps
/// insertion order: PostgreSQL numbers tokens as they arrive, as SQLite's rowid did.
#[derive(Debug)]
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
}

/// Every table of the registry, parents before children.
const TABLES: &[Table] = &[
    Table { name: "meta", columns: &[("key", Text), ("value", Text)] },
    Table {
        name: "entities",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("legal_form", Text),
            ("nip", Text),
            ("regon", Text),
            ("krs", Text),
            ("city", Text),
            ("voivodeship", Text),
            ("domains", Text),
            ("contact", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "certificates",
        columns: &[
            ("id", Text),
            ("number", Text),
            ("entity_id", Text),
            ("status_idx", Int),
            ("state", Text),
            ("valid_from", Int),
            ("valid_until", Int),
            ("reason", Text),
            ("public_note", Text),
            ("search_text", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "products",
        columns: &[
            ("certificate_id", Text),
            ("position", Int),
            ("name", Text),
            ("gtin", Text),
            ("added_at", Int),
        ],
    },
    Table {
        name: "tokens",
        columns: &[
            ("jti", Text),
            ("certificate_id", Text),
            ("kid", Text),
            ("token", Text),
            ("iat", Int),
            ("exp", Int),
        ],
    },
    Table {
        name: "accounts",
        columns: &[
            ("id", Text),
            ("email", Text),
            ("name", Text),
            ("role", Text),
            ("disabled_at", Int),
            ("created_at", Int),
        ],
    },
    Table {
        name: "api_keys",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("hash", Text),
            ("created_at", Int),
            ("revoked_at", Int),
            ("account_id", Text),
        ],
    },
    Table {
        name: "passkeys",
        columns: &[
            ("id", Text),
            ("account_id", Text),
            ("name", Text),
            ("passkey", Text),
            ("created_at", Int),
            ("last_used_at", Int),
        ],
    },
    Table { name: "recovery_codes", columns: &[("account_id", Text), ("hash", Text), ("used_at", Int)] },
    Table {
        name: "enrolments",
        columns: &[("hash", Text), ("account_id", Text), ("expires_at", Int), ("used_at", Int)],
    },
    Table {
        name: "sessions",
        columns: &[
            ("hash", Text),
            ("account_id", Text),
            ("created_at", Int),
            ("seen_at", Int),
            ("reauth_at", Int),
            ("csrf", Text),
        ],
    },
    Table {
        name: "ceremonies",
        columns: &[("hash", Text), ("kind", Text), ("subject", Text), ("state", Text), ("expires_at", Int)],
    },
    Table {
        name: "applications",
        columns: &[
            ("id", Text),
            ("kind", Text),
            ("status", Text),
            ("lang", Text),
            ("email", Text),
            ("certificate_id", Text),
            ("entity_id", Text),
            ("form", Text),
            ("checklist", Text),
            ("submitted_by", Text),
            ("submission", Text),
            ("prepared_by", Text),
            ("prepared", Text),
            ("decision", Text),
            ("decided_by", Text),
            ("decided_at", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "application_events",
        columns: &[
            ("application_id", Text),
            ("seq", Int),
            ("at", Int),
            ("author", Text),
            ("kind", Text),
            ("body", Text),
        ],
    },
    Table {
        name: "application_files",
        columns: &[
            ("id", Text),
            ("application_id", Text),
            ("name", Text),
            ("media_type", Text),
            ("size", Int),
            ("sha256", Text),
            ("content", Bytes),
            ("added_at", Int),
            ("added_by", Text),
        ],
    },
    Table {
        name: "applicant_links",
        columns: &[
            ("hash", Text),
            ("email", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("used_at", Int),
        ],
    },
    Table {
        name: "applicant_sessions",
        columns: &[("hash", Text), ("email", Text), ("created_at", Int), ("seen_at", Int), ("csrf", Text)],
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("to_addr", Text),
            ("to_name", Text),
            ("subject", Text),
            ("paragraphs", Text),
            ("link_label", Text),
            ("link_url", Text),
            ("private_link", Int),
            ("lang", Text),
            ("message_id", Text),
            ("state", Text),
            ("attempts", Int),
            ("last_error", Text),
            ("created_at", Int),
            ("due_at", Int),
            ("lease_until", Int),
            ("sent_at", Int),
            ("resent_from", Int),
        ],
    },
    Table {
        name: "reminders",
        columns: &[
            ("certificate_id", Text),
            ("valid_until", Int),
            ("threshold", Int),
            ("outbox_id", Int),
            ("at", Int),
        ],
    },
    Table {
        name: "audit_log",
        columns: &[
            ("seq", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("subject", Text),
            ("details", Text),
            ("prev_hash", Text),
            ("hash", Text),
        ],
    },
    Table {
        name: "trusted_issuers",
        columns: &[
            ("iss", Text),
            ("name", Text),
            ("voivodeship", Text),
            ("jwks_uri", Text),
            ("added_at", Int),
        ],
    },
];

/// Rows per INSERT: eighteen columns at most, well under PostgreSQL's 65535 parameters.
const BATCH: usize = 500;

#[derive(Debug, Clone)]
enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// What was copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// Rows per table, in copy order.
    pub rows: Vec<(String, u64)>,
    /// Entries of the audit log, verified in PostgreSQL before the commit.
    pub audit_entries: u64,
    /// Hash of the newest audit entry, the same in both databases.
    pub audit_head: String,
}

/// Refuses a SQLite registry with a table or column this copy does not know: it would be left
/// behind silently otherwise.
async fn check_schema(tx: &mut sqlx::SqliteConnection) -> Result<(), CopyError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name NOT LIKE '\\_sqlx\\_%' ESCAPE '\\' AND name NOT LIKE 'certificates\\_search%' ESCAPE '\\' \
         ORDER BY name",
    )
    .fetch_all(&mut *tx)
    .await?;
    for name in &tables {
        let Some(table) = TABLES.iter().find(|t| t.name == name) else {
            return Err(CopyError::UnknownSchema(format!("a table {name}")));
        };
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(name)
            .fetch_all(&mut *tx)
            .await?;
        if let Some(unknown) = columns.iter().find(|c| !table.columns.iter().any(|(known, _)| known == c)) {
            return Err(CopyError::UnknownSchema(format!("a column {name}.{unknown}")));
        }
    }
    Ok(())
}

/// Copies the registry in `from` into `to`, which must be empty, in one transaction of `to`.
/// Holds PostgreSQL's write lock throughout, so no replica writes meanwhile.
pub async fn sqlite_to_postgres(from: &SqliteStore, to: &PgStore) -> Result<CopyReport, CopyError> {
    let mut source = from.pool().begin().await?;
    let mut target = to.pool().begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *target).await?;
    for table in TABLES {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", table.name);
        let used: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *target).await?;
        if used {
            return Err(CopyError::NotEmpty(table.name));
        }
    }
    check_schema(&mut source).await?;

    let mut report = CopyReport { rows: Vec::new(), audit_entries: 0, audit_head: String::new() };
    for table in TABLES {
        let names: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        let columns = names.join(", ");
        // Pages by rowid (the audit log's rowid is its `seq`), each inserted as one statement.
        let select =
            format!("SELECT rowid, {columns} FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?", table.name);
        let mut after = i64::MIN;
        let mut copied = 0u64;
        loop {
            let page = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                .bind(after)
                .bind(BATCH as i64)
                .fetch_all(&mut *source)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.try_get(0)?;
            let mut rows = Vec::with_capacity(page.len());
            for row in &page {
                let mut cells = Vec::with_capacity(table.columns.len());
                for (i, (_, kind)) in table.columns.iter().enumerate() {
                    cells.push(match kind {
                        Int => Cell::Int(row.try_get(i + 1)?),
                        Text => Cell::Text(row.try_get(i + 1)?),
                        Bytes => Cell::Bytes(row.try_get(i + 1)?),
                    });
                }
                rows.push(cells);
            }
            let mut insert =
                QueryBuilder::<sqlx::Postgres>::new(format!("INSERT INTO {} ({columns}) ", table.name));
            insert.push_values(rows, |mut values, cells| {
                for cell in cells {
                    match cell {
                        Cell::Int(value) => values.push_bind(value),
                        Cell::Text(value) => values.push_bind(value),
                        Cell::Bytes(value) => values.push_bind(value),
                    };
                }
            });
            copied += insert.build().execute(&mut *target).await?.rows_affected();
        }
        report.rows.push((table.name.to_owned(), copied));
    }

    // The chain as PostgreSQL now holds it, walked before anything is committed.
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page: Vec<AuditRecord> =
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000")
                .bind(after)
                .fetch_all(&mut *target)
                .await?
                .into_iter()
                .map(AuditRow::into_record)
                .collect();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            if let Err(ChainCheck::Broken { seq, reason }) = verifier.push(record) {
                return Err(CopyError::AuditChain { seq, reason });
            }
        }
    }
    if let ChainCheck::Valid { entries, head } = verifier.finish() {
        report.audit_entries = entries;
        report.audit_head = head;
    }
    target.commit().await?;
    source.rollback().await?;
    Ok(report)
}
