//! Every network call of the badge, with page-wide caches: the JWKS is fetched once per page and
//! each status list once per `ttl`, however many badges the page shows. Badges subscribe with a
//! callback and re-render when a fetch they wait for completes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::Callback;
use zp_shared::{KeySet, Rules};

use crate::state::StatusSnapshot;

/// A page-wide cached fetch.
struct Slot<T> {
    value: Option<T>,
    failed: bool,
    in_flight: bool,
    waiters: Vec<Callback<()>>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { value: None, failed: false, in_flight: false, waiters: Vec::new() }
    }
}

thread_local! {
    static KEYS: RefCell<HashMap<String, Slot<Rc<KeySet>>>> = RefCell::new(HashMap::new());
    static LISTS: RefCell<HashMap<String, Slot<Rc<StatusSnapshot>>>> = RefCell::new(HashMap::new());
}

/// What a badge knows of a fetch right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch<T> {
    Pending,
    Failed,
    Ready(T),
}

async fn fetch_text(url: &str) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response =
        JsFuture::from(window.fetch_with_str(url)).await.map_err(|_| "network error".to_owned())?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "not a response".to_owned())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let text = response.text().map_err(|_| "unreadable body".to_owned())?;
    JsFuture::from(text).await.ok().and_then(|t| t.as_string()).ok_or_else(|| "unreadable body".to_owned())
}

fn notify_all(waiters: Vec<Callback<()>>) {
    for waiter in waiters {
        waiter.emit(());
    }
}

/// The issuer's published keys, fetched once per page.
pub fn keys(issuer: &str, notify: &Callback<()>) -> Fetch<Rc<KeySet>> {
    let start = KEYS.with_borrow_mut(|slots| {
        let slot = slots.entry(issuer.to_owned()).or_default();
        if let Some(keys) = &slot.value {
            return Err(Fetch::Ready(Rc::clone(keys)));
        }
        if slot.failed {
            return Err(Fetch::Failed);
        }
        slot.waiters.push(notify.clone());
        if slot.in_flight {
            return Err(Fetch::Pending);
        }
        slot.in_flight = true;
        Ok(())
    });
    if let Err(known) = start {
        return known;
    }
    let issuer = issuer.to_owned();
    wasm_bindgen_futures::spawn_local(async move {
        let result = fetch_text(&format!("{issuer}/.well-known/jwks.json"))
            .await
            .and_then(|text| KeySet::from_jwks_json(&text).map_err(|err| err.to_string()));
        let waiters = KEYS.with_borrow_mut(|slots| {
            let slot = slots.entry(issuer.clone()).or_default();
            slot.in_flight = false;
            match result {
                Ok(keys) => slot.value = Some(Rc::new(keys)),
                Err(_) => slot.failed = true,
            }
            std::mem::take(&mut slot.waiters)
        });
        notify_all(waiters);
    });
    Fetch::Pending
}

/// The status list at `uri`: the cached one while younger than its `ttl`, otherwise a new fetch
/// (one per page) whose signature is verified before use. A failed refresh keeps the old list,
/// which the verdict then treats as stale.
pub fn status_list(
    uri: &str,
    keys: &Rc<KeySet>,
    rules: &Rules,
    device_now: i64,
    notify: &Callback<()>,
) -> Fetch<Rc<StatusSnapshot>> {
    let start = LISTS.with_borrow_mut(|slots| {
        let slot = slots.entry(uri.to_owned()).or_default();
        let fresh = slot.value.as_ref().is_some_and(|s| device_now - s.fetched_at < s.ttl as i64);
        let known = match (&slot.value, slot.failed) {
            (Some(snapshot), _) => Fetch::Ready(Rc::clone(snapshot)),
            (None, true) => Fetch::Failed,
            (None, false) => Fetch::Pending,
        };
        if fresh || slot.in_flight {
            if slot.in_flight {
                slot.waiters.push(notify.clone());
            }
            return Err(known);
        }
        slot.in_flight = true;
        slot.waiters.push(notify.clone());
        Ok(known)
    });
    let known = match start {
        Err(known) => return known,
        Ok(known) => known,
    };
    let (uri, keys, rules) = (uri.to_owned(), Rc::clone(keys), rules.clone());
    wasm_bindgen_futures::spawn_local(async move {
        let result = fetch_text(&uri).await.and_then(|text| {
            let now = crate::device_now();
            zp_shared::verify_status_list(&text, &keys, now, &rules, &uri)
                .map(|verified| StatusSnapshot {
                    list: verified.list,
                    iat: verified.iat,
                    fetched_at: now,
                    ttl: verified.ttl,
                })
                .map_err(|err| err.to_string())
        });
        let waiters = LISTS.with_borrow_mut(|slots| {
            let slot = slots.entry(uri.clone()).or_default();
            slot.in_flight = false;
            match result {
                Ok(snapshot) => {
                    slot.value = Some(Rc::new(snapshot));
                    slot.failed = false;
                }
                Err(_) => slot.failed = true,
            }
            std::mem::take(&mut slot.waiters)
        });
        notify_all(waiters);
    });
    known
}
