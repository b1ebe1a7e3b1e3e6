//! `GET/POST /api/environments/{id}/backups`.

use crate::app::AppState;
use crate::audit::CurrentUser;
use crate::error::{AppError, Id, Json};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use pressluft_common::{Backup, CreateBackupRequest, JobAccepted};

/// Backups of an environment, newest first.
pub async fn list(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Vec<Backup>>, AppError> {
    let backups = state
        .db
        .run(move |conn| {
            if super::target::load(conn, &id)?.is_none() {
                return Err(AppError::not_found(
                    "environment_not_found",
                    format!("environment {id} does not exist"),
                ));
            }
            super::store::list_for_environment(conn, &id)
        })
        .await?;
    Ok(Json(backups))
}

pub async fn create(
    State(state): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Id(id): Id,
    Json(req): Json<CreateBackupRequest>,
) -> Result<(StatusCode, Json<JobAccepted>), AppError> {
    let user_id = user.map(|Extension(u)| u.id);
    let job_id = super::service::request_backup(&state, id, req.backup_scope, user_id).await?;
    Ok((StatusCode::ACCEPTED, Json(JobAccepted { job_id })))
}
