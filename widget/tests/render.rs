//! The badge component in a real DOM (headless Chromium): words, accessible name, state
//! attribute, and entity names as text.

#![cfg(test)]
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test as test;
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::rc::Rc;

use yew::prelude::*;
use zp_shared::{Certificate, CertificateClaims, Entity, LegalForm, StatusClaim, StatusListRef};
use zp_widget::components::badge::{BadgeProps, Variant, badge};
use zp_widget::state::Verdict;
use zp_widget::text::Lang;

fn claims(name: &str) -> Rc<CertificateClaims> {
    Rc::new(CertificateClaims {
        iss: "https://zp.example".into(),
        sub: "7K3QX9M2".into(),
        jti: "j".into(),
        iat: 0,
        nbf: 0,
        exp: 1,
        status: StatusClaim {
            status_list: StatusListRef { idx: 0, uri: "https://zp.example/api/v1/status-lists/0".into() },
        },
        zp: Certificate {
            number: "ZP/LU/2026/0001".into(),
            entity: Entity {
                name: name.into(),
                legal_form: LegalForm::Cis,
                nip: None,
                krs: None,
                regon: None,
                city: None,
                voivodeship: None,
            },
            products: vec![],
            domains: vec![],
            verify_url: "https://zp.example/v/7K3QX9M2".into(),
        },
    })
}

async fn render(verdict: Verdict, lang: Lang, variant: Variant) -> web_sys::Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let props = BadgeProps { verdict, lang, variant, href: "https://zp.example/v/7K3QX9M2".into() };
    yew::Renderer::<Harness>::with_root_and_props(root.clone(), props).render();
    // Let the scheduler run the first render.
    yew::platform::time::sleep(std::time::Duration::from_millis(0)).await;
    root
}

#[test]
async fn verified_badge_states_its_verdict_in_words_and_name() {
    let root =
        render(Verdict::Verified(claims("Spółdzielnia Socjalna „Las”")), Lang::Pl, Variant::Full).await;
    let link = root.query_selector("a").unwrap().unwrap();
    assert_eq!(link.get_attribute("data-state").as_deref(), Some("verified"));
    assert_eq!(link.get_attribute("href").as_deref(), Some("https://zp.example/v/7K3QX9M2"));
    let text = link.text_content().unwrap();
    assert!(text.contains("Znak ważny") && text.contains("Spółdzielnia Socjalna „Las”"), "{text}");
    // An icon drawn for the state, besides the words: never colour alone.
    let icon = link.query_selector(".zp__icon svg path").unwrap();
    assert!(icon.is_some(), "the state has an icon");
    let name = link.get_attribute("aria-label").unwrap();
    assert!(name.contains("Znak ważny") && name.contains("Las"), "{name}");
}

#[test]
async fn entity_names_are_text_never_markup() {
    let hostile = "<img src=x onerror=alert(1)>";
    let root = render(Verdict::Revoked(claims(hostile)), Lang::En, Variant::Full).await;
    assert!(root.query_selector("img").unwrap().is_none());
    assert!(root.text_content().unwrap().contains(hostile));
    assert!(root.text_content().unwrap().contains("Certificate revoked"));
}

#[test]
async fn compact_variant_leaves_out_the_entity() {
    let root = render(Verdict::Expired(claims("Fundacja Test")), Lang::En, Variant::Compact).await;
    let text = root.text_content().unwrap();
    assert!(text.contains("Certificate expired") && !text.contains("Fundacja Test"), "{text}");
    let link = root.query_selector("a").unwrap().unwrap();
    assert_eq!(link.get_attribute("data-variant").as_deref(), Some("compact"));
    // Still named in full for screen readers.
    assert!(link.get_attribute("aria-label").unwrap().contains("Fundacja Test"));
}

/// Mounts the badge the way the root component renders it.
#[function_component(Harness)]
fn harness(props: &BadgeProps) -> Html {
    badge(props)
}
