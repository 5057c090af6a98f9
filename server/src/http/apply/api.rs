//! `POST /api/v1/applications` (a public contract): an application as JSON, for support centres
//! (OWES) that submit on an entity's behalf. The same checks and the same case as the `/apply`
//! form: the contact person gets the acknowledgement and the link to the case.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde::Serialize;

use crate::applications::{ApplicationForm, Status, Upload, files};
use crate::http::AppState;
use crate::http::error::{ApiJson, AppError};

/// The largest JSON body: an application with, say, one file at its limit, in base64.
pub const API_BODY: usize = 16 * 1024 * 1024;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/applications", post(submit)).layer(DefaultBodyLimit::max(API_BODY))
}

/// A recorded application.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Submitted {
    /// The application's number, which the letters name.
    pub id: String,
    pub status: Status,
}

/// Records an application and writes to its contact person.
#[utoipa::path(post, path = "/api/v1/applications", tag = "public", request_body = ApplicationForm,
    responses((status = 201, description = "Recorded; the contact person gets an acknowledgement with a \
                  single-use link to follow the case", body = Submitted),
              (status = 400, description = "Malformed JSON", body = crate::http::error::ErrorEnvelope),
              (status = 413, description = "Body too large (16 MiB)", body = crate::http::error::ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = crate::http::error::ErrorEnvelope),
              (status = 422, description = "A field refused: its path is `field` (`entity.nip`, `contact.email`, \
                  `certificate_id`, `attachments`…); the message lists every refusal", body = crate::http::error::ErrorEnvelope),
              (status = 429, description = "Too many requests from this address (`serve --rate-limit`)", body = crate::http::error::ErrorEnvelope,
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn submit(
    State(state): State<AppState>,
    ApiJson(mut form): ApiJson<ApplicationForm>,
) -> Result<Response, AppError> {
    let mut uploads = Vec::new();
    for (i, attachment) in std::mem::take(&mut form.attachments).into_iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(attachment.content_base64.trim())
            .map_err(|_| {
                AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    "not base64 (standard alphabet, padded)",
                )
                .field(format!("attachments[{i}].content_base64"))
            })?;
        uploads.push(Upload { name: attachment.name, bytes, dropped: 0 });
    }
    if uploads.len() > files::PER_SUBMISSION {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("at most {} files at once", files::PER_SUBMISSION),
        )
        .field("attachments"));
    }
    match state.applications.submit(form, uploads, crate::applications::Via::Api, state.now()).await {
        Ok(done) => {
            Ok((StatusCode::CREATED, Json(Submitted { id: done.id, status: Status::Submitted }))
                .into_response())
        }
        Err(err) => Err(err.into()),
    }
}
