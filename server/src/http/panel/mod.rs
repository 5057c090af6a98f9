//! The staff panel at `/panel`: the pages a ROPS works in every day, server-rendered like the
//! public ones (Polish by default, English by a switch kept in a cookie), working without
//! JavaScript except for the passkey ceremonies, which browsers only offer to scripts.
//!
//! One extractor guards every page ([`auth`]): it yields the signed-in person with a role at
//! least the one the handler names, or redirects to the login page (a public contract), so no
//! handler checks roles itself. Every form carries the session's CSRF token, and every request
//! that changes something must come from the panel's own origin (`Sec-Fetch-Site`, `Origin`).
//! Every action goes through the same issuer and accounts logic as the CLI and the admin API,
//! audited under the person's name.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use super::pages::{Lang, stylesheet_href};
use crate::accounts::{Role, SignedIn};

mod applications;
mod auth;
mod bulk;
mod keys;
mod login;
mod outbox;
mod people;
mod registry;
#[cfg(test)]
mod tests;

pub use auth::{Admin, AtLeast, Fields, Form, Staff, Viewer, cookie};

/// The panel's policy: its own stylesheet and script, nothing framed, forms only to itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SCRIPT: &str = include_str!("panel.js");
const STYLESHEET: &str = include_str!("panel.css");

/// Every route of the panel and the least role it needs (`None`: open to anyone, the sign-in
/// pages). The authorization test walks this table.
pub const ROUTES: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/panel", Some(Role::Viewer)),
    ("GET", "/panel/entities", Some(Role::Viewer)),
    ("POST", "/panel/entities", Some(Role::Staff)),
    ("GET", "/panel/entities/new", Some(Role::Staff)),
    ("GET", "/panel/entities/{id}", Some(Role::Viewer)),
    ("POST", "/panel/entities/{id}", Some(Role::Staff)),
    ("GET", "/panel/entities/{id}/edit", Some(Role::Staff)),
    ("GET", "/panel/certificates", Some(Role::Viewer)),
    ("POST", "/panel/certificates", Some(Role::Staff)),
    ("GET", "/panel/certificates/{id}", Some(Role::Viewer)),
    ("POST", "/panel/certificates/{id}/renew", Some(Role::Staff)),
    ("POST", "/panel/certificates/{id}/products", Some(Role::Staff)),
    ("POST", "/panel/certificates/{id}/suspend", Some(Role::Staff)),
    ("POST", "/panel/certificates/{id}/reinstate", Some(Role::Staff)),
    ("POST", "/panel/certificates/{id}/revoke", Some(Role::Staff)),
    ("GET", "/panel/applications", Some(Role::Viewer)),
    ("GET", "/panel/applications/{id}", Some(Role::Viewer)),
    ("GET", "/panel/applications/{id}/files/{file}", Some(Role::Viewer)),
    ("POST", "/panel/applications/{id}/checklist", Some(Role::Staff)),
    ("POST", "/panel/applications/{id}/question", Some(Role::Staff)),
    ("POST", "/panel/applications/{id}/approve", Some(Role::Staff)),
    ("POST", "/panel/applications/{id}/refuse", Some(Role::Staff)),
    ("GET", "/panel/audit", Some(Role::Viewer)),
    ("GET", "/panel/import", Some(Role::Staff)),
    ("POST", "/panel/import", Some(Role::Staff)),
    ("GET", "/panel/export", Some(Role::Viewer)),
    ("GET", "/panel/outbox", Some(Role::Viewer)),
    ("GET", "/panel/outbox/{id}", Some(Role::Viewer)),
    ("POST", "/panel/outbox/{id}/resend", Some(Role::Staff)),
    ("GET", "/panel/accounts", Some(Role::Admin)),
    ("POST", "/panel/accounts", Some(Role::Admin)),
    ("POST", "/panel/accounts/{id}/role", Some(Role::Admin)),
    ("POST", "/panel/accounts/{id}/disable", Some(Role::Admin)),
    ("POST", "/panel/accounts/{id}/enable", Some(Role::Admin)),
    ("POST", "/panel/accounts/{id}/enrol", Some(Role::Admin)),
    ("GET", "/panel/keys", Some(Role::Admin)),
    ("POST", "/panel/keys/api", Some(Role::Admin)),
    ("POST", "/panel/keys/api/{id}/revoke", Some(Role::Admin)),
    ("POST", "/panel/keys/rotate", Some(Role::Admin)),
    ("GET", "/panel/me", Some(Role::Viewer)),
    ("POST", "/panel/me/recovery-codes", Some(Role::Viewer)),
    ("GET", "/panel/reauth", Some(Role::Viewer)),
    ("POST", "/panel/reauth/start", Some(Role::Viewer)),
    ("POST", "/panel/reauth/finish", Some(Role::Viewer)),
    ("POST", "/panel/logout", Some(Role::Viewer)),
    ("GET", "/panel/login", None),
    ("POST", "/panel/login/start", None),
    ("POST", "/panel/login/finish", None),
    ("POST", "/panel/login/recovery", None),
    ("GET", "/panel/enrol/{link}", None),
    ("POST", "/panel/enrol/{link}/start", None),
    ("POST", "/panel/enrol/{link}/finish", None),
    ("GET", "/panel/lang/{code}", None),
    ("GET", "/panel/assets/panel.js", None),
    ("GET", "/panel/assets/panel.css", None),
];

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/panel", get(registry::dashboard))
        .route("/panel/", get(registry::dashboard))
        .route("/panel/entities", get(registry::entities).post(registry::create_entity))
        .route("/panel/entities/new", get(registry::new_entity))
        .route("/panel/entities/{id}", get(registry::entity).post(registry::update_entity))
        .route("/panel/entities/{id}/edit", get(registry::edit_entity))
        .route("/panel/certificates", get(registry::certificates).post(registry::issue))
        .route("/panel/certificates/{id}", get(registry::certificate))
        .route("/panel/certificates/{id}/renew", post(registry::renew))
        .route("/panel/certificates/{id}/products", post(registry::add_products))
        .route("/panel/certificates/{id}/suspend", post(registry::suspend))
        .route("/panel/certificates/{id}/reinstate", post(registry::reinstate))
        .route("/panel/certificates/{id}/revoke", post(registry::revoke))
        .route("/panel/applications", get(applications::inbox))
        .route("/panel/applications/{id}", get(applications::case))
        .route("/panel/applications/{id}/files/{file}", get(applications::file))
        .route("/panel/applications/{id}/checklist", post(applications::checklist))
        .route("/panel/applications/{id}/question", post(applications::question))
        .route("/panel/applications/{id}/approve", post(applications::approve))
        .route("/panel/applications/{id}/refuse", post(applications::refuse))
        .route("/panel/audit", get(people::audit))
        .route(
            "/panel/import",
            get(bulk::import_page)
                .post(bulk::import)
                .layer(axum::extract::DefaultBodyLimit::max(bulk::IMPORT_BODY)),
        )
        .route("/panel/export", get(bulk::export))
        .route("/panel/outbox", get(outbox::outbox))
        .route("/panel/outbox/{id}", get(outbox::letter))
        .route("/panel/outbox/{id}/resend", post(outbox::resend))
        .route("/panel/accounts", get(people::accounts).post(people::invite))
        .route("/panel/accounts/{id}/role", post(people::set_role))
        .route("/panel/accounts/{id}/disable", post(people::disable))
        .route("/panel/accounts/{id}/enable", post(people::enable))
        .route("/panel/accounts/{id}/enrol", post(people::reenrol))
        .route("/panel/keys", get(keys::keys))
        .route("/panel/keys/api", post(keys::create_api_key))
        .route("/panel/keys/api/{id}/revoke", post(keys::revoke_api_key))
        .route("/panel/keys/rotate", post(keys::rotate))
        .route("/panel/me", get(people::me))
        .route("/panel/me/recovery-codes", post(people::recovery_codes))
        .route("/panel/reauth", get(login::reauth_page))
        .route("/panel/reauth/start", post(login::reauth_start))
        .route("/panel/reauth/finish", post(login::reauth_finish))
        .route("/panel/logout", post(login::logout))
        .route("/panel/login", get(login::login_page))
        .route("/panel/login/start", post(login::login_start))
        .route("/panel/login/finish", post(login::login_finish))
        .route("/panel/login/recovery", post(login::recovery))
        .route("/panel/enrol/{link}", get(login::enrol_page))
        .route("/panel/enrol/{link}/start", post(login::enrol_start))
        .route("/panel/enrol/{link}/finish", post(login::enrol_finish))
        .route("/panel/lang/{code}", get(login::set_lang))
        .route("/panel/assets/panel.js", get(script))
        .route("/panel/assets/panel.css", get(stylesheet))
        .layer(axum::middleware::from_fn_with_state(state, auth::same_origin))
        // Not over a policy of the response's own: an attachment's is stricter.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        SCRIPT,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// A panel page: never cached (it shows one person's view of changing data).
pub fn page(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the shell needs: the language, the title, who is signed in (none on the sign-in pages)
/// and where the page is, for the navigation's `aria-current`.
#[derive(Debug)]
pub struct Shell<'a> {
    pub lang: Lang,
    pub title: String,
    pub person: Option<&'a SignedIn>,
    pub path: &'a str,
}

/// The panel's frame: header with the navigation for the person's role, the language switch,
/// sign-out, and the page.
pub fn shell(shell: &Shell<'_>, main: Markup) -> Markup {
    let lang = shell.lang;
    let nav: Vec<(&str, &str, Role)> = vec![
        ("/panel", lang.pick("Pulpit", "Dashboard"), Role::Viewer),
        ("/panel/applications", lang.pick("Wnioski", "Applications"), Role::Viewer),
        ("/panel/entities", lang.pick("Podmioty", "Entities"), Role::Viewer),
        ("/panel/certificates", lang.pick("Certyfikaty", "Certificates"), Role::Viewer),
        ("/panel/audit", lang.pick("Dziennik zdarzeń", "Audit log"), Role::Viewer),
        ("/panel/import", lang.pick("Import CSV", "CSV import"), Role::Staff),
        ("/panel/export", lang.pick("Eksport CSV", "CSV export"), Role::Viewer),
        ("/panel/outbox", lang.pick("Poczta wychodząca", "Outbox"), Role::Viewer),
        ("/panel/accounts", lang.pick("Konta", "Accounts"), Role::Admin),
        ("/panel/keys", lang.pick("Klucze", "Keys"), Role::Admin),
    ];
    let other = if lang.is_pl() { Lang::En } else { Lang::Pl };
    let switch = format!("/panel/lang/{}?next={}", other.code(), super::pages::encode_component(shell.path));
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (shell.title) " · " (lang.pick("Panel wystawcy", "Issuer panel")) " · Zakup Prospołeczny" }
                link rel="stylesheet" href=(stylesheet_href());
                link rel="stylesheet" href="/assets/forms.css";
                link rel="stylesheet" href="/panel/assets/panel.css";
                meta name="referrer" content="same-origin";
                script type="module" src="/panel/assets/panel.js" {}
            }
            body.panel {
                a.skip href="#main" { (lang.pick("Przejdź do treści", "Skip to content")) }
                header.site {
                    div.bar {
                        a.brand href="/panel" {
                            span.mark aria-hidden="true" { "♥" }
                            " " (lang.pick("Panel wystawcy znaku", "Issuer panel of the mark"))
                        }
                        nav.langs aria-label=(lang.pick("Język", "Language")) {
                            ul {
                                li {
                                    a href=(switch) hreflang=(other.code()) lang=(other.code()) {
                                        (if other == Lang::En { "English" } else { "Polski" })
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(person) = shell.person {
                        nav.panel-nav aria-label=(lang.pick("Panel", "Panel")) {
                            ul {
                                @for (href, label, role) in &nav {
                                    @if person.role >= *role {
                                        li {
                                            @if *href == shell.path {
                                                a href=(href) aria-current="page" { (label) }
                                            } @else {
                                                a href=(href) { (label) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        div.who {
                            a href="/panel/me" {
                                bdi { (person.account.name) }
                                " (" (person.role.label(lang.is_pl())) ")"
                            }
                            form method="post" action="/panel/logout" {
                                input type="hidden" name="csrf" value=(person.session.csrf);
                                button.link type="submit" { (lang.pick("Wyloguj", "Sign out")) }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (main) }
            }
        }
    }
}

/// A message after an action, by the `done` parameter of the page it redirected to.
pub fn notice(lang: Lang, done: Option<&str>) -> Markup {
    let text = match done {
        Some("created") => lang.pick("Zapisano.", "Saved."),
        Some("updated") => lang.pick("Zmiany zapisane.", "Changes saved."),
        Some("issued") => lang.pick("Certyfikat wydany.", "Certificate issued."),
        Some("renewed") => lang.pick("Certyfikat przedłużony o rok.", "Certificate renewed for a year."),
        Some("products") => lang.pick("Dodano gałąź działalności.", "Branch of activity added."),
        Some("suspended") => lang.pick("Certyfikat zawieszony.", "Certificate suspended."),
        Some("reinstated") => lang.pick("Certyfikat przywrócony.", "Certificate reinstated."),
        Some("revoked") => lang.pick("Certyfikat unieważniony.", "Certificate revoked."),
        Some("invited") => lang.pick("Konto utworzone.", "Account created."),
        Some("changed") => lang.pick("Konto zmienione.", "Account changed."),
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}
