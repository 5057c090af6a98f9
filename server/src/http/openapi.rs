//! The OpenAPI 3.1 description of the public and admin API, generated from the handlers'
//! annotations and served at `/api/v1/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
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
        super::apply::api::submit,
        super::trust::trust_list,
        admin::create_entity,
        admin::list_entities,
        admin::entity,
        admin::update_entity,
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
        super::apply::board::list,
        super::apply::board::one,
        super::apply::board::question,
        super::apply::board::approve,
        super::apply::board::refuse,
    ),
    // Schemas that only parameters name, which utoipa does not collect by itself; the test
    // `every_reference_resolves` finds any that is missing.
    components(schemas(
        super::error::ErrorEnvelope,
        super::error::ErrorBody,
        crate::store::CertState,
    )),
    modifiers(&BearerAuth, &OptionalBodies, &AdminThrottled, &RoleRefused),
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

/// Marks the bodies a handler takes as `Option` not required: utoipa would otherwise describe an
/// optional body as `null` or the object, and a body of `null` is refused.
#[derive(Debug)]
struct OptionalBodies;

/// The POST operations whose body may be left out.
const OPTIONAL_POST_BODIES: &[&str] = &["/api/v1/admin/keys/rotate"];

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for path in OPTIONAL_POST_BODIES {
            let operation = openapi.paths.paths.get_mut(*path).and_then(|item| item.post.as_mut());
            if let Some(body) = operation.and_then(|operation| operation.request_body.as_mut()) {
                body.required = Some(Required::False);
            }
        }
    }
}

/// Adds to every admin operation the 429 that the throttle of failed authentications answers
/// (`serve --admin-auth-failures`), before any handler runs.
#[derive(Debug)]
struct AdminThrottled;

impl Modify for AdminThrottled {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let throttled = ResponseBuilder::new()
            .description(
                "Too many failed authentications from this address (`serve --admin-auth-failures`); \
                 even a right key waits",
            )
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build(),
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                    .description(Some("Seconds to wait"))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/admin/") {
                continue;
            }
            let operations =
                [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                operation.responses.responses.insert("429".to_owned(), throttled.clone().into());
            }
        }
    }
}

/// Every admin operation that changes something answers 403 to a person's key whose role is too
/// small (staff for entities and certificates, admin for keys and the trust list).
struct RoleRefused;

impl Modify for RoleRefused {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let refused = ResponseBuilder::new()
            .description("The key acts for a person whose role does not allow this")
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/admin/") {
                continue;
            }
            for operation in
                [&mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                operation.responses.responses.insert("403".to_owned(), refused.clone().into());
            }
        }
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
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json"),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = super::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
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
    ("post", "/api/v1/applications"),
    ("get", "/api/v1/status-lists/{list}"),
    ("get", "/.well-known/zp-trust-list.jwt"),
    ("post", "/api/v1/admin/entities"),
    ("get", "/api/v1/admin/entities"),
    ("get", "/api/v1/admin/entities/{id}"),
    ("put", "/api/v1/admin/entities/{id}"),
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
    ("get", "/api/v1/admin/applications"),
    ("get", "/api/v1/admin/applications/{id}"),
    ("post", "/api/v1/admin/applications/{id}/question"),
    ("post", "/api/v1/admin/applications/{id}/approve"),
    ("post", "/api/v1/admin/applications/{id}/refuse"),
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

    /// Every `$ref` string anywhere in the document, with where it was found.
    fn references(value: &serde_json::Value, at: &str, found: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(members) => {
                for (key, member) in members {
                    let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                    match (key.as_str(), member) {
                        ("$ref", serde_json::Value::String(target)) => found.push((here, target.clone())),
                        _ => references(member, &here, found),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    references(item, &format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }

    /// A `$ref` to a schema that is not in `components` (a type named only by a parameter, say)
    /// leaves clients and testing tools with a hole in the contract.
    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        references(&doc, "#", &mut found);
        assert!(found.len() > 50, "only {} references found", found.len());
        for (at, target) in &found {
            let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{at}: {target} is not local"));
            let resolved = doc.pointer(pointer);
            assert!(resolved.is_some_and(|r| r.is_object()), "{at}: {target} does not resolve");
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = document();
        let mut ids: Vec<&str> = ROUTES
            .iter()
            .map(|(method, path)| doc["paths"][path][method]["operationId"].as_str().unwrap())
            .collect();
        ids.sort_unstable();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "{ids:?}");
    }

    /// What every route can answer besides success, by what it reads: the body (`ApiJson`), the
    /// query (`ApiQuery` and friends, which refuse unknown parameters), a path ID, the API key
    /// (admin) and the rate limit (public).
    #[test]
    fn every_refusal_the_handlers_give_is_documented() {
        let doc = document();
        for (method, path) in ROUTES {
            let operation = &doc["paths"][path][method];
            let responses = operation["responses"].as_object().unwrap();
            let mut expected: Vec<&str> = Vec::new();
            if path.starts_with("/api/v1/admin/") {
                expected.push("401");
                if *method != "get" {
                    expected.push("403");
                }
            }
            expected.push("429");
            if operation["requestBody"].is_object() {
                expected.extend(["400", "413", "415", "422"]);
            }
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            if parameters.iter().any(|p| p["in"] == "query") {
                expected.push("422");
            }
            if parameters.iter().any(|p| p["in"] == "path") {
                expected.push("404");
            }
            for status in expected {
                assert!(responses.contains_key(status), "{method} {path} lacks {status}");
            }
            for (status, response) in responses {
                assert!(
                    !response["description"].as_str().unwrap_or_default().is_empty(),
                    "{method} {path} {status}"
                );
                if status.starts_with('4') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorEnvelope",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }

    /// Request bodies are JSON objects that refuse unknown members, as `deny_unknown_fields` does.
    #[test]
    fn request_bodies_are_closed_objects() {
        let doc = document();
        for (method, path) in ROUTES {
            let body = &doc["paths"][path][method]["requestBody"];
            if body.is_null() {
                continue;
            }
            let target = body["content"]["application/json"]["schema"]["$ref"].as_str().unwrap();
            let schema = doc.pointer(target.trim_start_matches('#')).unwrap();
            assert_eq!(schema["type"], "object", "{method} {path}: {target}");
            assert_eq!(schema["additionalProperties"], false, "{method} {path}: {target}");
        }
    }

    /// The limits the handlers enforce, as the document states them.
    #[test]
    fn query_limits_are_documented() {
        let doc = document();
        let parameter = |path: &str, name: &str| {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path} has no {name}"))
                .clone()
        };
        for path in ["/api/v1/certificates", "/api/v1/admin/certificates", "/api/v1/admin/entities"] {
            let limit = parameter(path, "limit");
            assert_eq!(limit["in"], "query");
            assert_eq!(limit["required"], false);
            assert_eq!(limit["schema"]["minimum"], 1);
            assert_eq!(limit["schema"]["maximum"], api::LIMIT_MAX);
            assert_eq!(parameter(path, "offset")["schema"]["maximum"], api::OFFSET_MAX);
        }
        assert_eq!(parameter("/api/v1/certificates", "q")["schema"]["maxLength"], api::QUERY_MAX_CHARS);
        assert_eq!(parameter("/api/v1/admin/audit", "limit")["schema"]["maximum"], admin::AUDIT_LIMIT_MAX);
        let state = parameter("/api/v1/admin/certificates", "state");
        let target = state["schema"]["$ref"].as_str().unwrap();
        assert_eq!(
            doc.pointer(target.trim_start_matches('#')).unwrap()["enum"],
            serde_json::json!(["active", "suspended", "revoked"])
        );
    }

    #[test]
    fn body_limits_are_documented() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["NewEntity"]["properties"]["domains"]["minItems"], 1);
        assert_eq!(schemas["NewEntity"]["properties"]["domains"]["maxItems"], crate::issuer::DOMAINS_MAX);
        for body in ["NewCertificate", "AddProducts"] {
            assert_eq!(schemas[body]["properties"]["products"]["minItems"], 1, "{body}");
            assert_eq!(
                schemas[body]["properties"]["products"]["maxItems"],
                crate::issuer::PRODUCTS_MAX,
                "{body}"
            );
        }
        assert_eq!(schemas["Name"]["maxLength"], crate::issuer::NAME_MAX);
        assert_eq!(schemas["PublicNote"]["maxLength"], crate::issuer::NOTE_MAX);
        for body in ["Note", "Revoke"] {
            assert_eq!(
                schemas[body]["properties"]["note"]["oneOf"][1]["$ref"], "#/components/schemas/PublicNote",
                "{body}"
            );
        }
        assert_eq!(schemas["Token"]["maxLength"], zp_shared::jws::MAX_TOKEN_LEN);
    }
}
