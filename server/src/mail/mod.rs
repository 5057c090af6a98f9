//! Outgoing mail: letters are written to the outbox in the transaction of the change that causes
//! them ([`enqueue`]) and sent after the commit by a worker, so a letter commits with its cause
//! (never sent for a change that rolled back, never lost for one that committed).

use crate::store::{OutboxRecord, StoreError, StoreResult, Tx};

pub mod compose;
pub mod digest;
pub mod reminders;
pub mod worker;

/// A message to send, written to the outbox in the transaction of the change that causes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Letter {
    /// What it is about, shown in the panel's outbox: "application.received", "reminder.30", "digest", …
    pub kind: String,
    /// One recipient address (already checked by the caller).
    pub to: String,
    pub to_name: Option<String>,
    pub subject: String,
    /// Paragraphs of plain text (Polish with diacritics or English, the caller's choice); the HTML part escapes them.
    pub paragraphs: Vec<String>,
    /// A call to action: (label, absolute URL): its own line in the text part, a link/button in the HTML part.
    pub link: Option<(String, String)>,
    /// True when the link is a secret (a single-use login link): the panel never shows it, except under `serve --demo`.
    pub private_link: bool,
    /// `en` for a letter written in English; anything else is Polish (the HTML part's `lang`).
    pub lang: String,
}

/// Letter states in the outbox.
pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// Writes the letter to the outbox inside `tx`; it is sent after the commit (never if the tx rolls back).
///
/// The letter's Message-ID is fixed here, so every attempt to send it (a retry, a resend after a
/// crash) carries the same one. The caller may wake the sending worker after its commit (see
/// [`Outbox::wake`]); otherwise the worker finds the letter at its next poll.
pub async fn enqueue(tx: &mut Box<dyn Tx>, letter: &Letter, now: i64) -> StoreResult<i64> {
    enqueue_from(tx, letter, now, None).await
}

async fn enqueue_from(
    tx: &mut Box<dyn Tx>,
    letter: &Letter,
    now: i64,
    resent_from: Option<i64>,
) -> StoreResult<i64> {
    let host = match tx.read_meta("base_url").await? {
        Some(base_url) => host_of(&base_url),
        None => "localhost".to_owned(),
    };
    let paragraphs =
        serde_json::to_string(&letter.paragraphs).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let (link_label, link_url) = match &letter.link {
        Some((label, url)) => (Some(label.clone()), Some(url.clone())),
        None => (None, None),
    };
    let record = OutboxRecord {
        id: 0,
        kind: letter.kind.clone(),
        to_addr: letter.to.clone(),
        to_name: letter.to_name.clone(),
        subject: letter.subject.clone(),
        paragraphs,
        link_label,
        link_url,
        private_link: i64::from(letter.private_link),
        lang: if letter.lang == "en" { "en" } else { "pl" }.to_owned(),
        message_id: format!("<{}@{host}>", uuid::Uuid::new_v4().simple()),
        state: PENDING.to_owned(),
        attempts: 0,
        last_error: None,
        created_at: now,
        due_at: now,
        lease_until: None,
        sent_at: None,
        resent_from,
    };
    tx.insert_letter(&record).await
}

/// Why a letter cannot be sent again.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("no letter {0}")]
    NotFound(i64),
    #[error("letter {0} is still pending: it will be sent")]
    Pending(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sends a failed or sent letter again (the panel's "resend"): a new outbox entry with the same
/// recipient and text and a new Message-ID, audited under `actor`. The new letter's ID.
pub async fn resend(
    store: &dyn crate::store::Store,
    actor: &str,
    id: i64,
    now: i64,
) -> Result<i64, ResendError> {
    let mut tx = store.begin().await?;
    let original = tx.letter(id).await?.ok_or(ResendError::NotFound(id))?;
    if original.state == PENDING {
        return Err(ResendError::Pending(id));
    }
    let paragraphs: Vec<String> =
        compose::paragraphs(&original).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let letter = Letter {
        kind: original.kind.clone(),
        to: original.to_addr.clone(),
        to_name: original.to_name.clone(),
        subject: original.subject.clone(),
        paragraphs,
        link: original.link_label.clone().zip(original.link_url.clone()),
        private_link: original.private_link != 0,
        lang: original.lang.clone(),
    };
    let new_id = enqueue_from(&mut tx, &letter, now, Some(id)).await?;
    tx.append_audit(&crate::audit::AuditEntry {
        at: now,
        actor: actor.to_owned(),
        action: "mail.resend".into(),
        subject: new_id.to_string(),
        details: serde_json::json!({
            "resent_from": id,
            "previous_state": original.state,
            "kind": original.kind,
            "to": original.to_addr,
        }),
    })
    .await?;
    tx.commit().await?;
    Ok(new_id)
}

/// The host of a base URL (`https://zp.rops.lublin.pl:8443/x` → `zp.rops.lublin.pl`).
pub fn host_of(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    if host.is_empty() { "localhost".to_owned() } else { host.to_ascii_lowercase() }
}

/// The process's handle on its sending worker: a commit that enqueued letters wakes it at once
/// instead of at its next poll.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    wake: std::sync::Arc<tokio::sync::Notify>,
}

impl Outbox {
    /// Tells the worker that letters may be due now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Returns when [`Outbox::wake`] was called since the last return.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_base_urls() {
        assert_eq!(host_of("https://zp.rops.lublin.pl"), "zp.rops.lublin.pl");
        assert_eq!(host_of("http://127.0.0.1:8080/zp"), "127.0.0.1");
        assert_eq!(host_of("http://[::1]:8080"), "::1");
        assert_eq!(host_of("https://ZP.Example.PL/"), "zp.example.pl");
    }
}
