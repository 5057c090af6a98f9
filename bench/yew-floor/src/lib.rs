//! What Yew alone costs the badge: a component with the badge's markup that fetches the issuer's
//! keys and a status list and shows a state, with no verification at all. `cargo xtask bench`
//! builds it with the badge's profile, wasm-bindgen and wasm-opt, and reports the badge's size
//! beside it.

#[cfg(target_arch = "wasm32")]
mod floor {
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;
    use yew::prelude::*;

    #[derive(Debug, Properties, PartialEq, Clone)]
    pub struct Props {
        issuer: AttrValue,
        token: AttrValue,
    }

    async fn fetch_text(url: String) -> Option<String> {
        let response: web_sys::Response =
            JsFuture::from(web_sys::window()?.fetch_with_str(&url)).await.ok()?.dyn_into().ok()?;
        JsFuture::from(response.text().ok()?).await.ok()?.as_string()
    }

    #[function_component(Floor)]
    fn floor(props: &Props) -> Html {
        let state = use_state(|| "loading");
        {
            let state = state.clone();
            use_effect_with((props.issuer.clone(), props.token.clone()), move |(issuer, _)| {
                let issuer = issuer.to_string();
                wasm_bindgen_futures::spawn_local(async move {
                    let keys = fetch_text(format!("{issuer}/.well-known/jwks.json")).await;
                    let list = fetch_text(format!("{issuer}/api/v1/status-lists/0")).await;
                    state.set(if keys.is_some() && list.is_some() { "verified" } else { "cannot-confirm" });
                });
            });
        }
        html! {
            <a class={format!("zp zp--{}", *state)} href={props.issuer.clone()} data-state={*state}>
                <span class="zp__icon" aria-hidden="true">
                    <svg viewBox="0 0 20 20" width="20" height="20"><path d="M5 10.5l3.2 3.2L15 7" /></svg>
                </span>
                <span class="zp__body">
                    <span class="zp__mark">{ "Zakup Prospołeczny" }</span>
                    <span class="zp__headline">{ *state }</span>
                </span>
            </a>
        }
    }

    /// One mounted badge, with the real badge's interface.
    #[allow(missing_debug_implementations, reason = "exported to JavaScript, never printed")]
    #[wasm_bindgen]
    pub struct Badge {
        handle: Option<yew::AppHandle<Floor>>,
        issuer: String,
    }

    #[wasm_bindgen]
    impl Badge {
        #[wasm_bindgen(constructor)]
        pub fn new(_host: web_sys::Element, root: web_sys::Element, issuer: String, token: String) -> Badge {
            let props = Props { issuer: issuer.clone().into(), token: token.into() };
            Badge { handle: Some(yew::Renderer::<Floor>::with_root_and_props(root, props).render()), issuer }
        }

        pub fn update(&mut self, token: String) {
            let props = Props { issuer: self.issuer.clone().into(), token: token.into() };
            if let Some(handle) = self.handle.as_mut() {
                handle.update(props);
            }
        }

        pub fn unmount(&mut self) {
            if let Some(handle) = self.handle.take() {
                handle.destroy();
            }
        }
    }
}
