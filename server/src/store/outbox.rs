//! What the mail needs stored: the outbox of letters and the expiry reminders already given.
//! Written once for both databases, like the rest of the store ([`outbox_store!`] beside
//! `sql_store!`).
//!
//! A letter goes in through [`OutboxTx`], in the transaction of the change that causes it, so it
//! commits with its cause or not at all. The worker's bookkeeping (claiming a letter, recording
//! an attempt) goes straight to the store: each is one statement, and a claim is a conditional
//! update whose count of changed rows says whether this worker got the letter.

use async_trait::async_trait;

use super::StoreResult;

/// A letter as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRecord {
    pub id: i64,
    pub kind: String,
    pub to_addr: String,
    pub to_name: Option<String>,
    pub subject: String,
    /// JSON array of the plain-text paragraphs.
    pub paragraphs: String,
    pub link_label: Option<String>,
    pub link_url: Option<String>,
    /// 1 when the link is a secret.
    pub private_link: i64,
    /// `pl` or `en`: the language the HTML part declares.
    pub lang: String,
    /// With its angle brackets.
    pub message_id: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    /// The next attempt, not before.
    pub due_at: i64,
    pub lease_until: Option<i64>,
    pub sent_at: Option<i64>,
    /// The letter this one sends again (the panel's resend).
    pub resent_from: Option<i64>,
}

/// A certificate that may be due a reminder: active, ending within the scanned window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReminderCandidate {
    pub certificate_id: String,
    pub number: String,
    pub valid_from: i64,
    pub valid_until: i64,
    pub entity_name: String,
    pub contact: Option<String>,
    /// The most urgent threshold already recorded for this validity period, if any.
    pub done: Option<i64>,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn letter(&self, id: i64) -> StoreResult<Option<OutboxRecord>>;
    /// Letters newest first, of one state or all.
    async fn letters(&self, state: Option<&str>, limit: u32, offset: u32) -> StoreResult<Vec<OutboxRecord>>;
    /// How many letters are in each state (those with none are left out).
    async fn letter_counts(&self) -> StoreResult<Vec<(String, i64)>>;
    /// How many letters of each kind and state were created at or after `since`.
    async fn letters_since(&self, since: i64) -> StoreResult<Vec<(String, String, i64)>>;
    /// IDs of pending letters due at `now` and not claimed, soonest first.
    async fn due_letters(&self, now: i64, limit: u32) -> StoreResult<Vec<i64>>;
    /// The due time of the next pending letter, claimed or not.
    async fn next_due(&self) -> StoreResult<Option<i64>>;
    /// Claims a pending letter due at `now` until `lease_until`, unless another worker holds an
    /// unexpired claim; true when this call got it.
    async fn claim_letter(&self, id: i64, now: i64, lease_until: i64) -> StoreResult<bool>;
    /// Records a delivery: the letter is sent at `at`; false when it was not pending.
    async fn mark_sent(&self, id: i64, at: i64) -> StoreResult<bool>;
    /// Records a failed attempt to be tried again at `due_at`.
    async fn mark_retry(&self, id: i64, error: &str, due_at: i64) -> StoreResult<()>;
    /// Records a failed attempt after which the letter is given up.
    async fn mark_failed(&self, id: i64, error: &str, at: i64) -> StoreResult<()>;
    /// Active certificates whose validity ends in `(from, to]`, with their entity's name and
    /// contact and the most urgent reminder already recorded for that end.
    async fn reminder_candidates(&self, from: i64, to: i64) -> StoreResult<Vec<ReminderCandidate>>;
}

#[async_trait]
pub trait OutboxTx: Send {
    /// A value of `meta`, as this transaction sees it.
    async fn read_meta(&mut self, key: &str) -> StoreResult<Option<String>>;
    /// Adds a letter; its `id` is ignored and the new one returned.
    async fn insert_letter(&mut self, letter: &OutboxRecord) -> StoreResult<i64>;
    async fn letter(&mut self, id: i64) -> StoreResult<Option<OutboxRecord>>;
    /// The thresholds recorded for a certificate's validity period.
    async fn reminder_thresholds(&mut self, certificate_id: &str, valid_until: i64) -> StoreResult<Vec<i64>>;
    /// Records a reminder (`outbox_id` None: a threshold passed over); a conflict when this
    /// certificate, validity period and threshold already have one.
    async fn insert_reminder(
        &mut self,
        certificate_id: &str,
        valid_until: i64,
        threshold: i64,
        outbox_id: Option<i64>,
        at: i64,
    ) -> StoreResult<()>;
}

/// [`OutboxStore`] and [`OutboxTx`] for a store and transaction type made by `sql_store!`.
macro_rules! outbox_store {
    ($store:ident, $tx:ident, $dialect:expr) => {
        #[async_trait]
        impl OutboxStore for $store {
            async fn letter(&self, id: i64) -> StoreResult<Option<OutboxRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM outbox WHERE id = ?"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn letters(
                &self,
                state: Option<&str>,
                limit: u32,
                offset: u32,
            ) -> StoreResult<Vec<OutboxRecord>> {
                Ok(sqlx::query_as($dialect.sql(
                    "SELECT * FROM outbox WHERE (? IS NULL OR state = ?) ORDER BY id DESC LIMIT ? OFFSET ?",
                ))
                .bind(state)
                .bind(state)
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn letter_counts(&self) -> StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as("SELECT state, count(*) FROM outbox GROUP BY state ORDER BY state")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn letters_since(&self, since: i64) -> StoreResult<Vec<(String, String, i64)>> {
                Ok(sqlx::query_as($dialect.sql(
                    "SELECT kind, state, count(*) FROM outbox WHERE created_at >= ? \
                     GROUP BY kind, state ORDER BY kind, state",
                ))
                .bind(since)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn due_letters(&self, now: i64, limit: u32) -> StoreResult<Vec<i64>> {
                Ok(sqlx::query_scalar($dialect.sql(
                    "SELECT id FROM outbox WHERE state = 'pending' AND due_at <= ? \
                     AND (lease_until IS NULL OR lease_until < ?) ORDER BY due_at, id LIMIT ?",
                ))
                .bind(now)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn next_due(&self) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT min(due_at) FROM outbox WHERE state = 'pending'")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn claim_letter(&self, id: i64, now: i64, lease_until: i64) -> StoreResult<bool> {
                let done = sqlx::query($dialect.sql(
                    "UPDATE outbox SET lease_until = ? WHERE id = ? AND state = 'pending' AND due_at <= ? \
                     AND (lease_until IS NULL OR lease_until < ?)",
                ))
                .bind(lease_until)
                .bind(id)
                .bind(now)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_sent(&self, id: i64, at: i64) -> StoreResult<bool> {
                let done = sqlx::query($dialect.sql(
                    "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, lease_until = NULL, \
                     link_url = CASE WHEN private_link = 1 THEN NULL ELSE link_url END \
                     WHERE id = ? AND state = 'pending'",
                ))
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_retry(&self, id: i64, error: &str, due_at: i64) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, due_at = ?, \
                     lease_until = NULL WHERE id = ? AND state = 'pending'",
                ))
                .bind(error)
                .bind(due_at)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn mark_failed(&self, id: i64, error: &str, at: i64) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, \
                     due_at = ?, lease_until = NULL WHERE id = ? AND state = 'pending'",
                ))
                .bind(error)
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn reminder_candidates(&self, from: i64, to: i64) -> StoreResult<Vec<ReminderCandidate>> {
                Ok(sqlx::query_as($dialect.sql(
                    "SELECT c.id AS certificate_id, c.number, c.valid_from, c.valid_until, \
                     e.name AS entity_name, e.contact, \
                     (SELECT min(r.threshold) FROM reminders r \
                      WHERE r.certificate_id = c.id AND r.valid_until = c.valid_until) AS done \
                     FROM certificates c JOIN entities e ON e.id = c.entity_id \
                     WHERE c.state = 'active' AND c.valid_until > ? AND c.valid_until <= ? \
                     ORDER BY c.valid_until, c.id",
                ))
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?)
            }
        }

        #[async_trait]
        impl OutboxTx for $tx {
            async fn read_meta(&mut self, key: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar($dialect.sql("SELECT value FROM meta WHERE key = ?"))
                    .bind(key)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            /// The next ID is taken from committed data under the write lock, as certificate
            /// numbers are, so it is the same in both databases and `zp migrate` copies it as is.
            async fn insert_letter(&mut self, l: &OutboxRecord) -> StoreResult<i64> {
                let id: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) + 1 FROM outbox")
                    .fetch_one(&mut *self.tx)
                    .await?;
                sqlx::query($dialect.sql(
                    "INSERT INTO outbox (id, kind, to_addr, to_name, subject, paragraphs, link_label, \
                     link_url, private_link, lang, message_id, state, attempts, last_error, created_at, due_at, \
                     lease_until, sent_at, resent_from) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ))
                .bind(id)
                .bind(&l.kind)
                .bind(&l.to_addr)
                .bind(&l.to_name)
                .bind(&l.subject)
                .bind(&l.paragraphs)
                .bind(&l.link_label)
                .bind(&l.link_url)
                .bind(l.private_link)
                .bind(&l.lang)
                .bind(&l.message_id)
                .bind(&l.state)
                .bind(l.attempts)
                .bind(&l.last_error)
                .bind(l.created_at)
                .bind(l.due_at)
                .bind(l.lease_until)
                .bind(l.sent_at)
                .bind(l.resent_from)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "a letter with this Message-ID"))?;
                Ok(id)
            }

            async fn letter(&mut self, id: i64) -> StoreResult<Option<OutboxRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM outbox WHERE id = ?"))
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn reminder_thresholds(
                &mut self,
                certificate_id: &str,
                valid_until: i64,
            ) -> StoreResult<Vec<i64>> {
                Ok(sqlx::query_scalar($dialect.sql(
                    "SELECT threshold FROM reminders WHERE certificate_id = ? AND valid_until = ? \
                     ORDER BY threshold",
                ))
                .bind(certificate_id)
                .bind(valid_until)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn insert_reminder(
                &mut self,
                certificate_id: &str,
                valid_until: i64,
                threshold: i64,
                outbox_id: Option<i64>,
                at: i64,
            ) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO reminders (certificate_id, valid_until, threshold, outbox_id, at) \
                     VALUES (?, ?, ?, ?, ?)",
                ))
                .bind(certificate_id)
                .bind(valid_until)
                .bind(threshold)
                .bind(outbox_id)
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this reminder"))?;
                Ok(())
            }
        }
    };
}

pub(super) use outbox_store;
