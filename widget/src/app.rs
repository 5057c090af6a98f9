//! The root component: gathers keys and the status list through [`crate::api`], computes the
//! verdict with [`crate::state::evaluate`], and wakes up when it can next change.

use std::rc::Rc;

use yew::prelude::*;
use zp_shared::Rules;

use crate::api::{self, Fetch};
use crate::components::badge::{BadgeProps, Variant, badge};
use crate::hooks::use_wake::use_wake;
use crate::state::{Authenticity, StatusView, Verdict, judge, next_change_ms};
use crate::text::Lang;

#[derive(Debug, Properties, PartialEq, Clone)]
pub struct AppProps {
    /// The issuer's base URL, from the server that served the loader.
    pub issuer: AttrValue,
    pub token: AttrValue,
    pub lang: Lang,
    pub variant: Variant,
    /// `location.hostname` of the page.
    pub host: AttrValue,
    /// Reports each verdict to the host element (`data-zp-state`).
    pub on_verdict: Callback<&'static str>,
}

#[function_component(App)]
pub fn app(props: &AppProps) -> Html {
    let rules = Rules::new(props.issuer.to_string()).with_leeway(0);
    let clock = crate::clock();
    // What the unverified token says, read once per token rather than on every render: the key
    // to fetch, and the status list whose request starts now, beside the keys', instead of after
    // the signature check. That URI is only a hint, followed only to the issuer's own status
    // lists; the list is verified on its own, and used only if the verified claims name it.
    let hints = use_memo((props.token.clone(), props.issuer.clone()), |(token, issuer)| {
        let untrusted = zp_shared::UntrustedToken::parse(token).ok();
        let kid = untrusted.as_ref().map(|t| t.kid().to_owned());
        let list = untrusted
            .and_then(|t| t.unverified_status_uri())
            .filter(|uri| uri.starts_with(&format!("{issuer}/api/v1/status-lists/")));
        (kid, list)
    });
    let (kid, early_list) = &*hints;
    if let Some(uri) = early_list {
        api::prefetch_status_list(uri);
    }
    let wake_placeholder = use_mut_ref(|| None::<Callback<()>>);
    let notify = Callback::from({
        let wake = wake_placeholder.clone();
        move |()| {
            if let Some(wake) = wake.borrow().as_ref() {
                wake.emit(());
            }
        }
    });
    let keys_fetch = api::keys(&props.issuer, kid.as_deref(), &notify);
    let keys_failed = keys_fetch == Fetch::Failed;
    let keys = match keys_fetch {
        Fetch::Ready(keys) => Some(keys),
        Fetch::Pending | Fetch::Failed => None,
    };
    // The signature is checked once per token and key set, not on every render.
    let authenticity =
        use_memo((props.token.clone(), keys.clone(), rules.clone()), |(token, keys, rules)| {
            Authenticity::of(token, keys.as_deref(), rules)
        });
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
    let verdict = if keys_failed {
        Verdict::CannotConfirm(None)
    } else {
        judge(&authenticity, &status, &props.host, &clock)
    };
    let retry_keys = keys_failed.then_some(crate::state::RETRY_SECS * 1_000);
    let wake_in_ms = next_change_ms(&verdict, &status, &clock).or(retry_keys);
    let wake_at_ms = wake_in_ms.map(|ms| (clock.monotonic_ms as i64).saturating_add(ms));
    let wake = use_wake(wake_at_ms, generation(&snapshot));
    *wake_placeholder.borrow_mut() = Some(wake);
    props.on_verdict.emit(verdict.name());
    let href = verify_href(&verdict, &props.issuer);
    badge(&BadgeProps { verdict, lang: props.lang, variant: props.variant, href })
}

/// Changes when a new status list arrives, so the timer is re-armed for its freshness.
fn generation(snapshot: &Fetch<Rc<crate::state::StatusSnapshot>>) -> u64 {
    match snapshot {
        Fetch::Ready(s) => s.fetched_ms as u64,
        _ => 0,
    }
}

/// The verification page named in the signed token, if it is on the issuer; otherwise the
/// issuer's registry, where anyone can search for the entity.
fn verify_href(verdict: &Verdict, issuer: &str) -> AttrValue {
    let registry = format!("{issuer}/");
    match verdict.claims() {
        Some(claims) if claims.zp.verify_url.starts_with(&registry) => claims.zp.verify_url.clone().into(),
        _ => registry.into(),
    }
}
