//! What the badge shows, as a pure function of the token, the keys, the last status list, the
//! page's host and the time — no browser needed, so every state is tested with fixed clocks.

use zp_shared::{CertificateClaims, Error, KeySet, Rules, Status, StatusList};

/// Everything the badge may say. Green ([`Verdict::Verified`]) needs a fresh status check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keys or the status list are still loading.
    Checking,
    Verified(Box<CertificateClaims>),
    Expired(Box<CertificateClaims>),
    NotYetValid(Box<CertificateClaims>),
    Revoked(Box<CertificateClaims>),
    Suspended(Box<CertificateClaims>),
    /// Genuine and current, but shown on a site its domain list does not name.
    WrongSite(Box<CertificateClaims>),
    /// Forged, tampered, signed by an unknown key, malformed: the error says which.
    Invalid(Error),
    /// The status list cannot be fetched and the last one is older than its `ttl`.
    CannotConfirm(Option<Box<CertificateClaims>>),
}

impl Verdict {
    /// Stable name, used for the element's `data-state` and in tests.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Checking => "checking",
            Verdict::Verified(_) => "verified",
            Verdict::Expired(_) => "expired",
            Verdict::NotYetValid(_) => "not-yet-valid",
            Verdict::Revoked(_) => "revoked",
            Verdict::Suspended(_) => "suspended",
            Verdict::WrongSite(_) => "wrong-site",
            Verdict::Invalid(_) => "invalid",
            Verdict::CannotConfirm(_) => "cannot-confirm",
        }
    }

    pub fn claims(&self) -> Option<&CertificateClaims> {
        match self {
            Verdict::Verified(c)
            | Verdict::Expired(c)
            | Verdict::NotYetValid(c)
            | Verdict::Revoked(c)
            | Verdict::Suspended(c)
            | Verdict::WrongSite(c) => Some(c),
            Verdict::CannotConfirm(c) => c.as_deref(),
            Verdict::Checking | Verdict::Invalid(_) => None,
        }
    }
}

/// A verified status list as the badge last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSnapshot {
    pub list: StatusList,
    /// Signed `iat` of the list.
    pub iat: i64,
    /// When this page fetched it (device clock, seconds).
    pub fetched_at: i64,
    pub ttl: u64,
}

/// The state of the status list for a badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusView<'a> {
    Loading,
    /// The last fetch failed and there is no list, or a verification error.
    Unavailable,
    Known(&'a StatusSnapshot),
}

/// The time the badge uses: never earlier than the signed `iat` of the last status list, so a
/// device clock set back cannot revive an expired mark.
pub fn effective_now(device_now: i64, status: &StatusView<'_>) -> i64 {
    match status {
        StatusView::Known(snapshot) => device_now.max(snapshot.iat),
        _ => device_now,
    }
}

/// Normalises a host as the issuer does for the domain list: lowercase, no trailing dot, no
/// `www.`. Browsers already give IDNA A-labels in `location.hostname`.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    host.strip_prefix("www.").map(str::to_owned).unwrap_or(host)
}

/// The claims of a genuine token of this issuer, whatever its validity period; they name the
/// status list to fetch.
pub fn authentic_claims(token: &str, keys: &KeySet, rules: &Rules) -> Option<CertificateClaims> {
    let untrusted = zp_shared::UntrustedToken::parse(token).ok()?;
    untrusted.authenticate(keys, rules).ok().map(|authentic| authentic.claims)
}

/// The badge's verdict. `keys` is `None` while the JWKS loads; `host` is the page's hostname.
pub fn evaluate(
    token: &str,
    keys: Option<&KeySet>,
    rules: &Rules,
    status: &StatusView<'_>,
    host: &str,
    device_now: i64,
) -> Verdict {
    // Structure and header first: a malformed or hostile token needs no keys to refuse.
    let untrusted = match zp_shared::UntrustedToken::parse(token) {
        Ok(untrusted) => untrusted,
        Err(err) => return Verdict::Invalid(err),
    };
    let Some(keys) = keys else { return Verdict::Checking };
    let claims = match untrusted.authenticate(keys, rules) {
        Ok(authentic) => Box::new(authentic.claims),
        Err(err) => return Verdict::Invalid(err),
    };
    let now = effective_now(device_now, status);
    let idx = claims.status.status_list.idx;
    // Revocation outranks everything else we know about a genuine token.
    if let StatusView::Known(snapshot) = status {
        match snapshot.list.status(idx) {
            Ok(Status::Revoked) => return Verdict::Revoked(claims),
            Ok(Status::Suspended) => return Verdict::Suspended(claims),
            Ok(Status::Valid) => {}
            Ok(Status::Other(_)) | Err(_) => return Verdict::Revoked(claims),
        }
    }
    // The mark flips at the second of `exp`: no leeway in front of a shopper.
    if now >= claims.exp {
        return Verdict::Expired(claims);
    }
    if now < claims.nbf {
        return Verdict::NotYetValid(claims);
    }
    let host = normalize_host(host);
    if !claims.zp.domains.iter().any(|domain| normalize_host(domain) == host) {
        return Verdict::WrongSite(claims);
    }
    match status {
        StatusView::Loading => Verdict::Checking,
        StatusView::Unavailable => Verdict::CannotConfirm(Some(claims)),
        StatusView::Known(snapshot)
            if device_now.max(snapshot.fetched_at) - snapshot.fetched_at > snapshot.ttl as i64 =>
        {
            Verdict::CannotConfirm(Some(claims))
        }
        StatusView::Known(_) => Verdict::Verified(claims),
    }
}

/// Seconds until the verdict can next change by itself (expiry, start of validity, the status
/// list going stale), so the badge can wake up exactly then.
pub fn next_change(verdict: &Verdict, status: &StatusView<'_>, device_now: i64) -> Option<i64> {
    let claims = verdict.claims()?;
    let now = effective_now(device_now, status);
    let mut next = Vec::new();
    if now < claims.nbf {
        next.push(claims.nbf - now);
    }
    if now < claims.exp {
        next.push(claims.exp - now);
    }
    if let StatusView::Known(snapshot) = status {
        let stale_at = snapshot.fetched_at + snapshot.ttl as i64;
        next.push((stale_at - device_now).max(1));
    }
    next.into_iter().min()
}
