//! One error type for every handler, rendered as the JSON error envelope documented in the
//! OpenAPI file: `{"error":{"code":…,"message":…,"field":…}}`. Internal causes are logged, never sent.

use axum::Json;
use axum::extract::FromRequest;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::applications::ApplicationError;
use crate::issuer::IssuerError;
use crate::issuer::ObjectOnly;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable cause, e.g. `invalid_field`, `not_found`, `unauthorized`.
    pub code: String,
    /// What went wrong, in English.
    pub message: String,
    /// The request field at fault, as a path like `products[2].gtin`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

/// The error envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError { status, code, message: message.into(), field: None }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        AppError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    pub fn internal() -> Self {
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it has been logged")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorEnvelope {
            error: ErrorBody { code: self.code.into(), message: self.message, field: self.field },
        };
        (self.status, Json(body)).into_response()
    }
}

/// An application's step refused: the first field at fault named, every refusal in the message.
impl From<ApplicationError> for AppError {
    fn from(err: ApplicationError) -> Self {
        match err {
            ApplicationError::Invalid(ref errors) => {
                let field = errors.first().map(|e| e.field.clone()).unwrap_or_default();
                AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", err.to_string()).field(field)
            }
            ApplicationError::NotFound(_) => {
                AppError::new(StatusCode::NOT_FOUND, "not_found", err.to_string())
            }
            ApplicationError::Conflict(message) => AppError::new(StatusCode::CONFLICT, "conflict", message),
            ApplicationError::Issuer(err) => err.into(),
            ApplicationError::Store(err) => IssuerError::Store(err).into(),
        }
    }
}

impl From<IssuerError> for AppError {
    fn from(err: IssuerError) -> Self {
        match err {
            IssuerError::Invalid { field, message } => AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("{field}: {message}"),
            )
            .field(field),
            IssuerError::NotFound { what, id } => {
                AppError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} {id} does not exist"))
            }
            IssuerError::Conflict(message) => AppError::new(StatusCode::CONFLICT, "conflict", message),
            other => {
                tracing::error!(error = %other, "request failed");
                AppError::internal()
            }
        }
    }
}

/// A query string whose errors come back in the envelope (`invalid_query`).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|err| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", err.body_text()))
    }
}

/// A JSON body whose errors (syntax, wrong type, unknown or missing field) come back in the
/// envelope with the path of the field at fault.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json =
            req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(
                |v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")),
            );
        if !is_json {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|err: BytesRejection| {
            if timed_out(&err) {
                AppError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the request body did not arrive in time",
                )
            } else if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is too large",
                )
            } else {
                AppError::new(StatusCode::BAD_REQUEST, "bad_body", err.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON request body as [`ApiJson`] reads it once it has the bytes: syntax errors and trailing
/// data are `400 malformed_json`; a wrong type, an unknown or a missing field is
/// `422 invalid_field` with the path of the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
    let value =
        T::deserialize(ObjectOnly(tracked)).map_err(|err| serde_path_to_error::Error::new(track.path(), err));
    match value {
        Ok(value) => {
            deserializer.end().map_err(|err| {
                AppError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("trailing data: {err}"))
            })?;
            Ok(value)
        }
        Err(err) => Err(json_error(err)),
    }
}

/// Whether reading the body failed because it did not arrive within `zp serve --body-timeout`.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

/// An optional JSON body: none when the request names no `Content-Type` (a bare `POST`).
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if !req.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

/// Turns a deserialisation error into the envelope, naming the field at fault.
fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> AppError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return AppError::new(StatusCode::BAD_REQUEST, "malformed_json", inner.to_string());
    }
    let message = inner.to_string();
    // serde reports a missing field at its parent's path; an unknown one at its own.
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    let field = match (missing, path.as_str()) {
        (Some(name), ".") => Some(name.to_owned()),
        (Some(name), parent) => Some(format!("{parent}.{name}")),
        (None, ".") => None,
        (None, path) => Some(path.to_owned()),
    };
    let error = AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message);
    match field {
        Some(field) => error.field(field),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::admin::{AddProducts, Note};
    use crate::issuer::NewEntity;

    fn refusal<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (u16, &'static str, Option<String>) {
        let err = parse_json::<T>(body.as_bytes()).expect_err(body);
        (err.status.as_u16(), err.code, err.field)
    }

    /// Bodies and the structs in them are JSON objects, as the document says, never arrays of
    /// their fields in order, which serde's derived code would take.
    #[test]
    fn structs_come_only_as_objects() {
        assert_eq!(refusal::<Note>("[]"), (422, "invalid_field", None));
        assert_eq!(refusal::<Note>(r#"["a note"]"#), (422, "invalid_field", None));
        assert_eq!(
            refusal::<NewEntity>(r#"["Fundacja", "foundation", ["a.pl"]]"#),
            (422, "invalid_field", None)
        );
        assert_eq!(
            refusal::<AddProducts>(r#"{"products": [{"name": "Chleb"}, ["Bułki"]]}"#),
            (422, "invalid_field", Some("products[1]".into()))
        );
        let added =
            parse_json::<AddProducts>(r#"{"products": [{"name": "Chleb", "gtin": null}]}"#.as_bytes());
        assert_eq!(added.unwrap().products[0].name, "Chleb");
        assert_eq!(parse_json::<Note>(b" {} ").unwrap().note, None);
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        assert_eq!(refusal::<Note>(r#"{"note": "#), (400, "malformed_json", None));
        assert_eq!(refusal::<Note>(r#"{} []"#), (400, "malformed_json", None));
        assert_eq!(refusal::<Note>(r#"{"note": 5}"#), (422, "invalid_field", Some("note".into())));
        assert_eq!(refusal::<Note>(r#"{"colour": "red"}"#), (422, "invalid_field", Some("colour".into())));
        assert_eq!(
            refusal::<AddProducts>(r#"{"products": [{"gtin": "5901234123457"}]}"#),
            (422, "invalid_field", Some("products[0].name".into()))
        );
    }
}
