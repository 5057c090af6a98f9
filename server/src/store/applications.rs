//! What the application cycle needs stored: applications, their thread of questions and
//! answers, their attachments, and the applicants' sign-in links and sessions. Written once for
//! both databases ([`applications_store!`] beside `sql_store!`), like the panel's accounts.
//!
//! Every change of a case goes through [`ApplicationTx`], in the transaction that appends its
//! audit entry and writes its letters; the bookkeeping of an applicant's session goes straight
//! to the store.

use async_trait::async_trait;

use super::{EntityRecord, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApplicationRecord {
    pub id: String,
    /// `new`, `renewal` or `branch`.
    pub kind: String,
    /// `submitted`, `returned`, `answered`, `prepared`, `approved` or `refused`.
    pub status: String,
    /// `pl` or `en`.
    pub lang: String,
    /// The contact person's e-mail, lowercased.
    pub email: String,
    pub certificate_id: Option<String>,
    pub entity_id: Option<String>,
    /// The application as JSON.
    pub form: String,
    /// The criteria ticked, as a JSON list of their codes.
    pub checklist: String,
    pub submitted_by: String,
    pub submission: Option<String>,
    pub prepared_by: Option<String>,
    pub prepared: Option<String>,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApplicationEventRecord {
    pub application_id: String,
    pub seq: i64,
    pub at: i64,
    pub author: String,
    pub kind: String,
    pub body: String,
}

/// An attachment without its content.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApplicationFileRecord {
    pub id: String,
    pub application_id: String,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub added_at: i64,
    pub added_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApplicantSessionRecord {
    pub hash: String,
    pub email: String,
    pub created_at: i64,
    pub seen_at: i64,
    pub csrf: String,
}

/// The columns of an attachment but its content.
pub(super) const FILE_COLUMNS: &str =
    "id, application_id, name, media_type, size, sha256, added_at, added_by";

#[async_trait]
pub trait ApplicationStore: Send + Sync {
    async fn application(&self, id: &str) -> StoreResult<Option<ApplicationRecord>>;
    /// Applications in this status (every one when `None`), the longest waiting first.
    async fn applications(&self, status: Option<&str>, limit: u32) -> StoreResult<Vec<ApplicationRecord>>;
    /// Every application with this contact e-mail, newest first.
    async fn applications_of(&self, email: &str) -> StoreResult<Vec<ApplicationRecord>>;
    /// The application a submission key made.
    async fn application_by_submission(&self, submission: &str) -> StoreResult<Option<String>>;
    /// How many applications are in each status.
    async fn application_counts(&self) -> StoreResult<Vec<(String, i64)>>;
    async fn application_events(&self, id: &str) -> StoreResult<Vec<ApplicationEventRecord>>;
    async fn application_files(&self, id: &str) -> StoreResult<Vec<ApplicationFileRecord>>;
    /// An attachment of this application, with its content.
    async fn application_file(
        &self,
        application_id: &str,
        file_id: &str,
    ) -> StoreResult<Option<(ApplicationFileRecord, Vec<u8>)>>;
    /// Entities whose contact is this e-mail (any case): those its holder may look after.
    async fn entities_of(&self, email: &str) -> StoreResult<Vec<EntityRecord>>;
    async fn applicant_session(&self, hash: &str) -> StoreResult<Option<ApplicantSessionRecord>>;
    async fn touch_applicant_session(&self, hash: &str, at: i64) -> StoreResult<()>;
    async fn delete_applicant_session(&self, hash: &str) -> StoreResult<()>;
    /// Removes applicants' sessions last seen before `seen_before` or begun before
    /// `created_before`, and links expired by `now`.
    async fn purge_applicants(&self, seen_before: i64, created_before: i64, now: i64) -> StoreResult<u64>;
}

#[async_trait]
pub trait ApplicationTx: Send {
    /// A conflict when its submission key was used before.
    async fn insert_application(&mut self, application: &ApplicationRecord) -> StoreResult<()>;
    async fn application_for_update(&mut self, id: &str) -> StoreResult<Option<ApplicationRecord>>;
    async fn update_application(&mut self, application: &ApplicationRecord) -> StoreResult<()>;
    /// Appends to the case's thread; its sequence number.
    async fn insert_application_event(
        &mut self,
        application_id: &str,
        at: i64,
        author: &str,
        kind: &str,
        body: &str,
    ) -> StoreResult<i64>;
    async fn insert_application_file(
        &mut self,
        file: &ApplicationFileRecord,
        content: &[u8],
    ) -> StoreResult<()>;
    async fn count_application_files(&mut self, application_id: &str) -> StoreResult<i64>;
    async fn insert_applicant_link(
        &mut self,
        hash: &str,
        email: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// How many sign-in links were made for this e-mail since `since`.
    async fn count_applicant_links(&mut self, email: &str, since: i64) -> StoreResult<i64>;
    /// Marks an unused, unexpired link used: the e-mail it was for, or `None`.
    async fn use_applicant_link(&mut self, hash: &str, now: i64) -> StoreResult<Option<String>>;
    async fn insert_applicant_session(&mut self, session: &ApplicantSessionRecord) -> StoreResult<()>;
}

/// [`ApplicationStore`] and [`ApplicationTx`] for a store and transaction type made by `sql_store!`.
macro_rules! applications_store {
    ($store:ident, $tx:ident, $dialect:expr) => {
        #[async_trait]
        impl ApplicationStore for $store {
            async fn application(&self, id: &str) -> StoreResult<Option<ApplicationRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM applications WHERE id = ?"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn applications(
                &self,
                status: Option<&str>,
                limit: u32,
            ) -> StoreResult<Vec<ApplicationRecord>> {
                Ok(sqlx::query_as($dialect.sql(
                    "SELECT * FROM applications WHERE (? IS NULL OR status = ?) \
                     ORDER BY updated_at, id LIMIT ?",
                ))
                .bind(status)
                .bind(status)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn applications_of(&self, email: &str) -> StoreResult<Vec<ApplicationRecord>> {
                Ok(sqlx::query_as(
                    $dialect.sql("SELECT * FROM applications WHERE email = ? ORDER BY created_at DESC, id"),
                )
                .bind(email)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn application_by_submission(&self, submission: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar($dialect.sql("SELECT id FROM applications WHERE submission = ?"))
                    .bind(submission)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn application_counts(&self) -> StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT status, count(*) FROM applications GROUP BY status ORDER BY status",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn application_events(&self, id: &str) -> StoreResult<Vec<ApplicationEventRecord>> {
                Ok(sqlx::query_as(
                    $dialect.sql("SELECT * FROM application_events WHERE application_id = ? ORDER BY seq"),
                )
                .bind(id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn application_files(&self, id: &str) -> StoreResult<Vec<ApplicationFileRecord>> {
                let sql = format!(
                    "SELECT {FILE_COLUMNS} FROM application_files WHERE application_id = ? \
                     ORDER BY added_at, id"
                );
                Ok(sqlx::query_as($dialect.sql_owned(sql)).bind(id).fetch_all(&self.pool).await?)
            }

            async fn application_file(
                &self,
                application_id: &str,
                file_id: &str,
            ) -> StoreResult<Option<(ApplicationFileRecord, Vec<u8>)>> {
                let sql = format!(
                    "SELECT {FILE_COLUMNS} FROM application_files WHERE application_id = ? AND id = ?"
                );
                let Some(file) = sqlx::query_as::<_, ApplicationFileRecord>($dialect.sql_owned(sql))
                    .bind(application_id)
                    .bind(file_id)
                    .fetch_optional(&self.pool)
                    .await?
                else {
                    return Ok(None);
                };
                let content: Vec<u8> =
                    sqlx::query_scalar($dialect.sql("SELECT content FROM application_files WHERE id = ?"))
                        .bind(file_id)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(Some((file, content)))
            }

            async fn entities_of(&self, email: &str) -> StoreResult<Vec<EntityRecord>> {
                let rows: Vec<EntityRow> = sqlx::query_as(
                    $dialect
                        .sql("SELECT * FROM entities WHERE lower(contact) = ? ORDER BY name, id LIMIT 100"),
                )
                .bind(email)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(EntityRow::into_record).collect()
            }

            async fn applicant_session(&self, hash: &str) -> StoreResult<Option<ApplicantSessionRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM applicant_sessions WHERE hash = ?"))
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn touch_applicant_session(&self, hash: &str, at: i64) -> StoreResult<()> {
                sqlx::query($dialect.sql("UPDATE applicant_sessions SET seen_at = ? WHERE hash = ?"))
                    .bind(at)
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_applicant_session(&self, hash: &str) -> StoreResult<()> {
                sqlx::query($dialect.sql("DELETE FROM applicant_sessions WHERE hash = ?"))
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn purge_applicants(
                &self,
                seen_before: i64,
                created_before: i64,
                now: i64,
            ) -> StoreResult<u64> {
                let sessions = sqlx::query(
                    $dialect.sql("DELETE FROM applicant_sessions WHERE seen_at < ? OR created_at < ?"),
                )
                .bind(seen_before)
                .bind(created_before)
                .execute(&self.pool)
                .await?;
                let links = sqlx::query($dialect.sql("DELETE FROM applicant_links WHERE expires_at <= ?"))
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(sessions.rows_affected() + links.rows_affected())
            }
        }

        #[async_trait]
        impl ApplicationTx for $tx {
            async fn insert_application(&mut self, a: &ApplicationRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO applications (id, kind, status, lang, email, certificate_id, entity_id, \
                     form, checklist, submitted_by, submission, prepared_by, prepared, decision, \
                     decided_by, decided_at, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ))
                .bind(&a.id)
                .bind(&a.kind)
                .bind(&a.status)
                .bind(&a.lang)
                .bind(&a.email)
                .bind(&a.certificate_id)
                .bind(&a.entity_id)
                .bind(&a.form)
                .bind(&a.checklist)
                .bind(&a.submitted_by)
                .bind(&a.submission)
                .bind(&a.prepared_by)
                .bind(&a.prepared)
                .bind(&a.decision)
                .bind(&a.decided_by)
                .bind(a.decided_at)
                .bind(a.created_at)
                .bind(a.updated_at)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this application"))?;
                Ok(())
            }

            async fn application_for_update(&mut self, id: &str) -> StoreResult<Option<ApplicationRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM applications WHERE id = ?"))
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn update_application(&mut self, a: &ApplicationRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "UPDATE applications SET status = ?, certificate_id = ?, entity_id = ?, checklist = ?, \
                     prepared_by = ?, prepared = ?, decision = ?, decided_by = ?, decided_at = ?, \
                     updated_at = ? WHERE id = ?",
                ))
                .bind(&a.status)
                .bind(&a.certificate_id)
                .bind(&a.entity_id)
                .bind(&a.checklist)
                .bind(&a.prepared_by)
                .bind(&a.prepared)
                .bind(&a.decision)
                .bind(&a.decided_by)
                .bind(a.decided_at)
                .bind(a.updated_at)
                .bind(&a.id)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn insert_application_event(
                &mut self,
                application_id: &str,
                at: i64,
                author: &str,
                kind: &str,
                body: &str,
            ) -> StoreResult<i64> {
                let seq: i64 = sqlx::query_scalar($dialect.sql(
                    "SELECT coalesce(max(seq), 0) + 1 FROM application_events WHERE application_id = ?",
                ))
                .bind(application_id)
                .fetch_one(&mut *self.tx)
                .await?;
                sqlx::query($dialect.sql(
                    "INSERT INTO application_events (application_id, seq, at, author, kind, body) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                ))
                .bind(application_id)
                .bind(seq)
                .bind(at)
                .bind(author)
                .bind(kind)
                .bind(body)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this entry of the case"))?;
                Ok(seq)
            }

            async fn insert_application_file(
                &mut self,
                f: &ApplicationFileRecord,
                content: &[u8],
            ) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO application_files (id, application_id, name, media_type, size, sha256, \
                     content, added_at, added_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ))
                .bind(&f.id)
                .bind(&f.application_id)
                .bind(&f.name)
                .bind(&f.media_type)
                .bind(f.size)
                .bind(&f.sha256)
                .bind(content)
                .bind(f.added_at)
                .bind(&f.added_by)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this attachment"))?;
                Ok(())
            }

            async fn count_application_files(&mut self, application_id: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    $dialect.sql("SELECT count(*) FROM application_files WHERE application_id = ?"),
                )
                .bind(application_id)
                .fetch_one(&mut *self.tx)
                .await?)
            }

            async fn insert_applicant_link(
                &mut self,
                hash: &str,
                email: &str,
                now: i64,
                expires_at: i64,
            ) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO applicant_links (hash, email, created_at, expires_at, used_at) \
                     VALUES (?, ?, ?, ?, NULL)",
                ))
                .bind(hash)
                .bind(email)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this link"))?;
                Ok(())
            }

            async fn count_applicant_links(&mut self, email: &str, since: i64) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    $dialect.sql("SELECT count(*) FROM applicant_links WHERE email = ? AND created_at >= ?"),
                )
                .bind(email)
                .bind(since)
                .fetch_one(&mut *self.tx)
                .await?)
            }

            async fn use_applicant_link(&mut self, hash: &str, now: i64) -> StoreResult<Option<String>> {
                let done = sqlx::query($dialect.sql(
                    "UPDATE applicant_links SET used_at = ? \
                     WHERE hash = ? AND used_at IS NULL AND expires_at > ?",
                ))
                .bind(now)
                .bind(hash)
                .bind(now)
                .execute(&mut *self.tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(None);
                }
                Ok(sqlx::query_scalar($dialect.sql("SELECT email FROM applicant_links WHERE hash = ?"))
                    .bind(hash)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn insert_applicant_session(&mut self, s: &ApplicantSessionRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO applicant_sessions (hash, email, created_at, seen_at, csrf) \
                     VALUES (?, ?, ?, ?, ?)",
                ))
                .bind(&s.hash)
                .bind(&s.email)
                .bind(s.created_at)
                .bind(s.seen_at)
                .bind(&s.csrf)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this session"))?;
                Ok(())
            }
        }
    };
}

pub(super) use applications_store;
