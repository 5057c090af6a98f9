//! Every network call of the badge, with page-wide caches: the JWKS is fetched once per page and
//! each status list once per `ttl`, however many badges the page shows. Badges subscribe with a
//! callback and re-render when a fetch they wait for completes.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::Callback;
use zp_shared::{KeySet, Rules};

use crate::state::{Clock, RETRY_SECS, StatusSnapshot};

/// A page-wide cached fetch.
struct Slot<T> {
    value: Option<T>,
    /// Monotonic time (ms) of the last failure, while the last attempt failed.
    failed_ms: Option<i64>,
    in_flight: bool,
    /// Whether the value was fetched again because a token named a key it lacked.
    refreshed: bool,
    /// A request started ahead of need.
    early: Option<js_sys::Promise>,
    waiters: Vec<Callback<()>>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: None,
            failed_ms: None,
            in_flight: false,
            refreshed: false,
            early: None,
            waiters: Vec::new(),
        }
    }
}

impl<T> Slot<T> {
    /// A failed fetch is tried again after a pause, never in a tight loop.
    fn may_retry(&self, now_ms: i64) -> bool {
        self.failed_ms.is_none_or(|failed| now_ms - failed >= RETRY_SECS * 1_000)
    }
}

/// Slots by URL. A page names one issuer and a list or two, so a short list searched in order is
/// all it needs (and smaller in the download than a hash map).
struct Slots<T>(Vec<(String, Slot<T>)>);

impl<T> Slots<T> {
    const fn new() -> Self {
        Slots(Vec::new())
    }

    #[allow(clippy::indexing_slicing, reason = "`at` was just found or pushed")]
    fn entry(&mut self, url: &str) -> &mut Slot<T> {
        let at = match self.0.iter().position(|(known, _)| known == url) {
            Some(at) => at,
            None => {
                self.0.push((url.to_owned(), Slot::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }
}

thread_local! {
    static KEYS: RefCell<Slots<Rc<KeySet>>> = const { RefCell::new(Slots::new()) };
    static LISTS: RefCell<Slots<Rc<StatusSnapshot>>> = const { RefCell::new(Slots::new()) };
}

/// What a badge knows of a fetch right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch<T> {
    Pending,
    Failed,
    Ready(T),
}

/// Sends a GET for `url`; `revalidate` asks caches on the way to check with the server first.
fn request(url: &str, revalidate: bool) -> Option<js_sys::Promise> {
    let init = web_sys::RequestInit::new();
    if revalidate {
        init.set_cache(web_sys::RequestCache::NoCache);
    }
    Some(web_sys::window()?.fetch_with_str_and_init(url, &init))
}

/// GET `url` (see [`request`]) and read the body as text.
async fn fetch_text(url: &str, revalidate: bool) -> Option<String> {
    text_of(request(url, revalidate)?).await
}

/// The body of a successful response as text. Why a fetch failed does not matter to the badge
/// (it says "cannot confirm" and retries), so no reason is kept.
async fn text_of(promise: js_sys::Promise) -> Option<String> {
    let response: web_sys::Response = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    JsFuture::from(response.text().ok()?).await.ok()?.as_string()
}

fn notify_all(waiters: Vec<Callback<()>>) {
    for waiter in waiters {
        waiter.emit(());
    }
}

/// The issuer's published keys, fetched once per page — and once more, bypassing caches, when a
/// token names a key the set lacks (a rotation since the set was cached).
pub fn keys(issuer: &str, kid: Option<&str>, notify: &Callback<()>) -> Fetch<Rc<KeySet>> {
    let now_ms = crate::clock().monotonic_ms as i64;
    let start = KEYS.with_borrow_mut(|slots| {
        let slot = slots.entry(issuer);
        if slot.in_flight {
            slot.waiters.push(notify.clone());
            return Err(Fetch::Pending);
        }
        match &slot.value {
            Some(keys) if kid.is_none_or(|kid| keys.get(kid).is_some()) || slot.refreshed => {
                return Err(Fetch::Ready(Rc::clone(keys)));
            }
            Some(_) => slot.refreshed = true,
            None if !slot.may_retry(now_ms) => return Err(Fetch::Failed),
            None => {}
        }
        slot.in_flight = true;
        slot.waiters.push(notify.clone());
        Ok(slot.refreshed)
    });
    let revalidate = match start {
        Err(known) => return known,
        Ok(revalidate) => revalidate,
    };
    let issuer = issuer.to_owned();
    wasm_bindgen_futures::spawn_local(async move {
        let result = fetch_text(&format!("{issuer}/.well-known/jwks.json"), revalidate)
            .await
            .and_then(|text| KeySet::from_jwks_json(&text).ok());
        let waiters = KEYS.with_borrow_mut(|slots| {
            let slot = slots.entry(&issuer);
            slot.in_flight = false;
            match result {
                Some(keys) => {
                    slot.value = Some(Rc::new(keys));
                    slot.failed_ms = None;
                }
                None => slot.failed_ms = Some(crate::clock().monotonic_ms as i64),
            }
            std::mem::take(&mut slot.waiters)
        });
        notify_all(waiters);
    });
    Fetch::Pending
}

/// Sends the request for the status list at `uri` ahead of need, once, if the page has none yet;
/// [`status_list`] then takes over the response instead of sending its own request.
pub fn prefetch_status_list(uri: &str) {
    LISTS.with_borrow_mut(|slots| {
        let slot = slots.entry(uri);
        if slot.value.is_none() && !slot.in_flight && slot.early.is_none() && slot.failed_ms.is_none() {
            slot.early = request(uri, true);
        }
    });
}

/// The status list at `uri`: the cached one while younger than its `ttl`, otherwise a new fetch
/// (one per page) whose signature is verified before use. A failed refresh keeps the old list,
/// which the verdict then treats as stale.
pub fn status_list(
    uri: &str,
    keys: &Rc<KeySet>,
    rules: &Rules,
    clock: &Clock,
    notify: &Callback<()>,
) -> Fetch<Rc<StatusSnapshot>> {
    let now_ms = clock.monotonic_ms as i64;
    let start = LISTS.with_borrow_mut(|slots| {
        let slot = slots.entry(uri);
        let fresh = slot.value.as_ref().is_some_and(|s| s.fresh_for_ms(clock) > 0);
        let known = match (&slot.value, slot.failed_ms) {
            (Some(snapshot), _) => Fetch::Ready(Rc::clone(snapshot)),
            (None, Some(_)) => Fetch::Failed,
            (None, None) => Fetch::Pending,
        };
        if fresh || slot.in_flight || !slot.may_retry(now_ms) {
            if slot.in_flight {
                slot.waiters.push(notify.clone());
            }
            return Err(known);
        }
        slot.in_flight = true;
        slot.waiters.push(notify.clone());
        Ok((known, slot.early.take()))
    });
    let (known, early) = match start {
        Err(known) => return known,
        Ok(started) => started,
    };
    let (uri, keys, rules) = (uri.to_owned(), Rc::clone(keys), rules.clone());
    wasm_bindgen_futures::spawn_local(async move {
        // Revalidated, so a cache can never hand back a list older than its ttl as new. The list
        // counts as fetched when its body is read here, never earlier: that keeps the signed
        // `iat` plus the time since a lower bound of the real time (see `effective_now_ms`).
        let sent = early.or_else(|| request(&uri, true));
        let text = match sent {
            Some(promise) => text_of(promise).await,
            None => None,
        };
        let result = text.and_then(|text| {
            let clock = crate::clock();
            zp_shared::verify_status_list(&text, &keys, clock.device_secs(), &rules, &uri)
                .map(|verified| StatusSnapshot {
                    list: verified.list,
                    iat: verified.iat,
                    fetched_ms: clock.monotonic_ms as i64,
                    ttl: verified.ttl,
                })
                .ok()
        });
        let waiters = LISTS.with_borrow_mut(|slots| {
            let slot = slots.entry(&uri);
            slot.in_flight = false;
            match result {
                Some(snapshot) => {
                    slot.value = Some(Rc::new(snapshot));
                    slot.failed_ms = None;
                }
                None => slot.failed_ms = Some(crate::clock().monotonic_ms as i64),
            }
            std::mem::take(&mut slot.waiters)
        });
        notify_all(waiters);
    });
    known
}
