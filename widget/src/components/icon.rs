//! The state icons as inline SVG, so they look the same whatever fonts the device has.

use yew::prelude::*;

/// The icon of a verdict, by its name (`Verdict::name`). A plain function rather than a component:
/// each Yew component adds its own copy of the lifecycle code to the download.
pub fn icon(state: &str) -> Html {
    // Drawn on a 20×20 grid in white over the state colour.
    let body = match state {
        "verified" => html! { <path d="M5 10.5l3.2 3.2L15 7" /> },
        "revoked" | "invalid" => html! { <path d="M6 6l8 8M14 6l-8 8" /> },
        "expired" | "not-yet-valid" => {
            html! { <><circle cx="10" cy="10" r="5.5" /><path d="M10 7v3.3l2.2 1.5" /></> }
        }
        "suspended" => html! { <path d="M8 6v8M12 6v8" /> },
        "wrong-site" => html! { <><path d="M10 5.5v5.5" /><path d="M10 14.2v.3" /></> },
        // A question mark over a person's outline would not read at 20 px: the same question mark.
        "cannot-confirm" | "issuer-unrecognised" => {
            html! { <><path d="M7.6 7.6a2.5 2.5 0 1 1 3.4 2.3c-.7.3-1 .8-1 1.5v.4" /><path d="M10 14.2v.3" /></> }
        }
        _ => html! { <path d="M6 10h.01M10 10h.01M14 10h.01" /> },
    };
    html! {
        <svg class="zp__glyph" viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" focusable="false"
             fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round">
            { body }
        </svg>
    }
}
