//! `POST /api/environments/{id}/restore` and `.../restore/preflight`.

use crate::app::AppState;
use crate::audit::CurrentUser;
use crate::error::{AppError, Id, Json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use pressluft_common::{JobAccepted, PreflightResponse, RestoreRequest};

pub async fn restore(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Id(id): Id,
    Json(req): Json<RestoreRequest>,
) -> Result<(StatusCode, Json<JobAccepted>), AppError> {
    let user_id = user.map(|Extension(u)| u.id);
    let job_id = super::service::request_restore(&state, id, req.backup_id, user_id).await?;
    Ok((StatusCode::ACCEPTED, Json(JobAccepted { job_id })))
}

pub async fn preflight(
    State(state): State<AppState>,
    Id(id): Id,
    Json(req): Json<RestoreRequest>,
) -> Result<Json<PreflightResponse>, AppError> {
    Ok(Json(
        super::service::preflight(&state, id, req.backup_id).await?,
    ))
}
