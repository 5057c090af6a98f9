//! What the badge shows, as a pure function of the token, the keys, the last status list, the
//! page's host and the time — no browser needed, so every state is tested with fixed clocks.

use std::rc::Rc;

use zp_shared::trust_list::TrustedIssuer;
use zp_shared::{CertificateClaims, Error, KeySet, Rules, Status, StatusList};

/// Everything the badge may say. Green ([`Verdict::Verified`]) needs a fresh status check.
///
/// The claims are shared with the [`Authenticity`] they come from (`Rc`), not copied at each render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keys or the status list are still loading.
    Checking,
    Verified(Rc<CertificateClaims>),
    Expired(Rc<CertificateClaims>),
    NotYetValid(Rc<CertificateClaims>),
    Revoked(Rc<CertificateClaims>),
    Suspended(Rc<CertificateClaims>),
    /// Genuine and current, but shown on a site its domain list does not name.
    WrongSite(Rc<CertificateClaims>),
    /// Forged, tampered, signed by an unknown key, malformed: the error says which.
    Invalid(Error),
    /// The status list cannot be fetched and the last one is older than its `ttl`.
    CannotConfirm(Option<Rc<CertificateClaims>>),
    /// A token of an issuer that neither the page's loaders nor their trust lists vouch for: its
    /// signature is not checked (the page does not fetch keys from strangers), so it is neither
    /// green nor called forged. Carries the issuer the token names.
    Unrecognised(String),
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
            Verdict::Unrecognised(_) => "issuer-unrecognised",
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
            Verdict::Checking | Verdict::Invalid(_) | Verdict::Unrecognised(_) => None,
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
        age_ms(self.fetched_ms, clock)
    }

    /// Milliseconds of freshness the list has left (negative once stale): see [`fresh_for_ms`].
    pub fn fresh_for_ms(&self, clock: &Clock) -> i64 {
        fresh_for_ms(self.iat, self.ttl, self.fetched_ms, clock)
    }
}

/// Milliseconds on the monotonic clock since `fetched_ms`, never negative.
pub fn age_ms(fetched_ms: i64, clock: &Clock) -> i64 {
    (clock.monotonic_ms as i64).saturating_sub(fetched_ms).max(0)
}

/// Milliseconds of freshness left to a signed document (a status list, a trust list) signed at
/// `iat` with `ttl` and fetched at `fetched_ms`; negative once stale. Freshness is counted from
/// the issuer's signature, not from the fetch: a cache (or a page) that hands over a list signed
/// before a revocation cannot make it fresh again, so it stops counting once `iat + ttl` has
/// passed by the badge's time — the later of the device clock and `iat` plus the monotonic time
/// since the fetch, so that a device clock set back does not stretch it either.
pub fn fresh_for_ms(iat: i64, ttl: u64, fetched_ms: i64, clock: &Clock) -> i64 {
    let signed_ms = iat.saturating_mul(1_000);
    let now_ms = (clock.device_ms as i64).max(signed_ms.saturating_add(age_ms(fetched_ms, clock)));
    let ttl_ms = ttl.min(MAX_TTL) as i64 * 1_000;
    signed_ms.saturating_add(ttl_ms).saturating_sub(now_ms)
}

/// A verified trust list as the badge last saw it: the issuers that a loader's issuer vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustSnapshot {
    pub issuers: Vec<TrustedIssuer>,
    /// Signed `iat` of the list.
    pub iat: i64,
    pub ttl: u64,
    /// Monotonic time of the fetch, in milliseconds.
    pub fetched_ms: i64,
}

impl TrustSnapshot {
    /// Milliseconds of freshness the list has left (negative once stale): see [`fresh_for_ms`].
    pub fn fresh_for_ms(&self, clock: &Clock) -> i64 {
        fresh_for_ms(self.iat, self.ttl, self.fetched_ms, clock)
    }

    /// The entry of `issuer`, if the list names it.
    pub fn vouches_for(&self, issuer: &str) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|member| member.iss == issuer)
    }
}

/// Whether the page trusts the issuer a token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// A loader on the page is from this issuer: its keys are at its well-known JWKS.
    Loader,
    /// A fresh trust list of a loader's issuer vouches for it, with its keys at `jwks_uri`.
    Vouched { jwks_uri: String },
    /// Only a trust list past its `ttl` vouches for it, and none could be fetched since.
    Stale,
    /// Trust lists are still loading.
    Pending,
    /// Nobody on the page vouches for it.
    Unrecognised,
}

impl Trust {
    /// Where to fetch the issuer's keys, when it is trusted.
    pub fn jwks_uri(&self, issuer: &str) -> Option<String> {
        match self {
            Trust::Loader => Some(format!("{issuer}/.well-known/jwks.json")),
            Trust::Vouched { jwks_uri } => Some(jwks_uri.clone()),
            Trust::Stale | Trust::Pending | Trust::Unrecognised => None,
        }
    }

    /// Combines what the loaders' trust lists say of `issuer` (`None` for a list still loading;
    /// a list that failed is left out).
    pub fn from_lists<'a>(
        issuer: &str,
        lists: impl IntoIterator<Item = Option<&'a TrustSnapshot>>,
        clock: &Clock,
    ) -> Trust {
        let mut trust = Trust::Unrecognised;
        for list in lists {
            let Some(list) = list else {
                trust = Trust::Pending;
                continue;
            };
            match list.vouches_for(issuer) {
                Some(member) if list.fresh_for_ms(clock) >= 0 => {
                    return Trust::Vouched { jwks_uri: member.jwks_uri.clone() };
                }
                Some(_) if trust == Trust::Unrecognised => trust = Trust::Stale,
                _ => {}
            }
        }
        trust
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
    Genuine(Rc<CertificateClaims>),
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
            Ok(authentic) => Authenticity::Genuine(Rc::new(authentic.claims)),
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
        // A list that arrived stale is asked for again after a pause, not in a tight loop.
        StatusView::Known(snapshot) => match snapshot.fresh_for_ms(clock) {
            fresh if fresh >= 0 => next.push(fresh + 1),
            _ => next.push(RETRY_SECS * 1_000),
        },
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

/// Seconds before `exp` at which a badge asks for the certificate's current token: the check
/// interval (the status list's `ttl`), so a renewal is in place before the old token ends.
pub fn renewal_lead_secs(status: &StatusView<'_>) -> i64 {
    match status {
        StatusView::Known(snapshot) => snapshot.ttl.min(MAX_TTL) as i64,
        _ => DEFAULT_TTL,
    }
}

/// The `ttl` assumed before any status list has been seen (the issuers' default).
pub const DEFAULT_TTL: i64 = 300;

/// Milliseconds until the badge should ask for the current token of a certificate whose token
/// ends at `exp`: zero (ask now) once fewer than `lead_secs` remain or it has ended.
pub fn ask_for_current_in_ms(exp: i64, lead_secs: i64, now_ms: i64) -> i64 {
    exp.saturating_sub(lead_secs).saturating_mul(1_000).saturating_sub(now_ms).max(0)
}

/// Whether the issuer's current token of a certificate takes the place of the token in the page:
/// both genuine (the caller authenticated them with the same issuer's keys), of the same issuer
/// and certificate, the current one newer — signed later, or in the same second with a later end
/// (a renewal straight after the grant) — and its validity begun. An older token never replaces
/// a newer one, whoever hands it over.
pub fn takes_over(page: &CertificateClaims, current: &CertificateClaims, now: i64) -> bool {
    let newer = current.iat > page.iat || (current.iat == page.iat && current.exp > page.exp);
    current.iss == page.iss && current.sub == page.sub && newer && current.nbf <= now
}
