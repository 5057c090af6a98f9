//! The badge itself: a link to the verification page that states the verdict in words, an icon
//! and colour, with an accessible name for screen readers.

use yew::prelude::*;

use crate::components::icon::icon;
use crate::state::Verdict;
use crate::text::{Lang, MARK, accessible_name, wording};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Full,
    Compact,
}

impl Variant {
    pub fn parse(attribute: Option<&str>) -> Self {
        match attribute.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("compact") => Variant::Compact,
            _ => Variant::Full,
        }
    }
}

#[derive(Debug, Properties, PartialEq)]
pub struct BadgeProps {
    pub verdict: Verdict,
    pub lang: Lang,
    pub variant: Variant,
    /// Where a click or Enter leads.
    pub href: AttrValue,
}

/// Renders the badge. A plain function called by the root component, not a component of its own,
/// for the same reason as [`icon`].
pub fn badge(props: &BadgeProps) -> Html {
    let words = wording(&props.verdict, props.lang);
    let state = props.verdict.name();
    // The state and the variant are data attributes, which the loader's CSS styles: a computed
    // `class` would go through Yew's `Classes`, an ordered hash set that added 2 KB to the download.
    let compact = (props.variant == Variant::Compact).then_some("compact");
    let entity = props.verdict.claims().map(|c| c.zp.entity.name.clone());
    html! {
        <a class="zp" data-variant={compact} href={props.href.clone()} target="_blank" rel="noopener"
           lang={props.lang.code()} data-state={state}
           aria-label={accessible_name(&props.verdict, props.lang)}>
            <span class="zp__icon" aria-hidden="true" data-icon={words.icon}>{ icon(words.glyph) }</span>
            <span class="zp__body">
                // Spaces between the parts, so that their text reads as words, as the accessible
                // name says them (WCAG 2.5.3, label in name); the layout ignores them.
                <span class="zp__mark">{ MARK }</span>{ " " }
                <span class="zp__headline">{ words.headline }</span>
                if props.variant == Variant::Full {
                    if let Some(name) = entity {
                        { " " }<span class="zp__entity">{ name }</span>
                    }
                }
            </span>
        </a>
    }
}
