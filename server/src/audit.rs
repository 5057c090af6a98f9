//! The audit log's hash chain: each entry's hash covers its own fields and the previous entry's
//! hash, so an edited, removed or reordered entry breaks every hash after it.

use sha2::{Digest, Sha256};

use crate::store::{AuditEntry, AuditRecord};

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
