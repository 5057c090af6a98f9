//! The panel's people: named staff accounts with a role, their passkeys (WebAuthn, through
//! webauthn-rs), one-time recovery codes, the enrolment links that let a new account register its
//! first passkey, and sessions. Written once for the panel and the command line, like the issuer;
//! every change to an account is audited under the name of the person who made it.
//!
//! Secrets (enrolment links, recovery codes, session cookies) are random and stored only as
//! SHA-256 hashes: a copy of the database lets nobody in.

use std::sync::Arc;

use rand::RngCore;
use rand::rngs::OsRng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::AuditEntry;
use crate::ids;
use crate::store::{AccountRecord, Store, StoreError};

mod passkeys;
mod sessions;

pub use passkeys::{Ceremony, PasskeyError, RelyingParty};
pub use sessions::{SignedIn, Timeouts};

/// What a person may do in the panel; each role may do everything the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also registers entities and issues, renews, extends, suspends, reinstates and revokes.
    Staff,
    /// Also manages accounts, API keys, signing keys and the trust list.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Staff, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text.trim())
    }

    pub fn label(self, pl: bool) -> &'static str {
        match (self, pl) {
            (Role::Viewer, true) => "podgląd",
            (Role::Viewer, false) => "viewer",
            (Role::Staff, true) => "pracownik",
            (Role::Staff, false) => "staff",
            (Role::Admin, true) => "administrator",
            (Role::Admin, false) => "admin",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("account {0} does not exist")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A sign-in, enrolment or re-authentication that did not succeed. Deliberately vague: it
    /// says nothing about whether the account or the code exists.
    #[error("{0}")]
    Refused(&'static str),
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type AccountResult<T> = Result<T, AccountError>;

fn invalid(field: &'static str, message: impl Into<String>) -> AccountError {
    AccountError::Invalid { field, message: message.into() }
}

/// How long an enrolment link works: three days.
pub const ENROLMENT_TTL: i64 = 3 * 86_400;
/// Recovery codes given at enrolment (and each time they are renewed).
pub const RECOVERY_CODES: usize = 10;

/// The people side of the issuer.
pub struct Accounts {
    pub store: Arc<dyn Store>,
    /// The panel's address: the issuer's base URL, or `http://localhost:PORT` for one on a
    /// loopback address (passkeys need a domain name, and `localhost` is one).
    pub panel_url: String,
    /// Absent when the base URL's host is an IP address other than loopback: passkeys need a name.
    pub relying_party: Option<RelyingParty>,
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").field("panel_url", &self.panel_url).finish_non_exhaustive()
    }
}

/// A new account and the link its person enrols with.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub account_id: String,
    pub email: String,
    pub role: Role,
    /// Opened once, within [`ENROLMENT_TTL`], to register the first passkey.
    pub enrolment_url: String,
    pub expires_at: i64,
}

impl Accounts {
    pub fn new(store: Arc<dyn Store>, base_url: &str) -> Self {
        let relying_party = RelyingParty::for_base_url(base_url);
        let panel_url =
            relying_party.as_ref().map_or_else(|| base_url.to_owned(), |rp| rp.origin().to_owned());
        Accounts { store, panel_url, relying_party, timeouts: Timeouts::default() }
    }

    /// The account of a person's e-mail, lowercased.
    pub async fn by_email(&self, email: &str) -> AccountResult<Option<AccountRecord>> {
        Ok(self.store.account_by_email(&email.trim().to_lowercase()).await?)
    }

    pub async fn get(&self, id: &str) -> AccountResult<AccountRecord> {
        self.store.account(id).await?.ok_or_else(|| AccountError::NotFound(id.to_owned()))
    }

    /// Makes an account and its enrolment link: `zp user create` for the first admin, the panel
    /// for everyone after.
    pub async fn create(
        &self,
        actor: &str,
        email: &str,
        name: Option<&str>,
        role: Role,
        now: i64,
    ) -> AccountResult<Invitation> {
        let email = check_email(email)?;
        let name = match name.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) if name.chars().count() > 200 => {
                return Err(invalid("name", "at most 200 characters"));
            }
            Some(name) if name.chars().any(char::is_control) => {
                return Err(invalid("name", "control characters are not allowed"));
            }
            Some(name) => name.to_owned(),
            None => email.split('@').next().unwrap_or_default().to_owned(),
        };
        let account = AccountRecord {
            id: ids::new_id("acc_", &mut OsRng),
            email: email.clone(),
            name,
            role: role.as_str().to_owned(),
            disabled_at: None,
            created_at: now,
        };
        let secret = random_secret();
        let mut tx = self.store.begin().await?;
        tx.insert_account(&account).await.map_err(|err| match err {
            StoreError::Conflict(_) => invalid("email", "an account with this e-mail already exists"),
            other => other.into(),
        })?;
        tx.insert_enrolment(&hash(&secret), &account.id, now + ENROLMENT_TTL).await?;
        let details = serde_json::json!({ "email": email, "name": account.name, "role": role });
        tx.append_audit(&audit(actor, "account.create", &account.id, details, now)).await?;
        tx.commit().await?;
        Ok(Invitation {
            account_id: account.id,
            email,
            role,
            enrolment_url: self.enrolment_url(&secret),
            expires_at: now + ENROLMENT_TTL,
        })
    }

    /// A new enrolment link for an existing account (a lost passkey and no codes left): the
    /// person registers a passkey again; earlier links stay valid until they expire.
    pub async fn reenrol(&self, actor: &str, id: &str, now: i64) -> AccountResult<Invitation> {
        let account = self.get(id).await?;
        let role = Role::parse(&account.role).unwrap_or(Role::Viewer);
        let secret = random_secret();
        let mut tx = self.store.begin().await?;
        tx.insert_enrolment(&hash(&secret), &account.id, now + ENROLMENT_TTL).await?;
        let details = serde_json::json!({ "email": account.email });
        tx.append_audit(&audit(actor, "account.enrolment_link", &account.id, details, now)).await?;
        tx.commit().await?;
        Ok(Invitation {
            account_id: account.id,
            email: account.email,
            role,
            enrolment_url: self.enrolment_url(&secret),
            expires_at: now + ENROLMENT_TTL,
        })
    }

    fn enrolment_url(&self, secret: &str) -> String {
        format!("{}/panel/enrol/{secret}", self.panel_url)
    }

    /// Changes an account's role; its sessions end, so the new role applies from the next click.
    pub async fn set_role(
        &self,
        actor: &str,
        id: &str,
        role: Role,
        now: i64,
    ) -> AccountResult<AccountRecord> {
        let mut account = self.get(id).await?;
        let before = account.role.clone();
        account.role = role.as_str().to_owned();
        self.keep_an_admin(&account).await?;
        let mut tx = self.store.begin().await?;
        tx.update_account(&account).await?;
        tx.delete_sessions_of(id).await?;
        let details = serde_json::json!({ "email": account.email, "from": before, "to": role });
        tx.append_audit(&audit(actor, "account.role", id, details, now)).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Disables an account (`disabled == true`) and ends its sessions at once, or enables it.
    pub async fn set_disabled(
        &self,
        actor: &str,
        id: &str,
        disabled: bool,
        now: i64,
    ) -> AccountResult<AccountRecord> {
        let mut account = self.get(id).await?;
        account.disabled_at = disabled.then_some(now);
        if disabled {
            self.keep_an_admin(&account).await?;
        }
        let mut tx = self.store.begin().await?;
        tx.update_account(&account).await?;
        let ended = tx.delete_sessions_of(id).await?;
        let action = if disabled { "account.disable" } else { "account.enable" };
        let details = serde_json::json!({ "email": account.email, "sessions_ended": ended });
        tx.append_audit(&audit(actor, action, id, details, now)).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Refuses a change that would leave no enabled admin: nobody could then manage accounts.
    async fn keep_an_admin(&self, changed: &AccountRecord) -> AccountResult<()> {
        let accounts = self.store.accounts().await?;
        let admins = accounts
            .iter()
            .map(|account| if account.id == changed.id { changed } else { account })
            .filter(|account| account.role == Role::Admin.as_str() && account.disabled_at.is_none())
            .count();
        if admins == 0 {
            return Err(AccountError::Conflict(
                "this would leave no enabled admin: make another admin first".into(),
            ));
        }
        Ok(())
    }

    pub async fn list(&self) -> AccountResult<Vec<AccountRecord>> {
        Ok(self.store.accounts().await?)
    }
}

/// The actor an audit entry names for a person: their account ID and e-mail.
pub fn actor(account: &AccountRecord) -> String {
    format!("account:{}:{}", account.id, account.email)
}

fn audit(actor: &str, action: &str, subject: &str, details: serde_json::Value, now: i64) -> AuditEntry {
    AuditEntry { at: now, actor: actor.into(), action: action.into(), subject: subject.into(), details }
}

/// A lowercased e-mail address of a plausible shape: one `@`, something on each side, a dot in
/// the domain, no spaces or controls, at most 254 characters.
pub fn check_email(email: &str) -> AccountResult<String> {
    let email = email.trim().to_lowercase();
    let well_formed = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if email.is_empty() {
        return Err(invalid("email", "required"));
    }
    if !well_formed {
        return Err(invalid("email", "not an e-mail address (expected name@example.pl)"));
    }
    Ok(email)
}

/// 32 random bytes, base64url: an enrolment link, a session cookie, a ceremony.
pub fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a secret is stored.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
