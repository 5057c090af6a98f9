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

/// Longest `ttl` honoured: a list claiming more is refetched this often anyway.
pub const MAX_TTL: u64 = 86_400;
/// Seconds before a failed fetch is tried again.
pub const RETRY_SECS: i64 = 30;

/// The badge's two clocks, in milliseconds. The device's wall clock can be set back or be wrong;
/// the monotonic one (`performance.now()`) only moves forward, so ages are measured with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Milliseconds since the Unix epoch by the device.
    pub device_ms: f64,
    /// Milliseconds on a clock that never goes back (since the page loaded, in a browser).
    pub monotonic_ms: f64,
}

impl Clock {
    /// A clock whose two readings agree, as in tests that set one time.
    pub fn at(unix_secs: i64) -> Self {
        let ms = unix_secs as f64 * 1_000.0;
        Clock { device_ms: ms, monotonic_ms: ms }
    }

    pub fn device_secs(&self) -> i64 {
        (self.device_ms / 1_000.0).floor() as i64
    }
}

/// A verified status list as the badge last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSnapshot {
    pub list: StatusList,
    /// Signed `iat` of the list: the issuer's word for "now" when it was made.
    pub iat: i64,
    /// Monotonic time of the fetch, in milliseconds.
    pub fetched_ms: i64,
    pub ttl: u64,
}

impl StatusSnapshot {
    /// Milliseconds since the fetch, never negative.
    pub fn age_ms(&self, clock: &Clock) -> i64 {
        (clock.monotonic_ms as i64).saturating_sub(self.fetched_ms).max(0)
    }

    /// Milliseconds of freshness the list has left (negative once stale).
    pub fn fresh_for_ms(&self, clock: &Clock) -> i64 {
        (self.ttl.min(MAX_TTL) as i64 * 1_000).saturating_sub(self.age_ms(clock))
    }
}

/// The state of the status list for a badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusView<'a> {
    Loading,
    /// The last fetch failed and there is no list, or a verification error.
    Unavailable,
    Known(&'a StatusSnapshot),
}

/// The time the badge uses, in milliseconds: the later of the device clock and the signed `iat`
/// of the last status list plus the monotonic time since it was fetched — so a device clock set
/// back, before or after the fetch, cannot revive an expired mark.
pub fn effective_now_ms(clock: &Clock, status: &StatusView<'_>) -> i64 {
    let device = clock.device_ms as i64;
    match status {
        StatusView::Known(snapshot) => {
            device.max(snapshot.iat.saturating_mul(1_000).saturating_add(snapshot.age_ms(clock)))
        }
        _ => device,
    }
}

/// [`effective_now_ms`] in whole seconds, as claims count time.
pub fn effective_now(clock: &Clock, status: &StatusView<'_>) -> i64 {
    effective_now_ms(clock, status).div_euclid(1_000)
}

/// Normalises a host as the issuer does for the domain list: lowercase, no trailing dot, no
/// `www.`. Browsers already give IDNA A-labels in `location.hostname`.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    host.strip_prefix("www.").map(str::to_owned).unwrap_or(host)
}

/// What the token is before time, status and place are considered: refused (and why), waiting
/// for keys, or genuine claims of this issuer whatever their validity period. Computing it is the
/// signature check, so a badge does it once per token and key set, not on every render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticity {
    Refused(Error),
    AwaitingKeys,
    Genuine(Box<CertificateClaims>),
}

impl Authenticity {
    /// `keys` is `None` while the JWKS loads.
    pub fn of(token: &str, keys: Option<&KeySet>, rules: &Rules) -> Self {
        // Structure and header first: a malformed or hostile token needs no keys to refuse.
        let untrusted = match zp_shared::UntrustedToken::parse(token) {
            Ok(untrusted) => untrusted,
            Err(err) => return Authenticity::Refused(err),
        };
        let Some(keys) = keys else { return Authenticity::AwaitingKeys };
        match untrusted.authenticate(keys, rules) {
            Ok(authentic) => Authenticity::Genuine(Box::new(authentic.claims)),
            Err(err) => Authenticity::Refused(err),
        }
    }

    /// The genuine claims, which name the status list to fetch.
    pub fn claims(&self) -> Option<&CertificateClaims> {
        match self {
            Authenticity::Genuine(claims) => Some(claims),
            _ => None,
        }
    }
}

/// The badge's verdict. `keys` is `None` while the JWKS loads; `host` is the page's hostname.
pub fn evaluate(
    token: &str,
    keys: Option<&KeySet>,
    rules: &Rules,
    status: &StatusView<'_>,
    host: &str,
    clock: &Clock,
) -> Verdict {
    judge(&Authenticity::of(token, keys, rules), status, host, clock)
}

/// The verdict on a token already authenticated (see [`Authenticity::of`]).
pub fn judge(authenticity: &Authenticity, status: &StatusView<'_>, host: &str, clock: &Clock) -> Verdict {
    let claims = match authenticity {
        Authenticity::Refused(err) => return Verdict::Invalid(err.clone()),
        Authenticity::AwaitingKeys => return Verdict::Checking,
        Authenticity::Genuine(claims) => claims.clone(),
    };
    let now = effective_now(clock, status);
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
        StatusView::Known(snapshot) if snapshot.fresh_for_ms(clock) < 0 => {
            Verdict::CannotConfirm(Some(claims))
        }
        StatusView::Known(_) => Verdict::Verified(claims),
    }
}

/// Milliseconds until the verdict can next change by itself (expiry or start of validity to the
/// second, the status list going stale, a retry after a failed fetch), so the badge wakes then.
pub fn next_change_ms(verdict: &Verdict, status: &StatusView<'_>, clock: &Clock) -> Option<i64> {
    let mut next = Vec::new();
    match status {
        StatusView::Known(snapshot) => next.push(snapshot.fresh_for_ms(clock).max(0) + 1),
        StatusView::Unavailable => next.push(RETRY_SECS * 1_000),
        StatusView::Loading => {}
    }
    if let Some(claims) = verdict.claims() {
        let now_ms = effective_now_ms(clock, status);
        for instant in [claims.nbf, claims.exp] {
            let at_ms = instant.saturating_mul(1_000);
            if now_ms < at_ms {
                next.push(at_ms - now_ms + 1);
            }
        }
    }
    next.into_iter().min()
}
