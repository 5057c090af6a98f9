//! What the panel's people need stored: staff accounts, their passkeys and recovery codes, the
//! enrolment links of new accounts, sessions and passkey ceremonies in progress. Written once for
//! both databases, like the rest of the store ([`accounts_store!`] beside `sql_store!`).
//!
//! Changes that the audit log must show (accounts, passkeys, codes, sign-ins) go through
//! [`AccountTx`], in the transaction that appends their entry; the bookkeeping of a session (when
//! it was last seen, its last re-authentication, its end) and of ceremonies goes straight to the
//! store, as no entry records it.

use async_trait::async_trait;

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: String,
    /// Lowercased.
    pub email: String,
    pub name: String,
    /// `viewer`, `staff` or `admin`.
    pub role: String,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PasskeyRecord {
    /// The credential ID, base64url.
    pub id: String,
    pub account_id: String,
    /// What the person called it ("laptop", "phone").
    pub name: String,
    /// The credential as webauthn-rs serialises it.
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    /// SHA-256 of the cookie's secret, hex.
    pub hash: String,
    pub account_id: String,
    pub created_at: i64,
    pub seen_at: i64,
    /// The last passkey check: the sign-in, or a later re-authentication.
    pub reauth_at: i64,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// A ceremony taken from the store: whom it is for and webauthn-rs's state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CeremonyRecord {
    pub kind: String,
    /// The account, or for an enrolment the link's hash.
    pub subject: String,
    pub state: String,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn account(&self, id: &str) -> StoreResult<Option<AccountRecord>>;
    async fn account_by_email(&self, email: &str) -> StoreResult<Option<AccountRecord>>;
    /// Every account, by e-mail.
    async fn accounts(&self) -> StoreResult<Vec<AccountRecord>>;
    async fn passkeys(&self, account_id: &str) -> StoreResult<Vec<PasskeyRecord>>;
    /// Unused recovery codes of an account.
    async fn recovery_codes_left(&self, account_id: &str) -> StoreResult<i64>;
    /// The account an unused enrolment link valid at `now` belongs to.
    async fn enrolment(&self, hash: &str, now: i64) -> StoreResult<Option<String>>;
    async fn session(&self, hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// Notes that the session was used at `at`.
    async fn touch_session(&self, hash: &str, at: i64) -> StoreResult<()>;
    async fn set_reauth(&self, hash: &str, at: i64) -> StoreResult<()>;
    /// Ends a session; false when there was none.
    async fn delete_session(&self, hash: &str) -> StoreResult<bool>;
    /// Removes sessions last seen before `seen_before` or begun before `created_before`, and
    /// ceremonies expired by `now`.
    async fn purge_sessions(&self, seen_before: i64, created_before: i64, now: i64) -> StoreResult<u64>;
    async fn put_ceremony(&self, hash: &str, ceremony: &CeremonyRecord, expires_at: i64) -> StoreResult<()>;
    /// Removes and returns a ceremony unexpired at `now`: each can be finished once.
    async fn take_ceremony(&self, hash: &str, now: i64) -> StoreResult<Option<CeremonyRecord>>;
    /// Stores a passkey's new signature counter and the time of its use.
    async fn update_passkey(&self, id: &str, passkey: &str, used_at: i64) -> StoreResult<()>;
}

#[async_trait]
pub trait AccountTx: Send {
    /// A conflict when the e-mail is taken.
    async fn insert_account(&mut self, account: &AccountRecord) -> StoreResult<()>;
    async fn update_account(&mut self, account: &AccountRecord) -> StoreResult<()>;
    /// Ends every session of an account; how many there were.
    async fn delete_sessions_of(&mut self, account_id: &str) -> StoreResult<u64>;
    async fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()>;
    async fn insert_enrolment(&mut self, hash: &str, account_id: &str, expires_at: i64) -> StoreResult<()>;
    /// Marks an enrolment link used; false when it was already used or has expired.
    async fn use_enrolment(&mut self, hash: &str, now: i64) -> StoreResult<bool>;
    async fn insert_passkey(&mut self, passkey: &PasskeyRecord) -> StoreResult<()>;
    /// Replaces an account's recovery codes.
    async fn replace_recovery_codes(&mut self, account_id: &str, hashes: &[String]) -> StoreResult<()>;
    /// Marks an unused code of the account used; false when there is none.
    async fn use_recovery_code(&mut self, account_id: &str, hash: &str, now: i64) -> StoreResult<bool>;
}

/// [`AccountStore`] and [`AccountTx`] for a store and transaction type made by `sql_store!`.
macro_rules! accounts_store {
    ($store:ident, $tx:ident, $dialect:expr) => {
        #[async_trait]
        impl AccountStore for $store {
            async fn account(&self, id: &str) -> StoreResult<Option<AccountRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM accounts WHERE id = ?"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn account_by_email(&self, email: &str) -> StoreResult<Option<AccountRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM accounts WHERE email = ?"))
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn accounts(&self) -> StoreResult<Vec<AccountRecord>> {
                Ok(sqlx::query_as("SELECT * FROM accounts ORDER BY email").fetch_all(&self.pool).await?)
            }

            async fn passkeys(&self, account_id: &str) -> StoreResult<Vec<PasskeyRecord>> {
                Ok(sqlx::query_as($dialect.sql(
                    "SELECT * FROM passkeys WHERE account_id = ? ORDER BY created_at, id",
                ))
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn recovery_codes_left(&self, account_id: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar($dialect.sql(
                    "SELECT count(*) FROM recovery_codes WHERE account_id = ? AND used_at IS NULL",
                ))
                .bind(account_id)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn enrolment(&self, hash: &str, now: i64) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar($dialect.sql(
                    "SELECT account_id FROM enrolments WHERE hash = ? AND used_at IS NULL AND expires_at > ?",
                ))
                .bind(hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn session(&self, hash: &str) -> StoreResult<Option<SessionRecord>> {
                Ok(sqlx::query_as($dialect.sql("SELECT * FROM sessions WHERE hash = ?"))
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn touch_session(&self, hash: &str, at: i64) -> StoreResult<()> {
                sqlx::query($dialect.sql("UPDATE sessions SET seen_at = ? WHERE hash = ?"))
                    .bind(at)
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn set_reauth(&self, hash: &str, at: i64) -> StoreResult<()> {
                sqlx::query($dialect.sql("UPDATE sessions SET reauth_at = ?, seen_at = ? WHERE hash = ?"))
                    .bind(at)
                    .bind(at)
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_session(&self, hash: &str) -> StoreResult<bool> {
                let done = sqlx::query($dialect.sql("DELETE FROM sessions WHERE hash = ?"))
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_sessions(
                &self,
                seen_before: i64,
                created_before: i64,
                now: i64,
            ) -> StoreResult<u64> {
                let sessions =
                    sqlx::query($dialect.sql("DELETE FROM sessions WHERE seen_at < ? OR created_at < ?"))
                        .bind(seen_before)
                        .bind(created_before)
                        .execute(&self.pool)
                        .await?;
                sqlx::query($dialect.sql("DELETE FROM ceremonies WHERE expires_at <= ?"))
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(sessions.rows_affected())
            }

            async fn put_ceremony(
                &self,
                hash: &str,
                ceremony: &CeremonyRecord,
                expires_at: i64,
            ) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO ceremonies (hash, kind, subject, state, expires_at) VALUES (?, ?, ?, ?, ?)",
                ))
                .bind(hash)
                .bind(&ceremony.kind)
                .bind(&ceremony.subject)
                .bind(&ceremony.state)
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err(|err| conflict(err, "this ceremony"))?;
                Ok(())
            }

            async fn take_ceremony(&self, hash: &str, now: i64) -> StoreResult<Option<CeremonyRecord>> {
                Ok(sqlx::query_as($dialect.sql(
                    "DELETE FROM ceremonies WHERE hash = ? AND expires_at > ? RETURNING kind, subject, state",
                ))
                .bind(hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn update_passkey(&self, id: &str, passkey: &str, used_at: i64) -> StoreResult<()> {
                sqlx::query($dialect.sql("UPDATE passkeys SET passkey = ?, last_used_at = ? WHERE id = ?"))
                    .bind(passkey)
                    .bind(used_at)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl AccountTx for $tx {
            async fn insert_account(&mut self, account: &AccountRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO accounts (id, email, name, role, disabled_at, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                ))
                .bind(&account.id)
                .bind(&account.email)
                .bind(&account.name)
                .bind(&account.role)
                .bind(account.disabled_at)
                .bind(account.created_at)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "an account with this e-mail"))?;
                Ok(())
            }

            async fn update_account(&mut self, account: &AccountRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "UPDATE accounts SET email = ?, name = ?, role = ?, disabled_at = ? WHERE id = ?",
                ))
                .bind(&account.email)
                .bind(&account.name)
                .bind(&account.role)
                .bind(account.disabled_at)
                .bind(&account.id)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "an account with this e-mail"))?;
                Ok(())
            }

            async fn delete_sessions_of(&mut self, account_id: &str) -> StoreResult<u64> {
                let done = sqlx::query($dialect.sql("DELETE FROM sessions WHERE account_id = ?"))
                    .bind(account_id)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO sessions (hash, account_id, created_at, seen_at, reauth_at, csrf) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                ))
                .bind(&session.hash)
                .bind(&session.account_id)
                .bind(session.created_at)
                .bind(session.seen_at)
                .bind(session.reauth_at)
                .bind(&session.csrf)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this session"))?;
                Ok(())
            }

            async fn insert_enrolment(
                &mut self,
                hash: &str,
                account_id: &str,
                expires_at: i64,
            ) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO enrolments (hash, account_id, expires_at, used_at) VALUES (?, ?, ?, NULL)",
                ))
                .bind(hash)
                .bind(account_id)
                .bind(expires_at)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this enrolment link"))?;
                Ok(())
            }

            async fn use_enrolment(&mut self, hash: &str, now: i64) -> StoreResult<bool> {
                let done = sqlx::query($dialect.sql(
                    "UPDATE enrolments SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?",
                ))
                .bind(now)
                .bind(hash)
                .bind(now)
                .execute(&mut *self.tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_passkey(&mut self, passkey: &PasskeyRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO passkeys (id, account_id, name, passkey, created_at, last_used_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                ))
                .bind(&passkey.id)
                .bind(&passkey.account_id)
                .bind(&passkey.name)
                .bind(&passkey.passkey)
                .bind(passkey.created_at)
                .bind(passkey.last_used_at)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this passkey"))?;
                Ok(())
            }

            async fn replace_recovery_codes(&mut self, account_id: &str, hashes: &[String]) -> StoreResult<()> {
                sqlx::query($dialect.sql("DELETE FROM recovery_codes WHERE account_id = ?"))
                    .bind(account_id)
                    .execute(&mut *self.tx)
                    .await?;
                for hash in hashes {
                    sqlx::query($dialect.sql(
                        "INSERT INTO recovery_codes (hash, account_id, used_at) VALUES (?, ?, NULL)",
                    ))
                    .bind(hash)
                    .bind(account_id)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|err| conflict(err, "this recovery code"))?;
                }
                Ok(())
            }

            async fn use_recovery_code(&mut self, account_id: &str, hash: &str, now: i64) -> StoreResult<bool> {
                let done = sqlx::query($dialect.sql(
                    "UPDATE recovery_codes SET used_at = ? WHERE hash = ? AND account_id = ? AND used_at IS NULL",
                ))
                .bind(now)
                .bind(hash)
                .bind(account_id)
                .execute(&mut *self.tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use accounts_store;
