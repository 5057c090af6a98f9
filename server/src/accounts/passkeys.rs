//! Passkey ceremonies: enrolment (the first passkey of an account, from its link), sign-in, and
//! re-authentication before sensitive changes. webauthn-rs checks the cryptography; this module
//! keeps each ceremony's state in the store (server-side, as webauthn-rs requires) under a random
//! ID the browser sends back, and lets each be finished once, within five minutes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use url::{Host, Url};
use uuid::Uuid;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::*;
use crate::store::{CeremonyRecord, PasskeyRecord};

/// How long a browser has to answer a ceremony.
const CEREMONY_TTL: i64 = 300;

/// The site passkeys are bound to: the panel's host, and the origin browsers report.
pub struct RelyingParty {
    webauthn: Webauthn,
    origin: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("origin", &self.origin).finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// The relying party of an issuer at `base_url`. Browsers bind passkeys to a domain name, so
    /// an issuer on a loopback address (a demo, a test) is served as `localhost`, and one on any
    /// other IP address has no passkeys (sign-in then needs a domain name).
    pub fn for_base_url(base_url: &str) -> Option<RelyingParty> {
        let url = Url::parse(base_url).ok()?;
        let rp_id = match url.host()? {
            Host::Domain(domain) => domain.to_owned(),
            Host::Ipv4(ip) if ip.is_loopback() => "localhost".to_owned(),
            Host::Ipv6(ip) if ip.is_loopback() => "localhost".to_owned(),
            _ => return None,
        };
        let origin = match url.port() {
            Some(port) => format!("{}://{rp_id}:{port}", url.scheme()),
            None => format!("{}://{rp_id}", url.scheme()),
        };
        let origin_url = Url::parse(&origin).ok()?;
        let webauthn =
            WebauthnBuilder::new(&rp_id, &origin_url).ok()?.rp_name("Zakup Prospołeczny").build().ok()?;
        Some(RelyingParty { webauthn, origin })
    }

    /// `scheme://host[:port]` of the panel, as browsers send it in `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("passkeys need the issuer to have a domain name (its base URL is an IP address)")]
    Unavailable,
    #[error("the passkey was not accepted: {0}")]
    Rejected(String),
    #[error("this step has expired or was already used: start again")]
    Expired,
    #[error("stored passkey data is unreadable: {0}")]
    Stored(String),
}

/// A ceremony begun: its ID (the browser sends it back with the answer) and the options for
/// `navigator.credentials`, as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Ceremony {
    pub ceremony: String,
    pub options: serde_json::Value,
}

const ENROL: &str = "enrol";
const LOGIN: &str = "login";
const REAUTH: &str = "reauth";

/// Turns any webauthn-rs or JSON failure into a refusal that names it.
fn rejected(err: impl std::fmt::Display) -> AccountError {
    AccountError::Passkey(PasskeyError::Rejected(err.to_string()))
}

impl Accounts {
    fn relying_party(&self) -> AccountResult<&RelyingParty> {
        self.relying_party.as_ref().ok_or(AccountError::Passkey(PasskeyError::Unavailable))
    }

    async fn begin(
        &self,
        kind: &str,
        subject: &str,
        state: String,
        options: serde_json::Value,
        now: i64,
    ) -> AccountResult<Ceremony> {
        let ceremony = random_secret();
        let record = CeremonyRecord { kind: kind.to_owned(), subject: subject.to_owned(), state };
        self.store.put_ceremony(&hash(&ceremony), &record, now + CEREMONY_TTL).await?;
        Ok(Ceremony { ceremony, options })
    }

    /// Takes a ceremony of `kind` for `subject`; each is finished once.
    async fn take(
        &self,
        ceremony: &str,
        kind: &str,
        subject: Option<&str>,
        now: i64,
    ) -> AccountResult<CeremonyRecord> {
        let record = self
            .store
            .take_ceremony(&hash(ceremony), now)
            .await?
            .filter(|record| record.kind == kind && subject.is_none_or(|subject| record.subject == subject))
            .ok_or(AccountError::Passkey(PasskeyError::Expired))?;
        Ok(record)
    }

    /// The account an enrolment link is for, while the link is unused and unexpired.
    pub async fn enrolment_account(&self, link: &str, now: i64) -> AccountResult<AccountRecord> {
        let id = self
            .store
            .enrolment(&hash(link), now)
            .await?
            .ok_or(AccountError::Refused("this enrolment link has expired or was already used"))?;
        let account = self.get(&id).await?;
        if account.disabled_at.is_some() {
            return Err(AccountError::Refused("this account is disabled"));
        }
        Ok(account)
    }

    /// Begins registering a passkey from an enrolment link.
    pub async fn start_enrolment(&self, link: &str, now: i64) -> AccountResult<Ceremony> {
        let account = self.enrolment_account(link, now).await?;
        let rp = self.relying_party()?;
        let existing = self.stored_passkeys(&account.id).await?;
        let exclude = existing.iter().map(|(_, passkey)| passkey.cred_id().clone()).collect();
        let (options, state) = rp
            .webauthn
            .start_passkey_registration(user_handle(&account), &account.email, &account.name, Some(exclude))
            .map_err(rejected)?;
        let state = serde_json::to_string(&state).map_err(rejected)?;
        let options = serde_json::to_value(options).map_err(rejected)?;
        self.begin(ENROL, &hash(link), state, options, now).await
    }

    /// Finishes an enrolment: stores the passkey, uses up the link, gives the account fresh
    /// recovery codes and signs the person in, all in one transaction. Returns the session's
    /// secret and the codes, which are shown once.
    pub async fn finish_enrolment(
        &self,
        link: &str,
        ceremony: &str,
        credential: &str,
        passkey_name: &str,
        now: i64,
    ) -> AccountResult<(String, Vec<String>)> {
        let account = self.enrolment_account(link, now).await?;
        let record = self.take(ceremony, ENROL, Some(&hash(link)), now).await?;
        let rp = self.relying_party()?;
        let state: PasskeyRegistration = serde_json::from_str(&record.state).map_err(rejected)?;
        let credential: RegisterPublicKeyCredential = serde_json::from_str(credential).map_err(rejected)?;
        let passkey = rp.webauthn.finish_passkey_registration(&credential, &state).map_err(rejected)?;
        let name = passkey_label(passkey_name);
        let stored = PasskeyRecord {
            id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            account_id: account.id.clone(),
            name: name.clone(),
            passkey: serde_json::to_string(&passkey).map_err(rejected)?,
            created_at: now,
            last_used_at: Some(now),
        };
        let codes = super::sessions::recovery_codes();
        let hashes: Vec<String> =
            codes.iter().map(|code| hash(&super::sessions::normalize_code(code))).collect();
        let mut tx = self.store.begin().await?;
        if !tx.use_enrolment(&hash(link), now).await? {
            return Err(AccountError::Refused("this enrolment link has expired or was already used"));
        }
        tx.insert_passkey(&stored).await?;
        tx.replace_recovery_codes(&account.id, &hashes).await?;
        let session = self.open_session(&mut tx, &account, true, now).await?;
        let details = serde_json::json!({ "email": account.email, "passkey": name });
        tx.append_audit(&audit(&actor(&account), "account.enrol", &account.id, details, now)).await?;
        tx.commit().await?;
        Ok((session, codes))
    }

    /// Begins a sign-in with a passkey of the account of `email`. An unknown or disabled account
    /// gets the same refusal as a wrong passkey.
    pub async fn start_login(&self, email: &str, now: i64) -> AccountResult<Ceremony> {
        let refused = AccountError::Refused("sign-in did not succeed");
        let Some(account) = self.by_email(email).await?.filter(|account| account.disabled_at.is_none())
        else {
            return Err(refused);
        };
        let passkeys: Vec<Passkey> =
            self.stored_passkeys(&account.id).await?.into_iter().map(|(_, passkey)| passkey).collect();
        if passkeys.is_empty() {
            return Err(refused);
        }
        self.start_assertion(LOGIN, &account, &passkeys, now).await
    }

    async fn start_assertion(
        &self,
        kind: &str,
        account: &AccountRecord,
        passkeys: &[Passkey],
        now: i64,
    ) -> AccountResult<Ceremony> {
        let rp = self.relying_party()?;
        let (options, state) = rp.webauthn.start_passkey_authentication(passkeys).map_err(rejected)?;
        let state = serde_json::to_string(&state).map_err(rejected)?;
        let options = serde_json::to_value(options).map_err(rejected)?;
        self.begin(kind, &account.id, state, options, now).await
    }

    /// Checks a passkey's answer to a sign-in or re-authentication ceremony and records its use.
    async fn finish_assertion(
        &self,
        kind: &str,
        subject: Option<&str>,
        ceremony: &str,
        credential: &str,
        now: i64,
    ) -> AccountResult<AccountRecord> {
        let record = self.take(ceremony, kind, subject, now).await?;
        let account = self.get(&record.subject).await?;
        if account.disabled_at.is_some() {
            return Err(AccountError::Refused("this account is disabled"));
        }
        let rp = self.relying_party()?;
        let state: PasskeyAuthentication = serde_json::from_str(&record.state).map_err(rejected)?;
        let credential: PublicKeyCredential = serde_json::from_str(credential).map_err(rejected)?;
        let result = rp.webauthn.finish_passkey_authentication(&credential, &state).map_err(rejected)?;
        let used = URL_SAFE_NO_PAD.encode(result.cred_id());
        let Some((_, mut passkey)) =
            self.stored_passkeys(&account.id).await?.into_iter().find(|(stored, _)| stored.id == used)
        else {
            return Err(AccountError::Refused("this passkey is not registered to the account"));
        };
        passkey.update_credential(&result);
        let json = serde_json::to_string(&passkey).map_err(rejected)?;
        self.store.update_passkey(&used, &json, now).await?;
        Ok(account)
    }

    /// Finishes a sign-in; returns the new session's secret.
    pub async fn finish_login(&self, ceremony: &str, credential: &str, now: i64) -> AccountResult<String> {
        let account = self.finish_assertion(LOGIN, None, ceremony, credential, now).await?;
        let mut tx = self.store.begin().await?;
        let session = self.open_session(&mut tx, &account, true, now).await?;
        let details = serde_json::json!({ "email": account.email, "method": "passkey" });
        tx.append_audit(&audit(&actor(&account), "account.login", &account.id, details, now)).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Begins re-authentication of a signed-in person.
    pub async fn start_reauth(&self, signed_in: &SignedIn, now: i64) -> AccountResult<Ceremony> {
        let passkeys: Vec<Passkey> = self
            .stored_passkeys(&signed_in.account.id)
            .await?
            .into_iter()
            .map(|(_, passkey)| passkey)
            .collect();
        if passkeys.is_empty() {
            return Err(AccountError::Refused("this account has no passkey: register one first"));
        }
        self.start_assertion(REAUTH, &signed_in.account, &passkeys, now).await
    }

    /// Finishes re-authentication: the session may make sensitive changes for the next few
    /// minutes.
    pub async fn finish_reauth(
        &self,
        signed_in: &SignedIn,
        ceremony: &str,
        credential: &str,
        now: i64,
    ) -> AccountResult<()> {
        self.finish_assertion(REAUTH, Some(&signed_in.account.id), ceremony, credential, now).await?;
        self.store.set_reauth(&signed_in.session.hash, now).await?;
        Ok(())
    }

    /// An account's passkeys, as stored and as webauthn-rs reads them.
    pub async fn stored_passkeys(&self, account_id: &str) -> AccountResult<Vec<(PasskeyRecord, Passkey)>> {
        self.store
            .passkeys(account_id)
            .await?
            .into_iter()
            .map(|record| {
                let passkey = serde_json::from_str(&record.passkey)
                    .map_err(|err| AccountError::Passkey(PasskeyError::Stored(err.to_string())))?;
                Ok((record, passkey))
            })
            .collect()
    }
}

/// The WebAuthn user handle of an account: derived from its ID, so that every passkey of one
/// account has the same handle and nothing personal is in it.
fn user_handle(account: &AccountRecord) -> Uuid {
    let digest = Sha256::digest(account.id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A passkey's name as the person gave it, tidied: at most 60 characters, no controls.
fn passkey_label(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).take(60).collect();
    let name = name.trim();
    if name.is_empty() { "passkey".to_owned() } else { name.to_owned() }
}
