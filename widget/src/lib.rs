//! The live badge of the Zakup Prospołeczny mark. The loader `zp-badge.js` defines the
//! `<zakup-prospoleczny>` element and, once per page, loads this module; each element mounts a
//! [`Badge`] in its shadow root. Verification uses `zp-shared`, exactly as the server does.

pub mod state;
pub mod text;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
pub mod components;
#[cfg(target_arch = "wasm32")]
mod hooks;

#[cfg(target_arch = "wasm32")]
pub use browser::*;

/// The badge's allocator: a short free list (allocations and frees walk it), which a badge's few
/// live objects keep short, in a fraction of the bytes of the default dlmalloc. The lock costs
/// nothing on single-threaded wasm32 and needs no `unsafe`.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The device's wall clock and the page's monotonic clock, now.
#[cfg(target_arch = "wasm32")]
pub fn clock() -> state::Clock {
    let monotonic_ms =
        web_sys::window().and_then(|w| w.performance()).map_or_else(js_sys::Date::now, |p| p.now());
    state::Clock { device_ms: js_sys::Date::now(), monotonic_ms }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use std::rc::Rc;

    use wasm_bindgen::prelude::*;
    use yew::{AppHandle, Callback};

    use crate::app::{App, AppProps};
    use crate::components::badge::Variant;
    use crate::text::Lang;

    /// One badge: mounted by its first [`Badge::update`].
    #[allow(missing_debug_implementations, reason = "exported to JavaScript, never printed")]
    #[wasm_bindgen]
    pub struct Badge {
        handle: Option<AppHandle<App>>,
        host: web_sys::Element,
        /// Where the first update renders the badge; `None` once it has, or after unmounting.
        root: Option<web_sys::Element>,
    }

    /// The page's trusted issuers, as the loaders list them (separated by spaces).
    fn issuers(list: &str) -> Rc<Vec<String>> {
        Rc::new(list.split_whitespace().map(|issuer| issuer.trim_end_matches('/').to_owned()).collect())
    }

    fn props(
        host: &web_sys::Element,
        issuers: &str,
        token: &str,
        lang: Option<String>,
        variant: Option<String>,
    ) -> AppProps {
        let hostname = web_sys::window().and_then(|w| w.location().hostname().ok()).unwrap_or_default();
        let reporter = host.clone();
        AppProps {
            issuers: self::issuers(issuers),
            token: token.trim().to_owned().into(),
            lang: Lang::parse(lang.as_deref()),
            variant: Variant::parse(variant.as_deref()),
            host: hostname.into(),
            on_verdict: Callback::from(move |(state, through): (&'static str, Option<String>)| {
                reporter.set_attribute("data-zp-state", state).ok();
                match through {
                    Some(day) => reporter.set_attribute("data-zp-valid-through", &day).ok(),
                    None => reporter.remove_attribute("data-zp-valid-through").ok(),
                };
            }),
        }
    }

    /// Hands the module a request the loader sent while the module loaded: its body as text
    /// (null if it failed), read at `read_ms`, or a promise of it. The first badge that needs
    /// `url` takes it over instead of sending its own.
    #[wasm_bindgen]
    pub fn adopt(url: String, revalidate: bool, sent_ms: f64, text: JsValue, read_ms: f64) {
        crate::api::adopt(url, revalidate, sent_ms, text, read_ms);
    }

    /// Hands the module the loader's `inflate(zlib, max)` (the browser's `DecompressionStream`),
    /// with which it inflates status lists after verifying them.
    #[wasm_bindgen]
    pub fn inflater(inflate: js_sys::Function) {
        crate::api::set_inflater(inflate);
    }

    #[wasm_bindgen]
    impl Badge {
        /// A badge for the element `host`, to be rendered into `root` (inside the element's shadow
        /// root) by the first [`Badge::update`].
        #[wasm_bindgen(constructor)]
        pub fn new(host: web_sys::Element, root: web_sys::Element) -> Badge {
            Badge { handle: None, host, root: Some(root) }
        }

        /// Renders the badge, then re-renders it after an attribute change or when another
        /// issuer's loader joins the page. `issuers` are the base URLs of the issuers whose loaders
        /// the page includes, separated by spaces.
        pub fn update(
            &mut self,
            issuers: String,
            token: String,
            lang: Option<String>,
            variant: Option<String>,
        ) {
            let props = props(&self.host, &issuers, &token, lang, variant);
            match (self.handle.as_mut(), self.root.take()) {
                (Some(handle), _) => handle.update(props),
                (None, Some(root)) => {
                    self.handle = Some(yew::Renderer::<App>::with_root_and_props(root, props).render());
                }
                (None, None) => {}
            }
        }

        /// Tears the badge down when its element leaves the page.
        pub fn unmount(&mut self) {
            self.root = None;
            if let Some(handle) = self.handle.take() {
                handle.destroy();
            }
        }
    }
}
