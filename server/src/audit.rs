//! The audit log's hash chain: each entry's hash covers its own fields and the previous entry's
//! hash, so an edited, removed or reordered entry breaks every hash after it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What an admin action appends to the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: serde_json::Value,
}

/// An audit entry as stored: its place in the chain, its details as the JSON text that was
/// hashed, and the hashes that link it to the entry before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of entry `seq` with these fields after `prev_hash`. Fields are length-prefixed so
/// no two different entries share an encoding.
pub fn entry_hash(prev_hash: &str, seq: i64, entry: &AuditEntry, details: &str) -> String {
    let mut hasher = Sha256::new();
    for field in [
        prev_hash,
        &seq.to_string(),
        &entry.at.to_string(),
        &entry.actor,
        &entry.action,
        &entry.subject,
        details,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    Valid { entries: u64, head: String },
    Broken { seq: i64, reason: String },
}

/// Walks records in order, checking sequence, links and hashes. Feed it pages in order.
#[derive(Debug)]
pub struct ChainVerifier {
    prev_hash: String,
    prev_seq: i64,
    entries: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { prev_hash: GENESIS.into(), prev_seq: 0, entries: 0 }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainCheck> {
        let broken = |reason: String| ChainCheck::Broken { seq: record.seq, reason };
        if record.seq != self.prev_seq + 1 {
            return Err(broken(format!("expected entry {}, found {}", self.prev_seq + 1, record.seq)));
        }
        if record.prev_hash != self.prev_hash {
            return Err(broken("does not link to the previous entry".into()));
        }
        let entry = AuditEntry {
            at: record.at,
            actor: record.actor.clone(),
            action: record.action.clone(),
            subject: record.subject.clone(),
            details: serde_json::Value::Null,
        };
        if entry_hash(&record.prev_hash, record.seq, &entry, &record.details) != record.hash {
            return Err(broken("content does not match its hash".into()));
        }
        self.prev_hash = record.hash.clone();
        self.prev_seq = record.seq;
        self.entries += 1;
        Ok(())
    }

    pub fn finish(self) -> ChainCheck {
        ChainCheck::Valid { entries: self.entries, head: self.prev_hash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid chain of `n` records, as the store would hold them.
    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut records: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev_hash = records.last().map_or_else(|| GENESIS.to_owned(), |r| r.hash.clone());
            let entry = AuditEntry {
                at: 1_767_225_600 + seq,
                actor: "cli:tests".into(),
                action: "certificate.issue".into(),
                subject: format!("CERT000{seq}"),
                details: serde_json::Value::Null,
            };
            let details = format!("{{\"n\":{seq}}}");
            let hash = entry_hash(&prev_hash, seq, &entry, &details);
            records.push(AuditRecord {
                seq,
                at: entry.at,
                actor: entry.actor,
                action: entry.action,
                subject: entry.subject,
                details,
                prev_hash,
                hash,
            });
        }
        records
    }

    fn walk(records: &[AuditRecord]) -> ChainCheck {
        let mut verifier = ChainVerifier::default();
        for record in records {
            if let Err(broken) = verifier.push(record) {
                return broken;
            }
        }
        verifier.finish()
    }

    fn broken(seq: i64, reason: &str) -> ChainCheck {
        ChainCheck::Broken { seq, reason: reason.into() }
    }

    #[test]
    fn an_untouched_chain_is_valid() {
        let records = chain(4);
        assert_eq!(walk(&records), ChainCheck::Valid { entries: 4, head: records[3].hash.clone() });
        assert_eq!(walk(&[]), ChainCheck::Valid { entries: 0, head: GENESIS.into() });
    }

    #[test]
    fn every_changed_field_breaks_the_chain_at_that_entry() {
        type Edit = fn(&mut AuditRecord);
        let edits: [(&str, Edit); 8] = [
            ("at", |r| r.at += 1),
            ("actor", |r| r.actor = "cli:someone-else".into()),
            ("action", |r| r.action = "certificate.revoke".into()),
            ("subject", |r| r.subject = "CERT9999".into()),
            ("details", |r| r.details = "{\"n\":99}".into()),
            ("hash", |r| r.hash = "f".repeat(64)),
            ("prev_hash", |r| r.prev_hash = GENESIS.into()),
            ("seq", |r| r.seq = 7),
        ];
        for (field, edit) in edits {
            let mut records = chain(4);
            edit(&mut records[2]);
            let expected = match field {
                "prev_hash" => broken(3, "does not link to the previous entry"),
                "seq" => broken(7, "expected entry 3, found 7"),
                _ => broken(3, "content does not match its hash"),
            };
            assert_eq!(walk(&records), expected, "{field} changed");
        }
    }

    #[test]
    fn an_edit_with_its_hash_recomputed_breaks_the_next_link() {
        let mut records = chain(4);
        let edited = &mut records[1];
        edited.subject = "CERT9999".into();
        let entry = AuditEntry {
            at: edited.at,
            actor: edited.actor.clone(),
            action: edited.action.clone(),
            subject: edited.subject.clone(),
            details: serde_json::Value::Null,
        };
        edited.hash = entry_hash(&edited.prev_hash, edited.seq, &entry, &edited.details);
        assert_eq!(walk(&records), broken(3, "does not link to the previous entry"));
    }

    #[test]
    fn a_removed_entry_breaks_the_chain() {
        let mut records = chain(4);
        records.remove(1);
        assert_eq!(walk(&records), broken(3, "expected entry 2, found 3"));
        let mut records = chain(4);
        records.remove(0);
        assert_eq!(walk(&records), broken(2, "expected entry 1, found 2"));
        // Renumbered to hide the gap, the links still give it away.
        let mut records = chain(4);
        records.remove(1);
        records[1].seq = 2;
        records[2].seq = 3;
        assert_eq!(walk(&records), broken(2, "does not link to the previous entry"));
    }

    #[test]
    fn reordered_entries_break_the_chain() {
        let mut records = chain(4);
        records.swap(1, 2);
        assert_eq!(walk(&records), broken(3, "expected entry 2, found 3"));
        // Swapped with their numbers kept in order: the links give it away.
        let mut records = chain(4);
        records.swap(1, 2);
        records[1].seq = 2;
        records[2].seq = 3;
        assert_eq!(walk(&records), broken(2, "does not link to the previous entry"));
    }
}
