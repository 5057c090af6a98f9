//! The root component: finds whose keys to trust through [`crate::api`] (the page's loaders and
//! their trust lists), gathers the keys, the status list and — when the token in the page ends —
//! the certificate's current token, computes the verdict with [`crate::state::judge`], and wakes
//! up when it can next change.

use std::rc::Rc;

use yew::prelude::*;
use zp_shared::{Error, Hints, Rules, UntrustedToken};

use crate::api::{self, Fetch};
use crate::components::badge::{BadgeProps, Variant, badge};
use crate::hooks::use_wake::use_wake;
use crate::state::{
    Authenticity, StatusView, Trust, Verdict, ask_for_current_in_ms, effective_now_ms, judge, next_change_ms,
    renewal_lead_secs, takes_over,
};
use crate::text::Lang;

#[derive(Debug, Properties, PartialEq, Clone)]
pub struct AppProps {
    /// The issuers whose loaders the page includes (base URLs): the ones it trusts directly.
    pub issuers: Rc<Vec<String>>,
    pub token: AttrValue,
    pub lang: Lang,
    pub variant: Variant,
    /// `location.hostname` of the page.
    pub host: AttrValue,
    /// Reports each verdict to the host element (`data-zp-state`), with the last day of validity
    /// of the token it judged, when genuine (`data-zp-valid-through`).
    pub on_verdict: Callback<(&'static str, Option<String>)>,
}

/// What the unverified token says. Read at each render (a badge renders a few times per token):
/// parsing a token of at most 8 KiB again costs the page less than a memo's code would.
#[derive(Debug, PartialEq)]
struct Read {
    /// The token's form and header, refused before any key is needed.
    parsed: Result<String, Error>,
    hints: Hints,
}

impl Read {
    fn of(token: &str) -> Self {
        match UntrustedToken::parse(token) {
            Ok(untrusted) => {
                Read { parsed: Ok(untrusted.kid().to_owned()), hints: untrusted.unverified_hints() }
            }
            Err(err) => Read { parsed: Err(err), hints: Hints::default() },
        }
    }
}

#[function_component(App)]
pub fn app(props: &AppProps) -> Html {
    let clock = crate::clock();
    let read = Read::of(&props.token);
    // Re-renders the badge when a fetch it waits for completes, and when its timer fires.
    let update = use_force_update();
    let notify = Callback::from({
        let update = update.clone();
        move |()| update.force_update()
    });
    let first_loader = props.issuers.first().cloned().unwrap_or_default();
    // The issuer the token names decides whose keys check it — if the page trusts that issuer.
    let issuer = read.hints.issuer.clone().unwrap_or_else(|| first_loader.clone());
    let (trust, trust_fresh_ms) = match &read.parsed {
        Ok(_) => trust(&props.issuers, &issuer, &clock, &notify),
        Err(_) => (Trust::Unrecognised, None),
    };
    let rules = Rules::new(issuer.clone()).with_leeway(0);
    // A loader's issuer's status list is requested beside its keys, before the signature check.
    // The URI is only a hint, followed only to that issuer's own lists; the list is verified on
    // its own, and used only if the verified claims name it.
    if trust == Trust::Loader
        && let Some(uri) = &read.hints.status_uri
        && uri.starts_with(&format!("{issuer}/api/v1/status-lists/"))
    {
        api::prefetch_status_list(uri);
    }
    // The certificate's current token, if the page asked for it already (see below).
    let current_url = read
        .hints
        .subject
        .as_deref()
        .filter(|id| is_certificate_id(id))
        .map(|id| api::current_token_url(&issuer, id));
    let current = current_url.as_deref().and_then(api::known_current_token);
    let kid = match (&current, &read.parsed) {
        (Some(current), _) => UntrustedToken::parse(&current.token).ok().map(|t| t.kid().to_owned()),
        (None, Ok(kid)) => Some(kid.clone()),
        (None, Err(_)) => None,
    };
    let keys_fetch = match trust.jwks_uri(&issuer) {
        Some(url) => api::keys(&url, kid.as_deref(), &notify),
        None => Fetch::Pending,
    };
    let keys_failed = keys_fetch == Fetch::Failed;
    let keys = match keys_fetch {
        Fetch::Ready(keys) => Some(keys),
        Fetch::Pending | Fetch::Failed => None,
    };
    // Signatures are checked once per token and key set, not on every render.
    // Both tokens in one memo, as a second memo would add its own copy of the hook's code: the
    // page's token is checked again only when the current one changes, which is rare.
    let checked = use_memo(
        (props.token.clone(), current.as_ref().map(|c| c.token.clone()), keys.clone(), rules.clone()),
        |(token, current, keys, rules)| {
            let check = |token: &str| Authenticity::of(token, keys.as_deref(), rules);
            (check(token), current.as_deref().map(check))
        },
    );
    let (page_token, current_token) = &*checked;
    let device_now = clock.device_secs();
    let authenticity = match (page_token.claims(), current_token.as_ref()) {
        (Some(page), Some(current))
            if current.claims().is_some_and(|claims| takes_over(page, claims, device_now)) =>
        {
            current
        }
        _ => page_token,
    };
    let snapshot = match (&keys, authenticity.claims()) {
        (Some(keys), Some(claims)) => {
            api::status_list(&claims.status.status_list.uri, keys, &rules, &clock, &notify)
        }
        _ => Fetch::Pending,
    };
    let status = match &snapshot {
        Fetch::Ready(snapshot) => StatusView::Known(snapshot),
        Fetch::Failed => StatusView::Unavailable,
        Fetch::Pending => StatusView::Loading,
    };
    let mut verdict = match &trust {
        _ if keys_failed => Verdict::CannotConfirm(None),
        Trust::Unrecognised if read.parsed.is_ok() => Verdict::Unrecognised(issuer.clone()),
        Trust::Stale => Verdict::CannotConfirm(None),
        Trust::Pending => Verdict::Checking,
        _ => judge(authenticity, &status, &props.host, &clock),
    };
    // When the token ends within the check interval (or has ended), ask the issuer for the
    // certificate's current token: a renewal or a new branch then reaches the page by itself.
    let now_ms = effective_now_ms(&clock, &status);
    let lead = renewal_lead_secs(&status);
    let ask_in_ms = authenticity.claims().map(|claims| ask_for_current_in_ms(claims.exp, lead, now_ms));
    if let (Some(0), Some(url)) = (ask_in_ms, &current_url) {
        let asked = api::current_token(url, lead.max(crate::state::RETRY_SECS) * 1_000, &notify);
        // An ended token whose certificate may well be renewed: "checking" until the issuer has
        // answered the first time, rather than "expired" for a moment before turning green.
        if matches!(asked, Fetch::Pending) && current.is_none() && matches!(verdict, Verdict::Expired(_)) {
            verdict = Verdict::Checking;
        }
    }
    let retry_keys = keys_failed.then_some(crate::state::RETRY_SECS * 1_000);
    let wake_in_ms = [
        next_change_ms(&verdict, &status, &clock),
        retry_keys,
        ask_in_ms.filter(|ms| *ms > 0),
        trust_fresh_ms,
    ]
    .into_iter()
    .flatten()
    .min();
    let wake_at_ms = wake_in_ms.map(|ms| (clock.monotonic_ms as i64).saturating_add(ms));
    use_wake(wake_at_ms, generation(&snapshot), update);
    props.on_verdict.emit((verdict.name(), verdict.claims().map(|claims| crate::text::last_day(claims.exp))));
    let href = verify_href(&verdict, &read.hints, &issuer, &trust, &first_loader);
    badge(&BadgeProps { verdict, lang: props.lang, variant: props.variant, href })
}

/// Whether the page trusts `issuer`: a loader of the page is from it, or a fresh trust list of a
/// loader's issuer vouches for it. The lists are fetched only for an issuer of no loader. With
/// the trust, when the first of the lists consulted stops being fresh: the badge wakes then to
/// fetch it again, so a list that stops vouching takes effect within its `ttl`, whatever the
/// status list's timing.
fn trust(
    loaders: &[String],
    issuer: &str,
    clock: &crate::state::Clock,
    notify: &Callback<()>,
) -> (Trust, Option<i64>) {
    if loaders.iter().any(|loader| loader == issuer) {
        return (Trust::Loader, None);
    }
    let lists: Vec<Option<Rc<crate::state::TrustSnapshot>>> = loaders
        .iter()
        .filter_map(|loader| match api::keys(&api::jwks_url(loader), None, notify) {
            Fetch::Ready(keys) => match api::trust_list(loader, &keys, clock, notify) {
                Fetch::Ready(list) => Some(Some(list)),
                Fetch::Pending => Some(None),
                Fetch::Failed => None,
            },
            Fetch::Pending => Some(None),
            Fetch::Failed => None,
        })
        .collect();
    let fresh_ms = lists.iter().flatten().map(|list| list.fresh_for_ms(clock)).filter(|ms| *ms >= 0).min();
    (Trust::from_lists(issuer, lists.iter().map(Option::as_deref), clock), fresh_ms.map(|ms| ms + 1))
}

/// A certificate ID as the issuer makes them (Crockford base32), so that an unverified token
/// cannot steer the current-token request anywhere else on the issuer.
fn is_certificate_id(id: &str) -> bool {
    (4..=16).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Changes when a new status list arrives, so the timer is re-armed for its freshness.
fn generation(snapshot: &Fetch<Rc<crate::state::StatusSnapshot>>) -> u64 {
    match snapshot {
        Fetch::Ready(s) => s.fetched_ms as u64,
        _ => 0,
    }
}

/// Where a click leads: the verification page named in the signed token, if it is on the token's
/// issuer; for an issuer the page does not recognise, the verification page the token names on
/// that issuer's own site (the check a page cannot fake); otherwise a trusted issuer's registry,
/// where anyone can search for the entity.
fn verify_href(
    verdict: &Verdict,
    hints: &Hints,
    issuer: &str,
    trust: &Trust,
    first_loader: &str,
) -> AttrValue {
    let on_issuer = |url: &str| url.starts_with(&format!("{issuer}/"));
    let web = issuer.starts_with("https://") || issuer.starts_with("http://");
    match verdict {
        Verdict::Unrecognised(_) if web => match hints.verify_url.as_deref().filter(|url| on_issuer(url)) {
            Some(url) => url.to_owned().into(),
            None => format!("{issuer}/").into(),
        },
        _ => match verdict.claims() {
            Some(claims) if on_issuer(&claims.zp.verify_url) => claims.zp.verify_url.clone().into(),
            _ if matches!(trust, Trust::Loader | Trust::Vouched { .. }) => format!("{issuer}/").into(),
            _ => format!("{first_loader}/").into(),
        },
    }
}
