//! Every network call of the badge, with page-wide caches: each issuer's JWKS is fetched once per
//! page, each status list and trust list once per `ttl`, and a certificate's current token only
//! when the token in the page ends, however many badges the page shows. Badges subscribe with a
//! callback and re-render when a fetch they wait for completes.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::thread::LocalKey;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::Callback;
use zp_shared::{KeySet, Rules};

use crate::state::{Clock, RETRY_SECS, StatusSnapshot, TrustSnapshot};

/// A page-wide cached fetch.
struct Slot<T> {
    value: Option<T>,
    /// Monotonic time (ms) of the last failure, while the last attempt failed.
    failed_ms: Option<i64>,
    in_flight: bool,
    /// Whether the value was fetched again because a token named a key it lacked.
    refreshed: bool,
    /// A request started ahead of need.
    early: Option<Body>,
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

/// Slots by URL. A page names an issuer or two and a list or two each, so a short list searched in
/// order is all it needs (and smaller in the download than a hash map).
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
    static TRUST_LISTS: RefCell<Slots<Rc<TrustSnapshot>>> = const { RefCell::new(Slots::new()) };
    static CURRENT: RefCell<Slots<Rc<CurrentToken>>> = const { RefCell::new(Slots::new()) };
}

/// Where an issuer publishes its keys.
pub fn jwks_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/jwks.json")
}

/// Where an issuer publishes the issuers it vouches for.
pub fn trust_list_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/zp-trust-list.jwt")
}

/// What a badge knows of a fetch right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch<T> {
    Pending,
    Failed,
    Ready(T),
}

/// A body on its way to a badge.
enum Body {
    /// Read already, at the monotonic time (ms) given: the loader read it while the module
    /// loaded. `None` if the request failed.
    Read(Option<String>, f64),
    /// The loader's reading of it, still under way: a promise of the text, or of null.
    Reading(js_sys::Promise),
    /// A request of the module's own: a promise of the `Response`.
    Sent(js_sys::Promise),
}

impl Body {
    /// The text (`None` on any failure: the badge says "cannot confirm" and retries, whatever the
    /// reason), and the monotonic time (ms) at which it was read.
    async fn text(self) -> (Option<String>, f64) {
        let text = match self {
            Body::Read(text, read_ms) => return (text, read_ms),
            Body::Reading(promise) => JsFuture::from(promise).await.ok().and_then(|text| text.as_string()),
            Body::Sent(promise) => text_of(promise).await,
        };
        (text, crate::clock().monotonic_ms)
    }
}

/// A request the loader sent before this module was ready.
struct Early {
    url: String,
    revalidate: bool,
    /// Monotonic time (ms) it was sent.
    sent_ms: f64,
    body: Body,
}

/// How long an early request may wait to be taken over. The first badges take theirs over in
/// the module's first task; one nobody took is not kept to answer a badge added much later.
const EARLY_MAX_AGE_MS: f64 = 10_000.0;

thread_local! {
    static EARLY: RefCell<Vec<Early>> = const { RefCell::new(Vec::new()) };
}

/// Takes over a request the loader sent for `url` while the module loaded (the JWKS, the status
/// lists the first tokens name), so that the first badge's own request for it is not sent again.
/// `text` is the body the loader read at `read_ms` (a string, or null for a failure), or a promise
/// of it while the loader still reads it.
pub fn adopt(url: String, revalidate: bool, sent_ms: f64, text: wasm_bindgen::JsValue, read_ms: f64) {
    let body = match text.dyn_into::<js_sys::Promise>() {
        Ok(promise) => Body::Reading(promise),
        Err(text) => Body::Read(text.as_string(), read_ms),
    };
    EARLY.with_borrow_mut(|early| early.push(Early { url, revalidate, sent_ms, body }));
}

/// Sends a GET for `url`, or takes over the loader's early request for it; `revalidate` asks
/// caches on the way to check with the server first.
fn request(url: &str, revalidate: bool) -> Body {
    let now_ms = crate::clock().monotonic_ms;
    let adopted = EARLY.with_borrow_mut(|early| {
        early.retain(|e| now_ms - e.sent_ms <= EARLY_MAX_AGE_MS);
        let at = early.iter().position(|e| e.url == url && e.revalidate == revalidate)?;
        Some(early.swap_remove(at).body)
    });
    if let Some(body) = adopted {
        return body;
    }
    let init = web_sys::RequestInit::new();
    if revalidate {
        init.set_cache(web_sys::RequestCache::NoCache);
    }
    match web_sys::window() {
        Some(window) => Body::Sent(window.fetch_with_str_and_init(url, &init)),
        None => Body::Read(None, now_ms),
    }
}

/// The body of a successful response as text.
async fn text_of(promise: js_sys::Promise) -> Option<String> {
    let response: web_sys::Response = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    JsFuture::from(response.text().ok()?).await.ok()?.as_string()
}

/// Ends a slot's fetch with its result. Returns the badges waiting for it.
fn settle<T>(slot: &mut Slot<T>, result: Option<T>) -> Vec<Callback<()>> {
    slot.in_flight = false;
    match result {
        Some(value) => {
            slot.value = Some(value);
            slot.failed_ms = None;
        }
        None => slot.failed_ms = Some(crate::clock().monotonic_ms as i64),
    }
    std::mem::take(&mut slot.waiters)
}

/// Finishes a fetch with `body`: at once when it is read already (the badge that asked gets the
/// answer in this render, with no re-render), otherwise in a task that wakes the waiting badges.
/// `finish` stores the result and returns the waiters and what the slot now knows.
fn complete<T: 'static>(
    body: Body,
    finish: impl FnOnce(Option<String>, f64) -> (Vec<Callback<()>>, Fetch<T>) + 'static,
) -> Fetch<T> {
    if let Body::Read(text, read_ms) = body {
        // The only waiter is the badge rendering now, which takes the answer directly.
        return finish(text, read_ms).1;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let (text, read_ms) = body.text().await;
        for waiter in finish(text, read_ms).0 {
            waiter.emit(());
        }
    });
    Fetch::Pending
}

impl<T: Clone> Slot<T> {
    /// What a badge can use of this slot now.
    fn known(&self) -> Fetch<T> {
        match (&self.value, self.failed_ms) {
            (Some(value), _) => Fetch::Ready(value.clone()),
            (None, Some(_)) => Fetch::Failed,
            (None, None) => Fetch::Pending,
        }
    }
}

/// An issuer's published keys at `url` (its JWKS), fetched once per page — and once more,
/// bypassing caches, when a token names a key the set lacks (a rotation since the set was cached).
pub fn keys(url: &str, kid: Option<&str>, notify: &Callback<()>) -> Fetch<Rc<KeySet>> {
    let now_ms = crate::clock().monotonic_ms as i64;
    let start = KEYS.with_borrow_mut(|slots| {
        let slot = slots.entry(url);
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
    let body = request(url, revalidate);
    let url = url.to_owned();
    complete(body, move |text, _| {
        let keys = text.and_then(|text| KeySet::from_jwks_json(&text).ok()).map(Rc::new);
        KEYS.with_borrow_mut(|slots| {
            let slot = slots.entry(&url);
            let waiters = settle(slot, keys);
            // Once refreshed, a missing key stays missing: `known` answers with the set as it is.
            (waiters, slot.known())
        })
    })
}

/// Sends the request for the status list at `uri` ahead of need, once, if the page has none yet;
/// [`status_list`] then takes over the response instead of sending its own request.
pub fn prefetch_status_list(uri: &str) {
    LISTS.with_borrow_mut(|slots| {
        let slot = slots.entry(uri);
        if slot.value.is_none() && !slot.in_flight && slot.early.is_none() && slot.failed_ms.is_none() {
            slot.early = Some(request(uri, true));
        }
    });
}

thread_local! {
    static INFLATE: RefCell<Option<js_sys::Function>> = const { RefCell::new(None) };
}

/// Takes the loader's `inflate(zlib, max)`: the browser's own zlib (`DecompressionStream`), which
/// the badge then need not download. It answers a promise of the inflated bytes, or of null for
/// data that is not zlib or inflates beyond `max` bytes.
pub fn set_inflater(inflate: js_sys::Function) {
    INFLATE.with_borrow_mut(|slot| *slot = Some(inflate));
}

/// A verified status list's zlib stream inflated by the loader's `inflate`, within
/// [`MAX_INFLATED_LEN`](zp_shared::status_list::MAX_INFLATED_LEN); `None` on any failure.
async fn inflate(zlib: &[u8]) -> Option<Vec<u8>> {
    let inflate = INFLATE.with_borrow(Clone::clone)?;
    let max = wasm_bindgen::JsValue::from(zp_shared::status_list::MAX_INFLATED_LEN as f64);
    let answer = inflate.call2(&wasm_bindgen::JsValue::NULL, &js_sys::Uint8Array::from(zlib), &max).ok()?;
    let bytes = JsFuture::from(js_sys::Promise::resolve(&answer)).await.ok()?;
    Some(bytes.dyn_into::<js_sys::Uint8Array>().ok()?.to_vec())
}

/// The status list at `uri`: the cached one while fresh (see [`crate::state::fresh_for_ms`]),
/// otherwise a new fetch (one per page) whose signature is verified before use. A failed refresh
/// keeps the old list, which the verdict then treats as stale. The signature, claims and times
/// are checked on the list as signed (compressed); only then is it inflated, by the browser.
pub fn status_list(
    uri: &str,
    keys: &Rc<KeySet>,
    rules: &Rules,
    clock: &Clock,
    notify: &Callback<()>,
) -> Fetch<Rc<StatusSnapshot>> {
    let (keys, rules, list_uri) = (Rc::clone(keys), rules.clone(), uri.to_owned());
    signed(&LISTS, uri, StatusSnapshot::fresh_for_ms, clock, notify, move |text, device_secs, fetched_ms| {
        let Ok(verified) =
            zp_shared::verify_compressed_status_list(&text, &keys, device_secs, &rules, &list_uri)
        else {
            return Verifying::Now(None);
        };
        Verifying::Later(Box::pin(async move {
            let bytes = inflate(verified.list.zlib()).await;
            let verified = verified.with_list(|list| list.inflated(bytes)).ok()?;
            Some(StatusSnapshot { list: verified.list, iat: verified.iat, fetched_ms, ttl: verified.ttl })
        }))
    })
}

/// What checking a fetched document gives: its verified value (or `None`) at once, or later, when
/// the browser has inflated it.
enum Verifying<T> {
    Now(Option<T>),
    Later(Pin<Box<dyn Future<Output = Option<T>>>>),
}

/// The trust list of `issuer` (a loader's issuer on this page), verified with its `keys`: the
/// other issuers it vouches for. Fetched only when a badge names an issuer that no loader on
/// the page is from, and again once it is stale.
pub fn trust_list(
    issuer: &str,
    keys: &Rc<KeySet>,
    clock: &Clock,
    notify: &Callback<()>,
) -> Fetch<Rc<TrustSnapshot>> {
    let uri = trust_list_url(issuer);
    let (keys, rules, list_uri) = (Rc::clone(keys), Rules::new(issuer).with_leeway(0), uri.clone());
    signed(
        &TRUST_LISTS,
        &uri,
        TrustSnapshot::fresh_for_ms,
        clock,
        notify,
        move |text, device_secs, fetched_ms| {
            let Ok(verified) =
                zp_shared::trust_list::verify_trust_list(&text, &keys, device_secs, &rules, &list_uri)
            else {
                return Verifying::Now(None);
            };
            let claims = verified.claims;
            let issuers = claims.issuers;
            Verifying::Now(Some(TrustSnapshot { issuers, iat: claims.iat, ttl: claims.ttl, fetched_ms }))
        },
    )
}

/// A signed document that the page keeps while it is fresh and fetches again (revalidating, so
/// no cache hands back a stale copy as new) once it is not. `verify` checks the body with the
/// device's time in seconds and records the monotonic time (ms) at which it was read.
fn signed<T: 'static>(
    slots: &'static LocalKey<RefCell<Slots<Rc<T>>>>,
    uri: &str,
    fresh_for_ms: fn(&T, &Clock) -> i64,
    clock: &Clock,
    notify: &Callback<()>,
    verify: impl FnOnce(String, i64, i64) -> Verifying<T> + 'static,
) -> Fetch<Rc<T>> {
    let now_ms = clock.monotonic_ms as i64;
    let start = slots.with_borrow_mut(|slots| {
        let slot = slots.entry(uri);
        let fresh = slot.value.as_ref().is_some_and(|value| fresh_for_ms(value, clock) > 0);
        if fresh || slot.in_flight || !slot.may_retry(now_ms) {
            if slot.in_flight {
                slot.waiters.push(notify.clone());
            }
            return Err(slot.known());
        }
        slot.in_flight = true;
        slot.waiters.push(notify.clone());
        Ok((slot.known(), slot.early.take()))
    });
    let (known, early) = match start {
        Err(known) => return known,
        Ok(started) => started,
    };
    let body = early.unwrap_or_else(|| request(uri, true));
    let uri = uri.to_owned();
    let answer = complete(body, move |text, read_ms| {
        // The body counts as fetched when it was read, never earlier: that keeps the signed `iat`
        // plus the time since a lower bound of the real time (see `effective_now_ms`).
        let verifying = match text {
            Some(text) => verify(text, crate::clock().device_secs(), read_ms as i64),
            None => Verifying::Now(None),
        };
        match verifying {
            Verifying::Now(value) => store(slots, &uri, fresh_for_ms, value),
            Verifying::Later(value) => {
                wasm_bindgen_futures::spawn_local(async move {
                    for waiter in store(slots, &uri, fresh_for_ms, value.await).0 {
                        waiter.emit(());
                    }
                });
                // The waiters stay in the slot until the value is there.
                (Vec::new(), Fetch::Pending)
            }
        }
    });
    // While a refresh is under way, what the page had still counts (as stale, once it is).
    match answer {
        Fetch::Pending => known,
        answer => answer,
    }
}

/// Stores a signed document's verified value (or a failure) in its slot. Returns the badges waiting
/// for it and what the slot now knows.
fn store<T>(
    slots: &'static LocalKey<RefCell<Slots<Rc<T>>>>,
    uri: &str,
    fresh_for_ms: fn(&T, &Clock) -> i64,
    value: Option<T>,
) -> (Vec<Callback<()>>, Fetch<Rc<T>>) {
    let clock = crate::clock();
    let value = value.map(Rc::new);
    // One that is stale on arrival (a cache kept it past its ttl) is still the newest word there
    // is, but asking again at once would get the same: wait as after a failure.
    let stale = value.as_ref().is_some_and(|value| fresh_for_ms(value, &clock) <= 0);
    slots.with_borrow_mut(|slots| {
        let slot = slots.entry(uri);
        let waiters = settle(slot, value);
        if stale {
            slot.failed_ms = Some(clock.monotonic_ms as i64);
        }
        (waiters, slot.known())
    })
}

/// A certificate's current token as its issuer last gave it.
#[derive(Debug)]
pub struct CurrentToken {
    pub token: String,
    /// Monotonic time (ms) it was read.
    pub fetched_ms: i64,
}

/// Where the issuer gives a certificate's current token.
pub fn current_token_url(issuer: &str, certificate: &str) -> String {
    format!("{issuer}/api/v1/certificates/{certificate}/token")
}

/// The current token at `url` if the page has asked for it already, without asking.
pub fn known_current_token(url: &str) -> Option<Rc<CurrentToken>> {
    CURRENT.with_borrow_mut(|slots| slots.entry(url).value.clone())
}

/// Asks the issuer for a certificate's current token (after a renewal, a new branch): once, and
/// again only when the answer is older than `max_age_ms`. The caller asks only when the token it
/// has ends soon, so the issuer does not learn which badges are viewed day to day. Whatever comes
/// back is a token like any other, verified by the caller.
pub fn current_token(url: &str, max_age_ms: i64, notify: &Callback<()>) -> Fetch<Rc<CurrentToken>> {
    let now_ms = crate::clock().monotonic_ms as i64;
    let start = CURRENT.with_borrow_mut(|slots| {
        let slot = slots.entry(url);
        let recent = slot.value.as_ref().is_some_and(|current| now_ms - current.fetched_ms < max_age_ms);
        if recent || slot.in_flight || !slot.may_retry(now_ms) {
            if slot.in_flight {
                slot.waiters.push(notify.clone());
            }
            return Err(slot.known());
        }
        slot.in_flight = true;
        slot.waiters.push(notify.clone());
        Ok(())
    });
    if let Err(known) = start {
        return known;
    }
    let body = request(url, false);
    let url = url.to_owned();
    complete(body, move |text, read_ms| {
        let current = text.map(|token| {
            Rc::new(CurrentToken { token: token.trim().to_owned(), fetched_ms: read_ms as i64 })
        });
        CURRENT.with_borrow_mut(|slots| {
            let slot = slots.entry(&url);
            let waiters = settle(slot, current);
            (waiters, slot.known())
        })
    })
}
