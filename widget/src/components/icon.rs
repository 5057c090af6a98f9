//! The state icons as inline SVG, so they look the same whatever fonts the device has.

use yew::prelude::*;

/// The icon of a state, from its glyph ([`Wording::glyph`](crate::text::Wording)): one path,
/// white over the state colour. A plain function rather than a component: each Yew component adds
/// its own copy of the lifecycle code to the download.
pub fn icon(glyph: &'static str) -> Html {
    html! {
        <svg class="zp__glyph" viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" focusable="false"
             fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round">
            <path d={glyph} />
        </svg>
    }
}
