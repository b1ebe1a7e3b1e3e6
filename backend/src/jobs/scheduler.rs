//! The scheduler: enqueues `backup_cleanup` shortly after start-up and then every
//! `config.cleanup_interval`, never while one is queued or running (checked and inserted in one
//! `BEGIN IMMEDIATE` transaction, so two servers or ticks cannot both insert). The job is bound to
//! the local (is_local) node when one is registered: its playbook runs there, where the local
//! backup store lives, and the claim keeps it apart from other jobs on that node.

use super::store::{self, NewJob};
use crate::app::AppState;
use crate::db::tx_sync;
use crate::error::AppError;
use pressluft_common::JobType;
use rusqlite::OptionalExtension;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const FIRST_RUN_DELAY: Duration = Duration::from_secs(2);

pub(super) async fn run(state: AppState, stop: CancellationToken) {
    let mut delay = FIRST_RUN_DELAY;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return,
        }
        delay = state.config.cleanup_interval.max(Duration::from_secs(1));
        match enqueue_once(&state, JobType::BackupCleanup).await {
            Ok(Some(id)) => {
                tracing::info!(job.id = %id, "scheduled backup_cleanup");
                state.jobs.wake();
            }
            Ok(None) => {
                tracing::debug!("backup_cleanup already queued or running; not scheduling another")
            }
            Err(e) => tracing::error!(error = %e, "scheduling backup_cleanup failed"),
        }
    }
}

/// Enqueues a site-less job of `job_type` on the local node (none when no local node is
/// registered) unless one is queued or running already.
pub(super) async fn enqueue_once(
    state: &AppState,
    job_type: JobType,
) -> Result<Option<String>, AppError> {
    state
        .db
        .run(move |c| {
            tx_sync(c, |tx| {
                if store::has_active_of_type(tx, job_type)? {
                    return Ok(None);
                }
                let local: Option<String> = tx
                    .query_row("SELECT id FROM nodes WHERE is_local = 1", [], |r| r.get(0))
                    .optional()?;
                let job = NewJob {
                    job_type,
                    site_id: None,
                    environment_id: None,
                    node_id: local,
                    backup_id: None,
                    payload: serde_json::json!({}),
                    max_attempts: 3,
                };
                store::enqueue(tx, job).map(Some)
            })
        })
        .await
}
