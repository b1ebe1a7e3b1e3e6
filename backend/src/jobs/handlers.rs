//! Job endpoints: `GET /api/jobs` (newest first, 200, `?site_id=`), `GET /api/jobs/{id}`,
//! `GET /api/jobs/{id}/events` (SSE, see `sse.rs`) and `POST /api/jobs/{id}/cancel`.

use super::control::StopReason;
use super::{query, settle, store};
use crate::app::AppState;
use crate::audit::CurrentUser;
use crate::error::{AppError, Id, Json};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Extension;
use pressluft_common::{CancelResponse, Job, JobStatus, JobType};
use std::time::Duration;

type Result<T> = std::result::Result<T, AppError>;

/// How long a cancel request waits for a running job to stop before answering.
const CANCEL_WAIT: Duration = Duration::from_secs(15);

pub fn job_not_found(id: &str) -> AppError {
    AppError::not_found(
        "job_not_found",
        format!("no job with id {id}; list jobs with GET /api/jobs"),
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    site_id: Option<String>,
}

pub async fn list(State(s): State<AppState>, Query(q): Query<ListQuery>) -> Result<Json<Vec<Job>>> {
    if let Some(site) = &q.site_id {
        if !crate::util::is_uuid(site) {
            return Err(AppError::bad_request(format!(
                "`{site}` is not a valid site id"
            )));
        }
    }
    let jobs =
        s.db.run(move |c| query::list_jobs(c, q.site_id.as_deref()))
            .await?;
    Ok(Json(jobs))
}

pub async fn get(State(s): State<AppState>, Id(id): Id) -> Result<Json<Job>> {
    let lookup = id.clone();
    s.db.run(move |c| query::get_job(c, &lookup))
        .await?
        .map(Json)
        .ok_or_else(|| job_not_found(&id))
}

pub async fn events(
    State(s): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<impl IntoResponse> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    super::sse::stream(s, id, last).await
}

/// What the cancel transaction did.
enum Cancelled {
    Now(Vec<pressluft_common::JobEvent>),
    Requested,
}

pub async fn cancel(
    State(s): State<AppState>,
    user: Option<Extension<CurrentUser>>,
    Id(id): Id,
) -> Result<Json<CancelResponse>> {
    let actor = user.map(|Extension(u)| u.id);
    let jobs = s.jobs.clone();
    let job_id = id.clone();
    let done = s
        .db
        .run(move |c| {
            crate::registry::service::audited(c, actor.as_deref(), "job.cancel", ("job", Some(&job_id)), |tx| {
                let job = store::job(tx, &job_id)?.ok_or_else(|| job_not_found(&job_id))?;
                let status = JobStatus::parse(&job.status).unwrap_or(JobStatus::Failed);
                let result = match status {
                    JobStatus::Queued => {
                        let handler = JobType::parse(&job.job_type).and_then(|t| jobs.handler(t));
                        let msg = "cancelled by an admin before it started";
                        settle::cancel_queued(tx, handler.as_deref(), &job, msg)?
                            .map(Cancelled::Now)
                            .ok_or_else(|| AppError::internal("queued job changed during cancel"))?
                    }
                    JobStatus::Running => {
                        store::request_cancel(tx, &job_id)?;
                        Cancelled::Requested
                    }
                    _ => {
                        return Err(AppError::conflict(
                            "job_not_cancellable",
                            format!("job {job_id} already ended ({status}); only queued or running jobs can be cancelled"),
                        ))
                    }
                };
                crate::audit::record(tx, actor.as_deref(), "job.cancel", "job", Some(&job_id), "success")?;
                Ok(result)
            })
        })
        .await?;
    let status = match done {
        Cancelled::Now(events) => {
            s.jobs.publish(&id, events);
            JobStatus::Cancelled
        }
        Cancelled::Requested => {
            // A worker of another process sees the flag at its next heartbeat.
            s.jobs.stop_running(&id, StopReason::Cancelled);
            wait_until_ended(&s, &id).await?
        }
    };
    tracing::info!(job.id = %id, %status, "job cancel requested");
    Ok(Json(CancelResponse {
        success: true,
        status,
    }))
}

async fn wait_until_ended(s: &AppState, id: &str) -> Result<JobStatus> {
    let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
    loop {
        let lookup = id.to_string();
        let status = s
            .db
            .run(move |c| Ok(store::job(c, &lookup)?.and_then(|j| JobStatus::parse(&j.status))))
            .await?
            .unwrap_or(JobStatus::Cancelled);
        if status.is_terminal()
            || status == JobStatus::Queued
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(status);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = s.shutdown.cancelled() => return Ok(status),
        }
    }
}
