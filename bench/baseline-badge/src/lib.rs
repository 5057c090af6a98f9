//! The baseline of the badge's load-time benchmark (`cargo xtask bench browser`): the smallest
//! badge that verifies a token the way the real one does — the issuer's JWKS, `zp_shared::verify`,
//! the signed status list and the token's entry in it — written in plain wasm-bindgen and web-sys,
//! without Yew, live updates, styles or the other states. Its loader (`assets/zp-badge.js`) is
//! served by `zp serve --widget-dir` exactly as the real bundle is, so the two differ only in
//! what the product adds.

#[cfg(target_arch = "wasm32")]
mod browser {
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;
    use zp_shared::{CertificateClaims, KeySet, Rules, Status};

    /// Verifies `token` against `issuer`, then marks `host` as the real badge does: the
    /// `data-zp-state` attribute, and a link in its shadow root.
    #[wasm_bindgen]
    pub async fn check(host: web_sys::Element, issuer: String, token: String) {
        let issuer = issuer.trim_end_matches('/');
        let (state, text, href) = match verdict(issuer, token.trim()).await {
            Ok(claims) => (
                "verified",
                format!("Zakup Prospołeczny: zweryfikowano — {}", claims.zp.entity.name),
                claims.zp.verify_url,
            ),
            Err(reason) => {
                ("invalid", format!("Zakup Prospołeczny: nie potwierdzono ({reason})"), issuer.into())
            }
        };
        render(&host, &text, &href);
        host.set_attribute("data-zp-state", state).ok();
    }

    async fn verdict(issuer: &str, token: &str) -> Result<CertificateClaims, String> {
        let rules = Rules::new(issuer).with_leeway(0);
        let jwks = fetch_text(&format!("{issuer}/.well-known/jwks.json"), false).await?;
        let keys = KeySet::from_jwks_json(&jwks).map_err(|err| err.to_string())?;
        let verified = zp_shared::verify(token, &keys, now(), &rules).map_err(|err| err.to_string())?;
        let status = &verified.claims().status.status_list;
        // Revalidated, as the real badge fetches it.
        let text = fetch_text(&status.uri, true).await?;
        let list = zp_shared::verify_status_list(&text, &keys, now(), &rules, &status.uri)
            .map_err(|err| err.to_string())?;
        match list.list.status(status.idx).map_err(|err| err.to_string())? {
            Status::Valid => Ok(verified.into_claims()),
            other => Err(format!("{other:?}")),
        }
    }

    /// Seconds since the Unix epoch by the device.
    fn now() -> i64 {
        (js_sys::Date::now() / 1_000.0).floor() as i64
    }

    async fn fetch_text(url: &str, revalidate: bool) -> Result<String, String> {
        let window = web_sys::window().ok_or("no window")?;
        let init = web_sys::RequestInit::new();
        if revalidate {
            init.set_cache(web_sys::RequestCache::NoCache);
        }
        let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
            .await
            .map_err(|_| "network error".to_owned())?;
        let response: web_sys::Response = response.dyn_into().map_err(|_| "not a response".to_owned())?;
        if !response.ok() {
            return Err(format!("HTTP {}", response.status()));
        }
        let text = response.text().map_err(|_| "unreadable body".to_owned())?;
        JsFuture::from(text)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .ok_or_else(|| "unreadable body".to_owned())
    }

    /// One link in an open shadow root, as text (never HTML).
    fn render(host: &web_sys::Element, text: &str, href: &str) {
        let root = match host.shadow_root() {
            Some(root) => root,
            None => match host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open)) {
                Ok(root) => root,
                Err(_) => return,
            },
        };
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let Ok(link) = document.create_element("a") else { return };
        link.set_attribute("href", href).ok();
        link.set_text_content(Some(text));
        root.replace_children_with_node_1(&link);
    }
}
