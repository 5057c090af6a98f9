//! The OpenAPI 3.1 description of the public and admin API, generated from the handlers'
//! annotations and served at `/api/v1/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

use super::{AppState, admin, api};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Zakup Prospołeczny — public and admin API",
        version = env!("CARGO_PKG_VERSION"),
        description = "Check certificates of the Zakup Prospołeczny mark (public, open to any origin) and \
                       manage them (admin, bearer API key). Every error comes in one envelope: \
                       `{\"error\":{\"code\":…,\"message\":…,\"field\":…}}`.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    paths(
        document,
        api::jwks,
        api::search,
        api::certificate,
        api::current_token,
        api::verify,
        api::status_list,
        super::trust::trust_list,
        admin::create_entity,
        admin::list_entities,
        admin::entity,
        admin::issue,
        admin::list_certificates,
        admin::certificate,
        admin::renew,
        admin::add_products,
        admin::suspend,
        admin::reinstate,
        admin::revoke,
        admin::rotate_key,
        admin::audit,
        admin::list_trusted_issuers,
        admin::add_trusted_issuer,
        admin::remove_trusted_issuer,
    ),
    components(schemas(super::error::ErrorEnvelope, super::error::ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "public", description = "The check API: anyone may call it, from any origin"),
        (name = "admin", description = "The issuer's staff: bearer API keys made with `zp api-key create`"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the admin paths name.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An admin API key: `Authorization: Bearer <key>`"))
                    .build(),
            ),
        );
    }
}

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/openapi.json", get(document))
}

/// The document with this issuer's base URL as its server.
pub fn for_issuer(base_url: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new(base_url)]);
    doc
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "public",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json(for_issuer(&state.issuer.settings.base_url))
}

/// Every route the router serves under `/api/v1` (and the JWKS), with its method. The router
/// test `every_listed_route_is_served` checks the router against this list.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/certificates"),
    ("get", "/api/v1/certificates/{id}"),
    ("get", "/api/v1/certificates/{id}/token"),
    ("post", "/api/v1/verify"),
    ("get", "/api/v1/status-lists/{list}"),
    ("get", "/.well-known/zp-trust-list.jwt"),
    ("post", "/api/v1/admin/entities"),
    ("get", "/api/v1/admin/entities"),
    ("get", "/api/v1/admin/entities/{id}"),
    ("post", "/api/v1/admin/certificates"),
    ("get", "/api/v1/admin/certificates"),
    ("get", "/api/v1/admin/certificates/{id}"),
    ("post", "/api/v1/admin/certificates/{id}/renew"),
    ("post", "/api/v1/admin/certificates/{id}/products"),
    ("post", "/api/v1/admin/certificates/{id}/suspend"),
    ("post", "/api/v1/admin/certificates/{id}/reinstate"),
    ("post", "/api/v1/admin/certificates/{id}/revoke"),
    ("post", "/api/v1/admin/keys/rotate"),
    ("get", "/api/v1/admin/audit"),
    ("get", "/api/v1/admin/issuers"),
    ("post", "/api/v1/admin/issuers"),
    ("delete", "/api/v1/admin/issuers"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> serde_json::Value {
        let text = for_issuer("https://zp.example.pl").to_json().unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn is_openapi_3_1() {
        let doc = document();
        let version = doc["openapi"].as_str().unwrap();
        assert!(version.starts_with("3.1."), "openapi {version}");
        assert_eq!(doc["info"]["title"], "Zakup Prospołeczny — public and admin API");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(doc["servers"][0]["url"], "https://zp.example.pl");
    }

    #[test]
    fn documents_exactly_the_served_routes() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object().unwrap().keys().map(move |method| (method.clone(), path.clone()))
            })
            .collect();
        documented.sort();
        let mut served: Vec<(String, String)> =
            ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn admin_paths_need_the_bearer_scheme_and_public_ones_do_not() {
        let doc = document();
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        for (method, path) in ROUTES {
            let security = &doc["paths"][path][method]["security"];
            if path.starts_with("/api/v1/admin/") {
                assert_eq!(security[0]["bearer"], serde_json::json!([]), "{method} {path}");
                assert_eq!(
                    doc["paths"][path][method]["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{method} {path}"
                );
            } else {
                assert!(security.is_null(), "{method} {path}");
            }
        }
    }

    #[test]
    fn bodies_and_error_envelope_are_described() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "ErrorEnvelope",
            "ErrorBody",
            "NewEntity",
            "NewCertificate",
            "AddProducts",
            "Note",
            "Revoke",
            "NewTrustedIssuer",
        ] {
            assert!(schemas.contains_key(name), "schema {name} missing");
        }
        let revoke = &doc["paths"]["/api/v1/admin/certificates/{id}/revoke"]["post"];
        assert_eq!(
            revoke["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Revoke"
        );
        for status in ["400", "401", "404", "409", "413", "415", "422"] {
            assert!(revoke["responses"][status].is_object(), "revoke lacks {status}");
        }
    }
}
