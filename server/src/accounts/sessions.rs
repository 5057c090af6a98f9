//! Sessions and recovery codes. A session lives in the store (replicas share it) under the hash
//! of its cookie's secret; it ends after half an hour unused or twelve hours in all, at logout,
//! and at once when its account is disabled or changes role. Recovery codes sign a person in once
//! each, when no passkey is at hand.

use rand::Rng;

use super::*;
use crate::store::{SessionRecord, Tx};

/// How long sessions last and how recent a passkey check must be for sensitive changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Seconds without a request after which a session ends.
    pub idle: i64,
    /// Seconds after sign-in after which a session ends however busy.
    pub absolute: i64,
    /// Seconds a passkey check counts for revocation, key rotation and account changes.
    pub reauth: i64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { idle: 30 * 60, absolute: 12 * 3600, reauth: 5 * 60 }
    }
}

/// A person signed in: the account, its role, and the session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: AccountRecord,
    pub role: Role,
    pub session: SessionRecord,
}

impl SignedIn {
    /// The actor audit entries name for this person.
    pub fn actor(&self) -> String {
        actor(&self.account)
    }

    /// Whether the person checked their passkey within the re-authentication window.
    pub fn recently_authenticated(&self, now: i64, timeouts: &Timeouts) -> bool {
        now - self.session.reauth_at <= timeouts.reauth
    }
}

/// Seconds between two updates of a session's `seen_at`: every request would be a write.
const TOUCH_EVERY: i64 = 60;

impl Accounts {
    /// Opens a session for an account that has just proved itself, in `tx`; returns the cookie's
    /// secret.
    /// A session opened by a recovery code (`passkey == false`) has no passkey check yet: its
    /// person confirms with a passkey before sensitive changes.
    pub(super) async fn open_session(
        &self,
        tx: &mut Box<dyn Tx>,
        account: &AccountRecord,
        passkey: bool,
        now: i64,
    ) -> AccountResult<String> {
        let secret = random_secret();
        let session = SessionRecord {
            hash: hash(&secret),
            account_id: account.id.clone(),
            created_at: now,
            seen_at: now,
            reauth_at: if passkey { now } else { 0 },
            csrf: random_secret(),
        };
        tx.insert_session(&session).await?;
        Ok(secret)
    }

    /// The person a session cookie belongs to, while the session is alive and the account
    /// enabled. An expired session is removed.
    pub async fn session(&self, secret: &str, now: i64) -> AccountResult<Option<SignedIn>> {
        let key = hash(secret);
        let Some(session) = self.store.session(&key).await? else {
            return Ok(None);
        };
        let expired =
            now - session.seen_at > self.timeouts.idle || now - session.created_at > self.timeouts.absolute;
        if expired {
            self.store.delete_session(&key).await?;
            return Ok(None);
        }
        let Some(account) = self.store.account(&session.account_id).await? else {
            return Ok(None);
        };
        let Some(role) = Role::parse(&account.role) else {
            return Ok(None);
        };
        if account.disabled_at.is_some() {
            self.store.delete_session(&key).await?;
            return Ok(None);
        }
        if now - session.seen_at >= TOUCH_EVERY {
            self.store.touch_session(&key, now).await?;
        }
        Ok(Some(SignedIn { account, role, session }))
    }

    /// Ends a session (logout).
    pub async fn logout(&self, signed_in: &SignedIn) -> AccountResult<()> {
        self.store.delete_session(&signed_in.session.hash).await?;
        Ok(())
    }

    /// Removes sessions past their timeouts and expired ceremonies.
    pub async fn purge(&self, now: i64) -> AccountResult<u64> {
        let t = self.timeouts;
        Ok(self.store.purge_sessions(now - t.idle, now - t.absolute, now).await?)
    }

    /// Signs in with a recovery code, which is then used up. Returns the session's secret.
    pub async fn recovery_login(&self, email: &str, code: &str, now: i64) -> AccountResult<String> {
        let refused = AccountError::Refused("sign-in did not succeed: check the e-mail and the code");
        let Some(account) = self.by_email(email).await?.filter(|account| account.disabled_at.is_none())
        else {
            return Err(refused);
        };
        let code = normalize_code(code);
        let mut tx = self.store.begin().await?;
        if code.is_empty() || !tx.use_recovery_code(&account.id, &hash(&code), now).await? {
            return Err(refused);
        }
        let session = self.open_session(&mut tx, &account, false, now).await?;
        let details = serde_json::json!({ "email": account.email, "method": "recovery_code" });
        tx.append_audit(&audit(&actor(&account), "account.login", &account.id, details, now)).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Replaces a person's recovery codes with a fresh set, shown once.
    pub async fn renew_recovery_codes(&self, signed_in: &SignedIn, now: i64) -> AccountResult<Vec<String>> {
        let codes = recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|code| hash(&normalize_code(code))).collect();
        let mut tx = self.store.begin().await?;
        tx.replace_recovery_codes(&signed_in.account.id, &hashes).await?;
        let details = serde_json::json!({ "email": signed_in.account.email, "codes": codes.len() });
        tx.append_audit(&audit(
            &signed_in.actor(),
            "account.recovery_codes",
            &signed_in.account.id,
            details,
            now,
        ))
        .await?;
        tx.commit().await?;
        Ok(codes)
    }
}

/// Letters and digits that cannot be mistaken for one another when read aloud or copied by hand.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// [`RECOVERY_CODES`] new codes, each `XXXX-XXXX-XXXX` (60 random bits).
pub(super) fn recovery_codes() -> Vec<String> {
    let mut rng = OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: Vec<char> = (0..12)
                .map(|_| {
                    char::from(
                        CODE_ALPHABET.get(rng.gen_range(0..CODE_ALPHABET.len())).copied().unwrap_or(b'A'),
                    )
                })
                .collect();
            let groups: Vec<String> = chars.chunks(4).map(|group| group.iter().collect()).collect();
            groups.join("-")
        })
        .collect()
}

/// A code as typed, compared as stored: without spaces and dashes, in capitals.
pub(super) fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}
