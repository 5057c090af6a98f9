//! The board's steps through the admin API (`/api/v1/admin/applications`), for scripts and
//! registers kept elsewhere: the same service as the panel's review, audited under the key's
//! person.

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::applications::{ApplicationError, ApplicationForm, Approval, Kind, Status};
use crate::http::AppState;
use crate::http::admin::{Admin, AtLeast};
use crate::http::error::{ApiJson, ApiQuery, AppError, ErrorEnvelope};
use crate::issuer::Decision;
use crate::store::ApplicationRecord;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/applications", get(list))
        .route("/applications/{id}", get(one))
        .route("/applications/{id}/question", post(question))
        .route("/applications/{id}/approve", post(approve))
        .route("/applications/{id}/refuse", post(refuse))
}

/// An application as the board sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApplicationView {
    pub id: String,
    pub kind: Kind,
    pub status: Status,
    /// The contact person's e-mail.
    pub email: String,
    /// The certificate renewed, extended or (once approved) issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    pub application: ApplicationForm,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl ApplicationView {
    fn new(record: ApplicationRecord) -> Self {
        ApplicationView {
            kind: Kind::parse(&record.kind).unwrap_or_default(),
            status: Status::parse(&record.status).unwrap_or(Status::Submitted),
            application: serde_json::from_str(&record.form).unwrap_or_default(),
            id: record.id,
            email: record.email,
            certificate_id: record.certificate_id,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only applications in this status.
    #[serde(default)]
    pub status: Option<Status>,
}

async fn view(state: &AppState, id: &str) -> Result<Json<ApplicationView>, AppError> {
    match state.issuer.store.application(id).await {
        Ok(Some(record)) => Ok(Json(ApplicationView::new(record))),
        Ok(None) => Err(ApplicationError::NotFound(id.to_owned()).into()),
        Err(err) => Err(ApplicationError::from(err).into()),
    }
}

/// Applications, the longest waiting first (at most 500).
#[utoipa::path(get, path = "/api/v1/admin/applications", tag = "admin", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "The applications", body = Vec<ApplicationView>),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 422, description = "A parameter is invalid or unknown", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<ApplicationView>>, AppError> {
    let records = state
        .issuer
        .store
        .applications(query.status.map(Status::as_str), 500)
        .await
        .map_err(ApplicationError::from)?;
    Ok(Json(records.into_iter().map(ApplicationView::new).collect()))
}

/// One application.
#[utoipa::path(get, path = "/api/v1/admin/applications/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 20)),
    responses((status = 200, description = "The application", body = ApplicationView),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such application", body = ErrorEnvelope)))]
pub async fn one(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<ApplicationView>, AppError> {
    view(&state, &id).await
}

/// The board's question: the application returns to the applicant, who gets it by e-mail.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// 1 to 4000 characters, not blank.
    #[schema(max_length = 4000)]
    pub question: String,
}

#[utoipa::path(post, path = "/api/v1/admin/applications/{id}/question", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 20)), request_body = Question,
    responses((status = 200, description = "The application, returned for completion", body = ApplicationView),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such application", body = ErrorEnvelope),
              (status = 409, description = "The application is already decided", body = ErrorEnvelope),
              (status = 422, description = "A blank question, or a body that is not one", body = ErrorEnvelope)))]
pub async fn question(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Question>,
) -> Result<Json<ApplicationView>, AppError> {
    state.applications.ask(&admin.actor, &id, &body.question, state.now()).await?;
    view(&state, &id).await
}

/// The board's resolution that grants the mark.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// The resolution's number; with a second approval required, the confirming call may omit
    /// both fields (the prepared resolution stands).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub resolution: Option<String>,
    /// The resolution's date, `YYYY-MM-DD`, not after today.
    #[serde(default)]
    #[schema(max_length = 10)]
    pub resolution_date: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/admin/applications/{id}/approve", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 20)), request_body = Approve,
    responses((status = 200, description = "Approved (the certificate issued, renewed or extended in the same \
                  transaction), or prepared for another person's confirmation", body = ApplicationView),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such application", body = ErrorEnvelope),
              (status = 409, description = "Already decided; prepared by the same person; or refused by the issuer's \
                  rules (a renewal before its window opens, a revoked certificate)", body = ErrorEnvelope),
              (status = 422, description = "The resolution's number or date is missing or invalid", body = ErrorEnvelope)))]
pub async fn approve(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Approve>,
) -> Result<Json<ApplicationView>, AppError> {
    let decision =
        Decision::from_parts(body.resolution, body.resolution_date).map_err(ApplicationError::from)?;
    let approval = state.applications.approve(&admin.actor, &id, decision, state.now()).await?;
    if let Approval::Done { .. } = approval {
        state.metrics.certificate_action("application");
    }
    view(&state, &id).await
}

/// The board's refusal, with the reasons the applicant reads.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refuse {
    /// 1 to 4000 characters, not blank.
    #[schema(max_length = 4000)]
    pub reasons: String,
}

#[utoipa::path(post, path = "/api/v1/admin/applications/{id}/refuse", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, max_length = 20)), request_body = Refuse,
    responses((status = 200, description = "Refused; the applicant gets the reasons", body = ApplicationView),
              (status = 400, description = "Malformed JSON", body = ErrorEnvelope),
              (status = 413, description = "Body too large", body = ErrorEnvelope),
              (status = 415, description = "Body not sent as application/json", body = ErrorEnvelope),
              (status = 401, description = "Missing, unknown or revoked API key", body = ErrorEnvelope),
              (status = 404, description = "No such application", body = ErrorEnvelope),
              (status = 409, description = "The application is already decided", body = ErrorEnvelope),
              (status = 422, description = "Blank reasons, or a body that is not one", body = ErrorEnvelope)))]
pub async fn refuse(
    State(state): State<AppState>,
    AtLeast(admin): AtLeast<1>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Refuse>,
) -> Result<Json<ApplicationView>, AppError> {
    state.applications.refuse(&admin.actor, &id, &body.reasons, state.now()).await?;
    view(&state, &id).await
}
